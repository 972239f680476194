// Differentiating with respect to a constant.
// expect: kink: grad: differentiate with respect to a variable
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = var<"x">;
#ifdef KINK_FAIL
    auto d = grad(x * 2_c, 2_c);
#else
    auto d = grad(x * 2_c, x);
#endif
    (void)d;
}

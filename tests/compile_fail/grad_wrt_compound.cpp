// Differentiating with respect to something that is not a variable leaf.
// expect: kink: grad: differentiate with respect to a variable
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = var<"x">;
    constexpr auto y = var<"y">;
#ifdef KINK_FAIL
    auto d = grad(x * y, x * y);
#else
    auto d = grad(x * y, x);
#endif
    (void)d;
}

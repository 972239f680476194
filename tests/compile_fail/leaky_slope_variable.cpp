// leaky_relu's slope must be a constant.
// expect: kink: leaky_relu: the slope must be a constant
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = var<"x">;
    constexpr auto a = var<"a">;
#ifdef KINK_FAIL
    auto f = leaky_relu(x, a);
#else
    auto f = leaky_relu(x, constant<"a">(0.1)) + a;
#endif
    (void)f;
}

// threshold's threshold and value are constants, never differentiated.
// expect: kink: threshold: the threshold must be a constant
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = var<"x">;
    constexpr auto t = var<"t">;
#ifdef KINK_FAIL
    auto f = threshold(x, t, 0_c);
#else
    auto f = threshold(x, 0.5_c, 0_c) + t;
#endif
    (void)f;
}

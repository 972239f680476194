// A plain C++ number where a constant is needed: the one message that says what to write.
// expect: kink: cannot mix a plain C++ number into an expression
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = input<"x", 3>;
    constexpr auto t = input<"t", 3>;
    constexpr auto W = param<"W", 3, 3>;
    const auto out = W * x;
#ifdef KINK_FAIL
    const auto f = sum(clamp(out, -1.0, 1_c) + t);
#else
    const auto f = sum(clamp(out, -1_c, 1_c) + t);
#endif
    (void)f;
}

// Mixing an incompatible operand: a plain C++ double has no exact value or name.
// expect: kink: cannot mix a plain C++ number into an expression
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = var<"x">;
#ifdef KINK_FAIL
    auto f = x * 2.5;
#else
    auto f = x * 2.5_c;
#endif
    (void)f;
}

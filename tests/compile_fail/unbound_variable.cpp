// Evaluating without a value for one of the variables.
// expect: kink: eval: a variable of the expression has no value
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = var<"x">;
    constexpr auto y = var<"y">;
#ifdef KINK_FAIL
    double v = eval(x * y, x = 1.0);
#else
    double v = eval(x * y, x = 1.0, y = 2.0);
#endif
    (void)v;
}

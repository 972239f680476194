// Reading a partial derivative that was not requested.
// expect: kink: value_and_grad: not differentiated with respect to this variable
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = var<"x">;
    constexpr auto y = var<"y">;
    auto r = value_and_grad(x * y, wrt(x), x = 1.0, y = 2.0);
#ifdef KINK_FAIL
    double v = r[y];
#else
    double v = r[x];
#endif
    (void)v;
}

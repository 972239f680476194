// A straight-through estimator on relu: it fits only step and sign.
// expect: kink: relu: this policy does not fit relu
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = var<"x">;
#ifdef KINK_FAIL
    auto f = relu<policy::straight_through>(x);
#else
    auto f = step<policy::straight_through>(x);
#endif
    (void)f;
}

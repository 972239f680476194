// per_kink names one policy per kink: relu has one kink, so it does not take per_kink.
// expect: kink: relu: this policy does not fit relu
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = var<"x">;
#ifdef KINK_FAIL
    auto f = relu<policy::per_kink<policy::zero, policy::one>>(x);
#else
    auto f = hardswish<policy::per_kink<policy::zero, policy::one>>(x);
#endif
    (void)f;
}

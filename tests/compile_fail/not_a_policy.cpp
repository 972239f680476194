// Something that is not a policy tag in the policy slot.
// expect: kink: relu<P>: P is not a kink policy tag
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = var<"x">;
#ifdef KINK_FAIL
    auto f = relu<int>(x);
#else
    auto f = relu<policy::one>(x);
#endif
    (void)f;
}

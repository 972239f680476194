// Setting the kink value of a policy::runtime<Name> node under a name the program does not have.
// expect: kink: program::constant: the program has no runtime constant of this name
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = input<"x", 3>;
    constexpr auto t = input<"t", 2>;
    constexpr auto W = param<"W", 2, 3>;
    auto net = compile(mse(relu<policy::runtime<"relu0">>(W * x), t));
#ifdef KINK_FAIL
    net.constant<"relu_0">(1.0);
#else
    net.constant<"relu0">(1.0);
#endif
}

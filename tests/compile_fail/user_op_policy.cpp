// A tie policy on a kinked op of the user's own whose family declares a change of slope: split
// fits only max-pool windows (the family's kinks_of declaration decides, as for kink's own ops).
// expect: kink: bent: this policy does not fit bent
#include "../../docs/snippets/bent.hpp"
int main() {
    constexpr auto x = kink::var<"x">;
#ifdef KINK_FAIL
    auto f = my::bent<kink::policy::split>(x);
#else
    auto f = my::bent<kink::policy::half>(x);
#endif
    (void)f;
}

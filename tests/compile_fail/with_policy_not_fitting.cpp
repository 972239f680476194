// A whole-graph rewrite with a tie policy over an op that has no ties.
// expect: kink: with_policy: the policy does not fit an op of this expression
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = var<"x">;
    constexpr auto y = var<"y">;
#ifdef KINK_FAIL
    auto f = with_policy<policy::first>(max(x, y) + relu(x));
#else
    auto f = with_policy<policy::first>(max(x, y) + min(x, y));
#endif
    (void)f;
}

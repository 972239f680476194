// A batch statistic of a value that does not depend on the batch (only on parameters) is one
// error saying so.
// expect: kink: batch_mean: the argument must depend on the batch
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = input<"x", 8>;
    constexpr auto W = param<"W", 8, 8>;
#ifdef KINK_FAIL
    auto m = batch_mean(W * param<"v", 8>);
#else
    auto m = batch_mean(W * x);
#endif
    (void)m;
}

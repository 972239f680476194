// compile() needs a per-sample scalar loss.
// expect: the loss must be a per-sample scalar
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto W = param<"W", 4, 3>;
    constexpr auto x = input<"x", 3>;
#ifdef KINK_FAIL
    auto net = compile(relu(W * x));
#else
    auto net = compile(sum(relu(W * x)));
#endif
    (void)net;
}

// A program with batch normalisation updates its running statistics in the parameter store at
// each step: a const store is one error saying so.
// expect: kink: program::step: this program keeps running statistics
#include <kink/kink.hpp>
#include <vector>
using namespace kink;
int main() {
    constexpr auto x = input<"x", 4>;
    constexpr auto y = label<"y", 2>;
    auto net = compile(softmax_cross_entropy(nn::dense<"out", 2>(nn::batch_norm<"bn">(nn::dense<"fc", 4>(x))), y));
    auto params = net.make_params(), grads = net.make_params();
#ifdef KINK_FAIL
    const auto &frozen = params;
#else
    auto &frozen = params;
#endif
    std::vector<float> xs(8);
    std::vector<int> ys(2);
    (void)net.step(frozen, grads, x = std::span(xs), y = std::span(ys));
}

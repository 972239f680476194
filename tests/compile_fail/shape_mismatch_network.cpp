// A shape mismatch deep in a 3-layer network passed to compile and trained: kink's message is the
// first error, and the cascade stops (run.py allows one error; the network's later layers, the
// loss, compile, make_params and step must add none).
// expect: shapes_agree<kink::matmul_op, kink::shape<64, 100>, kink::shape<128>
#include <kink/kink.hpp>
#include <vector>
using namespace kink;
int main() {
    constexpr auto x = input<"x", 784>;
    constexpr auto y = label<"y", 10>;
    constexpr auto W1 = param<"W1", 128, 784>;
    constexpr auto b1 = param<"b1", 128>;
#ifdef KINK_FAIL
    constexpr auto W2 = param<"W2", 64, 100>;
#else
    constexpr auto W2 = param<"W2", 64, 128>;
#endif
    constexpr auto b2 = param<"b2", 64>;
    constexpr auto W3 = param<"W3", 10, 64>;
    constexpr auto b3 = param<"b3", 10>;
    const auto logits = W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3;
    auto net = compile(softmax_cross_entropy(logits, y));
    auto params = net.make_params(), grads = net.make_params();
    std::vector<float> xs(784);
    std::vector<std::int32_t> ys(1);
    const float loss = net.step(params, grads, x = std::span(xs), y = std::span(ys));
    auto z = net.value(logits);
    (void)loss, (void)z, (void)params[W1];
}

// Case 1's program alone: what bench/run compiles to report the compile time and memory of one
// fused training step (MLP 784-256-128-10, ReLU, softmax cross-entropy).
#include <kink/core.hpp> // the program alone: no nn:: or io:: helpers

using namespace kink;

constexpr auto x = input<"x", 784>;
constexpr auto y = label<"y", 10>;
constexpr auto W1 = param<"W1", 256, 784>;
constexpr auto b1 = param<"b1", 256>;
constexpr auto W2 = param<"W2", 128, 256>;
constexpr auto b2 = param<"b2", 128>;
constexpr auto W3 = param<"W3", 10, 128>;
constexpr auto b3 = param<"b3", 10>;

float train_step(const float *xs, const int *ys, std::size_t batch) {
    static auto net = compile(softmax_cross_entropy(W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3, y));
    static auto p = net.make_params(), g = net.make_params();
    return net.step(p, g, x = std::span(xs, batch * 784), y = std::span(ys, batch));
}

// A user's program built against an installed kink (tests/consumer/run.sh builds it with CMake,
// with pkg-config, with meson through pkg-config and with kink as a meson subproject): a small
// network, one training step, a prediction, and the derivative printed with its kink.
#include <kink/kink.hpp>

#include <cstdio>
#include <vector>

using namespace kink;

constexpr auto x = input<"x", 4>;
constexpr auto y = label<"y", 2>;
constexpr auto W = param<"W", 2, 4>;
constexpr auto b = param<"b", 2>;
constexpr auto logits = W * relu(x) + b;

int main() {
    auto net = compile(softmax_cross_entropy(logits, y));
    auto params = net.make_params(), grads = net.make_params();
    nn::init_uniform_fan_in(net, params, 1);
    const std::vector<float> xs{1, 0, -1, 2, 0.5f, 0.25f, 0, -2};
    const std::vector<std::int32_t> ys{0, 1};
    const float loss = net.step(params, grads, x = std::span(xs), y = std::span(ys));
    auto predict = compile_forward(logits);
    const auto z = predict(params, x = std::span(xs));
    const auto v = var<"v">;
    std::printf("loss %.4f, %zu logits, d relu(v)/dv = %s\n", double(loss), z.size(), fmt::format("{}", grad(relu(v), v)).c_str());
    return loss > 0 && z.size() == 4 ? 0 : 1;
}

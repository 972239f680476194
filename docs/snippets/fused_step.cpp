// Concepts: a tensor expression compiles to one fused training step. The plan (which products
// absorb their bias, which activations run in a product's epilogue, where every value lives) is
// computed at compile time; a step allocates nothing after the first.
#include <cstdio>
#include <vector>

#include <kink/kink.hpp>
#include <kink/nn/init.hpp>
using namespace kink;

constexpr auto x = input<"x", 3>;
constexpr auto y = label<"y", 2>;
constexpr auto W1 = param<"W1", 4, 3>;
constexpr auto b1 = param<"b1", 4>;
constexpr auto W2 = param<"W2", 2, 4>;
constexpr auto b2 = param<"b2", 2>;

int main() {
    const auto loss = softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y);
    auto net = compile(loss);                       // float; compile<double>(loss) for double
    auto params = net.make_params(), grads = net.make_params();
    nn::init_uniform_fan_in(net, params, 1);        // PyTorch's default initialisation
    const std::vector<float> xs{0.5f, -1.f, 2.f, 1.f, 0.f, -0.5f};  // a batch of two samples
    const std::vector<int> ys{1, 0};
    const float l = net.step(params, grads, x = std::span(xs), y = std::span(ys));
    std::printf("loss = %.6f\n", double(l));
    std::printf("dL/db2 = [%.6f, %.6f]\n", double(grads[b2][0]), double(grads[b2][1]));
    std::printf("parameters: %zu floats in one buffer; kernels: %s\n", params.flat().size(),
                std::string(gemm::isa).c_str());
}

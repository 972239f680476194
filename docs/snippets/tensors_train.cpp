// Tensors guide: a two-layer network trained on one batch with Adam, then used for prediction
// with a forward-only program. Layers made by a helper take their name as a template parameter,
// so each call makes distinct parameters ("fc1.weight", "fc2.weight").
#include <cstdio>
#include <vector>

#include <kink/kink.hpp> // everything: ops, compile, nn (layers, optimizers, files), io
using namespace kink;

constexpr auto x = input<"x", 4>;  // one sample; the batch is a runtime dimension
constexpr auto y = label<"y", 3>;  // an integer class in [0, 3) per sample

template <fixed_string Name, std::size_t Out> constexpr auto block(const expression auto &in) {
    return relu(nn::dense<Name, Out>(in)); // relu(param<Name.weight> * in + param<Name.bias>)
}

int main() {
    const auto logits = nn::dense<"fc2", 3>(block<"fc1", 8>(x));
    auto net = compile(softmax_cross_entropy(logits, y));
    auto params = net.make_params(), grads = net.make_params();
    nn::init_uniform_fan_in(net, params, /*seed*/ 0); // PyTorch's nn.Linear default
    nn::adam<float> opt;
    const std::vector<float> images{0.5f, -1.f, 2.f, 0.f, 1.f, 1.f, -0.5f, 0.25f};
    const std::vector<int> labels{2, 0};
    for (int i = 0; i < 20; ++i) {
        const float loss = net.step(params, grads, x = std::span(images), y = std::span(labels));
        opt.step(params, grads);
        if (i % 5 == 0) std::printf("step %2d  loss %.4f\n", i, double(loss));
    }
    auto predict = compile_forward(logits); // no loss, no labels, no adjoints
    const std::span<const float> z = predict(params, x = std::span(images));
    std::printf("logits of sample 0: %.3f %.3f %.3f (class %zu)\n", double(z[0]), double(z[1]), double(z[2]),
                nn::argmax(z.data(), 3));
    std::printf("network: %s\n", to_text(logits).c_str());
}

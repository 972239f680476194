// The examples' networks exported to ONNX, for tests/onnx_check.py: `onnx_values NET MODEL
// LOGITS [N]` draws the parameters of network NET (mlp: examples/fashion_mnist's MLP, cnn:
// examples/fashion_cnn's CNN, resnet: examples/fashion_resnet's ResNet after one training step,
// so that its batch norms' running statistics are not at their start), writes the inference
// program compile_forward(eval_mode(logits)) as an ONNX model to MODEL, and kink's logits of the
// first N (default 1000) Fashion-MNIST test images to LOGITS (safetensors, F32 [N, 10]). NET
// misc is an MLP through the ops the examples do not use: layer_norm (mean), a scale and shift,
// mish, softsign, softplus, relu6, hardtanh, abs, gelu_tanh, selu, celu, sin, pow<2>, softmax.
// NET kinked goes through the piecewise ops (clamp, max and min of two values and of a vector,
// sign, step, softshrink, hardshrink, threshold, leaky_relu with a runtime constant as its slope),
// the normal distribution's density and distribution function, and a transposed parameter.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <kink/io/onnx.hpp>
#include <kink/kink.hpp>

#include "../examples/networks.hpp"

using namespace kink;

namespace {

template <bool Images, class Loss, class Logits>
int run(const Loss &loss, const Logits &logits, const std::string &model, const std::string &out, std::size_t n) {
    auto net = compile(loss);
    auto predict = compile_forward(eval_mode(logits));
    auto p = net.make_params();
    nn::init_he(net, p, 7);
    auto test = io::fashion_mnist("t10k", "/usr/share/datasets/fashion-mnist");
    n = std::min(n, test.count);
    const std::span<const float> x(test.x.data(), n * 784);
    constexpr auto xi = nets::fashion_cnn::x; // an image
    constexpr auto xv = nets::fashion::x;     // a vector
    if constexpr (detail::has_training_op<graph_t<Loss>>::value) { // move the running statistics
        const std::span<const std::int32_t> y(test.y.data(), 64);
        auto g = net.make_params();
        net.step(p, g, xi = x.subspan(0, 64 * 784), nets::fashion_cnn::y = y);
    }
    std::vector<float> z;
    if constexpr (Images) {
        const auto v = predict(p, xi = x);
        z.assign(v.begin(), v.end());
    } else {
        const auto v = predict(p, xv = x);
        z.assign(v.begin(), v.end());
    }
    onnx::save(model, predict, p);
    io::write_safetensors(out, {{"logits", "F32", {n, 10}, {reinterpret_cast<const std::byte *>(z.data()), z.size() * 4}}}, {});
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: onnx_values mlp|cnn|resnet|misc|kinked MODEL LOGITS [N]\n");
        return 2;
    }
    const std::string net = argv[1];
    const std::size_t n = argc > 4 ? std::stoul(argv[4]) : 1000;
    try {
        using R = policy::zero;
        using T = policy::first;
        if (net == "mlp") return run<false>(nets::fashion::loss<R>(), nets::fashion::logits<R>(), argv[2], argv[3], n);
        if (net == "cnn") return run<true>(nets::fashion_cnn::loss<R, T>(), nets::fashion_cnn::logits<R, T>(), argv[2], argv[3], n);
        if (net == "resnet") return run<true>(nets::fashion_resnet::loss(), nets::fashion_resnet::logits(), argv[2], argv[3], n);
        if (net == "misc") {
            constexpr auto xv = nets::fashion::x;
            const auto a = hadamard(param<"ln.weight", 32>, layer_norm(nn::dense<"fc1", 32>(xv))) + param<"ln.bias", 32>;
            const auto c = mish(a) + softsign(a) + softplus(a) + relu6(a) + hardtanh(a) + abs(a) + gelu_tanh(a) + selu(a) +
                           celu(a, lit<1, 2>) + sin(a) + hadamard(lit<1, 10>, pow<2>(a));
            const auto z = softmax(nn::dense<"fc2", 10>(c));
            return run<false>(softmax_cross_entropy(z, nets::fashion::y), z, argv[2], argv[3], n);
        }
        if (net == "kinked") {
            constexpr auto xv = nets::fashion::x;
            const auto a = nn::dense<"fc1", 32>(xv);
            const auto b = nn::dense<"fc2", 32>(xv);
            const auto c = clamp(a, lit<-1, 2>, lit<1>) + max(a, b) + min(a, lit<1, 4>) + sign(a) + step(b) + softshrink(a, lit<1, 2>) +
                           hardshrink(b, lit<1, 2>) + threshold(a, lit<1, 10>, lit<-3>) + leaky_relu(b, constant<"slope">(0.3)) +
                           normal_cdf(a) + normal_pdf(b) + max(b);
            const auto z = transpose(param<"fc3.weight", 32, 10>) * c + param<"fc3.bias", 10>;
            return run<false>(softmax_cross_entropy(z, nets::fashion::y), z, argv[2], argv[3], n);
        }
        std::fprintf(stderr, "onnx_values: unknown network '%s'\n", net.c_str());
        return 2;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}

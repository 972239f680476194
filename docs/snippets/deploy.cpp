// Deploying a model: train a network with batch normalisation briefly, save the model from the
// training program, load it into an inference program (no loss, no labels, the running
// statistics), see a different network refused, export ONNX, and read the model file as a plain
// state_dict (what PyTorch's safetensors files are).
#include <cstdio>
#include <string>
#include <vector>

#include <kink/io/onnx.hpp> // onnx::save (needs protozero's headers: Debian's libprotozero-dev)
#include <kink/kink.hpp>
using namespace kink;

constexpr auto x = input<"x", 784>;
constexpr auto y = label<"y", 10>;
// PyTorch's names: fc1.weight, fc1.bias, bn1.weight, ..., bn1.running_var, fc2.weight, fc2.bias
constexpr auto logits = nn::dense<"fc2", 10>(relu(nn::batch_norm<"bn1">(nn::dense<"fc1", 128>(x))));

template <class Program> double accuracy(Program &predict, const typename Program::params_type &p, const io::labelled_images &test) {
    const auto z = predict(p, x = std::span<const float>(test.x.data(), test.count * 784));
    return double(nn::count_correct(z, std::span<const std::int32_t>(test.y.data(), test.count), 10)) / double(test.count);
}

int main() {
    auto train = io::fashion_mnist("train", "/usr/share/datasets/fashion-mnist");
    const auto test = io::fashion_mnist("t10k", "/usr/share/datasets/fashion-mnist");
    train.count = 5000;
    // 1. train: the training program (batch statistics, running averages kept in params)
    auto net = compile(softmax_cross_entropy(logits, y));
    auto params = net.make_params(), grads = net.make_params();
    nn::init_he(net, params, 1);
    nn::adam<float> opt;
    nn::batcher batches(std::span<const float>(train.x.data(), train.count * 784), std::span<const std::int32_t>(train.y.data(), train.count),
                        784, 64, 1);
    batches.shuffle(1);
    while (const std::size_t n = batches.next()) {
        net.step(params, grads, x = batches.x(n), y = batches.y(n));
        opt.step(params, grads);
    }
    nn::save_model("mlp.safetensors", net, params);
    std::printf("trained one epoch on %zu images; saved mlp.safetensors\n", train.count);

    // 2. deploy: an inference program of the prediction in evaluation mode loads the model
    auto predict = compile_forward(eval_mode(logits));
    auto deployed = predict.make_params();
    nn::load_model("mlp.safetensors", predict, deployed);
    std::printf("inference program: test accuracy %.4f on %zu images\n", accuracy(predict, deployed, test), test.count);

    // 3. a network that computes something else is refused, the difference named
    auto other = compile_forward(eval_mode(nn::dense<"fc2", 10>(gelu(nn::batch_norm<"bn1">(nn::dense<"fc1", 128>(x))))));
    auto q = other.make_params();
    try {
        nn::load_model("mlp.safetensors", other, q);
    } catch (const io::format_error &e) {
        std::printf("refused: %s\n", e.what());
    }

    // 4. ONNX for other runtimes
    onnx::save("mlp.onnx", predict, deployed);
    std::printf("wrote mlp.onnx (input 'x' [N, 784], output 'output' [N, 10])\n");

    // 5. the model file is a plain state_dict too: load_state_dict matches tensors by name
    auto again = predict.make_params();
    nn::load_state_dict("mlp.safetensors", predict, again);
    std::printf("load_state_dict: %s\n", std::equal(again.flat().begin(), again.flat().end(), deployed.flat().begin()) ? "the same parameters" : "DIFFERENT");
}

// Weights between PyTorch and kink, for tests/torch_state_dict.py, in double on the examples'
// networks (examples/networks.hpp: fashion_cnn and fashion_resnet, PyTorch's parameter names):
//
//   state_dict_values load NET STATE_DICT INPUTS   nn::load_state_dict of a file PyTorch's
//                                                   state_dict was written to, then the
//                                                   evaluation-mode logits of the images in INPUTS
//   state_dict_values save NET MODEL INPUTS        parameters drawn by nn::init_he (seed 5), one
//                                                   training step on INPUTS (labels 0, 1, 2, ...) to
//                                                   move batch norm's running statistics, the biases
//                                                   and norm scales set to nonzero values, then
//                                                   nn::save_model to MODEL and the logits
//
// INPUTS is a safetensors file holding "x", F64 of shape [n, 1, 28, 28]. Logits print as
// "logits v v v ..." (row-major, %.17g); errors go to stderr with exit status 1.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/core.h>

#include <kink/kink.hpp>

#include "../examples/networks.hpp"

using namespace kink;

namespace {

std::vector<double> read_inputs(const std::string &path) {
    const io::safetensors f = io::read_safetensors(path);
    const io::tensor_info &t = f.tensors.at("x");
    if (t.dtype != "F64" || t.shape.size() != 4 || t.shape[1] != 1 || t.shape[2] != 28 || t.shape[3] != 28)
        throw io::format_error(path + ": x must be F64 [n, 1, 28, 28]");
    std::vector<double> x(t.shape[0] * 784);
    std::memcpy(x.data(), f.bytes("x").data(), x.size() * 8);
    return x;
}

template <class Net, class Logits> int run(const std::string &mode, const std::string &file, const std::string &inputs, Net &&net,
                                            const Logits &logits) {
    constexpr auto x = nets::fashion_cnn::x;
    auto predict = compile_forward<double>(eval_mode(logits));
    auto p = net.make_params();
    const auto xs = read_inputs(inputs);
    const std::size_t n = xs.size() / 784;
    if (mode == "load") {
        nn::load_state_dict(file, predict, p);
    } else {
        nn::init_he(net, p, 5);
        auto g = net.make_params();
        std::vector<int> ys(n);
        for (std::size_t i = 0; i < n; ++i) ys[i] = int(i % 10);
        net.step(p, g, x = std::span<const double>(xs), nets::fashion_cnn::y = std::span<const int>(ys));
        for (std::size_t i = 0; i < decltype(p)::count; ++i) { // every bias and norm scale away from its start
            const std::string_view name = decltype(p)::names[i];
            if (!name.ends_with(".bias") && !name.ends_with(".weight")) continue;
            if (name.ends_with(".weight") && name.find("bn") == std::string_view::npos) continue;
            double *v = p.data() + decltype(p)::offsets[i];
            for (std::size_t k = 0; k < decltype(p)::sizes[i]; ++k) v[k] += 0.05 * double(int(k % 7) - 3);
        }
        nn::save_model(file, predict, p);
    }
    const auto z = predict(p, x = std::span<const double>(xs));
    fmt::print("logits");
    for (double v : z) fmt::print(" {:.17g}", v);
    fmt::print("\n");
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 5 || (std::string(argv[1]) != "load" && std::string(argv[1]) != "save")) {
        std::fprintf(stderr, "usage: state_dict_values load|save cnn|resnet FILE INPUTS\n");
        return 2;
    }
    try {
        const std::string net = argv[2];
        if (net == "cnn") {
            using P = policy::zero;
            using T = policy::first;
            return run(argv[1], argv[3], argv[4], compile<double>(nets::fashion_cnn::loss<P, T>()), nets::fashion_cnn::logits<P, T>());
        }
        if (net == "resnet")
            return run(argv[1], argv[3], argv[4], compile<double>(nets::fashion_resnet::loss()), nets::fashion_resnet::logits());
        std::fprintf(stderr, "state_dict_values: unknown network '%s'\n", net.c_str());
        return 2;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}

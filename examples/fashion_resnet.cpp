// Fashion-MNIST with a small residual network and batch normalisation (examples/networks.hpp,
// nets::fashion_resnet): a 3 x 3 stem of 24 channels, residual blocks of 24 channels at 28 x 28,
// 48 at 14 x 14 and 96 at 7 x 7, global average pooling and a dense layer; batch normalisation
// after every convolution, in training mode while it trains (the batch's statistics, and running
// averages kept in the parameter store) and in evaluation mode on the test set (eval_mode: the
// running statistics). Adam, cosine schedule, shifted and mirrored training images (--augment is
// on by default here: without it the network fits the training set and stops improving at about
// 0.925), checkpoints, CSV and SVG curves as the other Fashion-MNIST examples. `--help` for the
// options.
// The last line is `test_accuracy=0.xxxx train_seconds=...`.
#include <array>
#include <cstdio>
#include <map>
#include <string>

#include <kink/kink.hpp>

#include "fashion_train.hpp"
#include "networks.hpp"
#include "options.hpp"

using namespace kink;
using examples::fashion::options;

namespace {

options parse(int argc, char **argv) {
    options o;
    o.out = "fashion-resnet-run";
    o.epochs = 15;
    o.batch = 128;
    o.lr = 0.002;
    o.augment = true;
    const std::string notes = "Under mpirun, batch normalisation's statistics are exchanged between the ranks: the same bytes as one\n"
                              "process.\n";
    examples::options_parser p("fashion_resnet", examples::fashion::usage_text("fashion_resnet", o, "", notes));
    examples::fashion::add_training_options(p, o);
    p.parse(argc, argv);
    return o;
}

struct resnet {
    static constexpr auto loss = nets::fashion_resnet::loss();
    static constexpr auto logits = nets::fashion_resnet::logits();
    static constexpr auto x = nets::fashion_resnet::x;
    static constexpr auto y = nets::fashion_resnet::y;
    static const char *network() {
        return "ResNet: conv 3x3 24 - block 24 (28x28) - block 48 (14x14) - block 96 (7x7) - average pool - dense 10, "
               "batch norm after every convolution";
    }
    static std::array<kink_count, 0> counts() { return {}; }
    static void print_counts(const std::array<kink_count, 0> &) {}
    static std::string policy(const options &) { return "relu'(0) = 0 (PyTorch's)"; }
    static std::string title() { return "ResNet with batch norm"; }
    static std::map<std::string, std::string> run_keys(const options &) { return {}; }
    template <class Net> static void configure(Net &, const options &) {}
};

} // namespace

int main(int argc, char **argv) {
    const options o = parse(argc, argv);
    examples::fashion::check_output_folder("fashion_resnet", o.out);
    try {
        return examples::fashion::train("fashion_resnet", o, resnet{});
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}

// Fashion-MNIST with a small residual network and batch normalisation (examples/networks.hpp,
// nets::fashion_resnet): a 3 x 3 stem of 16 channels, residual blocks of 16 channels at 28 x 28,
// 32 at 14 x 14 and 64 at 7 x 7, global average pooling and a dense layer; batch normalisation
// after every convolution, in training mode while it trains (the batch's statistics, and running
// averages kept in the parameter store) and in evaluation mode on the test set (eval_mode: the
// running statistics). Adam, cosine schedule, checkpoints, CSV and SVG curves as the other
// Fashion-MNIST examples. `--help` for the options.
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

const char *usage = R"(usage: fashion_resnet [options]
  --epochs N        epochs to train, 1 to 10000 (default 15)
  --batch N         mini-batch size, 1 to 60000 (default 128)
  --lr X            Adam learning rate, > 0 (default 0.002)
  --schedule S      learning rate per epoch: cosine (annealed to 0 over the epochs), step (x0.1 every
                    4 epochs) or none (default cosine)
  --seed N          initialisation and shuffling seed, 0 to 2^62 (default 1)
  --out DIR         folder for checkpoint.safetensors, curves.csv, curves.svg (default fashion-resnet-run)
  --data DIR        the IDX files (default /usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist)
  --resume          continue from DIR/checkpoint.safetensors (bit-identical to an uninterrupted run;
                    refused when an option that changes the result differs)
  --quick           a smoke run: 512 training and 512 test samples, one epoch
  --limit N         use only the first N training and test images
  --stop-after N    stop after epoch N (as if interrupted; --resume continues)
  --threads N       threads per training and evaluation step, 1 to 1024 (default: every core of this
                    machine); the results are the same bytes for every N
  --help            this text
Batch normalisation needs every sample of a batch in one process: under mpirun with more than one
rank the run stops with an error.
A run whose loss or parameters become NaN or infinite stops with status 3 and keeps the last
good checkpoint.
)";

options parse(int argc, char **argv) {
    options o;
    o.out = "fashion-resnet-run";
    o.epochs = 15;
    o.batch = 128;
    o.lr = 0.002;
    examples::options_parser p("fashion_resnet", usage);
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
        return "ResNet: conv 3x3 16 - block 16 (28x28) - block 32 (14x14) - block 64 (7x7) - average pool - dense 10, "
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

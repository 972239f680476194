// Fashion-MNIST end to end: an MLP 784-256-128-10 with ReLU, trained with Adam by one compiled
// step, evaluated on the test set every epoch, checkpointed (safetensors, atomic), with a CSV
// and an SVG of the training curves next to the checkpoint. `--help` for the options.
// The last line is `test_accuracy=0.xxxx train_seconds=...`.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <kink/kink.hpp>
#include <kink/io/idx.hpp>
#include <kink/io/plot.hpp>
#include <kink/io/safetensors.hpp>
#include <kink/nn/checkpoint.hpp>
#include <kink/nn/data.hpp>
#include <kink/nn/init.hpp>
#include <kink/nn/optim.hpp>
#include <kink/nn/schedule.hpp>
#include <kink/nn/train.hpp>

#include "networks.hpp"

using namespace kink;

namespace {

struct options {
    int epochs = 10;
    std::size_t batch = 64;
    double lr = 1e-3;
    unsigned long long seed = 1;
    std::string relu0 = "zero";
    std::string schedule = "cosine";
    std::string out = "fashion-mnist-run";
    std::string data = "/usr/share/datasets/fashion-mnist";
    std::size_t limit = 0; // use only the first `limit` training and test samples (0: all)
    bool resume = false;
    int stop_after = 0; // stop after this epoch (0: train all epochs); simulates an interruption
    bool count_kinks = false;
};

const char *usage = R"(usage: fashion_mnist [options]
  --epochs N        epochs to train (default 10)
  --batch N         mini-batch size (default 64)
  --lr X            Adam learning rate (default 0.001)
  --schedule S      learning rate per epoch: cosine (annealed to 0 over the epochs), step (x0.1 every
                    4 epochs) or none (default cosine)
  --seed N          initialisation and shuffling seed (default 1)
  --relu0 P         relu'(0) in every layer: zero (PyTorch's), one or half (default zero)
  --out DIR         folder for checkpoint.safetensors, curves.csv, curves.svg (default fashion-mnist-run)
  --data DIR        the IDX files (default /usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist)
  --resume          continue from DIR/checkpoint.safetensors (bit-identical to an uninterrupted run)
  --quick           a smoke run: 512 training and 512 test samples, one epoch
  --limit N         use only the first N training and test images
  --stop-after N    stop after epoch N (as if interrupted; --resume continues)
  --count-kinks     count, per epoch and layer, the relu inputs exactly 0 (relu'(0) was used)
  --help            this text
)";

options parse(int argc, char **argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            const auto eq = a.find('=');
            if (eq != std::string_view::npos) return std::string(a.substr(eq + 1));
            if (i + 1 >= argc) {
                std::fprintf(stderr, "fashion_mnist: %s needs a value\n%s", argv[i], usage);
                std::exit(2);
            }
            return argv[++i];
        };
        auto is = [&](std::string_view name) { return a == name || (a.starts_with(name) && a.size() > name.size() && a[name.size()] == '='); };
        auto number = [&](const std::string &v) {
            char *end = nullptr;
            const double d = std::strtod(v.c_str(), &end);
            if (v.empty() || *end || !(d > 0)) {
                std::fprintf(stderr, "fashion_mnist: %s: '%s' is not a positive number\n", argv[i], v.c_str());
                std::exit(2);
            }
            return d;
        };
        if (a == "--help" || a == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        } else if (is("--epochs")) o.epochs = int(number(value()));
        else if (is("--batch")) o.batch = std::size_t(number(value()));
        else if (is("--lr")) o.lr = number(value());
        else if (is("--seed")) o.seed = std::strtoull(value().c_str(), nullptr, 10);
        else if (is("--relu0")) o.relu0 = value();
        else if (is("--schedule")) o.schedule = value();
        else if (is("--out")) o.out = value();
        else if (is("--data")) o.data = value();
        else if (a == "--resume") o.resume = true;
        else if (a == "--count-kinks") o.count_kinks = true;
        else if (a == "--quick") o.limit = 512, o.epochs = 1;
        else if (is("--limit")) o.limit = std::size_t(number(value()));
        else if (is("--stop-after")) o.stop_after = int(number(value()));
        else {
            std::fprintf(stderr, "fashion_mnist: unknown option '%s'\n%s", argv[i], usage);
            std::exit(2);
        }
    }
    if (o.schedule != "cosine" && o.schedule != "step" && o.schedule != "none") {
        std::fprintf(stderr, "fashion_mnist: --schedule must be cosine, step or none, not '%s'\n", o.schedule.c_str());
        std::exit(2);
    }
    if (o.relu0 != "zero" && o.relu0 != "one" && o.relu0 != "half") {
        std::fprintf(stderr, "fashion_mnist: --relu0 must be zero, one or half, not '%s'\n", o.relu0.c_str());
        std::exit(2);
    }
    return o;
}

using namespace nets::fashion;

const std::vector<std::string> class_names = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",  "Shirt",   "Sneaker",  "Bag",   "Boot"};

template <class P> int train(const options &o) {
    const auto h1 = hidden1<P>();
    const auto h2 = hidden2<P>();
    const auto logits = nets::fashion::logits<P>();
    const auto loss = nets::fashion::loss<P>();
    auto net = compile(loss);
    using store = typename decltype(net)::params_type;

    auto train_set = io::fashion_mnist("train", o.data);
    auto test_set = io::fashion_mnist("t10k", o.data);
    if (o.limit) {
        train_set.count = std::min(train_set.count, o.limit);
        test_set.count = std::min(test_set.count, o.limit);
    }
    const std::span<const float> tx(train_set.x.data(), train_set.count * 784), vx(test_set.x.data(), test_set.count * 784);
    const std::span<const std::int32_t> ty(train_set.y.data(), train_set.count), vy(test_set.y.data(), test_set.count);

    std::filesystem::create_directories(o.out);
    const std::string ckpt = o.out + "/checkpoint.safetensors";
    store params, grads;
    nn::adam<float> opt;
    opt.lr = float(o.lr);
    int first_epoch = 1;
    std::vector<io::epoch_record> history;
    if (o.resume) {
        const io::safetensors f = nn::load_checkpoint(ckpt, params, opt);
        auto meta = [&](const std::string &k) { return nn::metadata(f, k, ckpt); };
        if (meta("relu0") != o.relu0 || meta("seed") != std::to_string(o.seed) || meta("batch") != std::to_string(o.batch) ||
            meta("schedule") != o.schedule || meta("adam.lr") != nn::exact(o.lr) || meta("epochs") != std::to_string(o.epochs))
            throw io::format_error("kink: " + ckpt + ": written by a run with relu0=" + meta("relu0") + " seed=" + meta("seed") +
                                   " batch=" + meta("batch") + " schedule=" + meta("schedule") + " epochs=" + meta("epochs") +
                                   "; resume with the same options");
        history = io::parse_csv(meta("curves"), ckpt);
        first_epoch = std::stoi(meta("epoch")) + 1;
        std::printf("resumed from %s after epoch %d\n", ckpt.c_str(), first_epoch - 1);
    } else {
        nn::init_uniform_fan_in(net, params, o.seed);
    }

    std::printf("network: %s\nrelu'(0) = %s, Adam lr %g (%s schedule), batch %zu, %zu training / %zu test images, kernels %s\n",
                to_text(loss).c_str(), o.relu0.c_str(), o.lr, o.schedule.c_str(), o.batch, train_set.count, test_set.count, gemm::isa.data());

    nn::batcher batches(tx, ty, 784, o.batch, o.seed);
    nn::batcher test_batches(vx, vy, 784, 1000, 0);
    nn::progress_bar bar(o.epochs);
    double train_seconds = 0;
    double last_accuracy = 0;
    nn::confusion_matrix last_cm(10); // of the last epoch's evaluation
    const int last_epoch = o.stop_after ? std::min(o.stop_after, o.epochs) : o.epochs;
    for (int epoch = first_epoch; epoch <= last_epoch; ++epoch) {
        batches.shuffle(std::uint64_t(epoch));
        if constexpr (is_count_v<P>) {
            reset_kink_counts(h1);
            reset_kink_counts(h2);
        }
        opt.lr = float(o.schedule == "cosine" ? nn::cosine_lr(o.lr, epoch - 1, o.epochs)
                       : o.schedule == "step" ? nn::step_lr(o.lr, epoch - 1, 4)
                                              : o.lr);
        bar.start_epoch(epoch, batches.batches_per_epoch());
        for (std::size_t b = 1;; ++b) {
            const std::size_t n = batches.next();
            if (!n) break;
            const float l = net.step(params, grads, x = batches.x(n), y = batches.y(n));
            opt.step(params, grads);
            bar.batch(b, n, l, nn::count_correct(net.value(logits), batches.y(n), 10));
        }
        const double secs = bar.seconds();
        train_seconds += secs;
        [[maybe_unused]] kink_count k1{}, k2{};
        if constexpr (is_count_v<P>) k1 = kink_hits(h1), k2 = kink_hits(h2); // training steps only, not evaluation
        // evaluation on the test set
        nn::confusion_matrix cm(10);
        double test_loss = 0;
        test_batches.in_order();
        while (const std::size_t n = test_batches.next()) {
            test_loss += double(net.forward(params, x = test_batches.x(n), y = test_batches.y(n))) * double(n);
            cm.add(net.value(logits), test_batches.y(n));
        }
        test_loss /= double(test_set.count);
        last_accuracy = cm.accuracy();
        last_cm = cm;
        history.push_back({epoch, bar.running_loss(), bar.running_accuracy(), test_loss, last_accuracy, secs});
        char line[200];
        std::snprintf(line, sizeof line, "epoch %2d  train loss %.4f acc %.4f  test loss %.4f acc %.4f  %.1fs (%.0f samples/s)",
                      epoch, bar.running_loss(), bar.running_accuracy(), test_loss, last_accuracy, secs,
                      double(train_set.count) / secs);
        bar.end_epoch(line);
        if constexpr (is_count_v<P>) {
            std::printf("          relu inputs exactly 0: layer 1 %llu of %llu (%.3g), layer 2 %llu of %llu (%.3g)\n",
                        (unsigned long long)k1.hits, (unsigned long long)k1.evals, double(k1.hits) / double(k1.evals),
                        (unsigned long long)k2.hits, (unsigned long long)k2.evals, double(k2.hits) / double(k2.evals));
        }

        nn::save_checkpoint(ckpt, params, opt,
                            {{"network", to_text(loss)},
                             {"relu0", o.relu0},
                             {"policy", "relu'(0) = " + o.relu0 + " in both hidden layers"},
                             {"epoch", std::to_string(epoch)},
                             {"seed", std::to_string(o.seed)},
                             {"batch", std::to_string(o.batch)},
                             {"schedule", o.schedule},
                             {"epochs", std::to_string(o.epochs)},
                             {"curves", io::csv_text(history)},
                             {"adam.lr", nn::exact(o.lr)}});
        io::write_csv(o.out + "/curves.csv", history);
        io::write_training_svg(o.out + "/curves.svg", history, "Fashion-MNIST, MLP 784-256-128-10, relu'(0) = " + o.relu0);
    }
    if (!history.empty()) {
        std::printf("confusion matrix on the test set (rows: true class):\n%s", last_cm.table(class_names).c_str());
        std::printf("wrote %s, %s/curves.csv, %s/curves.svg\n", ckpt.c_str(), o.out.c_str(), o.out.c_str());
    }
    std::printf("test_accuracy=%.4f train_seconds=%.2f\n", last_accuracy, train_seconds);
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    const options o = parse(argc, argv);
    try {
        if (o.count_kinks) {
            if (o.relu0 == "one") return train<policy::count<policy::one>>(o);
            if (o.relu0 == "half") return train<policy::count<policy::half>>(o);
            return train<policy::count<policy::zero>>(o);
        }
        if (o.relu0 == "one") return train<policy::one>(o);
        if (o.relu0 == "half") return train<policy::half>(o);
        return train<policy::zero>(o);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}

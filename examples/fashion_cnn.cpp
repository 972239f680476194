// Fashion-MNIST with a convolutional network: conv 5x5 (16) - relu - max-pool 2 - conv 5x5 (32) -
// relu - max-pool 2 - dense 128 - relu - dense 10, trained with Adam by one compiled step,
// evaluated on the test set every epoch, checkpointed (safetensors, atomic), with a CSV and an
// SVG of the training curves next to the checkpoint. relu'(0) and the max-pool tie policy are
// options; `--count-kinks` prints per layer how many relu inputs were exactly 0 and how many
// pooling windows had a tied maximum (and how many of those had a nonzero adjoint, where the
// tie policy changed a gradient). `--help` for the options.
// The last line is `test_accuracy=0.xxxx train_seconds=...`.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <kink/kink.hpp>

#include "networks.hpp"
#include "options.hpp"

using namespace kink;

namespace {

struct options {
    int epochs = 10;
    std::size_t batch = 64;
    double lr = 1e-3;
    std::uint64_t seed = 1;
    std::string relu0 = "zero";
    std::string ties = "first";
    std::string schedule = "cosine";
    std::string out = "fashion-cnn-run";
    std::string data = "/usr/share/datasets/fashion-mnist";
    std::size_t limit = 0; // use only the first `limit` training and test samples (0: all)
    bool resume = false;
    int stop_after = 0; // stop after this epoch (0: train all epochs); simulates an interruption
    bool count_kinks = false;
};

const char *usage = R"(usage: fashion_cnn [options]
  --epochs N        epochs to train, 1 to 10000 (default 10)
  --batch N         mini-batch size, 1 to 60000 (default 64)
  --lr X            Adam learning rate, > 0 (default 0.001)
  --schedule S      learning rate per epoch: cosine (annealed to 0 over the epochs), step (x0.1 every
                    4 epochs) or none (default cosine)
  --seed N          initialisation and shuffling seed, 0 to 2^62 (default 1)
  --relu0 P         relu'(0) in every layer: zero (PyTorch's) or one (default zero)
  --pool-ties P     how a 2 x 2 max-pool window with a tied maximum shares its gradient: first (all to the
                    first in scan order: PyTorch, TensorFlow, JAX), last, or split (1/k to each of k) (default first)
  --out DIR         folder for checkpoint.safetensors, curves.csv, curves.svg (default fashion-cnn-run)
  --data DIR        the IDX files (default /usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist)
  --resume          continue from DIR/checkpoint.safetensors (bit-identical to an uninterrupted run;
                    refused when an option that changes the result differs)
  --quick           a smoke run: 512 training and 512 test samples, one epoch
  --limit N         use only the first N training and test images
  --stop-after N    stop after epoch N (as if interrupted; --resume continues)
  --count-kinks     print, per epoch and layer, the relu inputs exactly 0 (relu'(0) was used) and the
                    pooling windows with a tied maximum (and those whose adjoint was nonzero)
  --help            this text
A run whose loss or parameters become NaN or infinite stops with status 3 and keeps the last
good checkpoint.
)";

options parse(int argc, char **argv) {
    options o;
    examples::options_parser p("fashion_cnn", usage);
    p.integer("--epochs", o.epochs, 1, 10000);
    p.integer("--batch", o.batch, 1, 60000);
    p.number("--lr", o.lr, 0, 1e30);
    p.integer("--seed", o.seed, 0, (1ll << 62));
    p.word("--relu0", o.relu0, {"zero", "one"});
    p.word("--pool-ties", o.ties, {"first", "last", "split"});
    p.word("--schedule", o.schedule, {"cosine", "step", "none"});
    p.text("--out", o.out);
    p.text("--data", o.data);
    p.flag("--resume", [&] { o.resume = true; });
    p.flag("--count-kinks", [&] { o.count_kinks = true; });
    p.flag("--quick", [&] { o.limit = 512, o.epochs = 1; });
    p.integer("--limit", o.limit, 1, 1 << 30);
    p.integer("--stop-after", o.stop_after, 1, 10000);
    p.parse(argc, argv);
    return o;
}

/// The output folder must take files before an epoch is spent: created, then probed with a file.
void check_output_folder(const std::string &out) {
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    const std::string probe = out + "/.kink-write-test";
    std::FILE *f = ec ? nullptr : std::fopen(probe.c_str(), "w");
    if (!f) {
        std::fprintf(stderr, "fashion_cnn: --out %s: cannot write there (%s)\n", out.c_str(),
                     ec ? ec.message().c_str() : std::strerror(errno));
        std::exit(2);
    }
    std::fclose(f);
    std::remove(probe.c_str());
}

using namespace nets::fashion_cnn;

const std::vector<std::string> class_names = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",  "Shirt",   "Sneaker",  "Bag",   "Boot"};

/// Trains with relu'(0) from R and max-pool ties from T; both are counted (count<P>: the value of
/// P, and a counter per node), so that --count-kinks needs no second program.
template <class R0, class T0> int train(const options &o) {
    using R = policy::count<R0>;
    using T = policy::count<T0>;
    const auto h1 = act1<R>();
    const auto p1 = pool1<R, T>();
    const auto h2 = act2<R, T>();
    const auto p2 = pool2<R, T>();
    const auto logits = nets::fashion_cnn::logits<R, T>();
    const auto loss = nets::fashion_cnn::loss<R, T>();
    auto net = compile(loss);
    auto predict = compile_forward(logits); // evaluation: forward only, no adjoints, no labels
    using store = typename decltype(net)::params_type;

    auto train_set = io::fashion_mnist("train", o.data);
    auto test_set = io::fashion_mnist("t10k", o.data);
    if (o.limit) {
        train_set.count = std::min(train_set.count, o.limit);
        test_set.count = std::min(test_set.count, o.limit);
    }
    const std::span<const float> tx(train_set.x.data(), train_set.count * 784), vx(test_set.x.data(), test_set.count * 784);
    const std::span<const std::int32_t> ty(train_set.y.data(), train_set.count), vy(test_set.y.data(), test_set.count);

    const std::string ckpt = o.out + "/checkpoint.safetensors";
    store params, grads;
    nn::adam<float> opt;
    opt.lr = float(o.lr);
    int first_epoch = 1;
    std::vector<io::epoch_record> history;
    // what decides the result, bit for bit: a resumed run must agree on every item
    const std::map<std::string, std::string> run = {
        {"relu0", o.relu0},          {"pool_ties", o.ties},                    {"seed", std::to_string(o.seed)},         {"batch", std::to_string(o.batch)},
        {"schedule", o.schedule},    {"epochs", std::to_string(o.epochs)},     {"lr", nn::exact(o.lr)},
        {"limit", std::to_string(o.limit)}, {"data", std::filesystem::weakly_canonical(o.data).string()},
        {"train_samples", std::to_string(train_set.count)}, {"test_samples", std::to_string(test_set.count)}};
    if (o.resume) {
        const io::safetensors f = nn::load_checkpoint(ckpt, net, params, opt);
        auto meta = [&](const std::string &k) { return nn::metadata(f, k, ckpt); };
        for (const auto &[key, value] : run)
            if (meta(key) != value)
                throw io::format_error("kink: " + ckpt + ": written by a run with " + key + " = " + meta(key) + ", this run has " +
                                       value + ": resume with the same options (the result would not be bit for bit)");
        history = io::parse_csv(meta("curves"), ckpt);
        const std::uint64_t done = nn::parse_count(meta("epoch"), "epoch", ckpt);
        if (done < 1 || done > std::uint64_t(o.epochs) || history.size() != done)
            throw io::format_error("kink: " + ckpt + ": metadata 'epoch' is " + meta("epoch") + ", not an epoch of this run's 1.." +
                                   std::to_string(o.epochs) + " with " + std::to_string(history.size()) + " recorded");
        first_epoch = int(done) + 1;
        std::printf("resumed from %s after epoch %d\n", ckpt.c_str(), first_epoch - 1);
    } else {
        nn::init_uniform_fan_in(net, params, o.seed);
    }

    std::printf("network: %s\nrelu'(0) = %s, pool ties %s, Adam lr %g (%s schedule), batch %zu, %zu training / %zu test images, "
                "kernels %s\n",
                to_text(loss).c_str(), o.relu0.c_str(), o.ties.c_str(), o.lr, o.schedule.c_str(), o.batch, train_set.count,
                test_set.count, gemm::isa.data());

    nn::batcher batches(tx, ty, 784, o.batch, o.seed);
    nn::batcher test_batches(vx, vy, 784, 1000, 0);
    nn::progress_bar bar(o.epochs);
    double train_seconds = 0;
    double last_accuracy = 0;
    nn::confusion_matrix last_cm(10); // of the last epoch's evaluation
    const int last_epoch = o.stop_after ? std::min(o.stop_after, o.epochs) : o.epochs;
    for (int epoch = first_epoch; epoch <= last_epoch; ++epoch) {
        batches.shuffle(std::uint64_t(epoch));
        reset_kink_counts(loss);
        opt.lr = float(o.schedule == "cosine" ? nn::cosine_lr(o.lr, epoch - 1, o.epochs)
                       : o.schedule == "step" ? nn::step_lr(o.lr, epoch - 1, 4)
                                              : o.lr);
        bar.start_epoch(epoch, batches.batches_per_epoch());
        for (std::size_t b = 1;; ++b) {
            const std::size_t n = batches.next();
            if (!n) break;
            const float l = net.step(params, grads, x = batches.x(n), y = batches.y(n));
            if (!std::isfinite(l)) {
                bar.end_epoch("");
                std::fprintf(stderr,
                             "fashion_cnn: the training loss became %s at epoch %d, batch %zu (learning rate %g): the run "
                             "diverged; %s is left as it was%s\n",
                             std::isnan(l) ? "NaN" : "infinite", epoch, b, o.lr, ckpt.c_str(),
                             epoch > 1 ? " after the last good epoch" : "");
                return 3;
            }
            opt.step(params, grads);
            bar.batch(b, n, l, nn::count_correct(net.value(logits), batches.y(n), 10));
        }
        if (!std::all_of(params.flat().begin(), params.flat().end(), [](float v) { return std::isfinite(v); })) {
            std::fprintf(stderr, "fashion_cnn: a parameter became NaN or infinite in epoch %d: the run diverged; %s is left as it was\n",
                         epoch, ckpt.c_str());
            return 3;
        }
        const double secs = bar.seconds();
        train_seconds += secs;
        // training steps only: evaluation runs a forward program whose counters are its own
        const kink_count k1 = kink_hits(h1), t1 = kink_hits(p1), k2 = kink_hits(h2), t2 = kink_hits(p2);
        // evaluation on the test set
        nn::confusion_matrix cm(10);
        double test_loss = 0;
        test_batches.in_order();
        std::array<float, 10> softmax_scratch{};
        while (const std::size_t n = test_batches.next()) {
            const std::span<const float> z = predict(params, x = test_batches.x(n));
            const auto labels = test_batches.y(n);
            for (std::size_t s = 0; s < n; ++s) // the loss op's own rule, per sample
                test_loss += double(softmax_ce_op::forward(z.data() + 10 * s, 10, std::size_t(labels[s]), softmax_scratch.data()));
            cm.add(z, labels);
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
        if (o.count_kinks) {
            auto u = [](std::uint64_t v) { return (unsigned long long)v; };
            auto frac = [](std::uint64_t a, std::uint64_t b) { return b ? double(a) / double(b) : 0.0; };
            std::printf("          relu inputs exactly 0: conv1 %llu of %llu (%.3g), conv2 %llu of %llu (%.3g)\n", u(k1.hits), u(k1.evals),
                        frac(k1.hits, k1.evals), u(k2.hits), u(k2.evals), frac(k2.hits, k2.evals));
            std::printf("          tied max-pool windows: pool1 %llu of %llu (%.3g; %llu with a nonzero adjoint), pool2 %llu of %llu "
                        "(%.3g; %llu with a nonzero adjoint)\n",
                        u(t1.hits), u(t1.evals), frac(t1.hits, t1.evals), u(t1.live), u(t2.hits), u(t2.evals), frac(t2.hits, t2.evals),
                        u(t2.live));
        }

        auto meta = run;
        meta["policy"] = "relu'(0) = " + o.relu0 + " in every layer, max-pool ties " + o.ties;
        meta["epoch"] = std::to_string(epoch);
        meta["curves"] = io::csv_text(history);
        nn::save_checkpoint(ckpt, net, params, opt, meta);
        io::write_csv(o.out + "/curves.csv", history);
        io::write_training_svg(o.out + "/curves.svg", history, "Fashion-MNIST, CNN, relu'(0) = " + o.relu0 + ", pool ties " + o.ties);
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
    check_output_folder(o.out);
    try {
        auto with_ties = [&]<class R0>(R0) {
            if (o.ties == "last") return train<R0, policy::last>(o);
            if (o.ties == "split") return train<R0, policy::split>(o);
            return train<R0, policy::first>(o);
        };
        return o.relu0 == "one" ? with_ties(policy::one{}) : with_ties(policy::zero{});
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}

// The part of the Fashion-MNIST examples' training driver (fashion_train.hpp) that does not depend
// on the network: the options and their usage text, the output folder (checked, locked, probed for
// room), the stop signals, the data, the curves (CSV and SVG) and the closing summary. It is
// compiled once and linked into every example (examples/meson.build), so that an example's own
// translation unit compiles its network's programs and the training loop only: the I/O code, about
// half of an example's object, is not compiled again for each network.
#include "fashion_train.hpp"

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <kink/io/atomic.hpp>
#include <kink/io/idx.hpp>
#include <kink/io/plot.hpp>
#include <kink/io/safetensors.hpp>
#include <kink/nn/checkpoint.hpp>
#include <kink/nn/train.hpp>

namespace examples::fashion {
using namespace kink;

/// The usage text of an example whose defaults are `d`: the training options every example
/// takes, the example's own option lines `extra` (same layout) before --help, then `notes`.
std::string usage_text(const char *prog, const options &d, const std::string &extra, const std::string &notes) {
    auto g = [](double v) {
        char b[32];
        std::snprintf(b, sizeof b, "%g", v);
        return std::string(b);
    };
    return std::string("usage: ") + prog + " [options]\n" +
           "  --epochs N        epochs to train, 1 to 10000 (default " + std::to_string(d.epochs) + ")\n" +
           "  --batch N         mini-batch size, 1 to 60000 (default " + std::to_string(d.batch) + ")\n" +
           "  --lr X            Adam learning rate, > 0 (default " + g(d.lr) + ")\n" +
           "  --weight-decay X  decoupled weight decay (AdamW, as torch.optim.AdamW: p -= lr X p before each\n"
           "                    update), >= 0 (default " + g(d.weight_decay) + (d.weight_decay == 0 ? ": Adam" : "") + ")\n" +
           "  --augment         shift each training image by up to 2 pixels (zero padded) and mirror it left to\n"
           "                    right with probability 1/2, drawn from the seed, epoch and sample (torchvision's\n"
           "                    RandomCrop(28, padding=2) and RandomHorizontalFlip); --no-augment (default " +
           (d.augment ? "on" : "off") + ")\n" +
           "  --schedule S      learning rate per epoch: cosine (annealed to 0 over the epochs), step (x0.1 every\n"
           "                    4 epochs) or none (default cosine)\n"
           "  --seed N          initialisation and shuffling seed, 0 to 2^62 (default 1)\n" +
           "  --out DIR         folder for checkpoint.safetensors, curves.csv, curves.svg (default " + d.out + ")\n" +
           "  --data DIR        the IDX files (default /usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist)\n"
           "  --resume          continue from DIR/checkpoint.safetensors (bit-identical to an uninterrupted run;\n"
           "                    refused when an option that changes the result differs)\n"
           "  --quick           a smoke run: 512 training and 512 test samples, one epoch\n"
           "  --limit N         use only the first N training and test images\n"
           "  --stop-after N    stop after epoch N (as if interrupted; --resume continues)\n"
           "  --threads N       threads per training and evaluation step, 1 to 1024 (default: every core of this\n"
           "                    machine; more than the cores runs on the cores); the results are the same bytes\n"
           "                    for every N\n"
           "  --max-loss X      a batch's mean training loss above X is divergence, as NaN and infinity are\n"
           "                    (default " + g(d.max_loss) + ", far above any loss of a run that learns; inf: never)\n"
           "  --export-onnx F   after training, write the network in evaluation mode and its parameters as an\n"
           "                    ONNX model (opset 17) to F\n" +
           extra + "  --help            this text\n" + notes +
           "A run whose loss becomes NaN, infinite or larger than --max-loss, or whose parameters become NaN or\n"
           "infinite, stops with status 3 and keeps the last good checkpoint.\n";
}

/// The options every example takes (each adds its policies and its usage lines).
void add_training_options(options_parser &p, options &o) {
    p.integer("--epochs", o.epochs, 1, 10000);
    p.integer("--batch", o.batch, 1, 60000);
    p.number("--lr", o.lr, 0, 1e30);
    p.integer("--seed", o.seed, 0, (1ll << 62));
    p.word("--schedule", o.schedule, {"cosine", "step", "none"});
    p.number("--weight-decay", o.weight_decay, 0, 1e30);
    p.flag("--augment", [&] { o.augment = true; });
    p.flag("--no-augment", [&] { o.augment = false; });
    p.text("--out", o.out);
    p.text("--data", o.data);
    p.flag("--resume", [&] { o.resume = true; });
    p.flag("--count-kinks", [&] { o.count_kinks = true; });
    p.flag("--quick", [&] { o.limit = 512, o.epochs = 1; });
    p.integer("--limit", o.limit, 1, 1 << 30);
    p.integer("--stop-after", o.stop_after, 1, 10000);
    p.integer("--threads", o.threads, 1, 1024);
    p.text("--export-onnx", o.export_onnx);
    p.number("--max-loss", o.max_loss, 0, HUGE_VAL);
}

/// The output folder must take files before an epoch is spent: created, then probed with a file.
void check_output_folder(const char *prog, const std::string &out) {
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    const std::string probe = out + "/.kink-write-test";
    std::FILE *f = ec ? nullptr : std::fopen(probe.c_str(), "w");
    if (!f) {
        std::fprintf(stderr, "%s: --out %s: cannot write there (%s)\n", prog, out.c_str(),
                     ec ? ec.message().c_str() : std::strerror(errno));
        std::exit(2);
    }
    std::fclose(f);
    std::remove(probe.c_str());
    // the files the run writes (and --export-onnx's) must not be folders: found now, not after an epoch
    for (const char *name : {"checkpoint.safetensors", "curves.csv", "curves.svg"}) {
        const std::string path = out + "/" + name;
        if (std::filesystem::is_directory(path, ec)) {
            std::fprintf(stderr, "%s: --out %s: %s is a folder, where the run writes its %s\n", prog, out.c_str(), path.c_str(), name);
            std::exit(2);
        }
    }
}

/// The signal that asked the run to stop (SIGINT, SIGTERM, SIGHUP), 0 while none has.
volatile std::sig_atomic_t stop_signal = 0;
/// The first SIGINT, SIGTERM or SIGHUP asks the run to stop at the next step (the step and any
/// file being written finish); a second one ends the process at once (the default action).
static void on_stop_signal(int sig) {
    stop_signal = sig;
    std::signal(sig, SIG_DFL);
}
void catch_stop_signals() {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, on_stop_signal);
}

/// One run per output folder: an advisory lock (flock) on DIR/.kink-lock, held until the process
/// ends (the kernel drops it then, also when the run is killed). A second run on the folder is
/// refused, naming the holder: two runs writing one folder would each report success while only
/// one's files survive, mixed with the other's.
void lock_output_folder(const char *prog, const std::string &out) {
    const std::string path = out + "/.kink-lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        std::fprintf(stderr, "%s: --out %s: cannot create its lock file %s (%s)\n", prog, out.c_str(), path.c_str(), std::strerror(errno));
        std::exit(2);
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char who[256] = {};
        const ssize_t n = ::pread(fd, who, sizeof who - 1, 0);
        std::fprintf(stderr, "%s: --out %s is in use by another run (%s): two runs writing one folder would mix their files\n", prog,
                     out.c_str(), n > 0 ? who : "holder unknown");
        std::exit(2);
    }
    char host[128] = {};
    ::gethostname(host, sizeof host - 1);
    const std::string me = "pid " + std::to_string(::getpid()) + " on host " + host;
    [[maybe_unused]] const bool named = // the holder's name is a courtesy to the next run: the lock is what counts
        ::ftruncate(fd, 0) == 0 && ::pwrite(fd, me.data(), me.size(), 0) == ssize_t(me.size());
    // fd stays open: the lock lasts as long as the run
}

/// Before the first epoch: room for `bytes` (a checkpoint's size) in the output folder, probed by
/// writing that many bytes (a full disk is found now, not when the first checkpoint is written).
void check_output_space(const char *prog, const std::string &out, std::size_t bytes) {
    const std::string probe = out + "/.kink-space-test";
    std::FILE *f = std::fopen(probe.c_str(), "wb");
    bool ok = f != nullptr;
    const std::vector<char> block(1 << 16, 0);
    for (std::size_t done = 0; ok && done < bytes; done += block.size())
        ok = std::fwrite(block.data(), 1, std::min(block.size(), bytes - done), f) == std::min(block.size(), bytes - done);
    const int err = errno;
    if (f) ok = (std::fclose(f) == 0) && ok;
    std::remove(probe.c_str());
    if (!ok) {
        std::fprintf(stderr, "%s: --out %s: no room for a checkpoint of %zu bytes (%s)\n", prog, out.c_str(), bytes,
                     std::strerror(err ? err : errno));
        std::exit(2);
    }
}

const std::vector<std::string> class_names = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",  "Shirt",   "Sneaker",  "Bag",   "Boot"};


void load_data(const options &o, std::size_t features, const std::string &input_dims, io::labelled_images &train, io::labelled_images &test) {
    train = io::fashion_mnist("train", o.data);
    test = io::fashion_mnist("t10k", o.data);
    // the images must be what the network takes, before anything is trained or written
    for (const io::labelled_images *set : {&train, &test})
        if (set->features != features)
            throw io::format_error("kink: " + set->images + ": images of " + set->dims_text() + " (" + std::to_string(set->features) +
                                   " values), but the network takes " + input_dims + " (" + std::to_string(features) + " values)");
    if (o.limit) {
        train.count = std::min(train.count, o.limit);
        test.count = std::min(test.count, o.limit);
    }
    if (o.augment && train.dims.size() != 2) throw io::format_error("kink: " + train.images + ": --augment needs images of rows x columns");
}

std::map<std::string, std::string> run_identity(const options &o, std::size_t train_samples, std::size_t test_samples) {
    return {{"relu0", o.relu0},
            {"seed", std::to_string(o.seed)},
            {"batch", std::to_string(o.batch)},
            {"schedule", o.schedule},
            {"epochs", std::to_string(o.epochs)},
            {"lr", nn::exact(o.lr)},
            {"weight_decay", nn::exact(o.weight_decay)},
            {"augment", o.augment ? "crop_flip 2" : "none"},
            {"limit", std::to_string(o.limit)},
            {"data", std::filesystem::weakly_canonical(o.data).string()},
            {"train_samples", std::to_string(train_samples)},
            {"test_samples", std::to_string(test_samples)}};
}

int resumed_epochs(const io::safetensors &f, const std::map<std::string, std::string> &run, const options &o, const std::string &ckpt,
                   std::vector<io::epoch_record> &history) {
    auto meta = [&](const std::string &k) { return nn::metadata(f, k, ckpt); };
    for (const auto &[key, value] : run)
        if (meta(key) != value)
            throw io::format_error("kink: " + ckpt + ": written by a run with " + key + " = " + meta(key) + ", this run has " + value +
                                   ": resume with the same options (the result would not be bit for bit)");
    history = io::parse_csv(meta("curves"), ckpt);
    // the checkpoint keeps no timings (the same run writes the same bytes, however long its
    // epochs took); the seconds of the epochs before come from the curves file, if it agrees
    try {
        std::ifstream in(o.out + "/curves.csv", std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto timed = io::parse_csv(text, o.out + "/curves.csv");
        if (timed.size() >= history.size()) {
            timed.resize(history.size());
            auto untimed = timed;
            for (auto &r : untimed) r.seconds = 0;
            if (io::csv_text(untimed) == io::csv_text(history)) history = timed;
        }
    } catch (const io::format_error &) { // no curves file, or another one: those epochs' seconds are 0
    }
    const std::uint64_t done = nn::parse_count(meta("epoch"), "epoch", ckpt);
    if (done < 1 || done > std::uint64_t(o.epochs) || history.size() != done)
        throw io::format_error("kink: " + ckpt + ": metadata 'epoch' is " + meta("epoch") + ", not an epoch of this run's 1.." +
                               std::to_string(o.epochs) + " with " + std::to_string(history.size()) + " recorded");
    return int(done);
}

io::safetensors read_checkpoint(const std::string &path) { return io::read_safetensors(path); }

void write_checkpoint(const std::string &path, const std::vector<io::tensor_out> &tensors, const std::map<std::string, std::string> &metadata) {
    io::write_safetensors(path, tensors, metadata);
}

void write_file(const std::string &path, const std::string &bytes) { io::write_file_atomic(path, {io::bytes_of(bytes)}); }

std::string untimed_curves(std::vector<io::epoch_record> history) {
    for (auto &r : history) r.seconds = 0; // timings go to curves.csv only: the checkpoint's bytes are the run's
    return io::csv_text(history);
}

void write_curves(const options &o, const std::vector<io::epoch_record> &history, const std::string &title) {
    io::write_csv(o.out + "/curves.csv", history);
    io::write_training_svg(o.out + "/curves.svg", history, title);
}

void print_summary(const options &o, const nn::confusion_matrix &cm, const std::string &ckpt) {
    std::printf("confusion matrix on the test set (rows: true class):\n%s", cm.table(class_names).c_str());
    std::printf("wrote %s, %s/curves.csv, %s/curves.svg\n", ckpt.c_str(), o.out.c_str(), o.out.c_str());
}

} // namespace examples::fashion

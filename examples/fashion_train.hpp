#pragma once
// The training driver shared by examples/fashion_mnist.cpp (an MLP) and examples/fashion_cnn.cpp
// (a CNN): data, Adam with a learning-rate schedule, the progress bar, evaluation on the test
// set every epoch, atomic checkpoints that resume bit for bit (and refuse other options), CSV
// and SVG curves, the confusion matrix, and a loud stop when the run diverges. A model supplies
// its loss and logits, its kink counters and its names. Built with MPI, a run under mpirun is
// shared by its ranks (kink/dist/mpi.hpp: each takes its share of every batch; the results are
// the bytes of one process); rank 0 prints and writes the checkpoint and the curves. What does not
// depend on the network is defined in fashion_driver.cpp, compiled once for all the examples.
#include <cmath>
#include <csignal>
#include <cstdio>
#include <algorithm>
#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>


#include <kink/kink.hpp>

#include "options.hpp"

#if KINK_MPI // built with MPI (meson finds it): the run is shared by the ranks of mpirun
#include <kink/dist/mpi.hpp>
#endif
#if __has_include(<protozero/pbf_writer.hpp>) // --export-onnx (Debian's libprotozero-dev)
#include <kink/io/onnx.hpp>
#define KINK_EXAMPLES_ONNX 1
#endif

namespace examples::fashion {
using namespace kink;

struct options {
    int epochs = 10;
    std::size_t batch = 64;
    double lr = 1e-3;
    std::uint64_t seed = 1;
    std::string relu0 = "zero";
    std::string ties = "first"; // fashion_cnn's max-pool tie policy (the MLP has no pooling)
    std::string schedule = "cosine";
    double weight_decay = 0; // AdamW's decoupled weight decay (0: Adam)
    bool augment = false;    // random shifts by up to 2 pixels and mirror images (nn::crop_flip)
    std::string out;
    std::string export_onnx; // write the trained inference program as an ONNX model here
    std::string data = "/usr/share/datasets/fashion-mnist";
    std::size_t limit = 0; // use only the first `limit` training and test samples (0: all)
    bool resume = false;
    int stop_after = 0; // stop after this epoch (0: train all epochs); simulates an interruption
    bool count_kinks = false;
    /// A training loss above this is divergence, as NaN and infinity are (a loss of 3e36 is finite).
    double max_loss = 1000;
    /// Threads per step: every core by default. The result does not depend on it (a step's
    /// gradient is summed in a fixed order), so it is not part of what a resumed run must repeat.
    std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
};

/// The usage text of an example whose defaults are `d`: the training options every example
/// takes, the example's own option lines `extra` (same layout) before --help, then `notes`.
std::string usage_text(const char *prog, const options &d, const std::string &extra, const std::string &notes = "");
/// The options every example takes (each adds its policies and its usage lines).
void add_training_options(options_parser &p, options &o);
/// The output folder must take files before an epoch is spent: created, then probed with a file
/// (exits with status 2 naming the folder otherwise).
void check_output_folder(const char *prog, const std::string &out);
/// One run per output folder: an advisory lock (flock) on DIR/.kink-lock, held until the process
/// ends; a second run on the folder is refused (status 2), naming the holder.
void lock_output_folder(const char *prog, const std::string &out);
/// Before the first epoch: room for `bytes` (a checkpoint's size) in the output folder, probed by
/// writing that many bytes (status 2 otherwise).
void check_output_space(const char *prog, const std::string &out, std::size_t bytes);
/// The signal that asked the run to stop (SIGINT, SIGTERM, SIGHUP), 0 while none has.
extern volatile std::sig_atomic_t stop_signal;
/// From now on, the first SIGINT, SIGTERM or SIGHUP asks the run to stop at the next step (the step
/// and any file being written finish); a second one ends the process at once.
void catch_stop_signals();
/// The training and test sets in o.data, checked against the network's input (`features` values,
/// `input_dims` as text), cut to --limit.
void load_data(const options &o, std::size_t features, const std::string &input_dims, io::labelled_images &train,
               io::labelled_images &test);
/// What decides a run's result, bit for bit: a resumed run must agree on every item (the model
/// adds its own).
std::map<std::string, std::string> run_identity(const options &o, std::size_t train_samples, std::size_t test_samples);
/// A checkpoint's run, checked against this one's `run`: the epochs it finished (returned) and
/// their records in `history` (with the seconds of curves.csv where that file agrees).
int resumed_epochs(const io::safetensors &f, const std::map<std::string, std::string> &run, const options &o, const std::string &ckpt,
                   std::vector<io::epoch_record> &history);
/// The checkpoint file at `path` (io::read_safetensors) and its writing (io::write_safetensors,
/// atomic): the file's encoding does not depend on the network (nn::checkpoint_of and
/// nn::load_checkpoint(file, ...) do the rest).
io::safetensors read_checkpoint(const std::string &path);
void write_checkpoint(const std::string &path, const std::vector<io::tensor_out> &tensors, const std::map<std::string, std::string> &metadata);
/// Writes `bytes` at `path`, atomically (io::write_file_atomic).
void write_file(const std::string &path, const std::string &bytes);
/// The records without their timings, as CSV (what a checkpoint keeps: its bytes are the run's).
std::string untimed_curves(std::vector<io::epoch_record> history);
/// DIR/curves.csv and DIR/curves.svg, each written atomically.
void write_curves(const options &o, const std::vector<io::epoch_record> &history, const std::string &title);
/// The confusion matrix of the last evaluation and the files written.
void print_summary(const options &o, const nn::confusion_matrix &cm, const std::string &ckpt);

#if KINK_MPI
using world_type = kink::mpi::world;
#else
/// Without MPI, a run is a world of one.
struct world_type {
    int rank() const { return 0; }
    int size() const { return 1; }
    int first_failure(bool failed) const { return failed ? 0 : -1; }
};
#endif

template <class Model> int train_ranks(const char *prog, const options &o, const Model &model, const world_type &world);

/// Trains `Model` (the network's loss and logits, its kink counters and its names; see
/// examples/fashion_mnist.cpp and examples/fashion_cnn.cpp) with the options `o`. Under mpirun,
/// a failure ends every rank: one that all ranks meet in the same step (they bound different
/// batches) is said once by rank 0; one of a single rank (a checkpoint it could not write) is said
/// by that rank, with its number, and MPI ends the others, which may be waiting for it in a step.
template <class Model> int train(const char *prog, const options &o, const Model &model) {
    const world_type world;
    try {
        return train_ranks(prog, o, model, world);
    } catch (const std::bad_alloc &e) { // the library's message says how much; the options set it
        const std::string m = std::string(e.what()) + " (--batch " + std::to_string(o.batch) + ", --threads " +
                              std::to_string(o.threads) + ")";
#if KINK_MPI
        if (world.size() > 1) world.abort(m);
#endif
        std::fprintf(stderr, "%s\n", m.c_str());
        return 1;
#if KINK_MPI
    } catch (const kink::mpi::collective_error &e) { // every rank has it: rank 0 says it
        if (world.rank() == 0) std::fprintf(stderr, "%s\n", e.what());
        return 1;
    } catch (const std::exception &e) {
        if (world.size() > 1) world.abort(e.what());
        throw;
#endif
    }
}

template <class Model> int train_ranks(const char *prog, const options &o, const Model &model, const world_type &world) {
    const bool lead = world.rank() == 0; // prints and writes
    if (lead) lock_output_folder(prog, o.out);
    catch_stop_signals(); // under mpirun, the ranks agree on the step to stop at (below)
    // the other ranks' progress goes nowhere
    std::FILE *out = lead ? stdout : std::fopen("/dev/null", "w");
    if (!out) out = stdout;
    const auto logits = Model::logits;
    const auto loss = Model::loss;
    constexpr auto x = Model::x;
    constexpr auto y = Model::y;
    auto net = compile(loss);
    auto predict = compile_forward(eval_mode(logits)); // evaluation: forward only, no adjoints, no labels
    Model::configure(net, o); // runtime constants from the options (relu'(0))
    net.seed(o.seed);         // random draws (dropout), if the model has any
    // more threads than cores only wait for each other (1024 on 2 cores ran ~1000x slower): the
    // cores' count instead, which gives the same bytes
    const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    const std::size_t threads = std::min(o.threads, cores);
    if (o.threads > cores && lead)
        std::fprintf(stderr, "%s: --threads %zu is more than this machine's %zu core%s: running on %zu (the results are the same bytes)\n", prog,
                     o.threads, cores, cores == 1 ? "" : "s", threads);
    net.threads(threads);
    predict.threads(threads);
    using store = typename decltype(net)::params_type;

    const std::string ckpt = o.out + "/checkpoint.safetensors";
    if (lead) // parameters and Adam's two moments, in float, and their headers
        check_output_space(prog, o.out, 3 * store::offsets[store::count] * sizeof(float) + (1 << 16));
    io::labelled_images train_set, test_set;
    store params, grads;
    nn::adam<float> opt;
    int first_epoch = 1;
    std::vector<io::epoch_record> history;
    // what decides the result, bit for bit: a resumed run must agree on every item
    std::map<std::string, std::string> run;
    // Every rank reads the data and, resuming, the checkpoint. Whatever refuses the run (a missing
    // file, images of another size, a checkpoint of another run) is found before the first step,
    // and under mpirun the ranks agree on it: all stop, and the lowest rank that failed says why,
    // once.
    std::string refused;
    bool complete = false; // a resumed run that has nothing left to train
    try {
        using input_shape = shape_of_t<graph_t<std::remove_cvref_t<decltype(x)>>>;
        std::string dims;
        for (std::size_t k = 0; k < input_shape::rank; ++k) dims += (k ? " x " : "") + std::to_string(input_shape::dims[k]);
        load_data(o, input_shape::size, dims, train_set, test_set);
        opt.lr = float(o.lr);
        if (o.weight_decay != 0) { // AdamW (torch.optim.AdamW): p -= lr wd p before each update
            opt.decoupled = true;
            opt.weight_decay = float(o.weight_decay);
        }
        run = run_identity(o, train_set.count, test_set.count);
        for (const auto &[key, value] : model.run_keys(o)) run[key] = value; // the model's own options
        if (o.resume) {
            const io::safetensors f = read_checkpoint(ckpt);
            nn::load_checkpoint(f, ckpt, net, params, opt);
            first_epoch = resumed_epochs(f, run, o, ckpt, history) + 1;
            complete = first_epoch > o.epochs;
        } else {
            nn::init_uniform_fan_in(net, params, o.seed);
        }
    } catch (const std::bad_alloc &) {
        refused = "kink: out of memory reading the images in " + o.data + (o.resume ? " and " + ckpt : std::string());
    } catch (const std::exception &e) {
        refused = e.what();
    }
    if (const int first = world.first_failure(!refused.empty()); first >= 0) {
        if (world.rank() == first) {
            if (world.size() > 1) std::fprintf(stderr, "%s (rank %d of %d; every rank stops)\n", refused.c_str(), first, world.size());
            else std::fprintf(stderr, "%s\n", refused.c_str());
        }
        return 1;
    }
    if (complete) { // nothing left to train: say so, with the recorded result
        double seconds = 0;
        for (const auto &r : history) seconds += r.seconds;
        if (lead)
            std::printf("the run in %s is complete (%d of %d epochs); its last test accuracy was %.4f\ntest_accuracy=%.4f train_seconds=%.2f\n",
                        o.out.c_str(), int(history.size()), o.epochs, history.back().test_accuracy, history.back().test_accuracy, seconds);
        return 0;
    }
    if (o.resume) std::fprintf(out, "resumed from %s after epoch %d\n", ckpt.c_str(), first_epoch - 1);
    using input_shape = shape_of_t<graph_t<std::remove_cvref_t<decltype(x)>>>;
    constexpr std::size_t features = input_shape::size;
    const std::span<const float> tx(train_set.x.data(), train_set.count * features), vx(test_set.x.data(), test_set.count * features);
    const std::span<const std::int32_t> ty(train_set.y.data(), train_set.count), vy(test_set.y.data(), test_set.count);

    // the formula, or the model's own summary of a network whose formula is long (a ResNet's)
    const std::string network = [&] {
        if constexpr (requires { Model::network(); }) return std::string(Model::network());
        else return to_text(loss);
    }();
    char optimizer[64] = "Adam";
    if (o.weight_decay != 0) std::snprintf(optimizer, sizeof optimizer, "AdamW (weight decay %g),", o.weight_decay);
    std::fprintf(out, "network: %s\n%s, %s lr %g (%s schedule), batch %zu%s, %zu training / %zu test images, kernels %s, %zu thread%s\n",
                network.c_str(), model.policy(o).c_str(), optimizer, o.lr, o.schedule.c_str(), o.batch,
                o.augment ? ", shifts and mirror images" : "", train_set.count, test_set.count, gemm::isa.data(), threads,
                threads == 1 ? "" : "s");
    if (world.size() > 1) std::fprintf(out, "MPI: %d ranks share every batch, %zu thread%s each\n", world.size(), threads, threads == 1 ? "" : "s");

    nn::batcher batches(tx, ty, features, o.batch, o.seed);
    if (o.augment) { // the images as the files give them (rows x columns), one channel
        batches.augment(nn::crop_flip{.channels = 1, .height = train_set.dims[0], .width = train_set.dims[1], .pad = 2, .flip = true});
    }
    // the test set in batches of 256: the forward program holds every node's values for a batch
    // (about 1.5 MB a sample for the ResNet: 1.8 GB of peak memory at 1000), and a sample's
    // logits do not depend on the batch it is in
    nn::batcher test_batches(vx, vy, features, 256, 0);
    nn::progress_bar bar(o.epochs, out);
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
#if KINK_MPI
            const float l = kink::mpi::step(world, net, params, grads, x = batches.x(n), y = batches.y(n));
            // net.value holds this rank's samples: their correct predictions, summed over the ranks
            // and whether a rank was asked to stop (mpirun passes SIGINT/SIGTERM to every rank, not
            // all at the same step): one sum, so every rank stops after the same step
            const auto [s0, s1] = net.share_samples();
            std::int64_t shared[2] = {
                std::int64_t(nn::count_correct(net.value(logits).subspan(s0 * 10, (s1 - s0) * 10), batches.y(n).subspan(s0, s1 - s0), 10)),
                stop_signal != 0};
            world.sum(shared, 2);
            const auto correct = std::size_t(shared[0]);
            const bool stop_now = shared[1] > 0;
#else
            const float l = net.step(params, grads, x = batches.x(n), y = batches.y(n));
            const std::size_t correct = nn::count_correct(net.value(logits), batches.y(n), 10);
            const bool stop_now = stop_signal != 0;
#endif
            if (!std::isfinite(l) || l > o.max_loss) {
                bar.end_epoch("");
                char what[96];
                if (std::isfinite(l)) std::snprintf(what, sizeof what, "%g, above --max-loss %g,", double(l), o.max_loss);
                else std::snprintf(what, sizeof what, "%s", std::isnan(l) ? "NaN" : "infinite");
                if (lead) std::fprintf(stderr,
                             "%s: the training loss became %s at epoch %d, batch %zu (learning rate %g): the run "
                             "diverged; %s is left as it was%s\n",
                             prog, what, epoch, b, o.lr, ckpt.c_str(), epoch > 1 ? " after the last good epoch" : "");
                return 3;
            }
            opt.step(params, grads, net); // on the program's threads
            bar.batch(b, n, l, correct);
            if (stop_now) {
                bar.end_epoch("");
                const bool have = std::filesystem::exists(ckpt);
                const int sig = stop_signal ? int(stop_signal) : SIGTERM; // this rank's, or another rank's
                if (lead)
                    std::fprintf(stderr, "%s: stopped by %s in epoch %d after batch %zu; %s%s\n", prog,
                                 !stop_signal ? "a signal to another rank" : sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP",
                                 epoch, b, have ? ckpt.c_str() : "no epoch had finished: nothing was saved",
                                 have ? " holds the last finished epoch (--resume continues from it)" : "");
                return 128 + sig;
            }
        }
        if (!std::all_of(params.flat().begin(), params.flat().end(), [](float v) { return std::isfinite(v); })) {
            if (lead) std::fprintf(stderr, "%s: a parameter became NaN or infinite in epoch %d: the run diverged; %s is left as it was\n", prog,
                         epoch, ckpt.c_str());
            return 3;
        }
        const double secs = bar.seconds();
        train_seconds += secs;
        const auto counts = model.counts(); // training steps only: evaluation runs its own program
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
        if (o.count_kinks && lead) model.print_counts(counts); // under MPI: rank 0's share of the batches
        if (!lead) continue;

        auto meta = run;
        meta["policy"] = model.policy(o);
        meta["epoch"] = std::to_string(epoch);
        meta["curves"] = untimed_curves(history);
        const auto contents = nn::checkpoint_of(net, params, opt, meta);
        write_checkpoint(ckpt, contents.tensors, contents.metadata);
        write_curves(o, history, "Fashion-MNIST, " + model.title() + ", " + model.policy(o));
    }
    if (!lead) {
        std::fclose(out);
        return 0;
    }
    if (!o.export_onnx.empty()) {
#if KINK_EXAMPLES_ONNX
        write_file(o.export_onnx, onnx::model_bytes(predict, params));
        std::printf("wrote %s (ONNX, input '%s' of shape [N, ...], output 'output')\n", o.export_onnx.c_str(), std::string(graph_t<std::remove_cvref_t<decltype(x)>>::name()).c_str());
#else
        std::fprintf(stderr, "%s: --export-onnx: built without protozero (Debian's libprotozero-dev), which writes ONNX\n", prog);
        return 2;
#endif
    }
    if (!history.empty()) print_summary(o, last_cm, ckpt);
    std::printf("test_accuracy=%.4f train_seconds=%.2f\n", last_accuracy, train_seconds);
    return 0;
}

} // namespace examples::fashion

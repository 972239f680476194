// Fashion-MNIST with a convolutional network: conv 5x5 (16) - relu - max-pool 2 - conv 5x5 (32) -
// relu - max-pool 2 - dense 128 - relu - dense 10, trained with Adam by one compiled step,
// evaluated on the test set every epoch, checkpointed (safetensors, atomic), with a CSV and an
// SVG of the training curves next to the checkpoint. relu'(0) and the max-pool tie policy are
// options; `--count-kinks` prints per layer how many relu inputs were exactly 0 and how many
// pooling windows had a tied maximum (and how many of those had a nonzero adjoint, where the
// tie policy changed a gradient). `--help` for the options.
// The last line is `test_accuracy=0.xxxx train_seconds=...`.
#include <array>
#include <cstdint>
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
    o.out = "fashion-cnn-run";
    // the example's own options, after the training options every example takes
    const std::string own = "  --relu0 P         relu'(0) in every layer: zero (PyTorch's) or one (default zero)\n"
                            "  --pool-ties P     how a 2 x 2 max-pool window with a tied maximum shares its gradient: first (all to the\n"
                            "                    first in scan order: PyTorch, TensorFlow, JAX), last, or split (1/k to each of k) (default first)\n"
                            "  --count-kinks     print, per epoch and layer, the relu inputs exactly 0 (relu'(0) was used) and the\n"
                            "                    pooling windows with a tied maximum (and those whose adjoint was nonzero)\n";
    examples::options_parser p("fashion_cnn", examples::fashion::usage_text("fashion_cnn", o, own));
    examples::fashion::add_training_options(p, o);
    p.word("--relu0", o.relu0, {"zero", "one"});
    p.word("--pool-ties", o.ties, {"first", "last", "split"});
    p.parse(argc, argv);
    return o;
}

/// The CNN with relu'(0) = c and the max-pool tie rule read at run time (policy::runtime: one
/// program serves every --relu0 and --pool-ties), both counted (count<P> behaves as P:
/// --count-kinks needs no second program).
struct cnn {
    using R = policy::count<policy::runtime<"relu0">>;
    using T = policy::count<policy::runtime<"ties">>;
    static constexpr auto loss = nets::fashion_cnn::loss<R, T>();
    static constexpr auto logits = nets::fashion_cnn::logits<R, T>();
    static constexpr auto x = nets::fashion_cnn::x;
    static constexpr auto y = nets::fashion_cnn::y;
    static auto counts() {
        using namespace nets::fashion_cnn;
        return std::array{kink_hits(act1<R>()), kink_hits(pool1<R, T>()), kink_hits(act2<R, T>()), kink_hits(pool2<R, T>())};
    }
    static void print_counts(const std::array<kink_count, 4> &k) {
        auto u = [](std::uint64_t v) { return (unsigned long long)v; };
        auto frac = [](std::uint64_t a, std::uint64_t b) { return b ? double(a) / double(b) : 0.0; };
        std::printf("          relu inputs exactly 0: conv1 %llu of %llu (%.3g), conv2 %llu of %llu (%.3g)\n", u(k[0].hits), u(k[0].evals),
                    frac(k[0].hits, k[0].evals), u(k[2].hits), u(k[2].evals), frac(k[2].hits, k[2].evals));
        std::printf("          tied max-pool windows: pool1 %llu of %llu (%.3g; %llu with a nonzero adjoint), pool2 %llu of %llu "
                    "(%.3g; %llu with a nonzero adjoint)\n",
                    u(k[1].hits), u(k[1].evals), frac(k[1].hits, k[1].evals), u(k[1].live), u(k[3].hits), u(k[3].evals),
                    frac(k[3].hits, k[3].evals), u(k[3].live));
    }
    static std::string policy(const options &o) { return "relu'(0) = " + o.relu0 + " in every layer, max-pool ties " + o.ties; }
    static std::string title() { return "CNN"; }
    /// What decides the result besides the shared options: a resumed run must agree.
    static std::map<std::string, std::string> run_keys(const options &o) { return {{"pool_ties", o.ties}}; }
    /// relu'(0) of the compiled program: zero 0, one 1 (policy zero's and one's values, bit for
    /// bit), and its tie rule (ties::first, last, split: those policies' kernels).
    template <class Net> static void configure(Net &net, const options &o) {
        net.template constant<"relu0">(o.relu0 == "one" ? 1.0 : 0.0);
        net.template constant<"ties">(o.ties == "last" ? ties::last : o.ties == "split" ? ties::split : ties::first);
    }
};

} // namespace

int main(int argc, char **argv) {
    const options o = parse(argc, argv);
    examples::fashion::check_output_folder("fashion_cnn", o.out);
    try {
        return examples::fashion::train("fashion_cnn", o, cnn{});
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}

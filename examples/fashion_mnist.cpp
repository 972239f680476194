// Fashion-MNIST end to end: an MLP 784-256-128-10 with ReLU, trained with Adam by one compiled
// step, evaluated on the test set every epoch, checkpointed (safetensors, atomic), with a CSV
// and an SVG of the training curves next to the checkpoint. `--help` for the options.
// The last line is `test_accuracy=0.xxxx train_seconds=...`.
#include <array>
#include <cstdio>
#include <map>
#include <string>
#include <type_traits>

#include <kink/kink.hpp>

#include "fashion_train.hpp"
#include "networks.hpp"
#include "options.hpp"

using namespace kink;
using examples::fashion::options;

namespace {

options parse(int argc, char **argv) {
    options o;
    o.out = "fashion-mnist-run";
    // the example's own options, after the training options every example takes
    const std::string own = "  --relu0 P         relu'(0) in both hidden layers: zero (PyTorch's), one or half (default zero)\n"
                            "  --count-kinks     count, per epoch and layer, the relu inputs exactly 0 (relu'(0) was used)\n";
    examples::options_parser p("fashion_mnist", examples::fashion::usage_text("fashion_mnist", o, own));
    examples::fashion::add_training_options(p, o);
    p.word("--relu0", o.relu0, {"zero", "one", "half"});
    p.parse(argc, argv);
    return o;
}

/// The MLP with relu'(0) = c in both hidden layers, c read at run time (policy::runtime: one
/// program serves every --relu0), counted (count<P> behaves as P, and counting costs no measurable
/// time here: --count-kinks needs no second program).
struct mlp {
    using P = policy::count<policy::runtime<"relu0">>;
    static constexpr auto loss = nets::fashion::loss<P>();
    static constexpr auto logits = nets::fashion::logits<P>();
    static constexpr auto x = nets::fashion::x;
    static constexpr auto y = nets::fashion::y;
    static auto counts() {
        return std::array{kink_hits(nets::fashion::hidden1<P>()), kink_hits(nets::fashion::hidden2<P>())};
    }
    static void print_counts(const std::array<kink_count, 2> &k) {
        std::printf("          relu inputs exactly 0: layer 1 %llu of %llu (%.3g), layer 2 %llu of %llu (%.3g)\n",
                    (unsigned long long)k[0].hits, (unsigned long long)k[0].evals, double(k[0].hits) / double(k[0].evals),
                    (unsigned long long)k[1].hits, (unsigned long long)k[1].evals, double(k[1].hits) / double(k[1].evals));
    }
    static std::string policy(const options &o) { return "relu'(0) = " + o.relu0 + " in both hidden layers"; }
    static std::string title() { return "MLP 784-256-128-10"; }
    static std::map<std::string, std::string> run_keys(const options &) { return {}; }
    /// relu'(0) of the compiled program: zero 0, one 1, half 1/2 (the values of the policies of
    /// those names at relu's kink, bit for bit).
    template <class Net> static void configure(Net &net, const options &o) {
        net.template constant<"relu0">(o.relu0 == "one" ? 1.0 : o.relu0 == "half" ? 0.5 : 0.0);
    }
};

} // namespace

int main(int argc, char **argv) {
    const options o = parse(argc, argv);
    examples::fashion::check_output_folder("fashion_mnist", o.out);
    try {
        return examples::fashion::train("fashion_mnist", o, mlp{});
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}

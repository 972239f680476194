// Prints a normalisation's forward values and the gradients of its affine form, for
// tests/torch_norm.py to compare with torch on the same numbers:
//   loss = mean over the batch of sum(r * (g * norm(x) + b)), r a fixed upstream weight.
// `norm_values layer_norm`: layer_norm(x) over each sample (F.layer_norm), a batch of 3.
// `norm_values batch_norm`: a batch normalisation written with batch_mean, training mode
//   (F.batch_norm(training=True)): (x - batch_mean(x)) / sqrt(batch_mean((x - batch_mean(x))^2)
//   + 1e-5); a batch of 37 in chunks of 4 on 3 threads, so the statistics come from 10 chunks.
// `norm_values batch_norm2d`: the same of [3, 4, 5] images, per channel (BatchNorm2d's
//   statistics, the channel means broadcast over the positions); a batch of 7 in chunks of 2.
// Lines: "x", "r", "g", "b" (the inputs), "y" (g * norm(x) + b), "dx", "dg", "db".
#include <kink/kink.hpp>

#include <span>
#include <string>
#include <string_view>
#include <vector>

using namespace kink;

namespace {
void line(const char *name, const auto &v) {
    fmt::print("{}", name);
    for (const double e : v) fmt::print(" {:.17g}", e);
    fmt::print("\n");
}
template <std::size_t n, class X, class Y, class G, class B, class Net>
void run(Net net, std::size_t batch, const X &x, const Y &y, const G &g, const B &b, const auto &r) {
    auto p = net.make_params(), gr = net.make_params();
    std::vector<double> xs(batch * n), rs(batch * n);
    for (std::size_t k = 0; k < xs.size(); ++k) {
        xs[k] = double((k * 37) % 11) - 4.5 + 0.125 * double(k % 3) + 2.0 * double(k % n);
        rs[k] = 0.5 - double((k * 13) % 7) / 7.0;
    }
    for (std::size_t j = 0; j < p[g].size(); ++j) p[g][j] = 0.75 + 0.125 * double(j), p[b][j] = 0.1 * double(j) - 0.3;
    net.step(p, gr, x = std::span<const double>(xs), r = std::span<const double>(rs));
    line("x", xs);
    line("r", rs);
    line("g", p[g]);
    line("b", p[b]);
    line("y", net.value(y));
    line("dx", net.input_grad(x));
    line("dg", gr[g]);
    line("db", gr[b]);
}
/// nn::batch_norm<"bn"> on values of shape S: three training steps on three batches (of 6, 9
/// and 4 samples, chunks of 4, 2 threads), each followed by its values and gradients, then the
/// running statistics and the evaluation-mode values of a fourth batch. Lines per step k: "xk",
/// "yk", "dxk", "dgk", "dbk"; then "rm", "rv", "xe", "ye"; and "g", "b", "r".
template <class S> void layer() {
    constexpr auto x = []<std::size_t... D>(shape<D...>) { return input<"x", D...>; }(S{});
    constexpr auto r = []<std::size_t... D>(shape<D...>) { return input<"r", D...>; }(S{});
    constexpr auto y = nn::batch_norm<"bn">(x);
    constexpr auto loss = sum(flatten(hadamard(r, y)));
    auto net = compile<double, exec_options{.chunk = 4}>(loss, param_from<"bn.weight", 1, S::dims[0]>, param_from<"bn.bias", 0, S::dims[0]>, x);
    net.threads(2);
    auto p = net.make_params(), gr = net.make_params();
    for (std::size_t j = 0; j < S::dims[0]; ++j) p.flat()[j] = 0.75 + 0.125 * double(j), p.flat()[16 + j] = 0.1 * double(j) - 0.3;
    line("g", p.flat().subspan(0, S::dims[0]));
    line("b", p.flat().subspan(16, S::dims[0]));
    std::size_t seed = 1;
    auto batch = [&](std::size_t n) {
        std::vector<double> v(n * S::size);
        for (auto &e : v) {
            const std::size_t k = seed++;
            e = double((k * 37) % 23) / 4.0 - 2.0 + 0.5 * double(k % 7);
        }
        return v;
    };
    const std::size_t sizes[] = {6, 9, 4};
    for (std::size_t k = 0; k < 3; ++k) {
        const auto xs = batch(sizes[k]), rs = batch(sizes[k]);
        net.step(p, gr, x = std::span<const double>(xs), r = std::span<const double>(rs));
        const std::string n = std::to_string(k);
        line(("x" + n).c_str(), xs);
        line(("r" + n).c_str(), rs);
        line(("y" + n).c_str(), net.value(y));
        line(("dx" + n).c_str(), net.input_grad(x));
        line(("dg" + n).c_str(), gr.flat().subspan(0, S::dims[0]));
        line(("db" + n).c_str(), gr.flat().subspan(16, S::dims[0]));
    }
    using store = decltype(p);
    line("rm", p.flat().subspan(store::offsets[2], S::dims[0]));
    line("rv", p.flat().subspan(store::offsets[3], S::dims[0]));
    auto infer = compile_forward<double>(eval_mode(y));
    const auto xe = batch(3);
    line("xe", xe);
    line("ye", infer(p, x = std::span<const double>(xe)));
}
} // namespace

int main(int argc, char **argv) {
    const std::string_view kind = argc > 1 ? argv[1] : "";
    if (kind == "layer_norm") {
        constexpr std::size_t n = 7;
        constexpr auto x = input<"x", n>;
        constexpr auto r = input<"r", n>;
        constexpr auto g = param<"g", n>;
        constexpr auto b = param<"b", n>;
        constexpr auto y = hadamard(g, layer_norm(x)) + b;
        run<n>(compile<double>(sum(hadamard(r, y)), g, b, x), 3, x, y, g, b, r);
    } else if (kind == "batch_norm") {
        constexpr std::size_t n = 5;
        constexpr auto x = input<"x", n>;
        constexpr auto r = input<"r", n>;
        constexpr auto g = param<"g", n>;
        constexpr auto b = param<"b", n>;
        constexpr auto c = x - batch_mean(x);
        constexpr auto y = hadamard(g, c / sqrt(batch_mean(hadamard(c, c)) + lit<1, 100000>)) + b;
        auto net = compile<double, exec_options{.chunk = 4}>(sum(hadamard(r, y)), g, b, x);
        net.threads(3);
        run<n>(std::move(net), 37, x, y, g, b, r);
    } else if (kind == "batch_norm2d") {
        constexpr std::size_t C = 3, H = 4, W = 5, n = C * H * W;
        constexpr auto x = input<"x", C, H, W>;
        constexpr auto r = input<"r", C, H, W>;
        constexpr auto g = param<"g", C>;
        constexpr auto b = param<"b", C>;
        constexpr auto c = x - batch_mean(x);
        constexpr auto y = hadamard(g, c / sqrt(batch_mean(hadamard(c, c)) + lit<1, 100000>)) + b;
        auto net = compile<double, exec_options{.chunk = 2}>(sum(flatten(hadamard(r, y))), g, b, x);
        net.threads(2);
        run<n>(std::move(net), 7, x, y, g, b, r);
    } else if (kind == "batch_norm_layer" || kind == "batch_norm_layer2d") {
        if (kind == "batch_norm_layer") layer<shape<5>>();
        else layer<shape<3, 4, 5>>();
    } else {
        fmt::print(stderr, "usage: norm_values layer_norm|batch_norm|batch_norm2d|batch_norm_layer|batch_norm_layer2d\n");
        return 2;
    }
}

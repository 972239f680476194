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
    } else {
        fmt::print(stderr, "usage: norm_values layer_norm|batch_norm|batch_norm2d\n");
        return 2;
    }
}

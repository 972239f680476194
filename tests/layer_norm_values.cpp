// Prints layer_norm's forward values and the gradients of an affine layer norm, for
// tests/torch_layer_norm.py to compare with torch's F.layer_norm on the same numbers:
//   loss = sum over the batch of sum(r * (g * layer_norm(x) + b)), r a fixed upstream weight.
// Lines: "x", "r", "g", "b" (the inputs), "y" (g * layer_norm(x) + b), "dx", "dg", "db".
#include <kink/kink.hpp>

#include <vector>

using namespace kink;

namespace {
constexpr std::size_t n = 7, batch = 3;
constexpr auto x = input<"x", n>;
constexpr auto r = input<"r", n>;
constexpr auto g = param<"g", n>;
constexpr auto b = param<"b", n>;
void line(const char *name, const auto &v) {
    fmt::print("{}", name);
    for (const double e : v) fmt::print(" {:.17g}", e);
    fmt::print("\n");
}
} // namespace

int main() {
    const auto y = hadamard(g, layer_norm(x)) + b;
    auto net = compile<double>(sum(hadamard(r, y)), g, b, x);
    auto p = net.make_params(), gr = net.make_params();
    std::vector<double> xs(batch * n), rs(batch * n);
    for (std::size_t k = 0; k < xs.size(); ++k) {
        xs[k] = double((k * 37) % 11) - 4.5 + 0.125 * double(k % 3);
        rs[k] = 0.5 - double((k * 13) % 7) / 7.0;
    }
    for (std::size_t j = 0; j < n; ++j) p[g][j] = 0.75 + 0.125 * double(j), p[b][j] = 0.1 * double(j) - 0.3;
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

// The compile-time guard: one training step of a 32-block residual MLP (h + dense(tanh(dense(h))),
// 40 wide, 327 nodes) in double, in one translation unit. Its build time is what the suite
// watches (meson's log; bench/compile_time.sh sweeps depth): a change that makes a program's
// compile cost grow faster than its depth shows here first. 40 wide puts every product above the
// size whose epilogue dense compiles into a kernel of its own, so the cost measured is the
// graph's, not that of 64 GEMM kernels. The run checks the step against central finite
// differences for the first and the last block's parameters, so the deep program is also a
// correct one.
#include <kink/kink.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <span>
#include <vector>

using namespace kink;

namespace {
constexpr int depth = 32;
template <int I, char L> constexpr fixed_string<5> layer_name{{char('0' + I / 10), char('0' + I % 10), '.', L, 0}};
template <int I> constexpr auto block(const expression auto &h) {
    return h + nn::dense<layer_name<I, 'b'>, 40>(tanh(nn::dense<layer_name<I, 'a'>, 40>(h)));
}
template <int N> constexpr auto blocks(const expression auto &h) {
    if constexpr (N == 0) return h;
    else return block<N>(blocks<N - 1>(h));
}
constexpr auto x = input<"x", 40>;
constexpr auto y = label<"y", 4>;
} // namespace

int main() {
    const auto loss = softmax_cross_entropy(nn::dense<"head", 4>(blocks<depth>(x)), y);
    static_assert(node_count_v<graph_t<decltype(loss)>> == 10 * depth + 7, "the graph's node count");
    auto net = compile<double>(loss);
    auto p = net.make_params(), g = net.make_params();
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> uni(-0.3, 0.3);
    for (double &v : p.flat()) v = uni(rng);
    constexpr std::size_t batch = 5;
    std::vector<double> xv(batch * 40);
    for (double &v : xv) v = 3 * uni(rng);
    const std::vector<std::int32_t> yv{0, 3, 1, 2, 1};
    const auto bound = [&](auto &prog, auto &params, auto &grads) {
        return prog.step(params, grads, x = std::span<const double>(xv), y = std::span<const std::int32_t>(yv));
    };
    const double l = bound(net, p, g);
    // central differences: truncation h^2 |f'''| / 6 ~ 1e-13, rounding eps |f| / h ~ 1e-10
    constexpr double h = 1e-6, tol = 1e-7;
    int bad = 0, checked = 0;
    const auto check = [&](std::span<double> param, std::span<const double> grad, const char *name) {
        for (std::size_t k = 0; k < param.size(); k += 97) {
            const double keep = param[k];
            auto n2 = net;
            auto g2 = n2.make_params();
            param[k] = keep + h;
            const double up = bound(n2, p, g2);
            param[k] = keep - h;
            const double down = bound(n2, p, g2);
            param[k] = keep;
            const double fd = (up - down) / (2 * h);
            ++checked;
            if (!(std::fabs(fd - grad[k]) <= tol)) {
                std::printf("%s[%zu]: step %.12g, central difference %.12g\n", name, k, grad[k], fd);
                ++bad;
            }
        }
    };
    check(p[param<"01.a.weight", 40, 40>], g[param<"01.a.weight", 40, 40>], "01.a.weight");
    check(p[param<"32.b.weight", 40, 40>], g[param<"32.b.weight", 40, 40>], "32.b.weight");
    check(p[param<"32.b.bias", 40>], g[param<"32.b.bias", 40>], "32.b.bias");
    std::printf("deep program: %zu nodes, loss %.6f, %d of %d gradient entries off\n", node_count_v<graph_t<decltype(loss)>>, l, bad,
                checked);
    return std::isfinite(l) && bad == 0 && checked > 0 ? 0 : 1;
}

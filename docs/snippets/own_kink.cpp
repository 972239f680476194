// bent, a kinked op of this user's own (docs/snippets/bent.hpp), under every policy: counted,
// trapped, printed, differentiated twice, and in a compiled training step.
#include "bent.hpp"

int main() {
    using namespace kink;
    using my::bent;
    constexpr auto x = var<"x">;
    fmt::print("bent'(0): left {}, right {}, half {}, zero {}, one {}, the default (PyTorch's preset) {}\n",
               eval(grad(bent<policy::left>(x), x), x = 0.0), eval(grad(bent<policy::right>(x), x), x = 0.0),
               eval(grad(bent<policy::half>(x), x), x = 0.0), eval(grad(bent<policy::zero>(x), x), x = 0.0),
               eval(grad(bent<policy::one>(x), x), x = 0.0), eval(grad(bent(x), x), x = 0.0));
    fmt::print("d/dx bent<half>(x) = {}\n", to_text(grad(bent<policy::half>(x), x)));
    fmt::print("d2/dx2 bent(x) at 1: {}\n", eval(grad(grad(bent(x), x), x), x = 1.0));
    constexpr auto counted = bent<policy::count<policy::half>>(x);
    for (double v : {-1.0, 0.0, 0.0, 3.0}) (void)eval(counted, x = v);
    fmt::print("count<half>: {} of {} evaluations were exactly on the kink\n", kink_hits(counted).hits, kink_hits(counted).evals);
    try {
        (void)eval(grad(bent<policy::trap>(x), x), x = 0.0);
    } catch (const kink_error &e) {
        fmt::print("trap: {}\n", e.what());
    }
    // in a compiled training step: the gradient of sum(bent<left>(W v)) at a sample on the kink
    constexpr auto v = input<"v", 2>;
    constexpr auto W = param<"W", 2, 2>;
    auto net = compile(sum(bent<policy::left>(W * v)));
    auto p = net.make_params(), g = net.make_params();
    const float w[] = {1, -1, 2, 0}, in[] = {3, 3}; // W v = (0, 6): the first row on the kink (left: 1), the second not (2)
    std::copy(std::begin(w), std::end(w), p[W].begin());
    net.step(p, g, v = std::span<const float>(in));
    fmt::print("compiled step, dW = [{}, {}; {}, {}]\n", g[W][0], g[W][1], g[W][2], g[W][3]);
}

// Prints every activation's value and derivative on a grid of points, one "name x f df" line
// each, for tests/torch_activations.py to compare with torch's forward and backward there.
#include <kink/kink.hpp>

#include <vector>

using namespace kink;

namespace {
constexpr auto x = var<"x">;
template <class F> void show(const char *name, const F &f, const std::vector<double> &at) {
    for (const double a : at) {
        const auto r = value_and_grad(f, wrt(x), x = a);
        fmt::print("{} {:.17g} {:.17g} {:.17g}\n", name, a, r.value, r[x]);
    }
}
} // namespace

int main() {
    std::vector<double> at;
    for (int i = -40; i <= 40; ++i) at.push_back(i * 0.1537); // +-6.1, no point on a kink
    for (const double a : {-40.0, -20.0, -9.5, -1e-3, -1e-9, 1e-9, 1e-3, 9.5, 20.0, 40.0}) at.push_back(a);
    show("silu", silu(x), at);
    show("gelu", gelu(x), at);
    show("gelu_tanh", gelu_tanh(x), at);
    show("mish", mish(x), at);
    show("softsign", softsign(x), at);
    show("elu(0.5)", elu(x, 0.5_c), at);
    show("selu", selu(x), at);
    show("celu(0.5)", celu(x, 0.5_c), at);
    show("hardsigmoid", hardsigmoid(x), at);
    show("hardswish", hardswish(x), at);
    show("softshrink(0.5)", softshrink(x, 0.5_c), at);
    show("hardshrink(0.5)", hardshrink(x, 0.5_c), at);
    show("threshold(0.5,2)", threshold(x, 0.5_c, 2_c), at);
}

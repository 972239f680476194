// Prints kink's derivative at every kink under the pytorch preset, one "case value" line each,
// for tests/torch_check.py to compare with torch 1.13's backward at the same points.
#include <kink/kink.hpp>

#include <array>
#include <limits>

using namespace kink;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;
constexpr auto z = var<"z">;
template <class F> void one(const char *name, const F &f, double at) {
    try {
        fmt::print("{} {}\n", name, eval(grad(with_policy<policy::pytorch>(f), x), x = at));
    } catch (const kink_error &) {
        fmt::print("{} error\n", name);
    }
}
} // namespace

int main() {
    one("relu@0", relu(x), 0.0);
    one("abs@0", abs(x), 0.0);
    one("leaky_relu(0.25)@0", leaky_relu(x, 0.25_c), 0.0);
    one("relu6@0", relu6(x), 0.0);
    one("relu6@6", relu6(x), 6.0);
    one("hardtanh@-1", hardtanh(x), -1.0);
    one("hardtanh@1", hardtanh(x), 1.0);
    one("sign@0", sign(x), 0.0);
    one("heaviside@0", step(x), 0.0);
    one("l1@x=t", abs(x - 1.5_c), 1.5);
    auto r = [](const char *name, auto f, double a, double b, double c) {
        auto v = value_and_grad(with_policy<policy::pytorch>(f), wrt(x, y, z), x = a, y = b, z = c);
        fmt::print("{} {} {} {}\n", name, v[x], v[y], v[z]);
    };
    r("maximum@tie", max(x, y) + z * 0_c, 1.0, 1.0, 0.0);
    r("minimum@tie", min(x, y) + z * 0_c, 1.0, 1.0, 0.0);
    r("clamp@lo", clamp(x, y, z), 0.0, 0.0, 1.0);
    r("clamp@hi", clamp(x, y, z), 1.0, 0.0, 1.0);
    // values at NaN (printed "nan" when NaN)
    const double n = std::numeric_limits<double>::quiet_NaN();
    auto v = [](const char *name, auto f, double a, double b) { fmt::print("{} {}\n", name, eval(f, x = a, y = b)); };
    v("value:relu@nan", relu(x) + y * 0_c, n, 0.0);
    v("value:relu6@nan", relu6(x) + y * 0_c, n, 0.0);
    v("value:hardtanh@nan", hardtanh(x) + y * 0_c, n, 0.0);
    v("value:leaky_relu@nan", leaky_relu(x, 0.25_c) + y * 0_c, n, 0.0);
    v("value:abs@nan", abs(x) + y * 0_c, n, 0.0);
    v("value:clamp@nan", clamp(x, -1_c, 1_c) + y * 0_c, n, 0.0);
    v("value:maximum(nan,1)", max(x, y), n, 1.0);
    v("value:maximum(1,nan)", max(x, y), 1.0, n);
    v("value:minimum(nan,1)", min(x, y), n, 1.0);
    v("value:minimum(1,nan)", min(x, y), 1.0, n);
    // the max reduction's tie rule (amax, a tie of two among four entries)
    constexpr auto t = input<"t", 4>;
    auto net = compile<double>(with_policy<policy::pytorch>(max(t)), t);
    auto p = net.make_params(), g = net.make_params();
    const std::array<double, 4> tie{1, 3, 3, 2};
    net.step(p, g, t = std::span<const double>(tie));
    const auto d = net.input_grad(t);
    fmt::print("amax@tie {} {} {} {}\n", d[0], d[1], d[2], d[3]);
}

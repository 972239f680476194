// Prints kink's derivative at every kink under one preset (argv[1]: pytorch, jax or tensorflow),
// one "case value..." line each, for tests/torch_check.py and tests/preset_check.py to compare
// with the framework's own derivative at the same points: the scalar kinks of the kink-law table
// (tests/kink_laws.hpp, whose every cell tests/test_kinks.cpp checks), values at NaN, and the
// ties and margins of the tensor ops.
#include <kink/kink.hpp>

#include "kink_laws.hpp"

#include <array>
#include <limits>
#include <string_view>

using namespace kink;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;
template <class Preset> struct printer {
    static void run() {
        // every scalar kink of the kink-law table (tests/kink_laws.hpp), its partials as kink computes them
        kink_laws::for_each_law([](const auto &row) {
            try {
                const kink_laws::values d = kink_laws::derivative<Preset>(row);
                fmt::print("{}", row.name);
                for (std::size_t k = 0; k < row.partials; ++k) fmt::print(" {}", d[k]);
                fmt::print("\n");
            } catch (const kink_error &) {
                fmt::print("{} error\n", row.name);
            }
        });
        // values at NaN (printed "nan" when NaN)
        const double n = std::numeric_limits<double>::quiet_NaN();
        auto v = [](const char *name, auto f, double a, double b) { fmt::print("{} {}\n", name, eval(f, x = a, y = b)); };
        v("value:relu@nan", relu(x) + y * 0_c, n, 0.0);
        v("value:relu6@nan", relu6(x) + y * 0_c, n, 0.0);
        v("value:hardtanh@nan", hardtanh(x) + y * 0_c, n, 0.0);
        v("value:leaky_relu@nan", leaky_relu(x, 0.25_c) + y * 0_c, n, 0.0);
        v("value:abs@nan", abs(x) + y * 0_c, n, 0.0);
        v("value:clamp@nan", clamp(x, -1_c, 1_c) + y * 0_c, n, 0.0);
        v("value:hardsigmoid@nan", hardsigmoid(x) + y * 0_c, n, 0.0);
        v("value:hardswish@nan", hardswish(x) + y * 0_c, n, 0.0);
        v("value:elu(0.5)@nan", elu(x, 0.5_c) + y * 0_c, n, 0.0);
        v("value:selu@nan", selu(x) + y * 0_c, n, 0.0);
        v("value:celu(0.5)@nan", celu(x, 0.5_c) + y * 0_c, n, 0.0);
        v("value:softshrink(0.5)@nan", softshrink(x, 0.5_c) + y * 0_c, n, 0.0);
        v("value:hardshrink(0.5)@nan", hardshrink(x, 0.5_c) + y * 0_c, n, 0.0);
        v("value:threshold(0.5,2)@nan", threshold(x, 0.5_c, 2_c) + y * 0_c, n, 0.0);
        v("value:maximum(nan,1)", max(x, y), n, 1.0);
        v("value:maximum(1,nan)", max(x, y), 1.0, n);
        v("value:minimum(nan,1)", min(x, y), n, 1.0);
        v("value:minimum(1,nan)", min(x, y), 1.0, n);
        // the max reduction's tie rule (amax, a tie of two among four entries)
        constexpr auto t = input<"t", 4>;
        auto net = compile<double>(with_policy<Preset>(max(t)), t);
        auto p = net.make_params(), g = net.make_params();
        const std::array<double, 4> tie{1, 3, 3, 2};
        net.step(p, g, t = std::span<const double>(tie));
        const auto d = net.input_grad(t);
        fmt::print("amax@tie {} {} {} {}\n", d[0], d[1], d[2], d[3]);
        // a 2 x 2 max-pool window tied between its second and third entries (scan order)
        constexpr auto img = input<"img", 1, 2, 2>;
        auto pool = compile<double>(sum(flatten(max_pool2d<pool2d{2}, resolve_t<Preset, family::max_pool>>(img))), img);
        auto pp = pool.make_params(), pg = pool.make_params();
        const std::array<double, 4> window{1, 3, 3, 2};
        pool.step(pp, pg, img = std::span<const double>(window));
        const auto w = pool.input_grad(img);
        fmt::print("max_pool2x2@tie {} {} {} {}\n", w[0], w[1], w[2], w[3]);
        // the hinge loss exactly at its margin (1 - y p = 0 for both samples), d/dp
        constexpr auto hp = input<"p", 2>;
        constexpr auto hy = input<"y", 2>;
        auto hinge_net = compile<double>(with_policy<Preset>(hinge(hp, hy)), hp);
        auto hpp = hinge_net.make_params(), hpg = hinge_net.make_params();
        const std::array<double, 2> pv{1, -1}, yv{1, -1};
        hinge_net.step(hpp, hpg, hp = std::span<const double>(pv), hy = std::span<const double>(yv));
        const auto hd = hinge_net.input_grad(hp);
        fmt::print("hinge@margin {} {}\n", hd[0], hd[1]);
    }
};
} // namespace

int main(int argc, char **argv) {
    const std::string_view preset = argc > 1 ? argv[1] : "pytorch";
    if (preset == "pytorch")
        printer<policy::pytorch>::run();
    else if (preset == "jax")
        printer<policy::jax>::run();
    else if (preset == "tensorflow")
        printer<policy::tensorflow>::run();
    else {
        fmt::print(stderr, "preset_kinks: unknown preset '{}' (pytorch, jax or tensorflow)\n", preset);
        return 2;
    }
}

#pragma once
// The kink-law table: every kinked scalar op at each of its kinks, and the derivative there under
// the value policies (zero, one, left, right, half) and the three framework presets. One table,
// read by two programs:
//   - tests/test_kinks.cpp checks kink's derivative against every cell, exactly;
//   - tests/preset_kinks.cpp prints the preset cells kink computes, which tests/torch_check.py and
//     tests/preset_check.py compare with PyTorch, JAX and TensorFlow themselves.
// So a value in the table is kink's (the unit test) and the framework's (the preset checks).
//
// A row of a one-sided kink (`slope`) gives the op's one-sided derivatives there, left (from
// below) and right (from above); the value policies follow from them by their definitions (zero:
// 0, one: 1, left, right, half: the mean; policy/policy.hpp), so the table states each law once.
// A row of several partials (max, min, clamp) spells out every column; a row without a kink
// (`smooth`: celu, whose pieces meet with equal slopes) gives the one derivative every policy gets.
// `traps` marks a preset that refuses to differentiate there (PyTorch's and TensorFlow's step).
#include <kink/kink.hpp>

#include <array>
#include <cstddef>
#include <limits>
#include <tuple>

namespace kink_laws {

inline constexpr auto x = kink::var<"x">;
inline constexpr auto y = kink::var<"y">;
inline constexpr auto z = kink::var<"z">;

using values = std::array<double, 3>;
/// A preset cell of a kink where the preset traps (kink_error).
inline constexpr double traps = std::numeric_limits<double>::quiet_NaN();

/// The columns, in the table's order.
enum column : std::size_t { zero, one, left, right, half, pytorch, jax, tensorflow, columns };
inline constexpr std::array<const char *, columns> column_names{"zero", "one", "left", "right", "half", "pytorch", "jax", "tensorflow"};
/// Calls f.template operator()<P>(c) for the policy or preset P of every column c.
template <class F> void for_each_column(F &&f) {
    namespace p = kink::policy;
    f.template operator()<p::zero>(zero);
    f.template operator()<p::one>(one);
    f.template operator()<p::left>(left);
    f.template operator()<p::right>(right);
    f.template operator()<p::half>(half);
    f.template operator()<p::pytorch>(pytorch);
    f.template operator()<p::jax>(jax);
    f.template operator()<p::tensorflow>(tensorflow);
}

/// One row: `make()` builds the op (its policy is then set by with_policy), at point `at`; its
/// N partials (1: d/dx; 3: d/dx, d/dy, d/dz) in every column.
template <std::size_t N, class Make> struct law {
    static constexpr std::size_t partials = N;
    const char *name;
    Make make;
    values at;
    std::array<values, columns> expected;
};

/// A one-sided kink of f(x) at x = at with one-sided derivatives l and r.
template <class Make> constexpr law<1, Make> slope(const char *name, Make make, double at, double l, double r, double pt, double jx, double tf) {
    return {name, make, {at, 0, 0}, {values{0}, {1}, {l}, {r}, {(l + r) / 2}, {pt}, {jx}, {tf}}};
}
/// A point where f(x) has no kink: every policy and preset gives its derivative d.
template <class Make> constexpr law<1, Make> smooth(const char *name, Make make, double at, double d) {
    return {name, make, {at, 0, 0}, {values{d}, {d}, {d}, {d}, {d}, {d}, {d}, {d}}};
}
/// A kink of f(x, y, z) at `at`, every column spelled out (zero, one, left, right, half, pytorch, jax, tensorflow).
template <class Make> constexpr law<3, Make> partials(const char *name, Make make, values at, std::array<values, columns> cells) {
    return {name, make, at, cells};
}

/// The table. Names are the cases of tests/preset_kinks.cpp's output (the preset checks read them).
inline auto table() {
    using namespace kink;
    // SELU's constants as PyTorch and JAX spell them (ops/elu.hpp): f'(0-) = scale alpha, f'(0+) = scale
    const double s = 1.0507009873554804934, sa = s * 1.6732632423543772848;
    return std::make_tuple(
        //    case                  op                                              at    left   right  pytorch jax  tensorflow
        slope("relu@0",             [] { return relu(x); },                         0.0,  0.0,   1.0,   0.0,    0.0, 0.0),
        slope("abs@0",              [] { return abs(x); },                          0.0, -1.0,   1.0,   0.0,    1.0, 0.0),
        slope("leaky_relu(0.25)@0", [] { return leaky_relu(x, 0.25_c); },           0.0,  0.25,  1.0,   0.25,   1.0, 0.25),
        slope("relu6@0",            [] { return relu6(x); },                        0.0,  0.0,   1.0,   0.0,    0.0, 0.0),
        slope("relu6@6",            [] { return relu6(x); },                        6.0,  1.0,   0.0,   0.0,    0.0, 0.0),
        slope("hardtanh@-1",        [] { return hardtanh(x); },                    -1.0,  0.0,   1.0,   0.0,    1.0, 1.0),
        slope("hardtanh@1",         [] { return hardtanh(x); },                     1.0,  1.0,   0.0,   0.0,    1.0, 1.0),
        slope("sign@0",             [] { return sign(x); },                         0.0,  0.0,   0.0,   0.0,    0.0, 0.0),
        slope("heaviside@0",        [] { return step(x); },                         0.0,  0.0,   0.0,   traps,  0.0, traps),
        slope("l1@x=t",             [] { return abs(x - 1.5_c); },                  1.5, -1.0,   1.0,   0.0,    1.0, 0.0),
        slope("hardsigmoid@-3",     [] { return hardsigmoid(x); },                 -3.0,  0.0,   1.0 / 6, 0.0,  0.0, 0.0),
        slope("hardsigmoid@3",      [] { return hardsigmoid(x); },                  3.0,  1.0 / 6, 0.0, 0.0,    0.0, 0.0),
        slope("hardswish@-3",       [] { return hardswish(x); },                   -3.0,  0.0,  -0.5,  -0.5,    0.0, 0.0),
        slope("hardswish@3",        [] { return hardswish(x); },                    3.0,  1.5,   1.0,   1.5,    1.0, 1.0),
        slope("elu(0.5)@0",         [] { return elu(x, 0.5_c); },                   0.0,  0.5,   1.0,   0.5,    0.5, 0.5),
        slope("selu@0",             [] { return selu(x); },                         0.0,  sa,    s,     sa,     sa,  s),
        smooth("celu(0.5)@0",       [] { return celu(x, 0.5_c); },                  0.0,  1.0),
        slope("softshrink(0.5)@-0.5", [] { return softshrink(x, 0.5_c); },        -0.5,  1.0,   0.0,   0.0,    0.0, 0.0),
        slope("softshrink(0.5)@0.5",  [] { return softshrink(x, 0.5_c); },          0.5,  0.0,   1.0,   0.0,    0.0, 0.0),
        slope("hardshrink(0.5)@-0.5", [] { return hardshrink(x, 0.5_c); },         -0.5,  1.0,   0.0,   0.0,    0.0, 0.0),
        slope("hardshrink(0.5)@0.5",  [] { return hardshrink(x, 0.5_c); },          0.5,  0.0,   1.0,   0.0,    0.0, 0.0),
        slope("threshold(0.5,2)@0.5", [] { return threshold(x, 0.5_c, 2_c); },      0.5,  0.0,   1.0,   0.0,    0.0, 0.0),
        // max and min at a tie: each partial by its own argument's one-sided derivatives (max:
        // 0 from below, 1 from above; min the reverse); zero and one give that number to both
        partials("maximum@tie", [] { return max(x, y) + z * 0_c; }, {1, 1, 0},
                 {values{0, 0, 0}, {1, 1, 0}, {0, 0, 0}, {1, 1, 0}, {0.5, 0.5, 0}, {0.5, 0.5, 0}, {0.5, 0.5, 0}, {1, 0, 0}}),
        partials("minimum@tie", [] { return min(x, y) + z * 0_c; }, {1, 1, 0},
                 {values{0, 0, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0.5, 0}, {0.5, 0.5, 0}, {1, 0, 0}}),
        // clamp(x, lo, hi) at a bound: the policy's number is d/dx, and the bound takes the rest
        partials("clamp@lo", [] { return clamp(x, y, z); }, {0, 0, 1},
                 {values{0, 1, 0}, {1, 0, 0}, {0, 1, 0}, {1, 0, 0}, {0.5, 0.5, 0}, {1, 0, 0}, {0.5, 0.5, 0}, {1, 0, 0}}),
        partials("clamp@hi", [] { return clamp(x, y, z); }, {1, 0, 1},
                 {values{0, 0, 1}, {1, 0, 0}, {1, 0, 0}, {0, 0, 1}, {0.5, 0, 0.5}, {1, 0, 0}, {0.5, 0, 0.5}, {1, 0, 0}}));
}

/// Row r's derivative under policy or preset P: its partials (the rest 0), as kink computes them.
/// Throws kink_error where P traps.
template <class P, std::size_t N, class Make> values derivative(const law<N, Make> &r) {
    const auto f = kink::with_policy<P>(r.make());
    if constexpr (N == 1) {
        return {kink::eval(kink::grad(f, x), x = r.at[0]), 0, 0};
    } else {
        const auto v = kink::value_and_grad(f, kink::wrt(x, y, z), x = r.at[0], y = r.at[1], z = r.at[2]);
        return {v[x], v[y], v[z]};
    }
}
/// Calls f(row) for every row of the table, in order.
template <class F> void for_each_law(F &&f) {
    std::apply([&](const auto &...row) { (f(row), ...); }, table());
}

} // namespace kink_laws

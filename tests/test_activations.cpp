// The activations: exact derivative values at every kink for every policy and preset, the
// printed branches, and the ops inside a compiled program against the reference and finite
// differences (double). Finite differences of the scalar derivatives: test_fd_activations.cpp. Values against real
// torch: tests/torch_check.py (kinks) and tests/torch_activations.py (a grid of points).
#include <doctest/doctest.h>

#include <array>
#include <random>
#include <vector>

#include <boost/hana/for_each.hpp>
#include <boost/hana/tuple.hpp>

#include <kink/kink.hpp>

#include "grad_check.hpp"
#include "random_data.hpp"
#include "reference.hpp"

using namespace kink;

namespace {
constexpr auto x = var<"x">;
template <class F> double d1(const F &f, double at) { return eval(grad(f, x), x = at); }
template <class F> double d2(const F &f, double at) { return eval(grad(grad(f, x), x), x = at); }
using A2 = std::array<double, 2>;
} // namespace

TEST_CASE("hardsigmoid and hardswish at -3 and 3: the defaults, per_kink and trap (every policy and preset: tests/kink_laws.hpp)") {
    auto hs = [](auto f) { return A2{d1(f, -3.0), d1(f, 3.0)}; };
    CHECK(hs(hardswish<policy::per_kink<policy::right, policy::left>>(x)) == A2{-0.5, 1.5});
    CHECK(hs(hardswish<policy::per_kink<policy::one, policy::half>>(x)) == A2{1, 1.25});
    CHECK(hs(hardswish(x)) == A2{-0.5, 1.5});                   // torch: the middle piece at both
    CHECK(hs(hardsigmoid(x)) == A2{0, 0});
    CHECK(hs(hardsigmoid<policy::per_kink<policy::right, policy::zero>>(x)) == A2{1.0 / 6, 0});
    CHECK_THROWS_WITH_AS(d1(hardswish<policy::trap>(x), 3.0), "kink: hardswish was differentiated exactly at its kink (policy trap)",
                         kink_error);
    CHECK_THROWS_AS(d1(hardswish<policy::per_kink<policy::zero, policy::trap>>(x), 3.0), kink_error);
    CHECK(d1(hardswish<policy::per_kink<policy::zero, policy::trap>>(x), -3.0) == 0);
    // the pieces, exactly where exact
    CHECK(eval(hardswish(x), x = 1.5) == 1.5 * 4.5 / 6);
    CHECK(d1(hardswish(x), 1.5) == 1.5 / 3 + 0.5);
    CHECK(d1(hardswish(x), 4.0) == 1.0);
    CHECK(d1(hardswish(x), -4.0) == 0.0);
    CHECK(eval(hardsigmoid(x), x = -4.0) == 0.0);
    CHECK(eval(hardsigmoid(x), x = 4.0) == 1.0);
    // second derivative: 1/3 on the middle piece, 0 outside; at a kink, the policy's piece
    CHECK(d2(hardswish(x), 1.0) == 2 * (1.0 / 6));
    CHECK(d2(hardswish(x), 5.0) == 0.0);
    CHECK(d2(hardswish(x), 3.0) == 2 * (1.0 / 6)); // per_kink<right, left>: the middle piece
    CHECK(d2(hardswish<policy::jax>(x), 3.0) == 0.0);
    CHECK(d2(hardsigmoid(x), 1.0) == 0.0);
}

TEST_CASE("elu, selu, celu at 0: a runtime alpha, alpha = 1, trap and count (every policy and preset: tests/kink_laws.hpp)") {
    CHECK(d1(elu(x, 0.5_c), 0.0) == 0.5);
    CHECK(d1(elu<policy::left>(x, constant<"a">(0.25)), 0.0) == 0.25);
    // alpha = 1: no kink, every policy gives 1, trap does not fire, count sees no hit
    CHECK(d1(elu<policy::zero>(x), 0.0) == 1.0);
    CHECK(d1(elu<policy::trap>(x), 0.0) == 1.0);
    CHECK_THROWS_WITH_AS(d1(elu<policy::trap>(x, 2_c), 0.0), "kink: elu was differentiated exactly at its kink (policy trap)",
                         kink_error);
    auto e1 = elu<policy::count<policy::zero>>(x);
    auto e2 = elu<policy::count<policy::zero>>(x, 0.5_c);
    reset_kink_counts(e1);
    reset_kink_counts(e2);
    (void)eval(e1, x = 0.0);
    (void)eval(e2, x = 0.0);
    CHECK(kink_hits(e1).hits == 0);
    CHECK(kink_hits(e2).hits == 1);
    const double s = 1.0507009873554804934, sa = s * 1.6732632423543772848;
    CHECK(d1(selu(x), 0.0) == sa);
    CHECK(d1(selu(x), 2.0) == s);
    CHECK(eval(selu(x), x = 2.0) == s * 2.0);
    CHECK(d1(celu(x, 0.5_c), 0.0) == 1.0);
    CHECK(d1(celu<policy::trap>(x, 0.5_c), 0.0) == 1.0); // celu has no kink
    // second derivatives: a e^x (elu), s a e^x (selu), e^(x/a)/a (celu) below 0; 0 above
    CHECK(d2(elu(x, 0.5_c), -1.0) == doctest::Approx(0.5 * std::exp(-1.0)).epsilon(1e-15));
    CHECK(d2(elu(x, 0.5_c), 1.0) == 0.0);
    CHECK(d2(selu(x), -1.0) == doctest::Approx(sa * std::exp(-1.0)).epsilon(1e-15));
    CHECK(d2(celu(x, 0.5_c), -1.0) == doctest::Approx(std::exp(-2.0) / 0.5).epsilon(1e-15));
    CHECK(d2(celu(x, 0.5_c), 1.0) == 0.0);
}

TEST_CASE("softshrink, hardshrink, threshold at their thresholds: per_kink, lambda = 0, trap (every policy and preset: tests/kink_laws.hpp)") {
    auto at = [](auto f) { return A2{d1(f, -0.5), d1(f, 0.5)}; };
    CHECK(at(softshrink(x)) == A2{0, 0});
    CHECK(at(hardshrink(x)) == A2{0, 0});
    CHECK(at(hardshrink<policy::per_kink<policy::one, policy::right>>(x)) == A2{1, 1});
    CHECK(eval(softshrink(x), x = 0.75) == 0.25);
    CHECK(eval(softshrink(x), x = -0.75) == -0.25);
    CHECK(eval(softshrink(x), x = 0.5) == 0.0);
    CHECK(eval(hardshrink(x), x = 0.5) == 0.0);
    CHECK(eval(hardshrink(x), x = 0.75) == 0.75);
    CHECK(d1(softshrink(x, 0.25_c), 0.3) == 1.0);
    CHECK(d1(softshrink(x, 0.25_c), 0.2) == 0.0);
    // lambda = 0: the identity, no kink
    CHECK(d1(softshrink<policy::zero>(x, 0_c), 0.0) == 1.0);
    CHECK(d1(hardshrink<policy::trap>(x, 0_c), 0.0) == 1.0);
    CHECK(d1(threshold(x, 0.5_c, 2_c), 0.5) == 0.0);
    CHECK(eval(threshold(x, 0.5_c, 2_c), x = 0.5) == 2.0);
    CHECK(eval(threshold(x, 0.5_c, 2_c), x = 0.625) == 0.625);
    CHECK(eval(threshold(x, constant<"t">(1.0), constant<"v">(-1.0)), x = 0.5) == -1.0);
    CHECK(eval(threshold(x, -0.5_c, -1_c), x = -0.75) == -1.0); // a negated literal is a literal
    CHECK(d1(elu(x, -(-0.5_c)), -1.0) == 0.5 * std::exp(-1.0));
    CHECK_THROWS_AS(d1(threshold<policy::trap>(x, 0.5_c, 2_c), 0.5), kink_error);
}

TEST_CASE("NaN in, NaN out, for every activation's value and derivative") {
    const double n = std::numeric_limits<double>::quiet_NaN();
    namespace hana = boost::hana;
    hana::for_each(hana::make_tuple(hardsigmoid(x), hardswish(x), elu(x), elu(x, 0.5_c), selu(x), celu(x, 0.5_c),
                                    softshrink(x), hardshrink(x), threshold(x, 0.5_c, 2_c), silu(x), gelu(x),
                                    gelu_tanh(x), mish(x), softsign(x)),
                   [&](const auto &f) {
                       CHECK(std::isnan(eval(f, x = n)));
                       CHECK(std::isnan(d1(f, n)));
                   });
}

TEST_CASE("the activations' derivatives print every branch and the policy at each kink") {
    CHECK(to_text(grad(hardswish(x), x)) == "1 if x > 3, 1.5 if x = 3 (policy per_kink<right, left>), x/3 + 1/2 if -3 < x < 3, "
                                            "-0.5 if x = -3 (policy per_kink<right, left>), 0 if x < -3");
    CHECK(to_text(grad(hardswish<policy::jax>(x), x)) == "1 if x > 3, 1 if x = 3 (policy per_kink<left, right>), x/3 + 1/2 if "
                                                         "-3 < x < 3, 0 if x = -3 (policy per_kink<left, right>), 0 if x < -3");
    CHECK(to_text(grad(hardsigmoid<policy::half>(x), x)) ==
          "0 if x > 3, 1/12 if x = 3 (policy half), 1/6 if -3 < x < 3, 1/12 if x = -3 (policy half), 0 if x < -3");
    CHECK(to_latex(grad(elu(x, lit<1, 2>), x)) ==
          "\\begin{cases} 1 & x > 0 \\\\ 0.5 & x = 0 \\text{ (policy left)} \\\\ 0.5 \\exp(x) & x < 0 \\end{cases}");
    // \text{} in KaTeX and LaTeX takes no bare underscore
    CHECK(to_latex(grad(hardswish(x), x)) ==
          "\\begin{cases} 1 & x > 3 \\\\ 1.5 & x = 3 \\text{ (policy per\\_kink<right, left>)} \\\\ x/3 + 1/2 & -3 < x < 3 "
          "\\\\ -0.5 & x = -3 \\text{ (policy per\\_kink<right, left>)} \\\\ 0 & x < -3 \\end{cases}");
    CHECK(to_text(grad(selu<policy::tensorflow>(x), x)) ==
          "1.0507009873554805 if x > 0, 1.0507009873554805 if x = 0 (policy right), 1.7580993408473766 exp(x) if x < 0");
    CHECK(to_text(grad(softshrink(x, lit<1, 4>), x)) ==
          "1 if x > 0.25, 0 if x = 0.25 (policy zero), 0 if -0.25 < x < 0.25, 0 if x = -0.25 (policy zero), 1 if x < -0.25");
    CHECK(to_text(hardswish<policy::per_kink<policy::one, policy::zero>>(x)) == "hardswish<per_kink<one, zero>>(x)");
    CHECK(to_text(grad(gelu(x), x)) == "normal_cdf(x) + x * normal_pdf(x)");
    CHECK(to_text(grad(silu(x), x)) == "sigmoid(x) + silu(x) * (1 - sigmoid(x))");
}

namespace {
constexpr auto xi = input<"x", 10>;
constexpr auto ti = input<"t", 3>;
constexpr auto W1 = param<"W1", 8, 10>;
constexpr auto b1 = param<"b1", 8>;
constexpr auto W2 = param<"W2", 8, 8>;
constexpr auto b2 = param<"b2", 8>;
constexpr auto W3 = param<"W3", 3, 8>;
constexpr auto b3 = param<"b3", 3>;

using test_data::uniform;

/// The fused program's loss against the reference interpreter (1e-12 relative) and every
/// gradient entry against a central difference of the reference with h = 1e-6 (truncation
/// ~ h^2 |f'''| ~ 1e-12, rounding ~ eps |f| / h ~ 1e-10: 1e-7 leaves margin), double.
template <class L> void check_program(const L &loss, unsigned seed) {
    constexpr std::size_t batch = 6;
    const auto xs = uniform(batch * 10, seed, -4, 4), ts = uniform(batch * 3, seed + 1, -1, 1);
    auto net = compile<double>(loss);
    auto p = net.make_params(), g = net.make_params();
    auto flat = p.flat();
    const auto init = uniform(flat.size(), seed + 2, -0.7, 0.7);
    std::copy(init.begin(), init.end(), flat.begin());
    const auto bx = xi = std::span<const double>(xs);
    const auto bt = ti = std::span<const double>(ts);
    const double l = net.step(p, g, bx, bt);
    const double lr = ref::loss(loss, p, batch, bx, bt);
    CHECK(std::abs(l - lr) <= 1e-12 * std::max(1.0, std::abs(lr)));
    auto q = p;
    CHECK(test_data::central_differences(q, g, [&](const auto &at) { return ref::loss(loss, at, batch, bx, bt); }).worst < 1e-7);
}
} // namespace

TEST_CASE("compile: every activation inside a fused program, against the reference and finite differences") {
    SUBCASE("smooth") {
        check_program(mse(W3 * gelu(W2 * silu(W1 * xi + b1) + b2) + b3, ti), 11);
        check_program(mse(W3 * mish(W2 * gelu_tanh(W1 * xi + b1) + b2) + b3, ti), 12);
        check_program(mse(W3 * softsign(W2 * celu(W1 * xi + b1, 0.5_c) + b2) + b3, ti), 13);
    }
    SUBCASE("piecewise") {
        check_program(mse(W3 * hardswish(W2 * hardsigmoid(W1 * xi + b1) + b2) + b3, ti), 14);
        check_program(mse(W3 * elu(W2 * selu(W1 * xi + b1) + b2, 0.5_c) + b3, ti), 15);
        check_program(mse(W3 * softshrink(W2 * hardshrink(W1 * xi + b1, 0.25_c) + b2) + b3, ti), 16);
        check_program(mse(W3 * threshold(W2 * elu(W1 * xi + b1) + b2, 0.1_c, -0.5_c) + b3, ti), 17);
    }
    SUBCASE("layer_norm with a learned scale and shift") {
        check_program(mse(W3 * gelu(hadamard(b2, layer_norm(W2 * relu(W1 * xi + b1))) + b2) + b3, ti), 18);
    }
}

namespace {
/// The gradient of a network through every activation, computed in format N.
template <class N> std::vector<double> narrow_grads() {
    const auto h = gelu(W1 * xi + b1) + hardswish(W1 * xi + b1) + elu(W1 * xi + b1, 0.5_c);
    const auto loss = mse(W3 * (silu(W2 * h + b2) + mish(W2 * h + b2) + selu(W2 * h + b2) + softsign(W2 * h + b2)) + b3, ti);
    auto net = compile<N>(loss);
    auto p = net.make_params(), g = net.make_params();
    const auto init = uniform(p.flat().size(), 21, -0.5, 0.5);
    for (std::size_t k = 0; k < init.size(); ++k) p.flat()[k] = N(init[k]);
    std::vector<N> xs, ts;
    for (double v : uniform(4 * 10, 22, -2, 2)) xs.push_back(N(v));
    for (double v : uniform(4 * 3, 23, -1, 1)) ts.push_back(N(v));
    net.step(p, g, xi = std::span<const N>(xs), ti = std::span<const N>(ts));
    std::vector<double> r;
    for (auto v : g.flat()) r.push_back(double(v));
    return r;
}
/// max |g_N - g_double| over max |g_double|.
template <class N> double narrow_error() {
    const auto d = narrow_grads<double>(), n = narrow_grads<N>();
    double top = 0, err = 0;
    for (std::size_t k = 0; k < d.size(); ++k) top = std::max(top, std::abs(d[k])), err = std::max(err, std::abs(n[k] - d[k]));
    return err / top;
}
} // namespace

TEST_CASE("the activations in float, bfloat16 and float16 programs: the double gradient to the format's rounding") {
    // Every value and adjoint is rounded once per op to the format (2^-8 relative in bfloat16,
    // 2^-11 in float16, 2^-24 in float); about 16 roundings on the longest path, each at most one
    // unit of the largest entry, bound the error relative to the largest gradient entry.
    CHECK(narrow_error<float>() <= 16 * 0x1p-24);
    CHECK(narrow_error<bfloat16>() <= 16 * 0x1p-8);
    CHECK(narrow_error<float16>() <= 16 * 0x1p-11);
    MESSAGE("relative gradient error: float ", narrow_error<float>(), ", bfloat16 ", narrow_error<bfloat16>(), ", float16 ",
            narrow_error<float16>());
}

// Exact derivative values at every kink, for every policy and every preset (the kink-law table,
// tests/kink_laws.hpp, which tests/preset_kinks.cpp also prints for the framework checks; the
// table of docs/site/kinks.md), and identical derivatives away from the kinks.
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <kink/kink.hpp>

#include "kink_laws.hpp"

using namespace kink;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;
constexpr auto z = var<"z">;

template <class F> double d1(const F &f, double at) { return eval(grad(f, x), x = at); }
template <class F> std::array<double, 2> d2(const F &f, double a, double b) {
    auto r = value_and_grad(f, wrt(x, y), x = a, y = b);
    return {r[x], r[y]};
}
template <class F> std::array<double, 3> d3(const F &f, double a, double lo, double hi) {
    auto r = value_and_grad(f, wrt(x, y, z), x = a, y = lo, z = hi);
    return {r[x], r[y], r[z]};
}
using A2 = std::array<double, 2>;
using A3 = std::array<double, 3>;
} // namespace

TEST_CASE("the kink-law table: every value policy and preset at every kink, exactly") {
    std::size_t cells = 0;
    kink_laws::for_each_law([&](const auto &row) {
        kink_laws::for_each_column([&]<class P>(std::size_t c) {
            const std::string where = std::string(row.name) + " under " + kink_laws::column_names[c];
            INFO(where);
            const kink_laws::values &want = row.expected[c];
            ++cells;
            if (want[0] != want[0]) {
                CHECK_THROWS_AS(kink_laws::derivative<P>(row), kink_error);
                return;
            }
            const kink_laws::values got = kink_laws::derivative<P>(row);
            for (std::size_t k = 0; k < 3; ++k) {
                INFO("partial ", k);
                CHECK(got[k] == want[k]);
            }
        });
    });
    CHECK(cells == 26 * kink_laws::columns);
}

TEST_CASE("relu'(0): the default policy, count<P> and trap") {
    CHECK(d1(relu(x), 0.0) == 0.0); // the default is PyTorch's
    CHECK(d1(relu<policy::count<policy::half>>(x), 0.0) == 0.5);
    CHECK_THROWS_WITH_AS(d1(relu<policy::trap>(x), 0.0), "kink: relu was differentiated exactly at its kink (policy trap)",
                         kink_error);
    CHECK(d1(relu<policy::trap>(x), 1e-300) == 1.0); // trap fires only exactly at the kink
}

TEST_CASE("-0.0 is a kink hit like +0.0") {
    CHECK_THROWS_AS(d1(relu<policy::trap>(x), -0.0), kink_error);
    CHECK(d1(relu<policy::one>(x), -0.0) == 1.0);
}

TEST_CASE("leaky_relu'(0) with a runtime slope, and PyTorch's default slope") {
    CHECK(d1(leaky_relu<policy::left>(x, constant<"a">(0.125)), 0.0) == 0.125);
    CHECK(d1(leaky_relu<policy::half>(x, constant<"a">(0.125)), 0.0) == 0.5625);
    CHECK(d1(leaky_relu(x), -3.0) == 0.01); // PyTorch's default slope
}

TEST_CASE("relu6 traps at 6") {
    CHECK_THROWS_AS(d1(relu6<policy::trap>(x), 6.0), kink_error);
}

TEST_CASE("the L1 loss |x - y| at x = y: both partials under each preset") {
    CHECK(d2(abs<policy::pytorch>(x - y), 1.5, 1.5) == A2{0, 0});
    CHECK(d2(abs<policy::jax>(x - y), 1.5, 1.5) == A2{1, -1});
    CHECK(d2(abs<policy::tensorflow>(x - y), 1.5, 1.5) == A2{0, 0});
}

TEST_CASE("step traps under PyTorch's and TensorFlow's presets, and the straight-through estimators everywhere") {
    CHECK_THROWS_WITH_AS(d1(step(x), 0.0), "kink: step was differentiated exactly at its kink (policy trap)", kink_error);
    CHECK_THROWS_AS(d1(step<policy::tensorflow>(x), 0.0), kink_error);
    CHECK(d1(step(x), 0.5) == 0.0); // PyTorch's trap fires at the kink only
    for (double at : {-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0}) {
        CAPTURE(at);
        CHECK(d1(step<policy::straight_through>(x), at) == 1.0);
        CHECK(d1(sign<policy::straight_through>(x), at) == 1.0);
        const double clipped = (at >= -1.0 && at <= 1.0) ? 1.0 : 0.0;
        CHECK(d1(step<policy::straight_through_clipped>(x), at) == clipped);
        CHECK(d1(sign<policy::straight_through_clipped>(x), at) == clipped);
    }
    CHECK(eval(step(x), x = 0.0) == 0.0); // step(0) = 0: h = 1[x > 0]
    CHECK(eval(sign(x), x = 0.0) == 0.0);
}

TEST_CASE("max and min ties under first and second, and away from a tie") {
    CHECK(d2(max<policy::first>(x, y), 1, 1) == A2{1, 0});
    CHECK(d2(max<policy::second>(x, y), 1, 1) == A2{0, 1});
    CHECK(d2(min<policy::first>(x, y), 1, 1) == A2{1, 0});
    CHECK(d2(min<policy::second>(x, y), 1, 1) == A2{0, 1});
    // away from a tie
    CHECK(d2(max<policy::first>(x, y), 2, 1) == A2{1, 0});
    CHECK(d2(max<policy::first>(x, y), 1, 2) == A2{0, 1});
    CHECK(d2(min<policy::first>(x, y), 2, 1) == A2{0, 1});
}

TEST_CASE("clamp inside and outside its bounds: partials with respect to x, lo and hi") {
    CHECK(d3(clamp(x, y, z), 0.5, 0.0, 1.0) == A3{1, 0, 0});
    CHECK(d3(clamp(x, y, z), -0.5, 0.0, 1.0) == A3{0, 1, 0});
    CHECK(d3(clamp(x, y, z), 1.5, 0.0, 1.0) == A3{0, 0, 1});
}

TEST_CASE("with_policy rewrites every piecewise node; presets resolve per op") {
    auto f = relu(x) + abs(y) + max(x, y);
    using J = decltype(with_policy<policy::jax>(f));
    using Expected = decltype(relu<policy::zero>(x) + abs<policy::one>(y) + max<policy::half>(x, y));
    static_assert(std::is_same_v<J, Expected>);
    using T = decltype(with_policy<policy::tensorflow>(f));
    static_assert(std::is_same_v<T, decltype(relu<policy::zero>(x) + abs<policy::zero>(y) + max<policy::first>(x, y))>);
    // relu + abs + max at x = y = 0 under JAX: 0 + 1 + 1/2 for y, 0 + 1/2 for x
    CHECK(d2(with_policy<policy::jax>(f), 0, 0) == A2{0.5, 1.5});
    CHECK(d2(with_policy<policy::one>(f), 0, 0) == A2{2, 2});
}

TEST_CASE("count<P> counts exact kink hits per node in the forward pass") {
    auto r = relu<policy::count<policy::one>>(x);
    auto m = max<policy::count<policy::half>>(r, y);
    auto f = m * 2_c;
    reset_kink_counts(f);
    for (double v : {-1.0, 0.0, 0.0, 2.0, -0.0}) (void)eval(f, x = v, y = 0.0);
    const auto counts = kink_counts(f);
    REQUIRE(counts.size() == 2);
    CHECK(counts[0].op == "relu");
    CHECK(counts[0].hits == 3);
    CHECK(counts[0].evals == 5);
    CHECK(counts[1].op == "max");
    CHECK(counts[1].hits == 4); // relu output 0 ties y = 0 for x in {-1, 0, 0, -0}
    CHECK(kink_hits(r).hits == 3);
    // counting changes no value
    CHECK(d2(f, 0, 0) == d2(max<policy::half>(relu<policy::one>(x), y) * 2_c, 0, 0));
}

TEST_CASE("different policies: different types, same derivative away from the kinks") {
    static_assert(!std::is_same_v<decltype(relu<policy::zero>(x)), decltype(relu<policy::one>(x))>);
    static_assert(std::is_same_v<decltype(relu(x)), decltype(relu<policy::zero>(x))>);
    for (double at : {-2.5, -1e-9, 1e-9, 0.7, 3.0, 6.5}) {
        CAPTURE(at);
        const double ref = d1(relu6<policy::zero>(x) + hardtanh<policy::zero>(x) + abs<policy::zero>(x), at);
        CHECK(d1(relu6<policy::one>(x) + hardtanh<policy::one>(x) + abs<policy::one>(x), at) == ref);
        CHECK(d1(relu6<policy::half>(x) + hardtanh<policy::left>(x) + abs<policy::right>(x), at) == ref);
        CHECK(d1(relu<policy::trap>(x), at) == d1(relu<policy::one>(x), at));
    }
}

TEST_CASE("the same function, different programs (docs/site/kinks.md) for c in {0, 1/2, 1}") {
    auto table = []<class P>(P, double c) {
        CAPTURE(c);
        CHECK(d1(relu<P>(x), 0.0) == c);
        CHECK(d1(relu<P>(-x) + x, 0.0) == 1 - c);
        CHECK(d1((relu<P>(x) + relu<P>(-x) + x) / 2_c, 0.0) == 0.5);
        CHECK(d1(relu<P>(x) - relu<P>(-x), 0.0) == 2 * c);
        CHECK(d1(relu<P>(relu<P>(x)) - relu<P>(x), 0.0) == c * c - c);
        // ... and all of them are the simple function's derivative away from 0
        CHECK(d1(relu<P>(x) - relu<P>(-x), 0.3) == 1.0);
        CHECK(d1(relu<P>(relu<P>(x)) - relu<P>(x), -0.3) == 0.0);
    };
    table(policy::zero{}, 0.0);
    table(policy::half{}, 0.5);
    table(policy::one{}, 1.0);
}

TEST_CASE("trap and count<P> at every op's kink") {
    CHECK_THROWS_WITH_AS(d1(leaky_relu<policy::trap>(x, 0.25_c), 0.0),
                         "kink: leaky_relu was differentiated exactly at its kink (policy trap)", kink_error);
    CHECK_THROWS_AS(d1(relu6<policy::trap>(x), 0.0), kink_error);
    CHECK_THROWS_AS(d1(hardtanh<policy::trap>(x), -1.0), kink_error);
    CHECK_THROWS_AS(d1(hardtanh<policy::trap>(x), 1.0), kink_error);
    CHECK_THROWS_WITH_AS(d1(abs<policy::trap>(x), 0.0), "kink: abs was differentiated exactly at its kink (policy trap)",
                         kink_error);
    CHECK_THROWS_AS(d1(sign<policy::trap>(x), 0.0), kink_error);
    CHECK_THROWS_WITH_AS(d2(max<policy::trap>(x, y), 1, 1), "kink: max was differentiated exactly at its kink (policy trap)",
                         kink_error);
    CHECK_THROWS_AS(d2(min<policy::trap>(x, y), 1, 1), kink_error);
    CHECK_THROWS_WITH_AS(d3(clamp<policy::trap>(x, y, z), 0, 0, 1),
                         "kink: clamp was differentiated exactly at its kink (policy trap)", kink_error);
    // trap away from the kink is the ordinary derivative
    CHECK(d2(max<policy::trap>(x, y), 2, 1) == A2{1, 0});
    CHECK(d3(clamp<policy::trap>(x, y, z), 0.5, 0, 1) == A3{1, 0, 0});

    using H = policy::count<policy::half>;
    CHECK(d1(leaky_relu<H>(x, 0.25_c), 0.0) == 0.625);
    CHECK(d1(relu6<H>(x), 6.0) == 0.5);
    CHECK(d1(hardtanh<H>(x), -1.0) == 0.5);
    CHECK(d1(abs<H>(x), 0.0) == 0.0);
    CHECK(d1(sign<H>(x), 0.0) == 0.0);
    CHECK(d1(step<policy::count<policy::one>>(x), 0.0) == 1.0);
    CHECK(d1(step<policy::count<policy::straight_through>>(x), 5.0) == 1.0);
    CHECK(d2(max<H>(x, y), 1, 1) == A2{0.5, 0.5});
    CHECK(d2(min<policy::count<policy::second>>(x, y), 1, 1) == A2{0, 1});
    CHECK(d3(clamp<H>(x, y, z), 1, 0, 1) == A3{0.5, 0, 0.5});
    // a preset inside count resolves per op
    static_assert(std::is_same_v<decltype(abs<policy::count<policy::jax>>(x)), decltype(abs<policy::count<policy::one>>(x))>);
    auto c = clamp<policy::count<policy::pytorch>>(x, y, z);
    reset_kink_counts(c);
    (void)eval(c, x = 0.0, y = 0.0, z = 1.0);
    (void)eval(c, x = 0.5, y = 0.0, z = 1.0);
    (void)eval(c, x = 1.0, y = 0.0, z = 1.0);
    CHECK(kink_hits(c).hits == 2);
    CHECK(kink_hits(c).evals == 3);
}

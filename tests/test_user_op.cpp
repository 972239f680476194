// A kinked op of a user's own (docs/snippets/bent.hpp: bent(x) = x below 0, 2 x above): every
// policy gives its defined value at the kink, exactly; presets resolve for a family kink does not
// know (and a specialisation of kink::resolve chooses another); count, trap, runtime<Name> and
// per-policy printing work as for kink's own ops; it differentiates twice and trains in a
// compiled program; a policy that does not fit its family is refused (compile-fail: see
// tests/compile_fail). The family's declaration (kinks_of) is what the policies read.
#include <doctest/doctest.h>

#include <cmath>
#include <span>
#include <string>

#include <kink/kink.hpp>

#include "../docs/snippets/bent.hpp"

namespace my {
/// A second family of the user's own, with two kinks, so that per_kink<P0, P1> applies:
/// dent(x) = 0 below -1, x + 1 between -1 and 1, 2 above (kinks at -1 and 1).
struct dent_family : kink::kinks_of<kink::kink_kind::slope, 2> {};
template <class P> struct dent_op {
    KINK_KINKED_OP(dent_op, "dent", "\\operatorname{dent}", dent_family)
    template <class T> static constexpr T eval(T x) { return x > T(1) ? T(2) : (x < T(-1) ? T(0) : x + T(1)); }
    template <class T> static constexpr bool at_kink(T x) { return x == T(1) || x == T(-1); }
    template <class T> static constexpr T kink_distance(T x) {
        const T a = x < T(-1) ? T(-1) - x : x + T(1), b = x < T(1) ? T(1) - x : x - T(1);
        return a < b ? a : b;
    }
    template <std::size_t I, class T> static constexpr kink::branch<T> d(T x) {
        if (x > T(-1) && x < T(1)) return kink::smooth_branch(T(1));
        if (x == T(-1)) return kink::kink_branch(T(0), T(1), 0);
        if (x == T(1)) return kink::kink_branch(T(1), T(0), 1);
        return kink::smooth_branch(T(0));
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{kink::when("0", "$0 > 1"), kink::at_kink_case("$0 = 1", {1}, {0}, 1), kink::when("1", "-1 < $0 < 1"),
                          kink::at_kink_case("$0 = -1", {0}, {1}), kink::when("0", "$0 < -1")};
    }
};
template <class P = kink::policy::default_policy, kink::expression X> constexpr auto dent(const X &x) {
    KINK_CHECK_KINK_POLICY(P, dent_family, "dent");
    return kink::make_node<dent_op<kink::resolve_t<P, dent_family>>>(x);
}
} // namespace my

// JAX's preset chooses the right-sided derivative at bent's kink (a user's choice for a family of
// their own: kink's presets know only kink's families)
template <> struct kink::resolve<kink::policy::jax, my::bent_family> {
    using type = kink::policy::right;
};

using namespace kink;
using my::bent;
using my::dent;

namespace {
constexpr auto x = var<"x">;
template <class P> double at(double v) { return eval(grad(bent<P>(x), x), x = v); }
} // namespace

TEST_CASE("a kinked op of the user's own: every policy's value at its kink, exactly, and the branches away from it") {
    CHECK(at<policy::left>(0.0) == 1.0);
    CHECK(at<policy::right>(0.0) == 2.0);
    CHECK(at<policy::half>(0.0) == 1.5);
    CHECK(at<policy::zero>(0.0) == 0.0);
    CHECK(at<policy::one>(0.0) == 1.0);
    CHECK(at<policy::pytorch>(0.0) == 0.0);    // a preset on a family it does not know: 0
    CHECK(at<policy::tensorflow>(0.0) == 0.0);
    CHECK(at<policy::jax>(0.0) == 2.0);        // the specialisation above
    CHECK(at<policy::count<policy::left>>(0.0) == 1.0);
    for (double v : {-2.5, -1e-300}) CHECK(at<policy::half>(v) == 1.0);
    for (double v : {1e-300, 7.0}) CHECK(at<policy::half>(v) == 2.0);
    CHECK(std::isnan(at<policy::half>(std::nan(""))));
    CHECK(eval(bent(x), x = -3.0) == -3.0);
    CHECK(eval(bent(x), x = 3.0) == 6.0);
    // with_policy rebinds it like kink's own ops
    CHECK(eval(grad(with_policy<policy::right>(bent(x)), x), x = 0.0) == 2.0);
    // runtime<Name>: the value at the kink read at run time
    const auto r = bent<policy::runtime<"c">>(x);
    CHECK(eval(grad(with_constant<"c">(r, 0.25), x), x = 0.0) == 0.25);
    CHECK(eval(grad(with_constant<"c">(r, 0.25), x), x = 1.0) == 2.0);
}

TEST_CASE("a kinked op of the user's own: counted, trapped, printed with its cases, differentiated twice") {
    constexpr auto counted = bent<policy::count<policy::half>>(x);
    reset_kink_counts(counted);
    for (double v : {-1.0, 0.0, 0.0, 3.0, -0.0}) (void)eval(counted, x = v);
    CHECK(kink_hits(counted).hits == 3);
    CHECK(kink_hits(counted).evals == 5);
    CHECK_THROWS_WITH_AS((void)eval(grad(bent<policy::trap>(x), x), x = 0.0), "kink: bent was differentiated exactly at its kink (policy trap)",
                         kink_error);
    CHECK(eval(grad(bent<policy::trap>(x), x), x = 0.5) == 2.0);
    CHECK(to_text(bent(x)) == "bent(x)");
    CHECK(to_text(grad(bent<policy::half>(x), x)) == "2 if x > 0, 1.5 if x = 0 (policy half), 1 if x < 0");
    CHECK(to_text(grad(bent<policy::left>(x), x)) == "2 if x > 0, 1 if x = 0 (policy left), 1 if x < 0");
    // the second derivative of a piecewise-linear op: 0 away from the kink
    CHECK(eval(grad(grad(bent(x), x), x), x = 1.0) == 0.0);
    CHECK(eval(grad(grad(x * bent<policy::right>(x), x), x), x = 2.0) == 4.0); // (2 x^2)'' = 4
}

TEST_CASE("a user's family with two kinks takes per_kink<P0, P1>; the family's declaration decides what fits") {
    CHECK(eval(grad(dent<policy::per_kink<policy::left, policy::right>>(x), x), x = -1.0) == 0.0);
    CHECK(eval(grad(dent<policy::per_kink<policy::left, policy::right>>(x), x), x = 1.0) == 0.0);
    CHECK(eval(grad(dent<policy::per_kink<policy::right, policy::left>>(x), x), x = -1.0) == 1.0);
    CHECK(eval(grad(dent<policy::per_kink<policy::right, policy::left>>(x), x), x = 1.0) == 1.0);
    CHECK(eval(grad(dent<policy::half>(x), x), x = 1.0) == 0.5);
    static_assert(fits<policy::per_kink<policy::zero, policy::one>, my::dent_family>());
    static_assert(!fits<policy::per_kink<policy::zero, policy::one>, my::bent_family>()); // one kink
    static_assert(!fits<policy::straight_through, my::bent_family>());                   // not a step
    static_assert(!fits<policy::split, my::bent_family>());                              // not a tie
    static_assert(fits<policy::trap, my::bent_family>() && fits<policy::runtime<"c">, my::bent_family>());
}

TEST_CASE("a kinked op of the user's own in a compiled training step: the policy decides the gradient at the kink") {
    constexpr auto v = input<"v", 2>;
    constexpr auto W = param<"W", 2, 2>;
    auto grad_of = [&](auto net) {
        auto p = net.make_params(), g = net.make_params();
        const double w[] = {1, -1, 2, 0}, in[] = {3, 3, -1, 2}; // sample 0: W v = (0, 6), on the kink in row 0
        std::copy(std::begin(w), std::end(w), p[W].begin());
        net.step(p, g, v = std::span<const double>(in));
        return std::vector<double>(g[W].begin(), g[W].end());
    };
    // mean over 2 samples of sum(bent(W v)); sample 1: W v = (-3, -2), both below the kink (slope 1)
    const auto left = grad_of(compile<double>(sum(bent<policy::left>(W * v))));
    const auto right = grad_of(compile<double>(sum(bent<policy::right>(W * v))));
    CHECK(left == std::vector<double>{(3 * 1 + -1 * 1) / 2.0, (3 * 1 + 2 * 1) / 2.0, (3 * 2 + -1 * 1) / 2.0, (3 * 2 + 2 * 1) / 2.0});
    CHECK(right == std::vector<double>{(3 * 2 + -1 * 1) / 2.0, (3 * 2 + 2 * 1) / 2.0, (3 * 2 + -1 * 1) / 2.0, (3 * 2 + 2 * 1) / 2.0});
}

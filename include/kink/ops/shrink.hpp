#pragma once
/// \file
/// Shrinkage and thresholds: softshrink, hardshrink, threshold. Value rule, derivative branches
/// and printed cases side by side; NaN in, NaN out (piecewise.hpp). The thresholds are constants
/// (exact literals or named runtime constants), never differentiated.
///
/// hardshrink and threshold jump at their thresholds: there the function is discontinuous and has
/// no one-sided derivative; the two sides a policy chooses from are the derivatives of the pieces
/// on either side (left 0, right 1 at hardshrink's lambda), as for the Heaviside step.

#include <kink/ops/piecewise.hpp>

namespace kink {

namespace detail {
/// The derivative both shrinkages share: 1 outside [-l, l], 0 inside; kinks at -l (kink 0: left
/// 1, right 0) and l (kink 1: left 0, right 1); the identity's 1 when l = 0.
template <class T> constexpr branch<T> shrink_d(T x, T l) {
    if (x > l || x < -l || l == T(0)) return smooth_branch(T(1));
    if (x == -l) return kink_branch(T(1), T(0), 0);
    if (x == l) return kink_branch(T(0), T(1), 1);
    return smooth_branch(T(0));
}
constexpr auto shrink_cases() {
    return std::array{when("1", "$0 > $1"), at_kink_case("$0 = $1", {0}, {1}, 1), when("0", "-$1 < $0 < $1"),
                      at_kink_case("$0 = -$1", {1}, {0}, 0), when("1", "$0 < -$1")};
}
} // namespace detail

/// softshrink(x, l) = x - l above l, x + l below -l, 0 between (l >= 0). Kinks at -l (kink 0:
/// left 1, right 0) and l (kink 1: left 0, right 1); none when l = 0 (the identity).
template <class P> struct softshrink_op {
    KINK_PIECEWISE_OP(softshrink_op, "softshrink", "\\operatorname{softshrink}", softshrink)
    template <class T> static constexpr T eval(T x, T l) {
        return x > l ? x - l : (x < -l ? x + l : (x == x ? T(0) : x));
    }
    template <class T> static constexpr bool at_kink(T x, T l) { return l != T(0) && (x == l || x == -l); }
    template <class T> static constexpr T kink_distance(T x, T l) {
        const T a = x < l ? l - x : x - l, b = x < -l ? -l - x : x + l;
        return a < b ? a : b;
    }
    template <std::size_t I, class T> static constexpr branch<T> d(T x, T l) {
        static_assert(I == 0, "kink: softshrink is not differentiated with respect to its threshold");
        return detail::shrink_d(x, l);
    }
    template <std::size_t I> static constexpr auto cases() { return detail::shrink_cases(); }
};

/// hardshrink(x, l) = x where |x| > l, 0 where |x| <= l (l >= 0). Jumps at -l (kink 0: left 1,
/// right 0) and l (kink 1: left 0, right 1); none when l = 0 (the identity).
template <class P> struct hardshrink_op {
    KINK_PIECEWISE_OP(hardshrink_op, "hardshrink", "\\operatorname{hardshrink}", hardshrink)
    template <class T> static constexpr T eval(T x, T l) { return (x >= -l && x <= l) ? T(0) : x; }
    template <class T> static constexpr bool at_kink(T x, T l) { return l != T(0) && (x == l || x == -l); }
    template <class T> static constexpr T kink_distance(T x, T l) { return softshrink_op<P>::kink_distance(x, l); }
    template <std::size_t I, class T> static constexpr branch<T> d(T x, T l) {
        static_assert(I == 0, "kink: hardshrink is not differentiated with respect to its threshold");
        return detail::shrink_d(x, l);
    }
    template <std::size_t I> static constexpr auto cases() { return detail::shrink_cases(); }
};

/// threshold(x, t, v) = x where x > t, v where x <= t (PyTorch's F.threshold). One jump at t
/// (left 0, right 1), a kink where v = t.
template <class P> struct threshold_op {
    KINK_PIECEWISE_OP(threshold_op, "threshold", "\\operatorname{threshold}", threshold)
    template <class T> static constexpr T eval(T x, T t, T v) { return x <= t ? v : x; }
    template <class T> static constexpr bool at_kink(T x, T t, T) { return x == t; }
    template <class T> static constexpr T kink_distance(T x, T t, T) { return x < t ? t - x : x - t; }
    template <std::size_t I, class T> static constexpr branch<T> d(T x, T t, T) {
        static_assert(I == 0, "kink: threshold is not differentiated with respect to its threshold or value");
        if (x > t) return smooth_branch(T(1));
        if (x < t) return smooth_branch(T(0));
        return kink_branch(T(0), T(1));
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{when("1", "$0 > $1"), at_kink_case("$0 = $1", {0}, {1}), when("0", "$0 < $1")};
    }
};

namespace detail {
template <class S> constexpr bool is_constant_arg_v = is_lit_v<graph_t<S>> || is_rconst_v<graph_t<S>>;
template <class S> constexpr bool nonnegative_arg() {
    if constexpr (is_lit_v<graph_t<S>>) return graph_t<S>::num >= 0;
    else return true; // a runtime constant: documented, not checked
}
} // namespace detail

#define KINK_CONSTANT_ARG(S, OPNAME, WHAT)                                                            \
    static_assert(detail::is_constant_arg_v<S>,                                                       \
                  "kink: " OPNAME ": the " WHAT " must be a constant: 0.5_c or constant<\"name\">(value)")

/// `softshrink(x, 0.5_c)`; the threshold defaults to 0.5 (PyTorch's default) and must be >= 0.
template <class P = policy::default_policy, expression X, expression L = ex<lit_leaf<1, 2>>>
constexpr auto softshrink(const X &x, const L &lambda = {}) {
    KINK_CHECK_POLICY(P, softshrink, "softshrink");
    KINK_CONSTANT_ARG(L, "softshrink", "threshold");
    static_assert(detail::nonnegative_arg<L>(), "kink: softshrink: the threshold must be >= 0");
    return make_node<softshrink_op<resolve_t<P, family::softshrink>>>(x, lambda);
}
template <class P = policy::default_policy, expression X, class L>
    requires plain_number_mix<X, L>
constexpr auto softshrink(const X &x, const L &lambda) {
    return softshrink<P>(x, as_expr(lambda));
}
/// `hardshrink(x, 0.5_c)`; the threshold defaults to 0.5 (PyTorch's default) and must be >= 0.
template <class P = policy::default_policy, expression X, expression L = ex<lit_leaf<1, 2>>>
constexpr auto hardshrink(const X &x, const L &lambda = {}) {
    KINK_CHECK_POLICY(P, hardshrink, "hardshrink");
    KINK_CONSTANT_ARG(L, "hardshrink", "threshold");
    static_assert(detail::nonnegative_arg<L>(), "kink: hardshrink: the threshold must be >= 0");
    return make_node<hardshrink_op<resolve_t<P, family::hardshrink>>>(x, lambda);
}
template <class P = policy::default_policy, expression X, class L>
    requires plain_number_mix<X, L>
constexpr auto hardshrink(const X &x, const L &lambda) {
    return hardshrink<P>(x, as_expr(lambda));
}
/// `threshold(x, 0.1_c, 20_c)`: x where x > 0.1, 20 elsewhere. Both must be constants.
template <class P = policy::default_policy, expression X, expression Th, expression V>
constexpr auto threshold(const X &x, const Th &t, const V &v) {
    KINK_CHECK_POLICY(P, threshold, "threshold");
    KINK_CONSTANT_ARG(Th, "threshold", "threshold");
    KINK_CONSTANT_ARG(V, "threshold", "value");
    return make_node<threshold_op<resolve_t<P, family::threshold>>>(x, t, v);
}
template <class P = policy::default_policy, expression X, class Th, class V>
    requires plain_number_mix<X, Th, V>
constexpr auto threshold(const X &x, const Th &t, const V &v) {
    return threshold<P>(x, as_expr(t), as_expr(v));
}
#undef KINK_CONSTANT_ARG

} // namespace kink

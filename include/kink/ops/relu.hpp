#pragma once
/// \file
/// The relu family: relu, leaky_relu, relu6, hardtanh. Value rule, derivative branches (with the
/// one-sided derivatives at every kink) and their printed cases, side by side. Every value rule
/// returns NaN for a NaN argument (as IEEE arithmetic and PyTorch do); every derivative at a NaN
/// argument is NaN (piecewise.hpp).

#include <kink/ops/piecewise.hpp>

namespace kink {

/// relu(x) = max(x, 0). One kink at 0: left derivative 0, right derivative 1.
template <class P> struct relu_op {
    KINK_PIECEWISE_OP(relu_op, "relu", "\\operatorname{relu}", relu)
    template <class T> static constexpr T eval(T x) { return !(x <= T(0)) ? x : T(0); } // NaN stays NaN
    template <class T> static constexpr bool at_kink(T x) { return x == T(0); }
    template <class T> static constexpr T kink_distance(T x) { return x < T(0) ? -x : x; }
    template <std::size_t I, class T> static constexpr branch<T> d(T x) {
        if (x > T(0)) return smooth_branch(T(1));
        if (x < T(0)) return smooth_branch(T(0));
        return kink_branch(T(0), T(1));
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{when("1", "$0 > 0"), at_kink_case("$0 = 0", {0}, {1}), when("0", "$0 < 0")};
    }
};

/// leaky_relu(x, a) = x for x > 0, a x otherwise. The slope a is a constant (never differentiated).
/// One kink at 0: left derivative a, right derivative 1.
template <class P> struct leaky_relu_op {
    KINK_PIECEWISE_OP(leaky_relu_op, "leaky_relu", "\\operatorname{leaky\\_relu}", leaky_relu)
    template <class T> static constexpr T eval(T x, T a) { return x > T(0) ? x : a * x; }
    template <class T> static constexpr bool at_kink(T x, T) { return x == T(0); }
    template <class T> static constexpr T kink_distance(T x, T) { return x < T(0) ? -x : x; }
    template <std::size_t I, class T> static constexpr branch<T> d(T x, T a) {
        static_assert(I == 0, "kink: leaky_relu is not differentiated with respect to its slope");
        if (x > T(0)) return smooth_branch(T(1));
        if (x < T(0)) return smooth_branch(a);
        return kink_branch(a, T(1));
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{when("1", "$0 > 0"), at_kink_case("$0 = 0", {0, 1, "$1"}, {1}), when("$1", "$0 < 0")};
    }
};

/// relu6(x) = min(max(x, 0), 6). Kinks at 0 (left 0, right 1) and 6 (left 1, right 0).
template <class P> struct relu6_op {
    KINK_PIECEWISE_OP(relu6_op, "relu6", "\\operatorname{relu6}", relu6)
    template <class T> static constexpr T eval(T x) { return x > T(6) ? T(6) : (!(x <= T(0)) ? x : T(0)); }
    template <class T> static constexpr bool at_kink(T x) { return x == T(0) || x == T(6); }
    template <class T> static constexpr T kink_distance(T x) {
        const T a = x < T(0) ? -x : x, b = x < T(6) ? T(6) - x : x - T(6);
        return a < b ? a : b;
    }
    template <std::size_t I, class T> static constexpr branch<T> d(T x) {
        if (x > T(0) && x < T(6)) return smooth_branch(T(1));
        if (x == T(0)) return kink_branch(T(0), T(1), 0);
        if (x == T(6)) return kink_branch(T(1), T(0), 1);
        return smooth_branch(T(0));
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{when("0", "$0 > 6"), at_kink_case("$0 = 6", {1}, {0}, 1), when("1", "0 < $0 < 6"),
                          at_kink_case("$0 = 0", {0}, {1}), when("0", "$0 < 0")};
    }
};

/// hardtanh(x) = min(max(x, -1), 1). Kinks at -1 (left 0, right 1) and 1 (left 1, right 0).
template <class P> struct hardtanh_op {
    KINK_PIECEWISE_OP(hardtanh_op, "hardtanh", "\\operatorname{hardtanh}", hardtanh)
    template <class T> static constexpr T eval(T x) { return x > T(1) ? T(1) : (x < T(-1) ? T(-1) : x); }
    template <class T> static constexpr bool at_kink(T x) { return x == T(1) || x == T(-1); }
    template <class T> static constexpr T kink_distance(T x) {
        const T a = x < T(-1) ? T(-1) - x : x + T(1), b = x < T(1) ? T(1) - x : x - T(1);
        return a < b ? a : b;
    }
    template <std::size_t I, class T> static constexpr branch<T> d(T x) {
        if (x > T(-1) && x < T(1)) return smooth_branch(T(1));
        if (x == T(-1)) return kink_branch(T(0), T(1), 0);
        if (x == T(1)) return kink_branch(T(1), T(0), 1);
        return smooth_branch(T(0));
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{when("0", "$0 > 1"), at_kink_case("$0 = 1", {1}, {0}, 1), when("1", "-1 < $0 < 1"),
                          at_kink_case("$0 = -1", {0}, {1}), when("0", "$0 < -1")};
    }
};

/// `relu<policy::one>(x)`; the policy defaults to `policy::default_policy` (PyTorch's values).
template <class P = policy::default_policy, expression X> constexpr auto relu(const X &x) {
    KINK_CHECK_POLICY(P, relu, "relu");
    return make_node<relu_op<resolve_t<P, family::relu>>>(x);
}
/// `leaky_relu(x, 0.2_c)`; slope defaults to 0.01 (PyTorch's default). The slope must be a
/// constant: an exact literal (`0.2_c`) or a named runtime constant (`constant<"a">(0.2)`).
template <class P = policy::default_policy, expression X, expression S = ex<lit_leaf<1, 100>>>
constexpr auto leaky_relu(const X &x, const S &slope = {}) {
    KINK_CHECK_POLICY(P, leaky_relu, "leaky_relu");
    static_assert(is_lit_v<graph_t<S>> || is_rconst_v<graph_t<S>>,
                  "kink: leaky_relu: the slope must be a constant: 0.01_c or constant<\"name\">(value)");
    return make_node<leaky_relu_op<resolve_t<P, family::leaky_relu>>>(x, slope);
}
template <class P = policy::default_policy, expression X, class S>
    requires plain_number_mix<X, S>
constexpr auto leaky_relu(const X &x, const S &slope) {
    return leaky_relu<P>(x, as_expr(slope));
}
template <class P = policy::default_policy, expression X> constexpr auto relu6(const X &x) {
    KINK_CHECK_POLICY(P, relu6, "relu6");
    return make_node<relu6_op<resolve_t<P, family::relu6>>>(x);
}
template <class P = policy::default_policy, expression X> constexpr auto hardtanh(const X &x) {
    KINK_CHECK_POLICY(P, hardtanh, "hardtanh");
    return make_node<hardtanh_op<resolve_t<P, family::hardtanh>>>(x);
}

} // namespace kink

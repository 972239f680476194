#pragma once
/// \file
/// max, min and clamp: kinks where two arguments tie.
///
/// At a tie of max(a, b) the policy gives the partials: half 1/2 each, first (1, 0), second
/// (0, 1), zero (0, 0), one (1, 1), left/right the one-sided partials. For clamp(x, lo, hi) at a
/// bound the policy picks the partial with respect to x and the bound gets the complement 1 - v,
/// so the partials always sum to the derivative of clamp(t, t, hi) = 1 along the tie.
///
/// NaN propagates: max(NaN, 1) = max(1, NaN) = NaN (torch.maximum), the same for min, and clamp
/// is NaN when x or a bound is NaN (torch.clamp).

#include <kink/ops/piecewise.hpp>

namespace kink {

template <class P> struct max_op {
    KINK_PIECEWISE_OP(max_op, "max", "\\max", max)
    template <class T> static constexpr T eval(T a, T b) { return (a < b || b != b) ? b : a; } // NaN in either
    template <class T> static constexpr bool at_kink(T a, T b) { return a == b; }
    template <class T> static constexpr T kink_distance(T a, T b) { return a < b ? b - a : a - b; }
    template <std::size_t I, class T> static constexpr branch<T> d(T a, T b) {
        const T mine = I == 0 ? a : b, other = I == 0 ? b : a;
        if (mine > other) return smooth_branch(T(1));
        if (mine < other) return smooth_branch(T(0));
        auto br = kink_branch(T(0), T(1));
        br.tie = true;
        return br;
    }
    template <std::size_t I> static constexpr auto cases() {
        auto tie = at_kink_case("$0 = $1", {0}, {1});
        tie.tie = true;
        if constexpr (I == 0) return std::array{when("1", "$0 > $1"), tie, when("0", "$0 < $1")};
        else return std::array{when("1", "$1 > $0"), tie, when("0", "$1 < $0")};
    }
};

template <class P> struct min_op {
    KINK_PIECEWISE_OP(min_op, "min", "\\min", min)
    template <class T> static constexpr T eval(T a, T b) { return (b < a || b != b) ? b : a; } // NaN in either
    template <class T> static constexpr bool at_kink(T a, T b) { return a == b; }
    template <class T> static constexpr T kink_distance(T a, T b) { return a < b ? b - a : a - b; }
    template <std::size_t I, class T> static constexpr branch<T> d(T a, T b) {
        const T mine = I == 0 ? a : b, other = I == 0 ? b : a;
        if (mine < other) return smooth_branch(T(1));
        if (mine > other) return smooth_branch(T(0));
        auto br = kink_branch(T(1), T(0));
        br.tie = true;
        return br;
    }
    template <std::size_t I> static constexpr auto cases() {
        auto tie = at_kink_case("$0 = $1", {1}, {0});
        tie.tie = true;
        if constexpr (I == 0) return std::array{when("1", "$0 < $1"), tie, when("0", "$0 > $1")};
        else return std::array{when("1", "$1 < $0"), tie, when("0", "$1 > $0")};
    }
};

/// clamp(x, lo, hi) = min(max(x, lo), hi), for lo <= hi.
template <class P> struct clamp_op {
    KINK_PIECEWISE_OP(clamp_op, "clamp", "\\operatorname{clamp}", clamp)
    template <class T> static constexpr T eval(T x, T lo, T hi) {
        if (lo != lo) return lo; // a NaN bound gives NaN, as torch.clamp
        if (hi != hi) return hi;
        return x < lo ? lo : (hi < x ? hi : x); // NaN x: x
    }
    template <class T> static constexpr bool at_kink(T x, T lo, T hi) { return x == lo || x == hi; }
    template <class T> static constexpr T kink_distance(T x, T lo, T hi) {
        const T a = x < lo ? lo - x : x - lo, b = x < hi ? hi - x : x - hi;
        return a < b ? a : b;
    }
    template <std::size_t I, class T> static constexpr branch<T> d(T x, T lo, T hi) {
        // the partial with respect to x; the bounds report its complement at their own kink
        branch<T> b;
        if (x == lo) b = kink_branch(T(0), T(1), 0);
        else if (x == hi) b = kink_branch(T(1), T(0), 1);
        else b = smooth_branch(x > lo && x < hi ? T(1) : T(0));
        if constexpr (I == 0) {
            return b;
        } else {
            const bool mine = I == 1 ? x <= lo : x >= hi;
            if (b.at_kink && ((I == 1 && b.kink_id == 0) || (I == 2 && b.kink_id == 1))) {
                b.complement = true;
                return b;
            }
            return smooth_branch(mine ? T(1) : T(0));
        }
    }
    template <std::size_t I> static constexpr auto cases() {
        if constexpr (I == 0) {
            return std::array{when("0", "$0 < $1"), at_kink_case("$0 = $1", {0}, {1}), when("1", "$1 < $0 < $2"),
                              at_kink_case("$0 = $2", {1}, {0}, 1), when("0", "$0 > $2")};
        } else if constexpr (I == 1) {
            auto k = at_kink_case("$0 = $1", {0}, {1});
            k.complement = true;
            return std::array{when("1", "$0 < $1"), k, when("0", "$0 > $1")};
        } else {
            auto k = at_kink_case("$0 = $2", {1}, {0}, 1);
            k.complement = true;
            return std::array{when("1", "$0 > $2"), k, when("0", "$0 < $2")};
        }
    }
};

template <class P = policy::default_policy, expression A, expression B> constexpr auto max(const A &a, const B &b) {
    KINK_CHECK_POLICY(P, max, "max");
    return make_node<max_op<resolve_t<P, family::max>>>(a, b);
}
template <class P = policy::default_policy, expression A, expression B> constexpr auto min(const A &a, const B &b) {
    KINK_CHECK_POLICY(P, min, "min");
    return make_node<min_op<resolve_t<P, family::min>>>(a, b);
}
template <class P = policy::default_policy, expression X, expression L, expression H>
constexpr auto clamp(const X &x, const L &lo, const H &hi) {
    KINK_CHECK_POLICY(P, clamp, "clamp");
    return make_node<clamp_op<resolve_t<P, family::clamp>>>(x, lo, hi);
}
// A plain C++ number among the arguments: as_expr's one message ("write 2_c ...").
template <class P = policy::default_policy, class A, class B>
    requires plain_number_mix<A, B>
constexpr auto max(const A &a, const B &b) {
    return max<P>(as_expr(a), as_expr(b));
}
template <class P = policy::default_policy, class A, class B>
    requires plain_number_mix<A, B>
constexpr auto min(const A &a, const B &b) {
    return min<P>(as_expr(a), as_expr(b));
}
template <class P = policy::default_policy, class X, class L, class H>
    requires plain_number_mix<X, L, H>
constexpr auto clamp(const X &x, const L &lo, const H &hi) {
    return clamp<P>(as_expr(x), as_expr(lo), as_expr(hi));
}

} // namespace kink

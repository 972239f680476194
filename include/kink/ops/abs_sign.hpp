#pragma once
/// \file
/// abs, sign and the Heaviside step. sign and step have derivative 0 wherever it exists and a
/// jump at 0; they are the ops the straight-through estimators fit. NaN in, NaN out: sign(NaN)
/// and step(NaN) are NaN (PyTorch 1.13's torch.sign and torch.heaviside return 0 there; a NaN
/// that disappears is the failure kink refuses to hide).

#include <kink/ops/piecewise.hpp>

namespace kink {

/// |x|. One kink at 0: left derivative -1, right derivative 1 (policy half gives 0).
template <class P> struct abs_op {
    KINK_PIECEWISE_OP(abs_op, "abs", "\\operatorname{abs}", abs)
    template <class T> static constexpr T eval(T x) { return x < T(0) ? -x : x; }
    template <class T> static constexpr bool at_kink(T x) { return x == T(0); }
    template <class T> static constexpr T kink_distance(T x) { return eval(x); }
    template <std::size_t I, class T> static constexpr branch<T> d(T x) {
        if (x > T(0)) return smooth_branch(T(1));
        if (x < T(0)) return smooth_branch(T(-1));
        return kink_branch(T(-1), T(1));
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{when("1", "$0 > 0"), at_kink_case("$0 = 0", {-1}, {1}), when("-1", "$0 < 0")};
    }
};

/// sign(x) in {-1, 0, 1}. Derivative 0 away from 0; at 0 a jump whose one-sided derivatives are 0.
template <class P> struct sign_op {
    KINK_PIECEWISE_OP(sign_op, "sign", "\\operatorname{sign}", sign)
    template <class T> static constexpr T eval(T x) { return x > T(0) ? T(1) : (x < T(0) ? T(-1) : (x == T(0) ? T(0) : x)); }
    template <class T> static constexpr bool at_kink(T x) { return x == T(0); }
    template <class T> static constexpr T kink_distance(T x) { return x < T(0) ? -x : x; }
    template <std::size_t I, class T> static constexpr branch<T> d(T x) {
        if (x != T(0)) return smooth_branch(T(0));
        return kink_branch(T(0), T(0));
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{when("0", "$0 != 0"), at_kink_case("$0 = 0", {0}, {0})};
    }
};

/// The Heaviside step 1[x > 0] (so step(0) = 0). Derivative 0 away from 0; a jump at 0.
template <class P> struct step_op {
    KINK_PIECEWISE_OP(step_op, "step", "\\operatorname{step}", step)
    template <class T> static constexpr T eval(T x) { return x > T(0) ? T(1) : (x <= T(0) ? T(0) : x); }
    template <class T> static constexpr bool at_kink(T x) { return x == T(0); }
    template <class T> static constexpr T kink_distance(T x) { return x < T(0) ? -x : x; }
    template <std::size_t I, class T> static constexpr branch<T> d(T x) {
        if (x != T(0)) return smooth_branch(T(0));
        return kink_branch(T(0), T(0));
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{when("0", "$0 != 0"), at_kink_case("$0 = 0", {0}, {0})};
    }
};

template <class P = policy::default_policy, expression X> constexpr auto abs(const X &x) {
    KINK_CHECK_POLICY(P, abs, "abs");
    return make_node<abs_op<resolve_t<P, family::abs>>>(x);
}
template <class P = policy::default_policy, expression X> constexpr auto sign(const X &x) {
    KINK_CHECK_POLICY(P, sign, "sign");
    return make_node<sign_op<resolve_t<P, family::sign>>>(x);
}
/// Heaviside step. Under the default (PyTorch) policy its derivative at 0 traps, as torch's
/// heaviside has no derivative; use `step<policy::straight_through>(x)` to train through it.
template <class P = policy::default_policy, expression X> constexpr auto step(const X &x) {
    KINK_CHECK_POLICY(P, step, "step");
    return make_node<step_op<resolve_t<P, family::step>>>(x);
}

} // namespace kink

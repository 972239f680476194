#pragma once
/// \file
/// The hard gates: hardsigmoid and hardswish (Howard et al., "Searching for MobileNetV3", 2019),
/// the piecewise-linear stand-ins for sigmoid and swish. Both have kinks at -3 and 3 (kink 0 and
/// kink 1, in that order, for `policy::per_kink`). Value rule, derivative branches and printed
/// cases side by side; NaN in, NaN out (piecewise.hpp).

#include <kink/ops/piecewise.hpp>

namespace kink {

namespace detail {
/// relu6(x + 3) = min(max(x + 3, 0), 6), NaN staying NaN: the gate both ops share, computed as
/// PyTorch computes it (aten/src/ATen/native/cpu/Activation.cpp).
template <class T> constexpr T hard_gate(T x) {
    const T u = x + T(3);
    return u > T(6) ? T(6) : (!(u <= T(0)) ? u : T(0));
}
} // namespace detail

/// hardsigmoid(x) = relu6(x + 3) / 6: 0 below -3, x/6 + 1/2 between, 1 above 3. Kinks at -3
/// (left 0, right 1/6) and 3 (left 1/6, right 0).
template <class P> struct hardsigmoid_op {
    KINK_PIECEWISE_OP(hardsigmoid_op, "hardsigmoid", "\\operatorname{hardsigmoid}", hardsigmoid)
    template <class T> static constexpr T eval(T x) { return detail::hard_gate(x) / T(6); }
    template <class T> static constexpr bool at_kink(T x) { return x == T(-3) || x == T(3); }
    template <class T> static constexpr T kink_distance(T x) {
        const T a = x < T(-3) ? T(-3) - x : x + T(3), b = x < T(3) ? T(3) - x : x - T(3);
        return a < b ? a : b;
    }
    template <std::size_t I, class T> static constexpr branch<T> d(T x) {
        if (x > T(-3) && x < T(3)) return smooth_branch(T(1) / T(6));
        if (x == T(-3)) return kink_branch(T(0), T(1) / T(6), 0);
        if (x == T(3)) return kink_branch(T(1) / T(6), T(0), 1);
        return smooth_branch(T(0));
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{when("0", "$0 > 3"), at_kink_case("$0 = 3", {1, 6}, {0}, 1), when("1/6", "-3 < $0 < 3"),
                          at_kink_case("$0 = -3", {0}, {1, 6}, 0), when("0", "$0 < -3")};
    }
};

/// hardswish(x) = x relu6(x + 3) / 6: 0 below -3, x (x + 3) / 6 between, x above 3. Kinks at -3
/// (left 0, right -1/2) and 3 (left 3/2, right 1); the derivative x/3 + 1/2 of the middle piece
/// has derivative 1/3, written as 2 hardsigmoid'(x) so that it too has its kinks' policy.
template <class P> struct hardswish_op {
    KINK_PIECEWISE_OP(hardswish_op, "hardswish", "\\operatorname{hardswish}", hardswish)
    template <class T> static constexpr T eval(T x) { return x * detail::hard_gate(x) / T(6); }
    template <class T> static constexpr bool at_kink(T x) { return x == T(-3) || x == T(3); }
    template <class T> static constexpr T kink_distance(T x) { return hardsigmoid_op<P>::kink_distance(x); }
    template <std::size_t I, class T> static constexpr branch<T> d(T x) {
        if (x > T(-3) && x < T(3)) return smooth_branch(x / T(3) + T(1) / T(2));
        if (x == T(-3)) return kink_branch(T(0), T(-1) / T(2), 0);
        if (x == T(3)) return kink_branch(T(3) / T(2), T(1), 1);
        return smooth_branch(x > T(3) ? T(1) : T(0));
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{when("1", "$0 > 3"), at_kink_case("$0 = 3", {3, 2}, {1}, 1), when("$0/3 + 1/2", "-3 < $0 < 3"),
                          at_kink_case("$0 = -3", {0}, {-1, 2}, 0), when("0", "$0 < -3")};
    }
    template <std::size_t I, std::size_t J, class Self>
    using second = mul_t<lit_leaf<2>, dkink_t<0, node<hardsigmoid_op<P>, arg_t<0, Self>>>>;
};

/// `hardsigmoid(x)`; the policy defaults to PyTorch's values (0 at both kinks).
template <class P = policy::default_policy, expression X> constexpr auto hardsigmoid(const X &x) {
    KINK_CHECK_POLICY(P, hardsigmoid, "hardsigmoid");
    return make_node<hardsigmoid_op<resolve_t<P, family::hardsigmoid>>>(x);
}
/// `hardswish(x)`; the policy defaults to PyTorch's values (the middle piece at both kinks:
/// -1/2 at -3, 3/2 at 3, `per_kink<right, left>`).
template <class P = policy::default_policy, expression X> constexpr auto hardswish(const X &x) {
    KINK_CHECK_POLICY(P, hardswish, "hardswish");
    return make_node<hardswish_op<resolve_t<P, family::hardswish>>>(x);
}

} // namespace kink

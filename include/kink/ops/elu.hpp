#pragma once
/// \file
/// The exponential linear units: elu (Clevert et al., ICLR 2016), selu (Klambauer et al., NeurIPS
/// 2017) and celu (Barron, 2017). Value rule, derivative branches and printed cases side by side;
/// NaN in, NaN out (piecewise.hpp). elu with alpha != 1 and selu have a kink at 0; elu with
/// alpha = 1 and celu have a continuous derivative there (no kink: every policy gives 1), and
/// their second derivative jumps at 0.

#include <kink/ops/piecewise.hpp>
#include <kink/ops/relu.hpp>
#include <kink/ops/smooth.hpp>

namespace kink {

namespace detail {
/// [x < 0] as a graph: relu'(-x), whose value at 0 the policy P chooses.
template <class P, class X> using below_zero_t = dkink_t<0, node<relu_op<strip_count_t<P>>, neg_t<X>>>;
/// selu's constants (Klambauer et al., eq. 14; torch.nn.SELU uses the same digits).
inline constexpr double selu_alpha = 1.6732632423543772848170429916717;
inline constexpr double selu_scale = 1.0507009873554804934193349852946;
} // namespace detail

/// elu(x, a) = x for x > 0, a (e^x - 1) otherwise. The slope a is a constant. For a != 1, one
/// kink at 0: left derivative a, right 1.
template <class P> struct elu_op {
    KINK_PIECEWISE_OP(elu_op, "elu", "\\operatorname{elu}", elu)
    template <class T> static T eval(T x, T a) {
        using std::expm1;
        return !(x <= T(0)) ? x : a * expm1(x);
    }
    template <class T> static constexpr bool at_kink(T x, T a) { return x == T(0) && a != T(1); }
    template <class T> static constexpr T kink_distance(T x, T) { return x < T(0) ? -x : x; }
    template <std::size_t I, class T> static branch<T> d(T x, T a) {
        static_assert(I == 0, "kink: elu is not differentiated with respect to alpha");
        using std::exp;
        if (x > T(0)) return smooth_branch(T(1));
        if (x < T(0)) return smooth_branch(a * exp(x));
        return a == T(1) ? smooth_branch(T(1)) : kink_branch(a, T(1));
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{when("1", "$0 > 0"), at_kink_case("$0 = 0", {0, 1, "$1"}, {1}), when("$1 exp($0)", "$0 < 0")};
    }
    /// elu'' = a e^x below 0, 0 above.
    template <std::size_t I, std::size_t J, class Self>
    using second = std::conditional_t<J == 0,
                                      mul_t<detail::below_zero_t<P, arg_t<0, Self>>,
                                            mul_t<arg_t<1, Self>, node<exp_op, arg_t<0, Self>>>>,
                                      zero_t>;
};

/// selu(x) = s x for x > 0, s a (e^x - 1) otherwise, s = 1.0507..., a = 1.6732... One kink at 0:
/// left derivative s a = 1.7581..., right s.
template <class P> struct selu_op {
    KINK_PIECEWISE_OP(selu_op, "selu", "\\operatorname{selu}", selu)
    template <class T> static T eval(T x) {
        using std::expm1;
        return !(x <= T(0)) ? T(detail::selu_scale) * x : T(detail::selu_scale * detail::selu_alpha) * expm1(x);
    }
    template <class T> static constexpr bool at_kink(T x) { return x == T(0); }
    template <class T> static constexpr T kink_distance(T x) { return x < T(0) ? -x : x; }
    template <std::size_t I, class T> static branch<T> d(T x) {
        using std::exp;
        const T s = T(detail::selu_scale), sa = T(detail::selu_scale * detail::selu_alpha);
        if (x > T(0)) return smooth_branch(s);
        if (x < T(0)) return smooth_branch(sa * exp(x));
        return kink_branch(sa, s);
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{when("1.0507009873554805", "$0 > 0"),
                          at_kink_case("$0 = 0", {0, 1, "1.7580993408473766"}, {0, 1, "1.0507009873554805"}),
                          when("1.7580993408473766 exp($0)", "$0 < 0")};
    }
    /// selu'' = s a e^x below 0, 0 above: the derivative below 0 is its own derivative there.
    template <std::size_t I, std::size_t J, class Self>
    using second = mul_t<detail::below_zero_t<P, arg_t<0, Self>>, Self>;
};

/// celu(x, a) = x for x > 0, a (e^(x/a) - 1) otherwise (a > 0). No kink: the derivative,
/// e^(x/a) below 0 and 1 above, is continuous. Its policy is never consulted for the first
/// derivative; it chooses the second derivative's value at 0 (1/a from the left, 0 from the right).
template <class P> struct celu_op {
    KINK_PIECEWISE_OP(celu_op, "celu", "\\operatorname{celu}", elu)
    template <class T> static T eval(T x, T a) {
        using std::expm1;
        return !(x <= T(0)) ? x : a * expm1(x / a);
    }
    template <class T> static constexpr bool at_kink(T, T) { return false; }
    template <class T> static constexpr T kink_distance(T x, T) { return x < T(0) ? -x : x; }
    template <std::size_t I, class T> static branch<T> d(T x, T a) {
        static_assert(I == 0, "kink: celu is not differentiated with respect to alpha");
        using std::exp;
        return smooth_branch(x > T(0) ? T(1) : exp(x / a));
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{when("1", "$0 > 0"), when("exp($0/$1)", "$0 <= 0")};
    }
    /// celu'' = e^(x/a) / a below 0, 0 above.
    template <std::size_t I, std::size_t J, class Self>
    using second = std::conditional_t<J == 0, mul_t<detail::below_zero_t<P, arg_t<0, Self>>, div_t<Self, arg_t<1, Self>>>,
                                      zero_t>;
};

/// `elu(x)`, `elu(x, 0.5_c)`; alpha defaults to 1 (PyTorch's default) and must be a constant.
/// The policy defaults to PyTorch's value at the kink (alpha, the left side).
template <class P = policy::default_policy, expression X, expression A = ex<lit_leaf<1>>>
constexpr auto elu(const X &x, const A &alpha = {}) {
    KINK_CHECK_POLICY(P, elu, "elu");
    static_assert(is_lit_v<graph_t<A>> || is_rconst_v<graph_t<A>>,
                  "kink: elu: alpha must be a constant: 1_c or constant<\"name\">(value)");
    return make_node<elu_op<resolve_t<P, family::elu>>>(x, alpha);
}
template <class P = policy::default_policy, expression X, class A>
    requires plain_number_mix<X, A>
constexpr auto elu(const X &x, const A &alpha) {
    return elu<P>(x, as_expr(alpha));
}
/// `selu(x)`; the policy defaults to PyTorch's value at the kink (s a, the left side).
template <class P = policy::default_policy, expression X> constexpr auto selu(const X &x) {
    KINK_CHECK_POLICY(P, selu, "selu");
    return make_node<selu_op<resolve_t<P, family::selu>>>(x);
}
/// `celu(x)`, `celu(x, 0.5_c)`; alpha defaults to 1 (PyTorch's default), a constant > 0.
template <class P = policy::default_policy, expression X, expression A = ex<lit_leaf<1>>>
constexpr auto celu(const X &x, const A &alpha = {}) {
    KINK_CHECK_POLICY(P, elu, "celu");
    static_assert(is_lit_v<graph_t<A>> || is_rconst_v<graph_t<A>>,
                  "kink: celu: alpha must be a constant: 1_c or constant<\"name\">(value)");
    if constexpr (is_lit_v<graph_t<A>>) static_assert(graph_t<A>::num > 0, "kink: celu: alpha must be > 0");
    return make_node<celu_op<resolve_t<P, family::elu>>>(x, alpha);
}
template <class P = policy::default_policy, expression X, class A>
    requires plain_number_mix<X, A>
constexpr auto celu(const X &x, const A &alpha) {
    return celu<P>(x, as_expr(alpha));
}

} // namespace kink

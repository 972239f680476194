#pragma once
/// \file
/// The smooth activations: silu (swish), gelu (its exact erf form and the tanh approximation),
/// mish and softsign. Each value rule is computed in one pass; each derivative is a graph of
/// differentiable ops (sigmoid, tanh, softplus, the normal distribution), so grad of grad is exact
/// too, and the backward pass reuses the node's output where that saves work (silu' = s + y (1 - s)).
/// Sources for the formulas: PyTorch's kernels (aten/src/ATen/native/cpu/Activation.cpp), which
/// these reproduce to rounding.

#include <cmath>
#include <string_view>

#include <kink/ops/abs_sign.hpp>
#include <kink/ops/arith.hpp>
#include <kink/ops/smooth.hpp>

namespace kink {

#define KINK_FUNCTION_OP(NAME, LATEX)                                                                \
    static constexpr std::string_view name = #NAME, latex = LATEX;                                  \
    static constexpr notation style = notation::function;                                           \
    static constexpr int prec = 5;

/// silu(x) = x sigmoid(x) (Elfwing et al. 2018; "swish" with beta = 1, Ramachandran et al. 2017).
struct silu_op {
    KINK_FUNCTION_OP(silu, "\\operatorname{silu}")
    template <class T> static T eval(T x) { return x * sigmoid_op::eval(x); }
    template <std::size_t, class Self>
    using partial = add_t<node<sigmoid_op, arg_t<0, Self>>, mul_t<Self, sub_t<one_t, node<sigmoid_op, arg_t<0, Self>>>>>;
};

/// gelu(x) = x Phi(x), Phi the standard normal distribution function (Hendrycks & Gimpel 2016;
/// PyTorch's F.gelu, approximate='none'). gelu' = Phi(x) + x phi(x).
struct gelu_op {
    KINK_FUNCTION_OP(gelu, "\\operatorname{gelu}")
    template <class T> static T eval(T x) { return x * normal_cdf_op::eval(x); }
    template <std::size_t, class Self>
    using partial = add_t<node<normal_cdf_op, arg_t<0, Self>>, mul_t<arg_t<0, Self>, node<normal_pdf_op, arg_t<0, Self>>>>;
};

namespace detail {
/// The tanh approximation's constants: sqrt(2 / pi) and 0.044715 (Hendrycks & Gimpel, eq. 2).
inline constexpr double gelu_k = 0.79788456080286535587989211986876, gelu_c = 0.044715;
} // namespace detail
struct gelu_tanh_darg3_op;
struct gelu_tanh_darg2_op;
struct gelu_tanh_darg_op;
/// v(x) = 2 sqrt(2/pi) (x + 0.044715 x^3), twice the argument of the tanh, and its derivatives:
/// each an op (the constants are not rational), the last one constant.
struct gelu_tanh_arg_op {
    KINK_FUNCTION_OP(gelu_tanh_arg, "v_{\\operatorname{gelu}}")
    template <class T> static T eval(T x) { return T(2 * detail::gelu_k) * (x + T(detail::gelu_c) * x * x * x); }
    template <std::size_t, class Self> using partial = node<gelu_tanh_darg_op, arg_t<0, Self>>;
};
struct gelu_tanh_darg_op {
    KINK_FUNCTION_OP(gelu_tanh_darg, "v^{(1)}_{\\operatorname{gelu}}")
    template <class T> static T eval(T x) { return T(2 * detail::gelu_k) * (T(1) + T(3 * detail::gelu_c) * x * x); }
    template <std::size_t, class Self> using partial = node<gelu_tanh_darg2_op, arg_t<0, Self>>;
};
struct gelu_tanh_darg2_op {
    KINK_FUNCTION_OP(gelu_tanh_darg2, "v^{(2)}_{\\operatorname{gelu}}")
    template <class T> static T eval(T x) { return T(12 * detail::gelu_k * detail::gelu_c) * x; }
    template <std::size_t, class Self> using partial = node<gelu_tanh_darg3_op, arg_t<0, Self>>;
};
struct gelu_tanh_darg3_op {
    KINK_FUNCTION_OP(gelu_tanh_darg3, "v^{(3)}_{\\operatorname{gelu}}")
    template <class T> static T eval(T) { return T(12 * detail::gelu_k * detail::gelu_c); }
    template <std::size_t, class Self> using partial = zero_t;
};
/// gelu_tanh(x) = x (1 + tanh(u)) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3) (PyTorch's F.gelu,
/// approximate='tanh'), computed as x sigmoid(2u): the same function without the cancellation of
/// 1 + tanh(u) at negative x (PyTorch's form is exactly 0 below x = -9, where the value is about
/// -1e-34). gelu_tanh' = s + x s (1 - s) v'(x), s = sigmoid(v), v = 2u, with 1 - s = sigmoid(-v).
struct gelu_tanh_op {
    KINK_FUNCTION_OP(gelu_tanh, "\\operatorname{gelu_{tanh}}")
    template <class T> static T eval(T x) { return x * sigmoid_op::eval(gelu_tanh_arg_op::eval(x)); }
    template <class X> using s = node<sigmoid_op, node<gelu_tanh_arg_op, X>>;
    template <class X> using s_neg = node<sigmoid_op, neg_t<node<gelu_tanh_arg_op, X>>>; // 1 - s, without cancellation
    template <std::size_t, class Self>
    using partial = add_t<s<arg_t<0, Self>>, mul_t<arg_t<0, Self>, mul_t<mul_t<s<arg_t<0, Self>>, s_neg<arg_t<0, Self>>>,
                                                                        node<gelu_tanh_darg_op, arg_t<0, Self>>>>>;
};

/// mish(x) = x tanh(softplus(x)) (Misra 2019). mish' = tanh(sp) + x (1 - tanh^2(sp)) sigmoid(x).
struct mish_op {
    KINK_FUNCTION_OP(mish, "\\operatorname{mish}")
    template <class T> static T eval(T x) {
        using std::tanh;
        return x * tanh(softplus_op::eval(x));
    }
    template <class X> using th = node<tanh_op, node<softplus_op, X>>;
    template <std::size_t, class Self>
    using partial = add_t<th<arg_t<0, Self>>, mul_t<arg_t<0, Self>, mul_t<sub_t<one_t, pow_t<2, th<arg_t<0, Self>>>>,
                                                                          node<sigmoid_op, arg_t<0, Self>>>>>;
};

/// softsign(x) = x / (1 + |x|). softsign' = (1 + |x|)^-2: smooth at 0 (1 from both sides); the
/// second derivative jumps there (2 to -2) and takes abs's default policy.
struct softsign_op {
    KINK_FUNCTION_OP(softsign, "\\operatorname{softsign}")
    template <class T> static T eval(T x) { return x / (T(1) + (x < T(0) ? -x : x)); }
    template <std::size_t, class Self>
    using partial = pow_t<-2, add_t<one_t, node<abs_op<resolve_t<policy::default_policy, family::abs>>, arg_t<0, Self>>>>;
};
#undef KINK_FUNCTION_OP

template <expression X> constexpr auto silu(const X &x) { return make_node<silu_op>(x); }
template <expression X> constexpr auto gelu(const X &x) { return make_node<gelu_op>(x); }
template <expression X> constexpr auto gelu_tanh(const X &x) { return make_node<gelu_tanh_op>(x); }
template <expression X> constexpr auto mish(const X &x) { return make_node<mish_op>(x); }
template <expression X> constexpr auto softsign(const X &x) { return make_node<softsign_op>(x); }

} // namespace kink

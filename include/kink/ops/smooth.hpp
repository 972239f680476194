#pragma once
/// \file
/// Smooth elementwise functions. Derivatives are written in terms of the node's own output where
/// that is cheaper (exp' = exp, tanh' = 1 - tanh^2, sigmoid' = s(1 - s)), so the backward pass
/// reuses what the forward pass computed.

#include <cmath>
#include <string_view>

#include <kink/ops/arith.hpp>

namespace kink {

struct sigmoid_op;
struct cos_op;
struct sin_op;
struct normal_pdf_op;

#define KINK_FUNCTION_OP(NAME, LATEX)                                                                \
    static constexpr std::string_view name = #NAME, latex = LATEX;                                  \
    static constexpr notation style = notation::function;                                           \
    static constexpr int prec = 5;

struct exp_op {
    KINK_FUNCTION_OP(exp, "\\exp")
    template <class T> static T eval(T x) { using std::exp; return exp(x); }
    template <std::size_t, class Self> using partial = Self;
};
struct log_op {
    KINK_FUNCTION_OP(log, "\\log")
    template <class T> static T eval(T x) { using std::log; return log(x); }
    template <std::size_t, class Self> using partial = div_t<one_t, arg_t<0, Self>>;
};
struct sqrt_op {
    KINK_FUNCTION_OP(sqrt, "\\sqrt")
    template <class T> static T eval(T x) { using std::sqrt; return sqrt(x); }
    template <std::size_t, class Self> using partial = div_t<lit_leaf<1, 2>, Self>;
};
struct tanh_op {
    KINK_FUNCTION_OP(tanh, "\\tanh")
    template <class T> static T eval(T x) { using std::tanh; return tanh(x); }
    template <std::size_t, class Self> using partial = sub_t<one_t, pow_t<2, Self>>;
};
struct sigmoid_op {
    KINK_FUNCTION_OP(sigmoid, "\\sigma")
    template <class T> static T eval(T x) {
        using std::exp;
        if (x >= T(0)) return T(1) / (T(1) + exp(-x));
        const T e = exp(x);
        return e / (T(1) + e);
    }
    template <std::size_t, class Self> using partial = mul_t<Self, sub_t<one_t, Self>>;
};
struct softplus_op {
    KINK_FUNCTION_OP(softplus, "\\operatorname{softplus}")
    /// log(1 + e^x), computed without overflow.
    template <class T> static T eval(T x) {
        using std::exp;
        using std::log1p;
        const T ax = x < T(0) ? -x : x;
        return log1p(exp(-ax)) + (x > T(0) ? x : T(0));
    }
    template <std::size_t, class Self> using partial = node<sigmoid_op, arg_t<0, Self>>;
};
struct sin_op {
    KINK_FUNCTION_OP(sin, "\\sin")
    template <class T> static T eval(T x) { using std::sin; return sin(x); }
    template <std::size_t, class Self> using partial = node<cos_op, arg_t<0, Self>>;
};
struct cos_op {
    KINK_FUNCTION_OP(cos, "\\cos")
    template <class T> static T eval(T x) { using std::cos; return cos(x); }
    template <std::size_t, class Self> using partial = neg_t<node<sin_op, arg_t<0, Self>>>;
};
/// The standard normal density, e^(-x^2/2) / sqrt(2 pi); its derivative is -x times itself.
struct normal_pdf_op {
    KINK_FUNCTION_OP(normal_pdf, "\\varphi")
    template <class T> static T eval(T x) {
        using std::exp;
        return T(0.39894228040143267793994605993438) * exp(-(x * x) / T(2));
    }
    template <std::size_t, class Self> using partial = neg_t<mul_t<arg_t<0, Self>, Self>>;
};
/// The standard normal distribution function, erfc(-x / sqrt 2) / 2 (accurate in both tails,
/// where (1 + erf(x / sqrt 2)) / 2 loses every digit below x = -6).
struct normal_cdf_op {
    KINK_FUNCTION_OP(normal_cdf, "\\Phi")
    template <class T> static T eval(T x) {
        using std::erfc;
        return erfc(-x * T(0.70710678118654752440084436210485)) / T(2);
    }
    template <std::size_t, class Self> using partial = node<normal_pdf_op, arg_t<0, Self>>;
};
#undef KINK_FUNCTION_OP

template <expression X> constexpr auto exp(const X &x) { return make_node<exp_op>(x); }
template <expression X> constexpr auto log(const X &x) { return make_node<log_op>(x); }
template <expression X> constexpr auto sqrt(const X &x) { return make_node<sqrt_op>(x); }
template <expression X> constexpr auto tanh(const X &x) { return make_node<tanh_op>(x); }
template <expression X> constexpr auto sigmoid(const X &x) { return make_node<sigmoid_op>(x); }
template <expression X> constexpr auto softplus(const X &x) { return make_node<softplus_op>(x); }
template <expression X> constexpr auto sin(const X &x) { return make_node<sin_op>(x); }
template <expression X> constexpr auto cos(const X &x) { return make_node<cos_op>(x); }
template <expression X> constexpr auto normal_pdf(const X &x) { return make_node<normal_pdf_op>(x); }
template <expression X> constexpr auto normal_cdf(const X &x) { return make_node<normal_cdf_op>(x); }

} // namespace kink

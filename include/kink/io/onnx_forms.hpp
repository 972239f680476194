#pragma once
/// \file
/// The ONNX forms of kink's ops (`onnx::form<Op>`, io/onnx_builder.hpp): for each op family, the
/// ONNX nodes that compute it (io/onnx.hpp lists them).

#include <cstdint>
#include <string>
#include <vector>

#include <kink/io/onnx_builder.hpp>
#include <kink/ops/abs_sign.hpp>
#include <kink/ops/activation.hpp>
#include <kink/ops/batch_norm.hpp>
#include <kink/ops/conv.hpp>
#include <kink/ops/elu.hpp>
#include <kink/ops/hard.hpp>
#include <kink/ops/minmax.hpp>
#include <kink/ops/pool.hpp>
#include <kink/ops/reduce.hpp>
#include <kink/ops/relu.hpp>
#include <kink/ops/shrink.hpp>
#include <kink/ops/smooth.hpp>

namespace kink::onnx {

/// Elementwise binary arithmetic: Add, Sub, Mul, Div (numpy broadcasting; per-channel operands reshaped).
#define KINK_ONNX_BINARY(OP, NAME)                                                                                        \
    template <> struct form<OP> {                                                                                        \
        template <class Node, class B> static void emit(B &b, const std::string &out) {                                  \
            b.node(NAME, {b.template operand<Node, 0>(), b.template operand<Node, 1>()}, {out});                       \
        }                                                                                                                \
    };
KINK_ONNX_BINARY(add_op, "Add")
KINK_ONNX_BINARY(sub_op, "Sub")
KINK_ONNX_BINARY(mul_op, "Mul")
KINK_ONNX_BINARY(div_op, "Div")
#undef KINK_ONNX_BINARY

/// Elementwise unary functions with an ONNX op of their own.
#define KINK_ONNX_UNARY(OP, NAME)                                                                                         \
    template <> struct form<OP> {                                                                                        \
        template <class Node, class B> static void emit(B &b, const std::string &out) {                                  \
            b.node(NAME, {b.template in<Node, 0>()}, {out});                                                            \
        }                                                                                                                \
    };
KINK_ONNX_UNARY(neg_op, "Neg")
KINK_ONNX_UNARY(exp_op, "Exp")
KINK_ONNX_UNARY(log_op, "Log")
KINK_ONNX_UNARY(sqrt_op, "Sqrt")
KINK_ONNX_UNARY(tanh_op, "Tanh")
KINK_ONNX_UNARY(sigmoid_op, "Sigmoid")
KINK_ONNX_UNARY(flatten_op, "Flatten")
KINK_ONNX_UNARY(softplus_op, "Softplus")
KINK_ONNX_UNARY(softsign_op, "Softsign")
KINK_ONNX_UNARY(sin_op, "Sin")
KINK_ONNX_UNARY(cos_op, "Cos")
#undef KINK_ONNX_UNARY

template <class P> struct form<abs_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) { b.node("Abs", {b.template in<Node, 0>()}, {out}); }
};
/// x^N: Pow with the exponent as a constant.
template <int N> struct form<pow_op<N>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("Pow", {b.template in<Node, 0>(), b.constant(out + "_exponent", double(N))}, {out});
    }
};
/// relu6 and hardtanh: Clip between constants.
template <class P> struct form<relu6_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("Clip", {b.template in<Node, 0>(), b.constant(out + "_lo", 0.0), b.constant(out + "_hi", 6.0)}, {out});
    }
};
template <class P> struct form<hardtanh_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("Clip", {b.template in<Node, 0>(), b.constant(out + "_lo", -1.0), b.constant(out + "_hi", 1.0)}, {out});
    }
};
/// selu with PyTorch's constants (kink's), not ONNX's float defaults.
template <class P> struct form<selu_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("Selu", {b.template in<Node, 0>()}, {out}, {attr_f("alpha", ::kink::detail::selu_alpha), attr_f("gamma", ::kink::detail::selu_scale)});
    }
};
template <class P> struct form<celu_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("Celu", {b.template in<Node, 0>()}, {out}, {attr_f("alpha", b.template number<arg_t<1, Node>>())});
    }
};
/// mish(x) = x tanh(softplus(x)) (Mish is an op only from opset 18).
template <> struct form<mish_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        const std::string x = b.template in<Node, 0>();
        b.node("Softplus", {x}, {out + "_softplus"});
        b.node("Tanh", {out + "_softplus"}, {out + "_tanh"});
        b.node("Mul", {x, out + "_tanh"}, {out});
    }
};
/// gelu_tanh(x) = x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)), kink's form of PyTorch's tanh approximation.
template <> struct form<gelu_tanh_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        const std::string x = b.template in<Node, 0>();
        b.node("Pow", {x, b.constant(out + "_three", 3.0)}, {out + "_cube"});
        b.node("Mul", {out + "_cube", b.constant(out + "_c", ::kink::detail::gelu_c)}, {out + "_cubic"});
        b.node("Add", {x, out + "_cubic"}, {out + "_inner"});
        b.node("Mul", {out + "_inner", b.constant(out + "_k2", 2 * ::kink::detail::gelu_k)}, {out + "_v"});
        b.node("Sigmoid", {out + "_v"}, {out + "_s"});
        b.node("Mul", {x, out + "_s"}, {out});
    }
};
/// A sample's vector reduced to one value, kept as [N, 1] so that it broadcasts against [N, n].
template <> struct form<mean_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("ReduceMean", {b.template in<Node, 0>()}, {out}, {attr_ints("axes", {-1}), attr("keepdims", 1)});
    }
};
template <> struct form<sum_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("ReduceSum", {b.template in<Node, 0>(), b.shape_constant(out + "_axes", {-1})}, {out}, {attr("keepdims", 1)});
    }
};
template <> struct form<softmax_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("Softmax", {b.template in<Node, 0>()}, {out}, {attr("axis", -1)});
    }
};
template <> struct form<log_softmax_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("LogSoftmax", {b.template in<Node, 0>()}, {out}, {attr("axis", -1)});
    }
};

template <class P> struct form<relu_op<P>> { // the policy decides derivatives only
    template <class Node, class B> static void emit(B &b, const std::string &out) { b.node("Relu", {b.template in<Node, 0>()}, {out}); }
};
template <class P> struct form<leaky_relu_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("LeakyRelu", {b.template in<Node, 0>()}, {out}, {attr_f("alpha", b.template number<arg_t<1, Node>>())});
    }
};
template <class P> struct form<elu_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("Elu", {b.template in<Node, 0>()}, {out}, {attr_f("alpha", b.template number<arg_t<1, Node>>())});
    }
};
template <class P> struct form<hardsigmoid_op<P>> { // relu6(x + 3) / 6: HardSigmoid(alpha 1/6, beta 1/2)
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("HardSigmoid", {b.template in<Node, 0>()}, {out}, {attr_f("alpha", 1.0 / 6.0), attr_f("beta", 0.5)});
    }
};
template <class P> struct form<hardswish_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) { b.node("HardSwish", {b.template in<Node, 0>()}, {out}); }
};
/// silu(x) = x sigmoid(x).
template <> struct form<silu_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        const std::string x = b.template in<Node, 0>();
        b.node("Sigmoid", {x}, {out + "_sigmoid"});
        b.node("Mul", {x, out + "_sigmoid"}, {out});
    }
};
/// gelu(x) = x (1 + erf(x / sqrt 2)) / 2 (Gelu is an op only from opset 20).
template <> struct form<gelu_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        const std::string x = b.template in<Node, 0>();
        b.node("Div", {x, b.constant(out + "_sqrt2", 1.4142135623730951)}, {out + "_scaled"});
        b.node("Erf", {out + "_scaled"}, {out + "_erf"});
        b.node("Add", {out + "_erf", b.constant(out + "_one", 1.0)}, {out + "_1perf"});
        b.node("Mul", {x, out + "_1perf"}, {out + "_prod"});
        b.node("Mul", {out + "_prod", b.constant(out + "_half", 0.5)}, {out});
    }
};
/// The piecewise ops. Their policies decide derivatives only; the values are ONNX's ops or exact
/// compositions of them (NaN inputs aside: ONNX's comparisons give false where kink keeps the NaN).
/// max(a, b), min(a, b): Max, Min (numpy broadcasting).
template <class P> struct form<max_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("Max", {b.template operand<Node, 0>(), b.template operand<Node, 1>()}, {out});
    }
};
template <class P> struct form<min_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("Min", {b.template operand<Node, 0>(), b.template operand<Node, 1>()}, {out});
    }
};
/// clamp(x, lo, hi) = max(min(x, hi), lo) for lo <= hi (bounds of any shape that broadcasts).
template <class P> struct form<clamp_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("Min", {b.template operand<Node, 0>(), b.template operand<Node, 2>()}, {out + "_upper"});
        b.node("Max", {out + "_upper", b.template operand<Node, 1>()}, {out});
    }
};
/// The largest value of a sample's vector, kept as [N, 1] (as mean).
template <class P> struct form<max_reduce_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("ReduceMax", {b.template in<Node, 0>()}, {out}, {attr_ints("axes", {-1}), attr("keepdims", 1)});
    }
};
template <class P> struct form<sign_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) { b.node("Sign", {b.template in<Node, 0>()}, {out}); }
};
/// step(x) = 1 where x > 0, else 0: Cast(Greater(x, 0)).
template <class P> struct form<step_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("Greater", {b.template in<Node, 0>(), b.constant(out + "_zero", 0.0)}, {out + "_positive"});
        b.node("Cast", {out + "_positive"}, {out}, {attr("to", B::elem)});
    }
};
/// softshrink and hardshrink: Shrink(lambd = lambda, bias = lambda or 0); at |x| = lambda both give 0, as kink.
template <class P> struct form<softshrink_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        const double l = b.template number<arg_t<1, Node>>();
        b.node("Shrink", {b.template in<Node, 0>()}, {out}, {attr_f("lambd", l), attr_f("bias", l)});
    }
};
template <class P> struct form<hardshrink_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("Shrink", {b.template in<Node, 0>()}, {out}, {attr_f("lambd", b.template number<arg_t<1, Node>>()), attr_f("bias", 0.0)});
    }
};
/// threshold(x, t, v) = x where x > t, else v: Where(Greater(x, t), x, v).
template <class P> struct form<threshold_op<P>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        const std::string x = b.template in<Node, 0>();
        b.node("Greater", {x, b.template operand<Node, 1>()}, {out + "_above"});
        b.node("Where", {out + "_above", x, b.template operand<Node, 2>()}, {out});
    }
};
/// The standard normal's density and distribution: exp(-x^2 / 2) / sqrt(2 pi) and (1 + erf(x / sqrt 2)) / 2.
template <> struct form<normal_pdf_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        const std::string x = b.template in<Node, 0>();
        b.node("Mul", {x, x}, {out + "_square"});
        b.node("Mul", {out + "_square", b.constant(out + "_minus_half", -0.5)}, {out + "_exponent"});
        b.node("Exp", {out + "_exponent"}, {out + "_exp"});
        b.node("Mul", {out + "_exp", b.constant(out + "_scale", 0.39894228040143267793994605993438)}, {out});
    }
};
template <> struct form<normal_cdf_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("Div", {b.template in<Node, 0>(), b.constant(out + "_sqrt2", 1.4142135623730951)}, {out + "_scaled"});
        b.node("Erf", {out + "_scaled"}, {out + "_erf"});
        b.node("Add", {out + "_erf", b.constant(out + "_one", 1.0)}, {out + "_1perf"});
        b.node("Mul", {out + "_1perf", b.constant(out + "_half", 0.5)}, {out});
    }
};
/// A matrix's transpose (a parameter's, or each sample's).
template <> struct form<transpose_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        using A = arg_t<0, Node>;
        static_assert(shape_of_t<A>::rank == 2, "kink: onnx::save: transpose is exported for matrices");
        b.node("Transpose", {b.template in<Node, 0>()}, {out}, {attr_ints("perm", batched_v<A> ? std::vector<std::int64_t>{0, 2, 1} : std::vector<std::int64_t>{1, 0})});
    }
};
/// A matrix times a sample's vector: Gemm(x, W, transB = 1) on the batch's rows.
template <> struct form<matmul_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        using A = arg_t<0, Node>;
        using X = arg_t<1, Node>;
        static_assert(!batched_v<A> && batched_v<X> && shape_of_t<A>::rank == 2 && shape_of_t<X>::rank == 1,
                      "kink: onnx::save: a product is exported as a parameter matrix times a sample's vector");
        b.node("Gemm", {b.template in<Node, 1>(), b.template in<Node, 0>()}, {out}, {attr("transB", 1)});
    }
};
template <std::size_t S, std::size_t P, std::size_t D> struct form<conv2d_op<S, P, D>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        using W = shape_of_t<arg_t<1, Node>>;
        std::vector<std::string> in{b.template in<Node, 0>(), b.template in<Node, 1>()};
        if constexpr (children_t<Node>::size == 3) in.push_back(b.template in<Node, 2>());
        const auto i = [](std::size_t v) { return std::int64_t(v); };
        b.node("Conv", in, {out},
               {attr_ints("kernel_shape", {i(W::dims[2]), i(W::dims[3])}), attr_ints("strides", {i(S), i(S)}),
                attr_ints("pads", {i(P), i(P), i(P), i(P)}), attr_ints("dilations", {i(D), i(D)})});
    }
};
namespace detail {
inline std::vector<attribute> pool_attributes(std::size_t k, std::size_t s, std::size_t p) {
    const auto i = [](std::size_t v) { return std::int64_t(v); };
    return {attr_ints("kernel_shape", {i(k), i(k)}), attr_ints("strides", {i(s), i(s)}), attr_ints("pads", {i(p), i(p), i(p), i(p)})};
}
} // namespace detail
template <class P, std::size_t W, std::size_t S, std::size_t Pd> struct form<max_pool2d_op<P, W, S, Pd>> { // ties: derivatives only
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("MaxPool", {b.template in<Node, 0>()}, {out}, detail::pool_attributes(W, max_pool2d_op<P, W, S, Pd>::G.step(), Pd));
    }
};
template <std::size_t W, std::size_t S, std::size_t Pd> struct form<avg_pool2d_op<W, S, Pd>> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        auto a = detail::pool_attributes(W, avg_pool2d_op<W, S, Pd>::G.step(), Pd);
        a.push_back(attr("count_include_pad", 1)); // kink counts the padding as zeros
        b.node("AveragePool", {b.template in<Node, 0>()}, {out}, a);
    }
};
/// [N, C, H, W] -> [N, C]: GlobalAveragePool, then Flatten.
template <> struct form<global_avg_pool_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        b.node("GlobalAveragePool", {b.template in<Node, 0>()}, {out + "_pooled"});
        b.node("Flatten", {out + "_pooled"}, {out});
    }
};
/// Batch normalisation in evaluation mode: batch_norm_apply(x, running_stats(mean, var, eps),
/// weight, bias) is BatchNormalization(x, weight, bias, mean, var, epsilon).
template <> struct form<running_stats_op> {
    template <class Node, class B> static void emit(B &, const std::string &) {} // folded into batch_norm_apply
};
template <> struct form<batch_norm_apply_op> {
    template <class Node, class B> static void emit(B &b, const std::string &out) {
        using St = arg_t<1, Node>;
        static_assert(is_node_v<St> && KINK_SAME(op_t<St>, running_stats_op),
                      "kink: onnx::save: batch normalisation is exported in evaluation mode (eval_mode: the running statistics)");
        b.node("BatchNormalization",
               {b.template in<Node, 0>(), b.template in<Node, 2>(), b.template in<Node, 3>(), B::template name<arg_t<0, St>>(),
                B::template name<arg_t<1, St>>()},
               {out}, {attr_f("epsilon", b.template number<arg_t<2, St>>())});
    }
};

} // namespace kink::onnx

#pragma once
/// \file
/// ONNX export of a compiled inference program: `onnx::save(path, net, params)` writes the
/// program's network and its parameters as an ONNX model (opset 17, IR version 8) that ONNX
/// Runtime runs. The input gets a leading batch dimension "N" (a kink graph is one sample); the
/// output is named "output". The protobuf wire format is written with protozero (Debian's
/// libprotozero-dev: a small header-only encoder, maintained by the Mapbox/OSM community; the
/// generated code of libprotobuf would add a build step and a runtime library for the dozen
/// messages an ONNX model needs), against the field numbers of onnx/onnx.proto.
///
/// Open as the executor: an op's ONNX form is `onnx::form<Op>` (found by the op's type), with
///
///     template <class Node, class B> static void emit(B &b, const std::string &out);
///
/// which adds the ONNX nodes computing `out` from the node's arguments (b.in<Node, K>() names
/// argument K, b.operand<Node, K>() the same as an operand of a broadcasting elementwise op;
/// b.node(op, inputs, outputs, attributes) adds a node). Exporting a network with
/// an op that has no form is one compile-time error naming the op (onnx_form_missing<Op>).
/// Forms exist for: + - * / and negation, pow<N>, abs, products of a matrix and a vector (Gemm),
/// relu, leaky_relu, relu6 and hardtanh (Clip), elu, selu, celu, tanh, sigmoid, exp, log, sqrt,
/// sin, cos, softplus, softsign, silu, mish, gelu (erf form) and gelu_tanh (compositions),
/// hardsigmoid, hardswish, mean and sum of a sample's vector (ReduceMean, ReduceSum: layer_norm),
/// softmax, log_softmax, conv2d (stride, padding, dilation), max_pool2d, avg_pool2d (padding
/// counted, as kink's), global_avg_pool, flatten, and batch normalisation in evaluation mode
/// (BatchNormalization); the piecewise ops max, min and clamp (Max, Min), max of a vector
/// (ReduceMax), sign, step (Cast of Greater), softshrink and hardshrink (Shrink), threshold
/// (Where); normal_pdf and normal_cdf (compositions) and transpose. Their policies decide
/// derivatives only, so the exported values are the same whatever the policies. A constant
/// argument is a literal (lit<...>) or a runtime constant (constant<Name>), written with the value
/// it has in the program when the model is written. The losses have no form (export the logits),
/// and a training-mode graph (batch statistics, dropout) is refused: export eval_mode(z).

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <protozero/pbf_writer.hpp>

#include <kink/exec/program.hpp>
#include <kink/expr/mode.hpp>
#include <kink/io/atomic.hpp>
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

/// The ONNX form of op Op (specialised below per op family; users add their own ops' forms).
template <class Op> struct form;

/// An attribute of an ONNX node.
struct attribute {
    std::string name;
    enum kind_t { integer, real, integers } kind = integer;
    std::int64_t i = 0;
    float f = 0;
    std::vector<std::int64_t> ints{};
};
inline attribute attr(std::string n, std::int64_t v) { return {std::move(n), attribute::integer, v, 0, {}}; }
inline attribute attr_f(std::string n, double v) { return {std::move(n), attribute::real, 0, static_cast<float>(v), {}}; }
inline attribute attr_ints(std::string n, std::vector<std::int64_t> v) { return {std::move(n), attribute::integers, 0, 0, std::move(v)}; }

/// Field numbers of onnx/onnx.proto.
namespace field {
enum : protozero::pbf_tag_type {
    model_ir_version = 1, model_producer_name = 2, model_producer_version = 3, model_graph = 7, model_opset_import = 8,
    opset_domain = 1, opset_version = 2,
    graph_node = 1, graph_name = 2, graph_initializer = 5, graph_input = 11, graph_output = 12,
    node_input = 1, node_output = 2, node_name = 3, node_op_type = 4, node_attribute = 5,
    attr_name = 1, attr_f = 2, attr_i = 3, attr_ints = 8, attr_type = 20,
    tensor_dims = 1, tensor_data_type = 2, tensor_name = 8, tensor_raw_data = 9,
    value_name = 1, value_type = 2, type_tensor = 1, tensor_type_elem = 1, tensor_type_shape = 2,
    shape_dim = 1, dim_value = 1, dim_param = 2
};
enum attribute_type : std::int64_t { FLOAT = 1, INT = 2, INTS = 7 };
enum data_type : std::int32_t { T_FLOAT = 1, T_INT64 = 7, T_DOUBLE = 11 };
} // namespace field

/// Named in the error when an exported network has an op without an ONNX form.
template <class Op> struct onnx_form_missing {
    static constexpr bool value = false;
};

/// Builds the graph of program Program (its node list Topo) node by node.
template <class Program> class builder {
  public:
    using T = typename Program::scalar;
    using topo = topo_t<typename Program::graph>;
    static_assert(KINK_SAME(T, float) || KINK_SAME(T, double), "kink: onnx::save: the program must compute in float or double");
    static constexpr std::int32_t elem = KINK_SAME(T, float) ? field::T_FLOAT : field::T_DOUBLE;

    builder(std::string &graph, const Program &net) : g_(graph), net_(net) {}

    /// The value of constant argument A of an op: a literal's, or a runtime constant's value in
    /// the program when the model is written (program::constant<Name>).
    template <class A> double number() const {
        if constexpr (is_lit_v<A>) return static_cast<double>(A::num) / static_cast<double>(A::den);
        else if constexpr (is_rconst_v<A>) return rconst_value(static_cast<A *>(nullptr));
        else static_assert(meta::always_false<A>, "kink: onnx::save: this argument of an exported op must be a constant (lit<N, D> or constant<Name>)");
    }

    /// The name of node or leaf N's value.
    template <class N> static std::string name() {
        if constexpr (is_param_v<N> || is_input_v<N> || is_rconst_v<N>) return std::string(N::name());
        else { // (not "v" + to_string: g++ 12 at -O3 reports a false -Wrestrict in that insert)
            std::string s(1, 'v');
            s += std::to_string(meta::index_of<N, topo>::value);
            return s;
        }
    }
    /// The name of argument K of Node; a literal argument becomes an initializer when first used
    /// (literals folded into an attribute, as batch norm's eps, are not written).
    template <class Node, std::size_t K> std::string in() {
        using A = meta::at_t<K, children_t<Node>>;
        if constexpr (is_lit_v<A> || is_rconst_v<A>)
            if (written_.insert(name<A>()).second) constant(name<A>(), number<A>());
        return name<A>();
    }

    void node(const std::string &op, const std::vector<std::string> &inputs, const std::vector<std::string> &outputs,
              const std::vector<attribute> &attrs = {}) {
        protozero::pbf_writer g(g_);
        protozero::pbf_writer n(g, field::graph_node);
        for (const auto &i : inputs) n.add_string(field::node_input, i);
        for (const auto &o : outputs) n.add_string(field::node_output, o);
        n.add_string(field::node_name, outputs.front() + "_" + op);
        n.add_string(field::node_op_type, op);
        for (const auto &a : attrs) {
            protozero::pbf_writer w(n, field::node_attribute);
            w.add_string(field::attr_name, a.name);
            if (a.kind == attribute::integer) {
                w.add_int64(field::attr_i, a.i);
                w.add_int64(field::attr_type, field::INT);
            } else if (a.kind == attribute::real) {
                w.add_float(field::attr_f, a.f);
                w.add_int64(field::attr_type, field::FLOAT);
            } else {
                for (std::int64_t v : a.ints) w.add_int64(field::attr_ints, v);
                w.add_int64(field::attr_type, field::INTS);
            }
        }
    }
    /// An initializer of `count` values of type `data_type` (raw little-endian bytes).
    void initializer(const std::string &name, std::int32_t data_type, const std::vector<std::int64_t> &dims, const void *data,
                     std::size_t bytes) {
        protozero::pbf_writer g(g_);
        protozero::pbf_writer t(g, field::graph_initializer);
        for (std::int64_t d : dims) t.add_int64(field::tensor_dims, d);
        t.add_int32(field::tensor_data_type, data_type);
        t.add_string(field::tensor_name, name);
        t.add_bytes(field::tensor_raw_data, static_cast<const char *>(data), bytes);
    }
    /// A constant of the program's type (a scalar, or `values` of shape dims), named `name`.
    std::string constant(const std::string &name, double v) {
        const T x = static_cast<T>(v);
        initializer(name, elem, {}, &x, sizeof x);
        return name;
    }
    /// An int64 vector initializer (shapes for Reshape).
    std::string shape_constant(const std::string &name, const std::vector<std::int64_t> &v) {
        initializer(name, field::T_INT64, {std::int64_t(v.size())}, v.data(), v.size() * 8);
        return name;
    }
    /// A value info (graph input or output) of shape [N, dims...].
    void value(protozero::pbf_tag_type which, const std::string &name, const std::vector<std::size_t> &dims) {
        protozero::pbf_writer g(g_);
        protozero::pbf_writer v(g, which);
        v.add_string(field::value_name, name);
        protozero::pbf_writer type(v, field::value_type);
        protozero::pbf_writer tensor(type, field::type_tensor);
        tensor.add_int32(field::tensor_type_elem, elem);
        protozero::pbf_writer shape(tensor, field::tensor_type_shape);
        {
            protozero::pbf_writer d(shape, field::shape_dim);
            d.add_string(field::dim_param, "N");
        }
        for (std::size_t n : dims) {
            protozero::pbf_writer d(shape, field::shape_dim);
            d.add_int64(field::dim_value, std::int64_t(n));
        }
    }
    /// Argument K of Node as an operand of an elementwise op beside the node's other arguments:
    /// a per-channel vector of C beside a [C, H, W] value is reshaped to [C, 1, 1] (ONNX
    /// broadcasts from the right, kink matches channels).
    template <class Node, std::size_t K> std::string operand() {
        using A = meta::at_t<K, children_t<Node>>;
        using S = shape_of_t<A>;
        const std::string a = in<Node, K>();
        if constexpr (S::rank == 1 && shape_of_t<Node>::rank == 3) {
            const std::string r = a + "_channels";
            if (written_.insert(r).second) node("Reshape", {a, shape_constant(r + "_shape", {std::int64_t(S::dims[0]), 1, 1})}, {r});
            return r;
        } else {
            return a;
        }
    }

  private:
    template <fixed_string Name> double rconst_value(rconst_leaf<Name> *) const { return net_.template constant<Name>(); }
    std::string &g_;
    const Program &net_;
    std::set<std::string> written_; ///< literals and reshaped operands already written
};

namespace detail {
template <class Op, class Node, class B> void emit_node(B &b) {
    if constexpr (requires { form<Op>::template emit<Node>(b, std::string()); }) form<Op>::template emit<Node>(b, B::template name<Node>());
    else static_assert(onnx_form_missing<Op>::value, "kink: onnx::save: this op has no ONNX form (onnx_form_missing<op>): write onnx::form<op>");
}
} // namespace detail

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

/// The network of inference program `net` (compile_forward(eval_mode(z))) and the parameters
/// `params` as an ONNX model (the bytes of a .onnx file): opset 17, input(s) by their kink names
/// with a leading batch dimension "N", output "output".
template <class Program> std::string model_bytes(const Program &net, const typename Program::params_type &params) {
    using G = typename Program::graph;
    using topo = topo_t<G>;
    using T = typename Program::scalar;
    static_assert(!::kink::detail::has_training_op<G>::value,
                  "kink: onnx::save: the network is in training mode (batch statistics or dropout): export compile_forward(eval_mode(z))");
    using B = builder<Program>;
    std::string graph;
    B b(graph, net);
    {
        protozero::pbf_writer g(graph);
        g.add_string(field::graph_name, "kink");
    }
    [&]<class... N>(meta::list<N...>) {
        (
            [&] {
                if constexpr (is_param_v<N>) {
                    const auto v = params[ex<N>{}];
                    std::vector<std::int64_t> dims;
                    for (std::size_t k = 0; k < shape_of_t<N>::rank; ++k) dims.push_back(std::int64_t(shape_of_t<N>::dims[k]));
                    b.initializer(std::string(N::name()), B::elem, dims, v.data(), v.size() * sizeof(T));
                } else if constexpr (is_input_v<N>) {
                    using S = shape_of_t<N>;
                    b.value(field::graph_input, std::string(N::name()), std::vector<std::size_t>(S::dims.begin(), S::dims.end()));
                } else if constexpr (is_lit_v<N> || is_rconst_v<N>) {
                    // written where an op takes it as an input (builder::in), with the value it has now
                } else if constexpr (is_node_v<N>) {
                    detail::emit_node<op_t<N>, N>(b);
                } else {
                    static_assert(meta::always_false<N>, "kink: onnx::save: only parameters, inputs and literals can be leaves of an exported network");
                }
            }(),
            ...);
    }(topo{});
    using S = shape_of_t<G>;
    b.node("Identity", {B::template name<G>()}, {"output"});
    b.value(field::graph_output, "output", std::vector<std::size_t>(S::dims.begin(), S::dims.end()));

    std::string model;
    {
        protozero::pbf_writer m(model);
        m.add_int64(field::model_ir_version, 8);
        m.add_string(field::model_producer_name, "kink");
        {
            protozero::pbf_writer o(m, field::model_opset_import);
            o.add_string(field::opset_domain, "");
            o.add_int64(field::opset_version, 17);
        }
        m.add_message(field::model_graph, graph);
    }
    return model;
}

/// Writes model_bytes(net, params) at `path`, atomically.
template <class Program> void save(const std::string &path, const Program &net, const typename Program::params_type &params) {
    io::write_file_atomic(path, {io::bytes_of(model_bytes(net, params))});
}

} // namespace kink::onnx

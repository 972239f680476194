#pragma once
/// \file
/// The machinery of ONNX export (io/onnx.hpp): an op's form `onnx::form<Op>` (declared here,
/// specialised per op family in io/onnx_forms.hpp and by users for their own ops), the
/// attributes of an ONNX node, the field numbers of onnx/onnx.proto, and the builder that walks
/// a program's nodes and writes the model's protobuf messages with protozero.

#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <protozero/pbf_writer.hpp>

#include <kink/exec/program.hpp>
#include <kink/expr/mode.hpp>

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

} // namespace kink::onnx

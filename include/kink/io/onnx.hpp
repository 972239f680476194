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
/// Open as the executor: an op's ONNX form is `onnx::form<Op>` (found by the op's type;
/// io/onnx_builder.hpp declares it, io/onnx_forms.hpp holds kink's), with
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

#include <string>

#include <kink/io/atomic.hpp>
#include <kink/io/onnx_builder.hpp>
#include <kink/io/onnx_forms.hpp>

namespace kink::onnx {

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

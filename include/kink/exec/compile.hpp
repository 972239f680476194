#pragma once
/// \file
/// `compile(loss)`: a tensor expression lowered to one fused training step (a kink::program,
/// exec/program.hpp); `compile_forward(output)`: its evaluation alone. A graph whose shapes
/// disagree compiles to a stand-in that takes every use without a further error, so that the
/// shape mismatch reported where the graph was built stays the only message.

#include <cstddef>
#include <span>

#include <kink/exec/program.hpp>

namespace kink {

namespace detail {
/// What compile returns for a graph whose shapes disagree. The mismatch was reported, once, where
/// the graph was built (make_node's static_assert); this stand-in takes every use of a program
/// and its parameter store without a further error, so that message stays the only one.
template <class T> struct broken_store {
    static constexpr std::size_t count = 0, values = 0;
    static constexpr std::array<std::size_t, 0> sizes{}, ranks{};
    static constexpr std::array<std::string_view, 0> names{};
    template <std::size_t I> std::span<T> at() { return {}; }
    template <class X> std::span<T> operator[](const X &) { return {}; }
    template <class X> std::span<const T> operator[](const X &) const { return {}; }
    static constexpr std::size_t trained_count = 0;
    static constexpr std::array<bool, 1> drawn{false};
    void restart(bool) {}
    std::span<T> flat() { return {}; }
    std::span<const T> flat() const { return {}; }
    std::span<T> trained() { return {}; }
    std::span<const T> trained() const { return {}; }
    T *data() { return nullptr; }
    const T *data() const { return nullptr; }
};
template <class T> struct broken_program {
    using params_type = broken_store<T>;
    static constexpr std::array<std::size_t, 0> fan_in{}, fan_out{};
    params_type make_params() const { return {}; }
    void reserve(std::size_t) {}
    void threads(std::size_t) {}
    void seed(std::uint64_t) {}
    std::uint64_t seed() const { return 0; }
    void rng_step(std::uint64_t) {}
    std::uint64_t rng_step() const { return 0; }
    std::size_t threads() const { return 1; }
    std::size_t batch() const { return 0; }
    template <class... A> T step(const A &...) { return T(); }
    template <class... A> T forward(const A &...) { return T(); }
    template <class... A> std::span<const T> evaluate(const A &...) { return {}; }
    template <class... A> std::span<const T> operator()(const A &...) { return {}; }
    template <class X> std::span<const T> value(const X &) const { return {}; }
    template <class X> std::span<const T> input_grad(const X &) const { return {}; }
};
} // namespace detail

/// `compile(loss)`: the fused training step of `loss` (a per-sample scalar), differentiated with
/// respect to every `param` leaf. `compile<double>(loss)` for another scalar type;
/// `compile<float, exec_options{.bias = bias_at::start}>(loss)` for other options;
/// `compile(loss, W1, b1)` to train only some parameters (list an input to get its gradient too).
template <class T = float, exec_options O = exec_options{}, expression L, expression... P>
auto compile(const L &loss, const P &...) {
    using G = graph_t<L>;
    using all = typename detail::params_of<topo_t<G>>::type;
    check_param_names(all{});
    static_assert(((is_trained_param<graph_t<P>>::value || is_input_v<graph_t<P>>) && ...),
                  "kink: compile(loss, p...): each p must be a param<> (or input<>) leaf; a running statistic is not trained");
    static_assert((meta::in_list_v<graph_t<P>, topo_t<G>> && ...), "kink: compile(loss, p...): a leaf the loss does not use");
    using wrt = std::conditional_t<sizeof...(P) == 0, typename detail::params_of<topo_t<G>>::trained, meta::list<graph_t<P>...>>;
    if constexpr (has_bad_shape_v<G>) return detail::broken_program<T>{};
    else return program<T, key_t<meta::list<G, wrt>>, O>(loss.pool);
}

/// A forward-only program for `output` (any shape, e.g. the logits): `auto predict =
/// compile_forward(logits); std::span<const float> z = predict(params, x = batch);` returns
/// batch * size values (row-major per sample), valid until the next call. It keeps no adjoint
/// storage and, after `reserve(n)` or its first call at batch n, allocates nothing per call.
/// `params` is any param_store holding the graph's parameters, such as a training program's.
template <class T, class Key, exec_options O> class forward_program : public program<T, Key, O> {
    using base = program<T, Key, O>;

  public:
    using base::base;
    template <class Store, class... B> std::span<const T> operator()(const Store &params, const B &...bindings) {
        return this->evaluate(params, bindings...);
    }
};

/// `compile_forward(output)`: evaluation of a tensor expression (no loss, no gradients).
/// `compile_forward<double>(output)` for another scalar type; options as for `compile`.
template <class T = float, exec_options O = exec_options{}, expression L> auto compile_forward(const L &output) {
    static_assert(!detail::has_training_op<graph_t<L>>::value,
                  "kink: compile_forward: the output is in training mode (batch normalisation); for inference compile "
                  "eval_mode(output) (the running statistics); the batch's own statistics are the training program's "
                  "(forward, value)");
    check_param_names(typename detail::params_of<topo_t<graph_t<L>>>::type{});
    if constexpr (has_bad_shape_v<graph_t<L>>) return detail::broken_program<T>{};
    else return forward_program<T, key_t<meta::list<graph_t<L>, meta::list<>>>, O>(output.pool);
}

} // namespace kink

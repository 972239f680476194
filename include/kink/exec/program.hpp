#pragma once
/// \file
/// `compile(loss)`: a tensor expression lowered to one fused training step.
///
/// The program is the open executor's driver: it binds inputs, points at the parameters, and
/// runs the sweep the plan (exec/plan.hpp) ordered, calling for each node either the generic
/// elementwise loop or its op's kernel (`kernel<Op>`, exec/kernel.hpp), with a `node_ctx`
/// addressing the node's storage (exec/state.hpp). It names no op: adding a tensor op adds its
/// ops/ header and its kernel header, and no branch here. Elementwise local derivatives are the
/// ops' own `partial` graphs (policies included), evaluated from the values the forward pass
/// stored; nothing is recomputed.
///
/// After `reserve(batch)` (or the first step at that batch size) a step allocates nothing.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <kink/exec/finite.hpp>
#include <kink/exec/kernels/conv.hpp>
#include <kink/exec/kernels/dense.hpp>
#include <kink/exec/kernels/pool.hpp>
#include <kink/exec/kernels/reduce.hpp>
#include <kink/exec/state.hpp>

namespace kink {

namespace detail {
template <class N> struct node_checks {
    static constexpr role k = base_role<N>();
    static_assert(k != role::variable, "kink: compile: the graph has a var<> leaf; use param<>, input<> or label<>");
    static_assert(k != role::unknown, "kink: compile: an op of this graph has no kernel (specialise kink::kernel<Op>)");
    static constexpr bool ok = true;
};

/// Whether the bindings B... bind leaf L.
template <class L, class... B> inline constexpr bool bound_v = (KINK_SAME(typename B::leaf, L) || ...);
} // namespace detail

/// Names the leaf in the failing condition of a misuse (clang prints a fixed_string as codes).
template <class Name, bool Bound> struct input_bound {
    static constexpr bool value = Bound;
};

/// A compiled training step for loss graph `Root` (per-sample scalar) in scalar type T,
/// differentiating with respect to the params in `Wrt`. See `compile`.
template <class T, class Root, class Wrt, exec_options O> class program : private detail::state<T, Root, Wrt, O> {
    using state = detail::state<T, Root, Wrt, O>;
    using role = detail::role;

  public:
    using graph = Root;
    using scalar = T;
    using topo = topo_t<Root>;
    using plan = detail::plan<topo, Wrt>;
    using params_type = param_store<T, typename detail::params_of<topo>::type>;
    static constexpr std::size_t count = topo::size;
    static constexpr exec_options options = O;

    /// Whether this program only evaluates (compile_forward): no adjoints, any output shape.
    static constexpr bool forward_only = Wrt::size == 0;
    static_assert(forward_only || shape_of_t<Root>::rank == 0,
                  "kink: compile(loss): the loss must be a per-sample scalar: reduce a vector with mean(...) or sum(...); "
                  "compile_forward(output) evaluates a tensor output without a loss");
    static_assert([]<class... N>(meta::list<N...>) { return (detail::node_checks<N>::ok && ...); }(topo{}));
    static_assert(plan::strided_ok_everywhere, "kink: compile: transpose(W) is supported as the matrix of a product "
                                               "(transpose(W) * x), not as the argument of another op");

  private:
    // -- what the kernels declare, per node ----------------------------------------------------
    template <class N> using traits = detail::traits_t<N>;
    static constexpr auto weight_slot = []<class... N>(meta::list<N...>) {
        return std::array<std::size_t, count>{traits<N>::weight_slot...};
    }(topo{});
    static constexpr auto bias_slot = []<class... N>(meta::list<N...>) {
        return std::array<std::size_t, count>{traits<N>::bias_slot...};
    }(topo{});
    static constexpr auto kernel_fans = []<class... N>(meta::list<N...>) {
        return std::array<std::array<std::size_t, 2>, count>{traits<N>::template fans<N>()...};
    }(topo{});
    /// Scratch values (T) of the hungriest kernel: shared, since kernels run one at a time.
    static constexpr std::size_t scratch_size = []<class... N>(meta::list<N...>) {
        return std::max({std::size_t(0), traits<N>::template scratch_size<N>()...});
    }(topo{});
    /// Matrix-product workspace for a batch of n: the largest any kernel asks for.
    static constexpr std::size_t work_size(std::size_t n) {
        return []<class... N>(std::size_t b, meta::list<N...>) {
            return std::max({std::size_t(64), traits<N>::template work_size<N, T>(b)...});
        }(n, topo{});
    }

  public:
    program() = default;
    template <class Pool> explicit program(const Pool &pool) { this->pool_ = pool; }

    /// Fresh storage for the parameters (zeros) or their gradients.
    params_type make_params() const { return {}; }

    /// Sizes the workspace for batches up to n: steps at or below n allocate nothing.
    void reserve(std::size_t n) {
        if (n <= this->cap_) return;
        this->fwd_.resize(plan::fwd_layout.unbatched + n * plan::fwd_layout.per_sample + 16);
        if constexpr (!forward_only) this->adj_.resize(plan::adj_layout.unbatched + n * plan::adj_layout.per_sample + 16);
        this->work_.resize(work_size(n));
        this->scratch_.resize(scratch_size + 16);
        this->labels_.resize(n * label_count + 1);
        this->cap_ = n;
    }

    /// One training step: the forward pass, the mean loss over the batch (returned) and, in `grads`,
    /// the gradient of that mean with respect to every trained parameter. Bindings: `x = span`
    /// for every input (batch * size values) and label (batch integers).
    template <class... B> T step(const params_type &params, params_type &grads, const B &...bindings) {
        const T loss = forward(params, bindings...);
        backward(grads); // the parameters are those forward() pointed at
        return loss;
    }

    /// The forward pass only: the mean loss over the batch. Node values stay readable with `value`.
    template <class... B> T forward(const params_type &params, const B &...bindings) {
        static_assert(!forward_only, "kink: program::forward: this is a compile_forward program: call it, program(params, x = data)");
        evaluate(params, bindings...);
        const T *l = this->val(count - 1);
        if constexpr (plan::batched[count - 1]) {
            double s = 0;
            for (std::size_t i = 0; i < this->n_; ++i) s += l[i];
            return static_cast<T>(s / static_cast<double>(this->n_));
        } else {
            return l[0];
        }
    }

    /// Evaluates the graph on a batch (every node's value, as `forward` does) and returns the
    /// output's values: batch * size values for a batched output. Parameters come from any
    /// param_store that holds every parameter of this graph (a training program's `params`).
    template <class Store, class... B> std::span<const T> evaluate(const Store &params, const B &...bindings) {
        bind(bindings...);
        set_params(params);
        write_constants();
        run_forward(std::make_index_sequence<count>{});
        constexpr std::size_t r = count - 1;
        static_assert(plan::has_value(r), "kink: compile_forward: the output must be computed by an op, not a leaf");
        return {this->val(r), plan::size[r] * this->rows_of(r)};
    }

    /// The values of node `x` (a subexpression of the loss) from the last forward pass:
    /// batch * size values for a batched node.
    template <expression X> std::span<const T> value(const X &) const {
        using G = graph_t<X>;
        static_assert(meta::in_list_v<G, topo>, "kink: program::value: not a subexpression of the loss");
        constexpr std::size_t i = meta::index_v<G, topo>;
        static_assert(plan::has_value(i), "kink: program::value: this node is not stored (a leaf, a transpose or a "
                                          "product absorbed into an affine node: ask for the affine node)");
        return {const_cast<program *>(this)->val(i), plan::size[i] * (plan::batched[i] ? this->n_ : 1)};
    }
    /// The gradient of the mean loss with respect to input `x` (batch * size values) from the last
    /// step; the program must have been compiled with x among its differentiated leaves.
    template <expression X> std::span<const T> input_grad(const X &) const {
        using G = graph_t<X>;
        static_assert(is_input_v<G> && meta::in_list_v<G, Wrt>,
                      "kink: program::input_grad: compile with the input among the leaves: compile(loss, W, b, x)");
        constexpr std::size_t i = meta::index_v<G, topo>;
        return {const_cast<program *>(this)->adj(i), plan::size[i] * this->n_};
    }
    /// Per parameter (in param_store order): the fan-in (out = false) or fan-out of the op it is
    /// the weight or the bias of, as that op's kernel declares it (a dense layer: its input and
    /// output sizes; a convolution: C KH KW and O KH KW); its own size when it is in no such op.
    static constexpr auto fans(bool out) {
        using P = typename detail::params_of<topo>::type;
        std::array<std::size_t, P::size> f{};
        std::size_t k = 0;
        for (std::size_t i = 0; i < count; ++i) {
            if (plan::roles[i] != role::param) continue;
            f[k] = plan::size[i];
            for (std::size_t g = 0; g < count; ++g) {
                if (!plan::runs_kernel(g)) continue;
                const std::size_t p = plan::op_node(g);
                const bool weight = weight_slot[p] != detail::none && plan::source(plan::args[p][weight_slot[p]]) == i;
                const bool bias = (bias_slot[p] != detail::none && plan::nargs[p] > bias_slot[p] && plan::args[p][bias_slot[p]] == i) ||
                                  (plan::roles[g] == role::affine && plan::bias_of(g) == i);
                if (weight || bias) f[k] = kernel_fans[p][out ? 1 : 0];
            }
            ++k;
        }
        return f;
    }
    /// Fan-in per parameter: initializers use it, e.g. PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    static constexpr auto fan_in = fans(false);
    /// Fan-out per parameter (Glorot).
    static constexpr auto fan_out = fans(true);
    /// Batch size of the last forward pass.
    std::size_t batch() const { return this->n_; }

  private:
    static constexpr std::size_t label_count = [] {
        std::size_t n = 0;
        for (auto k : plan::roles) n += k == role::label;
        return n;
    }();

    // -- binding -------------------------------------------------------------------------------
    template <class... B> void bind(const B &...b) {
        std::size_t n = std::size_t(-1);
        std::string_view first_name;
        auto extent = [&](std::string_view name, std::size_t values, std::size_t per) {
            if (values % per != 0)
                throw std::invalid_argument("kink: step: input '" + std::string(name) + "' has " + std::to_string(values) +
                                            " values, not a multiple of its size " + std::to_string(per));
            const std::size_t m = values / per;
            if (n != std::size_t(-1) && m != n)
                throw std::invalid_argument("kink: step: '" + std::string(name) + "' holds a batch of " + std::to_string(m) +
                                            ", '" + std::string(first_name) + "' a batch of " + std::to_string(n));
            if (n == std::size_t(-1)) first_name = name;
            n = m;
        };
        (
            [&] {
                using L = typename B::leaf;
                static_assert(leaf_in_graph<typename detail::leaf_name_chars<L>::type, meta::in_list_v<L, topo>>::value,
                              "kink: step: a binding names a leaf the graph does not use (leaf_in_graph<its name>)");
                if constexpr (is_input_v<L>) extent(L::name(), b.value.size(), shape_of_t<L>::size);
                else extent(L::name(), b.value.size(), 1);
            }(),
            ...);
        if (n == std::size_t(-1) || n == 0)
            throw std::invalid_argument("kink: step: empty batch (bind every input and label to batch-sized data)");
        reserve(n);
        this->n_ = n;
        (
            [&] {
                using L = typename B::leaf;
                constexpr std::size_t i = meta::index_v<L, topo>;
                if constexpr (is_input_v<L>) {
                    static_assert(std::is_convertible_v<decltype(b.value.data()), const T *>,
                                  "kink: step: bind an input to contiguous values of the program's scalar type");
                    this->inputs_[i] = b.value.data();
                } else {
                    std::int32_t *dst = this->labels_.data() + state::template label_slot<i>() * this->cap_;
                    for (std::size_t s = 0; s < n; ++s) {
                        const auto y = b.value[s];
                        if (!(y >= 0 && static_cast<std::size_t>(y) < L::classes))
                            throw std::invalid_argument("kink: step: label '" + std::string(L::name()) + "' of sample " +
                                                        std::to_string(s) + " is " + std::to_string(y) + ", outside [0, " +
                                                        std::to_string(L::classes) + ")");
                        dst[s] = static_cast<std::int32_t>(y);
                    }
                }
            }(),
            ...);
        check_bound<B...>(std::make_index_sequence<count>{});
    }
    template <class... B, std::size_t... I> static void check_bound(std::index_sequence<I...>) {
        (
            [] {
                using L = meta::at_t<I, topo>;
                if constexpr (is_input_v<L> || is_label_v<L>)
                    static_assert(input_bound<typename detail::leaf_name_chars<L>::type, detail::bound_v<L, B...>>::value,
                                  "kink: step: an input or label of the graph is not bound (input_bound<its name>): "
                                  "pass name = data for each");
            }(),
            ...);
    }

    void write_constants() {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (
                [&] {
                    using L = meta::at_t<I, topo>;
                    if constexpr (is_lit_v<L>) this->val(I)[0] = L::template value<T>();
                    else if constexpr (is_rconst_v<L>) this->val(I)[0] = static_cast<T>(this->pool_[meta::index_v<L, rconsts_t<Root>>]);
                }(),
                ...);
        }(std::make_index_sequence<count>{});
    }

    // -- the passes ----------------------------------------------------------------------------
    template <std::size_t I> using kernel_of = kernel<op_t<meta::at_t<plan::op_node(I), topo>>>;
    template <std::size_t I> void node_forward() {
        if constexpr (!plan::fwd_work(I) || plan::fwd_host[I] != detail::none) {
        } else if constexpr (plan::roles[I] == role::elementwise) {
            this->template ew_forward<I>(0, this->rows_of(I), 0, plan::size[I]);
        } else {
            detail::node_ctx<state, I> c{*this};
            kernel_of<I>::forward(c);
        }
    }
    template <std::size_t I> void node_backward() {
        if constexpr (!plan::needs[I] || !plan::fwd_work(I) || plan::bwd_host[I] != detail::none) {
        } else if constexpr (plan::roles[I] == role::elementwise) {
            this->template ew_backward<I>(0, this->rows_of(I), 0, plan::size[I]);
        } else {
            detail::node_ctx<state, I> c{*this};
            kernel_of<I>::backward(c);
        }
    }
    template <std::size_t... I> void run_forward(std::index_sequence<I...>) {
        if constexpr (O.check_finite) {
            check_leaves(std::index_sequence<I...>{});
            ((node_forward<I>(), check_values<I>()), ...);
        } else {
            (node_forward<I>(), ...);
        }
    }
    template <std::size_t... I> void run_backward(std::index_sequence<I...>) { (node_backward<count - 1 - I>(), ...); }

    // -- the finite check (exec_options::check_finite) -----------------------------------------
    template <std::size_t I> static std::string node_label() {
        std::size_t k = 0;
        for (std::size_t i = 0; i <= I; ++i)
            k += !(plan::base[i] == role::param || plan::base[i] == role::input || plan::base[i] == role::label ||
                   plan::base[i] == role::constant || plan::base[i] == role::variable);
        return "node v" + std::to_string(k) + " (" + std::string(op_t<meta::at_t<I, topo>>::name) + ")";
    }
    template <std::size_t... I> void check_leaves(std::index_sequence<I...>) {
        (
            [&] {
                using L = meta::at_t<I, topo>;
                if constexpr (plan::roles[I] == role::param || plan::roles[I] == role::input) {
                    const std::size_t n = plan::size[I] * this->rows_of(I);
                    const T *v = this->template src<I>();
                    if (const std::size_t i = detail::first_non_finite(v, n); i < n)
                        detail::report_non_finite(std::string(is_param_v<L> ? "parameter '" : "input '") + std::string(L::name()) + "'",
                                                  v[i], i, plan::size[I], plan::batched[I]);
                }
            }(),
            ...);
    }
    template <std::size_t I> void check_values() {
        if constexpr (plan::has_value(I) && plan::roles[I] != role::constant) {
            const std::size_t n = plan::size[I] * this->rows_of(I);
            const T *v = this->val(I);
            if (const std::size_t i = detail::first_non_finite(v, n); i < n)
                detail::report_non_finite(node_label<I>(), v[i], i, plan::size[I], plan::batched[I]);
        }
    }
    static constexpr auto trained_params = []<class... P>(meta::list<P...>) {
        return std::array<bool, sizeof...(P) + 1>{meta::in_list_v<P, Wrt>..., false};
    }(typename detail::params_of<topo>::type{});
    void check_gradients() {
        for (std::size_t k = 0; k < params_type::count; ++k) {
            if (!trained_params[k]) continue;
            const T *g = this->grads_->data() + params_type::offsets[k];
            if (const std::size_t i = detail::first_non_finite(g, params_type::sizes[k]); i < params_type::sizes[k])
                detail::report_non_finite("the gradient of parameter '" + std::string(params_type::names[k]) + "'", g[i], i,
                                          params_type::sizes[k], false);
        }
    }

    /// Points every parameter of this graph at its values in `store` (same store type as the
    /// program's, or any store that holds each parameter with the same name and shape).
    template <class Store> void set_params(const Store &store) {
        set_params_at(store, std::make_index_sequence<params_type::count>{});
    }
    template <class Store, std::size_t... K> void set_params_at(const Store &store, std::index_sequence<K...>) {
        if constexpr (KINK_SAME(Store, params_type)) {
            ((this->param_ptr_[K] = store.data() + params_type::offsets[K]), ...);
        } else {
            using mine = typename detail::params_of<topo>::type;
            static_assert((Store::template holds<meta::at_t<K, mine>> && ...),
                          "kink: compile_forward: the parameter store lacks a parameter of this graph (the same name and shape)");
            ((this->param_ptr_[K] = store.data() + Store::template offset_of<meta::at_t<K, mine>>), ...);
        }
    }

    void backward(params_type &grads) {
        this->grads_ = &grads;
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (
                [&] {
                    if constexpr (plan::zeroed[I]) {
                        T *d = this->template dst<I>();
                        std::fill(d, d + plan::size[I] * this->rows_of(I), T(0));
                    }
                }(),
                ...);
        }(std::make_index_sequence<count>{});
        constexpr std::size_t r = count - 1;
        if constexpr (plan::needs[r]) {
            T *g = this->adj(r);
            const T seed = plan::batched[r] ? T(1) / static_cast<T>(this->n_) : T(1);
            for (std::size_t s = 0; s < this->rows_of(r); ++s) g[s] = seed;
        }
        run_backward(std::make_index_sequence<count>{});
        if constexpr (O.check_finite) check_gradients();
    }

};

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
    std::span<T> flat() { return {}; }
    std::span<const T> flat() const { return {}; }
    T *data() { return nullptr; }
    const T *data() const { return nullptr; }
};
template <class T> struct broken_program {
    using params_type = broken_store<T>;
    static constexpr std::array<std::size_t, 0> fan_in{}, fan_out{};
    params_type make_params() const { return {}; }
    void reserve(std::size_t) {}
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
    static_assert(((is_param_v<graph_t<P>> || is_input_v<graph_t<P>>) && ...),
                  "kink: compile(loss, p...): each p must be a param<> (or input<>) leaf");
    static_assert((meta::in_list_v<graph_t<P>, topo_t<G>> && ...), "kink: compile(loss, p...): a leaf the loss does not use");
    using wrt = std::conditional_t<sizeof...(P) == 0, all, meta::list<graph_t<P>...>>;
    if constexpr (has_bad_shape_v<G>) return detail::broken_program<T>{};
    else return program<T, G, wrt, O>(loss.pool);
}

/// A forward-only program for `output` (any shape, e.g. the logits): `auto predict =
/// compile_forward(logits); std::span<const float> z = predict(params, x = batch);` returns
/// batch * size values (row-major per sample), valid until the next call. It keeps no adjoint
/// storage and, after `reserve(n)` or its first call at batch n, allocates nothing per call.
/// `params` is any param_store holding the graph's parameters, such as a training program's.
template <class T, class Root, exec_options O> class forward_program : public program<T, Root, meta::list<>, O> {
    using base = program<T, Root, meta::list<>, O>;

  public:
    using base::base;
    template <class Store, class... B> std::span<const T> operator()(const Store &params, const B &...bindings) {
        return this->evaluate(params, bindings...);
    }
};

/// `compile_forward(output)`: evaluation of a tensor expression (no loss, no gradients).
/// `compile_forward<double>(output)` for another scalar type; options as for `compile`.
template <class T = float, exec_options O = exec_options{}, expression L> auto compile_forward(const L &output) {
    check_param_names(typename detail::params_of<topo_t<graph_t<L>>>::type{});
    if constexpr (has_bad_shape_v<graph_t<L>>) return detail::broken_program<T>{};
    else return forward_program<T, graph_t<L>, O>(output.pool);
}

} // namespace kink

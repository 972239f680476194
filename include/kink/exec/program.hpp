#pragma once
/// \file
/// `compile(loss)`: a tensor expression lowered to one fused training step.
///
/// The plan is computed at compile time from the graph type, as constexpr tables indexed by the
/// topological position of each node:
///  - kinds: a matrix product whose only use is `+ bias` becomes one *affine* node (the product
///    is absorbed); transposes become strides; every other op runs its own kernel;
///  - storage: one offset per node into a forward arena and an adjoint arena (unbatched values
///    first, then batched values times the runtime batch); parameters and their gradients live in
///    a `param_store` with one offset per `param` leaf;
///  - fusion: elementwise nodes that directly follow a matrix product and need nothing computed
///    later run in that product's per-tile epilogue (bias + activation) while the tile is in
///    cache; in the backward pass, the elementwise nodes whose adjoint a product's input gradient
///    completes run in that product's epilogue (the derivative mask);
///  - the chain rule over tensors: each adjoint is the sum of its consumers' vector-Jacobian
///    products, in reverse topological order; the first contribution to a buffer assigns, later
///    ones add (decided at compile time, so nothing is zeroed that is fully overwritten).
/// Elementwise local derivatives are the ops' own `partial` graphs (policies included), evaluated
/// from the values the forward pass stored; nothing is recomputed.
///
/// After `reserve(batch)` (or the first step at that batch size) a step allocates nothing.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <kink/exec/eval.hpp>
#include <kink/exec/gemm.hpp>
#include <kink/expr/graph.hpp>
#include <kink/ops/loss.hpp>
#include <kink/ops/reduce.hpp>

namespace kink {

/// Where the bias of an affine node `W x + b` enters the sum.
enum class bias_at {
    end,  ///< after the products are accumulated (PyTorch's addmm, BLAS beta = 1): (sum w x) + b
    start ///< as the accumulator's initial value: b + w1 x1 + w2 x2 + ...
};

/// Options of a compiled program. `bias` and `fma` change which pre-activations come out exactly
/// zero; `check_finite` makes every step check its values (see non_finite_error).
struct exec_options {
    bias_at bias = bias_at::end;
    contraction fma = gemm::default_contraction;
    /// Check the parameters, the inputs, every node's values and the parameter gradients of each
    /// step, in that order, and stop at the first NaN or infinity with a non_finite_error naming
    /// it. Off by default (it reads every value once more; bench/run measures the cost).
    bool check_finite = false;
};

/// Thrown by a program compiled with `exec_options{.check_finite = true}` at the first NaN or
/// infinity of a step: "kink: step: node v3 (relu) is NaN at sample 2, element 17". Nodes are
/// numbered as formulas() prints them (v1, v2, ... over the non-leaf nodes in topological order).
struct non_finite_error : std::domain_error {
    using std::domain_error::domain_error;
};

namespace detail {

/// A buffer of T aligned to 64 bytes; grows, never shrinks.
template <class T> class aligned_buffer {
  public:
    aligned_buffer() = default;
    aligned_buffer(aligned_buffer &&) noexcept = default;
    aligned_buffer &operator=(aligned_buffer &&) noexcept = default;
    aligned_buffer(const aligned_buffer &o) { *this = o; }
    aligned_buffer &operator=(const aligned_buffer &o) {
        if (this != &o) {
            if (n_ < o.n_) {
                p_.reset();
                n_ = 0;
                resize(o.n_);
            }
            if (o.n_) std::memcpy(static_cast<void *>(p_.get()), o.p_.get(), o.n_ * sizeof(T));
        }
        return *this;
    }
    T *data() { return p_.get(); }
    const T *data() const { return p_.get(); }
    std::size_t size() const { return n_; }
    void resize(std::size_t n) {
        if (n <= n_) return;
        std::unique_ptr<T[], deleter> q(static_cast<T *>(::operator new[](n * sizeof(T), std::align_val_t(64))));
        if (n_) std::memcpy(q.get(), p_.get(), n_ * sizeof(T));
        std::memset(static_cast<void *>(q.get() + n_), 0, (n - n_) * sizeof(T));
        p_ = std::move(q);
        n_ = n;
    }

  private:
    struct deleter {
        void operator()(T *p) const { ::operator delete[](p, std::align_val_t(64)); }
    };
    std::unique_ptr<T[], deleter> p_;
    std::size_t n_ = 0;
};

constexpr std::size_t round16(std::size_t n) { return (n + 15) / 16 * 16; }

template <class L> struct params_of;
template <class... N> struct params_of<meta::list<N...>> { using type = meta::filter_t<is_param, meta::list<N...>>; };
} // namespace detail

/// Name the leaf in the failing condition of a misuse (clang prints a fixed_string as codes).
template <class Name, bool In> struct param_in_store {
    static constexpr bool value = In;
};
template <class Name, bool In> struct leaf_in_graph {
    static constexpr bool value = In;
};

/// Storage for the parameters of a graph (or their gradients): one aligned buffer, one offset
/// per `param` leaf. `p[W1]` is a span over W1's values (row-major).
template <class T, class List> class param_store;
template <class T, class... P> class param_store<T, meta::list<P...>> {
  public:
    static constexpr std::size_t count = sizeof...(P);
    static constexpr std::array<std::size_t, count> sizes{shape_of_t<P>::size...};
    static constexpr std::array<std::size_t, count + 1> offsets = [] {
        std::array<std::size_t, count + 1> o{};
        for (std::size_t i = 0; i < count; ++i) o[i + 1] = o[i] + detail::round16(sizes[i]);
        return o;
    }();
    /// Total number of parameter values (without alignment padding).
    static constexpr std::size_t values = (std::size_t(0) + ... + shape_of_t<P>::size);
    static constexpr std::array<std::string_view, count> names{P::name()...};
    /// Each parameter's rank and dimensions (the unused trailing dimensions are 1).
    static constexpr std::array<std::size_t, count> ranks{shape_of_t<P>::rank...};
    static constexpr std::array<std::array<std::size_t, 2>, count> dims{
        std::array<std::size_t, 2>{shape_of_t<P>::rank > 0 ? shape_of_t<P>::dims[0] : 1,
                                   shape_of_t<P>::rank > 1 ? shape_of_t<P>::dims[shape_of_t<P>::rank > 1 ? 1 : 0] : 1}...};

    /// Whether this store holds parameter leaf Q, and where its values start.
    template <class Q> static constexpr bool holds = meta::in_list_v<Q, meta::list<P...>>;
    template <class Q> static constexpr std::size_t offset_of = offsets[meta::index_v<Q, meta::list<P...>>];

    param_store() { buf_.resize(offsets[count] + 1); }

    template <expression X> std::span<T> operator[](const X &) {
        static_assert(param_in_store<typename detail::leaf_name_chars<graph_t<X>>::type, meta::in_list_v<graph_t<X>, list>>::value,
                      "kink: param_store[p]: p is not a parameter of this program (param_in_store<its name>)");
        return at<meta::index_v<graph_t<X>, list>>();
    }
    template <expression X> std::span<const T> operator[](const X &) const {
        constexpr std::size_t i = meta::index_v<graph_t<X>, list>;
        return {buf_.data() + offsets[i], sizes[i]};
    }
    template <std::size_t I> std::span<T> at() { return {buf_.data() + offsets[I], sizes[I]}; }
    /// Every value including the zero padding between parameters (for optimizers).
    std::span<T> flat() { return {buf_.data(), offsets[count]}; }
    std::span<const T> flat() const { return {buf_.data(), offsets[count]}; }
    T *data() { return buf_.data(); }
    const T *data() const { return buf_.data(); }

  private:
    using list = meta::list<P...>;
    detail::aligned_buffer<T> buf_;
};

namespace detail {

enum class kind : unsigned char {
    param, input, label, constant, variable, elementwise, matmul, affine, absorbed, transpose,
    reduce, max_reduce, softmax, log_softmax, softmax_ce, unknown
};
inline constexpr std::size_t none = std::size_t(-1);

template <class Op> inline constexpr bool is_max_reduce_v = false;
template <class P> inline constexpr bool is_max_reduce_v<max_reduce_op<P>> = true;

template <class N> constexpr kind base_kind() {
    if constexpr (is_param_v<N>) return kind::param;
    else if constexpr (is_input_v<N>) return kind::input;
    else if constexpr (is_label_v<N>) return kind::label;
    else if constexpr (is_lit_v<N> || is_rconst_v<N>) return kind::constant;
    else if constexpr (is_leaf_v<N>) return kind::variable;
    else {
        using Op = op_t<N>;
        if constexpr (KINK_SAME(Op, matmul_op)) return kind::matmul;
        else if constexpr (KINK_SAME(Op, transpose_op)) return kind::transpose;
        else if constexpr (KINK_SAME(Op, sum_op) || KINK_SAME(Op, mean_op)) return kind::reduce;
        else if constexpr (is_max_reduce_v<Op>) return kind::max_reduce;
        else if constexpr (KINK_SAME(Op, softmax_op)) return kind::softmax;
        else if constexpr (KINK_SAME(Op, log_softmax_op)) return kind::log_softmax;
        else if constexpr (KINK_SAME(Op, softmax_ce_op)) return kind::softmax_ce;
        else if constexpr (is_elementwise_v<Op>) return kind::elementwise;
        else return kind::unknown;
    }
}

template <class N, class Topo> constexpr std::array<std::size_t, 3> args_of() {
    std::array<std::size_t, 3> a{none, none, none};
    if constexpr (is_node_v<N>) {
        constexpr std::array<std::size_t, children_t<N>::size> idx = node_info<N, Topo>::args;
        static_assert(idx.size() <= 3, "kink: compile: ops take at most three arguments");
        for (std::size_t i = 0; i < idx.size(); ++i) a[i] = idx[i];
    }
    return a;
}

/// One contribution to an adjoint, in the order the backward pass makes them.
struct event {
    std::size_t node, slot, dest;
    bool one_to_one; // the contribution can assign (it writes every element of dest once)
};

/// The compile-time plan of a graph: kinds, fusion, storage and the backward contributions.
template <class Topo, class Wrt> struct plan;
template <class... N, class Wrt> struct plan<meta::list<N...>, Wrt> {
    using topo = meta::list<N...>;
    static constexpr std::size_t count = sizeof...(N);
    static constexpr std::array<kind, count> base{base_kind<N>()...};
    static constexpr std::array<std::size_t, count> size{shape_of_t<N>::size...};
    static constexpr std::array<std::size_t, count> rank{shape_of_t<N>::rank...};
    static constexpr std::array<bool, count> batched{batched_v<N>...};
    static constexpr std::array<std::array<std::size_t, 3>, count> args{args_of<N, topo>()...};
    static constexpr std::array<std::size_t, count> nargs{children_t<N>::size...};
    static constexpr std::array<bool, count> trained{((is_param_v<N> || is_input_v<N>) && meta::in_list_v<N, Wrt>)...};

    static constexpr auto uses = [] {
        std::array<std::size_t, count> u{};
        for (std::size_t i = 0; i < count; ++i)
            for (std::size_t k = 0; k < nargs[i]; ++k) ++u[args[i][k]];
        return u;
    }();
    /// For an affine node: which argument of the add is the product (the other is the bias).
    static constexpr auto product_arg = [] {
        std::array<std::size_t, count> p{};
        for (std::size_t i = 0; i < count; ++i) {
            p[i] = none;
            if (base[i] != kind::elementwise || nargs[i] != 2) continue;
            for (std::size_t s = 0; s < 2; ++s) {
                const std::size_t m = args[i][s], b = args[i][1 - s];
                if (base[m] == kind::matmul && uses[m] == 1 && rank[m] == 1 && !batched[b] && rank[b] == 1 &&
                    size[b] == size[m] && p[i] == none)
                    p[i] = s;
            }
        }
        return p;
    }();
    static constexpr std::array<bool, count + 1> is_add{KINK_SAME(op_t<N>, add_op)..., false};
    static constexpr auto kinds = [] {
        std::array<kind, count> k = base;
        for (std::size_t i = 0; i < count; ++i)
            if (is_add[i] && product_arg[i] != none) {
                k[i] = kind::affine;
                k[args[i][product_arg[i]]] = kind::absorbed;
            }
        return k;
    }();
    /// The product node of a matmul or affine node, and its matrix and vector operands.
    static constexpr std::size_t product_of(std::size_t i) { return kinds[i] == kind::affine ? args[i][product_arg[i]] : i; }
    static constexpr std::size_t bias_of(std::size_t i) { return args[i][1 - product_arg[i]]; }
    static constexpr std::size_t matrix_of(std::size_t i) { return args[product_of(i)][0]; }
    static constexpr std::size_t vector_of(std::size_t i) { return args[product_of(i)][1]; }
    static constexpr bool is_product(std::size_t i) { return kinds[i] == kind::matmul || kinds[i] == kind::affine; }
    /// The buffer that holds a matrix operand's values: through a transpose to its argument.
    static constexpr std::size_t matrix_source(std::size_t i) {
        const std::size_t a = matrix_of(i);
        return kinds[a] == kind::transpose ? args[a][0] : a;
    }
    static constexpr bool matrix_transposed(std::size_t i) { return kinds[matrix_of(i)] == kind::transpose; }

    static constexpr auto needs = [] {
        std::array<bool, count> g{};
        for (std::size_t i = 0; i < count; ++i) {
            g[i] = trained[i];
            for (std::size_t k = 0; k < nargs[i]; ++k) g[i] = g[i] || g[args[i][k]];
        }
        return g;
    }();

    /// Whether node i does work in the forward pass at its own position.
    static constexpr bool fwd_work(std::size_t i) {
        return !(kinds[i] == kind::param || kinds[i] == kind::input || kinds[i] == kind::label ||
                 kinds[i] == kind::constant || kinds[i] == kind::absorbed || kinds[i] == kind::transpose);
    }
    /// Forward fusion: the product whose epilogue computes node i (none: its own loop).
    static constexpr auto fwd_host = [] {
        std::array<std::size_t, count> h{};
        for (auto &x : h) x = none;
        for (std::size_t g = 0; g < count; ++g) {
            if (!is_product(g) || !batched[g]) continue;
            for (std::size_t j = g + 1; j < count; ++j) {
                if (!fwd_work(j)) continue;
                bool ok = kinds[j] == kind::elementwise && batched[j] && size[j] == size[g] && rank[j] == 1;
                for (std::size_t k = 0; ok && k < nargs[j]; ++k) {
                    const std::size_t a = args[j][k];
                    ok = a <= g || h[a] == g;
                }
                if (!ok) break;
                h[j] = g;
            }
        }
        return h;
    }();

    /// The consumer position that stands for node p in the backward order (an absorbed product
    /// is processed with its affine node).
    static constexpr std::size_t effective(std::size_t p) {
        if (kinds[p] != kind::absorbed) return p;
        for (std::size_t i = p + 1; i < count; ++i)
            if (kinds[i] == kind::affine && args[i][product_arg[i]] == p) return i;
        return p;
    }
    static constexpr bool bwd_work(std::size_t i) {
        return needs[i] && fwd_work(i);
    }
    /// Backward fusion: the product whose input-gradient epilogue runs node i's vector-Jacobian
    /// product (none: its own loop at its position).
    static constexpr auto bwd_host = [] {
        std::array<std::size_t, count> h{};
        for (auto &x : h) x = none;
        for (std::size_t g = 0; g < count; ++g) {
            if (!is_product(g) || !batched[g]) continue;
            const std::size_t x = vector_of(g);
            if (!needs[x]) continue;
            std::size_t j = x;
            std::size_t from = g; // everything strictly between j and `from` must be idle backward
            while (true) {
                bool ok = kinds[j] == kind::elementwise && batched[j] && size[j] == size[x] && rank[j] == 1 && needs[j];
                for (std::size_t q = j + 1; ok && q < from; ++q) ok = !bwd_work(q) || h[q] == g;
                for (std::size_t p = j + 1; ok && p < count; ++p)
                    for (std::size_t k = 0; ok && k < nargs[p]; ++k)
                        if (args[p][k] == j) ok = effective(p) >= g || h[p] == g;
                if (!ok) break;
                h[j] = g;
                from = j;
                std::size_t nxt = none;
                for (std::size_t q = j; q-- > 0;)
                    if (bwd_work(q)) {
                        nxt = q;
                        break;
                    }
                if (nxt == none) break;
                j = nxt;
            }
        }
        return h;
    }();

    // -- storage -------------------------------------------------------------------------------
    static constexpr bool has_value(std::size_t i) {
        return !(kinds[i] == kind::param || kinds[i] == kind::input || kinds[i] == kind::label ||
                 kinds[i] == kind::absorbed || kinds[i] == kind::transpose || kinds[i] == kind::variable);
    }
    static constexpr bool has_adjoint(std::size_t i) { return needs[i] && (has_value(i) || kinds[i] == kind::input); }
    static constexpr std::size_t aux_size(std::size_t i) { return kinds[i] == kind::softmax_ce ? size[args[i][0]] : 0; }
    struct layout {
        std::array<std::size_t, count> off{}, aux{};
        std::size_t unbatched = 0, per_sample = 0;
    };
    static constexpr layout make_layout(bool adjoint) {
        layout l{};
        for (std::size_t i = 0; i < count; ++i) {
            l.off[i] = l.aux[i] = none;
            if (!(adjoint ? has_adjoint(i) : has_value(i))) continue;
            std::size_t &acc = batched[i] ? l.per_sample : l.unbatched;
            l.off[i] = acc;
            acc += round16(size[i]);
            if (!adjoint && aux_size(i)) {
                l.aux[i] = acc;
                acc += round16(aux_size(i));
            }
        }
        return l;
    }
    static constexpr layout fwd_layout = make_layout(false), adj_layout = make_layout(true);

    // -- backward contributions ----------------------------------------------------------------
    /// Where a contribution through argument a lands: a transpose passes it to its argument.
    static constexpr std::size_t dest_of(std::size_t a) { return kinds[a] == kind::transpose ? args[a][0] : a; }
    static constexpr bool one_to_one(std::size_t from, std::size_t to) {
        return batched[from] == batched[to] && size[from] == size[to];
    }
    /// Whether the vector-Jacobian product of node i through argument slot k writes every element
    /// of the argument's adjoint exactly once (so a first contribution can assign instead of
    /// add): elementwise ops when the shapes match one to one; per-sample tensor ops (reductions,
    /// softmax family, cross-entropy) when sample rows match; products always (GEMM, beta = 0).
    static constexpr bool writes_all(std::size_t i, std::size_t k) {
        const std::size_t a = args[i][k];
        if (is_product(i)) return true;
        if (kinds[i] == kind::elementwise) return one_to_one(i, a);
        return batched[i] == batched[a];
    }
    /// Slots: elementwise and unary tensor ops use their argument index; products use
    /// 0 = bias, 1 = matrix, 2 = vector.
    static constexpr std::size_t max_events = 3 * count + 1;
    static constexpr auto events = [] {
        std::array<event, max_events> e{};
        std::size_t n = 0;
        for (std::size_t i = count; i-- > 0;) {
            if (!needs[i] || !fwd_work(i)) continue;
            if (is_product(i)) {
                if (kinds[i] == kind::affine && needs[bias_of(i)]) e[n++] = {i, 0, bias_of(i), true};
                if (needs[matrix_source(i)]) e[n++] = {i, 1, matrix_source(i), true};
                if (needs[vector_of(i)]) e[n++] = {i, 2, vector_of(i), true};
            } else {
                for (std::size_t k = 0; k < nargs[i]; ++k) {
                    const std::size_t a = args[i][k];
                    if (needs[a]) e[n++] = {i, k, dest_of(a), writes_all(i, k)};
                }
            }
        }
        e[n] = {none, none, none, false};
        return e;
    }();
    static constexpr std::size_t event_count = [] {
        std::size_t n = 0;
        while (events[n].node != none) ++n;
        return n;
    }();
    /// Whether contribution (node, slot) is the first into its destination.
    static constexpr bool first(std::size_t node, std::size_t slot) {
        std::size_t dest = none;
        for (std::size_t k = 0; k < event_count; ++k)
            if (events[k].node == node && events[k].slot == slot) {
                dest = events[k].dest;
                for (std::size_t q = 0; q < k; ++q)
                    if (events[q].dest == dest) return false;
                return true;
            }
        return false;
    }
    /// Buffers zeroed before the backward pass: their first contribution accumulates.
    static constexpr auto zeroed = [] {
        std::array<bool, count> z{};
        for (std::size_t k = 0; k < event_count; ++k) {
            bool seen = false;
            for (std::size_t q = 0; q < k; ++q) seen = seen || events[q].dest == events[k].dest;
            if (!seen && !events[k].one_to_one) z[events[k].dest] = true;
        }
        return z;
    }();

    /// A transpose has no storage of its own: it may only be the matrix of a product.
    static constexpr bool transposes_ok = [] {
        for (std::size_t i = 0; i < count; ++i)
            for (std::size_t k = 0; k < nargs[i]; ++k)
                if (base[args[i][k]] == kind::transpose && !(base[i] == kind::matmul && k == 0)) return false;
        return true;
    }();

    /// Packing workspace for the largest product.
    static constexpr std::size_t max_cols = [] {
        std::size_t m = 1;
        for (std::size_t i = 0; i < count; ++i)
            if (is_product(i)) m = std::max({m, size[i], size[vector_of(i)]});
        return m;
    }();
};

template <class N> struct node_checks {
    static constexpr kind k = base_kind<N>();
    static_assert(k != kind::variable, "kink: compile: the graph has a var<> leaf; use param<>, input<> or label<>");
    static_assert(k != kind::unknown, "kink: compile: an op of this graph has no kernel");
    static constexpr bool ok = true;
};

/// Whether the bindings B... bind leaf L.
template <class L, class... B> inline constexpr bool bound_v = (KINK_SAME(typename B::leaf, L) || ...);

} // namespace detail

/// Names an input or label in the failing condition when it is not bound.
template <class Name, bool Bound> struct input_bound {
    static constexpr bool value = Bound;
};

/// A compiled training step for loss graph `Root` (per-sample scalar) in scalar type T,
/// differentiating with respect to the params in `Wrt`. See `compile`.
template <class T, class Root, class Wrt, exec_options O> class program {
  public:
    using graph = Root;
    using scalar = T;
    using topo = topo_t<Root>;
    using plan = detail::plan<topo, Wrt>;
    using params_type = param_store<T, typename detail::params_of<topo>::type>;
    using kind = detail::kind;
    static constexpr std::size_t count = topo::size;
    static constexpr exec_options options = O;

    /// Whether this program only evaluates (compile_forward): no adjoints, any output shape.
    static constexpr bool forward_only = Wrt::size == 0;
    static_assert(forward_only || shape_of_t<Root>::rank == 0,
                  "kink: compile(loss): the loss must be a per-sample scalar: reduce a vector with mean(...) or sum(...); "
                  "compile_forward(output) evaluates a tensor output without a loss");
    static_assert([]<class... N>(meta::list<N...>) { return (detail::node_checks<N>::ok && ...); }(topo{}));
    static_assert(plan::transposes_ok, "kink: compile: transpose(W) is supported as the matrix of a product "
                                       "(transpose(W) * x), not as the argument of another op");

    program() = default;
    template <class Pool> explicit program(const Pool &pool) : pool_(pool) {}

    /// Fresh storage for the parameters (zeros) or their gradients.
    params_type make_params() const { return {}; }

    /// Sizes the workspace for batches up to n: steps at or below n allocate nothing.
    void reserve(std::size_t n) {
        if (n <= cap_) return;
        fwd_.resize(plan::fwd_layout.unbatched + n * plan::fwd_layout.per_sample + 16);
        if constexpr (!forward_only) adj_.resize(plan::adj_layout.unbatched + n * plan::adj_layout.per_sample + 16);
        if constexpr (is_narrow_v<T>) work_.resize(narrow_workspace(n));
        else work_.resize(gemm::workspace<T>(std::max(plan::max_cols, n)));
        labels_.resize(n * label_count + 1);
        cap_ = n;
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
        const T *l = val(count - 1);
        if constexpr (plan::batched[count - 1]) {
            double s = 0;
            for (std::size_t i = 0; i < n_; ++i) s += l[i];
            return static_cast<T>(s / static_cast<double>(n_));
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
        return {val(r), plan::size[r] * rows_of(r)};
    }

    /// The values of node `x` (a subexpression of the loss) from the last forward pass:
    /// batch * size values for a batched node.
    template <expression X> std::span<const T> value(const X &) const {
        using G = graph_t<X>;
        static_assert(meta::in_list_v<G, topo>, "kink: program::value: not a subexpression of the loss");
        constexpr std::size_t i = meta::index_v<G, topo>;
        static_assert(plan::has_value(i), "kink: program::value: this node is not stored (a leaf, a transpose or a "
                                          "product absorbed into an affine node: ask for the affine node)");
        return {const_cast<program *>(this)->val(i), plan::size[i] * (plan::batched[i] ? n_ : 1)};
    }
    /// The gradient of the mean loss with respect to input `x` (batch * size values) from the last
    /// step; the program must have been compiled with x among its differentiated leaves.
    template <expression X> std::span<const T> input_grad(const X &) const {
        using G = graph_t<X>;
        static_assert(is_input_v<G> && meta::in_list_v<G, Wrt>,
                      "kink: program::input_grad: compile with the input among the leaves: compile(loss, W, b, x)");
        constexpr std::size_t i = meta::index_v<G, topo>;
        return {const_cast<program *>(this)->adj(i), plan::size[i] * n_};
    }
    /// Per parameter (in param_store order): the input (out = false) or output size of the
    /// product it belongs to, as a matrix or as the bias added to it; its own size when it is in
    /// no product.
    static constexpr auto fans(bool out) {
        using P = typename detail::params_of<topo>::type;
        std::array<std::size_t, P::size> f{};
        std::size_t k = 0;
        for (std::size_t i = 0; i < count; ++i) {
            if (plan::kinds[i] != kind::param) continue;
            f[k] = plan::size[i];
            for (std::size_t g = 0; g < count; ++g)
                if (plan::is_product(g) &&
                    (plan::matrix_source(g) == i || (plan::kinds[g] == kind::affine && plan::bias_of(g) == i)))
                    f[k] = out ? plan::size[g] : plan::size[plan::vector_of(g)];
            ++k;
        }
        return f;
    }
    /// Fan-in per parameter: initializers use it, e.g. PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    static constexpr auto fan_in = fans(false);
    /// Fan-out per parameter (Glorot).
    static constexpr auto fan_out = fans(true);
    /// Batch size of the last forward pass.
    std::size_t batch() const { return n_; }

  private:
    /// Products of at most this many weights compile their epilogue into the kernel (see gemm::run).
    static constexpr bool inline_epilogue(std::size_t i) { return plan::size[i] * plan::size[plan::vector_of(i)] <= 1024; }
    /// Float workspace of the narrow formats: the largest of the three products of any layer.
    static constexpr std::size_t narrow_workspace(std::size_t n) {
        std::size_t w = 0;
        for (std::size_t g = 0; g < count; ++g) {
            if (!plan::is_product(g)) continue;
            const std::size_t m = plan::size[g], k = plan::size[plan::vector_of(g)], r = plan::batched[g] ? n : 1;
            w = std::max({w, gemm::narrow_workspace(r, m, k), gemm::narrow_workspace(m, k, r), gemm::narrow_workspace(k, m, r),
                          gemm::narrow_workspace(r, k, m)});
        }
        return w + 64;
    }
    static constexpr std::size_t label_count = [] {
        std::size_t n = 0;
        for (auto k : plan::kinds) n += k == kind::label;
        return n;
    }();
    using Vec = gemm::view<T>;

    // -- binding -------------------------------------------------------------------------------
    template <std::size_t I> static constexpr std::size_t label_slot() {
        std::size_t n = 0;
        for (std::size_t i = 0; i < I; ++i) n += plan::kinds[i] == kind::label;
        return n;
    }
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
        n_ = n;
        (
            [&] {
                using L = typename B::leaf;
                constexpr std::size_t i = meta::index_v<L, topo>;
                if constexpr (is_input_v<L>) {
                    static_assert(std::is_convertible_v<decltype(b.value.data()), const T *>,
                                  "kink: step: bind an input to contiguous values of the program's scalar type");
                    inputs_[i] = b.value.data();
                } else {
                    std::int32_t *dst = labels_.data() + label_slot<i>() * cap_;
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

    // -- addressing ----------------------------------------------------------------------------
    T *val(std::size_t i) {
        const auto &l = plan::fwd_layout;
        return fwd_.data() + (plan::batched[i] ? l.unbatched + n_ * l.off[i] : l.off[i]);
    }
    T *aux(std::size_t i) {
        const auto &l = plan::fwd_layout;
        return fwd_.data() + (plan::batched[i] ? l.unbatched + n_ * l.aux[i] : l.aux[i]);
    }
    T *adj(std::size_t i) {
        const auto &l = plan::adj_layout;
        return adj_.data() + (plan::batched[i] ? l.unbatched + n_ * l.off[i] : l.off[i]);
    }
    template <std::size_t I> static constexpr std::size_t param_index() {
        return meta::index_v<meta::at_t<I, topo>, typename detail::params_of<topo>::type>;
    }
    /// Read pointer of any node's values (parameters and inputs included).
    template <std::size_t I> const T *src() {
        constexpr kind k = plan::kinds[I];
        if constexpr (k == kind::param) return param_ptr_[param_index<I>()];
        else if constexpr (k == kind::input) return inputs_[I];
        else return val(I);
    }
    /// Adjoint pointer of any node that takes gradients (a trained parameter: its gradient).
    template <std::size_t I> T *dst() {
        if constexpr (plan::kinds[I] == kind::param) return grads_->data() + params_type::offsets[param_index<I>()];
        else return adj(I);
    }
    template <std::size_t I> const std::int32_t *labels() { return labels_.data() + label_slot<I>() * cap_; }
    /// Element (s, j) of node I's values, broadcast to a consumer's index space.
    template <std::size_t I> T at(std::size_t s, std::size_t j) {
        constexpr std::size_t n = plan::size[I];
        return src<I>()[(plan::batched[I] ? s * n : 0) + (n == 1 ? 0 : j)];
    }

    void write_constants() {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (
                [&] {
                    using L = meta::at_t<I, topo>;
                    if constexpr (is_lit_v<L>) val(I)[0] = L::template value<T>();
                    else if constexpr (is_rconst_v<L>) val(I)[0] = static_cast<T>(pool_[meta::index_v<L, rconsts_t<Root>>]);
                }(),
                ...);
        }(std::make_index_sequence<count>{});
    }

    // -- elementwise ---------------------------------------------------------------------------
    /// Value of graph G at element (s, j): a stored node is read, any other graph (a local
    /// derivative) is computed from its arguments.
    template <class G> T peval(std::size_t s, std::size_t j) {
        if constexpr (meta::in_list_v<G, topo>) {
            return at<meta::index_v<G, topo>>(s, j);
        } else if constexpr (is_lit_v<G>) {
            return G::template value<T>();
        } else {
            static_assert(is_node_v<G>, "kink: compile: a local derivative uses a leaf the loss does not have");
            return [&]<class Op, class... A>(std::type_identity<node<Op, A...>>) {
                return static_cast<T>(Op::eval(peval<A>(s, j)...));
            }(std::type_identity<G>{});
        }
    }
    /// Node I (elementwise) on rows [s0, s1) and columns [j0, j1).
    template <std::size_t I> void ew_forward(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1) {
        using Nd = meta::at_t<I, topo>;
        constexpr std::size_t n = plan::size[I];
        T *out = val(I);
        std::uint64_t hits = 0, nans = 0;
        [&]<class Op, class... A>(std::type_identity<node<Op, A...>>) {
            for (std::size_t s = s0; s < s1; ++s)
                for (std::size_t j = j0; j < j1; ++j) {
                    if constexpr (is_counted<Nd>::value) {
                        hits += Op::at_kink(peval<A>(s, j)...);
                        nans += any_nan(peval<A>(s, j)...);
                    }
                    out[s * n + j] = static_cast<T>(Op::eval(peval<A>(s, j)...));
                }
        }(std::type_identity<Nd>{});
        if constexpr (is_counted<Nd>::value) {
            kink_counter<Nd>::hits += hits;
            kink_counter<Nd>::evals += (s1 - s0) * (j1 - j0);
            kink_counter<Nd>::nans += nans;
        } else {
            (void)hits, (void)nans;
        }
    }
    /// The vector-Jacobian product of elementwise node I on rows [s0, s1), columns [j0, j1).
    template <std::size_t I> void ew_backward(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1) {
        using Nd = meta::at_t<I, topo>;
        using Op = op_t<Nd>;
        constexpr std::size_t n = plan::size[I];
        const T *g = adj(I);
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (
                [&] {
                    constexpr std::size_t a = plan::args[I][K];
                    if constexpr (plan::needs[a]) {
                        using D = typename Op::template partial<K, Nd>;
                        constexpr std::size_t na = plan::size[a];
                        constexpr bool assign = plan::first(I, K) && plan::writes_all(I, K);
                        T *d = dst<a>();
                        for (std::size_t s = s0; s < s1; ++s)
                            for (std::size_t j = j0; j < j1; ++j) {
                                T v;
                                if constexpr (KINK_SAME(D, one_t)) v = g[s * n + j];
                                else if constexpr (KINK_SAME(D, lit_leaf<-1>)) v = -g[s * n + j];
                                else v = g[s * n + j] * peval<D>(s, j);
                                T &o = d[(plan::batched[a] ? s * na : 0) + (na == 1 ? 0 : j)];
                                o = assign ? v : o + v;
                            }
                    }
                }(),
                ...);
        }(std::make_index_sequence<plan::nargs[I]>{});
    }
    std::size_t rows_of(std::size_t i) const { return plan::batched[i] ? n_ : 1; }

    // -- products ------------------------------------------------------------------------------
    /// The matrix operand W (m x k) of product I as a strided view, and the shapes.
    template <std::size_t I> Vec matrix_view() {
        constexpr std::size_t w = plan::matrix_source(I);
        constexpr std::size_t m = plan::size[I], k = plan::size[plan::vector_of(I)];
        if constexpr (plan::matrix_transposed(I)) return {src<w>(), 1, m}; // W = A^T, A is k x m
        else return {src<w>(), k, 1};
    }
    template <std::size_t I> void product_forward() {
        constexpr std::size_t x = plan::vector_of(I);
        constexpr std::size_t m = plan::size[I], k = plan::size[x];
        static_assert(plan::rank[x] == 1, "kink: compile: a matrix product takes a vector on the right (W * x)");
        static_assert(!plan::batched[plan::matrix_source(I)], "kink: compile: the matrix of a product must not be batched");
        const Vec w = matrix_view<I>();
        T *out = val(I);
        const T *bias = nullptr;
        if constexpr (plan::kinds[I] == kind::affine) bias = src<plan::bias_of(I)>();
        const bool bias_first = plan::kinds[I] == kind::affine && O.bias == bias_at::start;
        gemm::run<T, O.fma, inline_epilogue(I)>(rows_of(I), m, k, Vec{src<x>(), k, 1}, Vec{w.p, w.cs, w.rs}, out, m, false,
                            bias_first ? bias : nullptr, work_.data(),
                            [&](std::size_t s0, std::size_t rows, std::size_t j0, std::size_t cols) {
                                if (bias && !bias_first) {
                                    T *__restrict o = out;
                                    const T *__restrict bb = bias;
                                    for (std::size_t s = s0; s < s0 + rows; ++s)
                                        for (std::size_t j = j0; j < j0 + cols; ++j) o[s * m + j] += bb[j];
                                }
                                fused_forward<I>(s0, s0 + rows, j0, j0 + cols, std::make_index_sequence<count>{});
                            });
    }
    template <std::size_t G, std::size_t... J>
    void fused_forward(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1, std::index_sequence<J...>) {
        (
            [&] {
                if constexpr (plan::fwd_host[J] == G) ew_forward<J>(s0, s1, j0, j1);
            }(),
            ...);
    }
    template <std::size_t G, std::size_t... J>
    void fused_backward(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1, std::index_sequence<J...>) {
        constexpr std::size_t last = sizeof...(J) - 1;
        (
            [&] {
                if constexpr (plan::bwd_host[last - J] == G) ew_backward<last - J>(s0, s1, j0, j1);
            }(),
            ...);
    }
    template <std::size_t I> void product_backward() {
        constexpr std::size_t x = plan::vector_of(I), w = plan::matrix_source(I);
        constexpr std::size_t m = plan::size[I], k = plan::size[x];
        const T *g = adj(I);
        if constexpr (plan::kinds[I] == kind::affine && plan::needs[plan::bias_of(I)]) {
            constexpr std::size_t b = plan::bias_of(I);
            T *__restrict db = dst<b>();
            const T *__restrict gs = g;
            if constexpr (plan::first(I, 0)) std::fill(db, db + m, T(0));
            if constexpr (is_narrow_v<T>) { // column sums in float, rounded once
                float *acc = work_.data();
                for (std::size_t j = 0; j < m; ++j) acc[j] = static_cast<float>(db[j]);
                for (std::size_t s = 0; s < rows_of(I); ++s)
                    for (std::size_t j = 0; j < m; ++j) acc[j] += static_cast<float>(gs[s * m + j]);
                for (std::size_t j = 0; j < m; ++j) db[j] = T(acc[j]);
            } else {
                constexpr std::size_t L = gemm::lanes<T>, mv = m / L * L;
                using V = gemm::vec_t<T>;
                for (std::size_t j = 0; j < mv; j += L) { // column sums, one vector of columns at a time
                    V acc = gemm::load<V>(db + j);
                    for (std::size_t s = 0; s < rows_of(I); ++s) acc += gemm::load<V>(gs + s * m + j);
                    gemm::store<V>(db + j, acc);
                }
                for (std::size_t s = 0; s < rows_of(I); ++s)
                    for (std::size_t j = mv; j < m; ++j) db[j] += gs[s * m + j];
            }
        }
        if constexpr (plan::needs[w]) {
            constexpr bool acc = !plan::first(I, 1);
            if constexpr (plan::matrix_transposed(I)) // A (k x m) += X^T G
                gemm::run<T, O.fma, inline_epilogue(I)>(k, m, rows_of(I), Vec{src<x>(), 1, k}, Vec{g, m, 1}, dst<w>(), m, acc, nullptr, work_.data(),
                                    [](auto...) {});
            else // W (m x k) += G^T X
                gemm::run<T, O.fma, inline_epilogue(I)>(m, k, rows_of(I), Vec{g, 1, m}, Vec{src<x>(), k, 1}, dst<w>(), k, acc, nullptr, work_.data(),
                                    [](auto...) {});
        }
        if constexpr (plan::needs[x]) { // dX += G W
            constexpr bool acc = !plan::first(I, 2);
            const Vec wv = matrix_view<I>();
            T *dx = dst<x>();
            gemm::run<T, O.fma, inline_epilogue(I)>(rows_of(I), k, m, Vec{g, m, 1}, wv, dx, k, acc, nullptr, work_.data(),
                                [&](std::size_t s0, std::size_t rows, std::size_t j0, std::size_t cols) {
                                    fused_backward<I>(s0, s0 + rows, j0, j0 + cols, std::make_index_sequence<count>{});
                                });
        }
    }

    // -- the passes ----------------------------------------------------------------------------
    template <std::size_t I> void node_forward() {
        constexpr kind k = plan::kinds[I];
        if constexpr (!plan::fwd_work(I) || plan::fwd_host[I] != detail::none) {
        } else if constexpr (k == kind::elementwise) {
            ew_forward<I>(0, rows_of(I), 0, plan::size[I]);
        } else if constexpr (k == kind::matmul || k == kind::affine) {
            product_forward<I>();
        } else {
            using Op = op_t<meta::at_t<I, topo>>;
            constexpr std::size_t a = plan::args[I][0], na = plan::size[a];
            const T *x = src<a>();
            T *y = val(I);
            for (std::size_t s = 0; s < rows_of(I); ++s) {
                if constexpr (k == kind::reduce || k == kind::max_reduce) {
                    y[s] = Op::forward(x + s * na, na);
                    if constexpr (k == kind::max_reduce && is_counted<meta::at_t<I, topo>>::value) {
                        using Nd = meta::at_t<I, topo>;
                        ++kink_counter<Nd>::evals;
                        kink_counter<Nd>::hits += Op::ties(x + s * na, na, y[s]) > 1;
                        kink_counter<Nd>::nans += y[s] != y[s];
                    }
                } else if constexpr (k == kind::softmax || k == kind::log_softmax) {
                    Op::forward(x + s * na, na, y + s * na);
                } else if constexpr (k == kind::softmax_ce) {
                    y[s] = Op::forward(x + s * na, na, static_cast<std::size_t>(labels<plan::args[I][1]>()[s]), aux(I) + s * na);
                }
            }
        }
    }
    template <std::size_t I> void node_backward() {
        constexpr kind k = plan::kinds[I];
        if constexpr (!plan::needs[I] || !plan::fwd_work(I) || plan::bwd_host[I] != detail::none) {
        } else if constexpr (k == kind::elementwise) {
            ew_backward<I>(0, rows_of(I), 0, plan::size[I]);
        } else if constexpr (k == kind::matmul || k == kind::affine) {
            product_backward<I>();
        } else {
            using Op = op_t<meta::at_t<I, topo>>;
            constexpr std::size_t a = plan::args[I][0], na = plan::size[a];
            if constexpr (plan::needs[a]) {
                constexpr bool assign = plan::first(I, 0) && plan::writes_all(I, 0);
                const T *g = adj(I);
                const T *y = val(I);
                T *d = dst<a>();
                for (std::size_t s = 0; s < rows_of(I); ++s) {
                    T *ds = d + s * na;
                    if constexpr (k == kind::reduce) {
                        const T v = g[s] * Op::template backward_scale<T>(na);
                        for (std::size_t j = 0; j < na; ++j) ds[j] = assign ? v : ds[j] + v;
                    } else if constexpr (k == kind::max_reduce) {
                        Op::backward(src<a>() + s * na, na, y[s], g[s], ds, assign);
                    } else if constexpr (k == kind::softmax || k == kind::log_softmax) {
                        Op::backward(y + s * na, g + s * na, na, ds, assign);
                    } else if constexpr (k == kind::softmax_ce) {
                        Op::backward(aux(I) + s * na, na, static_cast<std::size_t>(labels<plan::args[I][1]>()[s]), g[s], ds,
                                     assign);
                    }
                }
            }
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

    // -- the finite check (exec_options::check_finite) -----------------------------------------
    /// The first non-finite of n values, or n.
    static std::size_t first_non_finite(const T *v, std::size_t n) {
        if constexpr (!is_narrow_v<T>) { // one branch-free pass on the exponent bits (vectorizes: 12x the
            // speed of a compare loop): all exponent bits set is NaN or inf
            using U = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
            constexpr U exp = sizeof(T) == 8 ? U(0x7ff0000000000000ull) : U(0x7f800000u);
            U bad = 0;
            for (std::size_t i = 0; i < n; ++i) {
                U b;
                std::memcpy(&b, v + i, sizeof b);
                bad |= U((b & exp) == exp);
            }
            if (!bad) return n;
        }
        for (std::size_t i = 0; i < n; ++i)
            if (!(static_cast<double>(v[i]) - static_cast<double>(v[i]) == 0.0)) return i;
        return n;
    }
    [[noreturn]] static void report(const std::string &what, T v, std::size_t i, std::size_t per_sample, bool batched) {
        const double d = static_cast<double>(v);
        std::string where = batched ? "sample " + std::to_string(i / per_sample) + ", element " + std::to_string(i % per_sample)
                                    : "element " + std::to_string(i);
        throw non_finite_error("kink: step: " + what + " is " + (d != d ? "NaN" : (d > 0 ? "+inf" : "-inf")) + " at " + where);
    }
    template <std::size_t I> static std::string node_label() {
        std::size_t k = 0;
        for (std::size_t i = 0; i <= I; ++i) k += !(plan::base[i] == kind::param || plan::base[i] == kind::input ||
                                                   plan::base[i] == kind::label || plan::base[i] == kind::constant ||
                                                   plan::base[i] == kind::variable);
        return "node v" + std::to_string(k) + " (" + std::string(op_t<meta::at_t<I, topo>>::name) + ")";
    }
    template <std::size_t... I> void check_leaves(std::index_sequence<I...>) {
        (
            [&] {
                using L = meta::at_t<I, topo>;
                if constexpr (plan::kinds[I] == kind::param || plan::kinds[I] == kind::input) {
                    const std::size_t n = plan::size[I] * rows_of(I);
                    const T *v = src<I>();
                    if (const std::size_t i = first_non_finite(v, n); i < n)
                        report(std::string(is_param_v<L> ? "parameter '" : "input '") + std::string(L::name()) + "'", v[i], i,
                               plan::size[I], plan::batched[I]);
                }
            }(),
            ...);
    }
    template <std::size_t I> void check_values() {
        if constexpr (plan::has_value(I) && plan::kinds[I] != kind::constant) {
            const std::size_t n = plan::size[I] * rows_of(I);
            const T *v = val(I);
            if (const std::size_t i = first_non_finite(v, n); i < n) report(node_label<I>(), v[i], i, plan::size[I], plan::batched[I]);
        }
    }
    static constexpr auto trained_params = []<class... P>(meta::list<P...>) {
        return std::array<bool, sizeof...(P) + 1>{meta::in_list_v<P, Wrt>..., false};
    }(typename detail::params_of<topo>::type{});
    void check_gradients() {
        for (std::size_t k = 0; k < params_type::count; ++k) {
            if (!trained_params[k]) continue;
            const T *g = grads_->data() + params_type::offsets[k];
            if (const std::size_t i = first_non_finite(g, params_type::sizes[k]); i < params_type::sizes[k])
                report("the gradient of parameter '" + std::string(params_type::names[k]) + "'", g[i], i, params_type::sizes[k], false);
        }
    }
    template <std::size_t... I> void run_backward(std::index_sequence<I...>) { (node_backward<count - 1 - I>(), ...); }

    /// Points every parameter of this graph at its values in `store` (same store type as the
    /// program's, or any store that holds each parameter with the same name and shape).
    template <class Store> void set_params(const Store &store) {
        set_params_at(store, std::make_index_sequence<params_type::count>{});
    }
    template <class Store, std::size_t... K> void set_params_at(const Store &store, std::index_sequence<K...>) {
        if constexpr (KINK_SAME(Store, params_type)) {
            ((param_ptr_[K] = store.data() + params_type::offsets[K]), ...);
        } else {
            using mine = typename detail::params_of<topo>::type;
            static_assert((Store::template holds<meta::at_t<K, mine>> && ...),
                          "kink: compile_forward: the parameter store lacks a parameter of this graph (the same name and shape)");
            ((param_ptr_[K] = store.data() + Store::template offset_of<meta::at_t<K, mine>>), ...);
        }
    }

    void backward(params_type &grads) {
        grads_ = &grads;
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (
                [&] {
                    if constexpr (plan::zeroed[I]) {
                        T *d = dst<I>();
                        std::fill(d, d + plan::size[I] * rows_of(I), T(0));
                    }
                }(),
                ...);
        }(std::make_index_sequence<count>{});
        constexpr std::size_t r = count - 1;
        if constexpr (plan::needs[r]) {
            T *g = adj(r);
            const T seed = plan::batched[r] ? T(1) / static_cast<T>(n_) : T(1);
            for (std::size_t s = 0; s < rows_of(r); ++s) g[s] = seed;
        }
        run_backward(std::make_index_sequence<count>{});
        if constexpr (O.check_finite) check_gradients();
    }

    pool_t<Root> pool_{};
    detail::aligned_buffer<T> fwd_, adj_;
    detail::aligned_buffer<gemm::work_t<T>> work_;
    detail::aligned_buffer<std::int32_t> labels_;
    std::array<const T *, count> inputs_{};
    std::array<const T *, params_type::count + 1> param_ptr_{};
    params_type *grads_ = nullptr;
    std::size_t cap_ = 0, n_ = 0;
};

namespace detail {
/// What compile returns for a graph whose shapes disagree. The mismatch was reported, once, where
/// the graph was built (make_node's static_assert); this stand-in takes every use of a program
/// and its parameter store without a further error, so that message stays the only one.
template <class T> struct broken_store {
    static constexpr std::size_t count = 0, values = 0;
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

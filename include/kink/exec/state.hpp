#pragma once
/// \file
/// The runtime state of a compiled program (its arenas, bound inputs, parameter pointers) and
/// the view a kernel gets of it: `node_ctx`, one per node, with the node's values, adjoints and
/// arguments addressed as the plan laid them out. Also the generic elementwise loops (every
/// elementwise op's value rule and `partial` graphs over a rectangle of rows and elements), which
/// run at a node's own position or inside a kernel's epilogue.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <kink/exec/gemm.hpp>
#include <kink/exec/plan.hpp>
#include <kink/expr/key.hpp>

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
    /// Samples per chunk. A step splits its batch into chunks of this many consecutive samples
    /// (the last may be shorter), runs the forward and backward passes of each chunk as a unit,
    /// and forms each parameter gradient as the sum of the chunks' gradients in chunk order:
    /// g = ((g_0 + g_1) + g_2) + ... Threads and MPI ranks take whole chunks, so a gradient is
    /// the same, bit for bit, for every number of threads and ranks (exec/team.hpp).
    std::size_t chunk = 32;
};

namespace detail {

template <class S, std::size_t I> struct node_ctx;

/// Node K of a program's topological order as a leaf of a local graph.
template <std::size_t K> struct stored_leaf {
    static constexpr std::size_t index = K;
};
template <class G> inline constexpr bool is_stored_v = false;
template <std::size_t K> inline constexpr bool is_stored_v<stored_leaf<K>> = true;
/// Graph G (a local derivative, built from a node of Topo and its arguments) with every subgraph
/// that Topo stores replaced by a stored_leaf of its position: the elementwise loops are
/// instantiated on these short types, never on graph-sized ones (expr/key.hpp says why).
template <class G, class Topo, bool Stored = (meta::index_of<G, Topo>::value < Topo::size)> struct localize {
    using type = stored_leaf<meta::index_of<G, Topo>::value>;
};
template <class G, class Topo> struct localize<G, Topo, false> {
    using type = G;
};
template <class Op, class... A, class Topo> struct localize<node<Op, A...>, Topo, false> {
    using type = node<Op, typename localize<A, Topo>::type...>;
};

/// What one thread of a program works with while it runs a chunk of the batch: pointers into
/// the program's arenas for the batched values and adjoints (laid out for the whole batch, node
/// by node), and its own storage for everything computed once per chunk (unbatched values and
/// adjoints, kernel scratch, matrix-product workspace). A kernel addresses rows [0, rows()) of
/// its chunk; the state adds the chunk's first sample.
template <class T, class Key, exec_options O> struct state {
    /// The loss (or output) graph and the leaves differentiated, found by the key: the state's
    /// name, and so every member's, does not spell out the graph (expr/key.hpp).
    using keyed = keyed_graph_t<Key>;
    using Root = meta::at_t<0, keyed>;
    using Wrt = meta::at_t<1, keyed>;
    using topo = topo_t<Root>;
    using root = Root;
    using plan = detail::plan<topo, Wrt>;
    using params_type = param_store<T, typename detail::params_of<topo>::type>;
    static constexpr std::size_t count = topo::size;
    static constexpr exec_options options = O;

    pool_t<Root> pool_{};
    detail::aligned_buffer<T> unb_fwd_, unb_adj_, scratch_;
    detail::aligned_buffer<gemm::work_t<T>> work_;
    T *fwd_ = nullptr, *adj_ = nullptr;      ///< the program's batched arenas
    const std::int32_t *labels_ = nullptr;   ///< the program's labels, label_cap_ per label leaf
    std::array<const T *, count> inputs_{};  ///< whole-batch input pointers
    std::array<const T *, params_type::count + 1> param_ptr_{};
    T *grads_ = nullptr;                     ///< this chunk's parameter gradients (a flat store)
    T *direct_ = nullptr;                    ///< where the direct_dest gradients go (see below)
    bool continuing_ = false;                ///< direct_ already holds earlier chunks: add to it
    std::size_t stride_ = 0;                 ///< the batch the arenas are laid out for
    std::size_t label_cap_ = 0;
    std::size_t s0_ = 0, n_ = 0;             ///< this chunk: its first sample and its rows

    /// Per node: a trained parameter whose gradient has one contribution, from a kernel that
    /// adds_once for this chunk size and scalar type. Chunks after the first add their part of
    /// it straight into the step's gradient (in chunk order) instead of a slot that is folded
    /// in later: the same bits, one pass over the gradient less (exec/program.hpp).
    static constexpr auto direct_dest = [] {
        constexpr auto once = []<class... N>(meta::list<N...>) {
            return std::array<std::array<bool, 4>, count>{
                std::array<bool, 4>{traits_t<N>::template adds_once<0, T>(O.chunk), traits_t<N>::template adds_once<1, T>(O.chunk),
                                    traits_t<N>::template adds_once<2, T>(O.chunk), false}...};
        }(topo{});
        std::array<bool, count> d{};
        for (std::size_t i = 0; i < count; ++i) {
            if (plan::roles[i] != role::param || !plan::needs[i]) continue;
            const std::size_t n = plan::contributions[i][0], e = plan::contributions[i][1];
            const auto &ev = plan::events[e];
            d[i] = n == 1 && ev.slot < 3 && plan::assigns(ev.node, ev.slot) && once[plan::op_node(ev.node)][ev.slot];
        }
        return d;
    }();

    std::size_t rows_of(std::size_t i) const { return plan::batched[i] ? n_ : 1; }
    T *val(std::size_t i) {
        const auto &l = plan::fwd_layout;
        return plan::batched[i] ? fwd_ + stride_ * l.off[i] + s0_ * plan::size[i] : unb_fwd_.data() + l.off[i];
    }
    T *aux(std::size_t i) {
        const auto &l = plan::fwd_layout;
        return plan::batched[i] ? fwd_ + stride_ * l.aux[i] + s0_ * plan::aux_size[plan::op_node(i)] : unb_fwd_.data() + l.aux[i];
    }
    T *adj(std::size_t i) {
        const auto &l = plan::adj_layout;
        return plan::batched[i] ? adj_ + stride_ * l.off[i] + s0_ * plan::size[i] : unb_adj_.data() + l.off[i];
    }
    /// Read pointer of any node's values (parameters, inputs and views included).
    template <std::size_t I> const T *src() {
        constexpr std::size_t S = plan::source(I);
        constexpr role k = plan::roles[S];
        if constexpr (k == role::param) return param_ptr_[plan::leaf_slot[S]];
        else if constexpr (k == role::input) return inputs_[S] + s0_ * plan::size[S];
        else return val(S);
    }
    /// Adjoint pointer of any node that takes gradients (a trained parameter: its gradient).
    template <std::size_t I> T *dst() {
        constexpr std::size_t S = plan::dest_of(I);
        if constexpr (plan::roles[S] == role::param) return (direct_dest[S] ? direct_ : grads_) + params_type::offsets[plan::leaf_slot[S]];
        else return adj(S);
    }
    template <std::size_t I> const std::int32_t *labels() { return labels_ + plan::leaf_slot[I] * label_cap_ + s0_; }
    /// Element (s, j) of node I's values, broadcast to a consumer's index space.
    template <std::size_t I> T at(std::size_t s, std::size_t j) {
        constexpr std::size_t n = plan::size[I];
        return src<I>()[(plan::batched[I] ? s * n : 0) + (n == 1 ? 0 : j)];
    }

    // -- elementwise ---------------------------------------------------------------------------
    /// Calls f(j) for j in [j0, j1), whose calls write distinct elements: in blocks of 16 marked
    /// independent, then the rest one by one. g++ -O2 (the default of meson and of most builds)
    /// vectorizes only loops that need neither a scalar remainder nor a run-time alias check (its
    /// very-cheap cost model), so the plain loop over a layer's elements stayed scalar there,
    /// while -O3 and clang vectorized it (the CNN example's step at -O2, AVX2, callgrind: 270 M
    /// instructions with the plain loop, 245 M blocked, 221 M at -O3).
    template <class F> static void each_element(std::size_t j0, std::size_t j1, F &&f) {
        constexpr std::size_t B = 16;
        const std::size_t blocks = (j1 - j0) / B;
        for (std::size_t b = 0; b < blocks; ++b) {
            const std::size_t j = j0 + b * B;
#if !defined(__clang__) // clang vectorizes the loop at -O2 (with its alias checks) and would
#pragma GCC ivdep       // warn where a loop cannot be (a throwing `trap` policy, 16-bit formats)
#endif
            for (std::size_t k = 0; k < B; ++k) f(j + k);
        }
        for (std::size_t j = j0 + blocks * B; j < j1; ++j) f(j);
    }
    /// Value of local graph G (see localize) at element (s, j): a stored node is read, any other
    /// graph (a local derivative) is computed from its arguments.
    template <class G> T peval(std::size_t s, std::size_t j) {
        if constexpr (is_stored_v<G>) {
            return at<G::index>(s, j);
        } else if constexpr (is_lit_v<G>) {
            return G::template value<T>();
        } else if constexpr (is_rconst_v<G>) { // a policy::runtime kink value
            return static_cast<T>(pool_[meta::index_of<G, rconsts_t<Root>>::value]);
        } else {
            static_assert(is_node_v<G>, "kink: compile: a local derivative uses a leaf the loss does not have");
            return [&]<class Op, class... A>(std::type_identity<node<Op, A...>>) {
                return static_cast<T>(Op::eval(peval<A>(s, j)...));
            }(std::type_identity<G>{});
        }
    }
    /// Node I (elementwise) on rows [s0, s1) and elements [j0, j1).
    template <std::size_t I> void ew_forward(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1) {
        using Nd = meta::at_t<I, topo>;
        using Op = op_t<Nd>;
        constexpr std::size_t n = plan::size[I];
        T *out = val(I);
        std::uint64_t hits = 0, nans = 0;
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            for (std::size_t s = s0; s < s1; ++s)
                each_element(j0, j1, [&](std::size_t j) {
                    if constexpr (is_counted<Nd>::value) {
                        hits += Op::at_kink(at<plan::args[I][K]>(s, j)...);
                        nans += any_nan(at<plan::args[I][K]>(s, j)...);
                    }
                    out[s * n + j] = static_cast<T>(Op::eval(at<plan::args[I][K]>(s, j)...));
                });
        }(std::make_index_sequence<plan::nargs[I]>{});
        if constexpr (is_counted<Nd>::value) {
            kink_counter<Nd>::hits += hits;
            kink_counter<Nd>::evals += (s1 - s0) * (j1 - j0);
            kink_counter<Nd>::nans += nans;
        } else {
            (void)hits, (void)nans;
        }
    }
    /// The vector-Jacobian product of elementwise node I on rows [s0, s1), elements [j0, j1).
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
                        using D = typename localize<typename Op::template partial<K, Nd>, topo>::type;
                        constexpr std::size_t na = plan::size[a];
                        constexpr bool assign = plan::assigns(I, K);
                        T *d = dst<a>();
                        auto vjp = [&](std::size_t s, std::size_t j) {
                            T v;
                            if constexpr (KINK_SAME(D, one_t)) v = g[s * n + j];
                            else if constexpr (KINK_SAME(D, lit_leaf<-1>)) v = -g[s * n + j];
                            else v = g[s * n + j] * peval<D>(s, j);
                            T &o = d[(plan::batched[a] ? s * na : 0) + (na == 1 ? 0 : j)];
                            o = assign ? v : o + v;
                        };
                        for (std::size_t s = s0; s < s1; ++s) {
                            if constexpr (na == 1) // a broadcast argument: one sum, in order
                                for (std::size_t j = j0; j < j1; ++j) vjp(s, j);
                            else each_element(j0, j1, [&](std::size_t j) { vjp(s, j); });
                        }
                    }
                }(),
                ...);
        }(std::make_index_sequence<plan::nargs[I]>{});
    }
    /// The elementwise nodes hosted by node G's forward epilogue, on a finished rectangle.
    template <std::size_t G> void fused_forward(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1) {
        constexpr auto &h = plan::fwd_hosted;
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (ew_forward<h.nodes[h.first[G] + K]>(s0, s1, j0, j1), ...);
        }(std::make_index_sequence<h.size(G)>{});
    }
    /// The elementwise vector-Jacobian products hosted by node G's grad epilogue, last node first.
    template <std::size_t G> void fused_backward(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1) {
        constexpr auto &h = plan::bwd_hosted;
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (ew_backward<h.nodes[h.first[G + 1] - 1 - K]>(s0, s1, j0, j1), ...);
        }(std::make_index_sequence<h.size(G)>{});
    }
};

/// What the kernel of node I sees (exec/kernel.hpp lists the members). For an affine node, the
/// op and arguments are those of its product, and bias() is the added vector.
template <class S, std::size_t I> struct node_ctx {
    using plan = typename S::plan;
    using T = std::remove_cvref_t<decltype(*std::declval<S &>().fwd_)>; ///< the scalar type
    static constexpr std::size_t index = I, op_index = plan::op_node(I);
    /// The node whose op runs (the product of an affine node).
    using node = meta::at_t<op_index, typename S::topo>;
    static constexpr exec_options options = S::options;
    static constexpr std::size_t program_nodes = S::count; ///< the nodes of the whole program
    static constexpr bool counting = is_counted<node>::value;
    static constexpr bool affine = plan::roles[I] == role::affine;
    template <std::size_t K> static constexpr std::size_t arg = plan::args[op_index][K];
    template <std::size_t K> static constexpr bool needs = plan::needs[arg<K>];
    template <std::size_t K> static constexpr bool assign = plan::assigns(I, K);
    template <std::size_t K> static constexpr bool arg_batched = plan::batched[arg<K>];
    template <std::size_t K> static constexpr bool arg_strided = plan::roles[arg<K>] == role::strided;
    static constexpr bool batched = plan::batched[I];
    static constexpr bool needs_bias = affine && plan::needs[plan::bias_of(affine ? I : 0)];
    static constexpr bool assign_bias = affine && plan::assigns(I, plan::bias_slot);
    static constexpr bool bias_first = affine && S::options.bias == bias_at::start;
    /// Whether elementwise nodes run in this kernel's forward epilogue (grad epilogue): a kernel
    /// without any passes gemm::no_epilogue, whose kernels every such product shares.
    static constexpr bool hosts_epilogue = plan::fwd_hosted.size(I) != 0;
    static constexpr bool hosts_grad_epilogue = plan::bwd_hosted.size(I) != 0;

    S &s;
    std::size_t rows() const { return s.rows_of(I); }
    template <std::size_t K> const T *in() { return s.template src<arg<K>>(); }
    T *out() { return s.val(I); }
    T *aux() { return s.aux(I); }
    const T *grad() { return s.adj(I); }
    template <std::size_t K> T *arg_grad() { return s.template dst<arg<K>>(); }
    const T *bias() {
        if constexpr (affine) return s.template src<plan::bias_of(I)>();
        else return nullptr;
    }
    T *bias_grad() {
        if constexpr (affine) return s.template dst<plan::bias_of(I)>();
        else return nullptr;
    }
    template <std::size_t K> const std::int32_t *labels() { return s.template labels<arg<K>>(); }
    /// Whether argument K's adjoint already holds earlier chunks' sums, so that a kernel asked to
    /// assign it (assign<K>) must add instead; only for kernels that declare adds_once.
    template <std::size_t K> bool continues() const { return S::direct_dest[plan::dest_of(arg<K>)] && s.continuing_; }
    /// The value of runtime constant C (an rconst_leaf: a policy::runtime kink value or rule).
    template <class C> double constant() const { return s.pool_[meta::index_of<C, rconsts_t<typename S::root>>::value]; }
    gemm::work_t<T> *work() { return s.work_.data(); }
    T *scratch() { return s.scratch_.data(); }
    /// Runs the elementwise nodes fused after this one on rows [s0, s1), elements [e0, e1).
    void epilogue(std::size_t s0, std::size_t s1, std::size_t e0, std::size_t e1) {
        s.template fused_forward<I>(s0, s1, e0, e1);
    }
    /// Runs the elementwise vector-Jacobian products fused into this node's grad epilogue.
    void grad_epilogue(std::size_t s0, std::size_t s1, std::size_t e0, std::size_t e1) {
        s.template fused_backward<I>(s0, s1, e0, e1);
    }
};

} // namespace detail
} // namespace kink

#pragma once
/// \file
/// The runtime state of a compiled program: its arenas, bound inputs and parameter pointers
/// (the view a kernel gets of it is exec/kernel_ctx.hpp's `kernel_ctx`). Also the generic
/// elementwise loops (every elementwise op's value rule and `partial` graphs over a rectangle of
/// rows and elements), which run at a node's own position or inside a kernel's epilogue.

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

/// Node K of a program's topological order as a leaf of a local graph.
template <std::size_t K> struct stored_leaf {
    static constexpr std::size_t index = K;
};
template <class G> struct is_stored : std::false_type {};
template <std::size_t K> struct is_stored<stored_leaf<K>> : std::true_type {};
template <class G> concept is_stored_v = is_stored<G>::value;
/// Graph G (a local derivative, built from a node of Topo and its arguments) with every subgraph
/// that Topo stores replaced by a stored_leaf of its position: the elementwise loops are
/// instantiated on these short types, never on graph-sized ones (expr/key.hpp says why).
template <class G, class Topo, bool Stored = (meta::node_index_of<G, Topo>::value < Topo::size)> struct localize {
    using type = stored_leaf<meta::node_index_of<G, Topo>::value>;
};
template <class G, class Topo> struct localize<G, Topo, false> {
    using type = G;
};
template <class Op, class... A, class Topo> struct localize<node<Op, A...>, Topo, false> {
    using type = node<Op, typename localize<A, Topo>::type...>;
};

// -- elementwise loops ---------------------------------------------------------------------------
// An elementwise node's forward loop and each of its vector-Jacobian products are functions of
// the op (or of the local derivative's graph), the node's size and how each value is read, not of
// the node's position: every node of the same op and shapes, in every block of a network and in
// every program of a translation unit, shares one compiled loop. A local derivative reads its
// values through numbered slots (slot_leaf), which the node's caller points at the values.

/// Value K of the pointers an elementwise loop is given.
template <std::size_t K> struct slot_leaf {
    static constexpr std::size_t index = K;
};
template <class G> struct is_slot : std::false_type {};
template <std::size_t K> struct is_slot<slot_leaf<K>> : std::true_type {};
/// How a loop of N elements per row reads a value at (s, j): row s of a batched value (row 0 of
/// an unbatched one), and element j of a vector of N, the one element of a scalar (broadcast),
/// or, for `channel`, element j / P of a per-channel vector beside a [C, H, W] value (P = H W
/// positions per channel, kept in the bits above the kind: `channel_reach(P)`).
enum reach : unsigned { shared_vector = 0, shared_scalar = 1, row_vector = 2, row_scalar = 3, channel = 4 };
constexpr unsigned channel_reach(std::size_t positions) { return channel | unsigned(positions << 3); }
template <unsigned R, std::size_t N> constexpr std::size_t offset_at(std::size_t s, std::size_t j) {
    constexpr bool rows = R & 2, scalar = R & 1;
    if constexpr ((R & channel) != 0) {
        constexpr std::size_t P = R >> 3;
        return (rows ? s * (N / P) : 0) + j / P;
    } else {
        return (rows ? s * (scalar ? 1 : N) : 0) + (scalar ? 0 : j);
    }
}

/// The leaves of a local derivative that its loop reads (stored nodes and runtime constants), in
/// order of first appearance: Seen is the list so far.
template <class G, class Seen> struct slots_of {
    using type = Seen;
};
template <class G, class Seen>
    requires(is_stored_v<G> || is_rconst_v<G>)
struct slots_of<G, Seen> {
    using type = meta::add_unique_t<Seen, G>;
};
template <class Op, class A0, class... A, class Seen> struct slots_of<node<Op, A0, A...>, Seen> {
    using type = typename slots_of<node<Op, A...>, typename slots_of<A0, Seen>::type>::type;
};
/// G with each of its slots' leaves replaced by slot_leaf<its position in Slots>.
template <class G, class Slots> struct to_slots {
    using type = G;
};
template <class G, class Slots>
    requires(is_stored_v<G> || is_rconst_v<G>)
struct to_slots<G, Slots> {
    using type = slot_leaf<meta::index_of<G, Slots>::value>;
};
template <class Op, class... A, class Slots> struct to_slots<node<Op, A...>, Slots> {
    using type = node<Op, typename to_slots<A, Slots>::type...>;
};

/// Elementwise loops of N elements per row over values of type T.
template <class T, std::size_t N> struct ew_loops {
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

    /// Op's values on rows [s0, s1), elements [j0, j1): out(s, j) = Op(in_k(s, j)...), argument
    /// k read as R[k]. With Count, adds how many elements sat on a kink and had a NaN argument.
    template <class Op, bool Count, auto R>
    static void forward(T *out, const T *const *in, std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1,
                        std::uint64_t &hits, std::uint64_t &nans) {
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            for (std::size_t s = s0; s < s1; ++s)
                each_element(j0, j1, [&](std::size_t j) {
                    if constexpr (Count) {
                        hits += Op::at_kink(in[K][offset_at<R[K], N>(s, j)]...);
                        nans += any_nan(in[K][offset_at<R[K], N>(s, j)]...);
                    }
                    out[s * N + j] = static_cast<T>(Op::eval(in[K][offset_at<R[K], N>(s, j)]...));
                });
        }(std::make_index_sequence<R.size()>{});
    }

    /// Local graph G (its leaves slot_leaf<K>, read as R[K]) at element (s, j).
    template <class G, auto R> static T value(const T *const *in, std::size_t s, std::size_t j) {
        if constexpr (is_slot<G>::value) {
            return in[G::index][offset_at<R[G::index], N>(s, j)];
        } else if constexpr (is_lit_v<G>) {
            return G::template value<T>();
        } else {
            static_assert(is_node_v<G>, "kink: compile: a local derivative uses a leaf the loss does not have");
            return [&]<class Op, class... A>(std::type_identity<node<Op, A...>>) {
                return static_cast<T>(Op::eval(value<A, R>(in, s, j)...));
            }(std::type_identity<G>{});
        }
    }

    /// One vector-Jacobian product on rows [s0, s1), elements [j0, j1): d(s, j) (+)= g(s, j) *
    /// D(s, j), where D is a local derivative over slots read as R, and the adjoint d is read and
    /// written as Dst (a broadcast argument's adjoint is one sum per row, in order).
    template <class D, unsigned Dst, bool Assign, auto R>
    static void vjp(const T *g, T *d, const T *const *in, std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1) {
        const auto one = [&](std::size_t s, std::size_t j) {
            T v;
            if constexpr (KINK_SAME(D, one_t)) v = g[s * N + j];
            else if constexpr (KINK_SAME(D, lit_leaf<-1>)) v = -g[s * N + j];
            else v = g[s * N + j] * value<D, R>(in, s, j);
            T &o = d[offset_at<Dst, N>(s, j)];
            o = Assign ? v : o + v;
        };
        for (std::size_t s = s0; s < s1; ++s) {
            if constexpr ((Dst & (shared_scalar | channel)) != 0) // several elements add into one
                for (std::size_t j = j0; j < j1; ++j) one(s, j);
            else each_element(j0, j1, [&](std::size_t j) { one(s, j); });
        }
    }
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
    T *uadj_ = nullptr;                      ///< unbatched adjoints: unb_adj_, or the chunk's own
                                             ///< in a program with batch statistics
    double *partial_ = nullptr;              ///< the chunk's partial sums of batch statistics
    std::uint64_t seed_ = 0, rng_step_ = 0;  ///< the program's random seed and step counter

    /// Per argument slot (and the bias slot, never), whether kernel Traits adds once (kernel.hpp).
    template <class Traits, std::size_t... K> static constexpr std::array<bool, plan::bias_slot + 1> adds_once_of(std::index_sequence<K...>) {
        return {Traits::template adds_once<K, T>(O.chunk)..., false};
    }
    /// Per node: a trained parameter whose gradient has one contribution, from a kernel that
    /// adds_once for this chunk size and scalar type. Chunks after the first add their part of
    /// it straight into the step's gradient (in chunk order) instead of a slot that is folded
    /// in later: the same bits, one pass over the gradient less (exec/program.hpp).
    static constexpr auto direct_dest = [] {
        constexpr auto once = []<class... N>(meta::list<N...>) {
            return std::array<std::array<bool, plan::bias_slot + 1>, count>{adds_once_of<traits_t<N>>(std::make_index_sequence<max_args>{})...};
        }(topo{});
        std::array<bool, count> d{};
        for (std::size_t i = 0; i < count; ++i) {
            if (plan::roles[i] != role::param || !plan::needs[i]) continue;
            const std::size_t n = plan::contributions[i][0], e = plan::contributions[i][1];
            const auto &ev = plan::events[e];
            d[i] = n == 1 && ev.slot < max_args && plan::assigns(ev.node, ev.slot) && once[plan::op_node(ev.node)][ev.slot];
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
        return plan::batched[i] ? adj_ + stride_ * l.off[i] + s0_ * plan::size[i] : uadj_ + l.off[i];
    }
    /// Read pointer of any node's values (parameters, inputs and views included). Functions of a
    /// position, not templates over it: one function for every node (a constant position folds
    /// the tables away where it is inlined).
    const T *src(std::size_t i) {
        const std::size_t k = plan::sources[i];
        switch (plan::roles[k]) {
        case role::param: return param_ptr_[plan::leaf_slot[k]];
        case role::input: return inputs_[k] + s0_ * plan::size[k];
        default: return val(k);
        }
    }
    /// Adjoint pointer of any node that takes gradients (a trained parameter: its gradient).
    T *dst(std::size_t i) {
        const std::size_t k = plan::sources[i];
        if (plan::roles[k] == role::param) return (direct_dest[k] ? direct_ : grads_) + params_type::offsets[plan::leaf_slot[k]];
        return adj(k);
    }
    const std::int32_t *labels(std::size_t i) { return labels_ + plan::leaf_slot[i] * label_cap_ + s0_; }

    // -- elementwise ---------------------------------------------------------------------------
    // The calls below fill their pointers in run-time loops over the plan's tables and pass how
    // each value is read as one array (an `auto` template argument): no lambda and no pack
    // expansion per node and argument, whose functions g++ and clang compile one by one.
    /// How a loop of n elements per row reads node a's values (see reach).
    static constexpr unsigned reach_of(std::size_t a, std::size_t n) {
        const unsigned rows = plan::batched[a] ? 2u : 0u;
        if (plan::size[a] == 1) return rows | shared_scalar;
        return rows | (plan::size[a] == n ? 0u : channel_reach(n / plan::size[a]));
    }
    /// Node I (elementwise) on rows [s0, s1) and elements [j0, j1).
    template <std::size_t I> void ew_forward(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1) {
        using Nd = meta::node_at_t<I, topo>;
        constexpr bool counted = is_counted<Nd>::value;
        constexpr std::size_t n = plan::nargs[I];
        constexpr auto reach = [] {
            std::array<unsigned, n> r{};
            for (std::size_t k = 0; k != n; ++k) r[k] = reach_of(plan::args[I][k], plan::size[I]);
            return r;
        }();
        const T *in[n + 1] = {};
        for (std::size_t k = 0; k != n; ++k) in[k] = src(plan::args[I][k]);
        std::uint64_t hits = 0, nans = 0;
        ew_loops<T, plan::size[I]>::template forward<op_t<Nd>, counted, reach>(val(I), in, s0, s1, j0, j1, hits, nans);
        if constexpr (counted) {
            kink_counter<Nd>::hits += hits;
            kink_counter<Nd>::evals += (s1 - s0) * (j1 - j0);
            kink_counter<Nd>::nans += nans;
        }
    }
    /// The vector-Jacobian products of elementwise node I on rows [s0, s1), elements [j0, j1).
    template <std::size_t I> void ew_backward(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1) {
        ew_vjps<I>(s0, s1, j0, j1, std::make_index_sequence<plan::nargs[I]>{});
    }
    template <std::size_t I, std::size_t... K>
    void ew_vjps(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1, std::index_sequence<K...>) {
        (ew_vjp<I, K>(s0, s1, j0, j1), ...);
    }
    /// Runtime constant i of the pool (programs without any have an empty pool).
    double constant_at(std::size_t i) const {
        if constexpr (rconsts_t<Root>::size != 0) return pool_[i];
        else return (void)i, 0.0;
    }
    /// Where a local derivative's slots read: a stored node's position, or a runtime constant's
    /// place in the pool.
    struct slot_source {
        bool stored = false;
        std::size_t index = 0;
    };
    template <class... L> static constexpr std::array<slot_source, sizeof...(L) + 1> slot_sources(meta::list<L...>) {
        return {slot_source{is_stored_v<L>, [] {
                                if constexpr (is_stored_v<L>) return L::index;
                                else return meta::index_of<L, rconsts_t<Root>>::value;
                            }()}...,
                slot_source{}};
    }
    /// How a local derivative's loop reads each slot (a runtime constant: a broadcast scalar).
    template <std::size_t N, class... L> static constexpr std::array<unsigned, sizeof...(L)> slot_reaches(meta::list<L...>) {
        return {[] {
            if constexpr (is_stored_v<L>) return reach_of(L::index, N);
            else return unsigned(shared_scalar);
        }()...};
    }
    template <std::size_t I, std::size_t K> void ew_vjp(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1) {
        constexpr std::size_t a = plan::args[I][K];
        if constexpr (plan::needs[a]) {
            using Nd = meta::node_at_t<I, topo>;
            using D = typename localize<typename op_t<Nd>::template partial<K, Nd>, topo>::type;
            using Slots = typename slots_of<D, meta::list<>>::type;
            constexpr std::size_t m = Slots::size;
            constexpr auto from = slot_sources(Slots{});
            T tmp[m + 1] = {};
            const T *in[m + 1] = {};
            for (std::size_t k = 0; k != m; ++k) {
                if (from[k].stored) {
                    in[k] = src(from[k].index);
                } else {
                    tmp[k] = static_cast<T>(constant_at(from[k].index));
                    in[k] = &tmp[k];
                }
            }
            using G = typename to_slots<D, Slots>::type;
            ew_loops<T, plan::size[I]>::template vjp<G, reach_of(a, plan::size[I]), plan::assigns(I, K), slot_reaches<plan::size[I]>(Slots{})>(adj(I), dst(a), in, s0,
                                                                                                             s1, j0, j1);
        }
    }
    /// The elementwise nodes hosted by node G's forward epilogue, on a finished rectangle.
    template <std::size_t G> void fused_forward(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1) {
        fused_forward_at<G>(s0, s1, j0, j1, std::make_index_sequence<plan::fwd_hosted.size(G)>{});
    }
    template <std::size_t G, std::size_t... K>
    void fused_forward_at(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1, std::index_sequence<K...>) {
        constexpr auto &h = plan::fwd_hosted;
        (ew_forward<h.nodes[h.first[G] + K]>(s0, s1, j0, j1), ...);
    }
    /// The elementwise vector-Jacobian products hosted by node G's grad epilogue, last node first.
    template <std::size_t G> void fused_backward(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1) {
        fused_backward_at<G>(s0, s1, j0, j1, std::make_index_sequence<plan::bwd_hosted.size(G)>{});
    }
    template <std::size_t G, std::size_t... K>
    void fused_backward_at(std::size_t s0, std::size_t s1, std::size_t j0, std::size_t j1, std::index_sequence<K...>) {
        constexpr auto &h = plan::bwd_hosted;
        (ew_backward<h.nodes[h.first[G + 1] - 1 - K]>(s0, s1, j0, j1), ...);
    }
};

} // namespace detail
} // namespace kink

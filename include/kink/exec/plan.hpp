#pragma once
/// \file
/// The compile-time plan of a tensor program, computed from the graph type as constexpr tables
/// indexed by the topological position of each node. It reads only what ops and their kernels
/// declare (exec/kernel.hpp), never an op's name:
///  - roles: leaves; elementwise nodes (one generic loop); tensor ops (their kernel); views
///    (alias: the argument's storage; strided: read through other strides by a consumer that
///    accepts it); a product whose kernel `absorbs_bias` and whose only use is `+ b` (b an
///    unbatched vector of its size) is absorbed into that addition, which runs the product's
///    kernel with the bias (an *affine* node);
///  - storage: one offset per node into a forward arena and an adjoint arena (unbatched values
///    first, then batched values times the runtime batch);
///  - fusion: elementwise nodes that directly follow a node whose kernel has an `epilogue` and
///    need nothing computed later run in that kernel's tiles while they are in cache; in the
///    backward pass, the elementwise nodes whose adjoint a kernel's `grad_epilogue` completes run
///    in that epilogue (the derivative mask);
///  - the chain rule over tensors: each adjoint is the sum of its consumers' vector-Jacobian
///    products, in reverse topological order; the first contribution to a buffer assigns, later
///    ones add (decided at compile time, so nothing is zeroed that is fully overwritten).

#include <algorithm>
#include <array>
#include <cstddef>

#include <kink/exec/eval.hpp>
#include <kink/exec/kernel.hpp>
#include <kink/exec/storage.hpp>

namespace kink {
namespace detail {
template <class S, bool B> struct shaped_leaf;
}
template <class S, bool B> struct shape_of<detail::shaped_leaf<S, B>> {
    using type = S;
};
template <class S, bool B> struct batched<detail::shaped_leaf<S, B>> : std::bool_constant<B> {};
} // namespace kink

namespace kink::detail {

enum class role : unsigned char { param, input, label, constant, variable, elementwise, op, affine, absorbed, alias, strided, unknown };

/// The role of an op's nodes before fusion.
template <class Op> constexpr role op_role() {
    if constexpr (is_elementwise_v<Op>) return role::elementwise;
    else if constexpr (!has_kernel_v<Op>) return role::unknown;
    else if constexpr (kernel_traits<Op>::storage == storage_kind::alias) return role::alias;
    else if constexpr (kernel_traits<Op>::storage == storage_kind::strided) return role::strided;
    else return role::op;
}
/// The role of node N before fusion, as std::integral_constant: a class, not a function of N,
/// which g++ would name after N (see meta::sized); a node's role is its op's.
template <class N> struct base_role_of
    : std::integral_constant<role, is_param<N>::value   ? role::param
                                   : is_input<N>::value ? role::input
                                   : is_label<N>::value ? role::label
                                   : (is_lit<N>::value || is_rconst<N>::value) ? role::constant
                                                                               : role::variable> {};
template <class Op, class... A> struct base_role_of<node<Op, A...>> : std::integral_constant<role, op_role<Op>()> {};
// Per-node facts are read through classes whose names are short (std::bool_constant, an op's
// kernel_traits, a shallow node), not variable or function templates over the node's type: g++
// emits and names such instantiations with the graph-sized node type in every name.
template <class N> struct bias_add_of : std::false_type {};
template <class Op, class... A>
    requires requires { requires Op::bias_add; }
struct bias_add_of<node<Op, A...>> : std::true_type {};
template <class N> struct traits_of {
    using type = kernel_traits<void>;
};
template <class N>
    requires(is_node_v<N> && !is_elementwise_v<op_t<N>> && has_kernel_v<op_t<N>>)
struct traits_of<N> {
    using type = kernel_traits<op_t<N>>;
};
template <class N> using traits_t = typename traits_of<N>::type;
template <class Traits, std::size_t Nargs> constexpr std::array<bool, max_args> strided_args() {
    return []<std::size_t... A>(std::index_sequence<A...>) {
        std::array<bool, max_args> r{};
        ((r[A] = Traits::template accepts_strided<A>()), ...);
        return r;
    }(std::make_index_sequence<std::min<std::size_t>(Nargs, max_args)>{});
}

/// A stand-in argument of a shape, batched or not.
template <class S, bool B> struct shaped_leaf {
    using shape_type = S;
};
/// Node N with its arguments replaced by stand-ins of their shapes: what a kernel's size rules
/// (aux_size, scratch_size, work_size, fans) read, instantiated once per op and shapes.
template <class N> struct shallow {
    using type = N;
};
template <class Op, class... A> struct shallow<node<Op, A...>> {
    using type = node<Op, shaped_leaf<shape_of_t<A>, batched_v<A>>...>;
};
template <class N> using shallow_t = typename shallow<N>::type;
template <class L> struct shallow_list;
template <class... N> struct shallow_list<meta::list<N...>> {
    using type = meta::list<shallow_t<N>...>;
};
template <class L> using shallow_list_t = typename shallow_list<L>::type;
/// The matrix-product workspace of a batch of n for the nodes N (shallow): the largest any asks.
template <class T, class L> struct work_sizes;
template <class T, class... N> struct work_sizes<T, meta::list<N...>> {
    static constexpr std::size_t get(std::size_t n) { return std::max({std::size_t(64), traits_t<N>::template work_size<N, T>(n)...}); }
};

/// One contribution to an adjoint, in the order the backward pass makes them.
struct event {
    std::size_t node, slot, dest;
    bool one_to_one; // the contribution can assign (it writes every element of dest once)
};

/// Where each of N nodes' values (or adjoints) and kernel data live in the arenas. A class of its
/// own, not a member of plan: clang names the IR type of a member class after its enclosing class
/// with every template argument printed in full, and the plan's argument is the node list.
template <std::size_t N> struct storage_layout {
    std::array<std::size_t, N> off{}, aux{};
    std::size_t unbatched = 0, per_sample = 0;
};

/// The nodes each of N hosts runs in an epilogue, grouped by host (a compressed sparse row
/// table): host g's are nodes[first[g]] ... nodes[first[g + 1] - 1], in topological order.
template <std::size_t N> struct hosted_table {
    std::array<std::size_t, N + 1> first{}, nodes{};
    constexpr std::size_t size(std::size_t g) const { return first[g + 1] - first[g]; }
};
/// The table of a host array (none: not hosted), by one counting pass and one placing pass.
template <std::size_t N> constexpr hosted_table<N> make_hosted(const std::array<std::size_t, N> &host) {
    hosted_table<N> t{};
    for (std::size_t i = 0; i < N; ++i)
        if (host[i] != none) ++t.first[host[i] + 1];
    for (std::size_t g = 0; g < N; ++g) t.first[g + 1] += t.first[g];
    std::array<std::size_t, N + 1> next = t.first;
    for (std::size_t i = 0; i < N; ++i)
        if (host[i] != none) t.nodes[next[host[i]]++] = i;
    return t;
}

/// The phases of a sweep: phase p runs entries [start[p], start[p + 1]) of the sweep's run list.
template <std::size_t N> struct phase_table {
    std::array<std::size_t, N + 2> start{};
    std::size_t n = 1;
};

/// Some of N nodes, in topological order: at[0], ..., at[size - 1].
template <std::size_t N> struct node_set {
    std::array<std::size_t, N + 1> at{};
    std::size_t size = 0;
    constexpr void add(std::size_t i) { at[size++] = i; }
};
/// Per node that a sweep runs (in `runs`), its phase in table t.
template <std::size_t N> constexpr std::array<std::size_t, N> phase_of(const phase_table<N> &t, const node_set<N> &runs) {
    std::array<std::size_t, N> f{};
    for (std::size_t p = 0; p < t.n; ++p)
        for (std::size_t r = t.start[p]; r < t.start[p + 1]; ++r) f[runs.at[r]] = p;
    return f;
}
/// The nodes i < N for which keep(i) holds, in topological order (or reversed).
template <std::size_t N, class Keep> constexpr node_set<N> nodes_where(Keep keep, bool reversed = false) {
    node_set<N> r{};
    for (std::size_t k = 0; k < N; ++k)
        if (const std::size_t i = reversed ? N - 1 - k : k; keep(i)) r.add(i);
    return r;
}

template <class Topo, class Wrt> struct plan;
template <class... N, class Wrt> struct plan<meta::list<N...>, Wrt> {
    using topo = meta::list<N...>;
    static constexpr std::size_t count = sizeof...(N);
    static constexpr std::array<role, count> base{base_role_of<N>::value...};
    static constexpr std::array<std::size_t, count> size{shape_of_t<N>::size...};
    static constexpr std::array<bool, count> batched{batched_v<N>...};
    static constexpr std::array<std::array<std::size_t, max_args>, count> args{node_args<N, topo>::positions::padded...};
    static constexpr std::array<std::size_t, count> nargs{children_t<N>::size...};
    /// Whether each node is a differentiated leaf: found by looking up each of Wrt's leaves in
    /// the node list (|Wrt| lookups), not each node in Wrt (a search of Wrt per node cost
    /// O(N |Wrt|) at compile time: about 1.7 s for the 64-block residual MLP). When Wrt is every
    /// parameter (compile(loss)), it is the parameter nodes.
    static constexpr std::array<bool, count> trained = [] {
        if constexpr (KINK_SAME(Wrt, typename params_of<topo>::trained)) {
            return std::array<bool, count>{is_trained_param<N>::value...};
        } else {
            return []<class... W>(meta::list<W...>) {
                std::array<bool, count> t{};
                constexpr std::size_t at[] = {meta::node_index_of<W, topo>::value..., count};
                for (std::size_t k = 0; k < sizeof...(W); ++k)
                    if (at[k] < count) t[at[k]] = true;
                return t;
            }(Wrt{});
        }
    }();
    static constexpr std::array<bool, count + 1> bias_add{bias_add_of<N>::value..., false};
    static constexpr std::array<bool, count + 1> absorbs{traits_t<N>::absorbs_bias..., false};
    static constexpr std::array<bool, count + 1> whole{traits_t<N>::writes_whole..., false};
    static constexpr std::array<bool, count + 1> has_epilogue{traits_t<N>::epilogue..., false};
    static constexpr std::array<std::size_t, count + 1> grad_epilogue{traits_t<N>::grad_epilogue..., none};
    static constexpr std::array<std::array<bool, max_args>, count + 1> strided_ok{strided_args<traits_t<N>, children_t<N>::size>()..., std::array<bool, max_args>{}};
    static constexpr std::array<std::size_t, count + 1> aux_size{traits_t<N>::template aux_size<shallow_t<N>>()..., 0};
    static constexpr std::array<std::size_t, count + 1> partial_size{traits_t<N>::template partial_size<shallow_t<N>>()..., 0};

    /// Per node: its position among the parameters (the parameter store's order: the trained
    /// ones, then the running statistics, each in topological order) or among the labels; none
    /// for any other node.
    static constexpr auto leaf_slot = [] {
        constexpr std::array<bool, count> running{is_running<N>::value...};
        std::size_t trained_params = 0;
        for (std::size_t i = 0; i < count; ++i) trained_params += base[i] == role::param && !running[i];
        std::array<std::size_t, count> p{};
        std::size_t params = 0, stats = trained_params, labels = 0;
        for (std::size_t i = 0; i < count; ++i)
            p[i] = base[i] == role::param ? (running[i] ? stats++ : params++) : base[i] == role::label ? labels++ : none;
        return p;
    }();
    static constexpr auto uses = [] {
        std::array<std::size_t, count> u{};
        for (std::size_t i = 0; i < count; ++i)
            for (std::size_t k = 0; k < nargs[i]; ++k) ++u[args[i][k]];
        return u;
    }();
    /// For an affine node: which argument of the addition is the product (the other is the bias).
    static constexpr auto product_arg = [] {
        std::array<std::size_t, count> p{};
        for (std::size_t i = 0; i < count; ++i) {
            p[i] = none;
            if (!bias_add[i] || nargs[i] != 2) continue;
            for (std::size_t s = 0; s < 2; ++s) {
                const std::size_t m = args[i][s], b = args[i][1 - s];
                if (base[m] == role::op && absorbs[m] && uses[m] == 1 && !batched[b] && size[b] == size[m] && p[i] == none)
                    p[i] = s;
            }
        }
        return p;
    }();
    static constexpr auto roles = [] {
        std::array<role, count> k = base;
        for (std::size_t i = 0; i < count; ++i)
            if (product_arg[i] != none) {
                k[i] = role::affine;
                k[args[i][product_arg[i]]] = role::absorbed;
            }
        return k;
    }();
    /// The node whose op and arguments node i runs: its product for an affine node, itself otherwise.
    static constexpr std::size_t op_node(std::size_t i) { return roles[i] == role::affine ? args[i][product_arg[i]] : i; }
    static constexpr std::size_t bias_of(std::size_t i) { return args[i][1 - product_arg[i]]; }
    static constexpr bool runs_kernel(std::size_t i) { return roles[i] == role::op || roles[i] == role::affine; }
    static constexpr bool is_view(std::size_t i) { return roles[i] == role::alias || roles[i] == role::strided; }
    /// The node whose buffer holds node i's values (views read their argument's).
    static constexpr std::size_t source(std::size_t i) {
        while (is_view(i)) i = args[i][0];
        return i;
    }
    static constexpr auto sources = [] {
        std::array<std::size_t, count> r{};
        for (std::size_t i = 0; i < count; ++i) r[i] = source(i);
        return r;
    }();

    static constexpr auto needs = [] {
        std::array<bool, count> g{};
        for (std::size_t i = 0; i < count; ++i) {
            g[i] = trained[i];
            for (std::size_t k = 0; k < nargs[i]; ++k) g[i] = g[i] || g[args[i][k]];
        }
        return g;
    }();

    /// Whether node i does work in the forward pass at its own position.
    static constexpr bool fwd_work(std::size_t i) { return roles[i] == role::elementwise || runs_kernel(i); }
    /// Forward fusion: the node whose kernel's epilogue computes node i (none: its own loop).
    static constexpr auto fwd_host = [] {
        std::array<std::size_t, count> h{};
        for (auto &x : h) x = none;
        for (std::size_t g = 0; g < count; ++g) {
            if (!runs_kernel(g) || !has_epilogue[op_node(g)] || !batched[g]) continue;
            for (std::size_t j = g + 1; j < count; ++j) {
                if (!fwd_work(j)) continue;
                bool ok = roles[j] == role::elementwise && batched[j] && size[j] == size[g];
                for (std::size_t k = 0; ok && k < nargs[j]; ++k) {
                    const std::size_t a = args[j][k];
                    ok = (a <= g && (size[a] == 1 || size[a] == size[g])) || h[a] == g;
                }
                if (!ok) break;
                h[j] = g;
            }
        }
        return h;
    }();

    /// The consumer position that stands for node p in the backward order (an absorbed product
    /// is processed with its affine node).
    static constexpr auto effective_of = [] {
        std::array<std::size_t, count> e{};
        for (std::size_t i = 0; i < count; ++i) e[i] = i;
        for (std::size_t i = 0; i < count; ++i)
            if (roles[i] == role::affine) e[args[i][product_arg[i]]] = i;
        return e;
    }();
    static constexpr std::size_t effective(std::size_t p) { return effective_of[p]; }
    static constexpr bool bwd_work(std::size_t i) { return needs[i] && fwd_work(i); }
    /// The argument whose adjoint host g completes in its grad epilogue (none).
    static constexpr std::size_t grad_epilogue_arg(std::size_t g) {
        const std::size_t p = op_node(g), e = grad_epilogue[p];
        return e == none ? none : args[p][e];
    }
    /// Per node, the nodes that take it as an argument (once per argument slot), grouped by node
    /// as a hosted_table: the backward fusion below asks it of every candidate node, and a scan
    /// of all later nodes per candidate made the plan quadratic (1.5 s of g++'s time for the
    /// 1100-node 64-block residual MLP).
    static constexpr auto users = [] {
        hosted_table<max_args * count> t{};
        for (std::size_t p = 0; p < count; ++p)
            for (std::size_t k = 0; k < nargs[p]; ++k) ++t.first[args[p][k] + 1];
        for (std::size_t j = 0; j < count; ++j) t.first[j + 1] += t.first[j];
        std::array<std::size_t, max_args * count + 1> next = t.first;
        for (std::size_t p = 0; p < count; ++p)
            for (std::size_t k = 0; k < nargs[p]; ++k) t.nodes[next[args[p][k]]++] = p;
        return t;
    }();
    /// Backward fusion: the host whose grad epilogue runs node i's vector-Jacobian product (none:
    /// its own loop at its position).
    static constexpr auto bwd_host = [] {
        std::array<std::size_t, count> h{};
        for (auto &x : h) x = none;
        for (std::size_t g = 0; g < count; ++g) {
            if (!runs_kernel(g) || !batched[g]) continue;
            const std::size_t x = grad_epilogue_arg(g);
            if (x == none || !needs[x]) continue;
            std::size_t j = x;
            std::size_t from = g; // everything strictly between j and `from` must be idle backward
            while (true) {
                bool ok = roles[j] == role::elementwise && batched[j] && size[j] == size[x] && needs[j];
                for (std::size_t q = j + 1; ok && q < from; ++q) ok = !bwd_work(q) || h[q] == g;
                for (std::size_t u = users.first[j]; ok && u < users.first[j + 1]; ++u) {
                    const std::size_t p = users.nodes[u];
                    ok = effective(p) >= g || h[p] == g;
                }
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

    /// Per host: the nodes its forward epilogue and its grad epilogue run (built once, so that a
    /// kernel's question "what do I host?" costs nothing per kernel).
    static constexpr hosted_table<count> fwd_hosted = make_hosted(fwd_host), bwd_hosted = make_hosted(bwd_host);

    /// The nodes each sweep visits, so that a program instantiates nothing for the others
    /// (leaves, views, nodes fused into a kernel): those that run at their own position forward
    /// and backward, the constants written before a chunk, the adjoints zeroed before the
    /// backward pass (see `zeroed`), the inputs and labels a step binds.
    static constexpr auto forward_runs = nodes_where<count>([](std::size_t i) { return fwd_work(i) && fwd_host[i] == none; });
    static constexpr auto backward_runs =
        nodes_where<count>([](std::size_t i) { return needs[i] && fwd_work(i) && bwd_host[i] == none; }, true);
    static constexpr auto constants = nodes_where<count>([](std::size_t i) { return base[i] == role::constant; });

    // -- phases: batch statistics ---------------------------------------------------------------
    // A batch statistic (a kernel that declares batch_reduction, such as batch_mean's) has its
    // value only once every chunk of the batch has added its partial sums, and passes its adjoint
    // back only once every chunk has added to it. The forward sweep is cut before the first node
    // that reads a statistic of the current phase, the backward sweep before a statistic that
    // received a contribution in the current phase; the program runs each phase over all chunks
    // and combines the statistics between phases. The cuts keep the sweeps' order, so every
    // adjoint receives its contributions in the order the plan's events list them. A program
    // without statistics has one phase of each.
    /// Whether node i is a batch statistic.
    static constexpr bool barrier(std::size_t i) { return roles[i] == role::op && partial_size[i] != 0; }
    static constexpr auto barriers = nodes_where<count>([](std::size_t i) { return barrier(i); });
    static constexpr bool phased = barriers.size != 0;
    /// Per statistic: its partial sums' offset in a chunk's partials (doubles, 8-aligned).
    static constexpr auto partial_off = [] {
        std::array<std::size_t, count> o{};
        std::size_t n = 0;
        for (std::size_t i = 0; i < count; ++i)
            if (barrier(i)) o[i] = n, n += (partial_size[i] + 7) / 8 * 8;
        return o;
    }();
    static constexpr std::size_t partial_total = [] {
        std::size_t n = 0;
        for (std::size_t i = 0; i < count; ++i)
            if (barrier(i)) n += (partial_size[i] + 7) / 8 * 8;
        return n;
    }();
    /// The argument adjoints node j's vector-Jacobian products add to (and the values it reads).
    template <class F> static constexpr void each_arg(std::size_t j, F &&f) {
        const std::size_t p = op_node(j);
        for (std::size_t k = 0; k < nargs[p]; ++k) f(source(args[p][k]));
        if (roles[j] == role::affine) f(source(bias_of(j)));
    }
    static constexpr auto fwd_phases = [] {
        phase_table<count> t{};
        std::array<bool, count> pending{};
        std::array<std::size_t, count + 1> list{};
        std::size_t np = 0;
        for (std::size_t r = 0; r < forward_runs.size; ++r) {
            const std::size_t g = forward_runs.at[r];
            bool cut = false;
            const auto reads = [&](std::size_t a) { cut = cut || pending[a]; };
            each_arg(g, reads);
            for (std::size_t h = fwd_hosted.first[g]; h < fwd_hosted.first[g + 1]; ++h) each_arg(fwd_hosted.nodes[h], reads);
            if (cut) {
                t.start[t.n++] = r;
                while (np) pending[list[--np]] = false;
            }
            if (barrier(g)) pending[list[np++] = g] = true;
        }
        t.start[t.n] = forward_runs.size;
        return t;
    }();
    /// Per node that runs forward at its own position: its forward phase.
    static constexpr auto fwd_phase_of = phase_of(fwd_phases, forward_runs);
    static constexpr auto bwd_phases = [] {
        phase_table<count> t{};
        std::array<bool, count> touched{};
        std::array<std::size_t, 4 * count + 1> list{};
        std::size_t nt = 0;
        const auto touch = [&](std::size_t a) {
            if (!touched[a]) touched[a] = true, list[nt++] = a;
        };
        for (std::size_t r = 0; r < backward_runs.size; ++r) {
            const std::size_t g = backward_runs.at[r];
            // a statistic of the last forward phase has no reader; it is combined after the
            // chunks' first backward phase, so it must not run in it
            if (barrier(g) && (touched[g] || (t.n == 1 && fwd_phase_of[g] + 1 == fwd_phases.n))) {
                t.start[t.n++] = r;
                while (nt) touched[list[--nt]] = false;
            }
            each_arg(g, touch);
            for (std::size_t h = bwd_hosted.first[g]; h < bwd_hosted.first[g + 1]; ++h) each_arg(bwd_hosted.nodes[h], touch);
        }
        t.start[t.n] = backward_runs.size;
        return t;
    }();
    static constexpr auto bwd_phase_of = phase_of(bwd_phases, backward_runs);
    static constexpr auto data_leaves =
        nodes_where<count>([](std::size_t i) { return base[i] == role::input || base[i] == role::label; });

    // -- storage -------------------------------------------------------------------------------
    static constexpr bool has_value(std::size_t i) {
        return roles[i] == role::constant || roles[i] == role::elementwise || runs_kernel(i);
    }
    static constexpr bool has_adjoint(std::size_t i) { return needs[i] && (has_value(i) || roles[i] == role::input); }
    using layout = storage_layout<count>;
    static constexpr layout make_layout(bool adjoint) {
        layout l{};
        for (std::size_t i = 0; i < count; ++i) {
            l.off[i] = l.aux[i] = none;
            if (!(adjoint ? has_adjoint(i) : has_value(i))) continue;
            std::size_t &acc = batched[i] ? l.per_sample : l.unbatched;
            l.off[i] = acc;
            acc += round16(size[i]);
            if (!adjoint && aux_size[op_node(i)]) {
                l.aux[i] = acc;
                acc += round16(aux_size[op_node(i)]);
            }
        }
        return l;
    }
    static constexpr layout fwd_layout = make_layout(false), adj_layout = make_layout(true);

    // -- backward contributions ----------------------------------------------------------------
    /// Where a contribution through argument a lands: a view passes it to its argument.
    static constexpr std::size_t dest_of(std::size_t a) { return source(a); }
    /// Whether the vector-Jacobian product of node i through argument slot k writes every element
    /// of the argument's adjoint exactly once (so a first contribution can assign instead of
    /// add): elementwise ops when the shapes match one to one; kernels when the argument is
    /// batched as the node is (each sample's rows are written by that sample) and always for
    /// kernels that declare writes_whole.
    static constexpr bool writes_all(std::size_t i, std::size_t k) {
        const std::size_t p = op_node(i), a = dest_of(args[p][k]);
        if (roles[i] == role::elementwise) return batched[i] == batched[a] && size[i] == size[a];
        return batched[p] == batched[a] || whole[p];
    }
    /// Slots: the argument index of the node that runs (an affine node's product's arguments), and
    /// for an affine node, slot max_args for the bias.
    static constexpr std::size_t bias_slot = max_args;
    static constexpr std::size_t max_events = (max_args + 1) * count + 1;
    static constexpr auto events = [] {
        std::array<event, max_events> e{};
        std::size_t n = 0;
        for (std::size_t i = count; i-- > 0;) {
            if (!needs[i] || !fwd_work(i)) continue;
            const std::size_t p = op_node(i);
            if (roles[i] == role::affine && needs[bias_of(i)]) e[n++] = {i, bias_slot, dest_of(bias_of(i)), true};
            for (std::size_t k = 0; k < nargs[p]; ++k) {
                const std::size_t a = args[p][k];
                if (needs[a]) e[n++] = {i, k, dest_of(a), writes_all(i, k)};
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
    // Every table below is one pass over the events (with a flag per node), so the plan's
    // cost stays linear in the graph: a search of the events per question asked made it
    // quadratic (the 32-block residual MLP has 552 nodes and about 1100 events).
    /// Per event: whether it is the first contribution into its destination.
    static constexpr auto first_event = [] {
        std::array<bool, max_events> f{};
        std::array<bool, count> seen{};
        for (std::size_t k = 0; k < event_count; ++k) {
            f[k] = !seen[events[k].dest];
            seen[events[k].dest] = true;
        }
        return f;
    }();
    /// Per node and slot (bias_slot included): its event's position (none: no such event).
    static constexpr auto event_at = [] {
        std::array<std::array<std::size_t, bias_slot + 1>, count> e{};
        for (auto &r : e)
            for (auto &x : r) x = none;
        for (std::size_t k = 0; k < event_count; ++k) e[events[k].node][events[k].slot] = k;
        return e;
    }();
    /// Whether contribution (node, slot) is the first into its destination.
    static constexpr bool first(std::size_t node, std::size_t slot) {
        const std::size_t k = event_at[node][slot];
        return k != none && first_event[k];
    }
    /// Whether contribution (node, slot) may assign its destination.
    static constexpr bool assigns(std::size_t node, std::size_t slot) {
        const std::size_t k = event_at[node][slot];
        return k != none && first_event[k] && events[k].one_to_one;
    }
    /// Buffers zeroed before the backward pass: their first contribution accumulates.
    static constexpr auto zeroed = [] {
        std::array<bool, count> z{};
        for (std::size_t k = 0; k < event_count; ++k)
            if (first_event[k] && !events[k].one_to_one) z[events[k].dest] = true;
        return z;
    }();
    static constexpr auto zeroed_nodes = nodes_where<count>([](std::size_t i) { return zeroed[i]; });
    /// Per node: how many contributions its adjoint receives, and the last of them.
    static constexpr auto contributions = [] {
        std::array<std::array<std::size_t, 2>, count> c{};
        for (std::size_t k = 0; k < event_count; ++k) c[events[k].dest] = {c[events[k].dest][0] + 1, k};
        return c;
    }();

    /// A strided view has no storage of its own: only an argument its consumer accepts strided.
    static constexpr bool strided_ok_everywhere = [] {
        for (std::size_t i = 0; i < count; ++i)
            for (std::size_t k = 0; k < nargs[i]; ++k)
                if (base[args[i][k]] == role::strided && !(base[i] == role::op && strided_ok[i][k])) return false;
        return true;
    }();
};

} // namespace kink::detail

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

namespace kink::detail {

enum class role : unsigned char { param, input, label, constant, variable, elementwise, op, affine, absorbed, alias, strided, unknown };
inline constexpr std::size_t none = std::size_t(-1);

template <class N> constexpr role base_role() {
    if constexpr (is_param_v<N>) return role::param;
    else if constexpr (is_input_v<N>) return role::input;
    else if constexpr (is_label_v<N>) return role::label;
    else if constexpr (is_lit_v<N> || is_rconst_v<N>) return role::constant;
    else if constexpr (is_leaf_v<N>) return role::variable;
    else if constexpr (is_elementwise_v<op_t<N>>) return role::elementwise;
    else if constexpr (!has_kernel_v<op_t<N>>) return role::unknown;
    else if constexpr (kernel_traits<op_t<N>>::storage == storage_kind::alias) return role::alias;
    else if constexpr (kernel_traits<op_t<N>>::storage == storage_kind::strided) return role::strided;
    else return role::op;
}
template <class N> constexpr bool bias_add_v = [] {
    if constexpr (is_node_v<N>) return requires { requires op_t<N>::bias_add; };
    else return false;
}();
template <class N> struct traits_of {
    using type = kernel_traits<void>;
};
template <class N>
    requires(is_node_v<N> && !is_elementwise_v<op_t<N>> && has_kernel_v<op_t<N>>)
struct traits_of<N> {
    using type = kernel_traits<op_t<N>>;
};
template <class N> using traits_t = typename traits_of<N>::type;
template <class N, std::size_t A> constexpr bool accepts_strided_v = [] {
    if constexpr (KINK_SAME(traits_t<N>, kernel_traits<void>)) return false;
    else return traits_t<N>::template accepts_strided<A>();
}();
template <class N> constexpr std::array<bool, 3> strided_args() {
    return [&]<std::size_t... A>(std::index_sequence<A...>) {
        std::array<bool, 3> r{};
        ((r[A] = accepts_strided_v<N, A>), ...);
        return r;
    }(std::make_index_sequence<std::min<std::size_t>(children_t<N>::size, 3)>{});
}

template <class N, class Topo> constexpr std::array<std::size_t, 3> args_of() {
    std::array<std::size_t, 3> a{none, none, none};
    if constexpr (is_node_v<N>) {
        constexpr std::array<std::size_t, children_t<N>::size> idx = node_info<N, Topo>::args();
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

template <class Topo, class Wrt> struct plan;
template <class... N, class Wrt> struct plan<meta::list<N...>, Wrt> {
    using topo = meta::list<N...>;
    static constexpr std::size_t count = sizeof...(N);
    static constexpr std::array<role, count> base{base_role<N>()...};
    static constexpr std::array<std::size_t, count> size{shape_of_t<N>::size...};
    static constexpr std::array<bool, count> batched{batched_v<N>...};
    static constexpr std::array<std::array<std::size_t, 3>, count> args{args_of<N, topo>()...};
    static constexpr std::array<std::size_t, count> nargs{children_t<N>::size...};
    static constexpr std::array<bool, count> trained{((is_param_v<N> || is_input_v<N>) && meta::in_list_v<N, Wrt>)...};
    static constexpr std::array<bool, count + 1> bias_add{bias_add_v<N>..., false};
    static constexpr std::array<bool, count + 1> absorbs{traits_t<N>::absorbs_bias..., false};
    static constexpr std::array<bool, count + 1> whole{traits_t<N>::writes_whole..., false};
    static constexpr std::array<bool, count + 1> has_epilogue{traits_t<N>::epilogue..., false};
    static constexpr std::array<std::size_t, count + 1> grad_epilogue{traits_t<N>::grad_epilogue..., none};
    static constexpr std::array<std::array<bool, 3>, count + 1> strided_ok{strided_args<N>()..., std::array<bool, 3>{}};
    static constexpr std::array<std::size_t, count + 1> aux_size{traits_t<N>::template aux_size<N>()..., 0};

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
    static constexpr std::size_t effective(std::size_t p) {
        if (roles[p] != role::absorbed) return p;
        for (std::size_t i = p + 1; i < count; ++i)
            if (roles[i] == role::affine && args[i][product_arg[i]] == p) return i;
        return p;
    }
    static constexpr bool bwd_work(std::size_t i) { return needs[i] && fwd_work(i); }
    /// The argument whose adjoint host g completes in its grad epilogue (none).
    static constexpr std::size_t grad_epilogue_arg(std::size_t g) {
        const std::size_t p = op_node(g), e = grad_epilogue[p];
        return e == none ? none : args[p][e];
    }
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
        return roles[i] == role::constant || roles[i] == role::elementwise || runs_kernel(i);
    }
    static constexpr bool has_adjoint(std::size_t i) { return needs[i] && (has_value(i) || roles[i] == role::input); }
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
    /// for an affine node, slot 3 for the bias.
    static constexpr std::size_t bias_slot = 3;
    static constexpr std::size_t max_events = 4 * count + 1;
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
    /// Whether contribution (node, slot) is the first into its destination.
    static constexpr bool first(std::size_t node, std::size_t slot) {
        for (std::size_t k = 0; k < event_count; ++k)
            if (events[k].node == node && events[k].slot == slot) {
                for (std::size_t q = 0; q < k; ++q)
                    if (events[q].dest == events[k].dest) return false;
                return true;
            }
        return false;
    }
    /// Whether contribution (node, slot) may assign its destination.
    static constexpr bool assigns(std::size_t node, std::size_t slot) {
        for (std::size_t k = 0; k < event_count; ++k)
            if (events[k].node == node && events[k].slot == slot) return first(node, slot) && events[k].one_to_one;
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

    /// A strided view has no storage of its own: only an argument its consumer accepts strided.
    static constexpr bool strided_ok_everywhere = [] {
        for (std::size_t i = 0; i < count; ++i)
            for (std::size_t k = 0; k < nargs[i]; ++k)
                if (base[args[i][k]] == role::strided && !(base[i] == role::op && strided_ok[i][k])) return false;
        return true;
    }();
};

} // namespace kink::detail

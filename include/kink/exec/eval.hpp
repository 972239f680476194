#pragma once
/// \file
/// Evaluation: one pass over the distinct nodes of one or several graphs in topological order,
/// values in a stack array indexed by node position. No heap allocation, no virtual call.
/// `value_and_grad` evaluates f and its derivative graphs together, so every forward value the
/// backward pass needs (tanh' = 1 - y^2 uses y) is computed once and shared.

#include <algorithm>
#include <array>
#include <iterator>
#include <limits>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <kink/diff/grad.hpp>
#include <kink/expr/graph.hpp>
#include <kink/policy/policy.hpp>

namespace kink {

// ---------------------------------------------------------------------------------------------
// Kink-hit counters for count<P> nodes (one per node type and thread)

/// Counts for one node with a `count<P>` policy: forward evaluations, exact kink hits, and
/// evaluations with a NaN argument (counted apart: a NaN is not a kink, and is no hit). The
/// counters are thread-local: programs run on several threads (one per initialisation in
/// examples/relu0_study.cpp) count separately, without atomics in the kernels.
template <class Node> struct kink_counter {
    inline static thread_local std::uint64_t hits = 0;
    inline static thread_local std::uint64_t evals = 0;
    inline static thread_local std::uint64_t nans = 0;
    /// Kinks whose adjoint was nonzero in a backward pass (max_pool2d: tied windows whose
    /// gradient the tie policy actually shares).
    inline static thread_local std::uint64_t live = 0;
};

/// Pointers to the calling thread's kink counters of one node, for a kernel that counts
/// (kernel_ctx::counts()).
struct kink_cells {
    std::uint64_t *hits = nullptr, *evals = nullptr, *nans = nullptr, *live = nullptr;
    template <class Node> static kink_cells of() {
        return {&kink_counter<Node>::hits, &kink_counter<Node>::evals, &kink_counter<Node>::nans, &kink_counter<Node>::live};
    }
};

/// Whether any of the values is NaN.
template <class... T> constexpr bool any_nan(const T &...v) { return (!(v == v) || ...); }

template <class E> struct is_counted : std::false_type {};
template <class Op, class... A>
    requires requires { typename Op::policy; }
struct is_counted<node<Op, A...>> : std::bool_constant<is_count_v<typename Op::policy> && !requires { Op::index; }> {};

/// One counted node of a graph.
struct kink_count {
    std::string_view op;
    std::uint64_t hits, evals;
    std::uint64_t nans = 0; ///< evaluations with a NaN argument (not hits)
    std::uint64_t live = 0; ///< hits whose adjoint was nonzero (counted by tensor kernels: max_pool2d)
};

/// Hits and evaluations of the count<P> node at the root of `e` (e.g. `auto r = relu<count<zero>>(x)`).
template <expression X> constexpr kink_count kink_hits(const X &) {
    using E = graph_t<X>;
    static_assert(is_counted<E>::value, "kink: kink_hits: the expression's root has no count<P> policy");
    return {op_t<E>::name, kink_counter<E>::hits, kink_counter<E>::evals, kink_counter<E>::nans, kink_counter<E>::live};
}

namespace detail {
template <class L> struct counts_of;
template <class... C> struct counts_of<meta::list<C...>> {
    static constexpr std::array<kink_count, sizeof...(C)> get() {
        return {kink_count{op_t<C>::name, kink_counter<C>::hits, kink_counter<C>::evals, kink_counter<C>::nans,
                           kink_counter<C>::live}...};
    }
    static void reset() {
        ((kink_counter<C>::hits = 0, kink_counter<C>::evals = 0, kink_counter<C>::nans = 0, kink_counter<C>::live = 0), ...);
    }
    /// Adds counts (made on another thread) to this thread's counters.
    static void add(const std::array<kink_count, sizeof...(C)> &k) {
        std::size_t i = 0;
        ((kink_counter<C>::hits += k[i].hits, kink_counter<C>::evals += k[i].evals, kink_counter<C>::nans += k[i].nans,
          kink_counter<C>::live += k[i].live, ++i),
         ...);
    }
};
template <class E> using counted_nodes = counts_of<meta::filter_t<is_counted, topo_t<E>>>;
} // namespace detail

/// Counts of every count<P> node of `f`, in topological order.
template <expression X> constexpr auto kink_counts(const X &) { return detail::counted_nodes<graph_t<X>>::get(); }
/// Resets the counters of every count<P> node of `f`.
template <expression X> void reset_kink_counts(const X &) { detail::counted_nodes<graph_t<X>>::reset(); }

// ---------------------------------------------------------------------------------------------
// Bindings

/// The variables to differentiate with respect to, for `value_and_grad`.
template <class... X> struct wrt_t {};
template <expression... X> constexpr wrt_t<graph_t<X>...> wrt(const X &...) {
    static_assert((is_var_v<graph_t<X>> && ...), "kink: wrt: every argument must be a variable (var<\"x\">)");
    static_assert(meta::list<graph_t<X>...>::size == meta::merge_t<meta::list<>, meta::list<graph_t<X>...>>::size,
                  "kink: wrt: a variable is named twice");
    return {};
}

namespace detail {
template <class T> struct scalar_of { using type = T; };
template <class T> struct scalar_of<std::span<T>> { using type = std::remove_const_t<T>; };
template <class T> using scalar_of_t = typename scalar_of<T>::type;


template <class V> constexpr auto at_index(const V &v, std::size_t i) {
    if constexpr (requires { v.size(); v[i]; }) return v[i];
    else return (void)i, v;
}

/// Position of the binding for Leaf among B... (sizeof...(B) when absent).
template <class Leaf, class... B> constexpr std::size_t binding_index() {
    constexpr bool hit[] = {KINK_SAME(typename B::leaf, Leaf)..., false};
    for (std::size_t i = 0; i < sizeof...(B); ++i)
        if (hit[i]) return i;
    return sizeof...(B);
}

/// Scalar environment: variable -> value (element i when the binding is a span).
template <class T, class... B> struct env_t {
    std::tuple<const B &...> b;
    std::size_t i;
    template <class Leaf> constexpr T get() const {
        constexpr std::size_t k = binding_index<Leaf, B...>();
        if constexpr (k < sizeof...(B)) {
            return static_cast<T>(at_index(std::get<k>(b).value, i));
        } else {
            static_assert(k < sizeof...(B), "kink: eval: a variable of the expression has no value: bind it as x = value");
            return T{};
        }
    }
};

/// The most arguments an op takes (the plan's tables hold this many per node).
inline constexpr std::size_t max_args = 4;

/// Argument positions as a class named by the positions alone: its static members' names do not
/// hold the node or the node list (g++ names every instantiated static data member, emitted or
/// not; see meta::index_of).
template <std::size_t... I> struct arg_positions {
    static constexpr std::array<std::size_t, sizeof...(I)> value{I...};
    /// The positions padded to max_args with `none` (size_t(-1)).
    static constexpr std::array<std::size_t, max_args> padded = [] {
        static_assert(sizeof...(I) <= max_args, "kink: compile: ops take at most four arguments");
        std::array<std::size_t, max_args> a{};
        for (auto &x : a) x = detail::none;
        const std::size_t p[] = {I..., 0};
        for (std::size_t k = 0; k < sizeof...(I); ++k) a[k] = p[k];
        return a;
    }();
};
/// Where a node's arguments live in the value array (in Topo's order). Compile-time only.
template <class Node, class Topo> struct node_info {
    using positions = arg_positions<>;
};
template <class Op, class... A, class Topo> struct node_info<node<Op, A...>, Topo> {
    using positions = arg_positions<meta::index_of<A, Topo>::value...>;
};
/// node_info for a program's node list: looked up by key (meta::node_index_of).
template <class Node, class Topo> struct node_args {
    using positions = arg_positions<>;
};
template <class Op, class... A, class Topo> struct node_args<node<Op, A...>, Topo> {
    using positions = arg_positions<meta::node_index_of<A, Topo>::value...>;
};

// The sweep below calls only functions whose template arguments are short (an op, a leaf, the
// scalar type, an arity): no function is instantiated per node with the graph or the node list
// in its name. g++ spent most of a 767-node sweep's compile time mangling such names.

/// Op's value rule on the values at positions `args` (void: not an op node, never used).
template <class Op, class T, auto args, std::size_t N>
constexpr T apply_op(const std::array<T, N> &v) {
    constexpr std::size_t K = args.size();
    if constexpr (KINK_SAME(Op, void)) {
        return (void)v, T{};
    } else {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return static_cast<T>(Op::eval(v[args[I]]...));
        }(std::make_index_sequence<K>{});
    }
}
/// The same for a count<P> node, which also updates its counters (void: not counted).
template <class Node, class T, auto args, std::size_t N>
constexpr T apply_counted(const std::array<T, N> &v) {
    constexpr std::size_t K = args.size();
    if constexpr (KINK_SAME(Node, void)) {
        return (void)v, T{};
    } else {
        const auto [hit, nan] = [&]<std::size_t... I>(std::index_sequence<I...>) {
            return std::pair<bool, bool>{op_t<Node>::at_kink(v[args[I]]...), any_nan(v[args[I]]...)};
        }(std::make_index_sequence<K>{});
        ++kink_counter<Node>::evals;
        kink_counter<Node>::hits += hit;
        kink_counter<Node>::nans += nan;
        return apply_op<op_t<Node>, T, args>(v);
    }
}
/// A leaf's value: a bound variable, an exact literal or a runtime constant (void: not a leaf).
template <class Leaf, class T, std::size_t C, class Pool, class Env>
constexpr T leaf_value(const Pool &pool, const Env &env) {
    if constexpr (is_var_v<Leaf>) return env.template get<Leaf>();
    else if constexpr (is_lit_v<Leaf>) return Leaf::template value<T>();
    else if constexpr (is_rconst_v<Leaf>) return static_cast<T>(pool[C]);
    else return (void)pool, (void)env, T{};
}

template <class N> using leaf_part_t = std::conditional_t<is_leaf_v<N>, N, void>;
template <class N> using counted_part_t = std::conditional_t<is_counted<N>::value, N, void>;
template <class N> using plain_op_t = std::conditional_t<is_counted<N>::value, void, op_t<N>>;

/// One sweep over the distinct nodes in topological order.
template <class Topo> struct run;
template <class... N> struct run<meta::list<N...>> {
    using topo = meta::list<N...>;
    template <class T> using values = std::array<T, sizeof...(N)>;
    template <class T, class Src, class Env> static constexpr void all(values<T> &v, const Src &src, const Env &env) {
        using consts = rconsts_t<graph_t<Src>>;
        std::size_t k = 0; // an initializer list, not a fold: no nesting limit on big graphs
        const int sweep[] = {
            ((v[k++] = is_leaf_v<N> ? leaf_value<leaf_part_t<N>, T, meta::index_of<N, consts>::value>(src.pool, env)
                       : is_counted<N>::value ? apply_counted<counted_part_t<N>, T, node_info<N, topo>::positions::value>(v)
                                              : apply_op<plain_op_t<N>, T, node_info<N, topo>::positions::value>(v)),
             0)...,
            0};
        (void)sweep;
    }
};

/// One sweep of the distinct nodes of Topo at element i of the bindings: every node's value.
template <class Topo, class T, class X, class... B> constexpr auto sweep(const X &f, std::size_t i, const B &...bindings) {
    typename run<Topo>::template values<T> v{};
    run<Topo>::template all<T>(v, f, env_t<T, B...>{{bindings...}, i});
    return v;
}
template <class... B> using scalar_t = std::common_type_t<scalar_of_t<decltype(std::declval<B>().value)>...>;

template <class... B> constexpr std::size_t common_extent(std::string_view where, const B &...b) {
    std::size_t n = detail::none;
    auto one = [&](const auto &bd) {
        if constexpr (requires { bd.value.size(); }) {
            if (n != detail::none && n != bd.value.size())
                throw std::invalid_argument("kink: " + std::string(where) + ": variable '" +
                                            std::string(std::remove_cvref_t<decltype(bd)>::leaf::name()) +
                                            "' is bound to " + std::to_string(bd.value.size()) +
                                            " values, another variable to " + std::to_string(n));
            n = bd.value.size();
        }
    };
    (one(b), ...);
    return n;
}
} // namespace detail

/// `eval(f, x = 1.0, y = 2.0)`: the value of f. The scalar type is the bindings' common type.
template <expression X, class... B> constexpr auto eval(const X &f, const B &...bindings) {
    using E = graph_t<X>;
    using topo = topo_t<E>;
    return detail::sweep<topo, detail::scalar_t<B...>>(f, 0, bindings...)[topo::size - 1];
}

/// Elementwise: `eval_each(f, out, x = span_x, y = 2.0)` writes f at every index into `out`.
/// Span bindings are indexed, scalar bindings broadcast; lengths must agree.
template <expression X, class T, class... B> void eval_each(const X &f, std::span<T> out, const B &...bindings) {
    using E = graph_t<X>;
    const std::size_t n = detail::common_extent("eval_each", bindings...);
    if (n != detail::none && n != out.size())
        throw std::invalid_argument("kink: eval_each: output has " + std::to_string(out.size()) +
                                    " elements, the inputs " + std::to_string(n));
    using topo = topo_t<E>;
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = detail::sweep<topo, T>(f, i, bindings...)[topo::size - 1];
}

/// The value of f and its partial derivatives with respect to the variables `X...`.
template <class T, class... X> struct value_and_grad_result {
    T value;
    std::array<T, sizeof...(X)> grad;
    /// `r[x]`: the partial with respect to variable x.
    template <expression W> constexpr T operator[](const W &) const {
        using V = graph_t<W>;
        static_assert(meta::contains_v<V, X...>, "kink: value_and_grad: not differentiated with respect to this variable");
        return grad[meta::index_of<V, meta::list<X...>>::value];
    }
};

/// One fused evaluation of f and df/dx for each x in `wrt(...)`: a single topological sweep over
/// f's nodes and its derivative graphs' nodes (forward values first, then the backward ones).
template <expression F, class... X, class... B>
constexpr auto value_and_grad(const F &f, wrt_t<X...>, const B &...bindings) {
    using E = graph_t<F>;
    using T = detail::scalar_t<B...>;
    using topo = topo_t<E, derivative_t<E, X>...>;
    const auto v = detail::sweep<topo, T>(f, 0, bindings...);
    return value_and_grad_result<T, X...>{v[meta::index_of<E, topo>::value], {v[meta::index_of<derivative_t<E, X>, topo>::value]...}};
}

} // namespace kink

namespace kink {

namespace detail {
/// Distance of a piecewise op's arguments to its nearest kink (void: not piecewise).
template <class Op, class T, auto args, std::size_t N>
constexpr T op_kink_distance(const std::array<T, N> &v) {
    constexpr std::size_t K = args.size();
    if constexpr (KINK_SAME(Op, void)) {
        return (void)v, std::numeric_limits<T>::infinity();
    } else {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return static_cast<T>(Op::kink_distance(v[args[I]]...));
        }(std::make_index_sequence<K>{});
    }
}
template <class Node> inline constexpr bool is_piecewise_primal_v = false;
template <class Op, class... A>
    requires requires { typename Op::family; } && (!requires { Op::index; })
inline constexpr bool is_piecewise_primal_v<node<Op, A...>> = true;
template <class N> using piecewise_op_t = std::conditional_t<is_piecewise_primal_v<N>, op_t<N>, void>;

template <class Topo> struct min_distance;
template <class... N> struct min_distance<meta::list<N...>> {
    template <class T> static constexpr T get(const std::array<T, sizeof...(N)> &v) {
        const T d[] = {op_kink_distance<piecewise_op_t<N>, T, node_info<N, meta::list<N...>>::positions::value>(v)...,
                       std::numeric_limits<T>::infinity()};
        return *std::min_element(std::begin(d), std::end(d));
    }
};
} // namespace detail

/// How far the arguments of f's piecewise nodes are from their nearest kink at the given point
/// (infinity when f has no piecewise node). Finite-difference checks use it to stay away.
template <expression X, class... B> constexpr auto kink_distance(const X &f, const B &...bindings) {
    using E = graph_t<X>;
    using topo = topo_t<E>;
    return detail::min_distance<topo>::get(detail::sweep<topo, detail::scalar_t<B...>>(f, 0, bindings...));
}

} // namespace kink

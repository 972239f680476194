#pragma once
/// \file
/// Compile-time symbolic differentiation by reverse accumulation over the DAG.
///
/// The chain rule, written once: the adjoint of node N is the sum, over the edges P -> N (one
/// per argument slot of P that holds N), of adjoint(P) times the local partial of that slot (each op supplies its local
/// partials as graphs of its arguments and its own output). Adjoints are types, so the adjoint
/// of a node used by many parents is built once and shared: the derivative of a depth-N chain has
/// O(N) distinct nodes, not O(2^N). The simplifying constructors (add_t, mul_t, ...) fold exact
/// constants and drop 0/1 identities as the graph is built.

#include <array>
#include <type_traits>
#include <utility>

#include <boost/hana/tuple.hpp>

#include <kink/expr/graph.hpp>
#include <kink/ops/arith.hpp>

namespace kink {

namespace detail {
template <class... T> struct sum_s { using type = zero_t; };
template <class A> struct sum_s<A> { using type = A; };
template <class A, class B, class... R> struct sum_s<A, B, R...> {
    using type = typename sum_s<add_t<A, B>, R...>::type;
};

template <class Topo, class N> struct adjoint;

/// One argument slot of one node: the edge parent -> child of the graph.
template <class P, std::size_t I> struct edge {
    using parent = P;
    using child = arg_t<I, P>;
    using partial = typename op_t<P>::template partial<I, P>;
};

/// Every edge of the graph, in one flat list (built once per graph from an arity table).
template <class Topo> struct edges;
template <class... U> struct edges<meta::list<U...>> {
    static constexpr std::array<std::size_t, sizeof...(U)> arity{children_t<U>::size...};
    static constexpr std::size_t count = [] {
        std::size_t n = 0;
        for (auto a : arity) n += a;
        return n;
    }();
    struct slot_ref {
        std::size_t node, slot;
    };
    static constexpr auto table = [] {
        std::array<slot_ref, count + 1> t{};
        std::size_t e = 0;
        for (std::size_t i = 0; i < arity.size(); ++i)
            for (std::size_t k = 0; k < arity[i]; ++k) t[e++] = {i, k};
        return t;
    }();
    template <std::size_t... E>
    static meta::list<edge<meta::at_t<table[E].node, meta::list<U...>>, table[E].slot>...> make(std::index_sequence<E...>);
    using type = decltype(make(std::make_index_sequence<count>{}));
};

/// The edges that end at N: one builtin comparison per edge, no per-pair instantiation.
template <class Edges, class N> struct incoming;
template <class... Ed, class N> struct incoming<meta::list<Ed...>, N> {
    using type = typename meta::pick<meta::list<Ed...>, typename meta::true_positions_of<std::array<bool, sizeof...(Ed)>{
                                                            KINK_SAME(typename Ed::child, N)...}>::type>::type;
};

template <class Topo, class N, class In> struct sum_incoming;
template <class Topo, class N, class... Ed> struct sum_incoming<Topo, N, meta::list<Ed...>> {
    using type = typename sum_s<mul_t<typename adjoint<Topo, typename Ed::parent>::type, typename Ed::partial>...>::type;
};

/// The chain rule: adjoint(N) = sum over the edges P -> N of adjoint(P) * dP/dN, and
/// adjoint(root) = 1. Topo is stored root-first so the root is found without a search.
template <class Root, class... U, class N> struct adjoint<meta::list<Root, U...>, N> {
    using topo = meta::list<Root, U...>;
    using type = typename std::conditional_t<
        KINK_SAME(N, Root), std::type_identity<one_t>,
        sum_incoming<topo, N, typename incoming<typename edges<topo>::type, N>::type>>::type;
};

} // namespace detail

/// The graph of df/dx (zero if f does not depend on x).
namespace detail {
template <class L> struct all_elementwise;
template <class... N> struct all_elementwise<meta::list<N...>> {
    static constexpr bool value = (is_elementwise_v<op_t<N>> && ...);
};
} // namespace detail

template <class F, class X> struct derivative {
    static_assert(is_var_v<X>, "kink: grad: differentiate with respect to a variable (var<\"x\">), "
                               "not a compound expression or a constant");
    static_assert(detail::all_elementwise<topo_t<F>>::value,
                  "kink: grad: symbolic grad() takes scalar expressions; tensor ops (matrix products, "
                  "reductions, softmax, losses) are differentiated by compile(loss)");
    using rtopo = meta::reverse_t<topo_t<F>>;
    using type = typename std::conditional_t<meta::in_list_v<X, topo_t<F>> && detail::all_elementwise<topo_t<F>>::value,
                                             detail::adjoint<rtopo, X>, std::type_identity<zero_t>>::type;
};
template <class F, class X> using derivative_t = typename derivative<F, X>::type;

namespace detail {
/// The expression object of df/dx (its runtime constants are f's), through a function named after
/// the expression types only (expr/expr.hpp's make_node says why).
template <expression X, expression F> constexpr auto derivative_ex(const F &f) {
    using D = derivative_t<graph_t<F>, graph_t<X>>;
    return gather<ex<D>>(rconsts_t<D>{}, f);
}
} // namespace detail

/// `grad(f, x)`: the expression df/dx. With several variables, a `hana::tuple` of expressions.
template <expression F, expression X, expression... Xs> constexpr auto grad(const F &f, const X &, const Xs &...) {
    if constexpr (sizeof...(Xs) == 0) {
        return detail::derivative_ex<X>(f);
    } else {
        return boost::hana::make_tuple(detail::derivative_ex<X>(f), detail::derivative_ex<Xs>(f)...);
    }
}

} // namespace kink

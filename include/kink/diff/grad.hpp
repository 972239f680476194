#pragma once
/// \file
/// Compile-time symbolic differentiation by reverse accumulation over the DAG.
///
/// The chain rule, written once: the adjoint of node N is the sum, over the nodes P that use N,
/// of adjoint(P) times the local partial of P with respect to N (each op supplies its local
/// partials as graphs of its arguments and its own output). Adjoints are types, so the adjoint
/// of a node used by many parents is built once and shared: the derivative of a depth-N chain has
/// O(N) distinct nodes, not O(2^N). The simplifying constructors (add_t, mul_t, ...) fold exact
/// constants and drop 0/1 identities as the graph is built.

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

/// The local partial of P with respect to N: the sum over the argument slots that hold N.
template <class P, class N, class Seq> struct local_partial;
template <class Op, class... A, class N, std::size_t... I>
struct local_partial<node<Op, A...>, N, std::index_sequence<I...>> {
    template <std::size_t J, bool Match> struct slot { using type = zero_t; };
    template <std::size_t J> struct slot<J, true> {
        using type = typename Op::template partial<J, node<Op, A...>>;
    };
    using type = typename sum_s<typename slot<I, std::is_same_v<A, N>>::type...>::type;
};

template <class Topo, class N> struct adjoint;

template <class Topo, class P, class N, bool Uses = has_child_v<P, N>> struct contribution { using type = zero_t; };
template <class Topo, class P, class N> struct contribution<Topo, P, N, true> {
    using type = mul_t<typename adjoint<Topo, P>::type,
                       typename local_partial<P, N, std::make_index_sequence<children_t<P>::size>>::type>;
};

template <class Root, class... U, class N> struct adjoint<meta::list<Root, U...>, N> {
    // Topo is stored root-first (reversed) so the root is found without a search.
    using type = std::conditional_t<
        std::is_same_v<N, Root>, one_t,
        typename sum_s<typename contribution<meta::list<Root, U...>, Root, N>::type,
                       typename contribution<meta::list<Root, U...>, U, N>::type...>::type>;
};

template <class L, class Acc = meta::list<>> struct reverse_list { using type = Acc; };
template <class T, class... R, class... A> struct reverse_list<meta::list<T, R...>, meta::list<A...>> {
    using type = typename reverse_list<meta::list<R...>, meta::list<T, A...>>::type;
};
} // namespace detail

/// The graph of df/dx (zero if f does not depend on x).
template <class F, class X> struct derivative {
    static_assert(is_var_v<X>, "kink: grad: differentiate with respect to a variable (var<\"x\">), "
                               "not a compound expression or a constant");
    using rtopo = typename detail::reverse_list<topo_t<F>>::type;
    using type = std::conditional_t<meta::in_list_v<X, topo_t<F>>, typename detail::adjoint<rtopo, X>::type, zero_t>;
};
template <class F, class X> using derivative_t = typename derivative<F, X>::type;

/// `grad(f, x)`: the expression df/dx. With several variables, a `hana::tuple` of expressions.
template <class F, class X, class... Xs> constexpr auto grad(const ex<F> &f, const ex<X> &, const ex<Xs> &...) {
    if constexpr (sizeof...(Xs) == 0) {
        return make_ex<derivative_t<F, X>>(f);
    } else {
        return boost::hana::make_tuple(make_ex<derivative_t<F, X>>(f), make_ex<derivative_t<F, Xs>>(f)...);
    }
}

} // namespace kink

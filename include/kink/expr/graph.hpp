#pragma once
/// \file
/// Graph algorithms over expression types: the distinct nodes of one or several roots in
/// topological order (arguments before their users), each node once however often it is used.

#include <kink/expr/expr.hpp>

namespace kink {

namespace detail {
template <class Acc, class E, bool Seen = meta::in_list_v<E, Acc>> struct topo_visit { using type = Acc; };
template <class Acc, class L> struct topo_children;
template <class Acc> struct topo_children<Acc, meta::list<>> { using type = Acc; };
template <class Acc, class C, class... Cs> struct topo_children<Acc, meta::list<C, Cs...>> {
    using type = typename topo_children<typename topo_visit<Acc, C>::type, meta::list<Cs...>>::type;
};
template <class... U, class E> struct topo_visit<meta::list<U...>, E, false> {
    using after_children = typename topo_children<meta::list<U...>, children_t<E>>::type;
    using type = typename meta::add_unique<after_children, E>::type;
};
} // namespace detail

/// Distinct nodes reachable from the roots, children first; the roots' own order is kept.
template <class... Roots> struct topo {
    using type = typename detail::topo_children<meta::list<>, meta::list<Roots...>>::type;
};
template <class... Roots> using topo_t = typename topo<Roots...>::type;

/// Number of distinct nodes of a graph (what "O(N) nodes" is measured in).
template <class E> inline constexpr std::size_t node_count_v = topo_t<E>::size;

} // namespace kink

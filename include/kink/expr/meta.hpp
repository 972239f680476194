#pragma once
/// \file
/// Small, fast type-list utilities used by every layer. Deliberately not Hana: these run once
/// per node of every graph, and plain packs with `__is_same` folds compile several times faster
/// than generic sequence algorithms. Hana appears at the API (tuples of results).

#include <cstddef>
#include <type_traits>
#include <utility>

namespace kink::meta {

/// A compile-time list of types.
template <class... T> struct list {
    static constexpr std::size_t size = sizeof...(T);
};

template <class T> struct type_c_ { using type = T; };

/// True when T occurs in the pack.
template <class T, class... U> inline constexpr bool contains_v = (std::is_same_v<T, U> || ...);

template <class T, class L> struct in_list;
template <class T, class... U> struct in_list<T, list<U...>> : std::bool_constant<contains_v<T, U...>> {};
template <class T, class L> inline constexpr bool in_list_v = in_list<T, L>::value;

/// Position of T in the list (static_asserts that it is there).
template <class T, class... U> constexpr std::size_t index_of(list<U...>) {
    constexpr bool hit[] = {std::is_same_v<T, U>..., false};
    for (std::size_t i = 0; i < sizeof...(U); ++i)
        if (hit[i]) return i;
    return sizeof...(U);
}
template <class T, class L> inline constexpr std::size_t index_v = index_of<T>(L{});

/// I-th element.
template <std::size_t I, class L> struct at;
#if defined(__has_builtin)
#if __has_builtin(__type_pack_element)
#define KINK_HAS_TYPE_PACK_ELEMENT 1
#endif
#endif
#ifdef KINK_HAS_TYPE_PACK_ELEMENT
template <std::size_t I, class... T> struct at<I, list<T...>> {
    using type = __type_pack_element<I, T...>;
};
#else
template <std::size_t I, class T> struct indexed_ { using type = T; };
template <class Seq, class... T> struct indexer_;
template <std::size_t... I, class... T>
struct indexer_<std::index_sequence<I...>, T...> : indexed_<I, T>... {};
template <std::size_t I, class T> indexed_<I, T> select_(indexed_<I, T>);
template <std::size_t I, class... T> struct at<I, list<T...>> {
    using type = typename decltype(select_<I>(indexer_<std::index_sequence_for<T...>, T...>{}))::type;
};
#endif
template <std::size_t I, class L> using at_t = typename at<I, L>::type;

/// Append T unless it is already there (a set that keeps first-insertion order).
template <class L, class T, bool = in_list_v<T, L>> struct add_unique { using type = L; };
template <class... U, class T> struct add_unique<list<U...>, T, false> { using type = list<U..., T>; };
template <class L, class T> using add_unique_t = typename add_unique<L, T>::type;

/// Union in order of first appearance.
template <class A, class B> struct merge;
template <class A> struct merge<A, list<>> { using type = A; };
template <class A, class B0, class... B> struct merge<A, list<B0, B...>> {
    using type = typename merge<add_unique_t<A, B0>, list<B...>>::type;
};
template <class... L> struct merge_all { using type = list<>; };
template <class L> struct merge_all<L> { using type = L; };
template <class L0, class L1, class... L> struct merge_all<L0, L1, L...> {
    using type = typename merge_all<typename merge<L0, L1>::type, L...>::type;
};
template <class... L> using merge_t = typename merge_all<L...>::type;

/// Keep the elements for which Pred<T>::value holds.
template <template <class> class Pred, class L> struct filter;
template <template <class> class Pred, class... T> struct filter<Pred, list<T...>> {
    template <class X> using one = std::conditional_t<Pred<X>::value, list<X>, list<>>;
    using type = typename merge_all<list<>, one<T>...>::type;
};
template <template <class> class Pred, class L> using filter_t = typename filter<Pred, L>::type;

/// A value that depends on T, for static_assert(false) in templates (before C++23).
template <class...> inline constexpr bool always_false = false;

} // namespace kink::meta

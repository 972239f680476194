#pragma once
/// \file
/// Small, fast type-list utilities used by every layer. Deliberately not Hana: these run once
/// per node of every graph, and plain packs with `__is_same` folds compile several times faster
/// than generic sequence algorithms. Hana appears at the API (tuples of results).

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

/// Type identity through the compiler builtin: no template instantiation per pair of types,
/// which matters when the types are deep expression graphs (2x faster on depth-24 graphs).
#define KINK_SAME(...) __is_same(__VA_ARGS__)

namespace kink::detail {
/// The one "no such index" sentinel: no argument slot, no host node, no binding yet, not found.
inline constexpr std::size_t none = std::size_t(-1);
} // namespace kink::detail

namespace kink::meta {

/// The size of a list: a static member of a class named after the number alone. g++ gives every
/// static data member of a class template instantiated in a translation unit a mangled name at its
/// end, used or not; a member of list<T...> itself would be named after every type of the list
/// (the children of a node spell out its arguments' graphs).
template <std::size_t N> struct sized {
    static constexpr std::size_t size = N;
};
/// A compile-time list of types.
template <class... T> struct list : sized<sizeof...(T)> {};

template <class T> struct type_c_ { using type = T; };

/// The first true flag's position (the array's last, a false sentinel, when none).
template <std::size_t N> constexpr std::size_t first_true(const std::array<bool, N> &hit) {
    for (std::size_t i = 0; i + 1 < N; ++i)
        if (hit[i]) return i;
    return N - 1;
}
/// Position of T in the pack (sizeof...(U) when absent), as std::integral_constant. A class, not
/// a function template: clang deduces function template packs of deep graph types very slowly,
/// and a fold over more than 256 elements exceeds clang's expression nesting limit, so both are
/// avoided here. No static member of its own (see `sized`).
template <class T, class... U>
struct find_in_pack : std::integral_constant<std::size_t, first_true(std::array<bool, sizeof...(U) + 1>{__is_same(T, U)..., false})> {};

/// True when T occurs in the pack. This and the other `_v` predicates that the library asks of
/// graph types are concepts, not variable templates: a concept-id is a value, while each variable
/// template specialization is a variable that g++ names (after T and the pack) at the end of the
/// translation unit.
template <class T, class... U> concept contains_v = find_in_pack<T, U...>::value < sizeof...(U);

template <class T, class L> struct in_list;
template <class T, class... U> struct in_list<T, list<U...>> : std::bool_constant<contains_v<T, U...>> {};
template <class T, class L> concept in_list_v = in_list<T, L>::value;

/// Position of T in a list of distinct types, by overload resolution against a map built once
/// per list (one base class per element): no per-lookup pack instantiation, no constexpr loop.
template <std::size_t I, class T> struct slot_ {};
template <class L, class Seq> struct slot_map;
template <class... U, std::size_t... I> struct slot_map<list<U...>, std::index_sequence<I...>> : slot_<I, U>... {};
/// The map of list L, named through a class (memoized per list): a default template argument
/// `std::make_index_sequence<L::size>` would build the list's index pack again at every lookup.
template <class L> struct slot_map_of {
    using type = slot_map<L, std::make_index_sequence<L::size>>;
};
template <class T, std::size_t I> std::integral_constant<std::size_t, I> slot_of(const slot_<I, T> *);
template <class T> std::integral_constant<std::size_t, ::kink::detail::none> slot_of(const void *);

template <std::size_t Found, std::size_t Size> using found_or_size = std::integral_constant<std::size_t, Found == ::kink::detail::none ? Size : Found>;
/// Position of T in the list (the list's size when absent), as std::integral_constant, by a search
/// of the list's bases: O(size) per lookup (meta::node_index_of, expr/key.hpp, looks long lists of
/// graph nodes up by key). An alias, so a lookup creates no static member named after T and the
/// list. g++ gives every such member
/// (and every variable template specialization) a mangled name at the end of
/// the translation unit, used or not: a program's lookups of its nodes in its node list made
/// O(N^2) characters of names (29 million for the 16-block residual MLP).
template <class T, class L>
using index_of = found_or_size<decltype(meta::slot_of<T>(static_cast<const typename slot_map_of<L>::type *>(nullptr)))::value, L::size>;

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
/// The indexer of a list, built once per list (see slot_map_of).
template <class L> struct indexer_of;
template <class... T> struct indexer_of<list<T...>> {
    using type = indexer_<std::index_sequence_for<T...>, T...>;
};
template <std::size_t I, class... T> struct at<I, list<T...>> {
    using type = typename decltype(select_<I>(typename indexer_of<list<T...>>::type{}))::type;
};
#endif
/// The I-th element, by the list's pack: O(size) per distinct (I, list) (meta::node_at_t looks
/// long lists of graph nodes up by key).
template <std::size_t I, class L> using at_t = typename at<I, L>::type;

/// Append T unless it is already there (a set that keeps first-insertion order).
template <class L, class T, bool = in_list_v<T, L>> struct add_unique { using type = L; };
template <class... U, class T> struct add_unique<list<U...>, T, false> { using type = list<U..., T>; };
template <class L, class T> using add_unique_t = typename add_unique<L, T>::type;

/// Append T to a pack-holding class template's arguments (list<U...>, or any S<U...>).
template <class L, class T> struct push_back;
template <template <class...> class S, class... U, class T> struct push_back<S<U...>, T> { using type = S<U..., T>; };

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

/// The elements at the given positions, in that order.
template <class L, class Seq> struct pick;
template <class L, std::size_t... I> struct pick<L, std::index_sequence<I...>> {
    using type = list<at_t<I, L>...>;
};

/// Positions where a constexpr bool array is true, as an index_sequence. Flat: no recursion
/// over the list (recursive filters cost O(N^2) template arguments on big graphs). The flags are
/// a value, not a static member array of a template over a graph: g++ spent seconds at the end
/// of a translation unit on the (graph-sized) names of such members, emitted or not.
template <auto Flags> struct true_positions_of {
    static constexpr std::size_t count = [] {
        std::size_t n = 0;
        for (bool f : Flags) n += f;
        return n;
    }();
    static constexpr auto positions = [] {
        std::array<std::size_t, count + 1> p{};
        std::size_t n = 0;
        for (std::size_t i = 0; i < Flags.size(); ++i)
            if (Flags[i]) p[n++] = i;
        return p;
    }();
    template <std::size_t... K> static std::index_sequence<positions[K]...> make(std::index_sequence<K...>);
    using type = decltype(make(std::make_index_sequence<count>{}));
};

/// Keep the elements for which Pred<T>::value holds.
template <template <class> class Pred, class L> struct filter;
template <template <class> class Pred, class... T> struct filter<Pred, list<T...>> {
    using type = typename pick<list<T...>, typename true_positions_of<std::array<bool, sizeof...(T)>{Pred<T>::value...}>::type>::type;
};
template <template <class> class Pred, class L> using filter_t = typename filter<Pred, L>::type;

/// The list reversed.
template <class L, class Seq = std::make_index_sequence<L::size>> struct reverse;
template <class L, std::size_t... I> struct reverse<L, std::index_sequence<I...>> {
    using type = list<at_t<L::size - 1 - I, L>...>;
};
template <class L> using reverse_t = typename reverse<L>::type;

/// Whether every flag is true: `all(std::array<bool, N>{P<T>::value...})` in place of a fold
/// expression, which clang limits to 256 operands (a program has more nodes than that).
template <std::size_t N> constexpr bool all(const std::array<bool, N> &flags) {
    for (bool f : flags)
        if (!f) return false;
    return true;
}

/// A value that depends on T, for static_assert(false) in templates (before C++23).
template <class...> inline constexpr bool always_false = false;

} // namespace kink::meta

#pragma once
/// \file
/// A short name for a whole graph: `graph_key<A, B>`, two 64-bit words of a structural hash of the
/// graph type, through which the graph type itself can be looked up again (`keyed_graph_t`).
///
/// Why: a node type spells out its arguments' types, so a graph's type (and its mangled name)
/// grows with the graph. Every function instantiated on a class that has the graph among its
/// template arguments carries that name: a compiled program instantiates a few functions per node
/// (its elementwise loops, its kernels' contexts), so names, and the compiler's time and memory
/// for them, grew with (nodes x graph), faster than the graph. The executor's classes and the
/// expression objects (`ex<G>` is a member of `expr_of<key_t<G>>`, expr/expr.hpp) take the key
/// instead: a name of constant length, whatever the depth of the graph, so the code instantiated
/// per node costs the same in a deep network as in a shallow one.
///
/// How: `bind_key<Key, G>` defines the friend function `keyed_graph(key_slot<Key>)`, whose
/// return type names G; a class that has only Key finds G by calling it in an unevaluated
/// context (the "friend injection" technique that Boost.PFR's loophole mode also uses; g++ 12 and
/// clang++ 14 both support it). The hash is a function of the graph's structure (every op and
/// leaf type's name, every argument in order), computed once per distinct node. Two different
/// graphs whose keys collided in one translation unit would define the friend twice: a compile
/// error, never a silent mix-up; 128 bits make even that practically impossible.

#include <array>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include <kink/expr/meta.hpp>

namespace kink {

template <class Op, class... A> struct node;
template <std::int64_t N, std::int64_t D> struct lit_leaf;

/// The short name of a graph (see the file's comment).
template <std::uint64_t A, std::uint64_t B> struct graph_key {
    static constexpr std::uint64_t hi = A, lo = B;
};

namespace detail {

/// FNV-1a of a string, from either end of the 64-bit offset basis (two independent words).
constexpr std::uint64_t fnv1a(std::string_view s, std::uint64_t h) {
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h;
}
/// The name of type X as the compiler prints it in a function signature, hashed.
template <class X> consteval std::array<std::uint64_t, 2> type_name_hash() {
    constexpr std::string_view s = __PRETTY_FUNCTION__;
    return {fnv1a(s, 14695981039346656037ull), fnv1a(s, 0x9e3779b97f4a7c15ull)};
}
/// splitmix64's finaliser: every input bit reaches every output bit.
constexpr std::uint64_t mix64(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/// The key of an op applied to argument keys, in order.
template <std::uint64_t OpA, std::uint64_t OpB, class... K> consteval std::array<std::uint64_t, 2> node_hash() {
    std::uint64_t a = mix64(OpA), b = mix64(OpB ^ 0x632be59bd9b4e019ull);
    // a loop, not a fold: clang limits a fold to 256 operands, and a list of nodes is longer
    constexpr std::uint64_t hi[] = {K::hi..., 0}, lo[] = {K::lo..., 0};
    for (std::uint64_t k = 1; k <= sizeof...(K); ++k) {
        a = mix64(a ^ mix64(hi[k - 1] + k));
        b = mix64(b + mix64(lo[k - 1] ^ (k * 0xd6e8feb86659fd93ull)));
    }
    return {a, b};
}

/// The key of graph E: leaves by their type's name, nodes from their op and their arguments' keys
/// (a class per distinct node, so a shared node is hashed once; no static data member, whose
/// graph-sized name g++ would process), lists of graphs as nodes of a list op.
/// A leaf's name hashed from `basis` (basis for a leaf without one). A leaf is keyed by its name
/// as well as its type's printed form: clang prints only a name's first ten characters there
/// ("layer1.conv1.weight" and "layer1.conv2.weight" of one shape print alike). Asked in the body
/// of the leaves' key_of, not as a constraint on key_of: clang 14 checks a constraint against
/// every node type too, and profiling a deep node type took it minutes and gigabytes.
template <class E> consteval std::uint64_t name_hash(std::uint64_t basis) {
    if constexpr (requires { E::name(); }) return fnv1a(E::name(), basis);
    else return basis;
}
template <class E> struct key_of {
    using type = graph_key<mix64(type_name_hash<E>()[0] ^ name_hash<E>(14695981039346656037ull)),
                           mix64(type_name_hash<E>()[1] + name_hash<E>(0x9e3779b97f4a7c15ull))>;
};
template <class Op, class... A> struct key_of<node<Op, A...>> {
    using type = graph_key<node_hash<type_name_hash<Op>()[0], type_name_hash<Op>()[1], typename key_of<A>::type...>()[0],
                           node_hash<type_name_hash<Op>()[0], type_name_hash<Op>()[1], typename key_of<A>::type...>()[1]>;
};
template <class... A> struct key_of<meta::list<A...>> {
    using type = graph_key<node_hash<1, 2, typename key_of<A>::type...>()[0], node_hash<1, 2, typename key_of<A>::type...>()[1]>;
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-template-friend" // declared here, defined by bind_key
#endif
template <class Key> struct key_slot {
    friend constexpr auto keyed_graph(key_slot);
};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
/// Instantiating bind_key<Key, G> makes keyed_graph_t<Key> name G.
template <class Key, class G> struct bind_key {
    friend constexpr auto keyed_graph(key_slot<Key>) { return std::type_identity<G>{}; }
    using type = Key;
};
} // namespace detail

/// The key of graph G, bound to G: `keyed_graph_t<key_t<G>>` is G.
template <class G> using key_t = typename detail::bind_key<typename detail::key_of<G>::type, G>::type;
/// The graph a key was bound to (by key_t).
template <class Key> using keyed_graph_t = typename decltype(keyed_graph(detail::key_slot<Key>{}))::type;

namespace detail {
/// The positions of a list's elements by their keys, and their keys by position: an
/// open-addressing table (linear probing) of at least twice the list's size, built in one pass.
template <std::size_t N> struct key_table {
    static constexpr std::size_t capacity = [] {
        std::size_t c = 16;
        while (c < 2 * N) c *= 2;
        return c;
    }();
    std::array<std::uint64_t, capacity> hi{}, lo{};
    std::array<std::size_t, capacity> at{};
    std::array<std::uint64_t, N + 1> hi_at, lo_at; // element i's key
    constexpr key_table(const std::array<std::uint64_t, N + 1> &h, const std::array<std::uint64_t, N + 1> &l) : hi_at(h), lo_at(l) {
        for (auto &x : at) x = ::kink::detail::none;
        for (std::size_t i = 0; i < N; ++i)
            for (std::size_t k = l[i] & (capacity - 1);; k = (k + 1) & (capacity - 1)) {
                if (at[k] == ::kink::detail::none) {
                    hi[k] = h[i], lo[k] = l[i], at[k] = i;
                    break;
                }
                if (hi[k] == h[i] && lo[k] == l[i]) break; // a repeated element: its first position
            }
    }
    /// The position of the element with key (h, l); N when there is none.
    constexpr std::size_t find(std::uint64_t h, std::uint64_t l) const {
        for (std::size_t k = l & (capacity - 1);; k = (k + 1) & (capacity - 1)) {
            if (at[k] == ::kink::detail::none) return N;
            if (hi[k] == h && lo[k] == l) return at[k];
        }
    }
};
/// The table of the list a key is bound to: a class named after the key (a static member of a
/// class over the list itself would carry the list's name; see meta::sized).
template <class ListKey> struct list_index {
    static constexpr auto table = []<class... U>(meta::list<U...>) {
        return key_table<sizeof...(U)>{{key_t<U>::hi..., 0}, {key_t<U>::lo..., 0}};
    }(keyed_graph_t<ListKey>{});
};
/// Types whose key is cheap and structural: nodes, and leaves (a name, or a literal's value).
/// Other types are keyed by their printed name, which spells out any graph inside them (the
/// derivative's edge records, say) in full, without sharing: lists holding them are searched.
template <class E> struct keyable : std::bool_constant<requires { E::name(); }> {};
template <class Op, class... A> struct keyable<node<Op, A...>> : std::true_type {};
template <std::int64_t N, std::int64_t D> struct keyable<lit_leaf<N, D>> : std::true_type {};
template <class L> struct keyable_list;
template <class... U> struct keyable_list<meta::list<U...>> : std::bool_constant<meta::all(std::array<bool, sizeof...(U)>{keyable<U>::value...})> {};
/// Lists of 48 keyable types or more are looked up by key; others are searched. (A class, not a
/// variable template, whose specialization g++ would name after the list.)
template <class L> struct keyed_lookup : std::bool_constant<(L::size >= 48 && keyable_list<L>::value)> {};
template <class T, class L, bool Keyed = keyed_lookup<L>::value> struct keyed_index {
    using type = meta::index_of<T, L>;
};
template <class T, class L> struct keyed_index<T, L, true> {
    using type = std::integral_constant<std::size_t, !keyable<T>::value ? L::size // not in a list of keyable types
                                                                        : list_index<key_t<L>>::table.find(key_of<T>::type::hi, key_of<T>::type::lo)>;
};
template <std::size_t I, class L, bool Keyed = keyed_lookup<L>::value> struct keyed_element {
    using type = meta::at_t<I, L>;
};
template <std::size_t I, class L> struct keyed_element<I, L, true> {
    using type = keyed_graph_t<graph_key<list_index<key_t<L>>::table.hi_at[I], list_index<key_t<L>>::table.lo_at[I]>>;
};
} // namespace detail

namespace meta {
/// Position of T in a list of graph nodes (the list's size when absent), as
/// std::integral_constant, and the I-th node: for long lists (a program's node list), the
/// answer of a table of the nodes' keys built once per list, so that N lookups in a list of N
/// nodes cost O(N) and not O(N^2) (the search of meta::index_of cost about 0.6 ms of g++'s time
/// per lookup in the 1100-node list of a 64-block residual MLP); short lists are searched.
/// Keys are 128-bit structural hashes: two different nodes with one key are not a practical
/// concern. For the node lists of the executor only: a list of other types is searched, and
/// clang spent minutes keying the symbolic derivative's lists this way.
template <class T, class L> using node_index_of = typename detail::keyed_index<T, L>::type;
template <std::size_t I, class L> using node_at_t = typename detail::keyed_element<I, L>::type;
} // namespace meta

} // namespace kink

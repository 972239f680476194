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
    std::uint64_t k = 0;
    ((++k, a = mix64(a ^ mix64(K::hi + k)), b = mix64(b + mix64(K::lo ^ (k * 0xd6e8feb86659fd93ull)))), ...);
    return {a, b};
}

/// The key of graph E: leaves by their type's name, nodes from their op and their arguments' keys
/// (a class per distinct node, so a shared node is hashed once; no static data member, whose
/// graph-sized name g++ would process), lists of graphs as nodes of a list op.
template <class E> struct key_of {
    using type = graph_key<type_name_hash<E>()[0], type_name_hash<E>()[1]>;
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

} // namespace kink

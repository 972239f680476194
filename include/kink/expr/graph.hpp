#pragma once
/// \file
/// Graph algorithms over expression types: the distinct nodes of one or several roots in
/// topological order (arguments before their users), each node once however often it is used.

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include <kink/expr/expr.hpp>

namespace kink {

namespace detail {
// The topological order is found by a depth-first search evaluated as a constant expression over
// a small record per distinct node (its key and its arguments' records), not by template
// recursion over a growing list of the nodes found: that list, a new class of k elements after
// each of the N nodes, cost O(N^2) (about 2 s and 500 MB of g++'s time and memory for the
// 1100-node 64-block residual MLP). Each record is a class named after a key (expr/key.hpp), and
// the order comes back as types through the keys: O(N) classes of constant-length names.

/// One distinct node: its key and its arguments' records, in order.
struct topo_vertex {
    std::uint64_t hi, lo;
    std::size_t arity;
    const topo_vertex *const *args;
};
template <class... K> struct key_pack {};
template <class E> struct arg_keys {
    using type = key_pack<>;
};
template <class Op, class... A> struct arg_keys<node<Op, A...>> {
    using type = key_pack<key_t<A>...>;
};
template <class Key, class Args = typename arg_keys<keyed_graph_t<Key>>::type> struct vertex_of;
template <class Key, class... K> struct vertex_of<Key, key_pack<K...>> {
    static constexpr const topo_vertex *args[] = {&vertex_of<K>::value..., nullptr};
    static constexpr topo_vertex value{Key::hi, Key::lo, sizeof...(K), args};
};

struct key_pair {
    std::uint64_t hi = 0, lo = 0;
};
/// The nodes reachable from the n roots, children first (arguments in order, each node once at its
/// first visit; the roots' own order kept): written to `out` when `write`; their number. (No
/// pointer is compared with null: with -fsanitize=undefined, g++ does not take such a comparison
/// of a static member's address as a constant expression.)
constexpr std::size_t topo_walk(const topo_vertex *const *roots, std::size_t nroots, bool write, key_pair *out) {
    std::vector<key_pair> seen(64); // open addressing by key, linear probing; {0, 0}: empty
    std::size_t filled = 0;
    const auto insert = [&](const topo_vertex *v) { // false when v was already there
        if (2 * (filled + 1) > seen.size()) {
            std::vector<key_pair> old(2 * seen.size());
            old.swap(seen);
            for (const key_pair &k : old)
                if (k.hi != 0 || k.lo != 0)
                    for (std::size_t i = k.lo & (seen.size() - 1);; i = (i + 1) & (seen.size() - 1))
                        if (seen[i].hi == 0 && seen[i].lo == 0) {
                            seen[i] = k;
                            break;
                        }
        }
        for (std::size_t i = v->lo & (seen.size() - 1);; i = (i + 1) & (seen.size() - 1)) {
            if (seen[i].hi == v->hi && seen[i].lo == v->lo) return false;
            if (seen[i].hi == 0 && seen[i].lo == 0) {
                seen[i] = {v->hi, v->lo};
                ++filled;
                return true;
            }
        }
    };
    struct frame {
        const topo_vertex *v;
        std::size_t next;
    };
    std::vector<frame> stack;
    std::size_t n = 0;
    for (std::size_t r = 0; r < nroots; ++r) {
        if (!insert(roots[r])) continue;
        stack.push_back({roots[r], 0});
        while (!stack.empty()) {
            frame &f = stack.back();
            if (f.next < f.v->arity) {
                const topo_vertex *c = f.v->args[f.next++];
                if (insert(c)) stack.push_back({c, 0});
            } else {
                if (write) out[n] = {f.v->hi, f.v->lo};
                ++n;
                stack.pop_back();
            }
        }
    }
    return n;
}
template <class... RootKeys> struct topo_of_keys {
    static constexpr const topo_vertex *roots[] = {&vertex_of<RootKeys>::value..., nullptr};
    static constexpr std::size_t count = topo_walk(roots, sizeof...(RootKeys), false, nullptr);
    static constexpr auto keys = [] {
        std::array<key_pair, count + 1> k{};
        topo_walk(roots, sizeof...(RootKeys), true, k.data());
        return k;
    }();
    template <std::size_t... I> static meta::list<keyed_graph_t<graph_key<keys[I].hi, keys[I].lo>>...> make(std::index_sequence<I...>);
    using type = decltype(make(std::make_index_sequence<count>{}));
};
} // namespace detail

/// Distinct nodes reachable from the roots, children first; the roots' own order is kept.
template <class... Roots> struct topo {
    using type = typename detail::topo_of_keys<key_t<Roots>...>::type;
};
template <class... Roots> using topo_t = typename topo<Roots...>::type;

/// A leaf name as a pack of characters, for compile-time messages: both compilers print
/// `kink::name_chars<'f', 'c', '.', 'W'>` (clang prints a fixed_string as character codes).
template <char... C> struct name_chars {};
namespace detail {
template <class L, std::size_t... I> name_chars<L::name()[I]...> chars_of(std::index_sequence<I...>);
/// The name of a leaf (anything with a static name()) as name_chars.
template <class L> struct leaf_name_chars {
    using type = name_chars<>; // not a leaf: no name
};
template <class L>
    requires requires { L::name(); }
struct leaf_name_chars<L> {
    using type = decltype(chars_of<L>(std::make_index_sequence<L::name().size()>{}));
};
/// The first pair (i, j), i < j, of different parameters with one name; {n, n} when none. The
/// positions are sorted by name (then position), so equal names are neighbours: O(n log n), where
/// comparing every pair cost O(n^2) (260 parameters in a 64-block residual MLP).
template <class... P> constexpr std::array<std::size_t, 2> name_clash() {
    constexpr std::size_t n = sizeof...(P);
    constexpr std::array<std::string_view, n + 1> names{P::name()..., {}};
    std::array<std::size_t, n + 1> order{};
    for (std::size_t i = 0; i <= n; ++i) order[i] = i;
    std::sort(order.begin(), order.begin() + n, [&](std::size_t a, std::size_t b) { return names[a] < names[b] || (names[a] == names[b] && a < b); });
    std::array<std::size_t, 2> r{n, n};
    for (std::size_t k = 0; k + 1 < n; ++k)
        if (names[order[k]] == names[order[k + 1]] && (k == 0 || names[order[k - 1]] != names[order[k]]) && order[k] < r[0])
            r = {order[k], order[k + 1]}; // a name's two first positions
    return r;
}
} // namespace detail

/// Fails (when instantiated) with the name and both shapes in the failing condition.
template <class Name, class Shape1, class Shape2> struct param_name_used_twice {
    static constexpr bool value = false;
};
/// Two different `param` leaves with one name would train as two parameters and save as one:
/// refused, naming the name and both shapes. (One name with one shape is one shared parameter.)
template <class... P> constexpr bool check_param_names(meta::list<P...>) {
    constexpr auto c = detail::name_clash<P...>();
    if constexpr (c[0] < sizeof...(P)) {
        using A = meta::at_t<c[0], meta::list<P...>>;
        using B = meta::at_t<c[1], meta::list<P...>>;
        static_assert(param_name_used_twice<typename detail::leaf_name_chars<A>::type, typename A::shape_type,
                                            typename B::shape_type>::value,
                      "kink: two different param<> leaves have one name (param_name_used_twice<name, shape, shape>): "
                      "give each layer its own name, e.g. a helper taking the name as a template parameter");
        return false;
    }
    return true;
}

/// Number of distinct nodes of a graph (what "O(N) nodes" is measured in).
template <class E> inline constexpr std::size_t node_count_v = topo_t<E>::size;

} // namespace kink

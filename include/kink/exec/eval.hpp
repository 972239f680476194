#pragma once
/// \file
/// Evaluation: one pass over the distinct nodes of one or several graphs in topological order,
/// values in a stack array indexed by node position. No heap allocation, no virtual call.
/// `value_and_grad` evaluates f and its derivative graphs together, so every forward value the
/// backward pass needs (tanh' = 1 - y^2 uses y) is computed once and shared.

#include <algorithm>
#include <array>
#include <limits>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

#include <kink/diff/grad.hpp>
#include <kink/expr/graph.hpp>
#include <kink/policy/policy.hpp>

namespace kink {

// ---------------------------------------------------------------------------------------------
// Kink-hit counters for count<P> nodes (one per node type; not thread-safe)

/// Counts for one node with a `count<P>` policy: forward evaluations and exact kink hits.
template <class Node> struct kink_counter {
    inline static std::uint64_t hits = 0;
    inline static std::uint64_t evals = 0;
};

template <class E> struct is_counted : std::false_type {};
template <class Op, class... A>
    requires requires { typename Op::policy; }
struct is_counted<node<Op, A...>> : std::bool_constant<is_count_v<typename Op::policy> && !requires { Op::index; }> {};

/// One counted node of a graph.
struct kink_count {
    std::string_view op;
    std::uint64_t hits, evals;
};

/// Hits and evaluations of the count<P> node at the root of `e` (e.g. `auto r = relu<count<zero>>(x)`).
template <class E> constexpr kink_count kink_hits(const ex<E> &) {
    static_assert(is_counted<E>::value, "kink: kink_hits: the expression's root has no count<P> policy");
    return {op_t<E>::name, kink_counter<E>::hits, kink_counter<E>::evals};
}

namespace detail {
template <class... N> constexpr auto collect_counts(meta::list<N...>) {
    using counted = meta::filter_t<is_counted, meta::list<N...>>;
    return []<class... C>(meta::list<C...>) {
        return std::array<kink_count, sizeof...(C)>{kink_count{op_t<C>::name, kink_counter<C>::hits, kink_counter<C>::evals}...};
    }(counted{});
}
template <class... N> void reset_counts(meta::list<N...>) {
    ((is_counted<N>::value ? (kink_counter<N>::hits = 0, kink_counter<N>::evals = 0) : 0), ...);
}
} // namespace detail

/// Counts of every count<P> node of `f`, in topological order.
template <class E> constexpr auto kink_counts(const ex<E> &) { return detail::collect_counts(topo_t<E>{}); }
/// Resets the counters of every count<P> node of `f`.
template <class E> void reset_kink_counts(const ex<E> &) { detail::reset_counts(topo_t<E>{}); }

// ---------------------------------------------------------------------------------------------
// Bindings

/// The variables to differentiate with respect to, for `value_and_grad`.
template <class... X> struct wrt_t {};
template <class... X> constexpr wrt_t<X...> wrt(const ex<X> &...) {
    static_assert((is_var_v<X> && ...), "kink: wrt: every argument must be a variable (var<\"x\">)");
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
    constexpr bool hit[] = {std::is_same_v<typename B::leaf, Leaf>..., false};
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
        static_assert(k < sizeof...(B), "kink: eval: a variable of the expression has no value: bind it as x = value");
        return static_cast<T>(at_index(std::get<k>(b).value, i));
    }
};

/// The value rule of one node, reading its arguments from the value array.
template <class Node, class Topo> struct node_eval {
    template <class T, class Src, class Env>
    static constexpr T apply(const std::array<T, Topo::size> &, const Src &src, const Env &env) {
        if constexpr (is_var_v<Node>) return env.template get<Node>();
        else if constexpr (is_lit_v<Node>) return Node::template value<T>();
        else return static_cast<T>(rconst_value<Node>(src));
    }
};
template <class Op, class... A, class Topo> struct node_eval<node<Op, A...>, Topo> {
    using self = node<Op, A...>;
    template <class T, class Src, class Env>
    static constexpr T apply(const std::array<T, Topo::size> &v, const Src &, const Env &) {
        if constexpr (is_counted<self>::value) {
            ++kink_counter<self>::evals;
            if (Op::at_kink(v[meta::index_v<A, Topo>]...)) ++kink_counter<self>::hits;
        }
        return static_cast<T>(Op::eval(v[meta::index_v<A, Topo>]...));
    }
};

/// One sweep over the distinct nodes in topological order.
template <class Topo> struct run;
template <class... N> struct run<meta::list<N...>> {
    using topo = meta::list<N...>;
    template <class T> using values = std::array<T, sizeof...(N)>;
    template <class T, class Src, class Env> static constexpr void all(values<T> &v, const Src &src, const Env &env) {
        std::size_t k = 0;
        ((v[k++] = node_eval<N, topo>::template apply<T>(v, src, env)), ...);
    }
};

template <class... B> constexpr std::size_t common_extent(std::string_view where, const B &...b) {
    std::size_t n = std::size_t(-1);
    auto one = [&](const auto &bd) {
        if constexpr (requires { bd.value.size(); }) {
            if (n != std::size_t(-1) && n != bd.value.size())
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
template <class E, class... B> constexpr auto eval(const ex<E> &f, const B &...bindings) {
    using T = std::common_type_t<detail::scalar_of_t<decltype(bindings.value)>...>;
    using topo = topo_t<E>;
    using run = detail::run<topo>;
    typename run::template values<T> v{};
    run::template all<T>(v, f, detail::env_t<T, B...>{{bindings...}, 0});
    return v[topo::size - 1];
}

/// Elementwise: `eval_each(f, out, x = span_x, y = 2.0)` writes f at every index into `out`.
/// Span bindings are indexed, scalar bindings broadcast; lengths must agree.
template <class E, class T, class... B> void eval_each(const ex<E> &f, std::span<T> out, const B &...bindings) {
    const std::size_t n = detail::common_extent("eval_each", bindings...);
    if (n != std::size_t(-1) && n != out.size())
        throw std::invalid_argument("kink: eval_each: output has " + std::to_string(out.size()) +
                                    " elements, the inputs " + std::to_string(n));
    using topo = topo_t<E>;
    using run = detail::run<topo>;
    typename run::template values<T> v{};
    for (std::size_t i = 0; i < out.size(); ++i) {
        run::template all<T>(v, f, detail::env_t<T, B...>{{bindings...}, i});
        out[i] = v[topo::size - 1];
    }
}

/// The value of f and its partial derivatives with respect to the variables `X...`.
template <class T, class... X> struct value_and_grad_result {
    T value;
    std::array<T, sizeof...(X)> grad;
    /// `r[x]`: the partial with respect to variable x.
    template <class V> constexpr T operator[](const ex<V> &) const {
        static_assert(meta::contains_v<V, X...>, "kink: value_and_grad: not differentiated with respect to this variable");
        return grad[meta::index_v<V, meta::list<X...>>];
    }
};

/// One fused evaluation of f and df/dx for each x in `wrt(...)`: a single topological sweep over
/// f's nodes and its derivative graphs' nodes (forward values first, then the backward ones).
template <class E, class... X, class... B>
constexpr auto value_and_grad(const ex<E> &f, wrt_t<X...>, const B &...bindings) {
    using T = std::common_type_t<detail::scalar_of_t<decltype(bindings.value)>...>;
    using topo = topo_t<E, derivative_t<E, X>...>;
    using run = detail::run<topo>;
    typename run::template values<T> v{};
    run::template all<T>(v, f, detail::env_t<T, B...>{{bindings...}, 0});
    return value_and_grad_result<T, X...>{v[meta::index_v<E, topo>], {v[meta::index_v<derivative_t<E, X>, topo>]...}};
}

} // namespace kink

namespace kink {

namespace detail {
template <class Node, class T, class Topo> constexpr T node_kink_distance(const std::array<T, Topo::size> &v) {
    if constexpr (is_node_v<Node> && requires { typename op_t<Node>::family; } && !requires { op_t<Node>::index; }) {
        return [&]<class Op, class... A>(std::type_identity<node<Op, A...>>) {
            return static_cast<T>(Op::kink_distance(v[meta::index_v<A, Topo>]...));
        }(std::type_identity<Node>{});
    } else {
        return std::numeric_limits<T>::infinity();
    }
}
template <class T, class... N> constexpr T min_distance(const std::array<T, sizeof...(N)> &v, meta::list<N...>) {
    T d = std::numeric_limits<T>::infinity();
    ((d = std::min(d, node_kink_distance<N, T, meta::list<N...>>(v))), ...);
    return d;
}
} // namespace detail

/// How far the arguments of f's piecewise nodes are from their nearest kink at the given point
/// (infinity when f has no piecewise node). Finite-difference checks use it to stay away.
template <class E, class... B> constexpr auto kink_distance(const ex<E> &f, const B &...bindings) {
    using T = std::common_type_t<detail::scalar_of_t<decltype(bindings.value)>...>;
    using topo = topo_t<E>;
    using run = detail::run<topo>;
    typename run::template values<T> v{};
    run::template all<T>(v, f, detail::env_t<T, B...>{{bindings...}, 0});
    return detail::min_distance<T>(v, topo{});
}

} // namespace kink

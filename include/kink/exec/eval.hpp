#pragma once
/// \file
/// Evaluation: one pass over the distinct nodes of one or several graphs in topological order,
/// values in a stack array indexed by node position. No heap allocation, no virtual call.
/// `value_and_grad` evaluates f and its derivative graphs together, so every forward value the
/// backward pass needs (tanh' = 1 - y^2 uses y) is computed once and shared.

#include <array>
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

template <class Leaf, class... B> struct find_binding;
template <class Leaf> struct find_binding<Leaf> { static constexpr bool found = false; };
template <class Leaf, class B0, class... B> struct find_binding<Leaf, B0, B...> {
    static constexpr bool found = std::is_same_v<typename B0::leaf, Leaf> || find_binding<Leaf, B...>::found;
    static constexpr decltype(auto) get(const B0 &b0, const B &...b) {
        if constexpr (std::is_same_v<typename B0::leaf, Leaf>) return (b0.value);
        else return find_binding<Leaf, B...>::get(b...);
    }
};

template <class V> constexpr auto at_index(const V &v, std::size_t i) {
    if constexpr (requires { v.size(); v[i]; }) return v[i];
    else return (void)i, v;
}

template <class Topo> struct run;
template <class... N> struct run<meta::list<N...>> {
    using topo = meta::list<N...>;
    template <class T> using values = std::array<T, sizeof...(N)>;

    template <class Node, class T, class Src, class Env>
    static constexpr T one(const values<T> &v, const Src &src, const Env &env) {
        if constexpr (is_var_v<Node>) {
            return env.template get<Node>();
        } else if constexpr (is_lit_v<Node>) {
            return Node::template value<T>();
        } else if constexpr (is_rconst_v<Node>) {
            return static_cast<T>(rconst_value<Node>(src));
        } else {
            return [&]<class Op, class... A>(std::type_identity<node<Op, A...>>) {
                if constexpr (is_counted<Node>::value) {
                    ++kink_counter<Node>::evals;
                    if (Op::at_kink(v[meta::index_v<A, topo>]...)) ++kink_counter<Node>::hits;
                }
                return static_cast<T>(Op::eval(v[meta::index_v<A, topo>]...));
            }(std::type_identity<Node>{});
        }
    }
    template <class T, class Src, class Env> static constexpr void all(values<T> &v, const Src &src, const Env &env) {
        ((v[meta::index_v<N, topo>] = one<N, T>(v, src, env)), ...);
    }
};

/// Scalar environment: variable -> value (element i when the binding is a span).
template <class T, class... B> struct env_t {
    const std::tuple<const B &...> b;
    std::size_t i;
    template <class Leaf> constexpr T get() const {
        static_assert(find_binding<Leaf, B...>::found,
                      "kink: eval: a variable of the expression has no value: bind it as x = value");
        return std::apply([&](const B &...bs) { return static_cast<T>(at_index(find_binding<Leaf, B...>::get(bs...), i)); }, b);
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

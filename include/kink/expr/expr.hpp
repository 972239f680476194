#pragma once
/// \file
/// Leaves, the one generic node, and the expression object `ex<E>`.
///
/// The *type* `E` is the graph: `node<Op, Args...>` for an operation, a leaf type otherwise.
/// Node types are never instantiated as objects; two structurally identical expressions have the
/// same type and a subexpression used twice is one node. The only runtime data an expression
/// carries is the values of its named runtime constants, kept in a flat pool (one `double` per
/// distinct constant), so copying an expression is O(number of constants), never O(tree).

#include <array>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <kink/expr/key.hpp>
#include <kink/expr/meta.hpp>

namespace kink {

/// A string usable as a template argument: the compile-time name of a leaf.
template <std::size_t N> struct fixed_string {
    char chars[N]{};
    constexpr fixed_string(const char (&s)[N]) {
        for (std::size_t i = 0; i < N; ++i) chars[i] = s[i];
    }
    constexpr std::string_view view() const { return {chars, N - 1}; }
};

// ---------------------------------------------------------------------------------------------
// Leaves

/// A variable: bound to a value at evaluation, differentiable.
template <fixed_string Name> struct var_leaf {
    static constexpr std::string_view name() { return Name.view(); }
};

/// An exact compile-time rational constant N/D (reduced, D > 0).
template <std::int64_t N, std::int64_t D = 1> struct lit_leaf {
    static_assert(D > 0 && std::gcd(N, D) == 1, "kink: lit_leaf must be reduced with a positive denominator");
    static constexpr std::int64_t num = N, den = D;
    template <class T> static constexpr T value() { return static_cast<T>(N) / static_cast<T>(D); }
};

/// A named runtime constant: its value lives in the expression object; never differentiated.
template <fixed_string Name> struct rconst_leaf {
    static constexpr std::string_view name() { return Name.view(); }
};

/// The one generic node: operation `Op` applied to the argument graphs `A...`.
template <class Op, class... A> struct node;

// ---------------------------------------------------------------------------------------------
// Traits

template <class E> struct is_var : std::false_type {};
template <fixed_string N> struct is_var<var_leaf<N>> : std::true_type {};
template <class E> struct is_lit : std::false_type {};
template <std::int64_t N, std::int64_t D> struct is_lit<lit_leaf<N, D>> : std::true_type {};
template <class E> struct is_rconst : std::false_type {};
template <fixed_string N> struct is_rconst<rconst_leaf<N>> : std::true_type {};
template <class E> struct is_node : std::false_type {};
template <class Op, class... A> struct is_node<node<Op, A...>> : std::true_type {};

// The `_v` predicates of graph types are concepts, used as values (`if constexpr (is_node_v<E>)`),
// not variable templates: a concept-id is a value, while g++ names every variable template
// specialization after its arguments at the end of the translation unit, emitted or not; a
// program asks them of every node, and a node's type spells out the graph below it, so those
// names grew with nodes x depth (meta::contains_v says the same of lists).
template <class E> concept is_var_v = is_var<E>::value;
template <class E> concept is_lit_v = is_lit<E>::value;
template <class E> concept is_rconst_v = is_rconst<E>::value;
template <class E> concept is_node_v = is_node<E>::value;
template <class E> concept is_leaf_v = !is_node<E>::value;
/// Leaves a value can be bound to with `leaf = value` (variables; inputs and labels of tensor
/// programs, see expr/tensor.hpp).
template <class E> struct is_bindable : is_var<E> {};

/// The children of a graph node (empty for leaves).
template <class E> struct children { using type = meta::list<>; };
template <class Op, class... A> struct children<node<Op, A...>> { using type = meta::list<A...>; };
template <class E> using children_t = typename children<E>::type;

template <class E> struct op_of { using type = void; };
template <class Op, class... A> struct op_of<node<Op, A...>> { using type = Op; };
template <class E> using op_t = typename op_of<E>::type;

/// I-th argument graph of a node.
template <std::size_t I, class E> using arg_t = meta::at_t<I, children_t<E>>;

using zero_t = lit_leaf<0>;
using one_t = lit_leaf<1>;

// ---------------------------------------------------------------------------------------------
// Tensor leaves and compile-time shapes
//
// A shape is the per-sample extent: `shape<>` a scalar, `shape<n>` a vector, `shape<m, n>` a
// matrix (row-major). Inputs and labels are *batched*: a program sees them with a runtime leading
// batch dimension. Parameters and constants are not batched. Broadcasting (docs/site/guide-tensors.md): an
// elementwise op takes arguments of one shape, or scalars next to them; batched and unbatched
// arguments mix freely (an unbatched one is the same for every sample).

/// A compile-time per-sample shape.
template <std::size_t... D> struct shape {
    static constexpr std::size_t rank = sizeof...(D);
    static constexpr std::size_t size = (std::size_t(1) * ... * D);
    static constexpr std::array<std::size_t, sizeof...(D)> dims{D...};
};

/// How a parameter leaf starts and whether it is trained (its `kind`):
///   drawn_tag         trained; the initializers draw it (nn/init.hpp); a new store holds 0
///   start_tag<V>      trained; starts at V in a new store and after every initializer: a
///                     normalisation's scale (1) and shift (0), as PyTorch starts them
///   running_tag<V>    not trained: a running statistic (batch_norm's running mean and variance),
///                     starts at V, stored and saved with the parameters, changed only by the
///                     op that keeps it; optimizers and initializers leave it alone
struct drawn_tag {
    static constexpr bool trained = true, drawn = true;
    static constexpr int start = 0;
};
template <int V> struct start_tag {
    static constexpr bool trained = true, drawn = false;
    static constexpr int start = V;
};
template <int V> struct running_tag {
    static constexpr bool trained = false, drawn = false;
    static constexpr int start = V;
};
/// A parameter with a compile-time shape: `param<"W1", 256, 784>`; Kind says how it starts and
/// whether it is trained (drawn_tag: a trained weight the initializers draw).
template <fixed_string Name, class Shape, class Kind = drawn_tag> struct param_leaf {
    using shape_type = Shape;
    using kind = Kind;
    static constexpr std::string_view name() { return Name.view(); }
};
/// A per-sample input (batched): `input<"x", 784>`; bound to `batch * 784` values in a step.
template <fixed_string Name, class Shape> struct input_leaf {
    using shape_type = Shape;
    static constexpr std::string_view name() { return Name.view(); }
};
/// A per-sample class label in [0, K) (batched, integer): `label<"y", 10>`.
template <fixed_string Name, std::size_t K> struct label_leaf {
    static_assert(K >= 1, "kink: label<name, K>: K (the number of classes) must be at least 1");
    using shape_type = shape<>;
    static constexpr std::size_t classes = K;
    static constexpr std::string_view name() { return Name.view(); }
};

template <class E> struct is_param : std::false_type {};
template <fixed_string N, class S, class K> struct is_param<param_leaf<N, S, K>> : std::true_type {};
/// Whether E is a parameter that training changes (not a running statistic).
template <class E> struct is_trained_param : std::false_type {};
template <fixed_string N, class S, class K> struct is_trained_param<param_leaf<N, S, K>> : std::bool_constant<K::trained> {};
/// Whether E is a running statistic (running_tag).
template <class E> struct is_running : std::false_type {};
template <fixed_string N, class S, class K> struct is_running<param_leaf<N, S, K>> : std::bool_constant<!K::trained> {};
template <class E> struct is_input : std::false_type {};
template <fixed_string N, class S> struct is_input<input_leaf<N, S>> : std::true_type {};
template <class E> struct is_label : std::false_type {};
template <fixed_string N, std::size_t K> struct is_label<label_leaf<N, K>> : std::true_type {};
template <class E> concept is_param_v = is_param<E>::value;
template <class E> concept is_input_v = is_input<E>::value;
template <class E> concept is_label_v = is_label<E>::value;
template <fixed_string N, class S> struct is_bindable<input_leaf<N, S>> : std::true_type {};
template <fixed_string N, std::size_t K> struct is_bindable<label_leaf<N, K>> : std::true_type {};

template <class E> struct shape_of;
template <class E> using shape_of_t = typename shape_of<E>::type;

namespace detail {
/// Elementwise broadcasting: one common shape, scalars broadcast, and a vector of C beside a
/// [C, H, W] value broadcasts over each channel's positions. `void` when shapes disagree.
template <class A, class B> struct bcast2 { using type = void; };
template <class A> struct bcast2<A, A> { using type = A; };
template <class A> struct bcast2<A, shape<>> { using type = A; };
template <class B> struct bcast2<shape<>, B> { using type = B; };
template <> struct bcast2<shape<>, shape<>> { using type = shape<>; };
template <class B> struct bcast2<void, B> { using type = void; };
/// A per-channel vector beside a [C, H, W] value: each channel's entry for all its positions.
template <std::size_t C, std::size_t H, std::size_t W> struct bcast2<shape<C, H, W>, shape<C>> { using type = shape<C, H, W>; };
template <std::size_t C, std::size_t H, std::size_t W> struct bcast2<shape<C>, shape<C, H, W>> { using type = shape<C, H, W>; };
template <class... S> struct bcast { using type = shape<>; };
template <class S, class... R> struct bcast<S, R...> { using type = typename bcast2<S, typename bcast<R...>::type>::type; };
} // namespace detail

/// The shape of a node whose arguments' shapes disagree. Its make_node has reported the mismatch
/// (one static_assert naming the op and both shapes); every op that takes it accepts it and
/// yields it, so one mismatch is one error, whatever the network built on top of it.
struct bad_shape {
    static constexpr std::size_t rank = 1;
    static constexpr std::size_t size = 1;
    static constexpr std::array<std::size_t, 1> dims{1};
};
template <class S> inline constexpr bool is_bad_shape_v = KINK_SAME(S, bad_shape);

namespace detail {
/// The shape rule of op `Op` on argument shapes `S...`: an op that is not elementwise says so with
/// a member `shape_rule` (`ok` and `type`); every other op broadcasts.
template <class Op, class... S> struct op_shape_rule {
    using type = typename detail::bcast<S...>::type;
    static constexpr bool ok = !KINK_SAME(type, void);
};
template <class Op, class... S>
    requires requires { typename Op::template shape_rule<S...>; }
struct op_shape_rule<Op, S...> : Op::template shape_rule<S...> {};
struct bad_shape_result {
    using type = bad_shape;
    static constexpr bool ok = true; // already reported
};
} // namespace detail
template <class Op, class... S>
struct op_shape : std::conditional_t<(is_bad_shape_v<S> || ...), detail::bad_shape_result, detail::op_shape_rule<Op, S...>> {};

template <class E> struct shape_of { using type = shape<>; };
template <fixed_string N, class S, class K> struct shape_of<param_leaf<N, S, K>> { using type = S; };
template <fixed_string N, class S> struct shape_of<input_leaf<N, S>> { using type = S; };
template <class Op, class... A> struct shape_of<node<Op, A...>> {
    using rule = op_shape<Op, shape_of_t<A>...>;
    using type = std::conditional_t<rule::ok, typename rule::type, bad_shape>;
};
/// Whether a graph's shape is bad_shape (a mismatch was reported when it was built).
template <class E> concept has_bad_shape_v = KINK_SAME(shape_of_t<E>, bad_shape);

/// Whether op Op reduces over the batch (`reduces_batch = true`: a batch statistic such as
/// batch_mean): its value is one for the whole batch, formed from every sample.
template <class Op> inline constexpr bool reduces_batch_v = requires { requires Op::reduces_batch; };
/// Whether a graph depends on a batched leaf (an input or a label) other than through an op that
/// reduces over the batch.
template <class E> struct batched : std::bool_constant<is_input<E>::value || is_label<E>::value> {};
template <class Op, class... A> struct batched<node<Op, A...>> : std::bool_constant<!reduces_batch_v<Op> && (batched<A>::value || ...)> {};
template <class E> concept batched_v = batched<E>::value;

/// The check every node passes when it is built. The failing condition names the op and the
/// argument shapes, so the one error line reads e.g.
/// `shapes_agree<kink::add_op, kink::shape<256>, kink::shape<128>>::value` (clang: in the error
/// line; g++: in the note attached to it, "... evaluates to false").
template <class Op, class... S> struct shapes_agree {
    static constexpr bool value = op_shape<Op, S...>::ok;
};

// ---------------------------------------------------------------------------------------------
// Runtime constants: the distinct rconst leaves of a graph, in order of first appearance.

template <class E> struct rconsts { using type = meta::list<>; };
template <fixed_string N> struct rconsts<rconst_leaf<N>> { using type = meta::list<rconst_leaf<N>>; };
/// A kink policy may name a runtime constant (policy::runtime<Name>: the value at the kink); it
/// belongs to every node with that policy, derivative nodes included.
template <class P> struct policy_rconsts { using type = meta::list<>; };
template <class P>
    requires requires { typename P::inner; }
struct policy_rconsts<P> : policy_rconsts<typename P::inner> {};
template <class P>
    requires requires { typename P::constant; }
struct policy_rconsts<P> { using type = meta::list<typename P::constant>; };
template <class Op> struct op_rconsts { using type = meta::list<>; };
template <class Op>
    requires requires { typename Op::policy; }
struct op_rconsts<Op> : policy_rconsts<typename Op::policy> {};
template <class Op, class... A> struct rconsts<node<Op, A...>> {
    using type = meta::merge_t<meta::list<>, typename rconsts<A>::type..., typename op_rconsts<Op>::type>;
};
template <class E> using rconsts_t = typename rconsts<E>::type;

struct empty_pool {};
template <class E>
using pool_t = std::conditional_t<rconsts_t<E>::size == 0, empty_pool, std::array<double, rconsts_t<E>::size>>;

// ---------------------------------------------------------------------------------------------
// The expression object

template <class Leaf, class T> struct binding {
    T value;
    using leaf = Leaf;
};

/// Holds the expression class of the graph bound to Key (see key_t). The expression type is an
/// *unnamed member* class of a template over the graph's key, not over the graph:
///  - a member class, so that argument-dependent lookup on an expression does not walk the graph
///    type (ADL visits the template arguments of a class template specialization recursively,
///    which clang 14 does without memoisation: exponential in the depth of a graph whose nodes
///    are shared);
///  - unnamed, so that clang's code generator names its IR type "anon" instead of printing the
///    whole graph type as a tree (again exponential for shared nodes);
///  - named after the key (128 bits), so that every function instantiated on expressions (each
///    operator, make_node, the runtime-constant gathering) has a name of constant length: over
///    the graph's type, the N building steps of a deep network had names of length up to N
///    (16 of the 18.6 million characters of symbol names in the 32-block residual MLP's -O0
///    object; expr/key.hpp).
template <class Key> struct expr_of {
    struct {
        /// The graph of this expression.
        using graph = keyed_graph_t<Key>;
        using kink_expression_tag = void;
        /// Values of the runtime constants, in the order of rconsts_t<graph>.
        [[no_unique_address]] pool_t<graph> pool{};

        /// `x = 1.5` binds a variable to a value (or a span of values) for evaluation.
        template <class T>
            requires is_bindable<graph>::value
        constexpr binding<graph, T> operator=(T value) const {
            return {value};
        }
    } proto;
};
/// The expression type of graph E.
template <class E> using ex = decltype(expr_of<key_t<E>>::proto);

template <class T>
concept expression = requires {
    typename std::remove_cvref_t<T>::graph;
    typename std::remove_cvref_t<T>::kink_expression_tag;
};
template <class T> inline constexpr bool is_ex_v = expression<T>;
/// The graph of an expression type.
template <class X> using graph_t = typename std::remove_cvref_t<X>::graph;

/// A trainable parameter: `param<"W1", 256, 784>` (a 256 x 784 matrix), `param<"b1", 256>`.
template <fixed_string Name, std::size_t... D> inline constexpr ex<param_leaf<Name, shape<D...>>> param{};
/// A trained parameter that starts at V (every initializer leaves it at V): `param_from<"g", 1, 64>`
/// for a normalisation's scale.
template <fixed_string Name, int V, std::size_t... D> inline constexpr ex<param_leaf<Name, shape<D...>, start_tag<V>>> param_from{};
/// A running statistic, stored with the parameters but never trained: `running<"bn.var", 1, 64>`
/// starts at 1 (batch_norm's running variance); see running_tag.
template <fixed_string Name, int V, std::size_t... D> inline constexpr ex<param_leaf<Name, shape<D...>, running_tag<V>>> running{};
/// A per-sample input: `input<"x", 784>`; the batch is a runtime leading dimension.
template <fixed_string Name, std::size_t... D> inline constexpr ex<input_leaf<Name, shape<D...>>> input{};
/// A per-sample class label in [0, K): `label<"y", 10>`.
template <fixed_string Name, std::size_t K> inline constexpr ex<label_leaf<Name, K>> label{};

/// A variable with a compile-time name: `constexpr auto x = var<"x">;`
template <fixed_string Name> inline constexpr ex<var_leaf<Name>> var{};

/// An exact compile-time constant: `lit<1, 2>` is one half. See also the `_c` literal.
template <std::int64_t N, std::int64_t D = 1>
inline constexpr ex<lit_leaf<N / std::gcd(N, D) * (D < 0 ? -1 : 1), (D < 0 ? -D : D) / std::gcd(N, D)>> lit{};

/// A named runtime constant, e.g. `constant<"alpha">(0.01)`. Not differentiated; printed by name.
template <fixed_string Name> constexpr ex<rconst_leaf<Name>> constant(double value) {
    return {{value}};
}

/// The value of runtime constant `C` in expression object `e`.
template <class C, expression X> constexpr double rconst_value(const X &e) {
    return e.pool[meta::index_of<C, rconsts_t<graph_t<X>>>::value];
}

namespace detail {
template <class C, expression Src> constexpr void take_const(double &out, bool &found, const Src &src) {
    if constexpr (meta::in_list_v<C, rconsts_t<graph_t<Src>>>) {
        const double v = rconst_value<C>(src);
        if (found && !(v == out))
            throw std::invalid_argument("kink: runtime constant '" + std::string(C::name()) +
                                        "' is given two different values in one expression");
        out = v;
        found = true;
    }
}
template <class C, class... Src> constexpr double find_const(const Src &...src) {
    double v = 0;
    bool found = false;
    (take_const<C>(v, found, src), ...);
    return v;
}
/// Expression object X whose pool holds its graph's runtime constants C..., taken from the sources' pools
/// (a constant that several sources hold must have one value there).
template <class X, class... Src, class... C> constexpr X gather(meta::list<C...>, const Src &...src) {
    if constexpr (sizeof...(C) == 0) {
        return {};
    } else {
        return X{{find_const<C>(src...)...}};
    }
}
} // namespace detail

/// A copy of `f` whose runtime constant `Name` has the value `value` (a constant<Name> leaf or
/// the kink value of a policy::runtime<Name> node).
template <fixed_string Name, expression X> constexpr auto with_constant(const X &f, double value) {
    using C = rconst_leaf<Name>;
    static_assert(meta::in_list_v<C, rconsts_t<graph_t<X>>>, "kink: with_constant: the expression has no runtime constant of this name");
    auto out = f;
    out.pool[meta::index_of<C, rconsts_t<graph_t<X>>>::value] = value;
    return out;
}

/// `make_node<Op>(a, b)`: the expression Op(a, b), nothing simplified.
template <class Op, expression... A> constexpr ex<node<Op, graph_t<A>...>> make_node(const A &...a) {
    static_assert(shapes_agree<Op, shape_of_t<graph_t<A>>...>::value,
                  "kink: shape mismatch: shapes_agree<op, shapes...> names the op and the argument shapes "
                  "(elementwise ops need equal shapes, scalars, or a vector of C beside a [C, H, W] value; see docs/site/guide-tensors.md)");
    using Out = node<Op, graph_t<A>...>;
    return detail::gather<ex<Out>>(rconsts_t<Out>{}, a...); // no function named after Out
}

// ---------------------------------------------------------------------------------------------
// Exact rational literals: 2_c, 0.5_c, 0.01_c

namespace detail {
template <char... C> constexpr std::array<std::int64_t, 2> parse_decimal() {
    constexpr char s[] = {C..., '\0'};
    std::int64_t num = 0, den = 1;
    bool frac = false;
    for (std::size_t i = 0; i < sizeof...(C); ++i) {
        const char c = s[i];
        if (c == '\'') continue;
        if (c == '.') {
            if (frac) throw "kink: _c literal has two decimal points";
            frac = true;
            continue;
        }
        if (c < '0' || c > '9') throw "kink: _c literal takes decimal digits and one point only";
        num = num * 10 + (c - '0');
        if (frac) den *= 10;
    }
    const std::int64_t g = std::gcd(num, den);
    return {num / g, den / g};
}
} // namespace detail

inline namespace literals {
/// `0.25_c` is the exact rational 1/4 as a compile-time constant expression.
template <char... C> constexpr auto operator""_c() {
    constexpr auto r = detail::parse_decimal<C...>();
    return ex<lit_leaf<r[0], r[1]>>{};
}
} // namespace literals

} // namespace kink

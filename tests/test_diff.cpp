// Compile-time differentiation: simplified forms (as types), O(N) derivative graphs, second
// derivatives, several variables, runtime constants and elementwise evaluation.
#include <doctest/doctest.h>

#include <boost/hana/at.hpp>
#include <cmath>
#include <span>
#include <vector>

#include <kink/kink.hpp>

using namespace kink;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;
constexpr auto z = var<"z">;

template <class A, class B> constexpr bool same(const A &, const B &) { return std::is_same_v<A, B>; }

/// u_{k+1} = sin(u_k) * u_k + u_k: every level uses the previous one three times, so the
/// expression *tree* has 3^N leaves while the graph has O(N) nodes.
template <int N> constexpr auto shared_chain(const expression auto &u) {
    if constexpr (N == 0) return u;
    else return shared_chain<N - 1>(sin(u) * u + u);
}
/// A depth-N chain of different unary ops, with a kink every fourth level.
template <int N> constexpr auto mixed_chain(const expression auto &u) {
    if constexpr (N == 0) return u;
    else if constexpr (N % 4 == 0) return mixed_chain<N - 1>(tanh(u));
    else if constexpr (N % 4 == 1) return mixed_chain<N - 1>(relu(u) + sigmoid(u));
    else if constexpr (N % 4 == 2) return mixed_chain<N - 1>(softplus(u) * 0.5_c);
    else return mixed_chain<N - 1>(sin(u));
}
} // namespace

TEST_CASE("simplified derivative types") {
    static_assert(same(grad(x * x, x), 2_c * x)); // d/dx x*x = 2 * x, the documented form
    static_assert(same(grad(x + x, x), 2_c));
    static_assert(same(grad(3_c * x, x), 3_c));
    static_assert(same(grad(x * y, x), y));
    static_assert(same(grad(x * y, z), 0_c)); // not a variable of f: zero
    static_assert(same(grad(x - y, y), lit<-1>));
    static_assert(same(grad(-x, x), lit<-1>));
    static_assert(same(grad(exp(x), x), exp(x)));                  // reuses the forward value
    static_assert(same(grad(sin(x), x), cos(x)));
    static_assert(same(grad(cos(x), x), -sin(x)));
    static_assert(same(grad(tanh(x), x), 1_c - pow<2>(tanh(x)))); // 1 - y^2 with y the output
    static_assert(same(grad(sigmoid(x), x), sigmoid(x) * (1_c - sigmoid(x))));
    static_assert(same(grad(softplus(x), x), sigmoid(x)));
    static_assert(same(grad(log(x), x), 1_c / x));
    static_assert(same(grad(pow<3>(x), x), 3_c * pow<2>(x)));
    static_assert(same(grad(pow<2>(x), x), 2_c * x));
    static_assert(same(grad(2_c * 3_c + x, x), 1_c));
    static_assert(same(grad(x / y, x), 1_c / y));
    static_assert(same(grad(x / y, y), -(x / y / y)));
    static_assert(same(grad(0.5_c * x * 4_c, x), 2_c)); // constants folded exactly
    CHECK(to_text(grad(x * x, x)) == "2 * x");
}

TEST_CASE("second derivatives of smooth parts; piecewise parts have zero second derivative") {
    static_assert(same(grad(grad(sin(x), x), x), -sin(x)));
    static_assert(same(grad(grad(exp(x), x), x), exp(x)));
    static_assert(same(grad(grad(relu(x), x), x), 0_c));
    static_assert(same(grad(grad(x * y, x), y), 1_c));
    auto f = tanh(x * y) + pow<3>(x);
    auto fxx = grad(grad(f, x), x);
    for (double a : {-1.3, -0.2, 0.4, 1.1}) {
        const double b = 0.7, t = std::tanh(a * b);
        const double expected = -2 * t * (1 - t * t) * b * b + 6 * a;
        CHECK(eval(fxx, x = a, y = b) == doctest::Approx(expected).epsilon(1e-14));
    }
    // mixed partial d2/dxdy of x^2 y^3 = 6 x y^2
    CHECK(eval(grad(grad(pow<2>(x) * pow<3>(y), x), y), x = 1.5, y = -2.0) == 6 * 1.5 * 4.0);
}

/// Whether every node of list L comes after its arguments, and the lookups agree with the list's
/// own order: meta::index_of and meta::at_t (a search), meta::node_index_of and meta::node_at_t
/// (a key table for long lists, a search for short ones).
template <class N, class L, class Args = children_t<N>> struct args_before;
template <class N, class L, class... A> struct args_before<N, L, meta::list<A...>> {
    static constexpr bool value = ((meta::index_of<A, L>::value < meta::index_of<N, L>::value) && ... && true);
};
template <class... N> constexpr bool consistent_order(meta::list<N...>) {
    using L = meta::list<N...>;
    constexpr std::size_t pos[] = {meta::index_of<N, L>::value..., 0};
    constexpr std::size_t node_pos[] = {meta::node_index_of<N, L>::value..., 0};
    constexpr bool round_trip[] = {(KINK_SAME(meta::at_t<meta::index_of<N, L>::value, L>, N) &&
                                    KINK_SAME(meta::node_at_t<meta::node_index_of<N, L>::value, L>, N))...,
                                   true};
    constexpr bool args_first[] = {args_before<N, L>::value..., true};
    for (std::size_t i = 0; i < sizeof...(N); ++i)
        if (pos[i] != i || node_pos[i] != i || !round_trip[i] || !args_first[i]) return false;
    return meta::index_of<lit_leaf<12345>, L>::value == sizeof...(N) && // absent: the list's size
           meta::node_index_of<lit_leaf<12345>, L>::value == sizeof...(N) && meta::node_index_of<int, L>::value == sizeof...(N);
}

TEST_CASE("keys: leaves whose names differ only after their first ten characters are told apart") {
    // clang prints a name's first ten characters in a type's printed form: the key hashes the name
    using A = param_leaf<"layer1.conv1.weight", shape<4>>;
    using B = param_leaf<"layer1.conv2.weight", shape<4>>;
    static_assert(!KINK_SAME(kink::key_t<A>, kink::key_t<B>));
    static_assert(KINK_SAME(keyed_graph_t<kink::key_t<A>>, A) && KINK_SAME(keyed_graph_t<kink::key_t<B>>, B));
    // and a graph over both compiles and evaluates them as two parameters
    constexpr auto a = param<"layer1.conv1.weight", 4>;
    constexpr auto b = param<"layer1.conv2.weight", 4>;
    auto net = compile<double>(sum(hadamard(a, input<"in", 4>) + b));
    CHECK(decltype(net)::params_type::count == 2);
}

TEST_CASE("topological order: arguments first, depth first, each node once") {
    constexpr auto e = max(x * y, x) + abs(x - y) * x;
    using X = graph_t<decltype(x)>;
    using Y = graph_t<decltype(y)>;
    using XY = graph_t<decltype(x * y)>;
    using M = graph_t<decltype(max(x * y, x))>;
    using D = graph_t<decltype(x - y)>;
    using A = graph_t<decltype(abs(x - y))>;
    using P = graph_t<decltype(abs(x - y) * x)>;
    using E = graph_t<decltype(e)>;
    static_assert(KINK_SAME(topo_t<E>, meta::list<X, Y, XY, M, D, A, P, E>));
    // several roots: each root's unseen nodes after the earlier roots'
    static_assert(KINK_SAME(topo_t<P, M>, meta::list<X, Y, D, A, P, XY, M>));
    static_assert(KINK_SAME(topo_t<X, X>, meta::list<X>));
    static_assert(consistent_order(topo_t<E>{}));
    using F = graph_t<decltype(mixed_chain<64>(x))>;
    static_assert(topo_t<F>::size >= 48, "long enough for the key table");
    static_assert(consistent_order(topo_t<F>{}));
    static_assert(KINK_SAME(meta::node_at_t<topo_t<F>::size - 1, topo_t<F>>, F));
}

TEST_CASE("no exponential blow-up: depth-64 derivatives have O(N) nodes") {
    constexpr auto f = shared_chain<64>(x);
    constexpr auto g = mixed_chain<64>(x);
    using F = graph_t<decltype(f)>;
    using G = graph_t<decltype(g)>;
    using DF = graph_t<decltype(grad(f, x))>;
    using DG = graph_t<decltype(grad(g, x))>;
    static_assert(node_count_v<F> == 1 + 3 * 64);
    static_assert(node_count_v<DF> <= 10 * 64 && node_count_v<DF> <= 3 * node_count_v<F>, "derivative of a depth-64 shared chain must stay O(N)");
    static_assert(node_count_v<DG> <= 10 * 64 && node_count_v<DG> <= 4 * node_count_v<G>, "derivative of a depth-64 mixed chain must stay O(N)");
    MESSAGE("depth 64: f has ", node_count_v<F>, " nodes, df/dx ", node_count_v<DF>, "; mixed chain ",
            node_count_v<G>, " -> ", node_count_v<DG>);
    // and the graphs are right: compare with finite differences at depth 64
    for (double a : {0.3, 0.9}) {
        const auto r = value_and_grad(g, wrt(x), x = a);
        const double h = 1e-6, fd = (eval(g, x = a + h) - eval(g, x = a - h)) / (2 * h);
        CHECK(std::fabs(r[x] - fd) <= 1e-7 * (1 + std::fabs(fd)));
    }
    const double a = 0.2;
    const auto r = value_and_grad(shared_chain<6>(x), wrt(x), x = a);
    const double h = 1e-6, fd = (eval(shared_chain<6>(x), x = a + h) - eval(shared_chain<6>(x), x = a - h)) / (2 * h);
    CHECK(std::fabs(r[x] - fd) <= 1e-7 * (1 + std::fabs(fd)));
}

TEST_CASE("several variables at once") {
    auto f = x * y + sin(z) * x;
    auto g = grad(f, x, y, z);
    namespace hana = boost::hana;
    CHECK(eval(hana::at_c<0>(g), x = 2.0, y = 3.0, z = 0.0) == 3.0);
    CHECK(eval(hana::at_c<1>(g), x = 2.0, y = 3.0, z = 0.0) == 2.0);
    CHECK(eval(hana::at_c<2>(g), x = 2.0, y = 3.0, z = 0.0) == 2.0);
    const auto r = value_and_grad(f, wrt(x, y, z), x = 2.0, y = 3.0, z = 0.0);
    CHECK(r.value == 6.0);
    CHECK(r.grad[0] == 3.0);
    CHECK(r[y] == 2.0);
    CHECK(r[z] == 2.0);
}

TEST_CASE("float evaluation") {
    auto f = tanh(x) * y;
    const auto r = value_and_grad(f, wrt(x, y), x = 0.5f, y = 2.0f);
    static_assert(std::is_same_v<std::remove_const_t<decltype(r.value)>, float>);
    CHECK(r.value == std::tanh(0.5f) * 2.0f);
    CHECK(r[x] == doctest::Approx(2.0 * (1.0 - std::tanh(0.5) * std::tanh(0.5))).epsilon(1e-6));
}

TEST_CASE("runtime constants: named, stored in the expression, never differentiated") {
    auto alpha = constant<"alpha">(0.25);
    auto f = alpha * x + leaky_relu(x, alpha);
    CHECK(to_text(f) == "alpha * x + leaky_relu(x, alpha)");
    CHECK(eval(f, x = -2.0) == -0.5 - 0.5);
    CHECK(eval(grad(f, x), x = -2.0) == 0.5);
    CHECK(eval(grad(f, x), x = 2.0) == 1.25);
    CHECK_THROWS_WITH_AS((void)(constant<"alpha">(0.25) * x + constant<"alpha">(0.5)),
                         "kink: runtime constant 'alpha' is given two different values in one expression",
                         std::invalid_argument);
}

TEST_CASE("elementwise evaluation over spans") {
    auto f = relu(x) * y;
    std::vector<double> xs{-1, 0, 2, 3}, ys{5, 5, 5, 2}, out(4);
    eval_each(f, std::span<double>(out), x = std::span<const double>(xs), y = std::span<const double>(ys));
    CHECK(out == std::vector<double>{0, 0, 10, 6});
    eval_each(grad(f, x), std::span<double>(out), x = std::span<const double>(xs), y = 3.0);
    CHECK(out == std::vector<double>{0, 0, 3, 3}); // relu'(0) = 0 under the default policy
    std::vector<double> short_ys{1, 2};
    CHECK_THROWS_WITH_AS(eval_each(f, std::span<double>(out), x = std::span<const double>(xs), y = std::span<const double>(short_ys)),
                         "kink: eval_each: variable 'y' is bound to 2 values, another variable to 4",
                         std::invalid_argument);
}

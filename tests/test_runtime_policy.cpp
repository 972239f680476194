// policy::runtime<Name>: the value at a kink read at run time. With c = 0 and c = 1 it is
// `zero` and `one` on every op; with c = 1/2 it is `half` where the one-sided derivatives are 0
// and 1; compiled programs give the same bytes as the programs of the constant policies (float,
// double, bfloat16; dense and convolutional; one thread and several), and one program serves
// every value.
#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

#include <kink/kink.hpp>

using namespace kink;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;
constexpr auto z = var<"z">;
using R = policy::runtime<"c">;

template <class F> double d1(const F &f, double c, double at) { return eval(grad(with_constant<"c">(f, c), x), x = at); }
template <class F> std::array<double, 2> d2(const F &f, double c, double a, double b) {
    auto r = value_and_grad(with_constant<"c">(f, c), wrt(x, y), x = a, y = b);
    return {r[x], r[y]};
}
template <class F> std::array<double, 3> d3(const F &f, double c, double a, double lo, double hi) {
    auto r = value_and_grad(with_constant<"c">(f, c), wrt(x, y, z), x = a, y = lo, z = hi);
    return {r[x], r[y], r[z]};
}
template <class F> std::array<double, 3> d3(const F &f, double a, double lo, double hi) {
    auto r = value_and_grad(f, wrt(x, y, z), x = a, y = lo, z = hi);
    return {r[x], r[y], r[z]};
}
template <class F> std::array<double, 2> d2(const F &f, double a, double b) {
    auto r = value_and_grad(f, wrt(x, y), x = a, y = b);
    return {r[x], r[y]};
}
template <class F> double d1(const F &f, double at) { return eval(grad(f, x), x = at); }

/// Every one-argument op at each of its kinks: runtime<c> with c = 0, 1 against zero, one.
template <template <class> class Op> void unary_matches(std::initializer_list<double> kinks) {
    for (double at : kinks) {
        CAPTURE(at);
        CHECK(d1(Op<R>{}(x), 0.0, at) == d1(Op<policy::zero>{}(x), at));
        CHECK(d1(Op<R>{}(x), 1.0, at) == d1(Op<policy::one>{}(x), at));
        CHECK(d1(Op<R>{}(x), 0.5, at + 0.25) == d1(Op<policy::zero>{}(x), at + 0.25)); // away from it: no c
    }
}
template <class P> struct relu_f { constexpr auto operator()(const auto &u) const { return relu<P>(u); } };
template <class P> struct relu6_f { constexpr auto operator()(const auto &u) const { return relu6<P>(u); } };
template <class P> struct hardtanh_f { constexpr auto operator()(const auto &u) const { return hardtanh<P>(u); } };
template <class P> struct leaky_f { constexpr auto operator()(const auto &u) const { return leaky_relu<P>(u, 0.25_c); } };
template <class P> struct abs_f { constexpr auto operator()(const auto &u) const { return abs<P>(u); } };
template <class P> struct sign_f { constexpr auto operator()(const auto &u) const { return sign<P>(u); } };
template <class P> struct step_f { constexpr auto operator()(const auto &u) const { return step<P>(u); } };
} // namespace

TEST_CASE("runtime<c>: c = 0 and c = 1 are zero and one at every kink of every elementwise op") {
    unary_matches<relu_f>({0.0, -0.0});
    unary_matches<relu6_f>({0.0, 6.0});
    unary_matches<hardtanh_f>({-1.0, 1.0});
    unary_matches<leaky_f>({0.0});
    unary_matches<abs_f>({0.0});
    unary_matches<sign_f>({0.0});
    unary_matches<step_f>({0.0});
    for (double c : {0.0, 1.0}) {
        CAPTURE(c);
        const auto zero_or_one = [&](auto f_zero, auto f_one) { return c == 0 ? d2(f_zero, 1, 1) : d2(f_one, 1, 1); };
        CHECK(d2(max<R>(x, y), c, 1, 1) == zero_or_one(max<policy::zero>(x, y), max<policy::one>(x, y)));
        CHECK(d2(min<R>(x, y), c, 1, 1) == zero_or_one(min<policy::zero>(x, y), min<policy::one>(x, y)));
        const auto clamp_c = clamp<R>(x, y, z);
        const auto lo = c == 0 ? d3(clamp<policy::zero>(x, y, z), 0.0, 0.0, 1.0) : d3(clamp<policy::one>(x, y, z), 0.0, 0.0, 1.0);
        const auto hi = c == 0 ? d3(clamp<policy::zero>(x, y, z), 1.0, 0.0, 1.0) : d3(clamp<policy::one>(x, y, z), 1.0, 0.0, 1.0);
        CHECK(d3(clamp_c, c, 0.0, 0.0, 1.0) == lo);
        CHECK(d3(clamp_c, c, 1.0, 0.0, 1.0) == hi);
    }
}

TEST_CASE("runtime<c>: c = 1/2 is half where the one-sided derivatives are 0 and 1, and c elsewhere") {
    CHECK(d1(relu<R>(x), 0.5, 0.0) == d1(relu<policy::half>(x), 0.0));
    CHECK(d1(relu6<R>(x), 0.5, 6.0) == d1(relu6<policy::half>(x), 6.0));
    CHECK(d1(hardtanh<R>(x), 0.5, -1.0) == d1(hardtanh<policy::half>(x), -1.0));
    CHECK(d2(max<R>(x, y), 0.5, 2, 2) == d2(max<policy::half>(x, y), 2, 2));
    CHECK(d2(min<R>(x, y), 0.5, 2, 2) == d2(min<policy::half>(x, y), 2, 2));
    CHECK(d3(clamp<R>(x, y, z), 0.5, 0.0, 0.0, 1.0) == d3(clamp<policy::half>(x, y, z), 0.0, 0.0, 1.0));
    CHECK(d3(clamp<R>(x, y, z), 0.5, 1.0, 0.0, 1.0) == d3(clamp<policy::half>(x, y, z), 1.0, 0.0, 1.0));
    // where the sides are not 0 and 1, the value is c itself (half is their midpoint)
    CHECK(d1(abs<R>(x), 0.5, 0.0) == 0.5);
    CHECK(d1(abs<policy::half>(x), 0.0) == 0.0);
    CHECK(d1(leaky_relu<R>(x, 0.25_c), 0.5, 0.0) == 0.5);
    CHECK(d1(leaky_relu<policy::half>(x, 0.25_c), 0.0) == 0.625);
    // any c: the table of the same function in different programs
    for (double c : {0.0, 0.1, 0.25, 0.3, 0.5, 0.75, 1.0}) {
        CAPTURE(c);
        CHECK(d1(relu<R>(x), c, 0.0) == c);
        CHECK(d1(relu<R>(x) - relu<R>(-x), c, 0.0) == 2 * c);
        // exact for the dyadic c (no rounding in c * c - c); within rounding otherwise
        if (c == 0.1 || c == 0.3) CHECK(d1(relu<R>(relu<R>(x)) - relu<R>(x), c, 0.0) == doctest::Approx(c * c - c).epsilon(1e-15));
        else CHECK(d1(relu<R>(relu<R>(x)) - relu<R>(x), c, 0.0) == c * c - c);
        CHECK(d1(relu<R>(x) - relu<R>(-x), c, 0.3) == 1.0);
    }
    // the constant starts at 0 (PyTorch's relu'(0)) when no value is given
    CHECK(d1(relu<R>(x), 0.0) == 0.0);
    CHECK(rconst_value<rconst_leaf<"c">>(with_constant<"c">(relu<R>(x), 0.25)) == 0.25);
}

TEST_CASE("runtime<c>: printed with the constant's name; count<runtime<c>> counts as count<zero> does") {
    CHECK(to_text(grad(relu<R>(x), x)) == "1 if x > 0, c if x = 0 (policy runtime<c>), 0 if x < 0");
    CHECK(to_text(grad(clamp<R>(x, y, z), y)) == "1 if x < y, 1 - (c) if x = y (policy runtime<c>), 0 if x > y");
    CHECK(to_text(relu<R>(x)) == "relu<runtime<c>>(x)");
    const auto f = relu<policy::count<R>>(x);
    CHECK(to_text(grad(f, x)) == "1 if x > 0, c if x = 0 (policy count<runtime<c>>), 0 if x < 0");
    CHECK(d1(f, 1.0, 0.0) == 1.0);
}

namespace {
template <class Store> bool same_bytes(const Store &a, const Store &b) {
    return a.flat().size() == b.flat().size() && std::memcmp(a.data(), b.data(), a.flat().size() * sizeof(*a.data())) == 0;
}

constexpr auto in = input<"in", 12>;
constexpr auto lab = label<"lab", 3>;
constexpr auto W1 = param<"W1", 16, 12>;
constexpr auto b1 = param<"b1", 16>;
constexpr auto W2 = param<"W2", 8, 16>;
constexpr auto b2 = param<"b2", 8>;
constexpr auto W3 = param<"W3", 3, 8>;
constexpr auto b3 = param<"b3", 3>;
template <class P> constexpr auto mlp_loss() {
    return softmax_cross_entropy(W3 * relu<P>(W2 * relu<P>(W1 * in + b1) + b2) + b3, lab);
}

/// Parameters and inputs on a grid of quarters: most sums are exact, and many relu inputs are 0.
template <class T, class Store> void quarter_grid(Store &p, std::vector<T> &xs, std::vector<int> &ys, std::size_t batch) {
    std::mt19937 rng(11);
    std::uniform_int_distribution<int> q(-2, 2);
    for (auto &v : p.flat()) v = T(float(q(rng)) * 0.25f);
    xs.resize(batch * 12);
    for (auto &v : xs) v = T(float(q(rng)) * 0.5f);
    ys.resize(batch);
    for (std::size_t i = 0; i < batch; ++i) ys[i] = int(i % 3);
}

/// Three SGD steps; the gradients and losses of each.
template <class T, bool Runtime = false, class Net> auto run(Net net, std::size_t threads, double c) {
    if constexpr (Runtime) net.template constant<"c">(c);
    net.threads(threads);
    auto p = net.make_params(), g = net.make_params();
    std::vector<T> xs;
    std::vector<int> ys;
    quarter_grid<T>(p, xs, ys, 70);
    std::vector<T> losses;
    std::vector<decltype(g)> grads;
    for (int s = 0; s < 3; ++s) {
        losses.push_back(net.step(p, g, in = std::span<const T>(xs), lab = std::span<const int>(ys)));
        grads.push_back(g);
        for (std::size_t i = 0; i < p.flat().size(); ++i) p.flat()[i] = T(float(p.flat()[i]) - 0.125f * float(g.flat()[i]));
    }
    return std::pair{grads, losses};
}

template <class T> void mlp_matches() {
    auto counted = compile<T>(mlp_loss<policy::count<policy::zero>>());
    {
        auto p = counted.make_params(), g = counted.make_params();
        std::vector<T> xs;
        std::vector<int> ys;
        quarter_grid<T>(p, xs, ys, 70);
        reset_kink_counts(mlp_loss<policy::count<policy::zero>>());
        counted.step(p, g, in = std::span<const T>(xs), lab = std::span<const int>(ys));
        const auto hits = kink_hits(relu<policy::count<policy::zero>>(W1 * in + b1)).hits;
        CHECK(hits > 20); // the data hit the kink (69 of 1120 relu inputs): the comparisons below see c
    }
    const auto rt = compile<T>(mlp_loss<R>());
    const auto cases = std::array{std::pair{0.0, run<T>(compile<T>(mlp_loss<policy::zero>()), 1, 0)},
                                  std::pair{1.0, run<T>(compile<T>(mlp_loss<policy::one>()), 1, 0)},
                                  std::pair{0.5, run<T>(compile<T>(mlp_loss<policy::half>()), 1, 0)}};
    for (const auto &kase : cases) {
        const double c = kase.first;
        const auto &want = kase.second;
        for (std::size_t threads : {1, 3}) {
            CAPTURE(c);
            CAPTURE(threads);
            const auto got = run<T, true>(rt, threads, c);
            for (std::size_t s = 0; s < 3; ++s) CHECK(same_bytes(got.first[s], want.first[s]));
            CHECK(std::memcmp(got.second.data(), want.second.data(), 3 * sizeof(T)) == 0);
        }
    }
    // the constant policies differ from each other on these data (c matters)
    CHECK(!same_bytes(cases[0].second.first[0], cases[1].second.first[0]));
}
} // namespace

TEST_CASE("runtime<c> in a compiled MLP: the bytes of zero, one and half for c = 0, 1, 1/2 (float)") { mlp_matches<float>(); }
TEST_CASE("runtime<c> in a compiled MLP: the bytes of zero, one and half for c = 0, 1, 1/2 (double)") { mlp_matches<double>(); }
TEST_CASE("runtime<c> in a compiled MLP: the bytes of zero, one and half for c = 0, 1, 1/2 (bfloat16)") { mlp_matches<bfloat16>(); }

namespace {
constexpr auto img = input<"img", 1, 8, 8>;
constexpr auto cl = label<"cl", 3>;
constexpr auto K1 = param<"K1", 4, 1, 3, 3>;
constexpr auto k1 = param<"k1", 4>;
constexpr auto V = param<"V", 3, 4 * 4 * 4>;
constexpr auto v = param<"v", 3>;
template <class P, class Tie = policy::first> constexpr auto cnn_loss() {
    return softmax_cross_entropy(V * flatten(max_pool2d<pool2d{2}, Tie>(relu<P>(conv2d<conv{.padding = 1}>(img, K1, k1)))) + v, cl);
}
template <bool Runtime = false, bool Ties = false, class Net> auto cnn_grads(Net net, double c, double t = 0.0) {
    if constexpr (Runtime) net.template constant<"c">(c);
    if constexpr (Ties) net.template constant<"t">(t);
    auto p = net.make_params(), g = net.make_params();
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> q(-2, 2);
    for (auto &e : p.flat()) e = float(q(rng)) * 0.25f;
    for (auto &e : p[k1]) e = 0.f; // zero padding and a zero background: relu inputs exactly 0
    std::vector<float> xs(20 * 64, 0.f);
    for (std::size_t i = 0; i < xs.size(); i += 3) xs[i] = float(q(rng)) * 0.5f;
    std::vector<int> ys(20);
    for (std::size_t i = 0; i < 20; ++i) ys[i] = int(i % 3);
    net.step(p, g, img = std::span<const float>(xs), cl = std::span<const int>(ys));
    return g;
}
} // namespace

TEST_CASE("runtime<c> in a compiled CNN: the bytes of zero and one for c = 0, 1 (float)") {
    auto rt = compile(cnn_loss<R>());
    const auto g0 = cnn_grads(compile(cnn_loss<policy::zero>()), 0), g1 = cnn_grads(compile(cnn_loss<policy::one>()), 0);
    CHECK(!same_bytes(g0, g1));
    CHECK(same_bytes(cnn_grads<true>(rt, 0.0), g0));
    CHECK(same_bytes(cnn_grads<true>(rt, 1.0), g1));
    CHECK(rt.constant<"c">() == 0.0); // the copies were set, not rt
    rt.constant<"c">(1.0);
    CHECK(rt.constant<"c">() == 1.0);
    CHECK(same_bytes(cnn_grads<true>(rt, 1.0), g1));
}

TEST_CASE("runtime<t> as the max-pool tie rule of a compiled CNN: the bytes of first, split and last (float)") {
    auto rt = compile(cnn_loss<R, policy::count<policy::runtime<"t">>>());
    const auto gf = cnn_grads(compile(cnn_loss<policy::zero, policy::first>()), 0),
               gs = cnn_grads(compile(cnn_loss<policy::zero, policy::split>()), 0),
               gl = cnn_grads(compile(cnn_loss<policy::zero, policy::last>()), 0);
    CHECK(!same_bytes(gf, gs));
    CHECK(!same_bytes(gf, gl));
    CHECK(same_bytes(cnn_grads<true, true>(rt, 0.0, ties::first), gf));
    CHECK(same_bytes(cnn_grads<true, true>(rt, 0.0, ties::split), gs));
    CHECK(same_bytes(cnn_grads<true, true>(rt, 0.0, ties::last), gl));
    CHECK(same_bytes(cnn_grads<true, true>(rt, 1.0, ties::split), cnn_grads(compile(cnn_loss<policy::one, policy::split>()), 0)));
    CHECK_THROWS_AS(rt.constant<"t">(2.0), kink_error);
    CHECK(rt.constant<"t">() == 0.0); // the rejected value was not kept
    CHECK(to_text(max_pool2d<pool2d{2}, policy::runtime<"t">>(img)) == "max_pool2d<runtime<t>>(img, kernel=2)");
}

// compile(loss): the fused program against the naive reference interpreter (forward values) and
// central finite differences of the reference (gradients, double); float against double; exact
// derivative values at kinks; the bias and contraction options; error messages.

#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <tuple>
#include <string>
#include <vector>

#include <kink/kink.hpp>

#include "grad_check.hpp"
#include "random_data.hpp"
#include "reference.hpp"

using namespace kink;

namespace {

struct fd_result {
    double loss_error = 0;   // |program loss - reference loss| / max(1, |reference loss|)
    double grad_error = 0;   // max |program gradient - finite difference|
    std::size_t checked = 0; // gradient entries compared
    double min_kink_distance = 1e300;
};

template <class Net, class Store> void fill_uniform(Store &s, unsigned seed, double lo, double hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    for (auto &v : s.flat()) v = u(rng);
}

/// The program's loss and gradients in double against the reference: loss to 1e-12 relative,
/// every gradient entry against a central difference with step h = 1e-6 (truncation error
/// ~ h^2 |f'''| ~ 1e-12, rounding ~ eps |f| / h ~ 1e-10: a tolerance of 1e-7 leaves margin).
template <class L, class... B> fd_result check_against_reference(const L &loss, std::size_t batch, unsigned seed, const B &...b) {
    auto net = compile<double>(loss);
    auto p = net.make_params(), g = net.make_params();
    fill_uniform<decltype(net)>(p, seed, -0.5, 0.5);
    fd_result r;
    const double l = net.step(p, g, b...);
    const double lr = ref::loss(loss, p, batch, b...);
    r.loss_error = std::abs(l - lr) / std::max(1.0, std::abs(lr));
    auto q = p;
    const auto c = test_data::central_differences(q, g, [&](const auto &at) { return ref::loss(loss, at, batch, b...); });
    r.grad_error = c.worst;
    r.checked = c.checked;
    return r;
}

using test_data::uniform;
std::vector<int> labels(std::size_t n, int k) {
    std::vector<int> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = int((i * 7 + 3) % std::size_t(k));
    return v;
}

constexpr auto x = input<"x", 12>;
constexpr auto y = label<"y", 3>;
constexpr auto t = input<"t", 3>;
constexpr auto W1 = param<"W1", 8, 12>;
constexpr auto b1 = param<"b1", 8>;
constexpr auto W2 = param<"W2", 6, 8>;
constexpr auto b2 = param<"b2", 6>;
constexpr auto W3 = param<"W3", 3, 6>;
constexpr auto b3 = param<"b3", 3>;

} // namespace

TEST_CASE("compile: MLP with softmax cross-entropy matches the reference and finite differences") {
    const auto logits = W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3;
    const auto xs = uniform(7 * 12, 1);
    const auto ys = labels(7, 3);
    const auto r = check_against_reference(softmax_cross_entropy(logits, y), 7, 2, x = std::span(xs), y = std::span(ys));
    CHECK(r.loss_error < 1e-12);
    CHECK(r.grad_error < 1e-7);
    CHECK(r.checked == 8 * 12 + 8 + 6 * 8 + 6 + 3 * 6 + 3);
}

TEST_CASE("compile: every tensor op and loss against finite differences") {
    const auto xs = uniform(5 * 12, 3);
    const auto ts = uniform(5 * 3, 4);
    const auto ys = labels(5, 3);
    const auto pm = std::span(ts);
    const auto h1 = tanh(W1 * x + b1);
    const auto h2 = sigmoid(transpose(W2) * b2) + b1; // unbatched: a product of parameters only
    SUBCASE("tanh, transpose, unbatched branch, mse") {
        const auto out = W3 * leaky_relu(W2 * hadamard(h1, h2) + b2, 0.2_c) + b3;
        const auto r = check_against_reference(mse(out, t), 5, 5, x = std::span(xs), t = pm);
        CHECK(r.loss_error < 1e-12);
        CHECK(r.grad_error < 1e-7);
    }
    SUBCASE("log_softmax, softmax, max, sum, mean, shared nodes") {
        const auto z = W3 * sigmoid(W2 * h1 + b2);
        const auto loss = mean(hadamard(log_softmax(z), t)) + max(softmax(z)) * sum(exp(h1)) +
                          constant<"lambda">(0.01) * sum(pow<2>(b1));
        const auto r = check_against_reference(loss, 5, 6, x = std::span(xs), t = pm);
        CHECK(r.loss_error < 1e-12);
        CHECK(r.grad_error < 1e-7);
    }
    SUBCASE("l1, hinge, huber away from their kinks") {
        const auto out = W3 * relu6(W2 * h1 + b2) + b3;
        const auto loss = l1(out, t) + hinge(out, t) + huber(out, t, 0.5_c);
        const auto r = check_against_reference(loss, 5, 7, x = std::span(xs), t = pm);
        CHECK(r.loss_error < 1e-12);
        CHECK(r.grad_error < 1e-7);
    }
    SUBCASE("products without bias, a bias shared by two layers") {
        const auto out = W3 * abs(W2 * (W1 * x) + b2) + W3 * (W2 * h1 + b2);
        const auto r = check_against_reference(softmax_cross_entropy(out, y), 5, 8, x = std::span(xs), y = std::span(ys));
        CHECK(r.loss_error < 1e-12);
        CHECK(r.grad_error < 1e-7);
    }
}

namespace {
template <class T> struct two_runs {
    std::vector<T> b1, W1;
    T loss;
};
template <class T, class L, class... B> two_runs<T> run_once(const L &loss, unsigned seed, const B &...b) {
    auto net = compile<T>(loss);
    auto p = net.make_params(), g = net.make_params();
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(-0.5, 0.5);
    for (auto &v : p.flat()) v = static_cast<T>(u(rng));
    const T l = net.step(p, g, b...);
    return {{g[b1].begin(), g[b1].end()}, {g[W1].begin(), g[W1].end()}, l};
}
} // namespace

TEST_CASE("compile: float program agrees with the double program") {
    const auto logits = W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3;
    const auto loss = softmax_cross_entropy(logits, y);
    const auto xd = uniform(33 * 12, 9);
    const std::vector<float> xf(xd.begin(), xd.end());
    const auto ys = labels(33, 3);
    const auto d = run_once<double>(loss, 10, x = std::span(xd), y = std::span(ys));
    const auto f = run_once<float>(loss, 10, x = std::span(xf), y = std::span(ys));
    // float rounding (2^-24 per operation) over sums of at most 12 terms of size <= 1, through
    // three layers: 1e-5 absolute is ~100x the expected error, far below the gradients' size.
    double err = 0, size = 0;
    for (std::size_t i = 0; i < d.W1.size(); ++i) {
        err = std::max(err, std::abs(double(f.W1[i]) - d.W1[i]));
        size = std::max(size, std::abs(d.W1[i]));
    }
    CHECK(err < 1e-5);
    CHECK(size > 1e-3);
    CHECK(std::abs(double(f.loss) - d.loss) < 1e-5);
}

TEST_CASE("compile: relu'(0) in the fused backward pass is the policy's value, exactly") {
    // W1 = 0 and b1 = 0 put every first-layer pre-activation exactly on relu's kink.
    const auto xs = uniform(4 * 12, 11);
    const auto ys = labels(4, 3);
    auto grads_of = [&](const auto &loss) {
        auto net = compile<double>(loss);
        auto p = net.make_params(), g = net.make_params();
        std::mt19937 rng(12);
        std::uniform_real_distribution<double> u(-0.5, 0.5);
        for (auto &v : p.flat()) v = u(rng);
        for (auto &v : p[W1]) v = 0;
        for (auto &v : p[b1]) v = 0;
        net.step(p, g, x = std::span(xs), y = std::span(ys));
        return std::vector<double>(g[b1].begin(), g[b1].end());
    };
    const auto zero = grads_of(softmax_cross_entropy(W3 * relu(W2 * relu<policy::zero>(W1 * x + b1) + b2) + b3, y));
    const auto one = grads_of(softmax_cross_entropy(W3 * relu(W2 * relu<policy::one>(W1 * x + b1) + b2) + b3, y));
    const auto half = grads_of(softmax_cross_entropy(W3 * relu(W2 * relu<policy::half>(W1 * x + b1) + b2) + b3, y));
    const auto linear = grads_of(softmax_cross_entropy(W3 * relu(W2 * (W1 * x + b1) + b2) + b3, y));
    bool nonzero = false;
    for (std::size_t i = 0; i < 8; ++i) {
        CHECK(zero[i] == 0.0);
        CHECK(one[i] == linear[i]);
        CHECK(half[i] == linear[i] / 2);
        nonzero = nonzero || linear[i] != 0;
    }
    CHECK(nonzero);
}

namespace {
constexpr auto x2 = input<"x", 2>;
constexpr auto w2 = param<"w", 1, 2>;
constexpr auto c2 = param<"c", 1>;
constexpr auto t1 = input<"t", 1>;
/// Pre-activation hits of relu<count<zero>>(w x + c) for one sample, with the given options.
template <exec_options O> std::uint64_t hits_for(float a, float b, float w0, float w1, float c) {
    const auto pre = relu<policy::count<policy::zero>>(w2 * x2 + c2);
    auto net = compile<float, O>(mse(pre, t1));
    auto p = net.make_params(), g = net.make_params();
    p[w2][0] = w0;
    p[w2][1] = w1;
    p[c2][0] = c;
    const std::vector<float> xs{a, b}, ts{1};
    reset_kink_counts(pre);
    net.step(p, g, x2 = std::span(xs), t1 = std::span(ts));
    return kink_hits(pre).hits;
}
} // namespace

TEST_CASE("compile: where the bias enters and FMA contraction decide exact zeros") {
    constexpr exec_options end_sep{bias_at::end, contraction::separate};
    constexpr exec_options start_sep{bias_at::start, contraction::separate};
    constexpr exec_options start_fused{bias_at::start, contraction::fused};
    // (1e8 + 1) - 1e8 = 0 in float (1 is below half an ulp of 1e8), (-1e8 + 1e8) + 1 = 1.
    CHECK(hits_for<end_sep>(1e8f, 1.f, 1.f, 1.f, -1e8f) == 1);
    CHECK(hits_for<start_sep>(1e8f, 1.f, 1.f, 1.f, -1e8f) == 0);
    // u = 1 + 2^-12: u*u = 1 + 2^-11 + 2^-24 rounds to 1 + 2^-11 when the product is rounded on
    // its own, so c + u*u with c = -(1 + 2^-11) is 0; fused, it is exactly 2^-24.
    const float u = 1.f + 0x1p-12f, c = -(1.f + 0x1p-11f);
    CHECK(hits_for<start_sep>(u, 0.f, u, 0.f, c) == 1);
    CHECK(hits_for<start_fused>(u, 0.f, u, 0.f, c) == 0);
}

TEST_CASE("compile: max reduction shares ties by its policy") {
    constexpr auto v = input<"v", 4>;
    constexpr auto s = param<"s", 4>;
    const std::vector<double> vs{1, 3, 3, 2};
    auto grad_s = [&](const auto &loss) {
        auto net = compile<double>(loss);
        auto p = net.make_params(), g = net.make_params();
        net.step(p, g, v = std::span(vs));
        return std::vector<double>(g[s].begin(), g[s].end());
    };
    CHECK(grad_s(max(v + s)) == std::vector<double>{0, 0.5, 0.5, 0});
    CHECK(grad_s(max<policy::first>(v + s)) == std::vector<double>{0, 1, 0, 0});
    CHECK(grad_s(max<policy::second>(v + s)) == std::vector<double>{0, 0, 1, 0});
    CHECK(grad_s(max<policy::zero>(v + s)) == std::vector<double>{0, 0, 0, 0});
    CHECK_THROWS_AS(grad_s(max<policy::trap>(v + s)), kink_error);
    // presets rewrite the reduction too: TensorFlow's reduce_max splits a tie evenly
    // (_MinOrMaxGrad in python/ops/math_grad.py divides by the number of tied entries)
    CHECK(grad_s(with_policy<policy::tensorflow>(max(v + s))) == std::vector<double>{0, 0.5, 0.5, 0});
}

TEST_CASE("compile: bad batches are refused with the name of what is wrong") {
    const auto logits = W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3;
    auto net = compile<double>(softmax_cross_entropy(logits, y));
    auto p = net.make_params(), g = net.make_params();
    const auto xs = uniform(4 * 12, 1);
    const std::vector<int> bad{0, 1, 3, 2};
    CHECK_THROWS_WITH(net.step(p, g, x = std::span(xs), y = std::span(bad)),
                      "kink: step: label 'y' of sample 2 is 3, outside [0, 3)");
    const std::vector<int> three{0, 1, 2};
    CHECK_THROWS_WITH(net.step(p, g, x = std::span(xs), y = std::span(three)),
                      "kink: step: 'y' holds a batch of 3, 'x' a batch of 4");
    const std::vector<double> odd(13);
    CHECK_THROWS_WITH(net.step(p, g, x = std::span(odd), y = std::span(three)),
                      "kink: step: input 'x' has 13 values, not a multiple of its size 12");
}

TEST_CASE("compile: node values after a step, and training only some parameters") {
    const auto hidden = relu(W1 * x + b1);
    const auto logits = W3 * relu(W2 * hidden + b2) + b3;
    auto net = compile<double>(softmax_cross_entropy(logits, y), W3, b3);
    auto p = net.make_params(), g = net.make_params();
    fill_uniform<decltype(net)>(p, 3, -0.5, 0.5);
    const auto xs = uniform(3 * 12, 2);
    const auto ys = labels(3, 3);
    for (auto &v : g.flat()) v = 42;
    net.step(p, g, x = std::span(xs), y = std::span(ys));
    CHECK(net.value(hidden).size() == 3 * 8);
    CHECK(net.value(logits).size() == 3 * 3);
    // untrained parameters' gradients are left untouched
    CHECK(g[W1][0] == 42);
    CHECK(g[b1][7] == 42);
    CHECK(g[b3][0] != 42);
    for (double v : net.value(hidden)) CHECK(v >= 0);
}

namespace {
/// Gradients of a step at batch n, from a fresh program and after steps at other batch sizes.
template <class L, class B1, class B2> bool history_free(const L &loss, const B1 &bind_n, const B2 &bind_other) {
    auto fresh = compile<double>(loss);
    auto used = compile<double>(loss);
    auto p = fresh.make_params(), g1 = fresh.make_params(), g2 = fresh.make_params();
    fill_uniform<decltype(fresh)>(p, 21, -0.5, 0.5);
    std::apply([&](const auto &...b) { fresh.step(p, g1, b...); }, bind_n);
    std::apply([&](const auto &...b) { used.step(p, g2, b...); }, bind_other);
    std::apply([&](const auto &...b) { used.step(p, g2, b...); }, bind_n);
    std::apply([&](const auto &...b) { used.step(p, g2, b...); }, bind_other);
    std::apply([&](const auto &...b) { used.step(p, g2, b...); }, bind_n);
    const auto a = g1.flat(), c = g2.flat();
    return std::equal(a.begin(), a.end(), c.begin());
}
} // namespace

TEST_CASE("compile: a step's gradients do not depend on earlier steps (stale adjoints)") {
    const auto xs = uniform(9 * 12, 31);
    const auto ts = uniform(9 * 3, 32);
    const auto ys = labels(9, 3);
    const auto h = relu(W1 * x + b1);
    const auto z = W3 * tanh(W2 * h + b2) + b3;
    auto n4 = std::make_tuple(x = std::span(xs.data(), 4 * 12), y = std::span(ys.data(), 4), t = std::span(ts.data(), 4 * 3));
    auto n9 = std::make_tuple(x = std::span(xs), y = std::span(ys), t = std::span(ts));
    CHECK(history_free(softmax_cross_entropy(z, y) + 0.5_c * mean(hadamard(log_softmax(z), t)) + max(softmax(z)) + sum(h), n4, n9));
    auto y4 = std::make_tuple(x = std::span(xs.data(), 4 * 12), y = std::span(ys.data(), 4));
    auto y9 = std::make_tuple(x = std::span(xs), y = std::span(ys));
    CHECK(history_free(softmax_cross_entropy(z, y), y4, y9)); // each op as the only consumer of its argument
    CHECK(history_free(softmax_cross_entropy(z, y), y9, y4));
    auto m4 = std::make_tuple(x = std::span(xs.data(), 4 * 12), t = std::span(ts.data(), 4 * 3));
    auto m9 = std::make_tuple(x = std::span(xs), t = std::span(ts));
    CHECK(history_free(mse(z, t) + l1(z, t), m9, m4));
    auto x4 = std::make_tuple(x = std::span(xs.data(), 4 * 12));
    auto x9 = std::make_tuple(x = std::span(xs));
    CHECK(history_free(max(z), x4, x9));
    CHECK(history_free(sum(softmax(z)), x4, x9));
    CHECK(history_free(mean(log_softmax(z)), x4, x9));
    CHECK(history_free(sum(h), x9, x4));
}

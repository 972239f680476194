// NaN in, NaN out: every op propagates NaN as IEEE arithmetic and PyTorch do, every derivative at
// a NaN argument is NaN, trap tells a NaN from a kink, count<P> counts NaNs apart from kink hits;
// and the max reduction's tie rule per preset (TensorFlow's reduce_max splits a tie evenly).
// torch's own values at NaN are checked by tests/torch_check.py.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include <kink/kink.hpp>

using namespace kink;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;
constexpr auto z = var<"z">;
constexpr double qnan = std::numeric_limits<double>::quiet_NaN();
template <class F> double value1(const F &f, double a) { return eval(f, x = a); }
template <class F> double d1(const F &f, double a) { return eval(grad(f, x), x = a); }
template <class F> double value2(const F &f, double a, double b) { return eval(f, x = a, y = b); }
} // namespace

TEST_CASE("every piecewise op returns NaN for a NaN argument") {
    CHECK(std::isnan(value1(relu(x), qnan)));
    CHECK(std::isnan(value1(relu6(x), qnan)));
    CHECK(std::isnan(value1(hardtanh(x), qnan)));
    CHECK(std::isnan(value1(leaky_relu(x, 0.25_c), qnan)));
    CHECK(std::isnan(value1(abs(x), qnan)));
    CHECK(std::isnan(value1(sign(x), qnan)));
    CHECK(std::isnan(value1(step<policy::straight_through>(x), qnan)));
    CHECK(std::isnan(value1(clamp(x, -1_c, 1_c), qnan)));
    CHECK(std::isnan(eval(clamp(x, y, z), x = 0.5, y = qnan, z = 1.0)));
    CHECK(std::isnan(eval(clamp(x, y, z), x = 0.5, y = 0.0, z = qnan)));
    // both argument orders
    CHECK(std::isnan(value2(max(x, y), qnan, 1.0)));
    CHECK(std::isnan(value2(max(x, y), 1.0, qnan)));
    CHECK(std::isnan(value2(min(x, y), qnan, 1.0)));
    CHECK(std::isnan(value2(min(x, y), 1.0, qnan)));
    // and nothing changed elsewhere
    CHECK(value1(relu(x), -0.0) == 0.0);
    CHECK(value1(relu(x), 2.5) == 2.5);
    CHECK(value1(sign(x), 0.0) == 0.0);
    CHECK(value1(sign(x), -3.0) == -1.0);
    CHECK(value1(step<policy::straight_through>(x), 0.0) == 0.0);
    CHECK(value2(max(x, y), 1.0, 2.0) == 2.0);
    CHECK(value2(min(x, y), 1.0, 2.0) == 1.0);
}

TEST_CASE("every derivative at a NaN argument is NaN, under every policy") {
    CHECK(std::isnan(d1(relu<policy::zero>(x), qnan)));
    CHECK(std::isnan(d1(relu<policy::one>(x), qnan)));
    CHECK(std::isnan(d1(relu<policy::count<policy::half>>(x), qnan)));
    CHECK(std::isnan(d1(abs(x), qnan)));
    CHECK(std::isnan(d1(hardtanh(x), qnan)));
    CHECK(std::isnan(d1(step<policy::straight_through>(x), qnan)));
    auto r = value_and_grad(max(x, y), wrt(x, y), x = 1.0, y = qnan);
    CHECK(std::isnan(r[x]));
    CHECK(std::isnan(r[y]));
    auto c = value_and_grad(clamp(x, y, z), wrt(x, y, z), x = qnan, y = 0.0, z = 1.0);
    CHECK(std::isnan(c[x]));
    CHECK(std::isnan(c[y]));
    CHECK(std::isnan(c[z]));
}

TEST_CASE("trap tells a NaN from a kink") {
    CHECK_THROWS_WITH_AS(d1(relu<policy::trap>(x), qnan), "kink: relu was differentiated at NaN (an argument is NaN; not a kink)",
                         kink_error);
    CHECK_THROWS_WITH_AS(d1(relu<policy::trap>(x), 0.0), "kink: relu was differentiated exactly at its kink (policy trap)",
                         kink_error);
}

TEST_CASE("count<P> counts a NaN apart, not as a kink hit") {
    const auto r = relu<policy::count<policy::zero>>(x);
    reset_kink_counts(r);
    (void)value1(r, 0.0);
    (void)value1(r, qnan);
    (void)value1(r, 1.0);
    const kink_count k = kink_hits(r);
    CHECK(k.evals == 3);
    CHECK(k.hits == 1);
    CHECK(k.nans == 1);
}

namespace {
constexpr auto v = input<"v", 4>;
std::vector<double> reduce_grad_of(auto loss, std::vector<double> at) {
    auto net = compile<double>(loss, v);
    auto p = net.make_params(), g = net.make_params();
    net.step(p, g, v = std::span<const double>(at));
    const auto d = net.input_grad(v);
    return {d.begin(), d.end()};
}
} // namespace

TEST_CASE("max reduction: NaN at any position gives NaN and NaN partials; counted apart") {
    for (std::size_t at = 0; at < 4; ++at) {
        std::vector<double> in{1, 3, 2, 0};
        in[at] = qnan;
        auto net = compile<double>(max(v), v);
        auto p = net.make_params(), g = net.make_params();
        CAPTURE(at);
        CHECK(std::isnan(net.step(p, g, v = std::span<const double>(in))));
        for (double d : net.input_grad(v)) CHECK(std::isnan(d));
    }
    const auto m = max<policy::count<policy::half>>(v);
    reset_kink_counts(m);
    auto net = compile<double>(m, v);
    auto p = net.make_params(), g = net.make_params();
    std::vector<double> in{1, qnan, 2, 0, 5, 5, 1, 0, 1, 2, 3, 4};
    net.forward(p, v = std::span<const double>(in));
    const kink_count k = kink_hits(m);
    CHECK(k.evals == 3);
    CHECK(k.hits == 1);
    CHECK(k.nans == 1);
    CHECK_THROWS_WITH_AS(reduce_grad_of(max<policy::trap>(v), {1, qnan, 3, 2}),
                         "kink: max (reduction) was differentiated at NaN (an entry is NaN; not a tie)", kink_error);
}

TEST_CASE("max reduction ties per preset: all three split evenly (TensorFlow's _MinOrMaxGrad too)") {
    const std::vector<double> tie{1, 3, 3, 2};
    CHECK(reduce_grad_of(max<policy::tensorflow>(v), tie) == std::vector<double>{0, 0.5, 0.5, 0});
    CHECK(reduce_grad_of(max<policy::pytorch>(v), tie) == std::vector<double>{0, 0.5, 0.5, 0});
    CHECK(reduce_grad_of(max<policy::jax>(v), tie) == std::vector<double>{0, 0.5, 0.5, 0});
    CHECK(reduce_grad_of(with_policy<policy::tensorflow>(max(v)), tie) == std::vector<double>{0, 0.5, 0.5, 0});
    CHECK(reduce_grad_of(max<policy::first>(v), tie) == std::vector<double>{0, 1, 0, 0});
    // elementwise tf.maximum / tf.minimum ties still go to the first argument
    auto r = value_and_grad(max<policy::tensorflow>(x, y), wrt(x, y), x = 2.0, y = 2.0);
    CHECK(r[x] == 1.0);
    CHECK(r[y] == 0.0);
    auto q = value_and_grad(min<policy::tensorflow>(x, y), wrt(x, y), x = 2.0, y = 2.0);
    CHECK(q[x] == 1.0);
    CHECK(q[y] == 0.0);
}

TEST_CASE("a compiled program propagates NaN: one NaN input makes the loss and the gradients NaN") {
    constexpr auto in = input<"in", 3>;
    constexpr auto t = label<"t", 2>;
    constexpr auto W = param<"W", 2, 3>;
    constexpr auto b = param<"b", 2>;
    auto net = compile<float>(softmax_cross_entropy(W * relu(in) + b, t));
    auto p = net.make_params(), g = net.make_params();
    for (auto &w : p.flat()) w = 0.5f;
    std::vector<float> xs{1, std::numeric_limits<float>::quiet_NaN(), -1};
    std::vector<std::int32_t> ys{1};
    CHECK(std::isnan(net.step(p, g, in = std::span<const float>(xs), t = std::span<const std::int32_t>(ys))));
    CHECK(std::isnan(g[W][1]));
    CHECK(std::isnan(g[b][0]));
}

TEST_CASE("exec_options::check_finite stops a step at the first non-finite value and names it") {
    constexpr auto in = input<"in", 3>;
    constexpr auto t = label<"t", 2>;
    constexpr auto W = param<"W", 2, 3>;
    constexpr auto b = param<"b", 2>;
    constexpr exec_options checked{.check_finite = true};
    auto net = compile<float, checked>(softmax_cross_entropy(W * exp(in) + b, t));
    auto p = net.make_params(), g = net.make_params();
    for (auto &w : p.flat()) w = 0.5f;
    std::vector<std::int32_t> ys{1, 0};
    auto run = [&](std::vector<float> xs) {
        try {
            net.step(p, g, in = std::span<const float>(xs), t = std::span<const std::int32_t>(ys));
        } catch (const non_finite_error &e) {
            return std::string(e.what());
        }
        return std::string();
    };
    const float inf = std::numeric_limits<float>::infinity(), fnan = std::numeric_limits<float>::quiet_NaN();
    CHECK(run({1, 2, 3, 0, 0, 0}).empty());
    CHECK(run({1, 2, 3, 0, fnan, 0}) == "kink: step: input 'in' is NaN at sample 1, element 1");
    CHECK(run({1, 2, 3, 0, 100, 0}) == "kink: step: node v1 (exp) is +inf at sample 1, element 1");
    p[W][4] = -inf;
    CHECK(run({1, 2, 3, 0, 0, 0}) == "kink: step: parameter 'W' is -inf at element 4");
    p[W][4] = 0.5f;
    // a gradient that is not finite although every value is: d sqrt(u) / du at u = 0
    constexpr auto u = input<"u", 2>;
    constexpr auto c = param<"c", 2>;
    auto net2 = compile<double, checked>(sum(sqrt(hadamard(c, u))));
    auto p2 = net2.make_params(), g2 = net2.make_params();
    std::vector<double> us{0, 1};
    p2[c][1] = 1;
    std::string msg;
    try {
        net2.step(p2, g2, u = std::span<const double>(us));
    } catch (const non_finite_error &e) {
        msg = e.what();
    }
    CHECK(msg == "kink: step: the gradient of parameter 'c' is NaN at element 0");
    // unchecked programs compute on: the NaN reaches the loss
    auto plain = compile<float>(softmax_cross_entropy(W * exp(in) + b, t));
    std::vector<float> xs{1, 2, 3, 0, fnan, 0};
    CHECK(std::isnan(plain.step(p, g, in = std::span<const float>(xs), t = std::span<const std::int32_t>(ys))));
}

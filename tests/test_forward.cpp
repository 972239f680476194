// compile_forward: the forward-only program gives the training program's values bit for bit,
// the same bits for a sample alone or in any batch, reads a training program's parameters, and
// needs no labels.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <vector>

#include <kink/kink.hpp>

using namespace kink;

namespace {
constexpr auto x = input<"x", 40>;
constexpr auto y = label<"y", 5>;
constexpr auto W1 = param<"W1", 33, 40>;
constexpr auto b1 = param<"b1", 33>;
constexpr auto W2 = param<"W2", 5, 33>;
constexpr auto b2 = param<"b2", 5>;
} // namespace

TEST_CASE_TEMPLATE("compile_forward: the training program's logits, the same bits in any batch split", T, float, double) {
    const auto logits = W2 * tanh(relu(W1 * x + b1)) + b2;
    auto net = compile<T>(softmax_cross_entropy(logits, y));
    auto p = net.make_params();
    nn::init_uniform_fan_in(net, p, 3);
    constexpr std::size_t B = 37;
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1, 1);
    std::vector<T> xs(B * 40);
    for (auto &v : xs) v = T(u(rng));
    std::vector<std::int32_t> ys(B, 1);
    net.forward(p, x = std::span<const T>(xs), y = std::span<const std::int32_t>(ys));
    const auto trained = net.value(logits);
    auto predict = compile_forward<T>(logits);
    const auto all = predict(p, x = std::span<const T>(xs));
    REQUIRE(all.size() == B * 5);
    CHECK(std::memcmp(all.data(), trained.data(), all.size_bytes()) == 0);
    const std::vector<T> whole(all.begin(), all.end());
    // one sample at a time, and batches of 8
    for (std::size_t s = 0; s < B; ++s) {
        const auto one = predict(p, x = std::span<const T>(xs.data() + s * 40, 40));
        CAPTURE(s);
        CHECK(std::memcmp(one.data(), whole.data() + s * 5, 5 * sizeof(T)) == 0);
    }
    for (std::size_t s = 0; s < B; s += 8) {
        const std::size_t n = std::min<std::size_t>(8, B - s);
        const auto part = predict(p, x = std::span<const T>(xs.data() + s * 40, n * 40));
        CHECK(std::memcmp(part.data(), whole.data() + s * 5, n * 5 * sizeof(T)) == 0);
    }
}

TEST_CASE("compile_forward: any tensor output, and an intermediate node") {
    auto net = compile(softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y));
    auto p = net.make_params();
    nn::init_uniform_fan_in(net, p, 1);
    std::vector<float> xs(2 * 40, 0.25f);
    auto hidden = compile_forward(relu(W1 * x + b1)); // reads W1, b1 from the bigger store
    const auto h = hidden(p, x = std::span<const float>(xs));
    CHECK(h.size() == 2 * 33);
    for (float v : h) CHECK(v >= 0.f);
    auto probs = compile_forward<double>(softmax(W2 * relu(W1 * x + b1) + b2));
    auto pd = compile<double>(softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y)).make_params();
    std::vector<double> xd(40, 0.5);
    const auto pr = probs(pd, x = std::span<const double>(xd));
    double total = 0;
    for (double v : pr) total += v;
    CHECK(total == doctest::Approx(1.0).epsilon(1e-12));
}

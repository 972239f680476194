// Dropout: the kept fraction and the scale, masks as functions of (seed, step, name, sample,
// element) only (the same bytes for every thread count and chunk size), the gradient through the
// mask, evaluation mode, and the step counter in checkpoints.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <kink/kink.hpp>

#include "random_data.hpp"

using namespace kink;

namespace {

using test_data::uniform;
std::vector<int> labels(std::size_t n) {
    std::vector<int> l(n);
    for (std::size_t i = 0; i < n; ++i) l[i] = int((i * 3 + 1) % 4);
    return l;
}

constexpr auto x = input<"x", 64>;
constexpr auto y = label<"y", 4>;
constexpr auto W = param<"W", 4, 64>;
constexpr auto U = param<"U", 4, 64>;
constexpr auto d1 = dropout<"d1", 1, 5>(x); // p = 1/5
constexpr auto d2 = dropout<"d2", 1, 5>(x); // the same p, another name: another stream
constexpr auto loss = softmax_cross_entropy(W * d1 + U * d2, y);

/// The kept elements of d1 and d2 on a batch of n ones, after a forward pass at (seed, step).
template <std::size_t Chunk = 32> auto masks(std::size_t n, std::uint64_t seed, std::uint64_t step, std::size_t threads = 1) {
    auto net = compile<float, exec_options{.chunk = Chunk}>(loss);
    net.threads(threads);
    net.seed(seed);
    net.rng_step(step);
    auto p = net.make_params();
    const std::vector<float> ones(n * 64, 1.0f);
    const auto ys = labels(n);
    net.forward(p, x = std::span<const float>(ones), y = std::span<const int>(ys));
    std::pair<std::vector<float>, std::vector<float>> m;
    m.first.assign(net.value(d1).begin(), net.value(d1).end());
    m.second.assign(net.value(d2).begin(), net.value(d2).end());
    return m;
}
double kept(const std::vector<float> &v) {
    std::size_t k = 0;
    for (float e : v) k += e != 0.0f;
    return double(k) / double(v.size());
}

} // namespace

TEST_CASE("dropout: keeps 1 - p of the elements, scaled by 1 / (1 - p), independently per name, step and seed") {
    const std::size_t n = 2000; // 128,000 elements
    const auto [a, b] = masks(n, 7, 0);
    // kept fraction 0.8: binomial standard deviation sqrt(0.8 0.2 / 128000) = 0.0011; 5 of them
    CHECK(std::fabs(kept(a) - 0.8) <= 0.0056);
    CHECK(std::fabs(kept(b) - 0.8) <= 0.0056);
    const float scale = 1.0f / float(1.0 - 0.2); // PyTorch: the mask divided by 1 - p, in float
    std::size_t other = 0;
    for (float e : a) other += !(e == 0.0f || e == scale);
    CHECK(other == 0);
    // two names: independent masks, both kept 0.64 of the time (sd 0.0013)
    std::size_t both = 0;
    for (std::size_t i = 0; i < a.size(); ++i) both += a[i] != 0.0f && b[i] != 0.0f;
    CHECK(std::fabs(double(both) / double(a.size()) - 0.64) <= 0.0068);
    // another step, another seed: other masks (agreement 0.68, sd 0.0013); the same ones: the same
    auto agree = [](const std::vector<float> &u, const std::vector<float> &v) {
        std::size_t k = 0;
        for (std::size_t i = 0; i < u.size(); ++i) k += (u[i] != 0.0f) == (v[i] != 0.0f);
        return double(k) / double(u.size());
    };
    CHECK(std::fabs(agree(a, masks(n, 7, 1).first) - 0.68) <= 0.0068);
    CHECK(std::fabs(agree(a, masks(n, 8, 0).first) - 0.68) <= 0.0068);
    CHECK(masks(n, 7, 0).first == a);
}

TEST_CASE("dropout: a mask depends on the sample's place in the batch, not on threads or chunks") {
    const auto one = masks<32>(100, 3, 5, 1);
    CHECK(masks<32>(100, 3, 5, 3) == one);
    CHECK(masks<4>(100, 3, 5, 2) == one);
    CHECK(masks<7>(100, 3, 5, 4) == one);
    // the first 40 samples of the batch get the masks they get in a batch of 40
    const auto first = masks<32>(40, 3, 5, 1);
    CHECK(std::equal(first.first.begin(), first.first.end(), one.first.begin()));
}

TEST_CASE("dropout: steps count their draws; the gradient goes through the kept elements only") {
    auto net = compile<double, exec_options{.chunk = 8}>(loss);
    net.seed(11);
    CHECK(net.rng_step() == 0);
    auto p = net.make_params(), gr = net.make_params();
    const auto pv = uniform<double>(p.flat().size(), 5, -0.3, 0.3);
    std::copy(pv.begin(), pv.end(), p.flat().begin());
    const std::size_t batch = 20;
    const auto xs = uniform<double>(batch * 64, 6, -1, 1);
    const auto ys = labels(batch);
    net.forward(p, x = std::span<const double>(xs), y = std::span<const int>(ys));
    CHECK(net.rng_step() == 0); // forward uses the counter and leaves it
    net.step(p, gr, x = std::span<const double>(xs), y = std::span<const int>(ys));
    CHECK(net.rng_step() == 1);
    // the step's masks are the counter's 0: central differences at step 0 (h = 1e-6, the loss is
    // smooth in W for fixed masks; truncation and rounding well below 1e-7)
    const double hh = 1e-6;
    for (std::size_t i = 0; i < p.flat().size(); i += 7) {
        auto q = p;
        q.flat()[i] += hh;
        net.rng_step(0);
        const double up = net.forward(q, x = std::span<const double>(xs), y = std::span<const int>(ys));
        q.flat()[i] -= 2 * hh;
        const double down = net.forward(q, x = std::span<const double>(xs), y = std::span<const int>(ys));
        CAPTURE(i);
        CHECK(std::fabs((up - down) / (2 * hh) - gr.flat()[i]) <= 1e-7);
    }
    // a weight that only ever meets dropped inputs has no gradient: W's column j over the samples
    // where d1 dropped element j
    net.rng_step(0);
    net.forward(p, x = std::span<const double>(xs), y = std::span<const int>(ys));
    const auto m1 = net.value(d1);
    for (std::size_t j = 0; j < 64; ++j) {
        bool any = false;
        for (std::size_t s = 0; s < batch; ++s) any = any || m1[s * 64 + j] != 0.0;
        if (!any)
            for (std::size_t r = 0; r < 4; ++r) CHECK(gr[W][r * 64 + j] == 0.0);
    }
}

TEST_CASE("dropout: evaluation mode is the identity, and a checkpoint keeps the seed and the step counter") {
    auto net = compile<float>(loss);
    auto p = net.make_params(), gr = net.make_params();
    nn::init_uniform_fan_in(net, p, 2);
    const std::size_t batch = 6;
    const auto xs = uniform<float>(batch * 64, 8, -1, 1);
    const auto ys = labels(batch);
    auto infer = compile_forward(eval_mode(W * d1 + U * d2));
    auto plain = compile_forward(W * x + U * x);
    const auto a = infer(p, x = std::span<const float>(xs));
    const std::vector<float> av(a.begin(), a.end());
    const auto b = plain(p, x = std::span<const float>(xs));
    CHECK(std::memcmp(av.data(), b.data(), av.size() * sizeof(float)) == 0);

    net.seed(99);
    nn::adam<float> opt;
    for (int s = 0; s < 3; ++s) {
        net.step(p, gr, x = std::span<const float>(xs), y = std::span<const int>(ys));
        opt.step(p, gr);
    }
    const std::string path = "test_dropout_checkpoint.safetensors";
    nn::save_checkpoint(path, net, p, opt);
    auto other = compile<float>(loss);
    auto q = other.make_params();
    nn::adam<float> opt2;
    nn::load_checkpoint(path, other, q, opt2);
    std::remove(path.c_str());
    CHECK(other.seed() == 99);
    CHECK(other.rng_step() == 3);
    // and the resumed run draws what the first would have drawn
    auto g2 = other.make_params();
    net.step(p, gr, x = std::span<const float>(xs), y = std::span<const int>(ys));
    other.step(q, g2, x = std::span<const float>(xs), y = std::span<const int>(ys));
    CHECK(std::memcmp(gr.data(), g2.data(), gr.flat().size() * sizeof(float)) == 0);
}

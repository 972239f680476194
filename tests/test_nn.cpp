// nn/: layer sugar is the same graph as the explicit expression; optimizers follow PyTorch's
// formulas (values worked by hand below); schedules; initializers' bounds and determinism.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include <kink/kink.hpp>
#include <kink/nn/init.hpp>
#include <kink/nn/layers.hpp>
#include <kink/nn/optim.hpp>
#include <kink/nn/schedule.hpp>
#include <kink/nn/train.hpp>

using namespace kink;

namespace {
constexpr auto x = input<"x", 4>;
constexpr auto p1 = param<"p">;
/// A store with one parameter p (through a program of loss sum(p * x)).
auto one_param() { return compile<double>(sum(hadamard(p1 + x, x))); }
} // namespace

TEST_CASE("nn::dense is the explicit expression") {
    const auto h = nn::dense<"fc1", 3>(x);
    const auto e = param<"fc1.weight", 3, 4> * x + param<"fc1.bias", 3>;
    CHECK(KINK_SAME(graph_t<decltype(h)>, graph_t<decltype(e)>));
    CHECK(to_text(relu(nn::dense<"out", 2>(relu(h)))) == "relu(out.weight * relu(fc1.weight * x + fc1.bias) + out.bias)");
}

TEST_CASE("optimizers: PyTorch's update formulas, worked by hand") {
    auto net = one_param();
    auto p = net.make_params(), g = net.make_params();
    auto set = [&](double pv, double gv) {
        p[p1][0] = pv;
        g[p1][0] = gv;
    };
    // SGD with momentum 0.9, weight decay 0.1, lr 0.5: d = g + 0.1 p; buf = d, then 0.9 buf + d
    nn::sgd<double> sgd;
    sgd.lr = 0.5, sgd.momentum = 0.9, sgd.weight_decay = 0.1;
    set(1.0, 2.0);
    sgd.step(p, g); // d = 2.1, buf = 2.1, p = 1 - 1.05
    CHECK(p[p1][0] == doctest::Approx(-0.05).epsilon(1e-15));
    g[p1][0] = 1.0;
    sgd.step(p, g); // d = 1 - 0.005 = 0.995, buf = 0.9 * 2.1 + 0.995 = 2.885, p = -0.05 - 1.4425
    CHECK(p[p1][0] == doctest::Approx(-1.4925).epsilon(1e-15));
    // Nesterov: the step uses d + mu buf
    nn::sgd<double> nes;
    nes.lr = 0.5, nes.momentum = 0.9, nes.nesterov = true;
    set(1.0, 2.0);
    nes.step(p, g); // buf = 2, step d + 0.9 * 2 = 3.8, p = 1 - 1.9
    CHECK(p[p1][0] == doctest::Approx(-0.9).epsilon(1e-15));
    // Adam's first step is lr * g / (|g| + eps) (bias correction cancels the moments' scale)
    nn::adam<double> adam;
    adam.lr = 0.01;
    set(1.0, -3.0);
    adam.step(p, g);
    CHECK(p[p1][0] == doctest::Approx(1.0 + 0.01 * 3.0 / (3.0 + 1e-8)).epsilon(1e-14));
    // AdamW shrinks the parameter by lr * wd before the same step
    nn::adamw<double> adamw;
    adamw.lr = 0.01;
    set(2.0, 0.5);
    adamw.step(p, g);
    CHECK(p[p1][0] == doctest::Approx(2.0 * (1 - 0.01 * 0.01) - 0.01 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));
    // Adam with L2 weight decay folds it into the gradient: g' = g + wd p
    nn::adam<double> l2;
    l2.lr = 0.01, l2.weight_decay = 0.5;
    set(2.0, 0.5); // g' = 1.5
    l2.step(p, g);
    CHECK(p[p1][0] == doctest::Approx(2.0 - 0.01 * 1.5 / (1.5 + 1e-8)).epsilon(1e-14));
}

TEST_CASE("schedules: StepLR and CosineAnnealingLR values") {
    CHECK(nn::step_lr(0.1, 3, 4) == 0.1);
    CHECK(nn::step_lr(0.1, 4, 4) == doctest::Approx(0.01));
    CHECK(nn::cosine_lr(1.0, 0, 10) == 1.0);
    CHECK(nn::cosine_lr(1.0, 5, 10) == doctest::Approx(0.5));
    CHECK(nn::cosine_lr(1.0, 10, 10) == doctest::Approx(0.0).epsilon(1e-12));
}

TEST_CASE("initializers: bounds from fan-in and fan-out, deterministic per seed") {
    constexpr auto in = input<"in", 100>;
    constexpr auto W = param<"W", 20, 100>;
    constexpr auto b = param<"b", 20>;
    auto net = compile(sum(W * in + b));
    auto a = net.make_params(), c = net.make_params();
    nn::init_uniform_fan_in(net, a, 7);
    nn::init_uniform_fan_in(net, c, 7);
    CHECK(std::equal(a.flat().begin(), a.flat().end(), c.flat().begin()));
    double wmax = 0, bmax = 0;
    for (float v : a[W]) wmax = std::max(wmax, std::abs(double(v)));
    for (float v : a[b]) bmax = std::max(bmax, std::abs(double(v)));
    CHECK(wmax <= 0.1);
    CHECK(wmax > 0.09); // 2000 draws come close to the bound 1/sqrt(100)
    CHECK(bmax <= 0.1);
    nn::init_glorot(net, a, 1);
    double gmax = 0;
    for (float v : a[W]) gmax = std::max(gmax, std::abs(double(v)));
    CHECK(gmax <= std::sqrt(6.0 / 120.0));
    CHECK(a[b][0] == 0.f);
    nn::init_he(net, a, 1);
    double sq = 0;
    for (float v : a[W]) sq += double(v) * v;
    CHECK(std::sqrt(sq / 2000) == doctest::Approx(std::sqrt(2.0 / 100)).epsilon(0.05)); // sd within 5% over 2000 draws
}

TEST_CASE("metrics: accuracy and the confusion table") {
    const std::vector<float> logits{0.9f, 0.1f, 0.2f, 0.3f, 0.8f, 0.1f, 0.5f, 0.4f, 0.1f};
    const std::vector<int> labels{0, 1, 1};
    nn::confusion_matrix cm(3);
    cm.add(std::span<const float>(logits), std::span<const int>(labels));
    CHECK(cm.accuracy() == doctest::Approx(2.0 / 3));
    CHECK(nn::count_correct(std::span<const float>(logits), std::span<const int>(labels), 3) == 2);
    CHECK(cm.table({"a", "b", "c"}) == "       predicted\n           0     1     2  recall\n"
                                        "a          1     0     0  1.000\n"
                                        "b          1     1     0  0.500\n"
                                        "c          0     0     0  0.000\n");
}

TEST_CASE("nn::batcher refuses a batch of 0 and data that does not match the labels") {
    const std::vector<float> xs(12, 0.5f);
    const std::vector<std::int32_t> ys{0, 1, 2};
    CHECK_THROWS_WITH_AS(nn::batcher(xs, ys, 4, 0, 1), "kink: nn::batcher: the batch size is 0 (it must be at least 1)",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(nn::batcher(xs, ys, 5, 2, 1),
                         "kink: nn::batcher: 12 input values for 3 labels of 5 features (expected 15)", std::invalid_argument);
    CHECK_THROWS_AS(nn::batcher(xs, ys, 0, 2, 1), std::invalid_argument);
    nn::batcher ok(xs, ys, 4, 2, 1);
    ok.in_order();
    CHECK(ok.next() == 2);
    CHECK(ok.next() == 1);
    CHECK(ok.next() == 0);
}

TEST_CASE("nn::crop_flip shifts with zero padding and mirrors as RandomCrop(padding) then RandomHorizontalFlip") {
    // one channel of 3 x 4: values 1..12, row-major
    std::vector<float> img(12);
    for (std::size_t i = 0; i < 12; ++i) img[i] = float(i + 1);
    const nn::crop_flip a{.channels = 1, .height = 3, .width = 4, .pad = 1, .flip = true};
    std::vector<float> out(12);
    // offsets (dy, dx) = (1, 1) in the padded image: the image itself
    a.apply(img.data(), out.data(), {1, 1, false});
    CHECK(out == img);
    // (0, 2): one row down (the top row is padding), one column left (the right column is padding)
    a.apply(img.data(), out.data(), {0, 2, false});
    CHECK(out == std::vector<float>{0, 0, 0, 0, 2, 3, 4, 0, 6, 7, 8, 0});
    // the same window, mirrored
    a.apply(img.data(), out.data(), {0, 2, true});
    CHECK(out == std::vector<float>{0, 0, 0, 0, 0, 4, 3, 2, 0, 8, 7, 6});
    // (2, 0): the bottom row is padding, one column right
    a.apply(img.data(), out.data(), {2, 0, false});
    CHECK(out == std::vector<float>{0, 5, 6, 7, 0, 9, 10, 11, 0, 0, 0, 0});
    // the draws cover [0, 2 pad] on both axes and both mirrors, and depend on (seed, epoch, sample) only
    std::set<std::size_t> seen;
    std::size_t mirrored = 0;
    for (std::uint64_t s = 0; s < 2000; ++s) {
        const auto d = a.at(7, 3, s);
        CHECK((d.dy <= 2 && d.dx <= 2));
        seen.insert(d.dy * 3 + d.dx);
        mirrored += d.mirror;
        const auto again = a.at(7, 3, s);
        CHECK((again.dy == d.dy && again.dx == d.dx && again.mirror == d.mirror));
    }
    CHECK(seen.size() == 9);
    CHECK((mirrored > 900 && mirrored < 1100)); // 1000 expected, standard deviation 22
}

TEST_CASE("nn::batcher::augment: a sample's image depends on the seed, epoch and sample, not on the batch size") {
    constexpr std::size_t n = 10, f = 2 * 4 * 4;
    std::vector<float> xs(n * f);
    for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = float(i % 97) + 1;
    std::vector<std::int32_t> ys(n);
    for (std::size_t i = 0; i < n; ++i) ys[i] = std::int32_t(i);
    const nn::crop_flip a{.channels = 2, .height = 4, .width = 4, .pad = 2, .flip = true};
    auto images = [&](std::size_t batch, std::uint64_t epoch) {
        nn::batcher b(xs, ys, f, batch, 5);
        b.augment(a);
        b.shuffle(epoch);
        std::vector<std::vector<float>> by_sample(n);
        while (const std::size_t k = b.next())
            for (std::size_t i = 0; i < k; ++i) {
                const auto x = b.x(k).subspan(i * f, f);
                by_sample[std::size_t(b.y(k)[i])].assign(x.begin(), x.end());
            }
        return by_sample;
    };
    const auto e1 = images(3, 1);
    CHECK(images(7, 1) == e1);
    CHECK(images(3, 2) != e1);
    // evaluation (in_order) is not augmented
    nn::batcher b(xs, ys, f, 4, 5);
    b.augment(a);
    b.in_order();
    b.next();
    CHECK(std::equal(xs.begin(), xs.begin() + 4 * f, b.x(4).begin()));
    CHECK_THROWS_WITH_AS(b.augment(nn::crop_flip{}), "kink: nn::batcher::augment: images of 1 x 28 x 28 with padding 2 for samples of 32 features",
                         std::invalid_argument);
}

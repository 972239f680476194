// Batch statistics (batch_mean) and the phased programs they make: exact means of vectors and
// images, where the sweeps are cut, gradients against central differences, the same bytes for
// every thread count, and a share of a batch refused.

#include <doctest/doctest.h>

#include <algorithm>
#include <barrier>
#include <thread>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>
#include <cstring>
#include <random>
#include <vector>

#include <kink/kink.hpp>

#include "random_data.hpp"

using namespace kink;

namespace {

using test_data::uniform;
/// Multiples of 1/8 in [-8, 8): sums of a few hundred of them are exact in double.
std::vector<float> eighths(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<float> v(n);
    for (auto &e : v) e = float(int(rng() % 128) - 64) / 8.0f;
    return v;
}

constexpr auto x = input<"x", 6>;
constexpr auto y = label<"y", 3>;
constexpr auto W = param<"W", 6, 6>;
constexpr auto b = param<"b", 6>;
constexpr auto g = param<"g", 6>;
constexpr auto beta = param<"beta", 6>;
constexpr auto V = param<"V", 3, 6>;
constexpr auto c0 = param<"c0", 3>;
/// A dense layer, a batch normalisation written with batch_mean (training statistics), relu and
/// a classifier.
constexpr auto h = W * x + b;
constexpr auto centred = h - batch_mean(h);
constexpr auto normed = hadamard(g, centred / sqrt(batch_mean(hadamard(centred, centred)) + lit<1, 100000>)) + beta;
constexpr auto loss = softmax_cross_entropy(V * relu(normed) + c0, y);

template <class T, class Net> void init(Net &net, typename Net::params_type &p) {
    const auto v = uniform<T>(p.flat().size(), 3, -0.8, 0.8);
    std::copy(v.begin(), v.end(), p.flat().begin());
    for (auto &e : p[g]) e = static_cast<T>(1);
    (void)net;
}
std::vector<int> labels(std::size_t n) {
    std::vector<int> l(n);
    for (std::size_t i = 0; i < n; ++i) l[i] = int((i * 5 + 1) % 3);
    return l;
}

/// Checks every stride-th trained parameter's gradient (running statistics have none) against
/// central differences of the mean loss (net.forward with the bindings b): h = 1e-6 in double,
/// truncation h^2 |f'''| / 6 and rounding about eps |f| / h = 2e-10 for a loss near 1, so 1e-7
/// leaves room for |f'''| ~ 100. Returns how many it checked.
template <class Net, class... B>
std::size_t check_central(Net &net, const typename Net::params_type &p, const typename Net::params_type &gr, std::size_t stride,
                          const B &...b) {
    const double hh = 1e-6;
    std::size_t checked = 0;
    for (std::size_t i = 0; i < p.trained().size(); i += stride) {
        auto q = p;
        q.flat()[i] += hh;
        const double up = net.forward(q, b...);
        q.flat()[i] -= 2 * hh;
        const double down = net.forward(q, b...);
        CAPTURE(i);
        CHECK(std::fabs((up - down) / (2 * hh) - gr.flat()[i]) <= 1e-7);
        ++checked;
    }
    return checked;
}

} // namespace

TEST_CASE("batch_mean: the per-feature and per-channel means of the whole batch, exactly") {
    constexpr auto im = input<"im", 3, 4, 5>;
    for (std::size_t batch : {1, 5, 32, 33, 70}) {
        CAPTURE(batch);
        const auto xs = eighths(batch * 6, 11), ims = eighths(batch * 60, 12);
        auto vec = compile_forward<float, exec_options{.chunk = 4}>(batch_mean(x));
        auto img = compile_forward<float, exec_options{.chunk = 4}>(batch_mean(im));
        vec.threads(3);
        const param_store<float, meta::list<>> none;
        const auto mv = vec(none, x = std::span<const float>(xs));
        const auto mi = img(none, im = std::span<const float>(ims));
        REQUIRE(mv.size() == 6);
        REQUIRE(mi.size() == 3);
        for (std::size_t j = 0; j < 6; ++j) {
            double s = 0;
            for (std::size_t k = 0; k < batch; ++k) s += xs[k * 6 + j];
            CHECK(mv[j] == float(s / double(batch)));
        }
        for (std::size_t c = 0; c < 3; ++c) {
            double s = 0;
            for (std::size_t k = 0; k < batch; ++k)
                for (std::size_t p = 0; p < 20; ++p) s += ims[(k * 3 + c) * 20 + p];
            CHECK(mi[c] == float(s / double(batch * 20)));
        }
    }
}

TEST_CASE("batch_mean: the sweeps are cut before a statistic is read and before its adjoint is passed on") {
    using plan = decltype(compile<double>(loss))::plan;
    // forward: up to the mean | the centred values up to the variance | the rest
    CHECK(plan::fwd_phases.n == 3);
    // backward: down to the variance | down to the mean | the rest (the dense layer)
    CHECK(plan::bwd_phases.n == 3);
    CHECK(plan::barriers.size == 2);
    // without statistics: one phase each
    using flat_plan = decltype(compile<double>(softmax_cross_entropy(V * relu(h) + c0, y)))::plan;
    CHECK(flat_plan::fwd_phases.n == 1);
    CHECK(flat_plan::bwd_phases.n == 1);
    CHECK(!flat_plan::phased);
    // a statistic nobody needs the adjoint of passes nothing back: training only the classifier
    using head_plan = decltype(compile<double>(loss, V, c0))::plan;
    CHECK(head_plan::bwd_phases.n == 1);
}

TEST_CASE("batch_mean: a batch-normalised network's gradients agree with central differences") {
    auto net = compile<double, exec_options{.chunk = 4}>(loss);
    net.threads(2);
    auto p = net.make_params(), gr = net.make_params();
    init<double>(net, p);
    const std::size_t batch = 13;
    const auto xs = uniform<double>(batch * 6, 5, -2, 2);
    const auto ys = labels(batch);
    net.step(p, gr, x = std::span<const double>(xs), y = std::span<const int>(ys));
    const std::size_t checked = check_central(net, p, gr, 3, x = std::span<const double>(xs), y = std::span<const int>(ys));
    CHECK(checked == (p.flat().size() + 2) / 3);
    // the statistics really are the batch's: b shifts every sample's pre-activation and the mean
    // with it, so the loss does not depend on b
    for (const double e : gr[b]) CHECK(std::fabs(e) <= 1e-15);
}

TEST_CASE("batch_mean: images: the gradient through a per-channel statistic agrees with central differences") {
    constexpr auto im = input<"im", 2, 5, 5>;
    constexpr auto K = param<"K", 3, 2, 3, 3>;
    constexpr auto k = param<"k", 3>;
    constexpr auto U = param<"U", 3, 3>;
    const auto f = conv2d<conv{.padding = 1}>(im, K, k);
    // each sample's channel means scaled by the batch's channel means
    const auto l2 = softmax_cross_entropy(U * hadamard(global_avg_pool(f), batch_mean(f)), y);
    auto net = compile<double, exec_options{.chunk = 3}>(l2);
    auto p = net.make_params(), gr = net.make_params();
    const auto pv = uniform<double>(p.flat().size(), 8, -0.7, 0.7);
    std::copy(pv.begin(), pv.end(), p.flat().begin());
    const std::size_t batch = 8;
    const auto xs = uniform<double>(batch * 50, 9, -1, 1);
    const auto ys = labels(batch);
    net.step(p, gr, im = std::span<const double>(xs), y = std::span<const int>(ys));
    check_central(net, p, gr, 1, im = std::span<const double>(xs), y = std::span<const int>(ys));
}

TEST_CASE("batch_mean: the same bytes on 1, 2, 3 and 4 threads, and a share of a batch is refused") {
    const std::size_t batch = 37;
    const auto xs = uniform<float>(batch * 6, 21, -2, 2);
    const auto ys = labels(batch);
    auto run = [&](std::size_t threads) {
        auto net = compile<float, exec_options{.chunk = 4}>(loss);
        net.threads(threads);
        auto p = net.make_params(), gr = net.make_params();
        init<float>(net, p);
        std::vector<float> out;
        for (int s = 0; s < 3; ++s) {
            out.push_back(net.step(p, gr, x = std::span<const float>(xs), y = std::span<const int>(ys)));
            for (std::size_t i = 0; i < p.flat().size(); ++i) p.flat()[i] -= 0.1f * gr.flat()[i];
        }
        out.insert(out.end(), gr.flat().begin(), gr.flat().end());
        const auto v = net.value(normed);
        out.insert(out.end(), v.begin(), v.end());
        return out;
    };
    const auto one = run(1);
    for (std::size_t t : {2, 3, 4}) {
        CAPTURE(t);
        const auto other = run(t);
        REQUIRE(other.size() == one.size());
        CHECK(std::memcmp(other.data(), one.data(), one.size() * sizeof(float)) == 0);
    }
    auto net = compile<float, exec_options{.chunk = 4}>(loss);
    auto p = net.make_params(), g1 = net.make_params(), g2 = net.make_params();
    init<float>(net, p);
    net.step(p, g1, x = std::span<const float>(xs), y = std::span<const int>(ys));
    net.step_share(p, g2, 0, 1, x = std::span<const float>(xs), y = std::span<const int>(ys));
    CHECK(std::memcmp(g1.data(), g2.data(), g1.flat().size() * sizeof(float)) == 0);
    // a share of the batch needs the other shares' statistics: without an exchange it is refused
    CHECK_THROWS_WITH_AS(net.step_share(p, g2, 1, 2, x = std::span<const float>(xs), y = std::span<const int>(ys)),
                         doctest::Contains("batch statistics (batch_norm, batch_mean)"), kink_error);
}

TEST_CASE("a per-channel vector broadcasts over an image's positions; its gradient sums them") {
    constexpr auto im = input<"im", 2, 3, 3>;
    constexpr auto r = input<"r", 2, 3, 3>;
    constexpr auto s = param<"s", 2>;
    constexpr auto t = param<"t", 2>;
    // y = s * x + t per channel, loss = sum(r * y): ds_c = mean_k sum_p r x, dt_c = mean_k sum_p r
    const auto yv = hadamard(s, im) + t;
    auto net = compile<float, exec_options{.chunk = 2}>(sum(flatten(hadamard(r, yv))), s, t, im);
    const std::size_t batch = 4;
    const auto xs = eighths(batch * 18, 31), rs = eighths(batch * 18, 32);
    auto p = net.make_params(), gr = net.make_params();
    p[s][0] = 0.5f, p[s][1] = -2.0f, p[t][0] = 0.25f, p[t][1] = 3.0f;
    net.step(p, gr, im = std::span<const float>(xs), r = std::span<const float>(rs));
    const auto v = net.value(yv);
    const auto dx = net.input_grad(im);
    for (std::size_t k = 0; k < batch; ++k)
        for (std::size_t c = 0; c < 2; ++c)
            for (std::size_t q = 0; q < 9; ++q) {
                const std::size_t e = (k * 2 + c) * 9 + q;
                CHECK(v[e] == p[s][c] * xs[e] + p[t][c]);
                CHECK(dx[e] == rs[e] * p[s][c] / float(batch));
            }
    for (std::size_t c = 0; c < 2; ++c) {
        double ds = 0, dt = 0;
        for (std::size_t k = 0; k < batch; ++k)
            for (std::size_t q = 0; q < 9; ++q) {
                const std::size_t e = (k * 2 + c) * 9 + q;
                ds += double(rs[e]) * double(xs[e]) / double(batch);
                dt += double(rs[e]) / double(batch);
            }
        CHECK(gr[s][c] == float(ds)); // sums of multiples of 1/256 below 2^15: exact in float
        CHECK(gr[t][c] == float(dt));
    }
}

TEST_CASE("batch_mean: a batch normalisation of images (per channel) agrees with central differences") {
    constexpr auto im = input<"im", 2, 4, 4>;
    constexpr auto K = param<"K", 3, 2, 3, 3>;
    constexpr auto gam = param<"gam", 3>;
    constexpr auto bet = param<"bet", 3>;
    constexpr auto U = param<"U", 3, 3>;
    const auto f = conv2d<conv{.padding = 1}>(im, K);
    const auto cf = f - batch_mean(f);
    const auto bn = hadamard(gam, cf / sqrt(batch_mean(hadamard(cf, cf)) + lit<1, 100000>)) + bet;
    auto net = compile<double, exec_options{.chunk = 3}>(softmax_cross_entropy(U * global_avg_pool(relu(bn)), y));
    net.threads(2);
    auto p = net.make_params(), gr = net.make_params();
    const auto pv = uniform<double>(p.flat().size(), 41, -0.7, 0.7);
    std::copy(pv.begin(), pv.end(), p.flat().begin());
    const std::size_t batch = 7;
    const auto xs = uniform<double>(batch * 32, 42, -1, 1);
    const auto ys = labels(batch);
    net.step(p, gr, im = std::span<const double>(xs), y = std::span<const int>(ys));
    check_central(net, p, gr, 1, im = std::span<const double>(xs), y = std::span<const int>(ys));
}

namespace {
constexpr auto bn_net = nn::batch_norm<"bn">(W * x + b);
constexpr auto bn_loss = softmax_cross_entropy(V * relu(bn_net) + c0, y);
} // namespace

TEST_CASE("nn::batch_norm: the store holds the trained parameters first, then the running statistics, each at its start") {
    auto net = compile<double, exec_options{.chunk = 4}>(bn_loss);
    using store = decltype(net)::params_type;
    const std::vector<std::string_view> names(store::names.begin(), store::names.end());
    CHECK(names == std::vector<std::string_view>{"V", "W", "b", "bn.weight", "bn.bias", "c0", "bn.running_mean", "bn.running_var"});
    CHECK(store::trained_count == 6);
    CHECK(decltype(net)::keeps_running);
    auto p = net.make_params();
    auto all = [](std::span<const double> s, double v) { return std::all_of(s.begin(), s.end(), [&](double e) { return e == v; }); };
    CHECK(all(p[param_from<"bn.weight", 1, 6>], 1.0));
    CHECK(all(p[param_from<"bn.bias", 0, 6>], 0.0));
    CHECK(all(p[running<"bn.running_mean", 0, 6>], 0.0));
    CHECK(all(p[running<"bn.running_var", 1, 6>], 1.0));
    // an initializer draws the weights and leaves the norm's scale, shift and statistics at their start
    nn::init_he(net, p, 3);
    CHECK(!all(p[W], 0.0));
    CHECK(all(p[param_from<"bn.weight", 1, 6>], 1.0));
    CHECK(all(p[running<"bn.running_var", 1, 6>], 1.0));
    // a step updates the running statistics; an optimizer (with weight decay) leaves them alone
    auto gr = net.make_params();
    const std::size_t batch = 10;
    const auto xs = uniform<double>(batch * 6, 51, -2, 2);
    const auto ys = labels(batch);
    net.step(p, gr, x = std::span<const double>(xs), y = std::span<const int>(ys));
    CHECK(!all(p[running<"bn.running_mean", 0, 6>], 0.0));
    const std::vector<double> before(p.flat().begin(), p.flat().end());
    nn::adamw<double> opt;
    opt.weight_decay = 0.5;
    opt.step(p, gr);
    const std::size_t stats = store::offsets[store::trained_count];
    CHECK(std::memcmp(p.flat().data() + stats, before.data() + stats, (before.size() - stats) * sizeof(double)) == 0);
    CHECK(std::memcmp(p.flat().data(), before.data(), stats * sizeof(double)) != 0);
}

TEST_CASE("nn::batch_norm: steps and running statistics give the same bytes on 1 to 4 threads and survive a checkpoint") {
    const std::size_t batch = 45;
    const auto xs = uniform<float>(batch * 6, 61, -2, 2);
    const auto ys = labels(batch);
    auto train = [&](std::size_t threads) {
        auto net = compile<float, exec_options{.chunk = 4}>(bn_loss);
        net.threads(threads);
        auto p = net.make_params(), gr = net.make_params();
        nn::init_he(net, p, 5);
        nn::adam<float> opt;
        for (int s = 0; s < 3; ++s) {
            net.step(p, gr, x = std::span<const float>(xs), y = std::span<const int>(ys));
            opt.step(p, gr, net);
        }
        return std::pair{std::vector<float>(p.flat().begin(), p.flat().end()), std::vector<float>(gr.flat().begin(), gr.flat().end())};
    };
    const auto one = train(1);
    for (std::size_t t : {2, 3, 4}) {
        CAPTURE(t);
        const auto other = train(t);
        CHECK(std::memcmp(other.first.data(), one.first.data(), one.first.size() * sizeof(float)) == 0);
        CHECK(std::memcmp(other.second.data(), one.second.data(), one.second.size() * sizeof(float)) == 0);
    }
    // a model file keeps the running statistics with the parameters
    auto net = compile<float, exec_options{.chunk = 4}>(bn_loss);
    auto p = net.make_params(), q = net.make_params();
    std::copy(one.first.begin(), one.first.end(), p.flat().begin());
    const std::string path = "test_batch_model.safetensors";
    nn::save_model(path, net, p);
    nn::load_model(path, net, q);
    std::remove(path.c_str());
    CHECK(std::memcmp(p.data(), q.data(), p.flat().size() * sizeof(float)) == 0);
}

namespace {
/// The shares of one step, each run by a thread of this process, exchanging their batch
/// statistics through memory as kink::mpi::step does through MPI (program::share_exchange).
struct memory_exchange {
    std::size_t parts;
    std::barrier<> sync;
    std::vector<std::byte> all = std::vector<std::byte>(1 << 20);
    struct share {
        memory_exchange *x;
        std::size_t me;
    };
    static void fill(void *context, void *base, std::size_t bytes, std::size_t stride, std::size_t m, std::size_t K) {
        const auto [x, me] = *static_cast<share *>(context);
        const std::size_t seg = m * bytes, P = x->parts;
        REQUIRE(K * seg <= x->all.size());
        auto *b = static_cast<std::byte *>(base);
        const std::size_t c0 = (me * K + P - 1) / P, c1 = ((me + 1) * K + P - 1) / P;
        for (std::size_t c = c0; c < c1; ++c) std::memcpy(x->all.data() + c * seg, b + c * stride * bytes, seg);
        x->sync.arrive_and_wait();
        for (std::size_t c = 0; c < K; ++c)
            if (c < c0 || c >= c1) std::memcpy(b + c * stride * bytes, x->all.data() + c * seg, seg);
        x->sync.arrive_and_wait();
    }
};
} // namespace

TEST_CASE("nn::batch_norm: a step shared by 2 or 3 processes that exchange their statistics gives one process's bytes") {
    const std::size_t batch = 45; // 12 chunks of 4 (the last of 1)
    const auto xs = uniform<float>(batch * 6, 62, -2, 2);
    const auto ys = labels(batch);
    using Net = decltype(compile<float, exec_options{.chunk = 4}>(bn_loss));
    auto one = compile<float, exec_options{.chunk = 4}>(bn_loss);
    auto p1 = one.make_params(), g1 = one.make_params();
    nn::init_he(one, p1, 6);
    for (const std::size_t P : {2, 3}) {
        CAPTURE(P);
        std::vector<Net> nets(P, one);
        std::vector<Net::params_type> ps(P, p1), gs(P);
        auto p = p1;
        for (int step = 0; step < 2; ++step) {
            one.step(p, g1, x = std::span<const float>(xs), y = std::span<const int>(ys));
            memory_exchange ex{P, std::barrier<>(std::ptrdiff_t(P))};
            std::vector<memory_exchange::share> shares;
            for (std::size_t q = 0; q < P; ++q) shares.push_back({&ex, q});
            std::vector<std::thread> run;
            for (std::size_t q = 0; q < P; ++q)
                run.emplace_back([&, q] {
                    nets[q].share_statistics({&shares[q], &memory_exchange::fill});
                    nets[q].step_share(ps[q], gs[q], q, P, x = std::span<const float>(xs), y = std::span<const int>(ys));
                    nets[q].share_statistics({});
                });
            for (auto &t : run) t.join();
            for (std::size_t q = 1; q < P; ++q) { // the gradient along the shares, in chunk order
                gs[q] = gs[q - 1];
                nets[q].fold_share(gs[q]);
            }
            CHECK(std::memcmp(gs[P - 1].data(), g1.data(), g1.flat().size() * sizeof(float)) == 0);
            for (std::size_t q = 0; q < P; ++q) // the running statistics, updated by every share
                CHECK(std::memcmp(ps[q].data(), p.data(), p.flat().size() * sizeof(float)) == 0);
            for (std::size_t i = 0; i < p.flat().size(); ++i) {
                p.flat()[i] -= 0.1f * g1.flat()[i];
                for (std::size_t q = 0; q < P; ++q) ps[q].flat()[i] -= 0.1f * gs[P - 1].flat()[i];
            }
        }
    }
}

TEST_CASE("eval_mode: each sample is normalised with the running statistics, whatever else is in the batch") {
    auto net = compile<double, exec_options{.chunk = 4}>(bn_loss);
    auto p = net.make_params(), gr = net.make_params();
    nn::init_he(net, p, 7);
    const std::size_t batch = 12;
    const auto xs = uniform<double>(batch * 6, 71, -2, 2);
    const auto ys = labels(batch);
    for (int s = 0; s < 2; ++s) net.step(p, gr, x = std::span<const double>(xs), y = std::span<const int>(ys));
    auto infer = compile_forward<double>(eval_mode(bn_net));
    const auto out = std::vector<double>(infer(p, x = std::span<const double>(xs)).begin(), infer(p, x = std::span<const double>(xs)).end());
    const auto rm = p[running<"bn.running_mean", 0, 6>], rv = p[running<"bn.running_var", 1, 6>];
    const auto wt = p[param_from<"bn.weight", 1, 6>], bs = p[param_from<"bn.bias", 0, 6>];
    for (std::size_t k = 0; k < batch; ++k)
        for (std::size_t j = 0; j < 6; ++j) {
            double h0 = p[b][j];
            for (std::size_t i = 0; i < 6; ++i) h0 += p[W][j * 6 + i] * xs[k * 6 + i];
            const double want = wt[j] * ((h0 - rm[j]) / std::sqrt(rv[j] + 1.0 / 100000.0)) + bs[j];
            CHECK(std::fabs(out[k * 6 + j] - want) <= 1e-14 * (1 + std::fabs(want)));
        }
    // one sample alone gives its bytes in the batch
    const auto alone = infer(p, x = std::span<const double>(xs).subspan(6 * 5, 6));
    CHECK(std::memcmp(alone.data(), out.data() + 6 * 5, 6 * sizeof(double)) == 0);
    // the rewrite leaves no batch statistic: the program has one phase
    CHECK(!decltype(infer)::plan::phased);
}

TEST_CASE("nn::batch_norm: a residual CNN's gradients (1 x 1 projection on the skip path) and a vector's agree with central differences") {
    constexpr auto im = input<"im", 2, 4, 4>;
    constexpr auto K1 = param<"K1", 3, 2, 3, 3>;
    constexpr auto K2 = param<"K2", 3, 3, 3, 3>;
    constexpr auto P = param<"P", 3, 2, 1, 1>;
    constexpr auto U = param<"U", 3, 3>;
    const auto a = relu(nn::batch_norm<"bn1">(conv2d<conv{.padding = 1}>(im, K1)));
    const auto main_path = nn::batch_norm<"bn2">(conv2d<conv{.padding = 1}>(a, K2));
    const auto skip = nn::batch_norm<"bnp">(conv2d<conv{}>(im, P));
    auto net = compile<double, exec_options{.chunk = 3}>(softmax_cross_entropy(U * global_avg_pool(relu(main_path + skip)), y));
    net.threads(2);
    auto p = net.make_params(), gr = net.make_params();
    const auto pv = uniform<double>(p.flat().size(), 43, -0.7, 0.7);
    std::copy(pv.begin(), pv.end(), p.flat().begin());
    const std::size_t batch = 8;
    const auto xs = uniform<double>(batch * 32, 44, -1, 1);
    const auto ys = labels(batch);
    net.step(p, gr, im = std::span<const double>(xs), y = std::span<const int>(ys));
    CHECK(check_central(net, p, gr, 1, im = std::span<const double>(xs), y = std::span<const int>(ys)) == p.trained().size());

    auto vnet = compile<double, exec_options{.chunk = 4}>(bn_loss);
    auto q = vnet.make_params(), qg = vnet.make_params();
    const auto qv = uniform<double>(q.flat().size(), 45, -0.8, 0.8);
    std::copy(qv.begin(), qv.end(), q.flat().begin());
    const auto vs = uniform<double>(11 * 6, 46, -2, 2);
    const auto vy = labels(11);
    vnet.step(q, qg, x = std::span<const double>(vs), y = std::span<const int>(vy));
    check_central(vnet, q, qg, 1, x = std::span<const double>(vs), y = std::span<const int>(vy));
}

TEST_CASE("nn::batch_norm: the variance of values far from zero loses nothing to cancellation (chunks merged, not summed)") {
    // x = 1e8 + u, u in [-1, 1]: sum x^2 - n mean^2 would lose every digit of the variance (x^2 ~ 1e16,
    // a double's spacing there is 2); the merged per-chunk deviations keep about 1e-8 relative
    constexpr auto xv = input<"xv", 3>;
    constexpr auto yv = nn::batch_norm<"bn">(xv);
    auto net = compile<double, exec_options{.chunk = 4}>(sum(yv));
    auto p = net.make_params(), gr = net.make_params();
    const std::size_t batch = 11;
    auto xs = uniform<double>(batch * 3, 47, -1, 1);
    for (auto &e : xs) e += 1e8;
    net.step(p, gr, xv = std::span<const double>(xs));
    const auto got = net.value(yv);
    const auto rv = p[running<"bn.running_var", 1, 3>];
    for (std::size_t j = 0; j < 3; ++j) {
        long double m = 0, v = 0;
        for (std::size_t s = 0; s < batch; ++s) m += xs[s * 3 + j];
        m /= batch;
        for (std::size_t s = 0; s < batch; ++s) v += (xs[s * 3 + j] - m) * (xs[s * 3 + j] - m);
        for (std::size_t s = 0; s < batch; ++s) {
            const double want = double((xs[s * 3 + j] - m) / std::sqrt(v / batch + 1e-5L));
            CAPTURE(s);
            CHECK(std::fabs(got[s * 3 + j] - want) <= 1e-6);
        }
        // the running variance (unbiased, momentum 0.1 from 1) agrees as well
        CHECK(std::fabs(rv[j] - double(0.9L + 0.1L * v / (batch - 1))) <= 1e-9);
    }
}

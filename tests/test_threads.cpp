// A step on several threads: the same bytes for every thread count (losses, gradients, node
// values, kink counts, the error of a bad batch), and the documented order of the sum over the
// chunks of a batch, shown by values whose sum depends on the order.

#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kink/kink.hpp>

#include "random_data.hpp"
#include <kink/nn/optim.hpp>

using namespace kink;

namespace {

using test_data::uniform;
std::vector<int> labels(std::size_t n, int classes) {
    std::vector<int> y(n);
    for (std::size_t i = 0; i < n; ++i) y[i] = int((i * 7 + 3) % std::size_t(classes));
    return y;
}
template <class Store> bool same_bytes(const Store &a, const Store &b) {
    return std::memcmp(a.data(), b.data(), a.flat().size() * sizeof(*a.data())) == 0;
}

constexpr auto x = input<"x", 20>;
constexpr auto y = label<"y", 5>;
constexpr auto W1 = param<"W1", 24, 20>;
constexpr auto b1 = param<"b1", 24>;
constexpr auto W2 = param<"W2", 16, 24>;
constexpr auto b2 = param<"b2", 16>;
constexpr auto W3 = param<"W3", 5, 16>;
constexpr auto b3 = param<"b3", 5>;

/// Trains `steps` steps (plain SGD, so the parameters feed back into the gradients) on `threads`
/// threads; returns the final parameters, the last gradient and the losses.
template <class T, class Net> auto train(Net net, std::size_t threads, std::size_t batch, int steps) {
    net.threads(threads);
    auto p = net.make_params(), g = net.make_params();
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> u(-0.4, 0.4);
    for (auto &v : p.flat()) v = static_cast<T>(u(rng));
    const auto xs = uniform<T>(batch * 20, 7, -1, 1);
    const auto ys = labels(batch, 5);
    std::vector<T> losses;
    for (int s = 0; s < steps; ++s) {
        losses.push_back(net.step(p, g, x = std::span(xs), y = std::span(ys)));
        for (std::size_t i = 0; i < p.flat().size(); ++i) p.flat()[i] -= static_cast<T>(0.1) * g.flat()[i];
    }
    return std::tuple{p, g, losses};
}

template <class T> void mlp_same_bits() {
    const auto loss = softmax_cross_entropy(W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3, y);
    // batches of one chunk, of whole chunks, with a short last chunk, and of more chunks than threads
    for (std::size_t batch : {1, 31, 32, 33, 64, 100, 257}) {
        const auto [p1, g1, l1] = train<T>(compile<T>(loss), 1, batch, 4);
        for (std::size_t t : {2, 3, 4}) {
            CAPTURE(batch);
            CAPTURE(t);
            const auto [p, g, l] = train<T>(compile<T>(loss), t, batch, 4);
            CHECK(same_bytes(g, g1));
            CHECK(same_bytes(p, p1));
            CHECK(std::memcmp(l.data(), l1.data(), l.size() * sizeof(T)) == 0);
        }
    }
}

} // namespace

TEST_CASE("threads: an MLP's steps give the same bytes on 1, 2, 3 and 4 threads (float)") { mlp_same_bits<float>(); }
TEST_CASE("threads: an MLP's steps give the same bytes on 1, 2, 3 and 4 threads (double)") { mlp_same_bits<double>(); }

namespace {
constexpr auto img = input<"img", 2, 12, 12>;
constexpr auto C1 = param<"C1", 4, 2, 3, 3>;
constexpr auto d1 = param<"d1", 4>;
constexpr auto C2 = param<"C2", 6, 4, 3, 3>;
constexpr auto d2 = param<"d2", 6>;
constexpr auto F = param<"F", 5, 24>;
constexpr auto f = param<"f", 5>;

template <class T> void cnn_same_bits() {
    // a direct-kernel first layer (2 channels, stride 1), an unfolding second one, both pools
    // (ties counted), a dense layer on the flattened features
    const auto h = max_pool2d<pool2d{2}, policy::count<policy::split>>(
        relu<policy::count<policy::zero>>(conv2d(max_pool2d<pool2d{2}>(relu(conv2d<conv{.padding = 1}>(img, C1, d1))), C2, d2)));
    const auto out = F * flatten(h) + f;
    const auto loss = softmax_cross_entropy(out, y);
    constexpr std::size_t batch = 70; // chunks of 32, 32 and 6
    auto xs = uniform<T>(batch * 288, 3, 0, 1);
    for (std::size_t i = 0; i < xs.size(); i += 5) xs[i] = 0; // exact zeros: ties in the pools
    const auto ys = labels(batch, 5);
    auto run = [&](std::size_t threads) {
        auto net = compile<T>(loss);
        net.threads(threads);
        auto p = net.make_params(), g = net.make_params();
        std::mt19937 rng(9);
        std::uniform_real_distribution<double> u(-0.3, 0.3);
        for (auto &v : p.flat()) v = static_cast<T>(u(rng));
        reset_kink_counts(loss);
        T l = 0;
        for (int s = 0; s < 3; ++s) {
            l = net.step(p, g, img = std::span(xs), y = std::span(ys));
            for (std::size_t i = 0; i < p.flat().size(); ++i) p.flat()[i] -= static_cast<T>(0.05) * g.flat()[i];
        }
        const auto v = net.value(out);
        return std::tuple{p, g, l, std::vector<T>(v.begin(), v.end()), kink_counts(loss)};
    };
    const auto [p1, g1, l1, v1, k1] = run(1);
    CHECK(k1[0].evals > 0);
    for (std::size_t t : {2, 3, 4}) {
        CAPTURE(t);
        const auto [p, g, l, v, k] = run(t);
        CHECK(same_bytes(g, g1));
        CHECK(same_bytes(p, p1));
        CHECK(std::memcmp(&l, &l1, sizeof(T)) == 0);
        CHECK(std::memcmp(v.data(), v1.data(), v.size() * sizeof(T)) == 0);
        REQUIRE(k.size() == k1.size());
        for (std::size_t i = 0; i < k.size(); ++i) {
            CHECK(k[i].hits == k1[i].hits);
            CHECK(k[i].evals == k1[i].evals);
            CHECK(k[i].live == k1[i].live);
        }
    }
}
} // namespace

TEST_CASE("threads: a CNN's steps, node values and kink counts are the same on 1 to 4 threads (float)") { cnn_same_bits<float>(); }
TEST_CASE("threads: a CNN's steps, node values and kink counts are the same on 1 to 4 threads (double)") { cnn_same_bits<double>(); }

TEST_CASE("threads: the chunks' gradients are summed in chunk order, whatever the thread count") {
    // loss = w * x per sample, chunks of one sample: the gradient is (x0 + x1 + x2 + x3) / 4 summed
    // as (((x0 / 4 + x1 / 4) + x2 / 4) + x3 / 4). With x = 4e8, 4, -4e8, 0 the chunks give 1e8, 1,
    // -1e8 and 0, each exact (a quarter, so a fused multiply-add gives the same products): 1e8 + 1
    // rounds to 1e8 in float, so that order gives exactly 0; adding the first and the third first
    // (or the chunks in reverse) would give 1.
    constexpr auto w = param<"w", 1>;
    constexpr auto u = input<"u", 1>;
    const auto loss = sum(w * u);
    const std::vector<float> us{4e8f, 4.f, -4e8f, 0.f};
    for (std::size_t t : {1, 2, 3, 4}) {
        auto net = compile<float, exec_options{.chunk = 1}>(loss);
        net.threads(t);
        auto p = net.make_params(), g = net.make_params();
        p[w][0] = 1;
        net.step(p, g, u = std::span(us));
        CAPTURE(t);
        CHECK(g[w][0] == 0.f);
    }
    // one chunk of four samples: the kernel's own order, ((1e8 + 1) - 1e8) + 0 again
    auto net = compile<float>(loss);
    auto p = net.make_params(), g = net.make_params();
    net.step(p, g, u = std::span(us));
    CHECK(g[w][0] == 0.f);
}

TEST_CASE("threads: a compile_forward program gives the same outputs on every thread count") {
    const auto logits = W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3;
    const auto xs = uniform<float>(150 * 20, 4, -1, 1);
    auto train = compile(softmax_cross_entropy(logits, y));
    auto p = train.make_params();
    std::mt19937 rng(2);
    std::uniform_real_distribution<float> u(-0.5f, 0.5f);
    for (auto &v : p.flat()) v = u(rng);
    auto one = compile_forward(logits);
    const auto a = one(p, x = std::span(xs));
    const std::vector<float> first(a.begin(), a.end());
    for (std::size_t t : {2, 3}) {
        auto net = compile_forward(logits);
        net.threads(t);
        const auto b = net(p, x = std::span(xs));
        REQUIRE(b.size() == first.size());
        CHECK(std::memcmp(b.data(), first.data(), first.size() * sizeof(float)) == 0);
    }
}

TEST_CASE("threads: a bad batch stops every thread count with the same error") {
    const auto loss = softmax_cross_entropy(W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3, y);
    auto xs = uniform<float>(100 * 20, 4, -1, 1);
    xs[70 * 20 + 3] = std::numeric_limits<float>::quiet_NaN(); // sample 70: the third chunk
    const auto ys = labels(100, 5);
    std::string first;
    for (std::size_t t : {1, 2, 4}) {
        auto net = compile<float, exec_options{.check_finite = true}>(loss);
        net.threads(t);
        auto p = net.make_params(), g = net.make_params();
        for (auto &v : p.flat()) v = 0.1f;
        std::string what;
        try {
            net.step(p, g, x = std::span(xs), y = std::span(ys));
        } catch (const non_finite_error &e) {
            what = e.what();
        }
        CAPTURE(t);
        CHECK(what == "kink: step: input 'x' is NaN at sample 70, element 3");
        // a program whose step threw runs the next batch normally
        xs[70 * 20 + 3] = 0.5f;
        CHECK(std::isfinite(net.step(p, g, x = std::span(xs), y = std::span(ys))));
        xs[70 * 20 + 3] = std::numeric_limits<float>::quiet_NaN();
    }
    // a NaN made inside the network (log of a negative value) is found in the chunk it is in
    constexpr auto v = input<"v", 3>;
    constexpr auto q = param<"q", 3>;
    const auto l2 = sum(log(q * v));
    std::vector<float> vs(80 * 3, 1.f);
    vs[45 * 3 + 1] = -1.f;
    for (std::size_t t : {1, 2, 3}) {
        auto net = compile<float, exec_options{.check_finite = true}>(l2);
        net.threads(t);
        auto p = net.make_params(), g = net.make_params();
        for (auto &e : p.flat()) e = 1.f;
        std::string what;
        try {
            net.step(p, g, v = std::span(vs));
        } catch (const non_finite_error &e) {
            what = e.what();
        }
        CAPTURE(t);
        CHECK(what == "kink: step: node v2 (log) is NaN at sample 45, element 1");
    }
}

TEST_CASE("threads: the thread count is checked and can change between steps") {
    auto net = compile(softmax_cross_entropy(W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3, y));
    CHECK(net.threads() == 1);
    CHECK_THROWS_WITH(net.threads(0), "kink: program::threads: the number of threads must be at least 1");
    const auto xs = uniform<float>(90 * 20, 4, -1, 1);
    const auto ys = labels(90, 5);
    auto p = net.make_params(), g1 = net.make_params(), g = net.make_params();
    for (auto &e : p.flat()) e = 0.05f;
    net.step(p, g1, x = std::span(xs), y = std::span(ys));
    for (std::size_t t : {3, 1, 2}) {
        net.threads(t);
        CHECK(net.threads() == t);
        net.step(p, g, x = std::span(xs), y = std::span(ys));
        CHECK(same_bytes(g, g1));
    }
    auto copy = net; // a copy has its own threads
    CHECK(copy.threads() == 2);
    copy.step(p, g, x = std::span(xs), y = std::span(ys));
    CHECK(same_bytes(g, g1));
}

TEST_CASE("threads: an optimizer's update on the program's threads gives the same values") {
    auto net = compile(softmax_cross_entropy(W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3, y));
    auto threaded = net;
    threaded.threads(3);
    const auto xs = uniform<float>(40 * 20, 4, -1, 1);
    const auto ys = labels(40, 5);
    auto check = [&](auto opt_a, auto opt_b) {
        auto pa = net.make_params(), pb = net.make_params(), g = net.make_params(), gb = net.make_params();
        std::mt19937 rng(3);
        std::uniform_real_distribution<float> u(-0.3f, 0.3f);
        for (auto &v : pa.flat()) v = u(rng);
        pb = pa;
        for (int s = 0; s < 5; ++s) {
            net.step(pa, g, x = std::span(xs), y = std::span(ys));
            opt_a.step(pa, g);
            threaded.step(pb, gb, x = std::span(xs), y = std::span(ys));
            opt_b.step(pb, gb, threaded);
        }
        CHECK(same_bytes(pa, pb));
    };
    nn::adam<float> a1, a2;
    a1.weight_decay = a2.weight_decay = 0.01f;
    check(a1, a2);
    check(nn::adamw<float>{}, nn::adamw<float>{});
    nn::sgd<float> s1, s2;
    s1.momentum = s2.momentum = 0.9f;
    s1.nesterov = s2.nesterov = true;
    check(s1, s2);
}

TEST_CASE("a team runs a job on every member, rethrows the lowest member's exception and stays usable") {
    team crew(3);
    REQUIRE(crew.size() == 3);
    std::vector<int> seen(3, 0);
    crew.run([&](std::size_t t) { seen[t] += int(t) + 1; });
    CHECK(seen == std::vector<int>{1, 2, 3});
    // members 1 and 2 throw: the caller gets member 1's exception, whichever finished first
    CHECK_THROWS_WITH(crew.run([&](std::size_t t) {
        if (t != 0) throw std::runtime_error("member " + std::to_string(t));
    }),
                      "member 1");
    crew.run([&](std::size_t t) { seen[t] += 10; });
    CHECK(seen == std::vector<int>{11, 12, 13});
    team alone(1); // no threads: the job runs on the calling thread
    alone.run([&](std::size_t t) { seen[t] = -1; });
    CHECK(seen == std::vector<int>{-1, 12, 13});
}

#if defined(__SANITIZE_ADDRESS__)
#define KINK_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KINK_TEST_ASAN 1
#endif
#endif
#ifndef KINK_TEST_ASAN
TEST_CASE("a team the system cannot start is an error naming the thread count and the reason, not std::terminate") {
    // a child process whose address space leaves room for a few thread stacks (8 MiB each) only:
    // starting 64 threads fails part way; the team stops those it started and throws
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        std::FILE *f = std::fopen("/proc/self/status", "r");
        char line[256];
        unsigned long kib = 0;
        while (f && std::fgets(line, sizeof line, f))
            if (std::sscanf(line, "VmSize: %lu kB", &kib) == 1) break;
        if (f) std::fclose(f);
        const rlimit limit{rlim_t(kib + 48 * 1024) * 1024, rlim_t(kib + 48 * 1024) * 1024};
        if (kib == 0 || setrlimit(RLIMIT_AS, &limit) != 0) _exit(3);
        try {
            team crew(64);
            _exit(4); // started anyway
        } catch (const std::system_error &e) {
            const std::string m = e.what();
            _exit(m.find("kink: threads(64): the system refused to start thread ") != std::string::npos &&
                          m.find(" of 64 (") != std::string::npos
                      ? 0
                      : 5);
        }
        _exit(6);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
#endif

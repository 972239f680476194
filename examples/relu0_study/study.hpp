#pragma once
// The relu'(0) study (examples/relu0_study.cpp): the networks, the bifurcation test of one
// initialisation, and the training runs, generic over the scalar type. Each precision is
// instantiated in its own translation unit (study_<precision>.cpp) so the four compile in
// parallel.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <kink/kink.hpp>
#include <kink/nn/data.hpp>
#include <kink/nn/init.hpp>
#include <kink/nn/optim.hpp>

#ifndef KINK_STUDY_FULL
#define KINK_STUDY_FULL 1
#endif

namespace study {

inline constexpr std::size_t features = 784, classes = 10;

/// The training and test sets, pixels / 255 in float (as torchvision's ToTensor gives them).
struct data {
    std::vector<float> x, tx;
    std::vector<std::int32_t> y, ty;
    std::size_t n = 0, tn = 0;
};

struct settings {
    std::size_t inits = 100;       // initialisations per bifurcation setting
    std::size_t batch = 256;
    std::size_t max_batches = 0;   // batches per bifurcation epoch (0: the whole epoch)
    std::size_t train_steps = 0;   // SGD steps of the training runs (0: `epochs` epochs)
    std::size_t epochs = 1;
    unsigned jobs = 2;
    std::uint64_t seed = 1;
    bool quick = false;
    bool verify = false; // run both backward passes on every batch and check the zero-skip rule
};

/// One bifurcation setting's outcome.
struct bifurcation_row {
    std::string precision, sweep, bias, fma;
    unsigned depth = 0, width = 0;
    std::size_t inits = 0, hits = 0, batches = 0;
    std::vector<long> first_hit; // per initialisation: the batch of the first differing gradient, -1 for none
    std::uint64_t zero_batches = 0; // batches with at least one exact zero (before the first hit)
    std::size_t verify_failures = 0;
    double seconds = 0;
};

/// One training run's outcome (SGD, relu'(0) = 0 copy counting exact zeros).
struct training_row {
    std::string precision, bias, fma;
    std::size_t steps = 0;
    std::vector<std::uint64_t> layer_zeros, layer_evals;
    long first_zero_step = -1;
    // divergence (only for the runs with a relu'(0) = 1 copy)
    bool divergence = false;
    std::vector<double> l1;              // per step: sum |w0 - w1| over all parameters
    long first_divergent_step = -1;
    bool twins_identical = true;         // two relu'(0) = 0 copies stayed bit-identical
    double test_accuracy0 = 0, test_accuracy1 = 0, loss0 = 0, loss1 = 0;
    double seconds = 0;
};

struct results {
    std::vector<bifurcation_row> bifurcation;
    std::vector<training_row> training;
};

// -- the networks -----------------------------------------------------------------------------

template <std::size_t I> constexpr auto wname() {
    const char c[3] = {'W', char('0' + I), 0};
    return kink::fixed_string<3>(c);
}
template <std::size_t I> constexpr auto bname() {
    const char c[3] = {'b', char('0' + I), 0};
    return kink::fixed_string<3>(c);
}
inline constexpr auto x = kink::input<"x", features>;
inline constexpr auto y = kink::label<"y", classes>;

/// L hidden layers of width N with relu<P>, after layer I - 1.
template <class P, std::size_t L, std::size_t N, std::size_t I = 1, class H> constexpr auto hidden(const H &h) {
    if constexpr (I > L) {
        return h;
    } else {
        constexpr std::size_t k = kink::shape_of_t<kink::graph_t<H>>::dims[0];
        return hidden<P, L, N, I + 1>(kink::relu<P>(kink::param<wname<I>(), N, k> * h + kink::param<bname<I>(), N>));
    }
}
/// The logits of the MLP 784 -> N (L times) -> 10.
template <class P, std::size_t L, std::size_t N> constexpr auto logits() {
    return kink::param<wname<L + 1>(), classes, N> * hidden<P, L, N>(x) + kink::param<bname<L + 1>(), classes>;
}
template <class P, std::size_t L, std::size_t N> constexpr auto loss() { return kink::softmax_cross_entropy(logits<P, L, N>(), y); }

/// The copy with relu'(0) = 0 counts its exact zeros; the other has relu'(0) = 1.
using zero_counted = kink::policy::count<kink::policy::zero>;
using one = kink::policy::one;

inline const char *name_of(kink::bias_at b) { return b == kink::bias_at::end ? "end" : "start"; }
inline const char *name_of(kink::contraction c) { return c == kink::contraction::fused ? "fused" : "separate"; }

template <class T> std::vector<T> convert(const std::vector<float> &v) {
    std::vector<T> r(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) r[i] = T(v[i]);
    return r;
}

/// PyTorch's default initialisation drawn in float (as nn.Linear does) and converted to T (as
/// `.half()`, `.double()` do), from the initialisation's own seed.
template <class Program, class Store> void init_params(const Program &net, Store &p, std::uint64_t seed) {
    kink::param_store<float, typename kink::detail::params_of<typename Program::topo>::type> f;
    kink::nn::init_uniform_fan_in(net, f, seed);
    auto src = f.flat();
    auto dst = p.flat();
    using V = std::remove_cvref_t<decltype(dst[0])>;
    for (std::size_t i = 0; i < src.size(); ++i) dst[i] = V(src[i]);
}

template <class T> bool same_values(std::span<const T> a, std::span<const T> b) {
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
}
template <class T> bool same_bits(std::span<const T> a, std::span<const T> b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <class L> std::uint64_t total_hits(const L &l) {
    std::uint64_t h = 0;
    for (const auto &c : kink::kink_counts(l)) h += c.hits;
    return h;
}

/// Bifurcation test (Bertoin et al. §3): for each initialisation, the untrained network goes
/// through the batches of one epoch in the data's order; the initialisation hits when the
/// first-layer weight gradients with relu'(0) = 0 and = 1 differ on some batch. The two
/// backward passes can only differ where a relu input is exactly 0, so a batch whose forward
/// pass (of the counting copy) has no exact zero is skipped without running them; `verify`
/// runs them anyway and checks that rule.
template <class T, std::size_t L, std::size_t N, kink::exec_options O>
bifurcation_row bifurcation(const std::vector<T> &xs, const data &d, const settings &s, const char *sweep) {
    constexpr auto l0 = loss<zero_counted, L, N>();
    constexpr auto l1 = loss<one, L, N>();
    constexpr auto W1 = kink::param<wname<1>(), N, features>;
    const std::size_t batches = std::min(s.max_batches ? s.max_batches : (d.n + s.batch - 1) / s.batch, (d.n + s.batch - 1) / s.batch);
    bifurcation_row r;
    r.precision = kink::scalar_name<T>();
    r.sweep = sweep;
    r.depth = L;
    r.width = N;
    r.bias = name_of(O.bias);
    r.fma = name_of(O.fma);
    r.inits = s.inits;
    r.batches = batches;
    r.first_hit.assign(s.inits, -1);
    std::atomic<std::size_t> next{0};
    std::atomic<std::uint64_t> zero_batches{0};
    std::atomic<std::size_t> failures{0};
    const auto t0 = std::chrono::steady_clock::now();
    auto work = [&] {
        auto n0 = kink::compile<T, O>(l0);
        auto n1 = kink::compile<T, O>(l1);
        n0.reserve(s.batch);
        n1.reserve(s.batch);
        auto p = n0.make_params(), g0 = n0.make_params(), g1 = n0.make_params();
        for (std::size_t i; (i = next++) < s.inits;) {
            init_params(n0, p, s.seed + i);
            for (std::size_t b = 0; b < batches; ++b) {
                const std::size_t rows = std::min(s.batch, d.n - b * s.batch);
                const auto bx = x = std::span<const T>(xs.data() + b * s.batch * features, rows * features);
                const auto by = y = std::span<const std::int32_t>(d.y.data() + b * s.batch, rows);
                kink::reset_kink_counts(l0);
                n0.forward(p, bx, by);
                const bool zero = total_hits(l0) > 0;
                if (!zero && !s.verify) continue;
                zero_batches += zero;
                n0.step(p, g0, bx, by);
                n1.step(p, g1, bx, by);
                const bool differ = !same_values<T>(g0[W1], g1[W1]);
                if (!zero) { // verify: no exact zero, so the whole gradients agree bit for bit
                    if (!same_bits<T>(g0.flat(), g1.flat())) ++failures;
                    continue;
                }
                if (differ) {
                    r.first_hit[i] = long(b);
                    break;
                }
            }
        }
    };
    std::vector<std::thread> pool;
    for (unsigned j = 1; j < s.jobs; ++j) pool.emplace_back(work);
    work();
    for (auto &t : pool) t.join();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (long h : r.first_hit) r.hits += h >= 0;
    r.zero_batches = zero_batches;
    r.verify_failures = failures;
    return r;
}

/// The fraction of test images classified correctly by `net` (compiled from `loss<P, L, N>`).
template <class T, class P, std::size_t L, std::size_t N, class Net, class Params>
double test_accuracy(Net &net, const Params &p, const std::vector<T> &txs, const data &d, std::size_t batch) {
    constexpr auto z = logits<P, L, N>();
    std::size_t correct = 0;
    for (std::size_t b = 0; b * batch < d.tn; ++b) {
        const std::size_t rows = std::min(batch, d.tn - b * batch);
        net.forward(p, x = std::span<const T>(txs.data() + b * batch * features, rows * features),
                    y = std::span<const std::int32_t>(d.ty.data() + b * batch, rows));
        const auto v = net.value(z);
        for (std::size_t s = 0; s < rows; ++s) {
            std::size_t best = 0;
            for (std::size_t k = 1; k < classes; ++k)
                if (float(v[s * classes + k]) > float(v[s * classes + best])) best = k;
            correct += best == std::size_t(d.ty[b * batch + s]);
        }
    }
    return double(correct) / double(d.tn);
}

/// Training with SGD (lr 0.01, momentum 0.9, weight decay 5e-4, batch 256; the order of each
/// epoch drawn from the seed) of the relu'(0) = 0 copy, counting its exact zeros per layer. With
/// `divergence`, a relu'(0) = 1 copy and a second relu'(0) = 0 copy train beside it from the same
/// initialisation on the same batches: the L1 distance to the first per step, and whether the
/// twin stays bit-identical.
template <class T, std::size_t L, std::size_t N, kink::exec_options O>
training_row training(const std::vector<T> &xs, const std::vector<T> &txs, const data &d, const settings &s, bool divergence) {
    constexpr auto l0 = loss<zero_counted, L, N>();
    constexpr auto l1 = loss<one, L, N>();
    training_row r;
    r.precision = kink::scalar_name<T>();
    r.bias = name_of(O.bias);
    r.fma = name_of(O.fma);
    r.divergence = divergence;
    const auto t0 = std::chrono::steady_clock::now();
    auto n0 = kink::compile<T, O>(l0), twin = kink::compile<T, O>(l0);
    auto n1 = kink::compile<T, O>(l1);
    auto p0 = n0.make_params(), g0 = n0.make_params();
    init_params(n0, p0, s.seed);
    auto p1 = p0, pt = p0, g1 = g0, gt = g0;
    auto make_sgd = [] {
        return kink::nn::sgd<T>{.lr = T(0.01), .momentum = T(0.9), .dampening = T(0), .weight_decay = T(5e-4)};
    };
    auto o0 = make_sgd(), o1 = make_sgd(), ot = make_sgd();
    const std::size_t per_epoch = (d.n + s.batch - 1) / s.batch;
    const std::size_t steps = s.train_steps ? s.train_steps : per_epoch * s.epochs;
    std::vector<T> bx(s.batch * features);
    std::vector<std::int32_t> by(s.batch);
    std::vector<std::size_t> order;
    for (std::size_t step = 0; step < steps; ++step) {
        const std::size_t b = step % per_epoch;
        if (b == 0) kink::nn::epoch_order(order, d.n, s.seed, step / per_epoch); // as nn::batcher draws it
        const std::size_t rows = std::min(s.batch, d.n - b * s.batch);
        for (std::size_t i = 0; i < rows; ++i) {
            const std::size_t src = order[b * s.batch + i];
            std::copy_n(xs.data() + src * features, features, bx.data() + i * features);
            by[i] = d.y[src];
        }
        const auto bxs = x = std::span<const T>(bx.data(), rows * features);
        const auto bys = y = std::span<const std::int32_t>(by.data(), rows);
        kink::reset_kink_counts(l0); // this step's counts (the twin's and the test pass's are not kept)
        r.loss0 = double(float(n0.step(p0, g0, bxs, bys)));
        const auto counts = kink::kink_counts(l0);
        r.layer_zeros.resize(counts.size());
        r.layer_evals.resize(counts.size());
        std::uint64_t hits = 0;
        for (std::size_t k = 0; k < counts.size(); ++k) {
            r.layer_zeros[k] += counts[k].hits;
            r.layer_evals[k] += counts[k].evals;
            hits += counts[k].hits;
        }
        if (r.first_zero_step < 0 && hits > 0) r.first_zero_step = long(step);
        o0.step(p0, g0);
        if (divergence) {
            r.loss1 = double(float(n1.step(p1, g1, bxs, bys)));
            o1.step(p1, g1);
            twin.step(pt, gt, bxs, bys);
            ot.step(pt, gt);
            double dist = 0;
            const auto a = p0.flat(), c = p1.flat();
            for (std::size_t i = 0; i < a.size(); ++i) dist += std::abs(double(float(a[i])) - double(float(c[i])));
            r.l1.push_back(dist);
            if (r.first_divergent_step < 0 && dist > 0) r.first_divergent_step = long(step);
            if (r.twins_identical && !same_bits<T>(p0.flat(), pt.flat())) r.twins_identical = false;
        }
    }
    r.steps = steps;
    r.test_accuracy0 = test_accuracy<T, zero_counted, L, N>(n0, p0, txs, d, s.batch);
    if (divergence) r.test_accuracy1 = test_accuracy<T, one, L, N>(n1, p1, txs, d, s.batch);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

/// Every setting of the study for one precision, in two parts: the depth and width sweeps, then the
/// bias placement and contraction sweeps and the training runs. Each part of each precision is a
/// translation unit of its own (study_unit.cpp, compiled eight times by examples/meson.build), so
/// the eight compile in parallel and none takes half a minute.
template <class T> void run_sweeps(const data &d, const settings &s, results &out);
template <class T> void run_options(const data &d, const settings &s, results &out);
template <> void run_sweeps<kink::float16>(const data &, const settings &, results &);
template <> void run_sweeps<kink::bfloat16>(const data &, const settings &, results &);
template <> void run_sweeps<float>(const data &, const settings &, results &);
template <> void run_sweeps<double>(const data &, const settings &, results &);
template <> void run_options<kink::float16>(const data &, const settings &, results &);
template <> void run_options<kink::bfloat16>(const data &, const settings &, results &);
template <> void run_options<float>(const data &, const settings &, results &);
template <> void run_options<double>(const data &, const settings &, results &);
template <class T> void run_precision(const data &d, const settings &s, results &out) {
    run_sweeps<T>(d, s, out);
    run_options<T>(d, s, out);
}
/// Prints one bifurcation setting's line as soon as it is done (relu0_study.cpp).
void report(const bifurcation_row &r);

/// The first part: the depth sweep (n = 256) and the width sweep (L = 3).
template <class T> void sweeps_part(const data &d, const settings &s, results &out) {
    const std::vector<T> xs = convert<T>(d.x);
    constexpr kink::exec_options def{};
    auto bif = [&]<std::size_t L, std::size_t N, kink::exec_options O>(const char *sweep) {
        out.bifurcation.push_back(bifurcation<T, L, N, O>(xs, d, s, sweep));
        report(out.bifurcation.back());
    };
    // The quick mode takes the small settings only.
    // A build with KINK_STUDY_FULL=0 (meson -Dstudy_full=false: the clang and sanitizer
    // configurations of tools/check) compiles the quick settings only: 8 programs instead of 26
    // per precision, which under ASan is the difference between ~1 and ~7 minutes of compiling.
    if (s.quick || !KINK_STUDY_FULL) {
        bif.template operator()<1, 256, def>("depth");
        bif.template operator()<3, 16, def>("width");
        bif.template operator()<3, 64, def>("width");
    } else {
#if KINK_STUDY_FULL
        bif.template operator()<1, 256, def>("depth");
        bif.template operator()<2, 256, def>("depth");
        bif.template operator()<3, 256, def>("depth");
        bif.template operator()<5, 256, def>("depth");
        bif.template operator()<6, 256, def>("depth");
        bif.template operator()<3, 16, def>("width");
        bif.template operator()<3, 64, def>("width");
        bif.template operator()<3, 512, def>("width");
        bif.template operator()<3, 1024, def>("width");
#endif
    }
}

/// The second part: where the bias enters and FMA contraction, and the training runs.
template <class T> void options_part(const data &d, const settings &s, results &out) {
    const std::vector<T> xs = convert<T>(d.x), txs = convert<T>(d.tx);
    constexpr kink::exec_options def{};
    auto bif = [&]<std::size_t L, std::size_t N, kink::exec_options O>(const char *sweep) {
        out.bifurcation.push_back(bifurcation<T, L, N, O>(xs, d, s, sweep));
        report(out.bifurcation.back());
    };
    // where the bias enters and FMA contraction (L = 3, n = 256 in the full study; n = 64 quick)
    [[maybe_unused]] constexpr kink::exec_options end_sep{kink::bias_at::end, kink::contraction::separate};
    constexpr kink::exec_options start_fused{kink::bias_at::start, kink::contraction::fused};
    [[maybe_unused]] constexpr kink::exec_options start_sep{kink::bias_at::start, kink::contraction::separate};
    if (s.quick || !KINK_STUDY_FULL) {
        bif.template operator()<3, 64, start_fused>("options");
    } else {
#if KINK_STUDY_FULL
        bif.template operator()<3, 256, end_sep>("options");
        bif.template operator()<3, 256, start_fused>("options");
        bif.template operator()<3, 256, start_sep>("options");
#endif
    }
    // training: exact zeros per option, divergence with the default options
    out.training.push_back(training<T, 3, 256, def>(xs, txs, d, s, true));
#if KINK_STUDY_FULL
    if (!s.quick) {
        out.training.push_back(training<T, 3, 256, end_sep>(xs, txs, d, s, false));
        out.training.push_back(training<T, 3, 256, start_fused>(xs, txs, d, s, false));
        out.training.push_back(training<T, 3, 256, start_sep>(xs, txs, d, s, false));
    }
#endif
}

} // namespace study

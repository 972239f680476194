// kink's benchmark cases against hand-written loops in the same binary; the PyTorch peer runs
// from bench/run (same shapes, initialisation and hyperparameters). One JSON line per
// measurement, the median of several repetitions. Single thread except case 7.
//
//   1. MLP 784-256-128-10, ReLU, softmax cross-entropy, batch 64, one step incl. Adam: samples/s
//   2. MLP 2-16-16-1, ReLU, MSE, batch 32, Adam: us per step
//   3. one dense layer 1024x1024, batch 256, forward + backward (input gradient included):
//      GFLOP/s and the fraction of this core's FMA peak, measured here
//   4. inference: the forward-only program of case 1's logits (compile_forward), batch 1 and
//      64, us per call; and of case 5's LeNet. With KINK_BENCH_ONNX_DIR set, both networks are
//      also written there as ONNX models (mlp.onnx, lenet5.onnx) for bench/onnx_peer.py, the
//      ONNX Runtime peer of these lines
//   5. a LeNet-5-style CNN (conv 6@5x5 pad 2 - relu - max-pool 2 - conv 16@5x5 - relu - max-pool 2 -
//      dense 120 - relu - dense 84 - relu - dense 10), 28x28x1 input, batch 64, Adam: samples/s
//   6. one 3x3 convolution 64 -> 64 channels, 28x28, padding 1, batch 32, forward + weight
//      gradient + input gradient: GFLOP/s and the fraction of this core's FMA peak
//   7. threads: case 1 at batch 64 and 256 and case 5 at batch 64 on 1, 2, ... threads (up to
//      this machine's cores): samples/s and the speedup over one thread of the same program
//   1 also reports the cost of counting kinks (count<zero>) and of exec_options::check_finite

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <sys/resource.h>

#include <kink/kink.hpp>
#include <kink/nn/init.hpp>
#if __has_include(<protozero/pbf_writer.hpp>)
#include <kink/io/onnx.hpp>
#define KINK_BENCH_ONNX 1
#endif
#include <kink/nn/optim.hpp>

#include "reference_mlp.hpp"

using namespace kink;

namespace {

int reps = 9;

template <class F> double median_seconds(F &&f, int inner) {
    for (int i = 0; i < std::max(2, inner / 5); ++i) f(); // warm up
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < inner; ++i) f();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / inner);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

void emit(const char *cas, const char *impl, const char *metric, double value, const std::string &extra = "") {
    std::printf("{\"case\":\"%s\",\"impl\":\"%s\",\"metric\":\"%s\",\"value\":%.4g%s}\n", cas, impl, metric, value,
                extra.c_str());
    std::fflush(stdout);
}

std::vector<float> uniform(std::size_t n, unsigned seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (auto &x : v) x = u(rng);
    return v;
}

/// This core's peak: independent fused multiply-adds on the widest vectors the build targets.
double fma_peak_gflops() {
    using V = gemm::vec_t<float>;
    constexpr std::size_t L = gemm::lanes<float>;
    constexpr int chains = 12;
    auto run = [](long n) {
        V acc[chains];
        for (int c = 0; c < chains; ++c) acc[c] = V{} + float(c);
        const V a = V{} + 0.999f, b = V{} + 0.001f;
        for (long i = 0; i < n; ++i)
#pragma GCC unroll 12
            for (int c = 0; c < chains; ++c) acc[c] = gemm::mul_add<contraction::fused, float>(a, acc[c], b);
        float s = 0;
        for (int c = 0; c < chains; ++c) s += acc[c][0];
        return s;
    };
    const long n = 20'000'000;
    volatile float sink = 0;
    // The peak is a limit: the fastest of several runs, not their median (on a shared machine a
    // neighbour only ever slows a run down; the median of 3 read 30-50% low on a noisy host).
    sink = sink + run(n); // warm up (clock ramp)
    double s = 1e30;
    for (int r = 0; r < std::max(reps, 7); ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        sink = sink + run(n);
        s = std::min(s, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return double(n) * chains * L * 2 / s / 1e9;
}

// -- case 1 ----------------------------------------------------------------------------------
constexpr auto x = input<"x", 784>;
constexpr auto y = label<"y", 10>;
constexpr auto W1 = param<"W1", 256, 784>;
constexpr auto b1 = param<"b1", 256>;
constexpr auto W2 = param<"W2", 128, 256>;
constexpr auto b2 = param<"b2", 128>;
constexpr auto W3 = param<"W3", 10, 128>;
constexpr auto b3 = param<"b3", 10>;

void case1() {
    constexpr std::size_t B = 64;
    const auto xs = uniform(B * 784, 1, 0.f, 1.f);
    std::vector<int> ys(B);
    for (std::size_t i = 0; i < B; ++i) ys[i] = int(i * 7 % 10);

    // median seconds per training step (with Adam) of the network whose relus use policy P,
    // and its loss at the first and the last timed step
    struct timing {
        double seconds;
        float first, last;
    };
    auto time_steps = [&]<class P>(std::type_identity<P>) {
        auto net = compile(softmax_cross_entropy(W3 * relu<P>(W2 * relu<P>(W1 * x + b1) + b2) + b3, y));
        auto p = net.make_params(), g = net.make_params();
        nn::init_uniform_fan_in(net, p, 0);
        nn::adam<float> opt;
        net.reserve(B);
        timing t{0, net.step(p, g, x = std::span(xs), y = std::span(ys)), 0};
        t.seconds = median_seconds(
            [&] {
                t.last = net.step(p, g, x = std::span(xs), y = std::span(ys));
                opt.step(p, g);
            },
            50);
        return t;
    };
    const timing plain = time_steps(std::type_identity<policy::zero>{});
    // the same step with every value checked for NaN/inf (exec_options::check_finite)
    double checked = 0;
    {
        auto net = compile<float, exec_options{.check_finite = true}>(
            softmax_cross_entropy(W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3, y));
        auto p = net.make_params(), g = net.make_params();
        nn::init_uniform_fan_in(net, p, 0);
        nn::adam<float> opt;
        net.reserve(B);
        checked = median_seconds(
            [&] {
                net.step(p, g, x = std::span(xs), y = std::span(ys));
                opt.step(p, g);
            },
            50);
    }
    const double s = plain.seconds;
    char extra[128];
    std::snprintf(extra, sizeof extra, ",\"loss_first\":%.4f,\"loss_last\":%.4f,\"isa\":\"%s\"", plain.first, plain.last,
                  gemm::isa.data());
    emit("mlp_784_256_128_10_b64", "kink", "samples_per_s", double(B) / s, extra);

    // the same step with both relus counting exact zeros (count<zero>): the cost of counting
    const double sc = time_steps(std::type_identity<policy::count<policy::zero>>{}).seconds;
    std::snprintf(extra, sizeof extra, ",\"overhead_vs_uncounted\":%.3f", sc / s - 1);
    emit("mlp_784_256_128_10_b64_counting_kinks", "kink", "samples_per_s", double(B) / sc, extra);
    std::snprintf(extra, sizeof extra, ",\"overhead_vs_unchecked\":%.3f", checked / s - 1);
    emit("mlp_784_256_128_10_b64_check_finite", "kink", "samples_per_s", double(B) / checked, extra);

    refmlp::mlp<3> ref({784, 256, 128, 10}, 0);
    const double r = median_seconds(
        [&] {
            ref.step_ce(xs.data(), ys.data(), B);
            ref.adam();
        },
        10);
    emit("mlp_784_256_128_10_b64", "hand_loops", "samples_per_s", double(B) / r);
}

// -- case 2 ----------------------------------------------------------------------------------
constexpr auto u = input<"u", 2>;
constexpr auto t = input<"t", 1>;
constexpr auto V1 = param<"V1", 16, 2>;
constexpr auto c1 = param<"c1", 16>;
constexpr auto V2 = param<"V2", 16, 16>;
constexpr auto c2 = param<"c2", 16>;
constexpr auto V3 = param<"V3", 1, 16>;
constexpr auto c3 = param<"c3", 1>;

void case2() {
    constexpr std::size_t B = 32;
    const auto us = uniform(B * 2, 3, 0.f, 1.f);
    const auto ts = uniform(B, 4, 0.f, 1.f);
    auto net = compile(mse(V3 * relu(V2 * relu(V1 * u + c1) + c2) + c3, t));
    auto p = net.make_params(), g = net.make_params();
    nn::init_uniform_fan_in(net, p, 0);
    nn::adam<float> opt;
    net.reserve(B);
    const double s = median_seconds(
        [&] {
            net.step(p, g, u = std::span(us), t = std::span(ts));
            opt.step(p, g);
        },
        20000);
    emit("mlp_2_16_16_1_b32", "kink", "us_per_step", s * 1e6);

    refmlp::mlp<3> ref({2, 16, 16, 1}, 0);
    const double r = median_seconds(
        [&] {
            ref.step_mse(us.data(), ts.data(), B);
            ref.adam();
        },
        20000);
    emit("mlp_2_16_16_1_b32", "hand_loops", "us_per_step", r * 1e6);
}

// -- case 3 ----------------------------------------------------------------------------------
constexpr auto z = input<"z", 1024>;
constexpr auto D = param<"D", 1024, 1024>;
constexpr auto e = param<"e", 1024>;

void case3(double peak) {
    constexpr std::size_t B = 256;
    const auto zs = uniform(B * 1024, 5, 0.f, 1.f);
    auto net = compile(sum(D * z + e), D, e, z); // z listed: its gradient is computed too
    auto p = net.make_params(), g = net.make_params();
    nn::init_uniform_fan_in(net, p, 0);
    net.reserve(B);
    const double s = median_seconds([&] { net.step(p, g, z = std::span(zs)); }, 5);
    const double gflops = 3.0 * 2 * B * 1024 * 1024 / s / 1e9;
    char extra[96];
    std::snprintf(extra, sizeof extra, ",\"fraction_of_peak\":%.3f,\"peak_gflop_per_s\":%.1f", gflops / peak, peak);
    emit("dense_1024_b256", "kink", "gflop_per_s", gflops, extra);
}

// -- case 4 ----------------------------------------------------------------------------------
/// Writes `predict` as DIR/name.onnx when KINK_BENCH_ONNX_DIR names a folder (the ONNX Runtime peer).
template <class Program> void export_onnx(const Program &predict, const typename Program::params_type &p, const char *name) {
    const char *dir = std::getenv("KINK_BENCH_ONNX_DIR");
    if (!dir) return;
#if KINK_BENCH_ONNX
    onnx::save(std::string(dir) + "/" + name + ".onnx", predict, p);
#else
    (void)predict, (void)p, (void)name;
    std::printf("{\"case\":\"onnx_export\",\"impl\":\"kink\",\"skipped\":\"built without protozero (libprotozero-dev)\"}\n");
#endif
}

/// Forward-only calls of `predict` at batch 1 and 64 on input `in`: case_b1, case_b64 in us per call.
template <class Program, class In>
void time_forward(Program &predict, const typename Program::params_type &p, const In &in, std::size_t features, const std::string &name) {
    for (std::size_t B : {std::size_t(1), std::size_t(64)}) {
        const auto xs = uniform(B * features, 6, 0.f, 1.f);
        predict.reserve(B);
        float sink = 0;
        const double s = median_seconds([&] { sink += predict(p, in = std::span(xs))[0]; }, B == 1 ? 20000 : 2000);
        char extra[64];
        std::snprintf(extra, sizeof extra, ",\"batch\":%zu", B);
        emit((name + (B == 1 ? "_forward_b1" : "_forward_b64")).c_str(), "kink", "us_per_call", s * 1e6,
             extra + std::string(sink == sink ? "" : ",\"nan\":true"));
    }
}

void case4_lenet();

void case4() {
    const auto logits = W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3;
    auto train = compile(softmax_cross_entropy(logits, y));
    auto p = train.make_params();
    nn::init_uniform_fan_in(train, p, 0);
    auto predict = compile_forward(logits);
    time_forward(predict, p, x, 784, "mlp_784_256_128_10");
    export_onnx(predict, p, "mlp");
    case4_lenet();
}

// -- case 5 ----------------------------------------------------------------------------------
constexpr auto img = input<"img", 1, 28, 28>;
constexpr auto C1 = param<"C1", 6, 1, 5, 5>;
constexpr auto d1 = param<"d1", 6>;
constexpr auto C2 = param<"C2", 16, 6, 5, 5>;
constexpr auto d2 = param<"d2", 16>;
constexpr auto F1 = param<"F1", 120, 400>;
constexpr auto f1 = param<"f1", 120>;
constexpr auto F2 = param<"F2", 84, 120>;
constexpr auto f2 = param<"f2", 84>;
constexpr auto F3 = param<"F3", 10, 84>;
constexpr auto f3 = param<"f3", 10>;

void case5() {
    constexpr std::size_t B = 64;
    const auto h = max_pool2d<pool2d{2}>(relu(conv2d(max_pool2d<pool2d{2}>(relu(conv2d<conv{.padding = 2}>(img, C1, d1))), C2, d2)));
    const auto logits = F3 * relu(F2 * relu(F1 * flatten(h) + f1) + f2) + f3;
    auto net = compile(softmax_cross_entropy(logits, y));
    auto p = net.make_params(), g = net.make_params();
    nn::init_uniform_fan_in(net, p, 0);
    nn::adam<float> opt;
    const auto xs = uniform(B * 784, 7, 0.f, 1.f);
    std::vector<int> ys(B);
    for (std::size_t i = 0; i < B; ++i) ys[i] = int(i * 7 % 10);
    net.reserve(B);
    const float first = net.step(p, g, img = std::span(xs), y = std::span(ys));
    float last = first;
    const double s = median_seconds(
        [&] {
            last = net.step(p, g, img = std::span(xs), y = std::span(ys));
            opt.step(p, g);
        },
        20);
    char extra[96];
    std::snprintf(extra, sizeof extra, ",\"loss_first\":%.4f,\"loss_last\":%.4f", first, last);
    emit("lenet5_b64", "kink", "samples_per_s", double(B) / s, extra);
}

/// Case 4 for the LeNet of case 5: its forward-only program at batch 1 and 64.
void case4_lenet() {
    const auto h = max_pool2d<pool2d{2}>(relu(conv2d(max_pool2d<pool2d{2}>(relu(conv2d<conv{.padding = 2}>(img, C1, d1))), C2, d2)));
    const auto logits = F3 * relu(F2 * relu(F1 * flatten(h) + f1) + f2) + f3;
    auto predict = compile_forward(logits);
    auto p = predict.make_params();
    nn::init_uniform_fan_in(predict, p, 0);
    time_forward(predict, p, img, 784, "lenet5");
    export_onnx(predict, p, "lenet5");
}

// -- case 6 ----------------------------------------------------------------------------------
constexpr auto fm = input<"fm", 64, 28, 28>;
constexpr auto K3 = param<"K3", 64, 64, 3, 3>;

void case6(double peak) {
    constexpr std::size_t B = 32;
    const auto zs = uniform(B * 64 * 784, 8, 0.f, 1.f);
    auto net = compile(sum(flatten(conv2d<conv{.padding = 1}>(fm, K3))), K3, fm); // weight and input gradients
    auto p = net.make_params(), g = net.make_params();
    nn::init_uniform_fan_in(net, p, 0);
    net.reserve(B);
    const double s = median_seconds([&] { net.step(p, g, fm = std::span(zs)); }, 3);
    const double gflops = 3.0 * 2 * B * 64 * 64 * 9 * 784 / s / 1e9;
    char extra[96];
    std::snprintf(extra, sizeof extra, ",\"fraction_of_peak\":%.3f,\"peak_gflop_per_s\":%.1f", gflops / peak, peak);
    emit("conv3x3_64_28x28_b32", "kink", "gflop_per_s", gflops, extra);
}

// -- case 7 ----------------------------------------------------------------------------------
/// Samples/s of `net` training (Adam) on batches of B on 1 .. cores threads, and the speedup
/// over one thread. A shared machine's speed drifts over seconds, so the thread counts take
/// turns: each repetition times every count once, and the speedup is the median of the
/// repetitions' ratios.
template <class Net, class X> void threads_case(const char *name, const Net &net, X leaf, std::size_t B, int inner) {
    const auto xs = uniform(B * 784, 11, 0.f, 1.f);
    std::vector<int> ys(B);
    for (std::size_t i = 0; i < B; ++i) ys[i] = int(i * 7 % 10);
    const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    struct run {
        Net net;
        typename Net::params_type p, g;
        nn::adam<float> opt;
        float last = 0;
        std::vector<double> seconds;
    };
    std::vector<run> runs;
    for (std::size_t t = 1; t <= cores; ++t) {
        runs.push_back({net, {}, {}, {}, 0, {}});
        run &r = runs.back();
        r.net.threads(t);
        nn::init_uniform_fan_in(r.net, r.p, 0);
        r.net.reserve(B);
    }
    auto steps = [&](run &r, int k) {
        for (int i = 0; i < k; ++i) {
            r.last = r.net.step(r.p, r.g, leaf = std::span(xs), y = std::span(ys));
            r.opt.step(r.p, r.g, r.net); // the update on the program's threads too
        }
    };
    for (auto &r : runs) steps(r, std::max(2, inner / 5)); // warm up
    std::vector<std::vector<double>> ratios(cores);
    for (int rep = 0; rep < reps; ++rep)
        for (std::size_t t = 0; t < cores; ++t) {
            const auto t0 = std::chrono::steady_clock::now();
            steps(runs[t], inner);
            runs[t].seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / inner);
            ratios[t].push_back(runs[0].seconds.back() / runs[t].seconds.back());
        }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    for (std::size_t t = 0; t < cores; ++t) {
        char extra[160];
        std::snprintf(extra, sizeof extra, ",\"threads\":%zu,\"speedup_vs_1_thread\":%.3f,\"loss_last\":%.6f", t + 1,
                      median(ratios[t]), runs[t].last);
        emit(name, "kink", "samples_per_s", double(B) / median(runs[t].seconds), extra);
    }
}

void case7() {
    auto mlp = compile(softmax_cross_entropy(W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3, y));
    threads_case("threads_mlp_784_256_128_10_b64", mlp, x, 64, 50);
    threads_case("threads_mlp_784_256_128_10_b256", mlp, x, 256, 15);
    const auto h = max_pool2d<pool2d{2}>(relu(conv2d(max_pool2d<pool2d{2}>(relu(conv2d<conv{.padding = 2}>(img, C1, d1))), C2, d2)));
    auto lenet = compile(softmax_cross_entropy(F3 * relu(F2 * relu(F1 * flatten(h) + f1) + f2) + f3, y));
    threads_case("threads_lenet5_b64", lenet, img, 64, 20);
}

} // namespace

/// usage: kink_bench [repetitions] [cases, e.g. 123]
int main(int argc, char **argv) {
    if (argc > 1) reps = std::max(3, std::atoi(argv[1]));
    const std::string cases = argc > 2 ? argv[2] : "1234567";
    const double peak = fma_peak_gflops();
    emit("fma_peak", "machine", "gflop_per_s", peak, std::string(",\"isa\":\"") + std::string(gemm::isa) + "\"");
    if (cases.find('1') != std::string::npos) case1();
    if (cases.find('2') != std::string::npos) case2();
    if (cases.find('3') != std::string::npos) case3(peak);
    if (cases.find('4') != std::string::npos) case4();
    if (cases.find('5') != std::string::npos) case5();
    if (cases.find('6') != std::string::npos) case6(peak);
    if (cases.find('7') != std::string::npos) case7();
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    emit("bench_process", "kink", "peak_rss_mib", double(ru.ru_maxrss) / 1024.0);
}

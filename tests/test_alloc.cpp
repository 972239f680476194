// value_and_grad, eval and a compiled program's step perform no heap allocation: a counting
// global operator new (plain and aligned).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <span>
#include <string>
#include <vector>

#include <kink/kink.hpp>

namespace {
std::atomic<long> allocations{0};
}
// g++ 12 -O3 inlines these replacements into their callers and then reports the free() of memory
// from `operator new` as mismatched: it is not (both are these functions).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void *operator new(std::size_t n) {
    ++allocations;
    if (void *p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void *operator new(std::size_t n, std::align_val_t a) {
    ++allocations;
    const std::size_t al = static_cast<std::size_t>(a);
    if (void *p = std::aligned_alloc(al, (n + al - 1) / al * al)) return p;
    throw std::bad_alloc();
}
void *operator new[](std::size_t n) { return operator new(n); }
void *operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete[](void *p) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t) noexcept { std::free(p); }
void operator delete[](void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void *p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void *p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void *p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace kink;

int main() {
    constexpr auto x = var<"x">;
    constexpr auto y = var<"y">;
    const auto f = tanh(x * y) + relu(x - y) * sigmoid(y) + max(x, y) * leaky_relu(x, constant<"a">(0.1));
    double sink = 0;
    const long before = allocations.load();
    for (int i = 0; i < 1000; ++i) {
        const double a = -1.0 + i * 0.002, b = 0.5 - i * 0.001;
        const auto r = value_and_grad(f, wrt(x, y), x = a, y = b);
        sink += r.value + r[x] + r[y] + eval(f, x = a, y = b);
    }
    const long during = allocations.load() - before;
    // and the check itself can fail: one std::string allocates (long enough to defeat SSO)
    const long probe_before = allocations.load();
    std::string probe_string(100, 'k');
    const long probe = allocations.load() - probe_before;
    sink += static_cast<double>(probe_string.size());
    std::printf("allocations during 1000 value_and_grad + eval: %ld (probe string: %ld), sink %g\n", during, probe, sink);
    const bool ok = during == 0 && probe == 1;

    // A compiled training step: after reserve(batch), steps allocate nothing.
    constexpr auto in = input<"x", 20>;
    constexpr auto lab = label<"y", 4>;
    constexpr auto W1 = param<"W1", 16, 20>;
    constexpr auto b1 = param<"b1", 16>;
    constexpr auto W2 = param<"W2", 4, 16>;
    constexpr auto b2 = param<"b2", 4>;
    auto net = compile(softmax_cross_entropy(W2 * relu(W1 * in + b1) + b2, lab));
    auto p = net.make_params(), g = net.make_params();
    for (std::size_t i = 0; i < p.flat().size(); ++i) p.flat()[i] = 0.01f * float(i % 7) - 0.03f;
    std::vector<float> xs(32 * 20, 0.5f);
    std::vector<int> ys(32, 1);
    const long reserve_before = allocations.load();
    net.reserve(32);
    const long reserved = allocations.load() - reserve_before;
    const long step_before = allocations.load();
    float loss = 0;
    for (int i = 0; i < 100; ++i) loss += net.step(p, g, in = std::span(xs), lab = std::span(ys));
    const long steps = allocations.load() - step_before;
    std::printf("program: reserve allocated %ld times, 100 steps %ld times (loss sum %g)\n", reserved, steps, double(loss));
    const bool ok_program = steps == 0 && reserved > 0;

    // A forward-only program (inference): after its first call at a batch size, none allocates.
    auto predict = compile_forward(W2 * relu(W1 * in + b1) + b2);
    float z = predict(p, in = std::span(xs))[0];
    const long predict_before = allocations.load();
    for (int i = 0; i < 100; ++i) z += predict(p, in = std::span(xs))[3];
    const long predicts = allocations.load() - predict_before;
    std::printf("forward program: 100 calls allocated %ld times (sum %g)\n", predicts, double(z));
    const bool ok_predict = predicts == 0;

    // A convolutional program (conv, pooling, flatten, counted tie policy): no allocation per step.
    constexpr auto im = input<"im", 2, 12, 12>;
    constexpr auto K1 = param<"K1", 4, 2, 3, 3>;
    constexpr auto k1 = param<"k1", 4>;
    constexpr auto W3 = param<"W3", 4, 4 * 6 * 6>;
    const auto cnn = softmax_cross_entropy(
        W3 * flatten(max_pool2d<pool2d{2}, policy::count<policy::split>>(relu(conv2d<conv{.padding = 1}>(im, K1, k1)))) + b2, lab);
    auto cnet = compile(cnn);
    auto cp = cnet.make_params(), cg = cnet.make_params();
    for (std::size_t i = 0; i < cp.flat().size(); ++i) cp.flat()[i] = 0.01f * float(i % 7) - 0.03f;
    std::vector<float> ims(32 * 288, 0.25f);
    cnet.reserve(32);
    const long cnn_before = allocations.load();
    float closs = 0;
    for (int i = 0; i < 100; ++i) closs += cnet.step(cp, cg, im = std::span(ims), lab = std::span(ys));
    const long cnn_steps = allocations.load() - cnn_before;
    std::printf("CNN program: 100 steps allocated %ld times (loss sum %g)\n", cnn_steps, double(closs));
    const bool ok_cnn = cnn_steps == 0;
    // A program with batch statistics (phases, per-chunk partial sums and adjoints): none either,
    // on one thread and on three.
    const auto hid = W1 * in + b1;
    const auto cen = hid - batch_mean(hid);
    auto bnet = compile<float, exec_options{.chunk = 8}>(
        softmax_cross_entropy(W2 * relu(cen / sqrt(batch_mean(hadamard(cen, cen)) + lit<1, 100000>)) + b2, lab));
    auto bp = bnet.make_params(), bg = bnet.make_params();
    for (std::size_t i = 0; i < bp.flat().size(); ++i) bp.flat()[i] = 0.01f * float(i % 7) - 0.03f;
    bool ok_batch = true;
    for (std::size_t threads : {1, 3}) {
        bnet.threads(threads);
        bnet.reserve(32);
        const long bn_before = allocations.load();
        float bloss = 0;
        for (int i = 0; i < 100; ++i) bloss += bnet.step(bp, bg, in = std::span(xs), lab = std::span(ys));
        const long bn_steps = allocations.load() - bn_before;
        std::printf("batch-statistics program, %zu threads: 100 steps allocated %ld times (loss sum %g)\n", threads, bn_steps,
                    double(bloss));
        ok_batch = ok_batch && bn_steps == 0;
    }
    const int passed = int(ok) + int(ok_program) + int(ok_predict) + int(ok_cnn) + int(ok_batch);
    std::printf("%d passed, %d failed\n", passed, 5 - passed);
    return passed == 5 ? 0 : 1;
}

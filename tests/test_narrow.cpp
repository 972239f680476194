// float16 and bfloat16: conversions (exact, against the halfway points of every binade), the
// rounding of each operation, and programs compiled in the narrow formats (exact semantics of
// products and bias, exact relu'(0), gradients against double within the formats' precision).

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include <kink/kink.hpp>
#include <kink/nn/optim.hpp>

using namespace kink;

namespace {
template <class N> float next_up(N a) { return float(N::from_bits(static_cast<std::uint16_t>(a.bits + 1))); }

/// Every finite positive value v of format N and the next one: v, the float halfway to the next,
/// and the floats just below and above that halfway point convert as round-to-nearest-even says.
template <class N> void check_all_halfway_points() {
    std::size_t checked = 0;
    for (std::uint32_t b = 0; b < 0x7fff; ++b) {
        const N v = N::from_bits(static_cast<std::uint16_t>(b));
        if (!isfinite(v)) break;
        const float lo = float(v), hi = next_up(v);
        if (!std::isfinite(hi)) break;
        const float mid = lo + (hi - lo) / 2; // exact in float
        REQUIRE(N(lo).bits == b);
        REQUIRE(N(-lo).bits == (b | 0x8000u));
        const std::uint32_t even = (b & 1u) ? b + 1 : b;
        REQUIRE(N(mid).bits == even);
        REQUIRE(N(std::nextafter(mid, 0.f)).bits == b);
        REQUIRE(N(std::nextafter(mid, hi)).bits == b + 1);
        REQUIRE(N(-mid).bits == (even | 0x8000u));
        ++checked;
    }
    CHECK(checked > 30000);
}
} // namespace

TEST_CASE("narrow formats: conversions round to nearest even at every halfway point") {
    check_all_halfway_points<float16>();
    check_all_halfway_points<bfloat16>();
    // Overflow, underflow, NaN.
    CHECK(float(std::numeric_limits<float16>::max()) == 65504.f);
    CHECK(float16(65519.f).bits == 0x7bff);
    CHECK(float16(65520.f).bits == 0x7c00);
    CHECK(float16(0x1p-25f).bits == 0);
    CHECK(float16(std::nextafter(0x1p-25f, 1.f)).bits == 1);
    CHECK(isnan(float16(std::nanf(""))));
    CHECK(isnan(bfloat16(std::nanf(""))));
    CHECK(float(std::numeric_limits<bfloat16>::epsilon()) == 0x1p-7f);
    CHECK(float(std::numeric_limits<float16>::epsilon()) == 0x1p-10f);
    CHECK(float(std::numeric_limits<float16>::denorm_min()) == 0x1p-24f);
}

TEST_CASE("narrow formats: the software conversion agrees with the hardware one") {
    // In a build with F16C the class converts with _cvtss_sh; compare it with the bit-exact
    // software conversion (used in constant evaluation and without F16C) on random floats of all
    // magnitudes and every binary16 bit pattern.
    std::mt19937 rng(5);
    for (int i = 0; i < 2000000; ++i) {
        const float f = std::bit_cast<float>(static_cast<std::uint32_t>(rng()));
        if (std::isnan(f)) continue;
        REQUIRE(float16(f).bits == detail::f32_to_f16_soft(f));
    }
    for (std::uint32_t b = 0; b < 0x10000; ++b) {
        const float a = float(float16::from_bits(static_cast<std::uint16_t>(b)));
        const float s = detail::f16_to_f32_soft(static_cast<std::uint16_t>(b));
        REQUIRE((std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(s) || (std::isnan(a) && std::isnan(s))));
    }
    static_assert(float16(1.5f).bits == 0x3e00);
    static_assert(bfloat16(1.5f).bits == 0x3fc0);
}

TEST_CASE("narrow formats: from double rounds once, and every operation rounds") {
    // 1 + 2^-11 + 2^-40 is above the halfway point between 1 and 1 + 2^-10; through float it
    // would first become 1 + 2^-11 exactly, a tie, and go to 1.
    CHECK(float(float16(1.0 + 0x1p-11 + 0x1p-40)) == 1.f + 0x1p-10f);
    CHECK(float(float16(1.0 + 0x1p-11)) == 1.f);
    CHECK(float(bfloat16(1.0 + 0x1p-8 + 0x1p-40)) == 1.f + 0x1p-7f);
    // a * a - c: the product 1 + 2^-9 + 2^-20 rounds to 1 + 2^-9 before the subtraction.
    const float16 a = 1.f + 0x1p-10f, c = 1.f + 0x1p-9f;
    CHECK(float(a * a - c) == 0.f);
    CHECK(float(a) * float(a) - float(c) == 0x1p-20f);
    CHECK(float(float16(1.f) + float16(0x1p-11f)) == 1.f);
    CHECK(float(float16(2048.f) + 1) == 2048.f);
    CHECK(float(bfloat16(256.f) + 1) == 256.f);
    CHECK(float(exp(float16(1.f))) == float(float16(std::exp(1.f))));
    CHECK(-float16(0.f) == 0);
    CHECK(signbit(-float16(0.f)));
}

namespace {
constexpr auto xin = input<"x", 3>;
constexpr auto w = param<"w", 1, 3>;
constexpr auto c = param<"c", 1>;
constexpr auto t = input<"t", 1>;
/// The pre-activation w x + c of one sample, computed by the program in format N.
template <class N, exec_options O> float affine_value(const std::vector<float> &x, const std::vector<float> &wv, float cv) {
    const auto pre = w * xin + c;
    auto net = compile<N, O>(mse(pre, t));
    auto p = net.make_params();
    for (int i = 0; i < 3; ++i) p[w][i] = N(wv[i]);
    p[c][0] = N(cv);
    std::vector<N> xs, ts{N(0.f)};
    for (float v : x) xs.push_back(N(v));
    net.forward(p, xin = std::span<const N>(xs), t = std::span<const N>(ts));
    return float(net.value(pre)[0]);
}
} // namespace

TEST_CASE("narrow formats: products accumulate in float and round once; the bias option decides when") {
    // x . w = 1 + 2^-12 + 2^-12 in float = 1 + 2^-11; in float16 that is a tie and rounds to 1.
    const std::vector<float> x{1.f, 0x1p-12f, 0x1p-12f}, wv{1.f, 1.f, 1.f};
    constexpr exec_options end{bias_at::end, contraction::fused}, start{bias_at::start, contraction::fused};
    // bias at the end: round(round(dot) + c) = round(1 - 1) = 0 with c = -1.
    CHECK(affine_value<float16, end>(x, wv, -1.f) == 0.f);
    // bias first: round(-1 + 1 + 2^-12 + 2^-12) = 2^-11: not zero.
    CHECK(affine_value<float16, start>(x, wv, -1.f) == 0x1p-11f);
    // In bfloat16 the same dot rounds to 1 as well.
    CHECK(affine_value<bfloat16, end>(x, wv, -1.f) == 0.f);
    CHECK(affine_value<bfloat16, start>(x, wv, -1.f) == 0x1p-11f);
}

namespace {
constexpr auto X = input<"x", 12>;
constexpr auto Y = label<"y", 3>;
constexpr auto W1 = param<"W1", 8, 12>;
constexpr auto B1 = param<"b1", 8>;
constexpr auto W2 = param<"W2", 3, 8>;
constexpr auto B2 = param<"b2", 3>;

template <class N, class P> std::vector<double> first_layer_grads(bool kink, unsigned seed) {
    const auto loss = softmax_cross_entropy(W2 * relu<P>(W1 * X + B1) + B2, Y);
    auto net = compile<N>(loss);
    auto p = net.make_params(), g = net.make_params();
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-0.5f, 0.5f);
    for (auto &v : p.flat()) v = N(u(rng));
    if (kink) {
        for (auto &v : p[W1]) v = N(0.f);
        for (auto &v : p[B1]) v = N(0.f);
    }
    std::vector<N> xs(16 * 12);
    for (auto &v : xs) v = N(u(rng));
    std::vector<int> ys(16);
    for (std::size_t i = 0; i < ys.size(); ++i) ys[i] = int(i % 3);
    net.step(p, g, X = std::span<const N>(xs), Y = std::span<const int>(ys));
    std::vector<double> r;
    for (auto v : g[B1]) r.push_back(double(float(v)));
    for (auto v : g[W1]) r.push_back(double(float(v)));
    return r;
}
template <class N> void check_against_double(double unit) {
    const auto d = first_layer_grads<double, policy::zero>(false, 3);
    const auto n = first_layer_grads<N, policy::zero>(false, 3);
    // The parameters and inputs are the double ones rounded to N; each stored value carries a
    // relative error of at most `unit` (half an ulp), and the gradient entries are short chains
    // of such values (two layers, sums of <= 16 products accumulated in float): 40 units of the
    // largest gradient is several times the expected error and far below the gradients' spread.
    double err = 0, size = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
        err = std::max(err, std::abs(n[i] - d[i]));
        size = std::max(size, std::abs(d[i]));
    }
    CHECK(size > 1e-2);
    CHECK(err < 40 * unit * size);
    CHECK(err > 0); // the narrow program does round
}
} // namespace

TEST_CASE("narrow formats: gradients of an MLP against the double program") {
    // The double program is fed the same rounded parameters: first_layer_grads draws floats and
    // rounds them to N; for double the values are the unrounded floats, so the difference also
    // includes the inputs' rounding (one unit each).
    check_against_double<float16>(0x1p-11);
    check_against_double<bfloat16>(0x1p-8);
}

TEST_CASE("narrow formats: relu'(0) in the fused backward pass is exact") {
    for (int s = 0; s < 2; ++s) {
        const auto z16 = first_layer_grads<float16, policy::zero>(true, 7 + s);
        const auto o16 = first_layer_grads<float16, policy::one>(true, 7 + s);
        const auto h16 = first_layer_grads<float16, policy::half>(true, 7 + s);
        bool nonzero = false;
        for (std::size_t i = 0; i < 8; ++i) { // the bias gradients: W1 = 0, b1 = 0 put every unit on the kink
            CHECK(z16[i] == 0.0);
            CHECK(h16[i] == o16[i] / 2);
            nonzero = nonzero || o16[i] != 0;
        }
        CHECK(nonzero);
        const auto zb = first_layer_grads<bfloat16, policy::zero>(true, 9);
        for (std::size_t i = 0; i < 8; ++i) CHECK(zb[i] == 0.0);
    }
}

TEST_CASE("narrow formats: SGD with momentum and weight decay rounds each operation") {
    param_store<float16, meta::list<graph_t<decltype(c)>>> p, g;
    p.flat()[0] = float16(1.f);
    g.flat()[0] = float16(0.5f);
    nn::sgd<float16> opt{.lr = float16(0.01f), .momentum = float16(0.9f), .weight_decay = float16(5e-4f)};
    opt.step(p, g);
    // d = round(0.5 + round(round(5e-4) * 1)); p = round(1 - round(round(0.01) * d)).
    const float16 d = float16(0.5f) + float16(5e-4f) * float16(1.f);
    const float16 expect = float16(1.f) - float16(0.01f) * d;
    CHECK(p.flat()[0].bits == expect.bits);
    opt.step(p, g);
    const float16 d2 = float16(0.5f) + float16(5e-4f) * expect;
    const float16 buf = float16(0.9f) * d + (float16(1.f) - float16(0.f)) * d2;
    CHECK(p.flat()[0].bits == (expect - float16(0.01f) * buf).bits);
}

TEST_CASE("narrow formats: Adam runs in bfloat16, its hyperparameters in float") {
    // beta2 = 0.999 is 1 in bfloat16: with the hyperparameters in the parameters' format, Adam's
    // second moment would never grow and the first step would divide 0 by 0.
    CHECK(float(bfloat16(0.999f)) == 1.f);
    param_store<bfloat16, meta::list<graph_t<decltype(c)>>> p, g;
    p.flat()[0] = bfloat16(1.f);
    g.flat()[0] = bfloat16(0.5f);
    nn::adam<bfloat16> opt;
    opt.lr = 0.01f;
    opt.step(p, g);
    // the first step of Adam moves by lr (sign of g) up to eps: 1 - 0.01 = 0.99, in bfloat16
    // 0.98828125 or 0.9921875 (the neighbours of 0.99); each operation rounds, so check the
    // formula with every rounding written out.
    auto r = [](float v) { return float(bfloat16(v)); };
    const float m = r(r(0.9f * 0.f) + r((1.f - 0.9f) * 0.5f));
    const float v = r(r(0.999f * 0.f) + r((1.f - 0.999f) * r(0.5f * 0.5f)));
    const float step = 0.01f / float(1.0 - double(0.9f)), c2 = float(std::sqrt(1.0 - double(0.999f)));
    const float expect = r(1.f - r(r(step * m) / (r(r(std::sqrt(v)) / c2) + 1e-8f)));
    CHECK(float(p.flat()[0]) == expect);
    CHECK(std::abs(expect - 0.99f) < 0.005f);
}

TEST_CASE_TEMPLATE("narrow formats: Adam leaves a parameter with a zero gradient unchanged, not NaN", T, float16, bfloat16) {
    // eps = 1e-8 is 0 in float16: rounded into the denominator, m / (sqrt(v) + eps) is 0 / 0.
    if constexpr (KINK_SAME(T, float16)) CHECK(float(T(1e-8f)) == 0.f);
    param_store<T, meta::list<graph_t<decltype(c)>>> p, g;
    p.flat()[0] = T(0.25f);
    g.flat()[0] = T(0.f);
    nn::adam<T> opt;
    for (int i = 0; i < 3; ++i) opt.step(p, g);
    CHECK(float(p.flat()[0]) == 0.25f);
}

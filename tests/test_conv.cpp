// Convolutional programs: conv2d, max_pool2d, avg_pool2d, global_avg_pool and flatten in a
// compiled program against a naive double reference written here with plain loops (values and
// vector-Jacobian products), against central finite differences (a small CNN and a residual one,
// double, away from kinks), the printers, and the float, float16 and bfloat16 programs. Pooling's
// own checks (its references, the tie policies, the counters) are in test_pool.cpp.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <kink/kink.hpp>
#include <kink/print/backward.hpp>

#include "grad_check.hpp"
#include "random_data.hpp"

using namespace kink;

namespace {

using test_data::uniform;

// -- the naive reference (one sample; x [C, H, W], w [O, C, KH, KW]) --------------------------
struct geom {
    std::size_t C, H, W, O, KH, KW, s, p, d;
    std::size_t OH() const { return (H + 2 * p - d * (KH - 1) - 1) / s + 1; }
    std::size_t OW() const { return (W + 2 * p - d * (KW - 1) - 1) / s + 1; }
    /// The input index read by output (i, j) at tap (c, u, v), or -1 in the padding.
    long tap(std::size_t c, std::size_t i, std::size_t j, std::size_t u, std::size_t v) const {
        const long h = long(s * i + d * u) - long(p), w = long(s * j + d * v) - long(p);
        if (h < 0 || w < 0 || h >= long(H) || w >= long(W)) return -1;
        return long((c * H + std::size_t(h)) * W + std::size_t(w));
    }
};
std::vector<double> ref_conv(const geom &g, const double *x, const std::vector<double> &w, const double *b) {
    std::vector<double> y(g.O * g.OH() * g.OW());
    for (std::size_t o = 0; o < g.O; ++o)
        for (std::size_t i = 0; i < g.OH(); ++i)
            for (std::size_t j = 0; j < g.OW(); ++j) {
                double acc = b ? b[o] : 0.0;
                for (std::size_t c = 0; c < g.C; ++c)
                    for (std::size_t u = 0; u < g.KH; ++u)
                        for (std::size_t v = 0; v < g.KW; ++v)
                            if (const long t = g.tap(c, i, j, u, v); t >= 0)
                                acc += w[((o * g.C + c) * g.KH + u) * g.KW + v] * x[t];
                y[(o * g.OH() + i) * g.OW() + j] = acc;
            }
    return y;
}
/// dx, dW, db of one sample for the adjoint gy (added to what they hold).
void ref_conv_vjp(const geom &g, const double *x, const std::vector<double> &w, const double *gy, double *dx, double *dw, double *db) {
    for (std::size_t o = 0; o < g.O; ++o)
        for (std::size_t i = 0; i < g.OH(); ++i)
            for (std::size_t j = 0; j < g.OW(); ++j) {
                const double gv = gy[(o * g.OH() + i) * g.OW() + j];
                db[o] += gv;
                for (std::size_t c = 0; c < g.C; ++c)
                    for (std::size_t u = 0; u < g.KH; ++u)
                        for (std::size_t v = 0; v < g.KW; ++v)
                            if (const long t = g.tap(c, i, j, u, v); t >= 0) {
                                dw[((o * g.C + c) * g.KH + u) * g.KW + v] += gv * x[t];
                                dx[t] += gv * w[((o * g.C + c) * g.KH + u) * g.KW + v];
                            }
            }
}

template <std::size_t C, std::size_t H, std::size_t W, std::size_t O, std::size_t K, conv G> void check_conv_against_reference() {
    constexpr std::size_t B = 3;
    constexpr auto x = input<"x", C, H, W>;
    constexpr auto w = param<"w", O, C, K, K>;
    constexpr auto b = param<"b", O>;
    const geom g{C, H, W, O, K, K, G.stride, G.padding, G.dilation};
    const std::size_t ysize = O * g.OH() * g.OW();
    constexpr auto y = conv2d<G>(x, w, b);
    using YS = shape_of_t<graph_t<decltype(y)>>;
    constexpr auto r = param<"r", YS::size>;
    const auto loss = sum(hadamard(flatten(y), r)); // the adjoint of y is r / B
    auto net = compile<double>(loss, w, b, x);
    auto p = net.make_params(), gr = net.make_params();
    const auto wv = uniform(O * C * K * K, 1), bv = uniform(O, 2), rv = uniform(ysize, 3), xv = uniform(B * C * H * W, 4);
    std::copy(wv.begin(), wv.end(), p[w].begin());
    std::copy(bv.begin(), bv.end(), p[b].begin());
    std::copy(rv.begin(), rv.end(), p[r].begin());
    net.step(p, gr, x = std::span<const double>(xv));
    const auto yk = net.value(y);
    std::vector<double> dx(xv.size()), dw(wv.size()), db(O), gy(rv.size());
    for (std::size_t k = 0; k < gy.size(); ++k) gy[k] = rv[k] / double(B);
    double err = 0;
    for (std::size_t s = 0; s < B; ++s) {
        const auto yr = ref_conv(g, xv.data() + s * C * H * W, wv, bv.data());
        for (std::size_t k = 0; k < ysize; ++k) err = std::max(err, std::abs(yr[k] - yk[s * ysize + k]));
        ref_conv_vjp(g, xv.data() + s * C * H * W, wv, gy.data(), dx.data() + s * C * H * W, dw.data(), db.data());
    }
    // sums of at most C K K (forward) or O K K (input gradient) or B OH OW (weights) products of
    // values below 1: the rounding differs by a few ulp of such a sum, far below 1e-12
    CHECK(err < 1e-12);
    double egx = 0, egw = 0, egb = 0;
    const auto ix = net.input_grad(x);
    for (std::size_t k = 0; k < dx.size(); ++k) egx = std::max(egx, std::abs(dx[k] - ix[k]));
    for (std::size_t k = 0; k < dw.size(); ++k) egw = std::max(egw, std::abs(dw[k] - gr[w][k]));
    for (std::size_t k = 0; k < db.size(); ++k) egb = std::max(egb, std::abs(db[k] - gr[b][k]));
    CHECK(egx < 1e-12);
    CHECK(egw < 1e-12);
    CHECK(egb < 1e-12);
}

} // namespace

TEST_CASE("conv2d: values and the three products against a naive reference (double)") {
    check_conv_against_reference<2, 7, 7, 3, 3, conv{}>();                                      // valid, stride 1
    check_conv_against_reference<3, 8, 9, 4, 3, conv{.stride = 2, .padding = 1}>();            // strided, padded
    check_conv_against_reference<2, 9, 9, 2, 3, conv{.stride = 1, .padding = 2, .dilation = 2}>(); // dilated
    check_conv_against_reference<2, 10, 11, 2, 5, conv{.stride = 2, .padding = 2}>(); // 2 outputs: the weight gradient reads col^T
    check_conv_against_reference<5, 6, 6, 7, 1, conv{}>();                                      // 1 x 1: read in place
    check_conv_against_reference<1, 28, 28, 16, 5, conv{.padding = 2}>();                       // the CNN's first layer
    check_conv_against_reference<16, 14, 14, 33, 5, conv{.padding = 2}>();                      // wider than a GEMM tile
    // few input channels, stride 1: the direct kernels (exec/kernels/conv_direct.hpp), with a last
    // block of fewer vectors and fewer output channels than the others
    check_conv_against_reference<3, 12, 13, 5, 3, conv{.padding = 1}>();
    check_conv_against_reference<4, 10, 14, 7, 5, conv{.padding = 2}>();
    check_conv_against_reference<2, 9, 9, 3, 3, conv{}>();
}

TEST_CASE("conv2d: the layers with few input channels and stride 1 take the direct kernels") {
    using lenet1 = graph_t<decltype(conv2d<conv{.padding = 2}>(input<"x", 1, 28, 28>, param<"w", 6, 1, 5, 5>))>;
    using rgb = graph_t<decltype(conv2d<conv{.padding = 1}>(input<"x", 3, 12, 13>, param<"w", 5, 3, 3, 3>))>;
    using lenet2 = graph_t<decltype(conv2d(input<"x", 6, 14, 14>, param<"w", 16, 6, 5, 5>))>;
    using strided = graph_t<decltype(conv2d<conv{.stride = 2, .padding = 1}>(input<"x", 3, 8, 9>, param<"w", 4, 3, 3, 3>))>;
    using small = graph_t<decltype(conv2d(input<"x", 2, 6, 6>, param<"w", 3, 2, 5, 5>))>; // 2 of 6 columns real
    CHECK(detail::direct_conv<detail::conv_dims<lenet1>, float>::usable);
    CHECK(detail::direct_conv<detail::conv_dims<lenet1>, double>::usable);
    CHECK(detail::direct_conv<detail::conv_dims<rgb>, float>::usable);
    CHECK(!detail::direct_conv<detail::conv_dims<rgb>, float16>::usable);
    CHECK(!detail::direct_conv<detail::conv_dims<lenet2>, float>::usable);
    CHECK(!detail::direct_conv<detail::conv_dims<strided>, float>::usable);
    CHECK(!detail::direct_conv<detail::conv_dims<small>, float>::usable);
}

TEST_CASE("conv2d: the shape rule") {
    constexpr auto x = input<"x", 3, 28, 28>;
    using Y1 = shape_of_t<graph_t<decltype(conv2d(x, param<"w", 8, 3, 5, 5>))>>;
    CHECK(std::is_same_v<Y1, shape<8, 24, 24>>);
    using Y2 = shape_of_t<graph_t<decltype(conv2d<conv{.stride = 2, .padding = 1}>(x, param<"w", 8, 3, 3, 3>))>>;
    CHECK(std::is_same_v<Y2, shape<8, 14, 14>>);
    using P1 = shape_of_t<graph_t<decltype(max_pool2d<pool2d{2}>(input<"z", 4, 7, 7>))>>;
    CHECK(std::is_same_v<P1, shape<4, 3, 3>>);
    using P2 = shape_of_t<graph_t<decltype(max_pool2d<pool2d{.kernel = 3, .stride = 2, .padding = 1}>(input<"z", 4, 7, 7>))>>;
    CHECK(std::is_same_v<P2, shape<4, 4, 4>>);
    using F = shape_of_t<graph_t<decltype(flatten(input<"z", 4, 7, 7>))>>;
    CHECK(std::is_same_v<F, shape<196>>);
    using G = shape_of_t<graph_t<decltype(global_avg_pool(input<"z", 4, 7, 7>))>>;
    CHECK(std::is_same_v<G, shape<4>>);
}

namespace {
constexpr auto cx = input<"x", 2, 8, 8>;
constexpr auto cy = label<"y", 3>;
constexpr auto cw1 = param<"w1", 4, 2, 3, 3>;
constexpr auto cb1 = param<"b1", 4>;
constexpr auto cw2 = param<"w2", 5, 4, 3, 3>;
constexpr auto cb2 = param<"b2", 5>;
constexpr auto cb3 = param<"b3", 3>;
} // namespace

TEST_CASE("a small CNN: gradients against central finite differences (double, away from kinks)") {
    // conv(pad 1) -> tanh -> avg_pool 2 -> conv -> relu -> max_pool 3/2/1 -> flatten -> dense -> CE
    constexpr auto h2 = max_pool2d<pool2d{.kernel = 2, .stride = 1}>(relu(conv2d<conv{.padding = 1}>(
        avg_pool2d<pool2d{2}>(tanh(conv2d<conv{.padding = 1}>(cx, cw1, cb1))), cw2, cb2))); // 5 x 3 x 3
    constexpr auto w3 = param<"w3", 3, 45>;
    const auto loss = softmax_cross_entropy(w3 * flatten(h2) + cb3, cy);
    auto net = compile<double>(loss);
    auto p = net.make_params(), g = net.make_params();
    const auto init = uniform(p.flat().size(), 7, -0.6, 0.6);
    std::copy(init.begin(), init.end(), p.flat().begin());
    constexpr std::size_t B = 4;
    const auto xv = uniform(B * 128, 8);
    const std::vector<int> yv{0, 2, 1, 2};
    const auto run = [&](auto &params) {
        auto n2 = net;
        auto g2 = n2.make_params();
        return n2.step(params, g2, cx = std::span<const double>(xv), cy = std::span<const int>(yv));
    };
    net.step(p, g, cx = std::span<const double>(xv), cy = std::span<const int>(yv));
    // the relu inputs and pooling windows of this point are far from kinks and ties
    const auto pre = net.value(conv2d<conv{.padding = 1}>(avg_pool2d<pool2d{2}>(tanh(conv2d<conv{.padding = 1}>(cx, cw1, cb1))), cw2, cb2));
    double nearest = 1e300;
    for (double v : pre) nearest = std::min(nearest, std::abs(v));
    REQUIRE(nearest > 1e-4);
    const auto c = test_data::central_differences(p, g, run);
    CHECK(c.worst < 1e-7);
    CHECK(c.checked == 4 * 2 * 9 + 4 + 5 * 4 * 9 + 5 + 3 * 45 + 3);
}

TEST_CASE("a residual CNN: identity and 1 x 1 convolution skips, gradients against central finite differences (double)") {
    // block 1 changes channels 2 -> 4, so its skip is a 1 x 1 convolution; block 2 adds its input
    // unchanged. relu(conv(relu(conv(x))) + skip(x)) twice, then global average pooling, dense, CE.
    constexpr auto rw1 = param<"r.w1", 4, 2, 3, 3>;
    constexpr auto rb1 = param<"r.b1", 4>;
    constexpr auto rw2 = param<"r.w2", 4, 4, 3, 3>;
    constexpr auto rb2 = param<"r.b2", 4>;
    constexpr auto rws = param<"r.skip", 4, 2, 1, 1>;
    constexpr auto rw3 = param<"r.w3", 4, 4, 3, 3>;
    constexpr auto rw4 = param<"r.w4", 4, 4, 3, 3>;
    constexpr auto rb4 = param<"r.b4", 4>;
    constexpr auto rfc = param<"r.fc", 3, 4>;
    constexpr auto pad = conv{.padding = 1};
    constexpr auto b1 = relu(conv2d<pad>(relu(conv2d<pad>(cx, rw1, rb1)), rw2, rb2) + conv2d(cx, rws));
    constexpr auto b2 = relu(conv2d<pad>(tanh(conv2d<pad>(b1, rw3)), rw4, rb4) + b1);
    const auto loss = softmax_cross_entropy(rfc * global_avg_pool(b2) + cb3, cy);
    auto net = compile<double>(loss);
    auto p = net.make_params(), g = net.make_params();
    const auto init = uniform(p.flat().size(), 17, -0.5, 0.5);
    std::copy(init.begin(), init.end(), p.flat().begin());
    constexpr std::size_t B = 3;
    const auto xv = uniform(B * 128, 18);
    const std::vector<int> yv{2, 0, 1};
    const auto run = [&](auto &params) {
        auto n2 = net;
        auto g2 = n2.make_params();
        return n2.step(params, g2, cx = std::span<const double>(xv), cy = std::span<const int>(yv));
    };
    net.step(p, g, cx = std::span<const double>(xv), cy = std::span<const int>(yv));
    // every relu input of this point is away from 0 by more than a difference step moves it
    double nearest = 1e300;
    for (double v : net.value(conv2d<pad>(cx, rw1, rb1))) nearest = std::min(nearest, std::abs(v));
    for (double v : net.value(conv2d<pad>(relu(conv2d<pad>(cx, rw1, rb1)), rw2, rb2) + conv2d(cx, rws)))
        nearest = std::min(nearest, std::abs(v));
    for (double v : net.value(conv2d<pad>(tanh(conv2d<pad>(b1, rw3)), rw4, rb4) + b1)) nearest = std::min(nearest, std::abs(v));
    REQUIRE(nearest > 1e-5);
    CHECK(test_data::central_differences(p, g, run).worst < 1e-7);
    // the skip path carries gradient: the 1 x 1 convolution's weights have a nonzero one
    double skip = 0;
    for (double v : g[rws]) skip = std::max(skip, std::abs(v));
    CHECK(skip > 1e-6);
}


TEST_CASE("CNN printers: formulas name the tie policy; to_text shows a non-default one") {
    constexpr auto x = input<"x", 1, 4, 4>;
    constexpr auto w = param<"w", 2, 1, 3, 3>;
    const auto net = sum(flatten(max_pool2d<pool2d{2}, policy::split>(relu(conv2d<conv{.padding = 1}>(x, w)))));
    const std::string text = to_text(net);
    CHECK(text.find("max_pool2d<split>(") != std::string::npos);
    CHECK(to_text(max_pool2d<pool2d{2}>(x)) == "max_pool2d(x, kernel=2)");
    CHECK(to_text(avg_pool2d<pool2d{3, 2, 1}>(conv2d<conv{.stride = 2, .padding = 2, .dilation = 2}>(x, w))) ==
          "avg_pool2d(conv2d(x, w, stride=2, padding=2, dilation=2), kernel=3, stride=2, padding=1)");
    const auto f = formulas(net);
    bool seen = false;
    for (const auto &[lhs, rhs] : f.backward) seen = seen || rhs.find("tied window: policy split") != std::string::npos;
    CHECK(seen);
    bool conv_seen = false;
    for (const auto &[lhs, rhs] : f.backward) conv_seen = conv_seen || rhs.find("\\operatorname{conv}^{\\top}_{W}") != std::string::npos;
    CHECK(conv_seen);
}

TEST_CASE("CNN: the float program agrees with the double program; batches split give the same bits") {
    constexpr auto h2 = max_pool2d<pool2d{2}>(relu(conv2d<conv{.padding = 1}>(
        avg_pool2d<pool2d{2}>(tanh(conv2d<conv{.padding = 1}>(cx, cw1, cb1))), cw2, cb2))); // 5 x 2 x 2
    constexpr auto w3 = param<"w3", 3, 20>;
    const auto loss = softmax_cross_entropy(w3 * flatten(h2) + cb3, cy);
    auto nd = compile<double>(loss);
    auto nf = compile<float>(loss);
    auto pd = nd.make_params(), gd = nd.make_params();
    auto pf = nf.make_params(), gf = nf.make_params();
    const auto init = uniform(pd.flat().size(), 11, -0.6, 0.6);
    for (std::size_t k = 0; k < init.size(); ++k) pf.flat()[k] = static_cast<float>(pd.flat()[k] = static_cast<float>(init[k]));
    constexpr std::size_t B = 6;
    const auto xd = uniform(B * 128, 12);
    std::vector<float> xf(xd.begin(), xd.end());
    std::vector<double> xdr(xf.begin(), xf.end());
    const std::vector<int> yv{0, 1, 2, 2, 1, 0};
    const double ld = nd.step(pd, gd, cx = std::span<const double>(xdr), cy = std::span<const int>(yv));
    const float lf = nf.step(pf, gf, cx = std::span<const float>(xf), cy = std::span<const int>(yv));
    CHECK(std::abs(ld - lf) < 1e-5);
    double worst = 0;
    for (std::size_t k = 0; k < init.size(); ++k) worst = std::max(worst, std::abs(gd.flat()[k] - gf.flat()[k]));
    CHECK(worst < 1e-5);
    // the forward values of each sample do not depend on the other samples of the batch
    auto one = compile_forward(w3 * flatten(h2) + cb3);
    const auto all = one(pf, cx = std::span<const float>(xf));
    std::vector<float> all_v(all.begin(), all.end());
    for (std::size_t s = 0; s < B; ++s) {
        const auto single = one(pf, cx = std::span<const float>(xf).subspan(s * 128, 128));
        for (std::size_t k = 0; k < 3; ++k) CHECK(single[k] == all_v[s * 3 + k]);
    }
}

TEST_CASE("CNN in float16 and bfloat16: the float program's loss and gradients within the formats' precision") {
    constexpr auto h2 = max_pool2d<pool2d{2}>(relu(conv2d<conv{.padding = 1}>(
        avg_pool2d<pool2d{2}>(tanh(conv2d<conv{.padding = 1}>(cx, cw1, cb1))), cw2, cb2))); // 5 x 2 x 2
    constexpr auto w3 = param<"w3", 3, 20>;
    const auto loss = softmax_cross_entropy(w3 * flatten(h2) + cb3, cy);
    constexpr std::size_t B = 4;
    const auto init = uniform(4 * 2 * 9 + 4 + 5 * 4 * 9 + 5 + 60 + 3 + 64, 21, -0.6, 0.6);
    const auto xd = uniform(B * 128, 22, 0, 1);
    const std::vector<int> yv{0, 1, 2, 1};
    auto run = [&]<class T>(std::type_identity<T>) {
        auto net = compile<T>(loss);
        auto p = net.make_params(), g = net.make_params();
        for (std::size_t k = 0; k < p.flat().size(); ++k) p.flat()[k] = T(float(init[k % init.size()]));
        std::vector<T> xs(xd.size());
        for (std::size_t k = 0; k < xd.size(); ++k) xs[k] = T(float(xd[k]));
        const float l = float(net.step(p, g, cx = std::span<const T>(xs), cy = std::span<const int>(yv)));
        std::vector<float> gs(g.flat().size());
        for (std::size_t k = 0; k < gs.size(); ++k) gs[k] = float(g.flat()[k]);
        return std::pair{l, gs};
    };
    const auto [lf, gf] = run(std::type_identity<float>{});
    for (const auto &c : {std::tuple{"float16", 0x1p-10, run(std::type_identity<float16>{})},
                          std::tuple{"bfloat16", 0x1p-7, run(std::type_identity<bfloat16>{})}}) {
        const char *name = std::get<0>(c);
        const double eps = std::get<1>(c);
        const auto &r = std::get<2>(c);
        INFO(name);
        // every value rounded to the format on each of a few dozen operations: a few hundred eps
        // of the loss (about 1) and of the largest gradient entry
        CHECK(std::abs(r.first - lf) < 300 * eps);
        double gmax = 0, err = 0;
        for (std::size_t k = 0; k < gf.size(); ++k) gmax = std::max(gmax, double(std::abs(gf[k])));
        for (std::size_t k = 0; k < gf.size(); ++k) err = std::max(err, double(std::abs(r.second[k] - gf[k])));
        CHECK(err < 300 * eps * std::max(1.0, gmax));
    }
}

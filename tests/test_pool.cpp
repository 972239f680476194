// Pooling in compiled programs: max_pool2d, avg_pool2d and global_avg_pool against a naive
// double reference written here with plain loops (values and gradients), the max-pool tie policies
// at exactly tied windows (every policy, bit for bit against a tie-aware reference, runtime<t>
// included), their counters, and NaN and padding as PyTorch has them.

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

#include "random_data.hpp"

using namespace kink;

namespace {
using test_data::uniform;
} // namespace

namespace {
/// A 1 x 4 x 4 image whose 2 x 2 windows hold the tie patterns the policies differ on.
const std::vector<float> tie_image{
    // window (0,0): no tie; (0,1): two tied maxima; (1,0): four tied (all equal); (1,1): tie of 3
    1, 0, 2, 2, //
    0, 0, 1, 0, //
    5, 5, 3, 3, //
    5, 5, 1, 3,
};
template <class P> std::vector<float> pool_grad(std::span<const float> g_out, double t = 0.0) {
    constexpr auto x = input<"x", 1, 4, 4>;
    constexpr auto r = param<"r", 4>;
    const auto loss = sum(hadamard(flatten(max_pool2d<pool2d{2}, P>(x)), r));
    auto net = compile(loss, x);
    if constexpr (is_runtime_v<P>) net.template constant<"t">(t);
    auto p = net.make_params(), g = net.make_params();
    std::copy(g_out.begin(), g_out.end(), p[r].begin());
    net.step(p, g, x = std::span<const float>(tie_image));
    const auto d = net.input_grad(x);
    return {d.begin(), d.end()};
}
} // namespace

TEST_CASE("max_pool2d: the tie policies at exactly tied windows") {
    const std::vector<float> gout{1, 2, 4, 8};
    // first (every preset; PyTorch's scan order): the whole adjoint to the first maximum
    CHECK(pool_grad<policy::first>(gout) == std::vector<float>{1, 0, 2, 0, 0, 0, 0, 0, 4, 0, 8, 0, 0, 0, 0, 0});
    CHECK(pool_grad<policy::pytorch>(gout) == pool_grad<policy::first>(gout));
    CHECK(pool_grad<policy::tensorflow>(gout) == pool_grad<policy::first>(gout));
    CHECK(pool_grad<policy::jax>(gout) == pool_grad<policy::first>(gout));
    CHECK(pool_grad<policy::last>(gout) == std::vector<float>{1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 8});
    CHECK(pool_grad<policy::last>(gout) != pool_grad<policy::first>(gout));
    // split: 1/k each; window (1,1) has maxima 3, 3, 3 (k = 3)
    const float t = 8.0f * (1.0f / 3.0f);
    CHECK(pool_grad<policy::split>(gout) == std::vector<float>{1, 0, 1, 1, 0, 0, 0, 0, 1, 1, t, t, 1, 1, 0, t});
    // mix<1, 2>: half split, half first
    const float m2 = 2 * float(0.5 / 2 + 0.5), m2b = 2 * float(0.5 / 2), m4 = 4 * float(0.5 / 4 + 0.5), m4b = 4 * float(0.5 / 4),
                m8 = 8 * float(0.5 / 3 + 0.5), m8b = 8 * float(0.5 / 3);
    CHECK(pool_grad<policy::mix<1, 2>>(gout) == std::vector<float>{1, 0, m2, m2b, 0, 0, 0, 0, m4, m4b, m8, m8b, m4b, m4b, 0, m8b});
    CHECK(pool_grad<policy::mix<0, 1>>(gout) == pool_grad<policy::first>(gout));
    CHECK(pool_grad<policy::mix<1, 1>>(gout) == pool_grad<policy::split>(gout));
    // runtime<t>: t = 0 first, 1 split, -1 last; 1/4 is mix<1, 4>; -1/4 gives 3/4 of a tied
    // window's adjoint to its first maximum and 1/4 to its last
    CHECK(pool_grad<policy::runtime<"t">>(gout, 0.0) == pool_grad<policy::first>(gout));
    CHECK(pool_grad<policy::runtime<"t">>(gout, -0.0) == pool_grad<policy::first>(gout));
    CHECK(pool_grad<policy::runtime<"t">>(gout, 1.0) == pool_grad<policy::split>(gout));
    CHECK(pool_grad<policy::runtime<"t">>(gout, -1.0) == pool_grad<policy::last>(gout));
    CHECK(pool_grad<policy::runtime<"t">>(gout, 0.25) == pool_grad<policy::mix<1, 4>>(gout));
    CHECK(pool_grad<policy::runtime<"t">>(gout, -0.25) ==
          std::vector<float>{1, 0, 1.5f, 0.5f, 0, 0, 0, 0, 3, 0, 6, 0, 0, 1, 0, 2});
    for (double bad : {1.5, -1.25, std::numeric_limits<double>::quiet_NaN()}) {
        CAPTURE(bad);
        std::string what;
        try {
            pool_grad<policy::runtime<"t">>(gout, bad);
        } catch (const kink_error &e) {
            what = e.what();
        }
        CHECK(what.find("program::constant<\"t\">(") != std::string::npos);
        CHECK(what.find("max_pool2d takes a tie rule t in [-1, 1]") != std::string::npos);
    }
    CHECK_THROWS_WITH_AS(pool_grad<policy::trap>(gout), doctest::Contains("max_pool2d was differentiated at a window whose maximum is tied among 2"),
                         kink_error);
}

TEST_CASE("max_pool2d: count<P> counts tied windows, and tied windows whose adjoint is nonzero") {
    constexpr auto x = input<"x", 1, 4, 4>;
    constexpr auto r = param<"r", 4>;
    const auto pooled = max_pool2d<pool2d{2}, policy::count<policy::first>>(x);
    const auto loss = sum(hadamard(flatten(pooled), r));
    auto net = compile(loss, x);
    auto p = net.make_params(), g = net.make_params();
    const std::vector<float> gout{1, 0, 4, 0}; // the adjoint of window (0,1) and (1,1) is 0
    std::copy(gout.begin(), gout.end(), p[r].begin());
    reset_kink_counts(loss);
    net.step(p, g, x = std::span<const float>(tie_image));
    const auto c = kink_hits(pooled);
    CHECK(c.evals == 4);
    CHECK(c.hits == 3); // windows (0,1), (1,0), (1,1)
    CHECK(c.live == 1); // only (1,0) has a nonzero adjoint
    CHECK(c.nans == 0);
    CHECK(std::string(c.op) == "max_pool2d");
}

TEST_CASE("max_pool2d and avg_pool2d: NaN and padding as PyTorch has them") {
    constexpr auto x = input<"x", 1, 2, 2>;
    constexpr auto r = param<"r", 1>;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> img{nan, 1, nan, 2};
    const auto loss = sum(hadamard(flatten(max_pool2d<pool2d{2}>(x)), r));
    auto net = compile(loss, x);
    auto p = net.make_params(), g = net.make_params();
    p[r][0] = 1;
    const float l = net.step(p, g, x = std::span<const float>(img));
    CHECK(std::isnan(l));
    const auto d = net.input_grad(x); // the whole adjoint to the last NaN
    CHECK(d[0] == 0);
    CHECK(d[1] == 0);
    CHECK(d[2] == 1);
    CHECK(d[3] == 0);
    // avg_pool2d counts the padding: a 3 x 3 window at a corner of a 2 x 2 image with padding 1
    constexpr auto loss2 = sum(flatten(avg_pool2d<pool2d{.kernel = 3, .stride = 2, .padding = 1}>(x)));
    auto net2 = compile(loss2, x);
    auto p2 = net2.make_params(), g2 = net2.make_params();
    const std::vector<float> ones{1, 2, 3, 4};
    CHECK(net2.step(p2, g2, x = std::span<const float>(ones)) == 10.0f / 9.0f);
}

namespace {
/// Naive pooling of one plane (H x W) with window k, stride s, padding p: max (first maximum) or
/// mean (padding counted), and the vector-Jacobian product for the adjoint gy.
struct pool_ref {
    std::size_t H, W, k, s, p;
    std::size_t OH() const { return (H + 2 * p - k) / s + 1; }
    std::size_t OW() const { return (W + 2 * p - k) / s + 1; }
    void run(bool max, const double *x, double *y, const double *gy, double *dx) const {
        for (std::size_t i = 0; i < OH(); ++i)
            for (std::size_t j = 0; j < OW(); ++j) {
                double best = -INFINITY, sum = 0;
                long at = -1;
                for (std::size_t u = 0; u < k; ++u)
                    for (std::size_t v = 0; v < k; ++v) {
                        const long h = long(i * s + u) - long(p), w = long(j * s + v) - long(p);
                        if (h < 0 || w < 0 || h >= long(H) || w >= long(W)) continue;
                        const double val = x[h * long(W) + w];
                        sum += val;
                        if (val > best) best = val, at = h * long(W) + w;
                    }
                y[i * OW() + j] = max ? best : sum / double(k * k);
                const double g = gy[i * OW() + j];
                if (max) dx[at] += g;
                else
                    for (std::size_t u = 0; u < k; ++u)
                        for (std::size_t v = 0; v < k; ++v) {
                            const long h = long(i * s + u) - long(p), w = long(j * s + v) - long(p);
                            if (h >= 0 && w >= 0 && h < long(H) && w < long(W)) dx[h * long(W) + w] += g / double(k * k);
                        }
            }
    }
};
template <bool Max, pool2d G> void check_pool_against_reference() {
    constexpr std::size_t B = 2, C = 3, H = 9, W = 8;
    constexpr auto x = input<"x", C, H, W>;
    constexpr auto y = [] {
        if constexpr (Max) return max_pool2d<G>(input<"x", C, H, W>);
        else return avg_pool2d<G>(input<"x", C, H, W>);
    }();
    constexpr std::size_t ny = shape_of_t<graph_t<decltype(y)>>::size;
    constexpr auto r = param<"r", ny>;
    auto net = compile<double>(sum(hadamard(flatten(y), r)), x);
    auto p = net.make_params(), g = net.make_params();
    const auto rv = uniform(ny, 31), xv = uniform(B * C * H * W, 32); // distinct values: no ties
    std::copy(rv.begin(), rv.end(), p[r].begin());
    net.step(p, g, x = std::span<const double>(xv));
    const pool_ref ref{H, W, G.kernel, G.step(), G.padding};
    const std::size_t plane_out = ref.OH() * ref.OW();
    REQUIRE(plane_out * C == ny);
    std::vector<double> yr(B * ny), dx(xv.size()), gy(ny);
    for (std::size_t k = 0; k < ny; ++k) gy[k] = rv[k] / double(B);
    for (std::size_t s = 0; s < B; ++s)
        for (std::size_t c = 0; c < C; ++c)
            ref.run(Max, xv.data() + (s * C + c) * H * W, yr.data() + s * ny + c * plane_out, gy.data() + c * plane_out,
                    dx.data() + (s * C + c) * H * W);
    const auto yk = net.value(y);
    const auto dk = net.input_grad(x);
    // max: the same values exactly; mean: the same sum in the same order, divided alike
    for (std::size_t k = 0; k < yr.size(); ++k) CHECK(yk[k] == yr[k]);
    double err = 0;
    for (std::size_t k = 0; k < dx.size(); ++k) err = std::max(err, std::abs(dk[k] - dx[k]));
    CHECK(err < 1e-15);
}
} // namespace

TEST_CASE("max_pool2d and avg_pool2d: values and gradients against a naive reference (double)") {
    check_pool_against_reference<true, pool2d{2}>();
    check_pool_against_reference<true, pool2d{.kernel = 3, .stride = 2, .padding = 1}>();
    check_pool_against_reference<true, pool2d{.kernel = 3, .stride = 1, .padding = 1}>();
    check_pool_against_reference<false, pool2d{2}>();
    check_pool_against_reference<false, pool2d{.kernel = 3, .stride = 2, .padding = 1}>();
    check_pool_against_reference<false, pool2d{.kernel = 2, .stride = 1}>();
}

TEST_CASE("global_avg_pool: values and gradients against a naive reference (double)") {
    constexpr auto x = input<"x", 3, 5, 4>;
    constexpr auto r = param<"r", 3>;
    auto net = compile<double>(sum(hadamard(global_avg_pool(x), r)), x);
    auto p = net.make_params(), g = net.make_params();
    const auto rv = uniform(3, 41), xv = uniform(2 * 60, 42);
    std::copy(rv.begin(), rv.end(), p[r].begin());
    net.step(p, g, x = std::span<const double>(xv));
    const auto yk = net.value(global_avg_pool(x));
    const auto dk = net.input_grad(x);
    for (std::size_t s = 0; s < 2; ++s)
        for (std::size_t c = 0; c < 3; ++c) {
            double sum = 0;
            for (std::size_t k = 0; k < 20; ++k) sum += xv[(s * 3 + c) * 20 + k];
            CHECK(yk[s * 3 + c] == sum / 20.0);
            for (std::size_t k = 0; k < 20; ++k) CHECK(dk[(s * 3 + c) * 20 + k] == rv[c] / 2.0 / 20.0);
        }
}

namespace {
/// A naive tie-aware reference for 2 x 2 / stride 2 max pooling: window maxima in scan order
/// (NaN where the window holds one), the adjoint shared by policy P (the NaN rule too), the
/// counts of tied windows, of NaN windows and of tied windows with a nonzero adjoint.
struct pool_counts {
    std::uint64_t hits = 0, nans = 0, live = 0;
};
template <class P, class T>
void pool2x2_tie_reference(const std::vector<T> &x, const std::vector<T> &gy, std::size_t planes, std::size_t H, std::size_t W,
                           std::vector<T> &y, std::vector<T> &dx, pool_counts &n) {
    const std::size_t OH = H / 2, OW = W / 2;
    for (std::size_t pl = 0; pl < planes; ++pl)
        for (std::size_t i = 0; i < OH; ++i)
            for (std::size_t j = 0; j < OW; ++j) {
                std::size_t at[4];
                T v[4];
                for (std::size_t q = 0; q < 4; ++q) {
                    at[q] = pl * H * W + (2 * i + q / 2) * W + 2 * j + q % 2;
                    v[q] = x[at[q]];
                }
                const T g = gy[(pl * OH + i) * OW + j];
                T m = -std::numeric_limits<T>::infinity();
                std::size_t last_nan = 4;
                for (std::size_t q = 0; q < 4; ++q) {
                    if (v[q] != v[q]) last_nan = q;
                    if (v[q] > m) m = v[q];
                }
                if (last_nan < 4) {
                    y[(pl * OH + i) * OW + j] = std::numeric_limits<T>::quiet_NaN();
                    ++n.nans;
                    for (std::size_t q = 0; q < 4; ++q) dx[at[q]] = q == last_nan ? g : T(0);
                    continue;
                }
                y[(pl * OH + i) * OW + j] = m;
                std::size_t k = 0;
                for (std::size_t q = 0; q < 4; ++q) k += v[q] == m;
                n.hits += k > 1;
                n.live += k > 1 && g != T(0);
                std::size_t r = 0;
                for (std::size_t q = 0; q < 4; ++q) {
                    if (v[q] != m) {
                        dx[at[q]] = T(0);
                        continue;
                    }
                    ++r;
                    T share;
                    if (k == 1) share = T(1);
                    else if constexpr (std::is_same_v<P, policy::first>) share = r == 1 ? T(1) : T(0);
                    else if constexpr (std::is_same_v<P, policy::last>) share = r == k ? T(1) : T(0);
                    else if constexpr (std::is_same_v<P, policy::split>) share = T(1) / T(k);
                    else share = static_cast<T>(0.5 / double(k) + (r == 1 ? 0.5 : 0.0)); // mix<1, 2>
                    dx[at[q]] = k == 1 ? g : g * share;
                }
            }
}
/// Planes with values from {0, 1, 2} (most windows tied), some adjoints 0, a few NaNs: 40
/// columns (20 windows per row: every vector width has full vectors and a tail), 13 columns
/// (6 windows, fewer than any vector holds; the last column in no window) and an odd height.
/// The kernel runs policy K (P, or policy::runtime<"t"> with rule t: the reference runs P).
template <class P, class T, std::size_t H = 6, std::size_t W = 40, class K = P> void check_pool2x2_ties(double t = 0.0) {
    CAPTURE(H);
    CAPTURE(W);
    CAPTURE(t);
    constexpr std::size_t B = 4, C = 5; // B a power of 2: the adjoint r / B is exact
    constexpr auto x = input<"x", C, H, W>;
    const auto y = max_pool2d<pool2d{2}, policy::count<K>>(x);
    constexpr std::size_t ny = C * (H / 2) * (W / 2);
    constexpr auto r = param<"r", ny>;
    const auto loss = sum(hadamard(flatten(y), r));
    auto net = compile<T>(loss, x);
    if constexpr (!std::is_same_v<K, P>) net.template constant<"t">(t);
    auto p = net.make_params(), g = net.make_params();
    std::mt19937 gen(5);
    std::vector<T> xv(B * C * H * W);
    for (auto &v : xv) v = T(gen() % 3);
    for (std::size_t q = 0; q < xv.size(); q += 97) xv[q] = std::numeric_limits<T>::quiet_NaN();
    for (std::size_t k = 0; k < ny; ++k) p[r].begin()[k] = (k % 7 == 3) ? T(0) : T(0.25) + T(k % 5);
    reset_kink_counts(loss);
    net.step(p, g, x = std::span<const T>(xv));
    std::vector<T> gy(B * ny), yr(B * ny), dx(xv.size());
    for (std::size_t s = 0; s < B; ++s)
        for (std::size_t k = 0; k < ny; ++k) gy[s * ny + k] = p[r].begin()[k] / T(B);
    pool_counts n;
    pool2x2_tie_reference<P>(xv, gy, B * C, H, W, yr, dx, n);
    auto same = [](T a, T b) { return a == b || (a != a && b != b); };
    const auto yk = net.value(y);
    std::size_t differ = 0;
    for (std::size_t k = 0; k < yr.size(); ++k) differ += !same(yk[k], yr[k]);
    CHECK(differ == 0);
    const auto dk = net.input_grad(x);
    differ = 0;
    for (std::size_t k = 0; k < dx.size(); ++k) differ += !same(dk[k], dx[k]);
    CHECK(differ == 0);
    const auto c = kink_hits(y);
    CHECK(c.hits == n.hits);
    CHECK(c.nans == n.nans);
    CHECK(c.live == n.live);
    CHECK(n.nans > 0);
    CHECK(n.live > 40); // most windows tied, so the policies differ
}
} // namespace

TEST_CASE("max_pool2d 2 x 2: values, counts and every tie policy on tied planes, bit for bit against a naive reference") {
    check_pool2x2_ties<policy::first, float>();
    check_pool2x2_ties<policy::last, float>();
    check_pool2x2_ties<policy::split, float>();
    check_pool2x2_ties<policy::mix<1, 2>, float>();
    check_pool2x2_ties<policy::first, double>();
    check_pool2x2_ties<policy::last, double>();
    check_pool2x2_ties<policy::split, double>();
    check_pool2x2_ties<policy::first, float, 7, 13>();
    check_pool2x2_ties<policy::split, float, 7, 13>();
    check_pool2x2_ties<policy::last, double, 7, 13>();
}

TEST_CASE("max_pool2d 2 x 2 with runtime<t>: t = 0, 1, -1 and 1/2 are first, split, last and mix<1, 2>, bit for bit") {
    using Rt = policy::runtime<"t">;
    check_pool2x2_ties<policy::first, float, 6, 40, Rt>(ties::first);
    check_pool2x2_ties<policy::split, float, 6, 40, Rt>(ties::split);
    check_pool2x2_ties<policy::last, float, 6, 40, Rt>(ties::last);
    check_pool2x2_ties<policy::mix<1, 2>, float, 6, 40, Rt>(0.5);
    check_pool2x2_ties<policy::first, double, 6, 40, Rt>(0.0);
    check_pool2x2_ties<policy::split, double, 6, 40, Rt>(1.0);
    check_pool2x2_ties<policy::last, double, 6, 40, Rt>(-1.0);
    check_pool2x2_ties<policy::split, float, 7, 13, Rt>(1.0);
    check_pool2x2_ties<policy::last, double, 7, 13, Rt>(-1.0);
    check_pool2x2_ties<policy::mix<1, 2>, double, 7, 13, Rt>(0.5);
}

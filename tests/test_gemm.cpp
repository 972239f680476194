// The GEMM kernel against a naive double-precision product, on shapes that cross every block
// and edge: rows past the register tile and the row block, columns past one and two vectors,
// k past the k-block; strided (transposed) and contiguous operands; accumulate and init rows;
// the epilogue sees every tile once. Built twice: portable, and for this machine (-march=native).

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <kink/exec/gemm.hpp>

using namespace kink;

namespace {
struct result {
    double max_error = 0, bound = 0;
    std::size_t epilogue_cells = 0;
};

template <class T, contraction F>
result check(std::size_t m, std::size_t n, std::size_t k, bool a_transposed, bool b_transposed, bool accumulate, bool init) {
    std::mt19937 rng(unsigned(m * 131 + n * 7 + k));
    std::uniform_real_distribution<double> u(-1, 1);
    std::vector<T> a(m * k), b(k * n), c(m * n), row(n);
    for (auto &x : a) x = T(u(rng));
    for (auto &x : b) x = T(u(rng));
    for (auto &x : c) x = T(u(rng));
    for (auto &x : row) x = T(u(rng));
    const std::vector<T> c0 = c;
    // logical A(i, p) and B(p, j), stored row-major or transposed
    const gemm::view<T> av = a_transposed ? gemm::view<T>{a.data(), 1, m} : gemm::view<T>{a.data(), k, 1};
    const gemm::view<T> bv = b_transposed ? gemm::view<T>{b.data(), 1, k} : gemm::view<T>{b.data(), n, 1};
    std::vector<T> work(gemm::workspace<T>(std::max(m, n)));
    result r;
    gemm::run<T, F>(m, n, k, av, bv, c.data(), n, accumulate, init ? row.data() : nullptr, work.data(),
                    [&](std::size_t, std::size_t rows, std::size_t, std::size_t cols) { r.epilogue_cells += rows * cols; });
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double ref = accumulate ? double(c0[i * n + j]) : (init ? double(row[j]) : 0.0);
            double mag = std::abs(ref);
            for (std::size_t p = 0; p < k; ++p) {
                const double t = double(av(i, p)) * double(bv(p, j));
                ref += t;
                mag += std::abs(t);
            }
            r.max_error = std::max(r.max_error, std::abs(double(c[i * n + j]) - ref));
            // error bound of a k-term sum in T: (k + 2) eps sum |terms|
            r.bound = std::max(r.bound, double(k + 2) * double(std::numeric_limits<T>::epsilon()) * mag);
        }
    return r;
}
} // namespace

TEST_CASE("gemm: every block and edge, both layouts, against a double product") {
    const std::size_t shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 2}, {100, 70, 300}, {200, 33, 600}, {64, 16, 16}, {9, 48, 257}, {20, 100, 300}, {3, 40, 5}};
    int cases = 0;
    for (const auto &shape : shapes) {
        const std::size_t m = shape[0], n = shape[1], k = shape[2]; // not a structured binding: clang 14 cannot capture one
        for (int layout = 0; layout < 4; ++layout)
            for (int mode = 0; mode < 3; ++mode) {
                const bool at = layout & 1, bt = layout & 2, acc = mode == 1, init = mode == 2;
                const auto f = check<float, contraction::fused>(m, n, k, at, bt, acc, init);
                const auto s = check<float, contraction::separate>(m, n, k, at, bt, acc, init);
                const auto d = check<double, gemm::default_contraction>(m, n, k, at, bt, acc, init);
                INFO("m=" << m << " n=" << n << " k=" << k << " layout=" << layout << " mode=" << mode);
                CHECK(f.max_error <= f.bound);
                CHECK(s.max_error <= s.bound);
                CHECK(d.max_error <= d.bound);
                CHECK(f.epilogue_cells == m * n);
                ++cases;
            }
    }
    CHECK(cases == 9 * 12);
}

TEST_CASE("gemm: fused and separate rounding differ exactly where FMA matters") {
    // u * u + c with u = 1 + 2^-12, c = -(1 + 2^-11): 0 rounded separately, 2^-24 fused.
    // (heap buffers: with fixed one-element arrays g++ -O2 under ASan warns about the full-tile
    // path, which a 1 x 1 product never takes)
    const float u = 1.f + 0x1p-12f;
    const std::vector<float> a{u}, b{u}, init{-(1.f + 0x1p-11f)};
    std::vector<float> work(gemm::workspace<float>(1)), c(1);
    gemm::run<float, contraction::separate>(1, 1, 1, {a.data(), 1, 1}, {b.data(), 1, 1}, c.data(), 1, false, init.data(),
                                            work.data(), [](auto...) {});
    CHECK(c[0] == 0.f);
    gemm::run<float, contraction::fused>(1, 1, 1, {a.data(), 1, 1}, {b.data(), 1, 1}, c.data(), 1, false, init.data(),
                                         work.data(), [](auto...) {});
    CHECK(c[0] == 0x1p-24f);
}

// Finite-difference checks in double, shared by test_fd_ops.cpp and test_fd_compositions.cpp.
//
// Central differences D_h = (f(x+h) - f(x-h)) / 2h have error at most h^2/6 |f'''| (truncation)
// plus about eps |f| / h (rounding). With h = 1e-5 that is 1.7e-11 |f'''| + 2.2e-11 |f|; the
// tolerance allows |f'''| up to ~1e4 (1 + |f| + |f'|) for these bounded compositions:
//     tol = 1e4 (h^2 + eps / h) (1 + |f| + |f'|)  ~=  1.2e-6 (1 + |f| + |f'|).
// Points closer than 1e-3 to a kink of any piecewise node are skipped (and counted separately).
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <typeinfo>

#include <kink/kink.hpp>

using namespace kink;

namespace fd {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;
constexpr double h = 1e-5;
constexpr double eps = std::numeric_limits<double>::epsilon();

inline int checks = 0, skipped = 0;

inline double tolerance(double f, double g) { return 1e4 * (h * h + eps / h) * (1 + std::fabs(f) + std::fabs(g)); }

struct point_result {
    const char *expr;
    double a, b, value, value_again, dx, dy, fd_x, fd_y, grad_x;
};

/// The assertions, outside the templates so that doctest's code is emitted once.
inline void check_result(const point_result &r) {
    INFO("f = ", r.expr, " at x = ", r.a, ", y = ", r.b);
    CHECK(std::isfinite(r.value));
    // The fused sweep and eval run the same value rules, but the compiler may fold constant
    // subgraphs (e.g. exp(tanh(0.5))) with correctly rounded arithmetic in one and call libm in
    // the other: equal to within a few ulps, not always bit for bit.
    CHECK(std::fabs(r.value - r.value_again) <= 4 * eps * std::fabs(r.value));
    CHECK(std::fabs(r.dx - r.fd_x) <= tolerance(r.value, r.dx));
    CHECK(std::fabs(r.dy - r.fd_y) <= tolerance(r.value, r.dy));
    CHECK(std::fabs(r.grad_x - r.dx) <= 4 * eps * std::fabs(r.dx)); // grad() as a standalone expression
    checks += 2;
}

/// Compares df/dx and df/dy with central differences at (a, b); returns false if skipped.
template <class F> bool check_point(const F &f, double a, double b) {
    if (kink_distance(f, x = a, y = b) < 1e-3) {
        ++skipped;
        return false;
    }
    const auto r = value_and_grad(f, wrt(x, y), x = a, y = b);
    check_result({typeid(F).name(), a, b, r.value, eval(f, x = a, y = b), r[x], r[y],
                  (eval(f, x = a + h, y = b) - eval(f, x = a - h, y = b)) / (2 * h),
                  (eval(f, x = a, y = b + h) - eval(f, x = a, y = b - h)) / (2 * h), eval(grad(f, x), x = a, y = b)});
    return true;
}

template <class F> void check_random(const F &f, std::uint64_t seed, int points) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> uni(-2.0, 2.0);
    int done = 0;
    for (int tries = 0; done < points && tries < 8 * points; ++tries)
        if (check_point(f, uni(rng), uni(rng))) ++done;
}

} // namespace fd

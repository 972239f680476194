#pragma once
// Reproducible test data shared by the test files.

#include <cstddef>
#include <random>
#include <vector>

namespace test_data {
/// n values of T drawn uniformly from [lo, hi) by std::mt19937(seed).
template <class T = double> std::vector<T> uniform(std::size_t n, unsigned seed, double lo = -1, double hi = 1) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(lo, hi);
    std::vector<T> v(n);
    for (auto &e : v) e = static_cast<T>(u(rng));
    return v;
}
} // namespace test_data

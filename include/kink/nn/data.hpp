#pragma once
/// \file
/// Mini-batches with seeded shuffling. The permutation is a Fisher-Yates shuffle driven by
/// std::mt19937_64 with an unbiased bounded draw written here (std::shuffle and
/// std::uniform_int_distribution are implementation-defined), so a seed gives the same batches
/// on every platform and standard library.

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <numeric>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace kink::nn {

/// A uniform integer in [0, n) from a 64-bit engine, without modulo bias (rejection).
inline std::uint64_t bounded(std::mt19937_64 &rng, std::uint64_t n) {
    const std::uint64_t limit = ~std::uint64_t(0) - (~std::uint64_t(0) % n);
    std::uint64_t r;
    do r = rng();
    while (r >= limit);
    return r % n;
}

/// Epoch e's order of n samples, drawn from (seed, e): Fisher-Yates with mt19937_64 and the
/// unbiased bounded draw above. `order` is resized to n.
inline void epoch_order(std::vector<std::size_t> &order, std::size_t n, std::uint64_t seed, std::uint64_t e) {
    order.resize(n);
    std::iota(order.begin(), order.end(), std::size_t(0));
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + e);
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[bounded(rng, i)]);
}

/// Epochs of mini-batches over samples of `features` floats with integer labels (`x` holds
/// y.size() * features values; batch and features at least 1, else std::invalid_argument).
/// `x(n)`, `y(n)` view the current batch; the buffers are the batcher's own (copied rows).
/// `next()` fills the batch buffers and returns the batch size (the last batch of an epoch may
/// be smaller; 0 at the end of the epoch). `shuffle(epoch)` draws epoch e's order from
/// (seed, e), so resuming at an epoch reproduces its batches exactly.
class batcher {
  public:
    batcher(std::span<const float> x, std::span<const std::int32_t> y, std::size_t features, std::size_t batch,
            std::uint64_t seed)
        : x_(x), y_(y), features_(features), batch_(batch), seed_(seed), order_(y.size()), bx_(batch * features), by_(batch) {
        if (batch == 0) throw std::invalid_argument("kink: nn::batcher: the batch size is 0 (it must be at least 1)");
        if (features == 0) throw std::invalid_argument("kink: nn::batcher: 0 features per sample");
        if (x.size() != y.size() * features)
            throw std::invalid_argument("kink: nn::batcher: " + std::to_string(x.size()) + " input values for " +
                                        std::to_string(y.size()) + " labels of " + std::to_string(features) +
                                        " features (expected " + std::to_string(y.size() * features) + ")");
        std::iota(order_.begin(), order_.end(), std::size_t(0));
    }
    /// Starts epoch `e` in the order drawn from the seed and e.
    void shuffle(std::uint64_t e) {
        epoch_order(order_, order_.size(), seed_, e);
        pos_ = 0;
    }
    /// Starts an epoch in the stored order (evaluation).
    void in_order() {
        std::iota(order_.begin(), order_.end(), std::size_t(0));
        pos_ = 0;
    }
    std::size_t next() {
        const std::size_t n = std::min(batch_, order_.size() - pos_);
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t s = order_[pos_ + i];
            std::copy_n(x_.data() + s * features_, features_, bx_.data() + i * features_);
            by_[i] = y_[s];
        }
        pos_ += n;
        return n;
    }
    std::span<const float> x(std::size_t n) const { return {bx_.data(), n * features_}; }
    std::span<const std::int32_t> y(std::size_t n) const { return {by_.data(), n}; }
    std::size_t batches_per_epoch() const { return (order_.size() + batch_ - 1) / batch_; }
    std::size_t samples() const { return order_.size(); }
    std::size_t batch_size() const { return batch_; }

  private:
    std::span<const float> x_;
    std::span<const std::int32_t> y_;
    std::size_t features_, batch_;
    std::uint64_t seed_;
    std::vector<std::size_t> order_;
    std::size_t pos_ = 0;
    std::vector<float> bx_;
    std::vector<std::int32_t> by_;
};

} // namespace kink::nn

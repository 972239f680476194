#pragma once
/// \file
/// Mini-batches with seeded shuffling and, for images, seeded shifts and mirror images. The
/// permutation is a Fisher-Yates shuffle driven by std::mt19937_64 with an unbiased bounded draw
/// written here (std::shuffle and std::uniform_int_distribution are implementation-defined), so
/// a seed gives the same batches on every platform and standard library.

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <numeric>
#include <optional>
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

/// Random shifts and mirror images of images, the augmentation of torchvision's
/// `RandomCrop(size, padding=pad)` followed by `RandomHorizontalFlip()`: each image (channels x
/// height x width, channel-major) is padded with `pad` zeros on every side, a window of the
/// original size is cut at a random offset (each axis uniform in [0, 2 pad]), and with `flip` the
/// window is mirrored left to right with probability 1/2. The draws of a sample are a function of
/// (seed, epoch, the sample's index in the data set) alone (SplitMix64's finaliser of a counter,
/// as dropout's masks), so a resumed run, another batch size or another thread count sees the
/// same images.
struct crop_flip {
    std::size_t channels = 1, height = 28, width = 28, pad = 2;
    bool flip = true;

    /// The draw of sample `s` in epoch `e`: row and column offsets in [0, 2 pad], and the mirror.
    struct draw {
        std::size_t dy, dx;
        bool mirror;
    };
    static constexpr std::uint64_t mix(std::uint64_t z) {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    draw at(std::uint64_t seed, std::uint64_t e, std::uint64_t s) const {
        const std::uint64_t r = mix(mix(seed ^ mix(e + 0x9e3779b97f4a7c15ull)) + (s + 1) * 0x9e3779b97f4a7c15ull);
        const std::uint64_t k = 2 * pad + 1; // 3 draws from 64 bits: a bias below k / 2^21
        return {std::size_t((r & 0x1fffff) % k), std::size_t(((r >> 21) & 0x1fffff) % k), flip && ((r >> 63) & 1)};
    }
    /// dst := sample src under draw d.
    void apply(const float *src, float *dst, draw d) const {
        for (std::size_t c = 0; c < channels; ++c)
            for (std::size_t y = 0; y < height; ++y) {
                float *row = dst + (c * height + y) * width;
                const std::size_t sy = y + d.dy; // in padded coordinates
                if (sy < pad || sy >= pad + height) {
                    std::fill(row, row + width, 0.f);
                    continue;
                }
                const float *in = src + (c * height + (sy - pad)) * width;
                for (std::size_t x = 0; x < width; ++x) {
                    const std::size_t sx = (d.mirror ? width - 1 - x : x) + d.dx;
                    row[x] = sx < pad || sx >= pad + width ? 0.f : in[sx - pad];
                }
            }
    }
    std::size_t features() const { return channels * height * width; }
};

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
    /// Starts epoch `e` in the order drawn from the seed and e (and the augmentation's draws).
    void shuffle(std::uint64_t e) {
        epoch_order(order_, order_.size(), seed_, e);
        pos_ = 0;
        epoch_ = e;
        augmenting_ = augment_.has_value();
    }
    /// Starts an epoch in the stored order (evaluation), without augmentation.
    void in_order() {
        std::iota(order_.begin(), order_.end(), std::size_t(0));
        pos_ = 0;
        augmenting_ = false;
    }
    /// Augments every batch of the epochs started by shuffle (crop_flip: its geometry must hold
    /// the batcher's features per sample, else std::invalid_argument).
    void augment(const crop_flip &a) {
        if (a.features() != features_ || a.pad > a.height || a.pad > a.width)
            throw std::invalid_argument("kink: nn::batcher::augment: images of " + std::to_string(a.channels) + " x " +
                                        std::to_string(a.height) + " x " + std::to_string(a.width) + " with padding " +
                                        std::to_string(a.pad) + " for samples of " + std::to_string(features_) + " features");
        augment_ = a;
    }
    std::size_t next() {
        const std::size_t n = std::min(batch_, order_.size() - pos_);
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t s = order_[pos_ + i];
            if (augmenting_) augment_->apply(x_.data() + s * features_, bx_.data() + i * features_, augment_->at(seed_, epoch_, s));
            else std::copy_n(x_.data() + s * features_, features_, bx_.data() + i * features_);
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
    std::uint64_t epoch_ = 0;
    std::optional<crop_flip> augment_;
    bool augmenting_ = false;
    std::vector<float> bx_;
    std::vector<std::int32_t> by_;
};

} // namespace kink::nn

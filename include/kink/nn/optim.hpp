#pragma once
/// \file
/// Optimizers over a `param_store` with PyTorch's update formulas and defaults: SGD (momentum,
/// Nesterov, dampening, weight decay), Adam (L2 weight decay) and AdamW (decoupled weight
/// decay). One vectorized pass over every value; state is allocated at the first step. Square
/// root and division are the exact instructions (hardware estimates were tried: Adam over 233k
/// values is memory-bound, ~90 us either way). The learning rate is a member: schedules
/// (nn/schedule.hpp) set it per epoch.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include <kink/exec/narrow.hpp>
#include <kink/exec/simd.hpp>

namespace kink::nn {

/// Share k of `of` of [0, n) for an update split over threads: boundaries at multiples of 64
/// elements, so that every element takes the same (vector or scalar) path for any split.
inline std::pair<std::size_t, std::size_t> update_share(std::size_t n, std::size_t k, std::size_t of) {
    auto at = [&](std::size_t i) { return i == of ? n : std::min(n, n / 64 * i / of * 64); };
    return {at(k), at(k + 1)};
}

/// Adam (Kingma & Ba 2015) as torch.optim.Adam / AdamW compute it:
/// g += wd p (Adam) or p *= 1 - lr wd (AdamW, `decoupled`);
/// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
/// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
///
/// In float16 and bfloat16 the hyperparameters are kept in float (as PyTorch keeps them in
/// double): beta2 = 0.999 is 1 in bfloat16, and Adam would divide 0 by 0. Every operation on the
/// parameters and moments rounds to T, except that sqrt(v^) + eps is kept in float: 1e-8 is 0 in
/// float16, and a parameter with a zero gradient (m = v = 0) would become 0/0 = NaN (what
/// PyTorch's Adam on float16 parameters computes).
template <class T> struct adam {
    using H = accumulate_t<T>; ///< the hyperparameters' type: T, or float for the 16-bit formats
    H lr = H(1e-3), beta1 = H(0.9), beta2 = H(0.999), eps = H(1e-8), weight_decay = H(0);
    bool decoupled = false; ///< AdamW
    std::vector<T> m{}, v{};
    long t = 0;
    double beta1_t = 1, beta2_t = 1; ///< beta^t as running products: no pow() per step

    template <class Store> void step(Store &params, const Store &grads) {
        apply(params, grads, [](auto &&f) { f(std::size_t(0), std::size_t(1)); });
    }
    /// The same update split over the threads of compiled program `net` (net.threads(n)): the
    /// same values, since every element is updated on its own.
    template <class Store, class Net>
        requires requires(const Net &n) { n.threads(); }
    void step(Store &params, const Store &grads, Net &net) {
        apply(params, grads, [&](auto &&f) { net.on_threads(f); });
    }


  private:
    /// The update, with `run` calling its argument f(k, n) for each of n shares (k = 0 .. n-1).
    template <class Store, class Run> void apply(Store &params, const Store &grads, Run &&run) {
        auto p = params.flat();
        auto g = grads.flat();
        if (m.size() != p.size()) m.assign(p.size(), T(0)), v.assign(p.size(), T(0));
        ++t;
        beta1_t *= double(beta1);
        beta2_t *= double(beta2);
        run([&](std::size_t k, std::size_t of) {
            const auto [a, e] = update_share(params.trained().size(), k, of); // not the running statistics
            update(p.data(), g.data(), m.data(), v.data(), a, e);
        });
    }
    void update(T *pp, const T *gp, T *mp, T *vp, std::size_t a, std::size_t n) {
        pp += a, gp += a, mp += a, vp += a, n -= a;
        if constexpr (is_narrow_v<T>) { // each operation rounded to T, the scalars in float
            auto r = [](float x) { return float(T(x)); };
            const float fs = float(lr) / float(1.0 - beta1_t), fc2 = float(std::sqrt(1.0 - beta2_t));
            const float fl2 = decoupled ? 0.f : float(weight_decay);
            const float fshrink = decoupled ? 1.f - float(lr) * float(weight_decay) : 1.f;
            for (std::size_t i = 0; i < n; ++i) {
                const float gi = fl2 != 0.f ? r(float(gp[i]) + r(fl2 * float(pp[i]))) : float(gp[i]);
                const float pi = fshrink != 1.f ? r(float(pp[i]) * fshrink) : float(pp[i]);
                const float mi = r(r(float(beta1) * float(mp[i])) + r((1.f - float(beta1)) * gi));
                const float vi = r(r(float(beta2) * float(vp[i])) + r((1.f - float(beta2)) * r(gi * gi)));
                mp[i] = T(mi);
                vp[i] = T(vi);
                // sqrt(v^) + eps stays in float: eps = 1e-8 rounds to 0 in float16, and a
                // parameter whose gradient is 0 would divide 0 by 0
                const float denom = r(r(std::sqrt(vi)) / fc2) + float(eps);
                pp[i] = T(pi - r(r(fs * mi) / denom));
            }
        } else {
            const T c1 = static_cast<T>(1.0 - beta1_t);
            const T c2 = static_cast<T>(std::sqrt(1.0 - beta2_t));
            const T step_size = lr / c1, b1 = beta1, b2 = beta2, e = eps;
            const T l2 = decoupled ? T(0) : weight_decay, shrink = decoupled ? T(1) - lr * weight_decay : T(1);
            using V = simd::vec_t<T>;
            constexpr std::size_t L = simd::lanes<T>;
            const std::size_t nv = n / L * L;
            for (std::size_t i = 0; i < nv; i += L) {
                V pi = simd::load<V>(pp + i);
                V gi = simd::load<V>(gp + i);
                if (l2 != T(0)) gi = gi + simd::apart(l2 * pi);
                if (shrink != T(1)) pi = simd::apart(pi * shrink);
                const V mi = simd::apart(b1 * simd::load<V>(mp + i)) + simd::apart((T(1) - b1) * gi);
                const V vi = simd::apart(b2 * simd::load<V>(vp + i)) + simd::apart((T(1) - b2) * gi * gi);
                simd::store<V>(mp + i, mi);
                simd::store<V>(vp + i, vi);
                const V denom = simd::sqrt_v(vi) / c2 + e;
                simd::store<V>(pp + i, pi - simd::apart(step_size * mi / denom));
            }
            for (std::size_t i = nv; i < n; ++i) {
                T gi = gp[i] + simd::apart(l2 * pp[i]);
                pp[i] = simd::apart(pp[i] * shrink);
                mp[i] = simd::apart(b1 * mp[i]) + simd::apart((T(1) - b1) * gi);
                vp[i] = simd::apart(b2 * vp[i]) + simd::apart((T(1) - b2) * gi * gi);
                pp[i] -= simd::apart(step_size * mp[i] / (std::sqrt(vp[i]) / c2 + e));
            }
        }
    }
};

/// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019); PyTorch's default 0.01.
template <class T> struct adamw : adam<T> {
    adamw() {
        this->decoupled = true;
        this->weight_decay = T(0.01);
    }
};

/// SGD as torch.optim.SGD: g += wd p; buf = mu buf + (1 - dampening) g (buf = g at the first
/// step); g = g + mu buf (Nesterov) or buf; p -= lr g.
template <class T> struct sgd {
    T lr = T(1e-2), momentum = T(0), dampening = T(0), weight_decay = T(0);
    bool nesterov = false;
    std::vector<T> buf{};
    long t = 0;

    template <class Store> void step(Store &params, const Store &grads) {
        apply(params, grads, [](auto &&f) { f(std::size_t(0), std::size_t(1)); });
    }
    /// The same update split over the threads of compiled program `net` (the same values).
    template <class Store, class Net>
        requires requires(const Net &n) { n.threads(); }
    void step(Store &params, const Store &grads, Net &net) {
        apply(params, grads, [&](auto &&f) { net.on_threads(f); });
    }


  private:
    /// The update, with `run` calling its argument f(k, n) for each of n shares (k = 0 .. n-1).
    template <class Store, class Run> void apply(Store &params, const Store &grads, Run &&run) {
        auto p = params.flat();
        auto g = grads.flat();
        const bool first = t++ == 0;
        if (momentum != T(0) && buf.size() != p.size()) buf.assign(p.size(), T(0));
        run([&](std::size_t k, std::size_t of) {
            const auto [a, e] = update_share(params.trained().size(), k, of); // not the running statistics
            for (std::size_t i = a; i < e; ++i) {
                T d = g[i] + simd::apart(weight_decay * p[i]);
                if (momentum != T(0)) {
                    buf[i] = first ? d : simd::apart(momentum * buf[i]) + simd::apart((T(1) - dampening) * d);
                    d = nesterov ? d + simd::apart(momentum * buf[i]) : buf[i];
                }
                p[i] -= simd::apart(lr * d);
            }
        });
    }
};

} // namespace kink::nn

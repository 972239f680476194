#pragma once
/// \file
/// Optimizers over a `param_store`: plain SGD (with momentum) and Adam, with PyTorch's update
/// formulas (torch.optim.SGD / torch.optim.Adam defaults), one vectorized pass over every value.
/// State is allocated at the first step. Square root and division are the exact instructions
/// (hardware estimates were tried: Adam over 233k values is memory-bound, ~90 us either way).

#include <cmath>
#include <cstddef>
#include <vector>

#include <kink/exec/gemm.hpp>

namespace kink::nn {

/// Adam (Kingma & Ba 2015) as torch.optim.Adam computes it:
/// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
/// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
template <class T> struct adam {
    T lr = T(1e-3), beta1 = T(0.9), beta2 = T(0.999), eps = T(1e-8);
    std::vector<T> m{}, v{};
    long t = 0;
    double beta1_t = 1, beta2_t = 1;

    template <class Store> void step(Store &params, const Store &grads) {
        auto p = params.flat();
        auto g = grads.flat();
        if (m.size() != p.size()) m.assign(p.size(), T(0)), v.assign(p.size(), T(0));
        ++t;
        beta1_t *= double(beta1); // beta^t as running products: no pow() per step
        beta2_t *= double(beta2);
        const T c1 = static_cast<T>(1.0 - beta1_t);
        const T c2 = static_cast<T>(std::sqrt(1.0 - beta2_t));
        const T step_size = lr / c1, b1 = beta1, b2 = beta2, e = eps;
        T *pp = p.data();
        const T *gp = g.data();
        T *mp = m.data(), *vp = v.data();
        using V = gemm::vec_t<T>;
        constexpr std::size_t L = gemm::lanes<T>;
        const std::size_t n = p.size(), nv = n / L * L;
        for (std::size_t i = 0; i < nv; i += L) {
            const V gi = gemm::load<V>(gp + i);
            const V mi = b1 * gemm::load<V>(mp + i) + (T(1) - b1) * gi;
            const V vi = b2 * gemm::load<V>(vp + i) + (T(1) - b2) * gi * gi;
            gemm::store<V>(mp + i, mi);
            gemm::store<V>(vp + i, vi);
            const V denom = gemm::sqrt_v(vi) / c2 + e;
            gemm::store<V>(pp + i, gemm::load<V>(pp + i) - step_size * mi / denom);
        }
        for (std::size_t i = nv; i < n; ++i) {
            mp[i] = b1 * mp[i] + (T(1) - b1) * gp[i];
            vp[i] = b2 * vp[i] + (T(1) - b2) * gp[i] * gp[i];
            pp[i] -= step_size * mp[i] / (std::sqrt(vp[i]) / c2 + e);
        }
    }
};

/// SGD with optional momentum, as torch.optim.SGD: buf = mu buf + g; p -= lr buf.
template <class T> struct sgd {
    T lr = T(1e-2), momentum = T(0);
    std::vector<T> buf{};

    template <class Store> void step(Store &params, const Store &grads) {
        auto p = params.flat();
        auto g = grads.flat();
        if (momentum == T(0)) {
            for (std::size_t i = 0; i < p.size(); ++i) p[i] -= lr * g[i];
            return;
        }
        if (buf.size() != p.size()) buf.assign(g.begin(), g.end());
        else
            for (std::size_t i = 0; i < p.size(); ++i) buf[i] = momentum * buf[i] + g[i];
        for (std::size_t i = 0; i < p.size(); ++i) p[i] -= lr * buf[i];
    }
};

} // namespace kink::nn

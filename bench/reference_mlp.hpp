#pragma once
// The hand-written reference for bench cases 1 and 2: an MLP with ReLU between layers, written
// as plain loops a careful C++ programmer would write (weights stored input-major so the forward
// pass and the weight gradient are contiguous axpy loops the compiler vectorizes; the input
// gradient is a dot product split over 8 accumulators). Same initialisation bounds and Adam as
// kink and PyTorch. No BLAS: the project's build has no BLAS option.

#include <array>
#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

namespace refmlp {

template <std::size_t L> struct mlp {
    std::array<std::size_t, L + 1> n;
    std::array<std::vector<float>, L> w, b, dw, db; // w[l][i * out + o] (input-major)
    std::array<std::vector<float>, L + 1> a;        // activations per layer, a[0] = input copy
    std::array<std::vector<float>, L> d;            // gradients of the pre-activations
    std::vector<float> m, v;
    long t = 0;

    mlp(std::array<std::size_t, L + 1> sizes, unsigned seed) : n(sizes) {
        std::mt19937 rng(seed);
        for (std::size_t l = 0; l < L; ++l) {
            const double bound = 1.0 / std::sqrt(double(n[l]));
            std::uniform_real_distribution<double> u(-bound, bound);
            w[l].resize(n[l] * n[l + 1]);
            b[l].resize(n[l + 1]);
            for (auto &x : w[l]) x = float(u(rng));
            for (auto &x : b[l]) x = float(u(rng));
            dw[l].assign(w[l].size(), 0.f);
            db[l].assign(b[l].size(), 0.f);
        }
    }

    void forward(const float *x, std::size_t batch) {
        a[0].assign(x, x + batch * n[0]);
        for (std::size_t l = 0; l < L; ++l) {
            const std::size_t in = n[l], out = n[l + 1];
            a[l + 1].resize(batch * out);
            for (std::size_t s = 0; s < batch; ++s) {
                float *h = &a[l + 1][s * out];
                for (std::size_t o = 0; o < out; ++o) h[o] = b[l][o];
                for (std::size_t i = 0; i < in; ++i) {
                    const float xi = a[l][s * in + i];
                    const float *wi = &w[l][i * out];
                    for (std::size_t o = 0; o < out; ++o) h[o] += xi * wi[o];
                }
                if (l + 1 < L)
                    for (std::size_t o = 0; o < out; ++o) h[o] = h[o] > 0.f ? h[o] : 0.f;
            }
        }
    }

    void backward(std::size_t batch) {
        for (std::size_t l = L; l-- > 0;) {
            const std::size_t in = n[l], out = n[l + 1];
            const float *g = d[l].data();
            std::fill(dw[l].begin(), dw[l].end(), 0.f);
            std::fill(db[l].begin(), db[l].end(), 0.f);
            for (std::size_t s = 0; s < batch; ++s) {
                for (std::size_t o = 0; o < out; ++o) db[l][o] += g[s * out + o];
                for (std::size_t i = 0; i < in; ++i) {
                    const float ai = a[l][s * in + i];
                    float *dwi = &dw[l][i * out];
                    for (std::size_t o = 0; o < out; ++o) dwi[o] += ai * g[s * out + o];
                }
            }
            if (l == 0) break;
            d[l - 1].resize(batch * in);
            for (std::size_t s = 0; s < batch; ++s)
                for (std::size_t i = 0; i < in; ++i) {
                    float acc[8] = {};
                    const float *wi = &w[l][i * out];
                    const float *gs = g + s * out;
                    std::size_t o = 0;
                    for (; o + 8 <= out; o += 8)
                        for (std::size_t k = 0; k < 8; ++k) acc[k] += wi[o + k] * gs[o + k];
                    float sum = 0;
                    for (; o < out; ++o) sum += wi[o] * gs[o];
                    for (float x : acc) sum += x;
                    d[l - 1][s * in + i] = a[l][s * in + i] > 0.f ? sum : 0.f;
                }
        }
    }

    float step_ce(const float *x, const int *y, std::size_t batch) {
        forward(x, batch);
        const std::size_t k = n[L];
        d[L - 1].resize(batch * k);
        float loss = 0;
        for (std::size_t s = 0; s < batch; ++s) {
            const float *z = &a[L][s * k];
            float mx = z[0];
            for (std::size_t j = 1; j < k; ++j) mx = std::max(mx, z[j]);
            float sum = 0;
            for (std::size_t j = 0; j < k; ++j) sum += std::exp(z[j] - mx);
            loss += mx + std::log(sum) - z[y[s]];
            for (std::size_t j = 0; j < k; ++j)
                d[L - 1][s * k + j] = (std::exp(z[j] - mx) / sum - (int(j) == y[s] ? 1.f : 0.f)) / float(batch);
        }
        backward(batch);
        return loss / float(batch);
    }

    float step_mse(const float *x, const float *target, std::size_t batch) {
        forward(x, batch);
        const std::size_t k = n[L];
        d[L - 1].resize(batch * k);
        float loss = 0;
        for (std::size_t s = 0; s < batch; ++s)
            for (std::size_t j = 0; j < k; ++j) {
                const float r = a[L][s * k + j] - target[s * k + j];
                loss += r * r;
                d[L - 1][s * k + j] = 2.f * r / float(batch * k);
            }
        backward(batch);
        return loss / float(batch * k);
    }

    void adam(float lr = 1e-3f, float b1 = 0.9f, float b2 = 0.999f, float eps = 1e-8f) {
        std::size_t total = 0;
        for (std::size_t l = 0; l < L; ++l) total += w[l].size() + b[l].size();
        if (m.size() != total) m.assign(total, 0.f), v.assign(total, 0.f);
        ++t;
        const float c1 = 1.f - float(std::pow(b1, double(t))), c2 = float(std::sqrt(1.0 - std::pow(b2, double(t))));
        std::size_t k = 0;
        auto upd = [&](std::vector<float> &p, const std::vector<float> &g) {
            for (std::size_t i = 0; i < p.size(); ++i, ++k) {
                m[k] = b1 * m[k] + (1.f - b1) * g[i];
                v[k] = b2 * v[k] + (1.f - b2) * g[i] * g[i];
                p[i] -= lr / c1 * m[k] / (std::sqrt(v[k]) / c2 + eps);
            }
        };
        for (std::size_t l = 0; l < L; ++l) {
            upd(w[l], dw[l]);
            upd(b[l], db[l]);
        }
    }
};

} // namespace refmlp

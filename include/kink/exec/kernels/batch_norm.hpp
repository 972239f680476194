#pragma once
/// \file
/// Kernels of batch normalisation's two ops (ops/batch_norm.hpp). The statistics are a batch
/// reduction (exec/kernel.hpp) whose chunks' partials are merged, not added: each chunk's count,
/// mean and sum of squared deviations per channel.

#include <cmath>
#include <cstddef>

#include <kink/exec/kernel.hpp>
#include <kink/ops/batch_norm.hpp>

namespace kink {

template <int Num, int Den> struct kernel<batch_norm_stats_op<Num, Den>> {
    using Op = batch_norm_stats_op<Num, Den>;
    static constexpr bool batch_reduction = true;
    template <class N> static constexpr std::size_t partial_size = Op::fields * channel_geometry<shape_of_t<arg_t<0, N>>>::channels;
    template <class C> using geometry = channel_geometry<shape_of_t<arg_t<0, typename C::node>>>;
    template <class C> static void forward(C &c) {
        using G = geometry<C>;
        Op::accumulate(c.template in<0>(), c.rows(), G::channels, G::positions, c.partial());
    }
    /// Chunk b's partials after a's (a holds the chunks before b).
    template <class N> static void merge(double *a, const double *b) { Op::merge(a, b, channel_geometry<shape_of_t<arg_t<0, N>>>::channels); }
    /// The value, and in a training step the running statistics (arguments 1 and 2).
    template <class C> static void finish(C &c) {
        using G = geometry<C>;
        Op::finish(c.partial(), G::channels, static_cast<double>(c.template in<3>()[0]), c.out());
        if (c.training()) Op::keep(c.partial(), G::channels, c.template running<1>(), c.template running<2>());
    }
    template <class C> static void backward(C &c) {
        using G = geometry<C>;
        static_assert(!C::template needs<1> && !C::template needs<2> && !C::template needs<3>,
                      "kink: batch_norm_stats: the running statistics and eps are constants of the step: they have no gradient");
        if constexpr (C::template needs<0>)
            Op::template backward<C::template assign<0>>(c.template in<0>(), c.out(), c.grad(), c.rows(), G::channels, G::positions,
                                                         c.batch() * G::positions, c.template arg_grad<0>());
    }
};

template <> struct kernel<running_stats_op> {
    static constexpr bool writes_whole = true;
    template <class C> static void forward(C &c) {
        constexpr std::size_t n = shape_of_t<arg_t<0, typename C::node>>::size;
        using T = typename C::T;
        const T *m = c.template in<0>(), *v = c.template in<1>();
        const double eps = static_cast<double>(c.template in<2>()[0]);
        for (std::size_t j = 0; j < n; ++j) {
            c.out()[j] = m[j];
            c.out()[n + j] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(v[j]) + eps));
        }
    }
    /// d mean = g_mean, d var = -1/2 invstd^3 g_invstd (eps: their sum).
    template <class C> static void backward(C &c) {
        constexpr std::size_t n = shape_of_t<arg_t<0, typename C::node>>::size;
        using T = typename C::T;
        const T *g = c.grad(), *s = c.out();
        double de = 0;
        for (std::size_t j = 0; j < n; ++j) {
            const double is = static_cast<double>(s[n + j]), dv = -0.5 * is * is * is * static_cast<double>(g[n + j]);
            de += dv;
            if constexpr (C::template needs<0>) {
                T *d = c.template arg_grad<0>();
                d[j] = C::template assign<0> ? g[j] : static_cast<T>(d[j] + g[j]);
            }
            if constexpr (C::template needs<1>) {
                T *d = c.template arg_grad<1>();
                d[j] = C::template assign<1> ? static_cast<T>(dv) : static_cast<T>(d[j] + static_cast<T>(dv));
            }
        }
        if constexpr (C::template needs<2>) {
            T *d = c.template arg_grad<2>();
            d[0] = C::template assign<2> ? static_cast<T>(de) : static_cast<T>(d[0] + static_cast<T>(de));
        }
    }
};

/// batch_norm_apply's forward hosts the elementwise nodes after it (the relu after a batch norm,
/// a residual sum and its relu): each runs on a plane while it is in cache, not as a pass of its own.
template <> struct kernel<batch_norm_apply_op> {
    using Op = batch_norm_apply_op;
    static constexpr bool writes_whole = true;
    static constexpr bool epilogue = true;
    template <class C> using geometry = channel_geometry<shape_of_t<arg_t<0, typename C::node>>>;
    template <class C> static void forward(C &c) {
        using G = geometry<C>;
        // per plane of an image's channel; per sample for vectors and small planes
        constexpr std::size_t per = G::positions >= 64 ? 1 : G::channels;
        for (std::size_t r = 0; r < c.rows(); ++r)
            for (std::size_t c0 = 0; c0 < G::channels; c0 += per) {
                for (std::size_t ch = c0; ch < c0 + per; ++ch)
                    Op::plane(c.template in<0>(), c.template in<1>(), c.template in<2>(), c.template in<3>(), r, ch, G::channels,
                              G::positions, c.out());
                c.epilogue(r, r + 1, c0 * G::positions, (c0 + per) * G::positions);
            }
    }
    template <class C> static void backward(C &c) {
        using G = geometry<C>;
        using T = typename C::T;
        constexpr std::size_t Ch = G::channels;
        const T *x = c.template in<0>(), *s = c.template in<1>(), *w = c.template in<2>(), *g = c.grad();
        constexpr bool sums = C::template needs<1> || C::template needs<2> || C::template needs<3>;
        if constexpr (sums) { // with dx in the same pass over g, when it is needed
            double sg[Ch], sgx[Ch];
            T *dx = nullptr;
            if constexpr (C::template needs<0>) dx = c.template arg_grad<0>();
            Op::template sums<T, C::template needs<0>, C::template assign<0>>(x, s, g, c.rows(), Ch, G::positions, sg, sgx, w, dx);
            const auto put = [](T *d, std::size_t j, double v, bool assign) { d[j] = assign ? static_cast<T>(v) : static_cast<T>(d[j] + static_cast<T>(v)); };
            for (std::size_t k = 0; k < Ch; ++k) {
                const double wk = static_cast<double>(w[k]), is = static_cast<double>(s[Ch + k]);
                if constexpr (C::template needs<1>) {
                    put(c.template arg_grad<1>(), k, -sg[k] * wk * is, C::template assign<1>);
                    put(c.template arg_grad<1>(), Ch + k, sgx[k] * wk, C::template assign<1>);
                }
                if constexpr (C::template needs<2>) put(c.template arg_grad<2>(), k, sgx[k] * is, C::template assign<2>);
                if constexpr (C::template needs<3>) put(c.template arg_grad<3>(), k, sg[k], C::template assign<3>);
            }
        }
        if constexpr (C::template needs<0> && !sums)
            Op::template input_grad<C::template assign<0>>(g, s, w, c.rows(), Ch, G::positions, c.template arg_grad<0>());
    }
};

} // namespace kink

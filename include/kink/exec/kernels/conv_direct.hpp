#pragma once
/// \file
/// Direct kernels for convolutions on few input channels (an image network's first layer: grey
/// or RGB), stride 1 and no dilation: the forward pass and the weight gradient without an
/// unfolded matrix.
///
/// With C <= 4 channels, the unfolding of exec/kernels/conv.hpp costs as much as the products:
/// K = C KH KW is small (25 for LeNet's first layer), so copying K P values feeds only O K P
/// multiply-adds with O = 6, and the matrix product's tiles are mostly padding (6 of 8 rows,
/// 25 of 32 columns). The direct kernels read the input in place instead, through one trick:
/// the input plane is copied once into a zero-bordered plane of width PW = W + 2p, and the
/// outputs are computed at "virtual" positions q = i PW + j for every j < PW (the columns
/// j >= OW are never stored). Then tap (c, u, v) of the outputs q .. q + L - 1 is the L
/// consecutive inputs from q + u PW + v: lanes v .. v + L - 1 of the vectors loaded once from
/// q + u PW (a shuffle per tap), shared by every output channel. The virtual columns cost
/// (KW - 1) / PW of the work (4/32 for LeNet), against the unfolding and the padded tiles saved
/// (bench/run case 5).
///
///   forward        y[o, q] = sum over (c, u, v) in that order of w[o, c, u, v] x[c, q + u PW + v]
///                  (the order and rounding of the matrix product's k loop: the same bits)
///   weight grad    dW[o, c, u, v] = sum over samples and q of g[o, q] x[c, q + u PW + v], with g
///                  set to 0 at the virtual columns; each lane sums its q = l (mod L) over the
///                  samples in order, and the L lane sums are added in lane order at the end
///                  of the batch (a fixed order: it depends on the vector width, not on the data)
///
/// The input gradient, which a first layer rarely needs (its input is data), goes through the
/// unfolding path.

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>

#include <kink/exec/simd.hpp>
#include <kink/exec/storage.hpp>

namespace kink::detail {

/// Calls f.template operator()<v>() for every tap column v of conv2d dimensions D (compile-time),
/// so that what depends on v is a constant: the unfolding's row copies (exec/kernels/conv.hpp)
/// have constant lengths and compile to vector moves (a run-time length becomes `rep movs` under
/// -march=native, whose start-up costs more than a 28-value row), and the direct kernels' lane
/// shifts below are shuffles.
template <class D, class F> constexpr void each_tap_column(F &&f) {
    [&]<std::size_t... V>(std::index_sequence<V...>) { (f.template operator()<V>(), ...); }(std::make_index_sequence<D::KW>{});
}

/// The geometry of the direct kernels for conv2d dimensions D (exec/kernels/conv.hpp) and value
/// type T.
template <class D, class T> struct direct_conv {
    static constexpr std::size_t L = simd::lanes<T>;
    static constexpr std::size_t p = D::g.padding, PH = D::H + 2 * p, PW = D::Wd + 2 * p;
    /// The virtual outputs (OH rows of PW), in whole vectors.
    static constexpr std::size_t QV = (D::OH * PW + L - 1) / L, QN = QV * L;
    /// The vectors a tap row reads beyond its first: taps v = 0 .. KW - 1 are lanes v .. v + L - 1
    /// of the vectors loaded from its start (one load per vector, the shifts are shuffles: an
    /// unaligned load at every tap would split across cache lines KW - 1 times in KW).
    static constexpr std::size_t extra = (D::KW - 1) / L + 1;
    /// A padded channel plane with room for the last vector's taps.
    static constexpr std::size_t XS = round16(std::max(PH * PW, QN + (D::KH - 1) * PW + extra * L));
    /// The vector registers the accumulators may take: 32 with AVX-512, 16 otherwise.
    static constexpr std::size_t registers = simd::vector_bytes == 64 ? 28 : 14;
    /// At most `most` channels per group, the O channels in groups as equal as that allows.
    static constexpr std::size_t balanced(std::size_t most) {
        most = std::max<std::size_t>(1, std::min(D::O, most));
        const std::size_t groups = (D::O + most - 1) / most;
        return (D::O + groups - 1) / groups;
    }
    /// Forward: NQ vectors of outputs for G output channels at a time (G NQ accumulators, the
    /// NQ + extra loaded vectors and NQ shifted ones).
    static constexpr std::size_t NQ = std::min<std::size_t>(QV, simd::vector_bytes == 64 ? 3 : 2);
    static constexpr std::size_t G = balanced((registers - 2 * NQ - extra) / NQ);
    /// Weight gradient: KW taps for GW output channels at a time (GW KW accumulators, GW
    /// gradient vectors, 1 + extra loaded vectors and a shifted one).
    static constexpr std::size_t GW = balanced((registers - extra - 2) / (D::KW + 1));
    /// Scratch: the padded input planes, a virtual plane per output channel (the forward
    /// outputs or the gradient), the weight gradient's lane sums.
    static constexpr std::size_t x_size = D::C * XS, v_size = round16(D::O * QN), part_size = round16(D::O * D::K * L);
    static constexpr std::size_t scratch = x_size + v_size + part_size;
    /// When the direct kernels are used: few input channels, stride 1, no dilation, float or
    /// double, taps that fit the registers, and virtual columns that waste at most a quarter.
    static constexpr bool usable = (std::is_same_v<T, float> || std::is_same_v<T, double>) && D::C <= 4 && D::g.stride == 1 &&
                                   D::g.dilation == 1 && !D::pointwise && D::KW + extra + 3 <= registers && 4 * D::OW >= 3 * PW;

    /// Lanes S .. S + L - 1 of the vectors b[n], b[n + 1], ... laid end to end (S < extra L).
    template <std::size_t S, class V, std::size_t NB> static V shifted(const V (&b)[NB], std::size_t n) {
        constexpr std::size_t whole = S / L, part = S % L;
        if constexpr (part == 0) return b[n + whole];
        else
            return [&]<std::size_t... I>(std::index_sequence<I...>) {
                return V(__builtin_shufflevector(b[n + whole], b[n + whole + 1], (part + I)...));
            }(std::make_index_sequence<L>{});
    }

    /// The padded planes of one sample: x (C x H x W) into xp (C planes of XS, zero outside).
    static void pad(const T *__restrict x, T *__restrict xp) {
        std::fill(xp, xp + x_size, T(0));
        for (std::size_t c = 0; c < D::C; ++c)
            for (std::size_t i = 0; i < D::H; ++i)
                std::copy(x + (c * D::H + i) * D::Wd, x + (c * D::H + i + 1) * D::Wd, xp + c * XS + (i + p) * PW + p);
    }

    /// Forward outputs q0 .. q0 + N L of output channels o0 .. o0 + GB into the virtual planes yv.
    template <std::size_t GB, std::size_t N, contraction F>
    static void forward_block(const T *__restrict xp, const T *__restrict w, T *__restrict yv, std::size_t o0, std::size_t q0) {
        using V = simd::vec_t<T>;
        V acc[GB][N];
        for (std::size_t g = 0; g < GB; ++g)
            for (std::size_t n = 0; n < N; ++n) acc[g][n] = V{};
        for (std::size_t c = 0; c < D::C; ++c)
            for (std::size_t u = 0; u < D::KH; ++u) {
                const T *xr = xp + c * XS + q0 + u * PW;
                const T *wr = w + o0 * D::K + (c * D::KH + u) * D::KW;
                V base[N + extra];
#pragma GCC unroll 8
                for (std::size_t n = 0; n < N + extra; ++n) base[n] = simd::load<V>(xr + n * L);
                each_tap_column<D>([&]<std::size_t v>() {
                    V xv[N];
#pragma GCC unroll 4
                    for (std::size_t n = 0; n < N; ++n) xv[n] = shifted<v>(base, n);
#pragma GCC unroll 28
                    for (std::size_t g = 0; g < GB; ++g) {
                        const V wv = simd::splat<V>(wr[g * D::K + v]);
#pragma GCC unroll 4
                        for (std::size_t n = 0; n < N; ++n) acc[g][n] = simd::mul_add<F, T>(wv, xv[n], acc[g][n]);
                    }
                });
            }
        for (std::size_t g = 0; g < GB; ++g)
            for (std::size_t n = 0; n < N; ++n) simd::store<V>(yv + (o0 + g) * QN + q0 + n * L, acc[g][n]);
    }
    template <std::size_t GB, contraction F> static void forward_channels(const T *xp, const T *w, T *yv, std::size_t o0) {
        std::size_t q = 0;
        for (; q + NQ <= QV; q += NQ) forward_block<GB, NQ, F>(xp, w, yv, o0, q * L);
        if constexpr (QV % NQ != 0) forward_block<GB, QV % NQ, F>(xp, w, yv, o0, q * L);
    }
    /// The virtual output planes of one sample (padded input xp, weights w [O, C, KH, KW]).
    template <contraction F> static void forward(const T *xp, const T *w, T *yv) {
        std::size_t o = 0;
        for (; o + G <= D::O; o += G) forward_channels<G, F>(xp, w, yv, o);
        if constexpr (D::O % G != 0) forward_channels<D::O % G, F>(xp, w, yv, o);
    }
    /// Output channel o's plane (OH x OW) from its virtual plane.
    static const T *virtual_row(const T *yv, std::size_t o, std::size_t i) { return yv + o * QN + i * PW; }

    /// The virtual gradient planes of one sample: g (O x OH x OW) into gv, 0 at the virtual columns.
    static void spread(const T *__restrict g, T *__restrict gv) {
        for (std::size_t o = 0; o < D::O; ++o) {
            T *__restrict plane = gv + o * QN;
            for (std::size_t i = 0; i < D::OH; ++i) {
                std::copy(g + (o * D::OH + i) * D::OW, g + (o * D::OH + i + 1) * D::OW, plane + i * PW);
                std::fill(plane + i * PW + D::OW, plane + (i + 1) * PW, T(0));
            }
            std::fill(plane + D::OH * PW, plane + QN, T(0));
        }
    }
    /// Adds one sample's products for channel c, tap row u, output channels o0 .. o0 + GB to the
    /// lane sums `part` ([O][K][L]).
    template <std::size_t GB, contraction F>
    static void wgrad_block(const T *__restrict xp, const T *__restrict gv, T *__restrict part, std::size_t o0, std::size_t c, std::size_t u) {
        using V = simd::vec_t<T>;
        V acc[GB][D::KW];
        for (std::size_t g = 0; g < GB; ++g)
            for (std::size_t v = 0; v < D::KW; ++v) acc[g][v] = V{};
        const T *xr = xp + c * XS + u * PW;
        for (std::size_t q = 0; q < QN; q += L) {
            V gg[GB];
#pragma GCC unroll 28
            for (std::size_t g = 0; g < GB; ++g) gg[g] = simd::load<V>(gv + (o0 + g) * QN + q);
            V base[1 + extra];
#pragma GCC unroll 8
            for (std::size_t n = 0; n <= extra; ++n) base[n] = simd::load<V>(xr + q + n * L);
            each_tap_column<D>([&]<std::size_t v>() {
                const V x = shifted<v>(base, 0);
#pragma GCC unroll 28
                for (std::size_t g = 0; g < GB; ++g) acc[g][v] = simd::mul_add<F, T>(gg[g], x, acc[g][v]);
            });
        }
        for (std::size_t g = 0; g < GB; ++g)
            for (std::size_t v = 0; v < D::KW; ++v) {
                T *lane = part + ((o0 + g) * D::K + (c * D::KH + u) * D::KW + v) * L;
                simd::store<V>(lane, simd::load<V>(lane) + acc[g][v]);
            }
    }
    template <contraction F> static void wgrad(const T *xp, const T *gv, T *part) {
        for (std::size_t c = 0; c < D::C; ++c)
            for (std::size_t u = 0; u < D::KH; ++u) {
                std::size_t o = 0;
                for (; o + GW <= D::O; o += GW) wgrad_block<GW, F>(xp, gv, part, o, c, u);
                if constexpr (D::O % GW != 0) wgrad_block<D::O % GW, F>(xp, gv, part, o, c, u);
            }
    }
};

} // namespace kink::detail

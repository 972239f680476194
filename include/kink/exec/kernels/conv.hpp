#pragma once
/// \file
/// Kernels of conv2d (and flatten, a view). The convolution is an implicit matrix product per
/// sample, through the GEMM kernel of the dense layers (so AVX-512, AVX2 and the portable path
/// come with it), on NCHW values:
///
///   forward        Y_s (O x P) = W (O x K) col(x_s) (K x P),   K = C KH KW, P = OH OW
///   weight grad    dW (O x K) += G_s (O x P) col(x_s)^T (P x K)
///   input grad     dcol (K x P) = W^T (K x O) G_s (O x P), then col2im adds dcol into dx_s
///
/// col(x_s) is the unfolded input ("im2col": row (c, u, v), column (i, j) holds
/// x[c, s i + d u - p, s j + d v - p], 0 in the padding), built per sample in a scratch buffer
/// of K x P values that stays in L2 for the networks of examples/ (400 x 196 floats for the
/// second layer of the Fashion-MNIST CNN); a 1 x 1 convolution with stride 1 and no padding
/// reads x_s in place. Unfolding instead of a direct convolution: the GEMM kernel is already
/// tuned (packing, register tiles, FMA choice), and the unfolding costs K P copies against
/// O K P multiply-adds, 1/O of the work (bench/run case 6 measures the whole). Layers with at
/// most 4 input channels and stride 1, where K is too small for that to hold, run the direct
/// kernels of exec/kernels/conv_direct.hpp for the forward pass and the weight gradient. NCHW keeps
/// `flatten` free and the layout PyTorch users save and load; the cost is that the batch cannot
/// be folded into the GEMM's columns without a second layout.
///
/// The bias is added to each finished tile, after the products (`bias_at::end`, what PyTorch's
/// CPU convolutions compute), followed by the elementwise nodes fused after the convolution
/// (a relu: its kink is then decided on the value the tile holds).

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <type_traits>

#include <kink/exec/gemm.hpp>
#include <kink/exec/kernel.hpp>
#include <kink/exec/kernels/conv_direct.hpp>
#include <kink/exec/simd.hpp>
#include <kink/exec/storage.hpp>
#include <kink/ops/conv.hpp>

namespace kink {

template <> struct kernel<flatten_op> {
    static constexpr storage_kind storage = storage_kind::alias;
};

namespace detail {
/// The dimensions of conv2d node N.
template <class N> struct conv_dims {
    using X = shape_of_t<arg_t<0, N>>;
    using W = shape_of_t<arg_t<1, N>>;
    static constexpr conv g = op_t<N>::geometry;
    static constexpr std::size_t C = X::dims[0], H = X::dims[1], Wd = X::dims[2];
    static constexpr std::size_t O = W::dims[0], KH = W::dims[2], KW = W::dims[3];
    static constexpr std::size_t OH = shape_of_t<N>::dims[1], OW = shape_of_t<N>::dims[2];
    static constexpr std::size_t K = C * KH * KW, P = OH * OW, in_size = C * H * Wd;
    /// K rounded up to the widest GEMM tile (32 floats, AVX-512): the row stride of the
    /// transposed unfolding.
    static constexpr std::size_t Kp = (K + 31) / 32 * 32;
    /// A 1 x 1 convolution with stride 1 and no padding: the input is its own unfolding.
    static constexpr bool pointwise = KH == 1 && KW == 1 && g.stride == 1 && g.padding == 0;
};

/// The sum of n values in a fixed order that vectorizes: lane-wise partial sums over blocks of
/// the vector width, then the lanes in order, then the tail (the 16-bit formats sum in float).
template <class T> gemm::work_t<T> plane_sum(const T *__restrict v, std::size_t n) {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
        using V = simd::vec_t<T>;
        constexpr std::size_t L = simd::lanes<T>;
        const std::size_t blocks = n / L;
        V acc{};
        for (std::size_t b = 0; b < blocks; ++b) acc += simd::load<V>(v + b * L);
        T s = T(0);
        for (std::size_t l = 0; l < L; ++l) s += acc[l];
        for (std::size_t j = blocks * L; j < n; ++j) s += v[j];
        return s;
    } else {
        float s = 0;
        for (std::size_t j = 0; j < n; ++j) s += static_cast<float>(v[j]);
        return s;
    }
}
/// The outputs i in [0, out) whose tap at offset `off` (= d u - p) reads inside an extent of
/// `extent` inputs with stride s: [lo, hi), 0 <= s i + off < extent.
constexpr std::array<std::size_t, 2> valid_range(std::ptrdiff_t s, std::ptrdiff_t extent, std::ptrdiff_t out, std::ptrdiff_t off) {
    std::ptrdiff_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    std::ptrdiff_t h = extent - 1 - off < 0 ? 0 : (extent - 1 - off) / s + 1;
    l = std::min(l, out);
    h = std::max(std::min(h, out), l);
    return {std::size_t(l), std::size_t(h)};
}
/// The output columns j whose tap at horizontal offset dv (= d v - p) reads inside the image.
template <class D> constexpr std::array<std::size_t, 2> valid_columns(std::ptrdiff_t dv) {
    return valid_range(std::ptrdiff_t(D::g.stride), std::ptrdiff_t(D::Wd), std::ptrdiff_t(D::OW), dv);
}
/// The output rows i whose tap at vertical offset dh (= d u - p) reads inside the image.
template <class D> constexpr std::array<std::size_t, 2> valid_rows(std::ptrdiff_t dh) {
    return valid_range(std::ptrdiff_t(D::g.stride), std::ptrdiff_t(D::H), std::ptrdiff_t(D::OH), dh);
}
/// col (K x P) = the unfolding of one sample x (C x H x W): row (c, u, v), column (i, j) holds
/// x[c, s i + d u - p, s j + d v - p], 0 in the padding. The rows and columns of each tap that
/// read the padding are ranges computed beforehand, not tested per row: g++ 12 at -O3 with
/// AVX2/AVX-512 vectorized a per-row `continue` on the padding test wrongly (rows inside the
/// image came out 0; tests/test_conv.cpp's reference checks caught it in the native build).
template <class D, class T> void im2col(const T *__restrict x, T *__restrict col) {
    constexpr std::size_t s = D::g.stride, p = D::g.padding, d = D::g.dilation;
    for (std::size_t c = 0; c < D::C; ++c)
        for (std::size_t u = 0; u < D::KH; ++u) {
            const std::ptrdiff_t dh = std::ptrdiff_t(d * u) - std::ptrdiff_t(p);
            const auto rows = valid_rows<D>(dh);
            each_tap_column<D>([&]<std::size_t v>() {
                T *__restrict row = col + ((c * D::KH + u) * D::KW + v) * D::P;
                constexpr std::ptrdiff_t dv = std::ptrdiff_t(d * v) - std::ptrdiff_t(p);
                constexpr auto range = valid_columns<D>(dv);
                constexpr std::size_t lo = range[0], hi = range[1];
                std::fill(row, row + rows[0] * D::OW, T(0));
                for (std::size_t i = rows[0]; i < rows[1]; ++i) {
                    T *__restrict o = row + i * D::OW;
                    const T *__restrict xr = x + (c * D::H + std::size_t(std::ptrdiff_t(s * i) + dh)) * D::Wd;
                    for (std::size_t j = 0; j < lo; ++j) o[j] = T(0);
                    for (std::size_t j = lo; j < hi; ++j) o[j] = xr[std::ptrdiff_t(s * j) + dv];
                    for (std::size_t j = hi; j < D::OW; ++j) o[j] = T(0);
                }
                std::fill(row + rows[1] * D::OW, row + D::P, T(0));
            });
        }
}
/// colT (P x Kp) = the transpose of im2col's unfolding: row (i, j), column (c, u, v) holds
/// x[c, s i + d u - p, s j + d v - p], 0 in the padding; columns K..Kp are 0, so that the GEMM
/// reads a last panel narrower than its tile in place. The weight gradient G_s col^T reads
/// colT in place: with col (K x P) both operands of that product are contiguous along P, the
/// sum's index, so one of them had to be transposed into the GEMM's panels for every sample.
/// The padding columns are ranges computed beforehand, as in im2col.
template <class D, class T> void im2col_t(const T *__restrict x, T *__restrict colt) {
    constexpr std::size_t s = D::g.stride, p = D::g.padding, d = D::g.dilation, K = D::Kp;
    // one output row i at a time: its OW x Kp values stay in L1 while every tap writes them
    for (std::size_t i = 0; i < D::OH; ++i) {
        T *__restrict slab = colt + i * D::OW * K;
        if constexpr (D::Kp > D::K)
            for (std::size_t j = 0; j < D::OW; ++j) std::fill(slab + j * K + D::K, slab + (j + 1) * K, T(0));
        for (std::size_t c = 0; c < D::C; ++c)
            for (std::size_t u = 0; u < D::KH; ++u) {
                const std::ptrdiff_t dh = std::ptrdiff_t(d * u) - std::ptrdiff_t(p);
                const auto rows = valid_rows<D>(dh);
                T *__restrict o = slab + (c * D::KH + u) * D::KW;
                if (i < rows[0] || i >= rows[1]) {
                    for (std::size_t j = 0; j < D::OW; ++j)
                        for (std::size_t v = 0; v < D::KW; ++v) o[j * K + v] = T(0);
                } else if constexpr (d == 1) {
                    // the KW taps of output column j are KW adjacent inputs: one copy of KW values
                    // where all of them are inside the image, a tap at a time at the borders
                    const T *__restrict xr = x + (c * D::H + std::size_t(std::ptrdiff_t(s * i) + dh)) * D::Wd;
                    constexpr std::ptrdiff_t dv0 = -std::ptrdiff_t(p);
                    constexpr std::size_t lo = valid_columns<D>(dv0)[0];
                    constexpr std::size_t hi = std::max(lo, valid_columns<D>(std::ptrdiff_t(D::KW - 1) + dv0)[1]);
                    auto border = [&](std::size_t j) {
                        for (std::size_t v = 0; v < D::KW; ++v) {
                            const std::ptrdiff_t w = std::ptrdiff_t(s * j + v) + dv0;
                            const bool in = w >= 0 && w < std::ptrdiff_t(D::Wd);
                            const T val = xr[in ? w : 0];
                            o[j * K + v] = in ? val : T(0);
                        }
                    };
                    for (std::size_t j = 0; j < lo; ++j) border(j);
                    for (std::size_t j = lo; j < hi; ++j) std::memcpy(o + j * K, xr + std::ptrdiff_t(s * j) + dv0, D::KW * sizeof(T));
                    for (std::size_t j = hi; j < D::OW; ++j) border(j);
                } else {
                    const T *__restrict xr = x + (c * D::H + std::size_t(std::ptrdiff_t(s * i) + dh)) * D::Wd;
                    each_tap_column<D>([&]<std::size_t v>() {
                        constexpr std::ptrdiff_t dv = std::ptrdiff_t(d * v) - std::ptrdiff_t(p);
                        constexpr auto range = valid_columns<D>(dv);
                        constexpr std::size_t lo = range[0], hi = range[1];
                        for (std::size_t j = 0; j < lo; ++j) o[j * K + v] = T(0);
                        for (std::size_t j = lo; j < hi; ++j) o[j * K + v] = xr[std::ptrdiff_t(s * j) + dv];
                        for (std::size_t j = hi; j < D::OW; ++j) o[j * K + v] = T(0);
                    });
                }
            }
    }
}

/// dx (C x H x W) += the folding of dcol (K x P): every unfolded position adds to its pixel.
template <class D, class T> void col2im(const T *__restrict dcol, T *__restrict dx) {
    constexpr std::size_t s = D::g.stride, p = D::g.padding, d = D::g.dilation;
    for (std::size_t c = 0; c < D::C; ++c)
        for (std::size_t u = 0; u < D::KH; ++u) {
            const std::ptrdiff_t dh = std::ptrdiff_t(d * u) - std::ptrdiff_t(p);
            const auto rows = valid_rows<D>(dh);
            each_tap_column<D>([&]<std::size_t v>() {
                const T *__restrict row = dcol + ((c * D::KH + u) * D::KW + v) * D::P;
                constexpr std::ptrdiff_t dv = std::ptrdiff_t(d * v) - std::ptrdiff_t(p);
                constexpr auto range = valid_columns<D>(dv);
                constexpr std::size_t lo = range[0], hi = range[1];
                for (std::size_t i = rows[0]; i < rows[1]; ++i) {
                    const T *__restrict o = row + i * D::OW;
                    T *__restrict xr = dx + (c * D::H + std::size_t(std::ptrdiff_t(s * i) + dh)) * D::Wd;
                    for (std::size_t j = lo; j < hi; ++j) xr[std::ptrdiff_t(s * j) + dv] += o[j];
                }
            });
        }
}
} // namespace detail

template <std::size_t Stride, std::size_t Pad, std::size_t Dil> struct kernel<conv2d_op<Stride, Pad, Dil>> {
    static constexpr bool epilogue = true;
    static constexpr bool writes_whole = true;
    static constexpr std::size_t weight_slot = 1, bias_slot = 2;
    template <class N> static constexpr std::array<std::size_t, 2> fans() {
        using D = detail::conv_dims<N>;
        return {D::K, D::O * D::KH * D::KW};
    }
    /// The unfolded input and its gradient (or the direct kernels' planes and lane sums).
    template <class N>
    static constexpr std::size_t scratch_size = std::max({2 * detail::round16(detail::conv_dims<N>::Kp * detail::conv_dims<N>::P),
                                                          detail::direct_conv<detail::conv_dims<N>, float>::scratch,
                                                          detail::direct_conv<detail::conv_dims<N>, double>::scratch});
    template <class N, class T> static constexpr std::size_t work_size(std::size_t) {
        using D = detail::conv_dims<N>;
        if constexpr (is_narrow_v<T>)
            return std::max({gemm::narrow_workspace(D::O, D::P, D::K), gemm::narrow_workspace(D::O, D::K, D::P),
                             gemm::narrow_workspace(D::K, D::P, D::O)}) + 64;
        else return gemm::workspace<T>(std::max({D::O, D::K, D::P}));
    }

    template <class C> static void forward(C &c) {
        using N = typename C::node;
        using D = detail::conv_dims<N>;
        using T = typename C::T;
        using Vec = gemm::view<T>;
        constexpr bool has_bias = children_t<N>::size == 3;
        const T *x = c.template in<0>();
        const T *w = c.template in<1>();
        const T *b = nullptr;
        if constexpr (has_bias) b = c.template in<2>();
        T *col = c.scratch();
        T *out = c.out();
        if constexpr (detail::direct_conv<D, T>::usable) { // few input channels: no unfolding
            using Dc = detail::direct_conv<D, T>;
            T *xp = col, *yv = col + Dc::x_size;
            for (std::size_t s = 0; s < c.rows(); ++s) {
                Dc::pad(x + (C::template arg_batched<0> ? s * D::in_size : 0), xp);
                Dc::template forward<C::options.fma>(xp, w, yv);
                T *ys = out + s * D::O * D::P;
                for (std::size_t o = 0; o < D::O; ++o) {
                    T *__restrict yo = ys + o * D::P;
                    for (std::size_t i = 0; i < D::OH; ++i) {
                        const T *__restrict r = Dc::virtual_row(yv, o, i);
                        if constexpr (has_bias)
                            for (std::size_t j = 0; j < D::OW; ++j) yo[i * D::OW + j] = r[j] + b[o];
                        else std::copy(r, r + D::OW, yo + i * D::OW);
                    }
                    c.epilogue(s, s + 1, o * D::P, (o + 1) * D::P);
                }
            }
            return;
        }
        for (std::size_t s = 0; s < c.rows(); ++s) {
            const T *xs = x + (C::template arg_batched<0> ? s * D::in_size : 0);
            T *ys = out + s * D::O * D::P;
            if constexpr (!D::pointwise) detail::im2col<D>(xs, col);
            gemm::run<T, C::options.fma>(D::O, D::P, D::K, Vec{w, D::K, 1}, Vec{D::pointwise ? xs : col, D::P, 1}, ys, D::P, false,
                                         nullptr, c.work(), [&](std::size_t r0, std::size_t rows, std::size_t j0, std::size_t cols) {
                                             for (std::size_t r = r0; r < r0 + rows; ++r) {
                                                 if constexpr (has_bias) {
                                                     T *__restrict o = ys + r * D::P;
                                                     const T br = b[r];
                                                     for (std::size_t j = j0; j < j0 + cols; ++j) o[j] += br;
                                                 }
                                                 c.epilogue(s, s + 1, r * D::P + j0, r * D::P + j0 + cols);
                                             }
                                         });
        }
    }

    template <class C> static void backward(C &c) {
        using N = typename C::node;
        using D = detail::conv_dims<N>;
        using T = typename C::T;
        using Vec = gemm::view<T>;
        constexpr bool has_bias = children_t<N>::size == 3;
        const T *x = c.template in<0>();
        const T *w = c.template in<1>();
        const T *g = c.grad();
        T *col = c.scratch();
        T *dcol = col + detail::round16(D::Kp * D::P);
        if constexpr (has_bias) {
            if constexpr (C::template needs<2>) {
                T *db = c.template arg_grad<2>();
                if constexpr (C::template assign<2>) std::fill(db, db + D::O, T(0));
                for (std::size_t s = 0; s < c.rows(); ++s)
                    for (std::size_t o = 0; o < D::O; ++o) db[o] = static_cast<T>(gemm::work_t<T>(db[o]) + detail::plane_sum(g + (s * D::O + o) * D::P, D::P));
            }
        }
        constexpr bool direct = detail::direct_conv<D, T>::usable;
        if constexpr (direct && C::template needs<1>) { // few input channels: no unfolding
            using Dc = detail::direct_conv<D, T>;
            T *xp = col, *gv = col + Dc::x_size, *part = gv + Dc::v_size;
            std::fill(part, part + D::O * D::K * Dc::L, T(0));
            for (std::size_t s = 0; s < c.rows(); ++s) {
                Dc::pad(x + (C::template arg_batched<0> ? s * D::in_size : 0), xp);
                Dc::spread(g + s * D::O * D::P, gv);
                Dc::template wgrad<C::options.fma>(xp, gv, part);
            }
            T *dw = c.template arg_grad<1>();
            for (std::size_t k = 0; k < D::O * D::K; ++k) {
                T sum = T(0);
                for (std::size_t l = 0; l < Dc::L; ++l) sum += part[k * Dc::L + l];
                dw[k] = C::template assign<1> ? sum : dw[k] + sum;
            }
        }
        for (std::size_t s = 0; s < c.rows(); ++s) {
            const T *gs = g + s * D::O * D::P;
            const T *xs = x + (C::template arg_batched<0> ? s * D::in_size : 0);
            if constexpr (C::template needs<1> && !direct) { // dW += G_s col^T
                // Few output channels (no more than a vector holds): col^T is unfolded as such and
                // read in place. Otherwise the GEMM computes dW^T = col G_s^T, packing G_s^T (O x P,
                // smaller than col^T). The same sums in the same order either way.
                constexpr bool transposed = !D::pointwise && D::O <= simd::lanes<gemm::work_t<T>>;
                const bool acc = s > 0 || !C::template assign<1>;
                if constexpr (transposed) detail::im2col_t<D>(xs, col);
                else if constexpr (!D::pointwise) detail::im2col<D>(xs, col);
                const Vec colt = transposed ? Vec{col, D::Kp, 1, D::Kp} : Vec{D::pointwise ? xs : col, 1, D::P};
                gemm::run<T, C::options.fma>(D::O, D::K, D::P, Vec{gs, D::P, 1}, colt, c.template arg_grad<1>(), D::K, acc, nullptr,
                                             c.work(), gemm::no_epilogue{});
            }
            if constexpr (C::template needs<0>) { // dx_s += fold(W^T G_s)
                T *dx = c.template arg_grad<0>() + (C::template arg_batched<0> ? s * D::in_size : 0);
                const bool acc = !C::template assign<0> || (!C::template arg_batched<0> && s > 0);
                if constexpr (D::pointwise) {
                    gemm::run<T, C::options.fma>(D::K, D::P, D::O, Vec{w, 1, D::K}, Vec{gs, D::P, 1}, dx, D::P, acc, nullptr, c.work(),
                                                 gemm::no_epilogue{});
                } else {
                    gemm::run<T, C::options.fma>(D::K, D::P, D::O, Vec{w, 1, D::K}, Vec{gs, D::P, 1}, dcol, D::P, false, nullptr,
                                                 c.work(), gemm::no_epilogue{});
                    if (!acc) std::fill(dx, dx + D::in_size, T(0));
                    detail::col2im<D>(dcol, dx);
                }
            }
        }
    }
};

} // namespace kink

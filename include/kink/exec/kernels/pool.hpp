#pragma once
/// \file
/// Kernels of max_pool2d, avg_pool2d and global_avg_pool on NCHW values: direct loops over the
/// windows (a pooling layer reads each input a few times and multiplies nothing; it is bound by
/// memory, not arithmetic). max_pool2d stores no argmax: its backward pass finds the window's
/// maxima again from the input and the stored maximum, so every tie policy (and the count of
/// tied windows whose adjoint is nonzero) is decided there.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include <kink/exec/eval.hpp>
#include <kink/exec/gemm.hpp>
#include <kink/exec/kernel.hpp>
#include <kink/exec/simd.hpp>
#include <kink/ops/pool.hpp>

namespace kink {

namespace detail {
/// Tie rules whose vector kernel needs no per-rank share: first, last and split.
template <class Q>
inline constexpr bool simple_tie_v = policy_impl<Q>::tie.k == tie_rule::kind::first || policy_impl<Q>::tie.k == tie_rule::kind::last ||
                                     policy_impl<Q>::tie.k == tie_rule::kind::split;
/// The dimensions of pooling node N.
template <class N> struct pool_dims {
    using X = shape_of_t<arg_t<0, N>>;
    static constexpr pool2d g = op_t<N>::geometry;
    static constexpr std::size_t C = X::dims[0], H = X::dims[1], W = X::dims[2];
    static constexpr std::size_t OH = shape_of_t<N>::dims[1], OW = shape_of_t<N>::dims[2];
    static constexpr std::size_t k = g.kernel, s = g.step(), p = g.padding, in_size = C * H * W, out_size = C * OH * OW;
    /// The window of output (i, j), clipped to the image: rows [h0, h1), columns [w0, w1).
    static constexpr void window(std::size_t i, std::size_t j, std::size_t &h0, std::size_t &h1, std::size_t &w0, std::size_t &w1) {
        const std::ptrdiff_t hs = std::ptrdiff_t(i * s) - std::ptrdiff_t(p), ws = std::ptrdiff_t(j * s) - std::ptrdiff_t(p);
        h0 = std::size_t(std::max<std::ptrdiff_t>(hs, 0));
        w0 = std::size_t(std::max<std::ptrdiff_t>(ws, 0));
        h1 = std::size_t(std::min<std::ptrdiff_t>(hs + std::ptrdiff_t(k), std::ptrdiff_t(H)));
        w1 = std::size_t(std::min<std::ptrdiff_t>(ws + std::ptrdiff_t(k), std::ptrdiff_t(W)));
    }
};

/// The four positions a b / c d of lanes<T> consecutive 2 x 2 windows with stride 2: the even
/// and odd columns of two input rows (2 L values each from `top` and `bottom`).
template <class T> struct window2x2 {
    using V = simd::vec_t<T>;
    static constexpr std::size_t L = simd::lanes<T>;
    V a, b, c, d;
    static V even(V lo, V hi) {
        return [&]<std::size_t... I>(std::index_sequence<I...>) { return V(__builtin_shufflevector(lo, hi, (2 * I)...)); }(std::make_index_sequence<L>{});
    }
    static V odd(V lo, V hi) {
        return [&]<std::size_t... I>(std::index_sequence<I...>) { return V(__builtin_shufflevector(lo, hi, (2 * I + 1)...)); }(std::make_index_sequence<L>{});
    }
    /// The first and second halves of the interleaving u0 v0 u1 v1 ...
    static V zip_lo(V u, V v) {
        return [&]<std::size_t... I>(std::index_sequence<I...>) { return V(__builtin_shufflevector(u, v, (I / 2 + (I % 2) * L)...)); }(std::make_index_sequence<L>{});
    }
    static V zip_hi(V u, V v) {
        return [&]<std::size_t... I>(std::index_sequence<I...>) { return V(__builtin_shufflevector(u, v, (L / 2 + I / 2 + (I % 2) * L)...)); }(std::make_index_sequence<L>{});
    }
    window2x2(V t0, V t1, V b0, V b1) : a(even(t0, t1)), b(odd(t0, t1)), c(even(b0, b1)), d(odd(b0, b1)) {}
    window2x2(const T *top, const T *bottom)
        : window2x2(simd::load<V>(top), simd::load<V>(top + L), simd::load<V>(bottom), simd::load<V>(bottom + L)) {}
    /// The first m / 2 windows (m values of each row; the rest 0), nothing past them read.
    window2x2(const T *top, const T *bottom, std::size_t m)
        : window2x2(simd::load_first<V>(top, std::min(m, L)), m > L ? simd::load_first<V>(top + L, m - L) : V{},
                    simd::load_first<V>(bottom, std::min(m, L)), m > L ? simd::load_first<V>(bottom + L, m - L) : V{}) {}
};

/// Runs f(j, w, in, n) for windows j.. of a row of `ow` windows, lanes<T> windows at a time: w
/// holds their four positions (from the input rows at xr and xr + W), in[q] the L values of
/// ins[q] for these windows, n the number of real windows among the L. A last partial vector
/// is read with masked loads (lanes past n are 0), so a row shorter than a vector (14 or 5
/// windows with AVX-512's 16 floats) is vector code too; f stores its results with
/// `store_windows`. f returns false to stop (a NaN maximum: the scalar loop takes over);
/// returns the windows done.
template <class T, std::size_t W, std::size_t NI, class F>
std::size_t vector_windows(std::size_t ow, const T *__restrict xr, std::array<const T *, NI> ins, F &&f) {
    using V = simd::vec_t<T>;
    constexpr std::size_t L = simd::lanes<T>;
    std::size_t j = 0;
    std::array<V, NI> in;
    for (; j + L <= ow; j += L) {
        for (std::size_t q = 0; q < NI; ++q) in[q] = simd::load<V>(ins[q] + j);
        if (!f(j, window2x2<T>(xr + 2 * j, xr + W + 2 * j), in, L)) return j;
    }
    if (j < ow) {
        const std::size_t n = ow - j;
        for (std::size_t q = 0; q < NI; ++q) in[q] = simd::load_first<V>(ins[q] + j, n);
        if (!f(j, window2x2<T>(xr + 2 * j, xr + W + 2 * j, 2 * n), in, n)) return j;
        j = ow;
    }
    return j;
}
/// Stores the values of n windows' two input positions each (the vectors lo and hi, 2 L
/// values) at p.
template <class T, class V> void store_windows(T *p, V lo, V hi, std::size_t n) {
    constexpr std::size_t L = simd::lanes<T>;
    if (n == L) {
        simd::store<V>(p, lo);
        simd::store<V>(p + L, hi);
    } else {
        simd::store_first<V>(p, lo, std::min(2 * n, L));
        if (2 * n > L) simd::store_first<V>(p + L, hi, 2 * n - L);
    }
}

/// The forward pass of one row of 2 x 2 windows with stride 2: the maximum in scan order a b c d
/// by PyTorch's rule (m = v where v > m or v is NaN), the scalar loop's value bit for bit. With
/// Count, adds the windows whose maximum is NaN to `nans` and the tied ones to `ties`.
template <bool Count, class T, std::size_t W>
void max_pool2x2_forward_row(const T *__restrict xr, T *__restrict y, std::size_t ow, std::uint64_t &ties, std::uint64_t &nans) {
    using V = simd::vec_t<T>;
    using M = decltype(V{} == V{});
    using Win = window2x2<T>;
    constexpr std::size_t L = simd::lanes<T>;
    auto body = [&](std::size_t j, const Win &w, const std::array<V, 0> &, std::size_t n) {
        V m = V{} - std::numeric_limits<T>::infinity();
        auto take = [&](V v) {
            const M yes = (v > m) | (v != v);
            m = V((yes & M(v)) | (~yes & M(m)));
        };
        take(w.a), take(w.b), take(w.c), take(w.d);
        if (n == L) simd::store<V>(y + j, m);
        else simd::store_first<V>(y + j, m, n);
        if constexpr (Count) {
            const M nan = m != m;
            const M tied = ~nan & (-((w.a == m) + (w.b == m) + (w.c == m) + (w.d == m)) > M{} + 1);
            for (std::size_t l = 0; l < n; ++l) nans += nan[l] != 0, ties += tied[l] != 0;
        }
        return true;
    };
    vector_windows<T, W, 0>(ow, xr, std::array<const T *, 0>{}, body);
}

/// The backward pass of one row of 2 x 2 windows with stride 2 (they tile the input rows r and
/// r + 1), `lanes` windows per vector: each of the window's four positions a b / c d is compared
/// with the window's maximum, the policy's choice made with masks (first: the first equal
/// position in scan order a b c d; last: the last; split: 1/k to each of the k equal ones, and
/// the whole adjoint when k = 1), and the four results interleaved back. The same values as the
/// scalar loop, bit for bit (the split share is g * (1 / k) in both). Returns how many windows
/// it did (all of them, or none from the first vector holding a NaN maximum on: those go to the
/// scalar loop); adds the tied windows with a nonzero adjoint to `live`.
template <class Q, bool Count, class T, std::size_t W>
std::size_t max_pool2x2_row(const T *__restrict xr, const T *__restrict y, const T *__restrict g, T *__restrict d, std::size_t ow,
                            std::uint64_t &live) {
    using V = simd::vec_t<T>;
    using M = decltype(V{} == V{});
    using Win = window2x2<T>;
    constexpr std::size_t L = simd::lanes<T>;
    auto pick = [](M m, V v) { return V(m & M(v)); }; // v where m, else +0
    return vector_windows<T, W, 2>(ow, xr, std::array<const T *, 2>{y, g}, [&](std::size_t j, const Win &w, const std::array<V, 2> &in, std::size_t n) {
        const V m = in[0], gv = in[1];
        const M nan = m != m;
        bool any_nan = false;
        for (std::size_t l = 0; l < L; ++l) any_nan = any_nan || nan[l] != 0;
        if (any_nan) return false;
        const M ea = w.a == m, eb = w.b == m, ec = w.c == m, ed = w.d == m;
        const M k = -(ea + eb + ec + ed); // the number of maxima (a true mask lane is -1)
        V va, vb, vc, vd;
        constexpr tie_rule::kind tk = policy_impl<Q>::tie.k;
        if constexpr (tk == tie_rule::kind::first) {
            va = pick(ea, gv), vb = pick(eb & ~ea, gv), vc = pick(ec & ~(ea | eb), gv), vd = pick(ed & ~(ea | eb | ec), gv);
        } else if constexpr (tk == tie_rule::kind::last) {
            vd = pick(ed, gv), vc = pick(ec & ~ed, gv), vb = pick(eb & ~(ec | ed), gv), va = pick(ea & ~(eb | ec | ed), gv);
        } else {
            static_assert(tk == tie_rule::kind::split);
            const M one = k == M{} + 1;
            const V share = V((one & M(gv)) | (~one & M(gv * ((V{} + T(1)) / __builtin_convertvector(k, V)))));
            va = pick(ea, share), vb = pick(eb, share), vc = pick(ec, share), vd = pick(ed, share);
        }
        if constexpr (Count) {
            const M tied_live = (k > M{} + 1) & (gv != V{});
            for (std::size_t l = 0; l < L; ++l) live += tied_live[l] != 0;
        }
        store_windows<T>(d + 2 * j, Win::zip_lo(va, vb), Win::zip_hi(va, vb), n);
        store_windows<T>(d + W + 2 * j, Win::zip_lo(vc, vd), Win::zip_hi(vc, vd), n);
        return true;
    });
}
} // namespace detail

template <class P, std::size_t Win, std::size_t Step, std::size_t Pad> struct kernel<max_pool2d_op<P, Win, Step, Pad>> {
    using Op = max_pool2d_op<P, Win, Step, Pad>;
    /// The input gradient of a sample is complete when its windows are done: the elementwise
    /// node before the pool (a relu) runs its vector-Jacobian product right then, on warm data.
    static constexpr std::size_t grad_epilogue = 0;

    /// Calls f(offset) for each input of window (i, j) of one plane, in scan order: unrolled over
    /// the k x k window when it lies inside the image (always without padding).
    template <class D, class F> static void each_in_window(std::size_t i, std::size_t j, F &&f) {
        if constexpr (D::p == 0) {
            const std::size_t base = i * D::s * D::W + j * D::s;
#pragma GCC unroll 16
            for (std::size_t u = 0; u < D::k; ++u)
#pragma GCC unroll 16
                for (std::size_t v = 0; v < D::k; ++v) f(base + u * D::W + v);
        } else {
            std::size_t h0, h1, w0, w1;
            D::window(i, j, h0, h1, w0, w1);
            for (std::size_t h = h0; h < h1; ++h)
                for (std::size_t w = w0; w < w1; ++w) f(h * D::W + w);
        }
    }

    /// 2 x 2 windows with stride 2 and no padding, in float or double: a row of windows at a time
    /// in vector code (the rest through the scalar loop, the same values).
    template <class D, class T>
    static constexpr bool vector_forward = D::k == 2 && D::s == 2 && D::p == 0 && (std::is_same_v<T, float> || std::is_same_v<T, double>);

    template <class C> static void forward(C &c) {
        using Nd = typename C::node;
        using D = detail::pool_dims<Nd>;
        using T = typename C::T;
        const T *x = c.template in<0>();
        T *y = c.out();
        std::uint64_t ties = 0, nans = 0;
        for (std::size_t s = 0; s < c.rows(); ++s)
            for (std::size_t ch = 0; ch < D::C; ++ch) {
                const T *xc = x + s * D::in_size + ch * D::H * D::W;
                T *yc = y + s * D::out_size + ch * D::OH * D::OW;
                if constexpr (vector_forward<D, T>) {
                    for (std::size_t i = 0; i < D::OH; ++i)
                        detail::max_pool2x2_forward_row<C::counting, T, D::W>(xc + 2 * i * D::W, yc + i * D::OW, D::OW, ties, nans);
                    continue;
                }
                for (std::size_t i = 0; i < D::OH; ++i)
                    for (std::size_t j = 0; j < D::OW; ++j) {
                        T m = -std::numeric_limits<T>::infinity();
                        each_in_window<D>(i, j, [&](std::size_t o) {
                            const T v = xc[o];
                            m = (v > m || v != v) ? v : m; // PyTorch: (val > maxval) || isnan(val)
                        });
                        yc[i * D::OW + j] = m;
                        if constexpr (C::counting) {
                            if (m != m) {
                                ++nans;
                            } else {
                                std::size_t k = 0;
                                each_in_window<D>(i, j, [&](std::size_t o) { k += xc[o] == m; });
                                ties += k > 1;
                            }
                        }
                    }
            }
        if constexpr (C::counting) {
            *c.counts().evals += c.rows() * D::out_size;
            *c.counts().hits += ties;
            *c.counts().nans += nans;
        } else {
            (void)ties, (void)nans;
        }
    }

    /// Rows of 2 x 2 windows with stride 2 whose gradient is written (not added) go through the
    /// vector loop (float and double; first, last and split: the policies without a per-rank
    /// share), the rest of a row and every other case through the scalar one.
    template <class D, class T, bool write, class Q>
    static constexpr bool vector_rows = write && D::k == 2 && // `write`: the windows tile the plane (stride 2, no padding)
                                        (std::is_same_v<T, float> || std::is_same_v<T, double>) &&
                                        detail::simple_tie_v<Q>;

    /// policy::runtime: the rules with a kernel of their own (t = 0, 1, -1) run it; the others
    /// share by detail::tie_share.
    template <class C> static void backward(C &c) {
        using Q = strip_count_t<P>;
        if constexpr (is_runtime_v<Q>) {
            const double t = c.template constant<typename Q::constant>();
            if (t == ties::first) backward_as<policy::first>(c, t);
            else if (t == ties::split) backward_as<policy::split>(c, t);
            else if (t == ties::last) backward_as<policy::last>(c, t);
            else backward_as<Q>(c, t);
        } else {
            backward_as<Q>(c, 0.0);
        }
    }

    /// The backward pass under concrete tie policy Q (t: the rule of a policy::runtime).
    template <class Q, class C> static void backward_as(C &c, double t) {
        using Nd = typename C::node;
        using D = detail::pool_dims<Nd>;
        using T = typename C::T;
        // windows that tile the plane exactly: each input is in one window, so the gradient can be
        // written (assigned) window by window without zeroing the plane first
        constexpr bool tiles = D::p == 0 && D::k == D::s && D::H == D::OH * D::k && D::W == D::OW * D::k;
        if constexpr (C::template needs<0>) {
            const T *x = c.template in<0>();
            const T *y = c.out();
            const T *g = c.grad();
            T *dx = c.template arg_grad<0>();
            std::uint64_t live = 0;
            for (std::size_t s = 0; s < c.rows(); ++s) {
                T *ds = dx + s * D::in_size;
                constexpr bool write = tiles && C::template assign<0>;
                if constexpr (C::template assign<0> && !write) std::fill(ds, ds + D::in_size, T(0));
                for (std::size_t ch = 0; ch < D::C; ++ch) {
                    const T *xc = x + s * D::in_size + ch * D::H * D::W;
                    T *dc = ds + ch * D::H * D::W;
                    const std::size_t o = s * D::out_size + ch * D::OH * D::OW;
                    for (std::size_t i = 0; i < D::OH; ++i) {
                        std::size_t j0 = 0;
                        if constexpr (vector_rows<D, T, write, Q>)
                            j0 = detail::max_pool2x2_row<Q, C::counting, T, D::W>(xc + 2 * i * D::W, y + o + i * D::OW, g + o + i * D::OW,
                                                                                   dc + 2 * i * D::W, D::OW, live);
                        for (std::size_t j = j0; j < D::OW; ++j) {
                            const T m = y[o + i * D::OW + j], gv = g[o + i * D::OW + j];
                            auto put = [&](std::size_t at, T v) {
                                if constexpr (write) dc[at] = v;
                                else dc[at] += v;
                            };
                            if (m != m) { // NaN: the whole adjoint to the last NaN (PyTorch's index)
                                std::size_t at = D::W * D::H;
                                each_in_window<D>(i, j, [&](std::size_t q) {
                                    if (xc[q] != xc[q]) at = q;
                                });
                                each_in_window<D>(i, j, [&](std::size_t q) { put(q, q == at ? gv : T(0)); });
                                continue;
                            }
                            std::size_t k = 0;
                            each_in_window<D>(i, j, [&](std::size_t q) { k += xc[q] == m; });
                            if constexpr (C::counting) live += k > 1 && gv != T(0);
                            std::size_t r = 0;
                            each_in_window<D>(i, j, [&](std::size_t q) {
                                if (xc[q] == m) put(q, k == 1 ? gv : gv * detail::tie_share<Q, T>(++r, k, t));
                                else put(q, T(0));
                            });
                        }
                    }
                }
                c.grad_epilogue(s, s + 1, 0, D::in_size);
            }
            if constexpr (C::counting) *c.counts().live += live;
            else (void)live;
        }
    }
};

template <std::size_t Win, std::size_t Step, std::size_t Pad> struct kernel<avg_pool2d_op<Win, Step, Pad>> {
    static constexpr std::size_t grad_epilogue = 0; // as for max_pool2d
    template <class C> static void forward(C &c) {
        using D = detail::pool_dims<typename C::node>;
        using T = typename C::T;
        using A = gemm::work_t<T>;
        const T *x = c.template in<0>();
        T *y = c.out();
        for (std::size_t s = 0; s < c.rows(); ++s)
            for (std::size_t ch = 0; ch < D::C; ++ch) {
                const T *xc = x + s * D::in_size + ch * D::H * D::W;
                T *yc = y + s * D::out_size + ch * D::OH * D::OW;
                for (std::size_t i = 0; i < D::OH; ++i)
                    for (std::size_t j = 0; j < D::OW; ++j) {
                        std::size_t h0, h1, w0, w1;
                        D::window(i, j, h0, h1, w0, w1);
                        A sum = A(0);
                        for (std::size_t h = h0; h < h1; ++h)
                            for (std::size_t w = w0; w < w1; ++w) sum += static_cast<A>(xc[h * D::W + w]);
                        yc[i * D::OW + j] = static_cast<T>(sum / A(D::k * D::k));
                    }
            }
    }
    template <class C> static void backward(C &c) {
        using D = detail::pool_dims<typename C::node>;
        using T = typename C::T;
        if constexpr (C::template needs<0>) {
            const T *g = c.grad();
            T *dx = c.template arg_grad<0>();
            for (std::size_t s = 0; s < c.rows(); ++s) {
                T *ds = dx + s * D::in_size;
                if constexpr (C::template assign<0>) std::fill(ds, ds + D::in_size, T(0));
                for (std::size_t ch = 0; ch < D::C; ++ch) {
                    T *dc = ds + ch * D::H * D::W;
                    const T *gc = g + s * D::out_size + ch * D::OH * D::OW;
                    for (std::size_t i = 0; i < D::OH; ++i)
                        for (std::size_t j = 0; j < D::OW; ++j) {
                            std::size_t h0, h1, w0, w1;
                            D::window(i, j, h0, h1, w0, w1);
                            const T v = static_cast<T>(gc[i * D::OW + j] / T(D::k * D::k));
                            for (std::size_t h = h0; h < h1; ++h)
                                for (std::size_t w = w0; w < w1; ++w) dc[h * D::W + w] += v;
                        }
                }
                c.grad_epilogue(s, s + 1, 0, D::in_size);
            }
        }
    }
};

template <> struct kernel<global_avg_pool_op> {
    static constexpr std::size_t grad_epilogue = 0; // as for max_pool2d
    template <class C> static void forward(C &c) {
        using X = shape_of_t<arg_t<0, typename C::node>>;
        using T = typename C::T;
        using A = gemm::work_t<T>;
        constexpr std::size_t ch = X::dims[0], hw = X::dims[1] * X::dims[2];
        const T *x = c.template in<0>();
        T *y = c.out();
        for (std::size_t s = 0; s < c.rows(); ++s)
            for (std::size_t k = 0; k < ch; ++k) {
                const T *xc = x + (s * ch + k) * hw;
                A sum = A(0);
                for (std::size_t j = 0; j < hw; ++j) sum += static_cast<A>(xc[j]);
                y[s * ch + k] = static_cast<T>(sum / A(hw));
            }
    }
    template <class C> static void backward(C &c) {
        using X = shape_of_t<arg_t<0, typename C::node>>;
        using T = typename C::T;
        constexpr std::size_t ch = X::dims[0], hw = X::dims[1] * X::dims[2];
        if constexpr (C::template needs<0>) {
            const T *g = c.grad();
            T *dx = c.template arg_grad<0>();
            for (std::size_t s = 0; s < c.rows(); ++s)
                for (std::size_t k = 0; k < ch; ++k) {
                    const T v = static_cast<T>(g[s * ch + k] / T(hw));
                    T *dc = dx + (s * ch + k) * hw;
                    for (std::size_t j = 0; j < hw; ++j) dc[j] = C::template assign<0> ? v : dc[j] + v;
                    if (k + 1 == ch) c.grad_epilogue(s, s + 1, 0, ch * hw);
                }
        }
    }
};

} // namespace kink

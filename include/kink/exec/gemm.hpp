#pragma once
/// \file
/// The matrix-product kernel behind every dense layer: C (+)= A B for strided A and B, with a
/// per-tile epilogue. One register-blocked micro-kernel serves the three products of a dense layer
/// (forward `X W^T`, weight gradient `G^T X`, input gradient `G W`): the operands are packed into
/// the micro-kernel's panel layout (BLIS's design), so transposes cost a strided copy, not a
/// second kernel.
///
/// The instruction set is chosen at compile time (exec/simd.hpp): AVX-512 (8 x 32 float tile in
/// 16 zmm accumulators), AVX2 (6 x 16 in 12 ymm), or a portable 16-byte vector fallback. Whether products are accumulated with fused multiply-add or with
/// a separately rounded multiply and add is a template argument, never left to the compiler's
/// contraction flags: it decides which sums come out exactly zero, hence which relus sit on their
/// kink.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string_view>
#include <type_traits>

#include <kink/exec/narrow.hpp>
#include <kink/exec/simd.hpp>
#include <kink/expr/meta.hpp>

namespace kink {
namespace gemm {
using namespace ::kink::simd;

/// Vectors per tile row and the tile's columns.
inline constexpr std::size_t tile_vectors = 2;
template <class T> inline constexpr std::size_t tile_cols = tile_vectors * lanes<T>;

/// Cache blocking: the k-extent of packed panels and the rows of A packed at once.
inline constexpr std::size_t kc_block = 256;
inline constexpr std::size_t mc_block = 96;

/// A strided read-only matrix: element (i, j) is p[i * rs + j * cs]. `readable`: for a B
/// operand with contiguous rows, how many columns of each row may be read (>= n; padding whose
/// values are never used): a last panel narrower than the tile is then read in place too.
template <class T> struct view {
    const T *p;
    std::size_t rs, cs;
    std::size_t readable = 0;
    T operator()(std::size_t i, std::size_t j) const { return p[i * rs + j * cs]; }
};

/// Packs rows [i0, i0 + m) x k-range [k0, k0 + kc) of A into panels of tile_rows rows, each
/// stored k-major; rows past m are zero.
template <class T> void pack_a(view<T> a, std::size_t i0, std::size_t m, std::size_t k0, std::size_t kc, T *out) {
    constexpr std::size_t mr = tile_rows;
    for (std::size_t ip = 0; ip < m; ip += mr) {
        T *panel = out + ip * kc;
        const std::size_t rows = std::min(mr, m - ip);
        if (a.cs == 1) {
            for (std::size_t r = 0; r < rows; ++r) {
                const T *src = a.p + (i0 + ip + r) * a.rs + k0;
                for (std::size_t k = 0; k < kc; ++k) panel[k * mr + r] = src[k];
            }
        } else if (a.rs == 1) {
            for (std::size_t k = 0; k < kc; ++k) {
                const T *src = a.p + (k0 + k) * a.cs + i0 + ip;
                for (std::size_t r = 0; r < rows; ++r) panel[k * mr + r] = src[r];
            }
        } else {
            for (std::size_t k = 0; k < kc; ++k)
                for (std::size_t r = 0; r < rows; ++r) panel[k * mr + r] = a(i0 + ip + r, k0 + k);
        }
        for (std::size_t r = rows; r < mr; ++r)
            for (std::size_t k = 0; k < kc; ++k) panel[k * mr + r] = T(0);
    }
}

/// Packs k-range [k0, k0 + kc) x columns [0, n) of B into panels of tile_cols columns, each
/// stored k-major; columns past n are zero.
template <class T, std::size_t NV> void pack_b(view<T> b, std::size_t n, std::size_t k0, std::size_t kc, T *out) {
    constexpr std::size_t nr = NV * lanes<T>;
    for (std::size_t jp = 0; jp < n; jp += nr) {
        T *panel = out + jp * kc;
        const std::size_t cols = std::min(nr, n - jp);
        if (b.cs == 1) {
            for (std::size_t k = 0; k < kc; ++k) {
                const T *src = b.p + (k0 + k) * b.rs + jp;
                T *dst = panel + k * nr;
                for (std::size_t c = 0; c < cols; ++c) dst[c] = src[c];
                for (std::size_t c = cols; c < nr; ++c) dst[c] = T(0);
            }
        } else {
            // a transpose: blocks of 16 k so the rows written stay in L1 while every column
            // of the panel is read
            for (std::size_t kb = 0; kb < kc; kb += 16) {
                const std::size_t ke = std::min(kc, kb + 16);
                for (std::size_t c = 0; c < cols; ++c) {
                    const T *src = b.p + (jp + c) * b.cs + k0 * b.rs;
                    for (std::size_t k = kb; k < ke; ++k) panel[k * nr + c] = src[k * b.rs];
                }
            }
            for (std::size_t k = 0; k < kc; ++k)
                for (std::size_t c = cols; c < nr; ++c) panel[k * nr + c] = T(0);
        }
    }
}

/// The micro-kernel: a tile_rows x (NV * lanes) block of A B over kc steps, held in registers.
/// A's element (r, k) is a[k * ak + r * ar] (packed: ak = tile_rows, ar = 1; or read in place);
/// B's row k is the vectors at b + k * bk (packed: bk = the tile width; or read in place).
/// The accumulators start from `init` (a row of column values), `row_init` (one value per row)
/// or zero. `init` (or zero) starts the accumulators; the result goes to `out` (row stride
/// ldo), either stored or added.
template <class T, contraction F, std::size_t NV>
inline void micro(std::size_t kc, const T *__restrict a, std::size_t ak, std::size_t ar, const T *__restrict b,
                  std::size_t bk, const T *init, const T *row_init, bool add, T *__restrict out, std::size_t ldo) {
    using V = vec_t<T>;
    constexpr std::size_t mr = tile_rows, L = lanes<T>;
    V acc[mr][NV];
#pragma GCC unroll 16
    for (std::size_t r = 0; r < mr; ++r)
#pragma GCC unroll 4
        for (std::size_t v = 0; v < NV; ++v)
            acc[r][v] = init ? load<V>(init + v * L) : row_init ? splat<V>(row_init[r]) : V{};
    for (std::size_t k = 0; k < kc; ++k) {
        V bv[NV];
#pragma GCC unroll 4
        for (std::size_t v = 0; v < NV; ++v) bv[v] = load<V>(b + k * bk + v * L);
        const T *ak_ = a + k * ak;
#pragma GCC unroll 16
        for (std::size_t r = 0; r < mr; ++r) {
            const V av = splat<V>(ak_[r * ar]);
#pragma GCC unroll 4
            for (std::size_t v = 0; v < NV; ++v) acc[r][v] = mul_add<F, T>(av, bv[v], acc[r][v]);
        }
    }
#pragma GCC unroll 16
    for (std::size_t r = 0; r < mr; ++r)
#pragma GCC unroll 4
        for (std::size_t v = 0; v < NV; ++v) {
            T *o = out + r * ldo + v * L;
            store<V>(o, add ? load<V>(o) + acc[r][v] : acc[r][v]);
        }
}

/// Workspace (elements of T) that `run` needs for a product with at most n rows and n columns.
template <class T> constexpr std::size_t workspace(std::size_t n) {
    const std::size_t nr = tile_cols<T>;
    return kc_block * mc_block + kc_block * ((n + nr - 1) / nr * nr) + tile_rows * nr + 64;
}

/// A is read in place (not packed) when it is this small (elements): it stays in L1 anyway, and
/// packing would cost as much as the products of a narrow layer.
inline constexpr std::size_t direct_a_elements = 4096;

/// A non-owning reference to a tile epilogue `epi(i0, rows, j0, cols)`. The blocked kernel takes
/// this instead of the callable's type, so it is compiled once per (type, contraction, width,
/// layout) for every program and layer, not once per layer of every program: a network of many
/// layers compiles in a fraction of the time (examples/relu0_study: 28 programs per file), for
/// one indirect call per finished tile (a tile is 8 x 32 outputs and 256 k multiply-adds or more).
class epilogue_ref {
  public:
    template <class E>
    explicit epilogue_ref(E &e)
        : obj_(&e), fn_([](void *o, std::size_t i0, std::size_t rows, std::size_t j0, std::size_t cols) {
              (*static_cast<E *>(o))(i0, rows, j0, cols);
          }) {}
    void operator()(std::size_t i0, std::size_t rows, std::size_t j0, std::size_t cols) const { fn_(obj_, i0, rows, j0, cols); }

  private:
    void *obj_;
    void (*fn_)(void *, std::size_t, std::size_t, std::size_t, std::size_t);
};

/// The epilogue of a product that has none: one type for all of them, so every such product of
/// every program shares one compiled kernel per (type, contraction, width, layout), with the empty
/// call compiled in (a lambda `[](auto...) {}` is a new type, and a new kernel, per call site).
struct no_epilogue {
    void operator()(std::size_t, std::size_t, std::size_t, std::size_t) const {}
};

/// Extents known at compile time (0: known at run time only) for a product's m, n and k.
template <std::size_t M = 0, std::size_t N = 0, std::size_t K = 0> struct extents {};

/// The blocked product. With TC, the result is stored transposed: tile (i, j) of A B goes to
/// c[j * ldc + i], `col_init` holds one value per row of A B, and the epilogue is called with
/// C's coordinates (the transposed tile).
template <class T, contraction F, std::size_t NV, bool TC, class E, std::size_t Mc = 0, std::size_t Nc = 0, std::size_t Kc = 0>
void run_impl(std::size_t m_, std::size_t n_, std::size_t k_, view<T> a, view<T> b, T *c, std::size_t ldc, bool accumulate,
              const T *col_init, T *work, E &epi) {
    const std::size_t m = Mc ? Mc : m_, n = Nc ? Nc : n_, k = Kc ? Kc : k_;
    constexpr std::size_t mr = tile_rows, nr = NV * lanes<T>;
    T *pa = work;
    T *pb = pa + kc_block * mc_block;
    T *edge = pb + kc_block * ((n + tile_cols<T> - 1) / tile_cols<T> * tile_cols<T>);
    const bool direct = m * k <= direct_a_elements || a.cs == 1 || a.rs == 1;
    for (std::size_t k0 = 0; k0 < k; k0 += kc_block) {
        const std::size_t kc = std::min(kc_block, k - k0);
        const bool first = k0 == 0, last = k0 + kc == k;
        // B is read in place when its rows are contiguous; only a partial last panel is packed.
        const bool direct_b = b.cs == 1;
        const bool padded_b = direct_b && b.readable >= (n + nr - 1) / nr * nr; // the last panel in place too
        if (!direct_b) pack_b<T, NV>(b, n, k0, kc, pb);
        else if (n % nr && !padded_b) pack_b<T, NV>(view<T>{b.p + n / nr * nr, b.rs, 1}, n % nr, k0, kc, pb + n / nr * nr * kc);
        for (std::size_t i0 = 0; i0 < m; i0 += mc_block) {
            const std::size_t mc = std::min(mc_block, m - i0);
            if (!direct) pack_a(a, i0, mc, k0, kc, pa);
            else if (mc % mr) pack_a(a, i0 + mc / mr * mr, mc % mr, k0, kc, pa + mc / mr * mr * kc); // the edge panel
            for (std::size_t jp = 0; jp < n; jp += nr) {
                const std::size_t cols = std::min(nr, n - jp);
                const T *init = !TC && first && col_init && !accumulate ? col_init + jp : nullptr;
                alignas(64) T init_edge[nr];
                if (init && cols < nr) {
                    for (std::size_t j = 0; j < nr; ++j) init_edge[j] = j < cols ? init[j] : T(0);
                    init = init_edge;
                }
                const bool add = !first || accumulate;
                for (std::size_t ip = 0; ip < mc; ip += mr) {
                    const std::size_t rows = std::min(mr, mc - ip);
                    const bool in_place = direct && rows == mr;
                    const T *ap = in_place ? a.p + (i0 + ip) * a.rs + k0 * a.cs : pa + ip * kc;
                    const std::size_t ak = in_place ? a.cs : mr, ar = in_place ? a.rs : 1;
                    const bool b_in_place = direct_b && (cols == nr || padded_b);
                    const T *bp = b_in_place ? b.p + k0 * b.rs + jp : pb + jp * kc;
                    const std::size_t bk = b_in_place ? b.rs : nr;
                    if constexpr (TC) {
                        T row_init[mr] = {};
                        const bool use_rows = first && col_init && !accumulate;
                        if (use_rows)
                            for (std::size_t r = 0; r < rows; ++r) row_init[r] = col_init[i0 + ip + r];
                        micro<T, F, NV>(kc, ap, ak, ar, bp, bk, nullptr, use_rows ? row_init : nullptr, false, edge, nr);
                        T *ctt = c + jp * ldc + i0 + ip;
                        for (std::size_t j = 0; j < cols; ++j)
                            for (std::size_t r = 0; r < rows; ++r)
                                ctt[j * ldc + r] = add ? ctt[j * ldc + r] + edge[r * nr + j] : edge[r * nr + j];
                        if (last) epi(jp, cols, i0 + ip, rows);
                    } else {
                        T *ct = c + (i0 + ip) * ldc + jp;
                        if (rows == mr && cols == nr) {
                            micro<T, F, NV>(kc, ap, ak, ar, bp, bk, init, nullptr, add, ct, ldc);
                        } else {
                            micro<T, F, NV>(kc, ap, ak, ar, bp, bk, init, nullptr, false, edge, nr);
                            for (std::size_t r = 0; r < rows; ++r)
                                for (std::size_t j = 0; j < cols; ++j)
                                    ct[r * ldc + j] = add ? ct[r * ldc + j] + edge[r * nr + j] : edge[r * nr + j];
                        }
                        if (last) epi(i0 + ip, rows, jp, cols);
                    }
                }
            }
        }
    }
}

/// How `run` computes a product of m x n outputs: transposed (C^T = B^T A^T, when B is stored
/// column-major and A is the smaller operand, so that B^T is read in place and A transposed),
/// and with tiles of one or tile_vectors vectors when the tile's width (the columns, or the
/// rows when transposed) fits in one vector.
struct layout {
    bool transposed;
    bool narrow_tile;
};
template <class T> constexpr layout layout_of(std::size_t m, std::size_t n, view<T> a, view<T> b) {
    const bool t = b.cs != 1 && b.rs == 1 && a.cs == 1 && m < n;
    return {t, (t ? m : n) <= lanes<T>};
}

/// Calls epi(i0, rows, j0, cols) on the tiles of an m x n product in the order run_impl finishes
/// them (row blocks of mc_block, then column panels of nr, then row tiles; a transposed product's
/// tiles in C's coordinates): an epilogue run after the product sees the tiles in the same order
/// as one run inside it, so its sums (a broadcast argument's adjoint) are the same, bit for bit.
template <class Epi> void each_tile(std::size_t m, std::size_t n, std::size_t nr, bool transposed, Epi &epi) {
    constexpr std::size_t mr = tile_rows;
    for (std::size_t i0 = 0; i0 < m; i0 += mc_block) {
        const std::size_t mc = std::min(mc_block, m - i0);
        for (std::size_t jp = 0; jp < n; jp += nr)
            for (std::size_t ip = 0; ip < mc; ip += mr) {
                const std::size_t rows = std::min(mr, mc - ip), cols = std::min(nr, n - jp);
                if (transposed) epi(jp, cols, i0 + ip, rows);
                else epi(i0 + ip, rows, jp, cols);
            }
    }
}

/// run's body, compiled once per (type, contraction) and kind of epilogue (none, or an
/// epilogue_ref); returns the product's layout.
template <class T, contraction F, class E, std::size_t Mc = 0, std::size_t Nc = 0, std::size_t Kc = 0>
layout run_shared(std::size_t m, std::size_t n, std::size_t k, view<T> a, view<T> b, T *c, std::size_t ldc, bool accumulate,
                  const T *col_init, T *work, E &epi) {
    if (k == 0) { // an empty sum: C = init (or unchanged when accumulating)
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j)
                if (!accumulate) c[i * ldc + j] = col_init ? col_init[j] : T(0);
        each_tile(m, n, tile_cols<T>, false, epi);
        return {false, false};
    }
    const layout l = layout_of(m, n, a, b);
    if (l.transposed) {
        const view<T> at{b.p, b.cs, 1}, bt{a.p, 1, a.rs};
        if (l.narrow_tile) run_impl<T, F, 1, true, E, Nc, Mc, Kc>(n, m, k, at, bt, c, ldc, accumulate, col_init, work, epi);
        else run_impl<T, F, tile_vectors, true, E, Nc, Mc, Kc>(n, m, k, at, bt, c, ldc, accumulate, col_init, work, epi);
    } else if (l.narrow_tile) {
        run_impl<T, F, 1, false, E, Mc, Nc, Kc>(m, n, k, a, b, c, ldc, accumulate, col_init, work, epi);
    } else {
        run_impl<T, F, tile_vectors, false, E, Mc, Nc, Kc>(m, n, k, a, b, c, ldc, accumulate, col_init, work, epi);
    }
    return l;
}

/// C = A B (or C += A B when `accumulate`), A m x k, B k x n, C row-major with row stride ldc.
/// `col_init` (optional, n values) starts every row's accumulation (a bias added first).
/// After the last k-block of each tile, `epi(i0, rows, j0, cols)` runs on the finished tile while
/// it is in cache: the fused elementwise epilogue. Narrow products (n <= one vector) use a
/// one-vector-wide tile. The kernel calls the epilogue through an epilogue_ref, so one kernel
/// per (type, contraction, tile width, layout) serves every product of every program.
///
/// `After`: the product is computed first and the epilogue then runs compiled into the caller,
/// and the product's extents that `Ext` (an `extents<M, N, K>`) fixes are compiled into its
/// kernel (one kernel for every product of those extents). For tiny products (a few hundred
/// multiply-adds per tile), whose outputs are still in L1 when the product ends, and where one
/// indirect call per tile costs about a tenth of a step (bench case 2). The epilogue runs once
/// on all of C when C is one panel wide (its tiles are C's rows in order), else on the tiles in
/// the kernel's order (each_tile). Either way its sums (a broadcast argument's adjoint) have one
/// order, whatever the threads.
template <class T, contraction F, bool After = false, class Ext = extents<>, class Epi>
    requires(!is_narrow_v<T>)
void run(std::size_t m, std::size_t n, std::size_t k, view<T> a, view<T> b, T *c, std::size_t ldc, bool accumulate,
         const T *col_init, T *work, Epi &&epi) {
    if (m == 0 || n == 0) return;
    const no_epilogue none;
    if constexpr (After) {
        const layout l = [&]<std::size_t M, std::size_t N, std::size_t K>(extents<M, N, K>) {
            return run_shared<T, F, const no_epilogue, M, N, K>(m, n, k, a, b, c, ldc, accumulate, col_init, work, none);
        }(Ext{});
        if constexpr (!KINK_SAME(std::remove_cvref_t<Epi>, no_epilogue)) {
            const std::size_t nr = k == 0 || !l.narrow_tile ? tile_cols<T> : lanes<T>;
            if (l.transposed) each_tile(n, m, nr, true, epi);
            else if (n <= nr) epi(std::size_t(0), m, std::size_t(0), n);
            else each_tile(m, n, nr, false, epi);
        }
    } else if constexpr (KINK_SAME(std::remove_cvref_t<Epi>, no_epilogue)) {
        run_shared<T, F>(m, n, k, a, b, c, ldc, accumulate, col_init, work, none);
    } else {
        const epilogue_ref ref(epi);
        run_shared<T, F>(m, n, k, a, b, c, ldc, accumulate, col_init, work, ref);
    }
}

/// The element type of a product's workspace: the narrow formats multiply in float.
template <class T> using work_t = accumulate_t<T>;

constexpr std::size_t align16(std::size_t n) { return (n + 15) / 16 * 16; }
/// Workspace (floats) of a narrow-format product C (m x n) = A (m x k) B (k x n).
constexpr std::size_t narrow_workspace(std::size_t m, std::size_t n, std::size_t k) {
    return align16(m * k) + align16(k * n) + align16(m * n) + align16(n) + workspace<float>(std::max(m, n));
}

/// C (+)= A B in a narrow format (float16, bfloat16): the operands are converted to float
/// (exactly), multiplied and accumulated in float by the same kernel (`col_init` included, so a
/// bias added first is part of the float sum), and each element of C is rounded to the format
/// once. The epilogue then runs on the rounded C, in one call.
template <class T, contraction F, bool After = false, class Ext = extents<>, class Epi>
    requires is_narrow_v<T>
void run(std::size_t m, std::size_t n, std::size_t k, view<T> a, view<T> b, T *c, std::size_t ldc, bool accumulate,
         const T *col_init, float *work, Epi &&epi) {
    if (m == 0 || n == 0) return;
    float *fa = work, *fb = fa + align16(m * k), *fc = fb + align16(k * n), *fi = fc + align16(m * n), *rest = fi + align16(n);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < k; ++j) fa[i * k + j] = static_cast<float>(a(i, j));
    for (std::size_t i = 0; i < k; ++i)
        for (std::size_t j = 0; j < n; ++j) fb[i * n + j] = static_cast<float>(b(i, j));
    if (accumulate)
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) fc[i * n + j] = static_cast<float>(c[i * ldc + j]);
    if (col_init)
        for (std::size_t j = 0; j < n; ++j) fi[j] = static_cast<float>(col_init[j]);
    run<float, F>(m, n, k, view<float>{fa, k, 1}, view<float>{fb, n, 1}, fc, n, accumulate, col_init ? fi : nullptr, rest,
                  no_epilogue{});
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] = T(fc[i * n + j]);
    epi(std::size_t(0), m, std::size_t(0), n);
}

} // namespace gemm
} // namespace kink

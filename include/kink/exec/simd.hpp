#pragma once
/// \file
/// SIMD building blocks shared by the kernels (the matrix product, convolution, pooling) and the
/// optimizers: the target's vector width, GCC/Clang vector types, unaligned load/store, broadcast,
/// square root and a multiply-add whose rounding is chosen by the caller, never by the
/// compiler's contraction flags.
///
/// The instruction set is chosen at compile time from the target macros: AVX-512, AVX2 + FMA, or
/// a portable 16-byte vector fallback.

#include <cstddef>
#include <cstring>
#include <string_view>
#include <type_traits>

#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#include <kink/expr/meta.hpp>

namespace kink {

/// How products are accumulated in the matrix kernels.
enum class contraction {
    fused,   ///< fused multiply-add: one rounding per product-and-add
    separate ///< multiply, round, add, round (what a machine without FMA does)
};

namespace simd {

#if defined(__AVX512F__)
inline constexpr std::size_t vector_bytes = 64;
inline constexpr std::size_t tile_rows = 8;
inline constexpr std::string_view isa = "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
inline constexpr std::size_t vector_bytes = 32;
inline constexpr std::size_t tile_rows = 6;
inline constexpr std::string_view isa = "avx2";
#else
inline constexpr std::size_t vector_bytes = 16;
inline constexpr std::size_t tile_rows = 4;
inline constexpr std::string_view isa = "portable";
#endif
/// Whether the target has a hardware fused multiply-add.
#if defined(__FMA__) || defined(__AVX512F__)
inline constexpr bool hardware_fma = true;
#else
inline constexpr bool hardware_fma = false;
#endif

/// The default accumulation: fused where the hardware has FMA (as BLAS libraries do), separate
/// otherwise. Either can be forced through exec_options.
inline constexpr contraction default_contraction = hardware_fma ? contraction::fused : contraction::separate;

typedef float vf __attribute__((vector_size(vector_bytes)));
typedef double vd __attribute__((vector_size(vector_bytes)));
template <class T> struct vec;
template <> struct vec<float> { using type = vf; };
template <> struct vec<double> { using type = vd; };
template <class T> using vec_t = typename vec<T>::type;
template <class T> inline constexpr std::size_t lanes = vector_bytes / sizeof(T);


template <class V> inline V load(const void *p) {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
}
template <class V> inline void store(void *p, V v) { std::memcpy(p, &v, sizeof(V)); }
/// The first n lanes (n <= the vector's lanes) loaded from p, the others 0; nothing past them is
/// read (masked loads with AVX-512 and AVX2, so a row's last partial vector needs no copy).
template <class V> inline V load_first(const void *p, std::size_t n) {
    constexpr std::size_t E = sizeof(V{}[0]);
#if defined(__AVX512F__)
    if constexpr (sizeof(V) == 64 && E == 4) return (V)_mm512_maskz_loadu_ps(__mmask16((1u << n) - 1u), p);
    else if constexpr (sizeof(V) == 64) return (V)_mm512_maskz_loadu_pd(__mmask8((1u << n) - 1u), p);
#elif defined(__AVX2__)
    if constexpr (sizeof(V) == 32 && E == 4)
        return (V)_mm256_maskload_ps(static_cast<const float *>(p), _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    else if constexpr (sizeof(V) == 32)
        return (V)_mm256_maskload_pd(static_cast<const double *>(p), _mm256_cmpgt_epi64(_mm256_set1_epi64x(static_cast<long long>(n)), _mm256_setr_epi64x(0, 1, 2, 3)));
#endif
    V v{};
    std::memcpy(&v, p, n * E);
    return v;
}
/// Stores the first n lanes of v (n <= the vector's lanes) at p; nothing past them is written.
template <class V> inline void store_first(void *p, V v, std::size_t n) {
    constexpr std::size_t E = sizeof(V{}[0]);
#if defined(__AVX512F__)
    if constexpr (sizeof(V) == 64 && E == 4) return _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1u), (__m512)v);
    else if constexpr (sizeof(V) == 64) return _mm512_mask_storeu_pd(p, __mmask8((1u << n) - 1u), (__m512d)v);
#elif defined(__AVX2__)
    if constexpr (sizeof(V) == 32 && E == 4)
        return _mm256_maskstore_ps(static_cast<float *>(p), _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), (__m256)v);
    else if constexpr (sizeof(V) == 32)
        return _mm256_maskstore_pd(static_cast<double *>(p), _mm256_cmpgt_epi64(_mm256_set1_epi64x(static_cast<long long>(n)), _mm256_setr_epi64x(0, 1, 2, 3)), (__m256d)v);
#endif
    std::memcpy(p, &v, n * E);
}

/// A vector with every lane x (a broadcast; `V{} + x` would cost a scalar add first, since
/// 0 + x is not x for x = -0).
template <class V, class T> inline V splat(T x) {
#if defined(__AVX512F__)
    if constexpr (sizeof(V) == 64 && sizeof(T) == 4) return (V)_mm512_set1_ps(x);
    else if constexpr (sizeof(V) == 64) return (V)_mm512_set1_pd(x);
#endif
#if defined(__AVX__)
    if constexpr (sizeof(V) == 32 && sizeof(T) == 4) return (V)_mm256_set1_ps(x);
    else if constexpr (sizeof(V) == 32) return (V)_mm256_set1_pd(x);
#endif
#if defined(__SSE2__)
    if constexpr (sizeof(V) == 16 && sizeof(T) == 4) return (V)_mm_set1_ps(x);
    else if constexpr (sizeof(V) == 16) return (V)_mm_set1_pd(x);
#endif
    V r;
    for (std::size_t i = 0; i < sizeof(V) / sizeof(T); ++i) r[i] = x;
    return r;
}

/// Elementwise square root of a vector (one instruction on x86).
template <class V> inline V sqrt_v(V a) {
#if defined(__AVX512F__)
    if constexpr (sizeof(V) == 64 && sizeof(a[0]) == 4) return (V)_mm512_maskz_sqrt_ps(__mmask16(0xFFFF), (__m512)a); // maskz: no _mm512_undefined (g++ 12 warns)
    else if constexpr (sizeof(V) == 64) return (V)_mm512_maskz_sqrt_pd(__mmask8(0xFF), (__m512d)a);
#elif defined(__AVX2__) && defined(__FMA__)
    if constexpr (sizeof(V) == 32 && sizeof(a[0]) == 4) return (V)_mm256_sqrt_ps((__m256)a);
    else if constexpr (sizeof(V) == 32) return (V)_mm256_sqrt_pd((__m256d)a);
#elif defined(__SSE2__)
    if constexpr (sizeof(V) == 16 && sizeof(a[0]) == 4) return (V)_mm_sqrt_ps((__m128)a);
    else if constexpr (sizeof(V) == 16) return (V)_mm_sqrt_pd((__m128d)a);
#endif
    V r;
    for (std::size_t i = 0; i < sizeof(V) / sizeof(a[0]); ++i) {
        if constexpr (sizeof(a[0]) == 4) r[i] = __builtin_sqrtf(a[i]);
        else r[i] = __builtin_sqrt(a[i]);
    }
    return r;
}

/// x, as a value the compiler must take as computed: an expression built from it is not
/// contracted with x's own operation (a product stays rounded on its own, not fused into an FMA
/// with the sum it enters). g++ contracts `a * b + c` across statements wherever FMA is
/// available (its default for C++ is -ffp-contract=fast), clang within an expression, and
/// whether it does depends on the code around it (inlining, vectorization), so the same source
/// gave different bits in different contexts.
/// (The narrow formats are classes whose every operation rounds: nothing to keep apart.)
template <class V> inline V apart(V x) {
    if constexpr (!std::is_class_v<V>) {
#if defined(__x86_64__) || defined(__i386__)
        __asm__("" : "+x"(x));
#else
        __asm__("" : "+w"(x));
#endif
    }
    return x;
}

/// c + a * b with the requested rounding.
template <contraction F, class T, class V> inline V mul_add(V a, V b, V c) {
    if constexpr (F == contraction::fused) {
#if defined(__AVX512F__)
        if constexpr (sizeof(V) == 64 && KINK_SAME(T, float)) return (V)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
        else if constexpr (sizeof(V) == 64) return (V)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
#elif defined(__AVX2__) && defined(__FMA__)
        if constexpr (sizeof(V) == 32 && KINK_SAME(T, float)) return (V)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
        else if constexpr (sizeof(V) == 32) return (V)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
#endif
        V r;
        for (std::size_t i = 0; i < sizeof(V) / sizeof(a[0]); ++i) {
            if constexpr (sizeof(a[0]) == 4) r[i] = __builtin_fmaf(a[i], b[i], c[i]);
            else r[i] = __builtin_fma(a[i], b[i], c[i]);
        }
        return r;
    } else {
        return c + apart(a * b); // the product is rounded on its own: no contraction into an FMA
    }
}
} // namespace simd
} // namespace kink

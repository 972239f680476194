#pragma once
/// \file
/// Narrow floating-point scalars for `compile<T>`: IEEE 754 binary16 (`float16`, the format of
/// `_Float16`) and bfloat16 (`bfloat16`: float's exponent, 8 significand bits).
///
/// Semantics, the same on every CPU and compiler:
///  - storage is 16 bits; every arithmetic operation (+ - * /, and exp, log, sqrt, tanh, ...) is
///    computed in float and rounded to the format, to nearest, ties to even. For + - * / and sqrt
///    this is the correctly rounded result of the exact operation (float has more than 2p + 2
///    significand bits for p = 11 and p = 8, so rounding twice is innocuous);
///  - matrix products and the column sums of a bias gradient accumulate in float and round once
///    (exec/gemm.hpp), as PyTorch's half and bfloat16 matrix products do on CPUs and GPUs;
///  - conversion from double rounds once (through float with round-to-odd).
///
/// Why not `_Float16` itself: native binary16 arithmetic needs AVX512-FP16 (Sapphire Rapids;
/// AMD Zen 4 has AVX512-BF16 but not FP16), clang 14 rejects `_Float16` on x86 without it, and
/// g++ 12 evaluates `_Float16` expressions in float with excess precision in C++ (rounding only
/// at assignments), so `a * b + c` would depend on the compiler. With F16C (-march=native on any
/// x86 since 2013) the conversions are single instructions; a software conversion (bit-exact,
/// tested against F16C) is used elsewhere and in constant evaluation.

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace kink {
namespace detail {

/// float -> binary16, round to nearest even; NaN stays NaN (quiet), overflow gives infinity.
constexpr std::uint16_t f32_to_f16_soft(float f) {
    const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
    const std::uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return static_cast<std::uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u); // >= 65520: rounds to infinity
    if (ax >= 0x38800000u) {                                                   // a normal binary16
        const std::uint32_t r = ax + 0x0fffu + ((ax >> 13) & 1u) - 0x38000000u;
        return static_cast<std::uint16_t>(sign | (r >> 13));
    }
    const std::uint32_t e = ax >> 23;
    if (e < 102) return static_cast<std::uint16_t>(sign); // below 2^-25: zero
    const std::uint32_t m = (ax & 0x7fffffu) | 0x800000u, shift = 126 - e;
    std::uint32_t q = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (q & 1u))) ++q;
    return static_cast<std::uint16_t>(sign | q);
}
/// binary16 -> float (exact).
constexpr float f16_to_f32_soft(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) {
        const float v = static_cast<float>(m) * 0x1p-24f;
        return sign ? -v : v;
    }
    if (e == 31) return std::bit_cast<float>(sign | 0x7f800000u | (m << 13));
    return std::bit_cast<float>(sign | ((e + 112) << 23) | (m << 13));
}
/// float -> bfloat16, round to nearest even; NaN stays NaN (quiet).
constexpr std::uint16_t f32_to_bf16(float f) {
    const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);
    return static_cast<std::uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
constexpr float bf16_to_f32(std::uint16_t h) { return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16); }

/// double -> float rounded to odd: converting that to a format with at most 22 significand bits
/// rounds like converting the double directly.
constexpr float to_float_odd(double d) {
    float f = static_cast<float>(d);
    if (d == d && static_cast<double>(f) != d && d - d == 0.0) { // finite and inexact
        std::uint32_t b = std::bit_cast<std::uint32_t>(f);
        if ((f < 0 ? -static_cast<double>(f) : static_cast<double>(f)) > (d < 0 ? -d : d)) --b; // toward zero
        f = std::bit_cast<float>(b | 1u);
    }
    return f;
}

struct binary16_format {
    static constexpr const char *name = "float16";
    static constexpr int digits = 11, max_exponent = 16, min_exponent = -13;
    static constexpr std::uint16_t encode(float f) {
#if defined(__F16C__)
        if (!std::is_constant_evaluated()) // (_cvtss_sh is a compound literal in clang's headers: -Wpedantic)
            return static_cast<std::uint16_t>(_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0));
#endif
        return f32_to_f16_soft(f);
    }
    static constexpr float decode(std::uint16_t h) {
#if defined(__F16C__)
        if (!std::is_constant_evaluated()) return _cvtsh_ss(h);
#endif
        return f16_to_f32_soft(h);
    }
    static constexpr std::uint16_t max_bits = 0x7bff, min_bits = 0x0400, denorm_bits = 0x0001, eps_bits = 0x1400,
                                   inf_bits = 0x7c00, nan_bits = 0x7e00;
};
struct bfloat16_format {
    static constexpr const char *name = "bfloat16";
    static constexpr int digits = 8, max_exponent = 128, min_exponent = -125;
    static constexpr std::uint16_t encode(float f) { return f32_to_bf16(f); }
    static constexpr float decode(std::uint16_t h) { return bf16_to_f32(h); }
    static constexpr std::uint16_t max_bits = 0x7f7f, min_bits = 0x0080, denorm_bits = 0x0001, eps_bits = 0x3c00,
                                   inf_bits = 0x7f80, nan_bits = 0x7fc0;
};

} // namespace detail

template <class A>
concept arithmetic = std::is_arithmetic_v<A>;

/// A 16-bit floating-point scalar; every operation rounds to the format (see the file comment).
/// Converts implicitly from and to the built-in arithmetic types; an operation mixing it with a
/// built-in type converts that operand to the format first.
template <class Format> struct narrow_float {
    using format = Format;
    std::uint16_t bits = 0;

    narrow_float() = default;
    template <arithmetic A> constexpr narrow_float(A a) : bits(from(a)) {}
    constexpr operator float() const { return Format::decode(bits); }
    static constexpr narrow_float from_bits(std::uint16_t b) {
        narrow_float r;
        r.bits = b;
        return r;
    }

    friend constexpr narrow_float operator-(narrow_float a) { return from_bits(static_cast<std::uint16_t>(a.bits ^ 0x8000u)); }
    friend constexpr narrow_float operator+(narrow_float a) { return a; }
#define KINK_NARROW_OP(op)                                                                                              \
    friend constexpr narrow_float operator op(narrow_float a, narrow_float b) {                                         \
        return narrow_float(static_cast<float>(a) op static_cast<float>(b));                                           \
    }                                                                                                                  \
    template <arithmetic A> friend constexpr narrow_float operator op(narrow_float a, A b) { return a op narrow_float(b); } \
    template <arithmetic A> friend constexpr narrow_float operator op(A a, narrow_float b) { return narrow_float(a) op b; } \
    constexpr narrow_float &operator op##=(narrow_float b) { return *this = *this op b; }
    KINK_NARROW_OP(+)
    KINK_NARROW_OP(-)
    KINK_NARROW_OP(*)
    KINK_NARROW_OP(/)
#undef KINK_NARROW_OP
#define KINK_NARROW_CMP(op)                                                                                             \
    friend constexpr bool operator op(narrow_float a, narrow_float b) { return static_cast<float>(a) op static_cast<float>(b); } \
    template <arithmetic A> friend constexpr bool operator op(narrow_float a, A b) { return a op narrow_float(b); }     \
    template <arithmetic A> friend constexpr bool operator op(A a, narrow_float b) { return narrow_float(a) op b; }
    KINK_NARROW_CMP(==)
    KINK_NARROW_CMP(!=)
    KINK_NARROW_CMP(<)
    KINK_NARROW_CMP(>)
    KINK_NARROW_CMP(<=)
    KINK_NARROW_CMP(>=)
#undef KINK_NARROW_CMP

    // The math functions the ops use, found by argument-dependent lookup.
#define KINK_NARROW_FN(fn)                                                                                              \
    friend narrow_float fn(narrow_float a) { return narrow_float(std::fn(static_cast<float>(a))); }
    KINK_NARROW_FN(exp)
    KINK_NARROW_FN(expm1)
    KINK_NARROW_FN(erfc)
    KINK_NARROW_FN(log)
    KINK_NARROW_FN(log1p)
    KINK_NARROW_FN(sqrt)
    KINK_NARROW_FN(tanh)
    KINK_NARROW_FN(sin)
    KINK_NARROW_FN(cos)
#undef KINK_NARROW_FN
    friend constexpr narrow_float abs(narrow_float a) { return from_bits(static_cast<std::uint16_t>(a.bits & 0x7fffu)); }
    friend constexpr narrow_float fabs(narrow_float a) { return abs(a); }
    friend constexpr bool isnan(narrow_float a) { return (a.bits & 0x7fffu) > Format::inf_bits; }
    friend constexpr bool isinf(narrow_float a) { return (a.bits & 0x7fffu) == Format::inf_bits; }
    friend constexpr bool isfinite(narrow_float a) { return (a.bits & 0x7fffu) < Format::inf_bits; }
    friend constexpr bool signbit(narrow_float a) { return (a.bits & 0x8000u) != 0; }
    friend narrow_float pow(narrow_float a, narrow_float b) { return narrow_float(std::pow(static_cast<float>(a), static_cast<float>(b))); }

  private:
    template <arithmetic A> static constexpr std::uint16_t from(A a) {
        if constexpr (std::is_same_v<A, float>) return Format::encode(a);
        else return Format::encode(detail::to_float_odd(static_cast<double>(a)));
    }
};

/// IEEE 754 binary16 ("half"), computed as described in the file comment.
using float16 = narrow_float<detail::binary16_format>;
/// bfloat16 (Google Brain float), computed as described in the file comment.
using bfloat16 = narrow_float<detail::bfloat16_format>;

template <class T> inline constexpr bool is_narrow_v = false;
template <class F> inline constexpr bool is_narrow_v<narrow_float<F>> = true;
/// The type products accumulate in: float for the narrow formats, T otherwise.
template <class T> using accumulate_t = std::conditional_t<is_narrow_v<T>, float, T>;

/// The scalar type's name as the docs and CSV files print it.
template <class T> constexpr const char *scalar_name() {
    if constexpr (is_narrow_v<T>) return T::format::name;
    else if constexpr (std::is_same_v<T, float>) return "float32";
    else if constexpr (std::is_same_v<T, double>) return "float64";
    else return "other";
}

} // namespace kink

template <class F> struct std::numeric_limits<kink::narrow_float<F>> {
    using T = kink::narrow_float<F>;
    static constexpr bool is_specialized = true, is_signed = true, is_integer = false, is_exact = false,
                          has_infinity = true, has_quiet_NaN = true, is_iec559 = std::is_same_v<F, kink::detail::binary16_format>;
    static constexpr int digits = F::digits, radix = 2, max_exponent = F::max_exponent, min_exponent = F::min_exponent;
    static constexpr std::float_round_style round_style = std::round_to_nearest;
    static constexpr T max() { return T::from_bits(F::max_bits); }
    static constexpr T lowest() { return T::from_bits(static_cast<std::uint16_t>(F::max_bits | 0x8000u)); }
    static constexpr T min() { return T::from_bits(F::min_bits); }
    static constexpr T denorm_min() { return T::from_bits(F::denorm_bits); }
    static constexpr T epsilon() { return T::from_bits(F::eps_bits); }
    static constexpr T infinity() { return T::from_bits(F::inf_bits); }
    static constexpr T quiet_NaN() { return T::from_bits(F::nan_bits); }
};

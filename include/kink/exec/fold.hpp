#pragma once
/// \file
/// The fixed-order fold of a step's chunk gradients: g += slot 0, then slot 1, ... element by
/// element, so the sum has the same bits for every number of threads (exec/program.hpp keeps one
/// slot per chunk that did not write into the gradient directly). Functions of the scalar type
/// only, not of a program: every program of a translation unit shares them.

#include <array>
#include <cstddef>
#include <span>

#include <kink/exec/narrow.hpp>
#include <kink/exec/simd.hpp>

namespace kink::detail {

/// g[j] += s_0[j], then s_1[j], ... (n slots, `stride` values apart), for j in [a, e): a vector
/// of g at a time held in a register across the slots, so g is read and written once.
template <class T>
void fold_range(T *__restrict g, const T *__restrict slots, std::size_t stride, std::size_t n, std::size_t a, std::size_t e) {
    std::size_t j = a;
    if constexpr (!is_narrow_v<T>) {
        using V = simd::vec_t<T>;
        constexpr std::size_t L = simd::lanes<T>;
        for (; j + L <= e; j += L) {
            V acc = simd::load<V>(g + j);
            for (const T *p = slots + j, *end = p + n * stride; p != end; p += stride) acc = acc + simd::load<V>(p);
            simd::store<V>(g + j, acc);
        }
    }
    T *__restrict o = g + j;
    const T *s = slots + j;
    for (std::size_t i = 0, rest = e - j; i < rest; ++i) {
        T acc = o[i];
        for (const T *p = s + i, *end = p + n * stride; p != end; p += stride) acc = static_cast<T>(acc + *p);
        o[i] = acc;
    }
}

/// Share t of m of the fold g += n slots (`stride` values apart) over the given parameter ranges
/// ({offset, size} each): each range split evenly over the shares.
template <class T>
void fold_slots(T *g, const T *slots, std::size_t stride, std::size_t n, std::span<const std::array<std::size_t, 2>> ranges, std::size_t t,
                std::size_t m) {
    for (const auto &[off, size] : ranges) fold_range(g, slots, stride, n, off + size * t / m, off + size * (t + 1) / m);
}

} // namespace kink::detail

#pragma once
/// \file
/// The finite check of `exec_options{.check_finite = true}`: the first NaN or infinity among a
/// node's values, and the error that names it.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <kink/exec/narrow.hpp>

namespace kink {

/// Thrown by a program compiled with `exec_options{.check_finite = true}` at the first NaN or
/// infinity of a step: "kink: step: node v3 (relu) is NaN at sample 2, element 17". Nodes are
/// numbered as formulas() prints them (v1, v2, ... over the non-leaf nodes in topological order).
struct non_finite_error : std::domain_error {
    using std::domain_error::domain_error;
};

namespace detail {
/// The first non-finite of n values, or n.
template <class T> std::size_t first_non_finite(const T *v, std::size_t n) {
    if constexpr (!is_narrow_v<T>) { // one branch-free pass on the exponent bits (vectorizes: 12x the
        // speed of a compare loop): all exponent bits set is NaN or inf
        using U = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
        constexpr U exp = sizeof(T) == 8 ? U(0x7ff0000000000000ull) : U(0x7f800000u);
        U bad = 0;
        for (std::size_t i = 0; i < n; ++i) {
            U b;
            std::memcpy(&b, v + i, sizeof b);
            bad |= U((b & exp) == exp);
        }
        if (!bad) return n;
    }
    for (std::size_t i = 0; i < n; ++i)
        if (!(static_cast<double>(v[i]) - static_cast<double>(v[i]) == 0.0)) return i;
    return n;
}
/// Throws non_finite_error for value v at index i of `what` (per_sample values per sample).
template <class T> [[noreturn]] void report_non_finite(const std::string &what, T v, std::size_t i, std::size_t per_sample, bool batched) {
    const double d = static_cast<double>(v);
    std::string where = batched ? "sample " + std::to_string(i / per_sample) + ", element " + std::to_string(i % per_sample)
                                : "element " + std::to_string(i);
    throw non_finite_error("kink: step: " + what + " is " + (d != d ? "NaN" : (d > 0 ? "+inf" : "-inf")) + " at " + where);
}
/// Throws non_finite_error at the first NaN or infinity among the gradients in `grads` of the
/// parameters `which` (indices into offsets, sizes and names): a function of the scalar type
/// only, shared by every program.
template <class T>
void check_gradients(const T *grads, std::span<const std::size_t> which, std::span<const std::size_t> offsets, std::span<const std::size_t> sizes,
                     std::span<const std::string_view> names) {
    for (const std::size_t k : which) {
        const T *g = grads + offsets[k];
        if (const std::size_t i = first_non_finite(g, sizes[k]); i < sizes[k])
            report_non_finite("the gradient of parameter '" + std::string(names[k]) + "'", g[i], i, sizes[k], false);
    }
}
} // namespace detail
} // namespace kink

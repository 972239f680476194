#pragma once
/// \file
/// Dropout (Srivastava et al. 2014) as PyTorch's F.dropout in training mode: each element is
/// kept with probability 1 - p and scaled by 1 / (1 - p), or set to zero:
///
///     y = x * keep / (1 - p),   dx = g * keep / (1 - p)
///
/// The mask is a function of (seed, step, the dropout's name, the sample's index in the batch,
/// the element's index): counter-based (SplitMix64's stream at that position, keyed by the other
/// three; Salmon et al. 2011 for counter-based generators), so a mask is reproducible, the same
/// for every thread count, chunk size and share of the batch, and the backward pass regenerates it
/// instead of storing it. The program keeps the seed and counts the steps (program::seed,
/// program::rng_step). In evaluation mode (`eval_mode`) dropout is the identity. Not a kink: the
/// mask is constant for a step, and y is linear in x.

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include <kink/expr/key.hpp>
#include <kink/expr/mode.hpp>
#include <kink/ops/reduce.hpp>

namespace kink {

/// dropout with p = Num / Den; Name keys its stream, so two dropouts draw independent masks.
template <int Num, int Den, fixed_string Name> struct dropout_op {
    static_assert(Den > 0 && Num >= 0 && Num < Den, "kink: dropout: p = Num / Den must lie in [0, 1)");
    KINK_TENSOR_OP("dropout", "\\operatorname{dropout}")
    /// p, and the name that keys the masks.
    static std::string attributes() { return "p=" + std::to_string(Num) + "/" + std::to_string(Den) + ", stream=" + std::string(Name.view()); }
    /// In evaluation mode the node is its input.
    static constexpr std::size_t eval_arg = 0;
    template <class... S> struct shape_rule {
        static constexpr bool ok = sizeof...(S) == 1;
        using type = std::conditional_t<ok, meta::at_t<0, meta::list<S..., void>>, void>;
    };
    static constexpr double p = double(Num) / double(Den);
    /// An element is kept when the top 53 bits of its random word reach Num 2^53 / Den (exactly:
    /// the probability of keeping is 1 - p to within 2^-53).
    static constexpr std::uint64_t threshold = [] { // floor(Num 2^53 / Den), by binary long division
        std::uint64_t t = 0, r = std::uint64_t(Num);
        for (int bit = 0; bit < 53; ++bit) {
            r *= 2;
            t = 2 * t + (r >= std::uint64_t(Den));
            if (r >= std::uint64_t(Den)) r -= std::uint64_t(Den);
        }
        return t;
    }();
    static constexpr std::uint64_t salt = detail::fnv1a(Name.view(), 14695981039346656037ull);

    /// The key of one step's masks.
    static constexpr std::uint64_t key(std::uint64_t seed, std::uint64_t step) {
        return detail::mix64(seed ^ detail::mix64(salt ^ detail::mix64(step + 0x632be59bd9b4e019ull)));
    }
    /// Whether element e (sample * size + j) is kept under key k.
    static constexpr bool keep(std::uint64_t k, std::uint64_t e) { return (detail::mix64(k + (e + 1) * 0x9e3779b97f4a7c15ull) >> 11) >= threshold; }
    /// The scale of a kept element, 1 / (1 - p) in T (PyTorch: the mask divided by 1 - p).
    template <class T> static T scale() { return static_cast<T>(T(1) / static_cast<T>(1.0 - p)); }

    /// y (+)= x * mask / (1 - p) for `rows` samples of n values, the first being sample `first`
    /// of the batch (the forward pass; the backward pass applies it to the adjoint).
    template <bool Assign, class T>
    static void apply(const T *x, T *y, std::size_t rows, std::size_t n, std::uint64_t k, std::size_t first) {
        const T s = scale<T>();
        for (std::size_t r = 0; r < rows; ++r) {
            const std::uint64_t e0 = std::uint64_t(first + r) * n;
            for (std::size_t j = 0; j < n; ++j) {
                const T v = keep(k, e0 + j) ? static_cast<T>(x[r * n + j] * s) : T(0);
                y[r * n + j] = Assign ? v : static_cast<T>(y[r * n + j] + v);
            }
        }
    }
    template <std::size_t K, class Node> static std::string vjp_latex(const std::string &g, const std::string *, const std::string &) {
        return "\\frac{" + g + " \\odot m}{1 - " + std::to_string(Num) + "/" + std::to_string(Den) + "}";
    }
};

/// `dropout<"drop1">(x)`: dropout with p = 1/2; `dropout<"drop1", 1, 5>(x)` with p = 1/5. The
/// name keys the masks (two dropouts with one name would drop the same elements).
template <fixed_string Name, int Num = 1, int Den = 2, expression X> constexpr auto dropout(const X &x) {
    static_assert(batched_v<graph_t<X>> || has_bad_shape_v<graph_t<X>>,
                  "kink: dropout: the argument must depend on the batch (an input): its mask is drawn per sample");
    return make_node<dropout_op<Num, Den, Name>>(x);
}

} // namespace kink

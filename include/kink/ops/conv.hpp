#pragma once
/// \file
/// Convolution and flattening: the tensor ops of a convolutional network's feature extractor.
///
/// Values of rank 3 are one sample's channels x height x width, stored row-major (PyTorch's
/// NCHW with the batch as the runtime leading dimension), so `flatten` is the identity on the
/// stored values and a dense layer after it sees the order PyTorch's `x.flatten(1)` gives.
///
/// conv2d(x, W, b) for x [C, H, W], W [O, C, KH, KW], b [O], stride s, zero padding p,
/// dilation d (a cross-correlation, as in every framework):
///
///     y[o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] x[c, s i + d u - p, s j + d v - p]
///
/// with x = 0 outside the image; OH = (H + 2p - d (KH - 1) - 1) / s + 1 (rounded down). Its
/// vector-Jacobian products, for the adjoint g of y:
///
///     dW[o, c, u, v] = sum_{i, j} g[o, i, j] x[c, s i + d u - p, s j + d v - p]
///     db[o]          = sum_{i, j} g[o, i, j]
///     dx[c, h, w]    = sum_{o, u, v, i, j : s i + d u - p = h, s j + d v - p = w} g[o, i, j] W[o, c, u, v]
///
/// The convolution is linear in x and in W: it has no kink. Its kernels (exec/kernels/conv.hpp)
/// lower all three products to the matrix-product kernel.

#include <cstddef>
#include <string>
#include <string_view>

#include <kink/ops/reduce.hpp>

namespace kink {

/// Stride, zero padding and dilation of a convolution (the same in both spatial directions).
struct conv {
    std::size_t stride = 1, padding = 0, dilation = 1;
};

namespace detail {
/// The output extent of a window of k taps over n inputs: (n + 2p - d (k - 1) - 1) / s + 1, or
/// 0 when the window does not fit.
constexpr std::size_t window_extent(std::size_t n, std::size_t k, std::size_t s, std::size_t p, std::size_t d) {
    const std::size_t span = d * (k - 1) + 1;
    if (s == 0 || k == 0 || n + 2 * p < span) return 0;
    return (n + 2 * p - span) / s + 1;
}
} // namespace detail

/// conv2d(x, W[, b]) with stride, padding and dilation; see the file comment for the
/// formulas. (Three numbers rather than a `conv`, so that both compilers print the op alike.)
template <std::size_t Stride, std::size_t Pad, std::size_t Dil> struct conv2d_op {
    KINK_TENSOR_OP("conv2d", "\\operatorname{conv}")
    static constexpr conv geometry{Stride, Pad, Dil};
    /// What differs from PyTorch's Conv2d defaults (stride 1, padding 0, dilation 1), printed.
    static std::string attributes() {
        std::string a;
        auto add = [&](const char *k, std::size_t v) { a += (a.empty() ? "" : ", ") + std::string(k) + "=" + std::to_string(v); };
        if (Stride != 1) add("stride", Stride);
        if (Pad != 0) add("padding", Pad);
        if (Dil != 1) add("dilation", Dil);
        return a;
    }
    static constexpr conv G = geometry;
    template <class... S> struct shape_rule {
        static constexpr bool ok = false;
        using type = void;
    };
    template <class X, class W, class... B> struct rule {
        static constexpr bool ranks = X::rank == 3 && W::rank == 4;
        static constexpr std::size_t C = ranks ? X::dims[0] : 0, H = ranks ? X::dims[ranks ? 1 : 0] : 0,
                                     Wd = ranks ? X::dims[ranks ? 2 : 0] : 0;
        static constexpr std::size_t O = ranks ? W::dims[0] : 0, KC = ranks ? W::dims[ranks ? 1 : 0] : 0,
                                     KH = ranks ? W::dims[ranks ? 2 : 0] : 0, KW = ranks ? W::dims[ranks ? 3 : 0] : 0;
        static constexpr std::size_t OH = detail::window_extent(H, KH, G.stride, G.padding, G.dilation),
                                     OW = detail::window_extent(Wd, KW, G.stride, G.padding, G.dilation);
        static constexpr bool bias_ok = ((B::rank == 1 && B::dims[0] == O) && ...);
        static constexpr bool ok = ranks && C == KC && OH > 0 && OW > 0 && bias_ok && sizeof...(B) <= 1;
        using type = std::conditional_t<ok, shape<O, OH, OW>, void>;
    };
    template <class X, class W> struct shape_rule<X, W> : rule<X, W> {};
    template <class X, class W, class B> struct shape_rule<X, W, B> : rule<X, W, B> {};

    /// The adjoint contribution to argument K (x, W, b), printed per sample.
    template <std::size_t K, class Node>
    static std::string vjp_latex(const std::string &g, const std::string *args, const std::string &) {
        if constexpr (K == 0) return "\\operatorname{conv}^{\\top}_{x}\\left(" + g + ", " + args[1] + "\\right)";
        else if constexpr (K == 1) return "\\operatorname{conv}^{\\top}_{W}\\left(" + g + ", " + args[0] + "\\right)";
        else return "\\textstyle\\sum_{i,j} " + g + "_{\\cdot, i, j}";
    }
};

/// flatten(x): a tensor's values as one vector, in storage order (channels, then rows, then
/// columns). No computation: the program reads the argument's storage.
struct flatten_op {
    KINK_TENSOR_OP("flatten", "\\operatorname{flatten}")
    template <class... S> struct shape_rule {
        static constexpr bool ok = false;
        using type = void;
    };
    template <class S> struct shape_rule<S> {
        static constexpr bool ok = S::rank >= 1;
        using type = shape<S::size>;
    };
    template <std::size_t K, class Node>
    static std::string vjp_latex(const std::string &g, const std::string *args, const std::string &) {
        return "\\operatorname{reshape}_{" + args[0] + "}\\left(" + g + "\\right)";
    }
};

/// `conv2d(x, W)` or `conv2d(x, W, b)`: x [C, H, W] (per sample), W [O, C, KH, KW], b [O];
/// `conv2d<conv{.stride = 2, .padding = 1}>(x, W, b)` for another geometry. Channels that
/// disagree are one compile-time error naming conv2d and both shapes.
template <conv G = conv{}, expression X, expression W> constexpr auto conv2d(const X &x, const W &w) {
    static_assert(G.stride >= 1 && G.dilation >= 1, "kink: conv2d: stride and dilation must be at least 1");
    return make_node<conv2d_op<G.stride, G.padding, G.dilation>>(x, w);
}
template <conv G = conv{}, expression X, expression W, expression B> constexpr auto conv2d(const X &x, const W &w, const B &b) {
    static_assert(G.stride >= 1 && G.dilation >= 1, "kink: conv2d: stride and dilation must be at least 1");
    return make_node<conv2d_op<G.stride, G.padding, G.dilation>>(x, w, b);
}
/// `flatten(x)`: x's values as a vector (for the dense layers after a convolution).
template <expression X> constexpr auto flatten(const X &x) { return make_node<flatten_op>(x); }

} // namespace kink

#pragma once
/// \file
/// Batch statistics: ops whose value is one for the whole batch, formed from every sample (the
/// statistics batch normalisation divides by). Every other op is per sample; these make a
/// program run in phases (exec/program.hpp): the chunks of the batch run up to the statistic,
/// the chunks' partial sums are added in chunk order, and the chunks go on with the result. So
/// the value is the same, bit for bit, for every number of threads.
///
/// batch_mean(x) for a batch of B samples:
///   a vector of n features:  y_j = (1 / B) sum_s x_{s j}                      (shape [n])
///   a [C, H, W] value:       y_c = (1 / (B H W)) sum_s sum_{h w} x_{s c h w}   (shape [C])
/// the means of PyTorch's BatchNorm1d (over the batch) and BatchNorm2d (over the batch and the
/// positions). Sums are accumulated in double (PyTorch's CPU batch norm accumulates float
/// statistics in double too, at::acc_type) and rounded once. Its vector-Jacobian product spreads
/// the whole batch's adjoint evenly: dx_{s c p} = g_c / (B H W). Linear: no kink.

#include <cstddef>
#include <string>
#include <type_traits>

#include <kink/ops/reduce.hpp>

namespace kink {

namespace detail {
/// The shape of a per-channel batch statistic of a value of shape S: a vector keeps its shape,
/// a [C, H, W] value gives [C].
template <class... S> struct channel_stat_shape {
    static constexpr bool ok = false;
    using type = void;
};
template <class S> struct channel_stat_shape<S> {
    static constexpr bool ok = S::rank == 1 || S::rank == 3;
    using type = std::conditional_t<ok, shape<(ok ? S::dims[0] : 0)>, void>;
};
} // namespace detail

/// The geometry of a per-channel statistic of shape S: channels, and positions per channel.
template <class S> struct channel_geometry {
    static constexpr std::size_t channels = S::dims[0], positions = S::size / S::dims[0];
};

/// batch_mean(x): the per-channel mean over the batch (and the positions of an image).
struct batch_mean_op {
    KINK_TENSOR_OP("batch_mean", "\\operatorname{bmean}")
    static constexpr bool reduces_batch = true;
    template <class... S> using shape_rule = detail::channel_stat_shape<S...>;

    /// Adds the sums of `rows` samples of x (channels x positions values each) to part[c].
    template <class T> static void accumulate(const T *x, std::size_t rows, std::size_t channels, std::size_t positions, double *part) {
        for (std::size_t s = 0; s < rows; ++s)
            for (std::size_t c = 0; c < channels; ++c) {
                const T *xc = x + (s * channels + c) * positions;
                double a = 0;
                for (std::size_t p = 0; p < positions; ++p) a += static_cast<double>(xc[p]);
                part[c] += a;
            }
    }
    /// The value from the whole batch's sums: y_c = sum_c / n, n = B * positions.
    template <class T> static void finish(const double *sum, std::size_t channels, std::size_t n, T *y) {
        for (std::size_t c = 0; c < channels; ++c) y[c] = static_cast<T>(sum[c] / static_cast<double>(n));
    }
    /// dx_{s c p} (+)= g_c / n for `rows` samples, n = B * positions.
    template <class T>
    static void backward(const T *g, std::size_t rows, std::size_t channels, std::size_t positions, std::size_t n, T *dx, bool assign) {
        for (std::size_t s = 0; s < rows; ++s)
            for (std::size_t c = 0; c < channels; ++c) {
                const T v = static_cast<T>(g[c] / static_cast<T>(n));
                T *d = dx + (s * channels + c) * positions;
                for (std::size_t p = 0; p < positions; ++p) d[p] = assign ? v : static_cast<T>(d[p] + v);
            }
    }
    template <std::size_t K, class Node> static std::string vjp_latex(const std::string &g, const std::string *, const std::string &) {
        using S = shape_of_t<arg_t<0, Node>>;
        const std::string n = S::rank == 3 ? "B \\cdot " + std::to_string(S::size / S::dims[0]) : "B";
        return "\\frac{1}{" + n + "} \\operatorname{spread}\\left(" + g + "\\right)";
    }
};

/// `batch_mean(x)`: the mean over the batch of a per-sample vector (per feature) or of a
/// [C, H, W] value (per channel, over the batch and the positions).
template <expression X> constexpr auto batch_mean(const X &x) {
    static_assert(shape_of_t<graph_t<X>>::rank == 1 || shape_of_t<graph_t<X>>::rank == 3 || is_bad_shape_v<shape_of_t<graph_t<X>>>,
                  "kink: batch_mean: the argument must be a vector or a [C, H, W] value");
    static_assert(batched_v<graph_t<X>> || has_bad_shape_v<graph_t<X>>,
                  "kink: batch_mean: the argument must depend on the batch (an input), not only on parameters and constants");
    return make_node<batch_mean_op>(x);
}

} // namespace kink

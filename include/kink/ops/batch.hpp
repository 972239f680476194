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

#include <kink/expr/mode.hpp>
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

/// How a batch statistic keeps a running average of itself in a running statistic (a
/// `running<...>` leaf), PyTorch's BatchNorm convention: after each training step,
///   running = (1 - m) running + m s,   m = Num / Den (PyTorch's momentum, 0.1 by default),
/// s the statistic, or with Unbiased the statistic times n / (n - 1), n = B x positions values per
/// channel (the unbiased variance PyTorch's running_var keeps while it normalises with the biased
/// one). Computed in double from the statistic's double sum and rounded once, as PyTorch does
/// (batch_norm_cpu_update_stats_template: momentum * mean + (1 - momentum) * running, in
/// at::acc_type). In evaluation mode (`eval_mode`) the statistic is replaced by the running one.
template <int Num, int Den, bool Unbiased> struct track {
    static_assert(Den > 0 && Num >= 0 && Num <= Den, "kink: batch statistics: the momentum Num / Den must lie in [0, 1]");
    static constexpr double momentum = double(Num) / double(Den);
    static constexpr bool unbiased = Unbiased;
};

/// batch_mean(x): the per-channel mean over the batch (and the positions of an image); with
/// Track a track<...>, batch_mean(x, running) also keeps its running average (see track).
template <class Track = void> struct batch_mean_op {
    KINK_TENSOR_OP("batch_mean", "\\operatorname{bmean}")
    static constexpr bool reduces_batch = true;
    using tracking = Track;
    /// In evaluation mode a tracked statistic is its running statistic (argument 1; see eval_mode).
    static constexpr std::size_t eval_arg = KINK_SAME(Track, void) ? detail::none : 1;
    template <class... S> struct shape_rule : detail::channel_stat_shape<S...> {};
    template <class X, class R> struct shape_rule<X, R> {
        using stat = detail::channel_stat_shape<X>;
        static constexpr bool ok = !KINK_SAME(Track, void) && stat::ok && KINK_SAME(typename stat::type, R);
        using type = std::conditional_t<ok, R, void>;
    };

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
    /// running_c = (1 - m) running_c + m s_c, s_c = sum_c / n or, Unbiased, sum_c / (n - 1).
    template <class T> static void keep(const double *sum, std::size_t channels, std::size_t n, T *running) {
        if constexpr (!KINK_SAME(Track, void)) {
            const double m = Track::momentum, d = static_cast<double>(Track::unbiased ? n - 1 : n);
            for (std::size_t c = 0; c < channels; ++c)
                running[c] = static_cast<T>(m * (sum[c] / d) + (1.0 - m) * static_cast<double>(running[c]));
        }
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

namespace detail {
template <class X> constexpr void check_batch_stat() {
    static_assert(shape_of_t<X>::rank == 1 || shape_of_t<X>::rank == 3 || is_bad_shape_v<shape_of_t<X>>,
                  "kink: batch_mean: the argument must be a vector or a [C, H, W] value");
    static_assert(batched_v<X> || has_bad_shape_v<X>,
                  "kink: batch_mean: the argument must depend on the batch (an input), not only on parameters and constants");
}
} // namespace detail

/// `batch_mean(x)`: the mean over the batch of a per-sample vector (per feature) or of a
/// [C, H, W] value (per channel, over the batch and the positions).
template <expression X> constexpr auto batch_mean(const X &x) {
    detail::check_batch_stat<graph_t<X>>();
    return make_node<batch_mean_op<>>(x);
}
/// `batch_mean<track<1, 10, false>>(x, running<"bn.mean", 0, C>)`: the same, and each training
/// step keeps the running average `running` (see track); `eval_mode` replaces the node by it.
template <class Track, expression X, expression R> constexpr auto batch_mean(const X &x, const R &r) {
    detail::check_batch_stat<graph_t<X>>();
    static_assert(is_running<graph_t<R>>::value, "kink: batch_mean(x, r): r must be a running statistic: running<\"name\", start, C>");
    return make_node<batch_mean_op<Track>>(x, r);
}

} // namespace kink

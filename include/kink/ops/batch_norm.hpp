#pragma once
/// \file
/// Batch normalisation as two tensor ops (what nn::batch_norm builds): the batch's statistics,
/// and the normalisation with a learned per-channel scale and shift. Written out of batch_mean
/// and elementwise nodes, the same function takes two statistics (the mean, then the variance
/// about it), stores the centred value, and runs about a dozen passes over the data per step;
/// these two ops take one statistic and four passes (two forward, two backward), and their
/// loops run channel by channel over contiguous positions.
///
/// batch_norm_stats(x, running_mean, running_var, eps), x a vector (per feature) or a [C, H, W]
/// value (per channel, over the batch and the positions), n = B x positions values per channel:
///
///     s = [mean_c ; invstd_c],  mean_c = (1/n) sum x,  invstd_c = 1 / sqrt(var_c + eps),
///     var_c = (1/n) sum (x - mean_c)^2                                   (shape [2, C])
///
/// the biased variance PyTorch's batch norm normalises with. Each chunk of the batch forms its
/// own count, mean and sum of squared deviations (two passes over the chunk, in double, as
/// PyTorch's CPU batch norm accumulates in at::acc_type); the program merges the chunks in chunk
/// order with the pairwise update of Chan, Golub and LeVeque ("Algorithms for computing the sample
/// variance", 1983): no cancellation of sum x^2 - n mean^2, and the same bits for any number of
/// threads. A training step also updates the running statistics as PyTorch does:
/// running_mean = (1 - m) running_mean + m mean, running_var = (1 - m) running_var + m var n / (n - 1)
/// (the unbiased variance), m = Num / Den. Its vector-Jacobian product, from the adjoints
/// (g_mean, g_invstd) of the whole batch:
///
///     dx = g_mean / n + g_var 2 (x - mean) / n,   g_var = -1/2 invstd^3 g_invstd
///
/// (the mean's own dependence on x cancels in the variance's derivative: sum (x - mean) = 0).
/// In evaluation mode (`eval_mode`) the node is running_stats(running_mean, running_var, eps):
/// [running_mean ; 1 / sqrt(running_var + eps)].
///
/// batch_norm_apply(x, s, weight, bias): y = weight_c (x - mean_c) invstd_c + bias_c, and
///
///     dx = g weight invstd,  dweight = sum g (x - mean) invstd,  dbias = sum g,
///     dmean = -sum g weight invstd,  dinvstd = sum g weight (x - mean)
///
/// (sums over the chunk's samples and positions of each channel, in double). Together the two
/// give the closed form of Ioffe and Szegedy (2015): dx = weight invstd (g - mean(g) - x^ mean(g x^)),
/// x^ = (x - mean) invstd. Smooth: no kink.

#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>

#include <kink/expr/mode.hpp>
#include <kink/ops/batch.hpp>

namespace kink {

/// [mean ; 1 / sqrt(var + eps)] from running statistics: batch_norm_stats in evaluation mode.
struct running_stats_op {
    KINK_TENSOR_OP("running_stats", "\\operatorname{rstats}")
    template <class... S> struct shape_rule {
        static constexpr bool ok = false;
        using type = void;
    };
    template <class M, class V, class E> struct shape_rule<M, V, E> {
        static constexpr bool ok = M::rank == 1 && KINK_SAME(M, V) && E::rank == 0;
        using type = std::conditional_t<ok, shape<2, (ok ? M::dims[0] : 0)>, void>;
    };
};

/// The batch's per-channel mean and 1 / sqrt(var + eps) (see the file's comment); a training step
/// updates the running statistics (arguments 1 and 2) with momentum Num / Den.
template <int Num, int Den> struct batch_norm_stats_op {
    static_assert(Den > 0 && Num >= 0 && Num <= Den, "kink: batch_norm: the momentum Num / Den must lie in [0, 1]");
    KINK_TENSOR_OP("batch_norm_stats", "\\operatorname{bnstats}")
    static std::string attributes() { return "momentum=" + std::to_string(Num) + "/" + std::to_string(Den); }
    static constexpr bool reduces_batch = true;
    static constexpr double momentum = double(Num) / double(Den);
    /// In evaluation mode: the running statistics in the same layout.
    template <class X, class M, class V, class E> using eval_node = node<running_stats_op, M, V, E>;
    template <class... S> struct shape_rule {
        static constexpr bool ok = false;
        using type = void;
    };
    template <class X, class M, class V, class E> struct shape_rule<X, M, V, E> {
        using stat = detail::channel_stat_shape<X>;
        static constexpr bool ok = stat::ok && KINK_SAME(typename stat::type, M) && KINK_SAME(M, V) && E::rank == 0;
        using type = std::conditional_t<ok, shape<2, (ok ? X::dims[0] : 0)>, void>;
    };

    /// Per channel of a chunk: {count, mean, sum of squared deviations from the mean}.
    static constexpr std::size_t fields = 3;
    /// The chunk's statistics of `rows` samples of x (channels x positions values each) into
    /// part (fields per channel): two passes, in double.
    template <class T> static void accumulate(const T *x, std::size_t rows, std::size_t channels, std::size_t positions, double *part) {
        for (std::size_t c = 0; c < channels; ++c) {
            double s = 0;
            for (std::size_t r = 0; r < rows; ++r) s += sum_of(x + (r * channels + c) * positions, positions, 0.0);
            const double n = static_cast<double>(rows * positions), m = s / n;
            double q = 0;
            for (std::size_t r = 0; r < rows; ++r) q += squares_of(x + (r * channels + c) * positions, positions, m);
            part[fields * c] = n;
            part[fields * c + 1] = m;
            part[fields * c + 2] = q;
        }
    }
    /// a := the statistics of a's samples followed by b's (Chan, Golub and LeVeque's update).
    static void merge(double *a, const double *b, std::size_t channels) {
        for (std::size_t c = 0; c < channels; ++c) {
            double *x = a + fields * c;
            const double *y = b + fields * c;
            const double n = x[0] + y[0], d = y[1] - x[1];
            x[2] = x[2] + y[2] + d * d * (x[0] * y[0] / n);
            x[1] = x[1] + d * (y[0] / n);
            x[0] = n;
        }
    }
    /// The value [mean ; invstd] from the merged statistics.
    template <class T> static void finish(const double *st, std::size_t channels, double eps, T *out) {
        for (std::size_t c = 0; c < channels; ++c) {
            out[c] = static_cast<T>(st[fields * c + 1]);
            out[channels + c] = static_cast<T>(1.0 / std::sqrt(st[fields * c + 2] / st[fields * c] + eps));
        }
    }
    /// The running statistics' update of a training step (PyTorch's, in double, rounded once).
    template <class T> static void keep(const double *st, std::size_t channels, T *mean, T *var) {
        const double m = momentum;
        for (std::size_t c = 0; c < channels; ++c) {
            const double n = st[fields * c];
            mean[c] = static_cast<T>(m * st[fields * c + 1] + (1.0 - m) * static_cast<double>(mean[c]));
            var[c] = static_cast<T>(m * (st[fields * c + 2] / (n - 1)) + (1.0 - m) * static_cast<double>(var[c]));
        }
    }
    /// dx (+)= g_mean / n + g_var 2 (x - mean) / n for `rows` samples, g = [g_mean ; g_invstd],
    /// s = [mean ; invstd], n = B x positions.
    template <bool Assign, class T>
    static void backward(const T *x, const T *s, const T *g, std::size_t rows, std::size_t channels, std::size_t positions, std::size_t n,
                         T *dx) {
        for (std::size_t c = 0; c < channels; ++c) {
            const double is = static_cast<double>(s[channels + c]);
            const double gv = -0.5 * is * is * is * static_cast<double>(g[channels + c]);
            const T a = static_cast<T>(2.0 * gv / static_cast<double>(n)), mean = s[c];
            const T b = static_cast<T>(static_cast<double>(g[c]) / static_cast<double>(n));
            for (std::size_t r = 0; r < rows; ++r) {
                const T *xr = x + (r * channels + c) * positions;
                T *d = dx + (r * channels + c) * positions;
                for (std::size_t p = 0; p < positions; ++p) {
                    const T v = static_cast<T>(a * static_cast<T>(xr[p] - mean) + b);
                    d[p] = Assign ? v : static_cast<T>(d[p] + v);
                }
            }
        }
    }

    /// sum_p (x_p - m) and sum_p (x_p - m)^2 of n values in double, in 8 interleaved partial
    /// sums (a fixed order the compiler vectorises; the last n mod 8 values go to the first sums).
    template <class T> static double sum_of(const T *x, std::size_t n, double m) {
        double a[8] = {};
        const std::size_t body = n / 8 * 8;
        for (std::size_t p = 0; p < body; p += 8)
            for (std::size_t l = 0; l < 8; ++l) a[l] += static_cast<double>(x[p + l]) - m;
        for (std::size_t l = 0; l < n - body; ++l) a[l] += static_cast<double>(x[body + l]) - m;
        return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
    template <class T> static double squares_of(const T *x, std::size_t n, double m) {
        double a[8] = {};
        const std::size_t body = n / 8 * 8;
        for (std::size_t p = 0; p < body; p += 8)
            for (std::size_t l = 0; l < 8; ++l) {
                const double d = static_cast<double>(x[p + l]) - m;
                a[l] += d * d;
            }
        for (std::size_t l = 0; l < n - body; ++l) {
            const double d = static_cast<double>(x[body + l]) - m;
            a[l] += d * d;
        }
        return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
    template <std::size_t K, class Node> static std::string vjp_latex(const std::string &g, const std::string *a, const std::string &) {
        if constexpr (K != 0) return {};
        else return "\\frac{1}{n} \\operatorname{spread}\\left(" + g + ", " + a[0] + "\\right)";
    }
};

/// y = weight_c (x - mean_c) invstd_c + bias_c, with s = [mean ; invstd] from batch_norm_stats.
struct batch_norm_apply_op {
    KINK_TENSOR_OP("batch_norm_apply", "\\operatorname{bn}")
    template <class... S> struct shape_rule {
        static constexpr bool ok = false;
        using type = void;
    };
    template <class X, class St, class W, class B> struct shape_rule<X, St, W, B> {
        using stat = detail::channel_stat_shape<X>;
        static constexpr bool ok = stat::ok && KINK_SAME(St, shape<2, (stat::ok ? X::dims[0] : 0)>) && KINK_SAME(typename stat::type, W) &&
                                   KINK_SAME(W, B);
        using type = std::conditional_t<ok, X, void>;
    };

    /// y = weight_c invstd_c (x - mean_c) + bias_c on channel c of sample r (one plane of
    /// `positions` values).
    template <class T>
    static void plane(const T *x, const T *s, const T *w, const T *b, std::size_t r, std::size_t c, std::size_t channels,
                      std::size_t positions, T *y) {
        const T a = static_cast<T>(w[c] * s[channels + c]), mean = s[c], bc = b[c];
        const T *xr = x + (r * channels + c) * positions;
        T *yr = y + (r * channels + c) * positions;
        for (std::size_t p = 0; p < positions; ++p) yr[p] = static_cast<T>(a * static_cast<T>(xr[p] - mean) + bc);
    }
    /// Every plane of `rows` samples.
    template <class T>
    static void forward(const T *x, const T *s, const T *w, const T *b, std::size_t rows, std::size_t channels, std::size_t positions, T *y) {
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t c = 0; c < channels; ++c) plane(x, s, w, b, r, c, channels, positions, y);
    }
    /// The chunk's sums per channel: sg[c] = sum g, sgx[c] = sum g (x - mean), in double. With
    /// Dx, also dx (+)= g weight_c invstd_c (input_grad's values) in the same pass over g.
    template <class T, bool Dx = false, bool Assign = false>
    static void sums(const T *x, const T *s, const T *g, std::size_t rows, std::size_t channels, std::size_t positions, double *sg,
                     double *sgx, const T *w = nullptr, T *dx = nullptr) {
        for (std::size_t c = 0; c < channels; ++c) {
            const double mean = static_cast<double>(s[c]);
            double a[8] = {}, q[8] = {};
            for (std::size_t r = 0; r < rows; ++r) {
                const T *xr = x + (r * channels + c) * positions, *gr = g + (r * channels + c) * positions;
                const std::size_t body = positions / 8 * 8;
                for (std::size_t p = 0; p < body; p += 8)
                    for (std::size_t l = 0; l < 8; ++l) {
                        const double gv = static_cast<double>(gr[p + l]);
                        a[l] += gv;
                        q[l] += gv * (static_cast<double>(xr[p + l]) - mean);
                    }
                for (std::size_t l = 0; l < positions - body; ++l) {
                    const double gv = static_cast<double>(gr[body + l]);
                    a[l] += gv;
                    q[l] += gv * (static_cast<double>(xr[body + l]) - mean);
                }
                if constexpr (Dx) { // the plane of g is in cache (and read before dx is written)
                    const T k = static_cast<T>(w[c] * s[channels + c]);
                    T *d = dx + (r * channels + c) * positions;
                    for (std::size_t p = 0; p < positions; ++p) d[p] = Assign ? static_cast<T>(gr[p] * k) : static_cast<T>(d[p] + gr[p] * k);
                }
            }
            sg[c] = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
            sgx[c] = ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
        }
    }
    /// dx (+)= g weight_c invstd_c for `rows` samples.
    template <bool Assign, class T>
    static void input_grad(const T *g, const T *s, const T *w, std::size_t rows, std::size_t channels, std::size_t positions, T *dx) {
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t c = 0; c < channels; ++c) {
                const T a = static_cast<T>(w[c] * s[channels + c]);
                const T *gr = g + (r * channels + c) * positions;
                T *d = dx + (r * channels + c) * positions;
                for (std::size_t p = 0; p < positions; ++p) d[p] = Assign ? static_cast<T>(gr[p] * a) : static_cast<T>(d[p] + gr[p] * a);
            }
    }
    template <std::size_t K, class Node> static std::string vjp_latex(const std::string &g, const std::string *a, const std::string &) {
        if constexpr (K == 0) return a[2] + " \\odot \\operatorname{invstd}\\left(" + a[1] + "\\right) \\odot " + g;
        else if constexpr (K == 1) return "\\operatorname{bnstats}^{*}\\left(" + g + ", " + a[0] + ", " + a[2] + "\\right)";
        else if constexpr (K == 2) return "\\sum " + g + " \\odot \\hat{" + a[0] + "}";
        else return "\\sum " + g;
    }
};

namespace detail {
template <class X> constexpr void check_batch_norm_input() {
    static_assert(shape_of_t<X>::rank == 1 || shape_of_t<X>::rank == 3 || is_bad_shape_v<shape_of_t<X>>,
                  "kink: batch_norm: the input must be a vector or a [C, H, W] value");
    static_assert(batched_v<X> || has_bad_shape_v<X>,
                  "kink: batch_norm: the input must depend on the batch (an input), not only on parameters and constants");
}
} // namespace detail

/// `batch_norm_stats<1, 10>(x, running<"bn.running_mean", 0, C>, running<"bn.running_var", 1, C>, eps)`:
/// the batch's [mean ; 1 / sqrt(var + eps)] per channel; each training step updates the running
/// statistics with momentum 1/10.
template <int Num, int Den, expression X, expression M, expression V, expression E>
constexpr auto batch_norm_stats(const X &x, const M &running_mean, const V &running_var, const E &eps) {
    detail::check_batch_norm_input<graph_t<X>>();
    static_assert(is_running<graph_t<M>>::value && is_running<graph_t<V>>::value,
                  "kink: batch_norm_stats: the running mean and variance must be running statistics: running<\"name\", start, C>");
    static_assert(is_lit_v<graph_t<E>> || is_rconst_v<graph_t<E>>, "kink: batch_norm_stats: eps must be a constant");
    return make_node<batch_norm_stats_op<Num, Den>>(x, running_mean, running_var, eps);
}
/// `batch_norm_apply(x, s, weight, bias)`: weight (x - mean) invstd + bias per channel, s from
/// batch_norm_stats.
template <expression X, expression S, expression W, expression B>
constexpr auto batch_norm_apply(const X &x, const S &s, const W &weight, const B &bias) {
    detail::check_batch_norm_input<graph_t<X>>();
    return make_node<batch_norm_apply_op>(x, s, weight, bias);
}

} // namespace kink

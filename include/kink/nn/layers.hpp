#pragma once
/// \file
/// Layer sugar: functions that return expressions (no runtime graph, no layer objects).
/// `dense<"fc1", 256>(x)` is exactly `param<"fc1.weight", 256, n> * x + param<"fc1.bias", 256>` for an
/// n-vector x: the same graph type, so the same program and the same printed formula.

#include <cstddef>

#include <kink/expr/expr.hpp>
#include <kink/ops/arith.hpp>
#include <kink/ops/batch.hpp>
#include <kink/ops/batch_norm.hpp>
#include <kink/ops/smooth.hpp>

namespace kink::nn {

/// Concatenation of compile-time names.
template <std::size_t N, std::size_t M> constexpr fixed_string<N + M - 1> join(const fixed_string<N> &a, const char (&b)[M]) {
    char c[N + M - 1]{};
    for (std::size_t i = 0; i + 1 < N; ++i) c[i] = a.chars[i];
    for (std::size_t i = 0; i < M; ++i) c[N - 1 + i] = b[i];
    return fixed_string<N + M - 1>(c);
}

/// A fully connected layer with Out outputs: weights "<Name>.weight" (Out x n) and bias
/// "<Name>.bias", the names and layout of PyTorch's nn.Linear (its state_dict loads unchanged).
template <fixed_string Name, std::size_t Out, expression X> constexpr auto dense(const X &x) {
    using S = shape_of_t<graph_t<X>>;
    static_assert(S::rank == 1 || is_bad_shape_v<S>, "kink: nn::dense: the input must be a vector (one sample)");
    constexpr auto w = join(Name, ".weight");
    constexpr auto b = join(Name, ".bias");
    return param<w, Out, S::dims[S::rank == 1 ? 0 : 0]> * x + param<b, Out>;
}

/// A dense layer without bias: "<Name>.weight" * x (nn.Linear(bias=False)).
template <fixed_string Name, std::size_t Out, expression X> constexpr auto linear(const X &x) {
    using S = shape_of_t<graph_t<X>>;
    static_assert(S::rank == 1 || is_bad_shape_v<S>, "kink: nn::linear: the input must be a vector (one sample)");
    constexpr auto w = join(Name, ".weight");
    return param<w, Out, S::dims[S::rank == 1 ? 0 : 0]> * x;
}

/// Batch normalisation (Ioffe and Szegedy 2015) as PyTorch's BatchNorm1d (a vector: per
/// feature) and BatchNorm2d (a [C, H, W] value: per channel, over the batch and the positions):
///
///     y = weight * (x - mean) / sqrt(var + eps) + bias
///
/// In training mode (the graph as written, `compile(loss)`), mean and var are the batch's own
/// (batch_norm_stats, ops/batch_norm.hpp; the biased variance), and every step also updates the running statistics in the
/// parameter store: running_mean = (1 - m) running_mean + m mean, running_var likewise with the
/// unbiased variance, momentum m = MomNum / MomDen (PyTorch's 0.1). `eval_mode(f)` normalises with
/// the running statistics instead (PyTorch's model.eval()), sample by sample. The store holds
/// "<Name>.weight" (starts at 1) and "<Name>.bias" (starts at 0), trained, and
/// "<Name>.running_mean" (0) and "<Name>.running_var" (1), not trained, PyTorch's names; all four
/// are saved in checkpoints and model files. eps is a constant (default 1e-5, PyTorch's).
template <fixed_string Name, int MomNum = 1, int MomDen = 10, expression X, expression E = ex<lit_leaf<1, 100000>>>
constexpr auto batch_norm(const X &x, const E &eps = {}) {
    using S = shape_of_t<graph_t<X>>;
    static_assert(S::rank == 1 || S::rank == 3 || is_bad_shape_v<S>, "kink: nn::batch_norm: the input must be a vector or a [C, H, W] value");
    static_assert(is_lit_v<graph_t<E>> || is_rconst_v<graph_t<E>>,
                  "kink: nn::batch_norm: eps must be a constant: lit<1, 100000> or constant<\"eps\">(1e-5)");
    constexpr std::size_t C = S::dims[0];
    const auto stats = batch_norm_stats<MomNum, MomDen>(x, running<join(Name, ".running_mean"), 0, C>, running<join(Name, ".running_var"), 1, C>, eps);
    return batch_norm_apply(x, stats, param_from<join(Name, ".weight"), 1, C>, param_from<join(Name, ".bias"), 0, C>);
}

} // namespace kink::nn

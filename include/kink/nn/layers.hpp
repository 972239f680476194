#pragma once
/// \file
/// Layer sugar: functions that return expressions (no runtime graph, no layer objects).
/// `dense<"fc1", 256>(x)` is exactly `param<"fc1.W", 256, n> * x + param<"fc1.b", 256>` for an
/// n-vector x: the same graph type, so the same program and the same printed formula.

#include <cstddef>

#include <kink/expr/expr.hpp>
#include <kink/ops/arith.hpp>

namespace kink::nn {

/// Concatenation of compile-time names.
template <std::size_t N, std::size_t M> constexpr fixed_string<N + M - 1> join(const fixed_string<N> &a, const char (&b)[M]) {
    char c[N + M - 1]{};
    for (std::size_t i = 0; i + 1 < N; ++i) c[i] = a.chars[i];
    for (std::size_t i = 0; i < M; ++i) c[N - 1 + i] = b[i];
    return fixed_string<N + M - 1>(c);
}

/// A fully connected layer with Out outputs: weights "<Name>.W" (Out x n) and bias "<Name>.b".
template <fixed_string Name, std::size_t Out, expression X> constexpr auto dense(const X &x) {
    using S = shape_of_t<graph_t<X>>;
    static_assert(S::rank == 1 || is_bad_shape_v<S>, "kink: nn::dense: the input must be a vector (one sample)");
    constexpr auto w = join(Name, ".W");
    constexpr auto b = join(Name, ".b");
    return param<w, Out, S::dims[S::rank == 1 ? 0 : 0]> * x + param<b, Out>;
}

/// A dense layer without bias: "<Name>.W" * x.
template <fixed_string Name, std::size_t Out, expression X> constexpr auto linear(const X &x) {
    using S = shape_of_t<graph_t<X>>;
    static_assert(S::rank == 1 || is_bad_shape_v<S>, "kink: nn::linear: the input must be a vector (one sample)");
    constexpr auto w = join(Name, ".W");
    return param<w, Out, S::dims[S::rank == 1 ? 0 : 0]> * x;
}

} // namespace kink::nn

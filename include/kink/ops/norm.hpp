#pragma once
/// \file
/// Layer normalisation (Ba, Kiros & Hinton 2016) as PyTorch's F.layer_norm computes it over one
/// sample's vector: y = (x - mean x) / sqrt(var x + eps), with the biased variance (divided by n)
/// and eps inside the square root. A composition of existing nodes (the centred vector is one
/// shared node), so its derivative is the chain rule's and every order of it is exact; the learned
/// scale and shift are ordinary parameters: `hadamard(g, layer_norm(h)) + b`.

#include <kink/ops/arith.hpp>
#include <kink/ops/reduce.hpp>
#include <kink/ops/smooth.hpp>

namespace kink {

/// `layer_norm(x)`, `layer_norm(x, lit<1, 1000>)`: x normalised to mean 0 and variance 1 over the
/// vector; eps defaults to 1e-5 (PyTorch's) and must be a constant.
template <expression X, expression E = ex<lit_leaf<1, 100000>>> constexpr auto layer_norm(const X &x, const E &eps = {}) {
    static_assert(shape_of_t<graph_t<X>>::rank == 1 || is_bad_shape_v<shape_of_t<graph_t<X>>>,
                  "kink: layer_norm: the argument must be a vector (one sample); flatten an image first");
    static_assert(is_lit_v<graph_t<E>> || is_rconst_v<graph_t<E>>,
                  "kink: layer_norm: eps must be a constant: lit<1, 100000> or constant<\"eps\">(1e-5)");
    const auto c = x - mean(x);
    return c / sqrt(mean(hadamard(c, c)) + eps);
}

} // namespace kink

#pragma once
// The networks of the examples, defined once: the examples train them and the documentation
// generator (docs/gen/docs_gen.cpp) prints their formulas and graphs from the same expressions.
#include <kink/kink.hpp>

namespace nets {

/// examples/fashion_mnist.cpp: MLP 784-256-128-10 with relu'(0) from P, softmax cross-entropy.
namespace fashion {
using namespace kink;
inline constexpr auto x = input<"x", 784>;
inline constexpr auto y = label<"y", 10>;
inline constexpr auto W1 = param<"W1", 256, 784>;
inline constexpr auto b1 = param<"b1", 256>;
inline constexpr auto W2 = param<"W2", 128, 256>;
inline constexpr auto b2 = param<"b2", 128>;
inline constexpr auto W3 = param<"W3", 10, 128>;
inline constexpr auto b3 = param<"b3", 10>;
template <class P> constexpr auto hidden1() { return relu<P>(W1 * x + b1); }
template <class P> constexpr auto hidden2() { return relu<P>(W2 * hidden1<P>() + b2); }
template <class P> constexpr auto logits() { return W3 * hidden2<P>() + b3; }
template <class P> constexpr auto loss() { return softmax_cross_entropy(logits<P>(), y); }
} // namespace fashion

/// examples/train_mlp.cpp: a 2-32-32-1 ReLU MLP regressing a smooth function (mean squared
/// error); the first layer's relu counts its exact zeros.
namespace regression {
using namespace kink;
inline constexpr auto u = input<"u", 2>;
inline constexpr auto t = input<"t", 1>;
inline constexpr auto W1 = param<"W1", 32, 2>;
inline constexpr auto b1 = param<"b1", 32>;
inline constexpr auto W2 = param<"W2", 32, 32>;
inline constexpr auto b2 = param<"b2", 32>;
inline constexpr auto W3 = param<"W3", 1, 32>;
inline constexpr auto b3 = param<"b3", 1>;
constexpr auto hidden() { return relu<policy::count<policy::zero>>(W1 * u + b1); }
constexpr auto out() { return W3 * relu(W2 * hidden() + b2) + b3; }
constexpr auto loss() { return mse(out(), t); }
} // namespace regression

} // namespace nets

#pragma once
// The networks of the examples, defined once: the examples train them and the documentation
// generator (docs/gen/docs_gen.cpp) prints their formulas and graphs from the same expressions.
#include <kink/core.hpp> // the expressions only: each example includes what it uses

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

/// examples/fashion_cnn.cpp: two 5 x 5 convolutions (16 and 32 channels, zero padding 2), each
/// followed by relu'(0) from R and a 2 x 2 max-pool whose ties follow T, then a dense layer of 128
/// and the 10 logits. The same layout as the dataset's own "2 Conv+pooling" baseline.
namespace fashion_cnn {
using namespace kink;
inline constexpr auto x = input<"x", 1, 28, 28>;
inline constexpr auto y = label<"y", 10>;
inline constexpr auto K1 = param<"conv1.weight", 16, 1, 5, 5>;
inline constexpr auto c1 = param<"conv1.bias", 16>;
inline constexpr auto K2 = param<"conv2.weight", 32, 16, 5, 5>;
inline constexpr auto c2 = param<"conv2.bias", 32>;
inline constexpr auto W3 = param<"fc1.weight", 128, 32 * 7 * 7>;
inline constexpr auto b3 = param<"fc1.bias", 128>;
inline constexpr auto W4 = param<"fc2.weight", 10, 128>;
inline constexpr auto b4 = param<"fc2.bias", 10>;
template <class R> constexpr auto act1() { return relu<R>(conv2d<conv{.padding = 2}>(x, K1, c1)); }
template <class R, class T> constexpr auto pool1() { return max_pool2d<pool2d{2}, T>(act1<R>()); } // 16 x 14 x 14
template <class R, class T> constexpr auto act2() { return relu<R>(conv2d<conv{.padding = 2}>(pool1<R, T>(), K2, c2)); }
template <class R, class T> constexpr auto pool2() { return max_pool2d<pool2d{2}, T>(act2<R, T>()); } // 32 x 7 x 7
template <class R, class T> constexpr auto logits() { return W4 * relu<R>(W3 * flatten(pool2<R, T>()) + b3) + b4; }
template <class R, class T> constexpr auto loss() { return softmax_cross_entropy(logits<R, T>(), y); }
} // namespace fashion_cnn

} // namespace nets

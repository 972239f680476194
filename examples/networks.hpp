#pragma once
// The networks of the examples, defined once: the examples train them and the documentation
// generator (docs/gen/docs_gen.cpp) prints their formulas and graphs from the same expressions.
#include <kink/core.hpp> // the expressions only: each example includes what it uses
#include <kink/nn/layers.hpp>

namespace nets {

/// examples/fashion_mnist.cpp: MLP 784-256-128-10 with relu'(0) from P, softmax cross-entropy.
/// The parameters have PyTorch's names for a module whose nn.Linear layers are fc1, fc2, fc3
/// (fc1.weight, fc1.bias, ...), so that its state_dict loads unchanged (nn::load_state_dict).
namespace fashion {
using namespace kink;
inline constexpr auto x = input<"x", 784>;
inline constexpr auto y = label<"y", 10>;
inline constexpr auto W1 = param<"fc1.weight", 256, 784>;
inline constexpr auto b1 = param<"fc1.bias", 256>;
inline constexpr auto W2 = param<"fc2.weight", 128, 256>;
inline constexpr auto b2 = param<"fc2.bias", 128>;
inline constexpr auto W3 = param<"fc3.weight", 10, 128>;
inline constexpr auto b3 = param<"fc3.bias", 10>;
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

/// examples/fashion_resnet.cpp: a small residual network with batch normalisation, in the layout
/// of He et al. (2016)'s CIFAR ResNets: a 3 x 3 stem of 24 channels, a block of 24 channels at
/// 28 x 28, blocks of 48 at 14 x 14 and of 96 at 7 x 7 (each entered by a stride-2 convolution,
/// its skip path a stride-2 1 x 1 convolution), global average pooling and the 10 logits. Every
/// convolution is followed by batch normalisation (so has no bias, as in torchvision's ResNets);
/// names follow PyTorch's (`layer2.conv1.weight`, `layer2.bn1.running_mean`).
namespace fashion_resnet {
using namespace kink;
inline constexpr auto x = input<"x", 1, 28, 28>;
inline constexpr auto y = label<"y", 10>;
/// conv (3 x 3, padding 1, stride S; Out channels, no bias) then batch norm, named Name.conv / Name.bn.
template <fixed_string Conv, fixed_string Bn, std::size_t Out, std::size_t S = 1, expression H> constexpr auto conv_bn(const H &h) {
    constexpr std::size_t C = shape_of_t<graph_t<H>>::dims[0];
    return nn::batch_norm<Bn>(conv2d<conv{.stride = S, .padding = 1}>(h, param<Conv, Out, C, 3, 3>));
}
/// A residual block keeping its channels: relu(bn2(conv2(relu(bn1(conv1(h))))) + h).
template <fixed_string N, expression H> constexpr auto block(const H &h) {
    constexpr std::size_t C = shape_of_t<graph_t<H>>::dims[0];
    const auto a = relu(conv_bn<nn::join(N, ".conv1.weight"), nn::join(N, ".bn1"), C>(h));
    return relu(conv_bn<nn::join(N, ".conv2.weight"), nn::join(N, ".bn2"), C>(a) + h);
}
/// A block that halves the positions and goes to Out channels; its skip path is a stride-2 1 x 1
/// convolution with batch norm (torchvision's "downsample").
template <fixed_string N, std::size_t Out, expression H> constexpr auto down_block(const H &h) {
    constexpr std::size_t C = shape_of_t<graph_t<H>>::dims[0];
    const auto a = relu(conv_bn<nn::join(N, ".conv1.weight"), nn::join(N, ".bn1"), Out, 2>(h));
    const auto skip = nn::batch_norm<nn::join(N, ".downsample.bn")>(
        conv2d<conv{.stride = 2}>(h, param<nn::join(N, ".downsample.conv.weight"), Out, C, 1, 1>));
    return relu(conv_bn<nn::join(N, ".conv2.weight"), nn::join(N, ".bn2"), Out>(a) + skip);
}
/// The network on input `in` (x by default). The input is a parameter so that the network is
/// built only where it is used: a function of no dependent argument would be built in every
/// translation unit that includes this file (about 0.6 s of compiling each).
template <expression X> constexpr auto features(const X &in) {
    const auto stem = relu(conv_bn<"conv1.weight", "bn1", 24>(in));                  // 24 x 28 x 28
    return down_block<"layer3", 96>(down_block<"layer2", 48>(block<"layer1">(stem))); // 96 x 7 x 7
}
template <expression X = std::remove_cvref_t<decltype(x)>> constexpr auto logits(const X &in = x) {
    return param<"fc.weight", 10, 96> * global_avg_pool(features(in)) + param<"fc.bias", 10>;
}
template <expression X = std::remove_cvref_t<decltype(x)>> constexpr auto loss(const X &in = x) {
    return softmax_cross_entropy(logits(in), y);
}
} // namespace fashion_resnet

} // namespace nets

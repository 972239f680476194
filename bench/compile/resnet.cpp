// Compile-time subject (bench/compile_time.sh): one training step of a ResNet-18-shaped CNN on
// 1 x 32 x 32 images: a 3 x 3 stem convolution with batch normalisation, BLOCKS residual blocks of
// two 3 x 3 convolutions, each followed by batch normalisation, with relu (ResNet-18 has 8 blocks),
// in stages of two whose channels double (16, 32, 64, 128) with a stride-2 first convolution and a
// 1 x 1 stride-2 projection with batch normalisation on the skip path where they change, global
// average pooling and a dense head. The convolutions have no bias (batch normalisation's shift
// replaces it), as in torchvision's resnet18. Built with -DBLOCKS=N; it also runs one step.
#include <kink/kink.hpp>

#include <cstdint>
#include <span>
#include <vector>

#ifndef BLOCKS
#define BLOCKS 8
#endif

using namespace kink;

template <int I, char L> constexpr fixed_string<6> layer_name{{'c', char('0' + I / 10), char('0' + I % 10), '.', L, 0}};
constexpr std::size_t channels(int stage) { return std::size_t(16) << stage; }
/// conv (K x K, stride S, padding K / 2, no bias) then batch norm; the convolution's weight is
/// layer_name<I, L>, the batch norm's parameters and running statistics are named after layer_name<I, B>.
template <int I, char L, char B, std::size_t O, std::size_t K, std::size_t S, expression H> constexpr auto conv_bn(const H &h) {
    constexpr std::size_t C = shape_of_t<graph_t<H>>::dims[0];
    return nn::batch_norm<layer_name<I, B>>(conv2d<conv{.stride = S, .padding = K / 2}>(h, param<layer_name<I, L>, O, C, K, K>));
}
template <int I> constexpr auto block(const expression auto &h) {
    constexpr std::size_t C = shape_of_t<graph_t<decltype(h)>>::dims[0], O = channels((I - 1) / 2);
    constexpr bool down = C != O;
    const auto a = relu(conv_bn<I, 'a', 'A', O, 3, down ? 2 : 1>(h));
    const auto b = conv_bn<I, 'b', 'B', O, 3, 1>(a);
    if constexpr (down) return relu(b + conv_bn<I, 'p', 'P', O, 1, 2>(h));
    else return relu(b + h);
}
template <int N> constexpr auto blocks(const expression auto &h) {
    if constexpr (N == 0) return h;
    else return block<N>(blocks<N - 1>(h));
}

int main() {
    static_assert(BLOCKS >= 1 && BLOCKS <= 8, "1 to 8 blocks (four stages of two)");
    constexpr auto x = input<"x", 1, 32, 32>;
    constexpr auto y = label<"y", 10>;
    const auto stem = relu(conv_bn<0, 's', 'S', 16, 3, 1>(x));
    auto net = compile(softmax_cross_entropy(nn::dense<"head", 10>(global_avg_pool(blocks<BLOCKS>(stem))), y));
    auto params = net.make_params(), grads = net.make_params();
    std::vector<float> xs(4 * 32 * 32, 0.5f);
    std::vector<std::int32_t> ys(4, 1);
    const float loss = net.step(params, grads, x = std::span<const float>(xs), y = std::span<const std::int32_t>(ys));
    return loss == loss ? 0 : 1;
}

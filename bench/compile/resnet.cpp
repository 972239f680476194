// Compile-time subject (bench/compile_time.sh): one training step of a ResNet-18-shaped CNN on
// 1 x 32 x 32 images: a 3 x 3 stem convolution, BLOCKS residual blocks of two 3 x 3 convolutions
// with relu (ResNet-18 has 8), in stages of two whose channels double (16, 32, 64, 128) with a
// stride-2 first convolution and a 1 x 1 stride-2 projection on the skip path where they change,
// global average pooling and a dense head. Built with -DBLOCKS=N; it also runs one step.
#include <kink/kink.hpp>

#include <cstdint>
#include <span>
#include <vector>

#ifndef BLOCKS
#define BLOCKS 8
#endif

using namespace kink;

template <int I, char L> constexpr fixed_string<6> conv_name{{'c', char('0' + I / 10), char('0' + I % 10), '.', L, 0}};
constexpr std::size_t channels(int stage) { return std::size_t(16) << stage; }
template <int I> constexpr auto block(const expression auto &h) {
    constexpr int stage = (I - 1) / 2;
    constexpr std::size_t C = shape_of_t<graph_t<decltype(h)>>::dims[0], O = channels(stage);
    constexpr bool down = C != O;
    constexpr auto pad = conv{.padding = 1};
    constexpr auto first = conv{.stride = down ? 2u : 1u, .padding = 1};
    const auto a = relu(conv2d<first>(h, param<conv_name<I, 'a'>, O, C, 3, 3>, param<conv_name<I, 'x'>, O>));
    const auto b = conv2d<pad>(a, param<conv_name<I, 'b'>, O, O, 3, 3>, param<conv_name<I, 'y'>, O>);
    if constexpr (down) return relu(b + conv2d<conv{.stride = 2}>(h, param<conv_name<I, 'p'>, O, C, 1, 1>));
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
    constexpr auto stem = relu(conv2d<conv{.padding = 1}>(x, param<"stem.W", 16, 1, 3, 3>, param<"stem.b", 16>));
    auto net = compile(softmax_cross_entropy(nn::dense<"head", 10>(global_avg_pool(blocks<BLOCKS>(stem))), y));
    auto params = net.make_params(), grads = net.make_params();
    std::vector<float> xs(4 * 32 * 32, 0.5f);
    std::vector<std::int32_t> ys(4, 1);
    const float loss = net.step(params, grads, x = std::span<const float>(xs), y = std::span<const std::int32_t>(ys));
    return loss == loss ? 0 : 1;
}

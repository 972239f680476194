// Compile-time subject (bench/compile_time.sh): one training step of a residual MLP of BLOCKS
// pre-norm blocks, h + dense(gelu(dense(layer_norm(h)))), 32 wide, then a dense head and
// softmax cross-entropy. Built with -DBLOCKS=N; it also runs (a step on constant data).
#include <kink/kink.hpp>

#include <cstdint>
#include <span>
#include <vector>

#ifndef BLOCKS
#define BLOCKS 8
#endif

using namespace kink;

template <int I, char L> constexpr fixed_string<8> layer_name{{'b', char('0' + I / 10), char('0' + I % 10), '.', 'f', 'c', L, 0}};
template <int I> constexpr auto block(const expression auto &h) {
    return h + nn::dense<layer_name<I, '2'>, 32>(gelu(nn::dense<layer_name<I, '1'>, 32>(layer_norm(h))));
}
template <int N> constexpr auto blocks(const expression auto &h) {
    if constexpr (N == 0) return h;
    else return block<N>(blocks<N - 1>(h));
}

int main() {
    static_assert(BLOCKS >= 0 && BLOCKS < 100, "two-digit block names");
    constexpr auto x = input<"x", 32>;
    constexpr auto y = label<"y", 10>;
    auto net = compile(softmax_cross_entropy(nn::dense<"head", 10>(blocks<BLOCKS>(x)), y));
    auto params = net.make_params(), grads = net.make_params();
    std::vector<float> xs(64 * 32, 0.5f);
    std::vector<std::int32_t> ys(64, 1);
    const float loss = net.step(params, grads, x = std::span<const float>(xs), y = std::span<const std::int32_t>(ys));
    return loss == loss ? 0 : 1;
}

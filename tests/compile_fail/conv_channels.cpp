// A convolution whose weights expect other input channels than the value it is applied to, deep
// in a CNN that is compiled and trained: one error, the first, naming conv2d and both shapes.
// expect: shapes_agree<kink::conv2d_op<1, 2, 1>, kink::shape<16, 14, 14>, kink::shape<32, 8, 5, 5>
#include <kink/kink.hpp>
#include <vector>
using namespace kink;
int main() {
    constexpr auto x = input<"x", 1, 28, 28>;
    constexpr auto y = label<"y", 10>;
    constexpr auto K1 = param<"K1", 16, 1, 5, 5>;
#ifdef KINK_FAIL
    constexpr auto K2 = param<"K2", 32, 8, 5, 5>;
#else
    constexpr auto K2 = param<"K2", 32, 16, 5, 5>;
#endif
    constexpr auto b2 = param<"b2", 32>;
    constexpr auto W = param<"W", 10, 32 * 7 * 7>;
    const auto h = max_pool2d<pool2d{2}>(relu(conv2d<conv{.padding = 2}>(max_pool2d<pool2d{2}>(relu(conv2d<conv{.padding = 2}>(x, K1))), K2, b2)));
    auto net = compile(softmax_cross_entropy(W * flatten(h), y));
    auto params = net.make_params(), grads = net.make_params();
    nn::init_uniform_fan_in(net, params, 1);
    nn::adam<float> opt;
    std::vector<float> xs(784);
    std::vector<std::int32_t> ys(1);
    const float loss = net.step(params, grads, x = std::span(xs), y = std::span(ys));
    opt.step(params, grads);
    (void)loss;
}

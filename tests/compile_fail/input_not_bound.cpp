// A step that binds the input but not the label: the one error names the label.
// expect: input_bound<kink::name_chars<'y'>, false>
#include <kink/kink.hpp>
#include <vector>
using namespace kink;
int main() {
    constexpr auto x = input<"x", 4>;
    constexpr auto y = label<"y", 3>;
    constexpr auto W = param<"W", 3, 4>;
    auto net = compile(softmax_cross_entropy(W * x, y));
    auto p = net.make_params(), g = net.make_params();
    std::vector<float> xs(4);
    std::vector<std::int32_t> ys(1);
#ifdef KINK_FAIL
    net.step(p, g, x = std::span(xs));
#else
    net.step(p, g, x = std::span(xs), y = std::span(ys));
#endif
}

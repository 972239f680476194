// Prints dropout's training-mode values on batches of ones (float), for tests/torch_dropout.py to
// compare with torch's F.dropout: per p = Num / Den, a line "p <p> <values...>".
#include <kink/kink.hpp>

#include <span>
#include <vector>

using namespace kink;

namespace {
constexpr auto x = input<"x", 100>;
constexpr auto y = label<"y", 2>;
template <int Num, int Den> void run() {
    constexpr auto d = dropout<"d", Num, Den>(x);
    auto net = compile<float>(softmax_cross_entropy(param<"W", 2, 100> * d, y));
    net.seed(2024);
    auto p = net.make_params();
    const std::size_t batch = 500;
    const std::vector<float> ones(batch * 100, 1.0f);
    const std::vector<int> ys(batch, 0);
    net.forward(p, x = std::span<const float>(ones), y = std::span<const int>(ys));
    fmt::print("p {:.17g}", double(Num) / double(Den));
    for (const float v : net.value(d)) fmt::print(" {:.9g}", v);
    fmt::print("\n");
}
} // namespace

int main() {
    run<1, 5>();
    run<1, 2>();
    run<9, 10>();
}

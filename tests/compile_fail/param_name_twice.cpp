// A helper that names its layer with a fixed string, used twice: two different parameters named
// "fc.weight" (shapes 4 x 4 and 4 x 8). The one error names the name and both shapes.
// expect: param_name_used_twice<kink::name_chars<'f', 'c', '.', 'w', 'e', 'i', 'g', 'h', 't'>, kink::shape<4, 4>, kink::shape<4, 8>
#include <kink/kink.hpp>
using namespace kink;
#ifdef KINK_FAIL
auto block(const auto &x) { return relu(nn::dense<"fc", 4>(x)); }
auto net_out(const auto &x) { return block(block(x)); }
#else
template <fixed_string Name> auto block(const auto &x) { return relu(nn::dense<Name, 4>(x)); }
auto net_out(const auto &x) { return block<"fc2">(block<"fc1">(x)); }
#endif
int main() {
    constexpr auto x = input<"x", 8>;
    constexpr auto y = label<"y", 4>;
    auto net = compile(softmax_cross_entropy(net_out(x), y));
    (void)net;
}

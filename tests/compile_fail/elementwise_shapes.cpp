// Elementwise ops need equal shapes (or a scalar): adding a 128-vector bias to a 256-vector.
// expect: shapes_agree<kink::add_op, kink::shape<256>, kink::shape<128>
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto W = param<"W", 256, 784>;
    constexpr auto x = input<"x", 784>;
#ifdef KINK_FAIL
    constexpr auto b = param<"b", 128>;
#else
    constexpr auto b = param<"b", 256>;
#endif
    auto h = W * x + b;
    (void)h;
}

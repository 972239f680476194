// A per-channel vector broadcasts over a [C, H, W] value only when it has C entries: a shift of 4
// channels added to 3-channel feature maps is one error naming the op and both shapes.
// expect: shapes_agree<kink::add_op, kink::shape<3, 5, 5>, kink::shape<4>
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = input<"x", 1, 5, 5>;
    constexpr auto K = param<"K", 3, 1, 3, 3>;
#ifdef KINK_FAIL
    constexpr auto t = param<"t", 4>;
#else
    constexpr auto t = param<"t", 3>;
#endif
    auto h = conv2d<conv{.padding = 1}>(x, K) + t;
    (void)h;
}

// A matrix product whose inner dimensions differ: the one error line names the op and both shapes.
// expect: shapes_agree<kink::matmul_op, kink::shape<256, 784>, kink::shape<100>
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto W = param<"W", 256, 784>;
#ifdef KINK_FAIL
    constexpr auto x = input<"x", 100>;
#else
    constexpr auto x = input<"x", 784>;
#endif
    auto h = W * x;
    (void)h;
}

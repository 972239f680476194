// Symbolic grad() is for scalar expressions; a matrix product is differentiated by compile().
// expect: tensor ops (matrix products, reductions, softmax, losses) are differentiated by compile(loss)
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto t = var<"t">;
#ifdef KINK_FAIL
    constexpr auto W = param<"W", 2, 3>;
    constexpr auto x = input<"x", 3>;
    auto g = grad(sum(W * x) * t, t);
#else
    auto g = grad(relu(t) * t, t);
#endif
    (void)g;
}

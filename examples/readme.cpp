// The README's example, compiled and run as a test so that it cannot drift.
#include <kink/kink.hpp>
using namespace kink;

int main() {
    constexpr auto x = var<"x">;
    constexpr auto w = var<"w">;
    constexpr auto b = var<"b">;
    auto f = relu(w * x + b);                 // relu'(0) = 0: the default, PyTorch's
    fmt::print("df/dw = {}\n", grad(f, w));   // the derivative is an expression, printed with its kink
    auto r = value_and_grad(f, wrt(w, b), x = 2.0, w = 0.5, b = -1.0);
    fmt::print("f = {}, df/dw = {}, df/db = {}\n", r.value, r[w], r[b]);
}

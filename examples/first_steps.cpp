// The README's example: write a function, differentiate it at compile time, see what the
// derivative is at the kink and which policy chose it, and evaluate value and gradient together.
#include <kink/kink.hpp>

using namespace kink;

int main() {
    constexpr auto x = var<"x">;
    constexpr auto w = var<"w">;
    constexpr auto b = var<"b">;

    auto f = relu(w * x + b);          // a neuron; relu'(0) follows the default (PyTorch) policy
    auto df_dw = grad(f, w);           // an expression: its type is the derivative
    fmt::print("f       = {}\ndf/dw   = {}\nLaTeX   = {}\n", f, df_dw, latex(df_dw));

    auto r = value_and_grad(f, wrt(w, b), x = 2.0, w = 0.5, b = -1.0);  // w x + b = 0: the kink
    fmt::print("at w x + b = 0: f = {}, df/dw = {}, df/db = {}\n", r.value, r[w], r[b]);

    // The same function under other policies: identical everywhere except exactly at the kink.
    auto g_one = grad(with_policy<policy::one>(f), w);
    auto g_half = grad(with_policy<policy::half>(f), w);
    fmt::print("relu'(0) = 1:   df/dw = {}\n", eval(g_one, x = 2.0, w = 0.5, b = -1.0));
    fmt::print("relu'(0) = 1/2: df/dw = {}\n", eval(g_half, x = 2.0, w = 0.5, b = -1.0));

    // "ReLU is not differentiable at 0": the answer depends on the program, not the function.
    auto id = relu<policy::half>(x) - relu<policy::half>(-x);   // equals x everywhere
    fmt::print("d/dx [relu(x) - relu(-x)] at 0 with relu'(0) = 1/2: {} (true derivative 1)\n",
               eval(grad(id, x), x = 0.0));
}

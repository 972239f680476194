// Concepts: differentiation is symbolic and happens at compile time. grad() returns an
// expression (a type); shared subexpressions stay shared, and value_and_grad evaluates the
// function and every requested derivative in one pass over the shared graph.
#include <kink/kink.hpp>
using namespace kink;

int main() {
    constexpr auto x = var<"x">;
    constexpr auto w = var<"w">;
    constexpr auto b = var<"b">;
    constexpr auto z = w * x + b;
    constexpr auto f = relu(z) * z;
    constexpr auto df_dw = grad(f, w);
    fmt::print("df/dw = {}\n", to_text(df_dw));
    auto r = value_and_grad(f, wrt(w, b), x = 2.0, w = 1.5, b = -1.0);
    fmt::print("f = {}, df/dw = {}, df/db = {}\n", r.value, r[w], r[b]);
    auto k = value_and_grad(f, wrt(w, b), x = 2.0, w = 0.5, b = -1.0); // z = 0: relu's kink
    fmt::print("at the kink: f = {}, df/dw = {}, df/db = {}\n", k.value, k[w], k[b]);
}

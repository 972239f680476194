// Concepts: an expression's type is its graph. Building it costs nothing at run time; printing
// it shows the same graph as text, LaTeX and Graphviz DOT.
#include <kink/kink.hpp>
using namespace kink;

int main() {
    constexpr auto x = var<"x">;
    constexpr auto w = var<"w">;
    constexpr auto b = var<"b">;
    constexpr auto z = w * x + b;      // a node type: node<add_op, node<mul_op, w, x>, b>
    constexpr auto f = relu(z) * z;    // z is used twice: one subgraph, shared
    static_assert(sizeof(f) == 1);     // no run-time data: the value is the type
    fmt::print("text:  {}\n", to_text(f));
    fmt::print("LaTeX: {}\n", to_latex(f));
    fmt::print("nodes in the graph (each distinct node once): {}\n", topo_t<graph_t<decltype(f)>>::size);
    fmt::print("value at x = 2, w = 1.5, b = -1: {}\n", eval(f, x = 2.0, w = 1.5, b = -1.0));
}

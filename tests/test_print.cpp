// Printer output as exact strings: text, LaTeX, DOT.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include <kink/kink.hpp>
#include <kink/print/backward.hpp>

using namespace kink;

namespace {
constexpr auto x = var<"x">;
constexpr auto y = var<"y">;
constexpr auto lo = var<"lo">;
} // namespace

TEST_CASE("expressions as text") {
    constexpr auto w = var<"w">;
    constexpr auto b = var<"b">;
    CHECK(fmt::format("{}", relu(w * x + b)) == "relu(w * x + b)");
    CHECK(to_text((x + y) * (x - y)) == "(x + y) * (x - y)");
    CHECK(to_text(x - (y - x)) == "x - (y - x)");
    CHECK(to_text((x - y) - x) == "x - y - x");
    CHECK(to_text(-(x * y)) == "-(x * y)");
    CHECK(to_text(pow<2>(x + y)) == "(x + y)^2");
    CHECK(to_text(pow<-2>(x)) == "x^(-2)");
    CHECK(to_text(lit<1, 3> * x) == "1/3 * x");
    CHECK(to_text(0.25_c * x) == "0.25 * x");
    CHECK(to_text(leaky_relu(x)) == "leaky_relu(x, 0.01)");
    CHECK(to_text(clamp(x, lo, 1_c)) == "clamp(x, lo, 1)");
    // a policy other than the default preset's is printed: the text identifies the program
    CHECK(to_text(relu(x)) == "relu(x)");
    CHECK(to_text(relu<policy::pytorch>(x)) == "relu(x)");
    CHECK(to_text(relu<policy::one>(x)) == "relu<one>(x)");
    CHECK(to_text(relu<policy::count<policy::zero>>(x)) == "relu<count<zero>>(x)");
    CHECK(to_text(max<policy::tensorflow>(x, y)) == "max<first>(x, y)");
    CHECK(to_text(with_policy<policy::jax>(abs(x) + relu(y))) == "abs<one>(x) + relu(y)");
    CHECK(to_text(tanh(relu<policy::half>(x))) == "tanh(relu<half>(x))");
    CHECK(to_text(grad(tanh(x), x)) == "1 - tanh(x)^2");
    CHECK(to_text(grad(sigmoid(x), x)) == "sigmoid(x) * (1 - sigmoid(x))");
    CHECK(to_text(grad(x / y, y)) == "-(x / y / y)");
}

TEST_CASE("piecewise derivatives print every branch and the policy's choice") {
    CHECK(to_text(grad(relu<policy::zero>(x), x)) == "1 if x > 0, 0 if x = 0 (policy zero), 0 if x < 0");
    CHECK(to_text(grad(relu<policy::half>(x), x)) == "1 if x > 0, 0.5 if x = 0 (policy half), 0 if x < 0");
    CHECK(to_text(grad(relu<policy::count<policy::one>>(x), x)) ==
          "1 if x > 0, 1 if x = 0 (policy count<one>), 0 if x < 0");
    CHECK(to_text(grad(relu<policy::trap>(x), x)) == "1 if x > 0, error if x = 0 (policy trap), 0 if x < 0");
    CHECK(to_text(grad(leaky_relu<policy::half>(x), x)) == "1 if x > 0, 0.505 if x = 0 (policy half), 0.01 if x < 0");
    CHECK(to_text(grad(leaky_relu<policy::half>(x, constant<"a">(0.2)), x)) ==
          "1 if x > 0, (a + 1)/2 if x = 0 (policy half), a if x < 0");
    CHECK(to_text(grad(leaky_relu(x, constant<"a">(0.2)), x)) == "1 if x > 0, a if x = 0 (policy left), a if x < 0");
    CHECK(to_text(grad(abs<policy::jax>(x), x)) == "1 if x > 0, 1 if x = 0 (policy one), -1 if x < 0");
    CHECK(to_text(grad(relu6(x), x)) ==
          "0 if x > 6, 0 if x = 6 (policy zero), 1 if 0 < x < 6, 0 if x = 0 (policy zero), 0 if x < 0");
    CHECK(to_text(grad(hardtanh<policy::right>(x), x)) ==
          "0 if x > 1, 0 if x = 1 (policy right), 1 if -1 < x < 1, 1 if x = -1 (policy right), 0 if x < -1");
    CHECK(to_text(grad(step(x), x)) == "0 if x != 0, error if x = 0 (policy trap)");
    CHECK(to_text(grad(step<policy::straight_through>(x), x)) == "1 (policy straight_through)");
    CHECK(to_text(grad(sign<policy::straight_through_clipped>(x), x)) ==
          "1 if |x| <= 1 (policy straight_through_clipped), 0 otherwise");
    CHECK(to_text(grad(max(x, y), x)) == "1 if x > y, 0.5 if x = y (policy half), 0 if x < y");
    CHECK(to_text(grad(max<policy::tensorflow>(x, y), y)) == "1 if y > x, 0 if x = y (policy first), 0 if y < x");
    CHECK(to_text(grad(min<policy::first>(x, y), x)) == "1 if x < y, 1 if x = y (policy first), 0 if x > y");
    CHECK(to_text(grad(clamp(x, lo, 1_c), lo)) == "1 if x < lo, 0 if x = lo (policy one), 0 if x > lo");
    CHECK(to_text(grad(clamp<policy::half>(x, lo, 1_c), x)) ==
          "0 if x < lo, 0.5 if x = lo (policy half), 1 if lo < x < 1, 0.5 if x = 1 (policy half), 0 if x > 1");
    // nested: parenthesised
    CHECK(to_text(grad(relu(x * y), x)) == "(1 if x * y > 0, 0 if x * y = 0 (policy zero), 0 if x * y < 0) * y");
}

TEST_CASE("LaTeX") {
    constexpr auto W1 = var<"W1">;
    CHECK(to_latex(x / y) == "\\frac{x}{y}");
    CHECK(to_latex(sqrt(x) * W1) == "\\sqrt{x} \\cdot \\mathrm{W1}");
    CHECK(fmt::format("{}", latex(sigmoid(x))) == "\\sigma\\left(x\\right)");
    CHECK(to_latex(pow<3>(x + y)) == "{\\left(x + y\\right)}^{3}");
    CHECK(to_latex(lit<1, 3> * x) == "\\frac{1}{3} \\cdot x");
    CHECK(fmt::format("{}", latex(grad(relu<policy::zero>(x), x))) ==
          "\\begin{cases} 1 & x > 0 \\\\ 0 & x = 0 \\text{ (policy zero)} \\\\ 0 & x < 0 \\end{cases}");
    CHECK(to_latex(grad(step(x), x)) == "\\begin{cases} 0 & x \\neq 0 \\\\ error & x = 0 \\text{ (policy trap)} \\end{cases}");
}

TEST_CASE("DOT: each distinct node once") {
    auto u = x * y;
    CHECK(fmt::format("{}", dot(relu(u) + u)) == "digraph kink {\n"
                                                  "  rankdir=BT;\n"
                                                  "  node [fontname=\"Helvetica\"];\n"
                                                  "  n0 [label=\"x\", shape=box];\n"
                                                  "  n1 [label=\"y\", shape=box];\n"
                                                  "  n2 [label=\"*\"];\n"
                                                  "  n0 -> n2 [label=\"0\"];\n"
                                                  "  n1 -> n2 [label=\"1\"];\n"
                                                  "  n3 [label=\"relu [zero]\"];\n"
                                                  "  n2 -> n3 [label=\"0\"];\n"
                                                  "  n4 [label=\"+\"];\n"
                                                  "  n3 -> n4 [label=\"0\"];\n"
                                                  "  n2 -> n4 [label=\"1\"];\n"
                                                  "}\n");
}


TEST_CASE("formulas: forward definitions and backward adjoints of a tensor program, exactly") {
    constexpr auto x = input<"x", 4>;
    constexpr auto y = label<"y", 3>;
    constexpr auto W1 = param<"W1", 5, 4>;
    constexpr auto b1 = param<"b1", 5>;
    constexpr auto W2 = param<"W2", 3, 5>;
    constexpr auto b2 = param<"b2", 3>;
    const auto f = formulas(softmax_cross_entropy(W2 * relu<policy::one>(W1 * x + b1) + b2, y));
    using P = std::pair<std::string, std::string>;
    const std::vector<P> forward{{"v_{1}", "\\mathrm{W1} \\, x"},
                                 {"v_{2}", "v_{1} + \\mathrm{b1}"},
                                 {"v_{3}", "\\operatorname{relu}\\left(v_{2}\\right)"},
                                 {"v_{4}", "\\mathrm{W2} \\, v_{3}"},
                                 {"v_{5}", "v_{4} + \\mathrm{b2}"},
                                 {"v_{6}", "\\operatorname{CE}\\left(v_{5}, y\\right)"}};
    CHECK(f.forward == forward);
    const std::vector<P> backward{
        {"\\overline{v_{6}}", "\\frac{1}{B}"},
        {"\\overline{v_{5}}", "\\overline{v_{6}} \\left(\\operatorname{softmax}\\left(v_{5}\\right) - e_{y}\\right)"},
        {"\\overline{\\mathrm{b2}}", "\\overline{v_{5}}"},
        {"\\overline{v_{4}}", "\\overline{v_{5}}"},
        {"\\overline{v_{3}}", "{\\mathrm{W2}}^{\\top} \\overline{v_{4}}"},
        {"\\overline{v_{2}}", "\\overline{v_{3}} \\odot \\begin{cases} 1 & v_{2} > 0 \\\\ 1 & v_{2} = 0 \\text{ (policy one)} \\\\ 0 & "
                              "v_{2} < 0 \\end{cases}"},
        {"\\overline{\\mathrm{b1}}", "\\overline{v_{2}}"},
        {"\\overline{v_{1}}", "\\overline{v_{2}}"},
        {"\\overline{\\mathrm{W1}}", "\\overline{v_{1}}\\, {x}^{\\top}"},
        {"\\overline{\\mathrm{W2}}", "\\overline{v_{4}}\\, {v_{3}}^{\\top}"}};
    CHECK(f.backward == backward);
    // a shared subexpression is one node, and its adjoint sums both uses
    constexpr auto v = input<"v", 2>;
    constexpr auto s = param<"s", 2>;
    const auto g = formulas(sum(hadamard(s + v, s + v)));
    REQUIRE(g.forward.size() == 3);
    CHECK(g.forward[1].second == "v_{1} \\cdot v_{1}");
    CHECK(g.backward[2].second == "\\overline{v_{2}} \\odot v_{1} + \\overline{v_{2}} \\odot v_{1}");
}

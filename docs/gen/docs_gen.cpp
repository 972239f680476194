// Generates the documentation's formulas, graphs and tables from the library's own printers and
// types (docs/build.py turns them into the site): nothing here is typed by hand.
//   docs_gen OUT_DIR
// writes OUT_DIR/policies.md, same_function.md, and per example <name>.formulas.md, <name>.dot.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <kink/kink.hpp>
#include <kink/print/backward.hpp>

#include "../../examples/networks.hpp"
#include "../../examples/relu0_study/study.hpp"

using namespace kink;

namespace {

std::string out_dir;

void write(const std::string &name, const std::string &text) {
    std::ofstream f(out_dir + "/" + name, std::ios::binary);
    f << text;
    if (!f) {
        std::fprintf(stderr, "docs_gen: cannot write %s/%s\n", out_dir.c_str(), name.c_str());
        std::exit(1);
    }
}

/// Forward definitions and backward adjoints of a tensor loss, as display math.
template <expression L> std::string tensor_formulas(const L &loss) {
    const auto f = formulas(loss);
    std::string md = "**The loss** (per sample):\n\n$$" + to_latex(loss) + "$$\n\n";
    md += "**Forward pass**, one definition per node in the order the fused step computes them:\n\n$$\\begin{aligned}\n";
    for (const auto &[name, def] : f.forward) md += name + " &= " + def + " \\\\\n";
    md += "\\end{aligned}$$\n\n";
    md += "**Backward pass**: the adjoint of each node (per sample; B is the batch size, and a parameter's gradient "
          "sums its adjoint over the batch). Every kink shows its branches and the policy that chose the value at the kink.\n\n";
    for (const auto &[name, def] : f.backward) md += "$$" + name + " = " + def + "$$\n\n";
    return md;
}

} // namespace

template <class F> std::string available() {
    std::string s;
    auto add = [&]<class P>(std::type_identity<P>) {
        if constexpr (fits<P, F>()) s += (s.empty() ? "" : ", ") + std::string("`") + std::string(P::name) + "`";
    };
    add(std::type_identity<policy::zero>{});
    add(std::type_identity<policy::one>{});
    add(std::type_identity<policy::half>{});
    add(std::type_identity<policy::left>{});
    add(std::type_identity<policy::right>{});
    add(std::type_identity<policy::first>{});
    add(std::type_identity<policy::second>{});
    add(std::type_identity<policy::last>{});
    add(std::type_identity<policy::split>{});
    if constexpr (fits<policy::mix<1, 2>, F>()) s += ", `mix<N, D>`";
    if constexpr (fits<policy::per_kink<policy::zero, policy::one>, F>()) s += ", `per_kink<P0, P1>`";
    add(std::type_identity<policy::straight_through>{});
    add(std::type_identity<policy::straight_through_clipped>{});
    add(std::type_identity<policy::trap>{});
    return s + ", and `count<P>` of any of these";
}

template <class F> std::string row(const char *op) {
    return std::string("| `") + op + "` | `" + print::policy_name<resolve_t<policy::pytorch, F>>() + "` | `" +
           print::policy_name<resolve_t<policy::jax, F>>() + "` | `" + print::policy_name<resolve_t<policy::tensorflow, F>>() +
           "` | " + available<F>() + " |\n";
}

template <class Preset> std::string derivatives_under() {
    constexpr auto x = var<"x">;
    constexpr auto y = var<"y">;
    std::string s;
    s += "| `relu(x)` | $$" + to_latex(grad(with_policy<Preset>(relu(x)), x)) + "$$ |\n";
    s += "| `abs(x)` | $$" + to_latex(grad(with_policy<Preset>(abs(x)), x)) + "$$ |\n";
    s += "| `max(x, y)` | $$" + to_latex(grad(with_policy<Preset>(max(x, y)), x)) + "$$ |\n";
    s += "| `hardtanh(x)` | $$" + to_latex(grad(with_policy<Preset>(hardtanh(x)), x)) + "$$ |\n";
    s += "| `hardswish(x)` | $$" + to_latex(grad(with_policy<Preset>(hardswish(x)), x)) + "$$ |\n";
    s += "| `selu(x)` | $$" + to_latex(grad(with_policy<Preset>(selu(x)), x)) + "$$ |\n";
    return s;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: docs_gen OUT_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    std::filesystem::create_directories(out_dir);

    // -- the policy reference: resolved from the preset types ----------------------------------
    std::string pol = "| op family | `policy::pytorch` | `policy::jax` | `policy::tensorflow` | policies it accepts |\n"
                      "|---|---|---|---|---|\n";
    pol += row<family::relu>("relu");
    pol += row<family::leaky_relu>("leaky_relu");
    pol += row<family::relu6>("relu6");
    pol += row<family::hardtanh>("hardtanh");
    pol += row<family::abs>("abs");
    pol += row<family::sign>("sign");
    pol += row<family::step>("step");
    pol += row<family::max>("max");
    pol += row<family::min>("min");
    pol += row<family::clamp>("clamp");
    pol += row<family::hardsigmoid>("hardsigmoid");
    pol += row<family::hardswish>("hardswish");
    pol += row<family::elu>("elu, celu");
    pol += row<family::selu>("selu");
    pol += row<family::softshrink>("softshrink");
    pol += row<family::hardshrink>("hardshrink");
    pol += row<family::threshold>("threshold");
    pol += row<family::max_reduce>("max (reduction)");
    pol += row<family::max_pool>("max_pool2d");
    pol += "\nThe derivatives the printer shows under each preset (`grad(with_policy<preset>(f), x)`):\n\n";
    pol += "#### `policy::pytorch`\n\n| f | df/dx |\n|---|---|\n" + derivatives_under<policy::pytorch>();
    pol += "\n#### `policy::jax`\n\n| f | df/dx |\n|---|---|\n" + derivatives_under<policy::jax>();
    pol += "\n#### `policy::tensorflow`\n\n| f | df/dx |\n|---|---|\n" + derivatives_under<policy::tensorflow>();
    write("policies.md", pol);

    // -- "the same function, different programs": computed, not typed ---------------------------
    {
        constexpr auto x = var<"x">;
        auto ad = [&]<class P>(std::type_identity<P>) {
            std::vector<double> r;
            r.push_back(eval(grad(relu<P>(x), x), x = 0.0));
            r.push_back(eval(grad(relu<P>(-x) + x, x), x = 0.0));
            r.push_back(eval(grad((relu<P>(x) + relu<P>(-x) + x) / 2_c, x), x = 0.0));
            r.push_back(eval(grad(relu<P>(x) - relu<P>(-x), x), x = 0.0));
            r.push_back(eval(grad(relu<P>(relu<P>(x)) - relu<P>(x), x), x = 0.0));
            return r;
        };
        const auto c0 = ad(std::type_identity<policy::zero>{});
        const auto ch = ad(std::type_identity<policy::half>{});
        const auto c1 = ad(std::type_identity<policy::one>{});
        const char *programs[] = {"relu(x)", "relu(-x) + x", "(relu(x) + relu(-x) + x) / 2", "relu(x) - relu(-x)",
                                  "relu(relu(x)) - relu(x)"};
        const char *truth[] = {"none (Clarke: [0, 1])", "none (Clarke: [0, 1])", "none (Clarke: [0, 1])", "1", "0"};
        const char *equals[] = {"relu(x)", "relu(x)", "relu(x)", "x", "0"};
        std::string md = "| program | equals | AD at 0, relu'(0) = 0 | relu'(0) = 1/2 | relu'(0) = 1 | true derivative at 0 |\n"
                         "|---|---|---|---|---|---|\n";
        char b[512];
        for (int i = 0; i < 5; ++i) {
            std::snprintf(b, sizeof b, "| `%s` | `%s` | %g | %g | %g | %s |\n", programs[i], equals[i], c0[std::size_t(i)],
                          ch[std::size_t(i)], c1[std::size_t(i)], truth[i]);
            md += b;
        }
        write("same_function.md", md);
    }

    // -- the examples --------------------------------------------------------------------------
    {
        constexpr auto x = var<"x">;
        constexpr auto w = var<"w">;
        constexpr auto b = var<"b">;
        const auto f = relu(w * x + b); // examples/readme.cpp and first_steps.cpp
        std::string md = "**The function:**\n\n$$f = " + to_latex(f) + "$$\n\n**Its derivatives**, differentiated at compile time "
                         "(relu'(0) from the default policy, PyTorch's):\n\n";
        md += "$$\\frac{\\partial f}{\\partial w} = " + to_latex(grad(f, w)) + "$$\n\n";
        md += "$$\\frac{\\partial f}{\\partial b} = " + to_latex(grad(f, b)) + "$$\n\n";
        md += "$$\\frac{\\partial f}{\\partial x} = " + to_latex(grad(f, x)) + "$$\n\n";
        write("first_steps.formulas.md", md);
        write("first_steps.dot", to_dot(f));
        write("first_steps.grad.dot", to_dot(grad(f, w)));
    }
    write("train_mlp.formulas.md", tensor_formulas(nets::regression::loss()));
    write("train_mlp.dot", to_dot(nets::regression::loss()));
    write("fashion_mnist.formulas.md", tensor_formulas(nets::fashion::loss<policy::zero>()));
    write("fashion_mnist.dot", to_dot(nets::fashion::loss<policy::zero>()));
    write("fashion_cnn.formulas.md", tensor_formulas(nets::fashion_cnn::loss<policy::zero, policy::first>()));
    write("fashion_cnn.dot", to_dot(nets::fashion_cnn::loss<policy::zero, policy::first>()));
    write("fashion_resnet.dot", to_dot(nets::fashion_resnet::loss()));
    write("relu0_study.formulas.md",
          "The relu'(0) = 0 copy of the L = 3, n = 64 network (the study's networks differ in L and n only; the other copy "
          "has `policy::one`). \n\n" +
              tensor_formulas(study::loss<study::zero_counted, 3, 64>()));
    write("relu0_study.dot", to_dot(study::loss<study::zero_counted, 3, 64>()));
    std::printf("docs_gen: wrote %s\n", out_dir.c_str());
    return 0;
}

#pragma once
/// \file
/// The formulas of a compiled tensor program, as its fused step computes them: one definition
/// per intermediate node in topological order (v_1 = W_1 x + b_1, ...) and one adjoint per node
/// in reverse order, each the sum of its consumers' vector-Jacobian products. Elementwise
/// local derivatives are the ops' own `partial` graphs, printed by the same printers as
/// `grad()`: a relu's derivative shows every branch and, at the kink, the value and the policy
/// that chose it.
///
///     auto f = formulas(loss);   // f.forward, f.backward: {name, LaTeX} pairs
///
/// Adjoints are written per sample; a parameter's gradient is the sum of its per-sample
/// adjoints over the batch, and the loss's adjoint is 1/B (the step returns the batch mean).

#include <array>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <kink/ops/loss.hpp>
#include <kink/ops/reduce.hpp>
#include <kink/print/print.hpp>

namespace kink {
namespace print {

/// Stands for intermediate node K (numbered from 1 among the non-leaf nodes) in a printed formula.
template <std::size_t K> struct named {};
template <style St, std::size_t K> struct shower<St, named<K>> {
    static printed get() { // (appended, not "v" + to_string: g++ 12 at -O3 reports a false -Wrestrict there)
        std::string s = St == style::latex ? "v_{" : "v";
        s += std::to_string(K);
        if (St == style::latex) s += '}';
        return {std::move(s), 6};
    }
};


/// Position of N among the non-leaf nodes of Topo (from 1).
template <class N, class Topo> struct op_number;
template <class N, class... T> struct op_number<N, meta::list<T...>> {
    static constexpr std::size_t value = [] {
        constexpr bool same[] = {KINK_SAME(N, T)..., false};
        constexpr bool leaf[] = {is_leaf_v<T>..., false};
        std::size_t k = 0;
        for (std::size_t i = 0; i < sizeof...(T); ++i) {
            k += !leaf[i];
            if (same[i]) return k;
        }
        return std::size_t(0);
    }();
};

/// G with every non-leaf subgraph that is a node of Topo replaced by its name.
template <class G, class Topo> struct subst {
    using type = G;
};
template <class Op, class... A, class Topo> struct subst<node<Op, A...>, Topo> {
    using N = node<Op, A...>;
    using type = std::conditional_t<meta::in_list_v<N, Topo>, named<op_number<N, Topo>::value>,
                                    node<Op, typename subst<A, Topo>::type...>>;
};
template <class G, class Topo> using subst_t = typename subst<G, Topo>::type;

template <class N, class Topo> std::string name_of() {
    if constexpr (is_leaf_v<N>) return show_expr<style::latex, N>().s;
    else return show_expr<style::latex, subst_t<N, Topo>>().s;
}
template <class N, class Topo> std::string adjoint_of() { return "\\overline{" + name_of<N, Topo>() + "}"; }

/// The contribution of consumer C (argument slot K) to the adjoint of its argument.
template <class C, std::size_t K, class Topo> std::string contribution() {
    using Op = op_t<C>;
    const std::string g = adjoint_of<C, Topo>();
    if constexpr (is_elementwise_v<Op>) {
        using D = subst_t<typename Op::template partial<K, C>, Topo>;
        if constexpr (KINK_SAME(D, zero_t)) return {};
        else if constexpr (KINK_SAME(D, one_t)) return g;
        else if constexpr (KINK_SAME(D, lit_leaf<-1>)) return "-" + g;
        else {
            const printed d = show_expr<style::latex, D>();
            return g + " \\odot " + (d.prec < 6 && d.prec != 0 ? "\\left(" + d.s + "\\right)" : d.s);
        }
    } else if constexpr (requires { Op::template vjp_latex<K, C>(g, nullptr, g); }) {
        // a tensor op prints its own vector-Jacobian product from the names of its arguments
        const auto names = []<class... A>(meta::list<A...>) {
            return std::array<std::string, sizeof...(A)>{name_of<A, Topo>()...};
        }(children_t<C>{});
        return Op::template vjp_latex<K, C>(g, names.data(), name_of<C, Topo>());
    } else {
        return g + " \\cdot \\partial_{" + std::to_string(K) + "} " + std::string(Op::latex);
    }
}

template <class N, class Topo, class C, std::size_t... K> void add_terms(std::string &out, std::index_sequence<K...>) {
    (
        [&] {
            if constexpr (KINK_SAME(meta::at_t<K, children_t<C>>, N)) {
                const std::string t = contribution<C, K, Topo>();
                if (!t.empty()) {
                    if (!out.empty()) out += " + ";
                    out += t;
                }
            }
        }(),
        ...);
}
/// The adjoint of N: the sum of the contributions of every consumer in Topo.
template <class N, class... T> std::string adjoint_terms(meta::list<T...>) {
    std::string out;
    (
        [&] {
            if constexpr (!is_leaf_v<T>) add_terms<N, meta::list<T...>, T>(out, std::make_index_sequence<children_t<T>::size>{});
        }(),
        ...);
    return out;
}
template <class N, class Topo, style St = style::latex> struct definition;
template <class Op, class... A, class Topo, style St> struct definition<node<Op, A...>, Topo, St> {
    static std::string get() { return show_expr<St, node<Op, subst_t<A, Topo>...>>().s; }
};

/// How to print one node of a graph from its arguments' printed forms, for the printers that walk
/// a graph's node list (to_text_shared): its op applied to its arguments (show_op: one function
/// per (style, op), shared by every node of that op), or, for a leaf, the leaf's own printer. A
/// piecewise node (a kink's derivative, whose cases read its arguments' types) prints itself:
/// `whole` its whole expression, `named` its definition over its arguments' names.
struct node_printer {
    enum kind_t { leaf, op_node, piecewise } kind = leaf; // (compile-time questions ask this, not the
                                                          // pointers: a sanitizer build's g++ cannot compare those)
    printed (*op)(const printed *, std::size_t) = nullptr;
    printed (*whole)() = nullptr;
    std::string (*named)() = nullptr;
    std::array<std::size_t, 8> args{};
    std::size_t nargs = 0;
};
template <style St, class N, class Topo> constexpr node_printer printer_of() {
    node_printer p{};
    if constexpr (is_leaf_v<N>) {
        p.whole = &show_expr<St, N>;
    } else {
        using Op = op_t<N>;
        [&]<class... A>(meta::list<A...>) {
            static_assert(sizeof...(A) <= 8, "kink: print: an op of more than 8 arguments");
            p.nargs = sizeof...(A);
            std::size_t k = 0;
            (void)std::initializer_list<int>{0, (p.args[k++] = meta::node_index_of<A, Topo>::value, 0)...};
        }(children_t<N>{});
        if constexpr (Op::style == notation::piecewise) {
            p.kind = node_printer::piecewise;
            p.whole = &show_expr<St, N>;
            p.named = &definition<N, Topo, St>::get;
        } else {
            p.kind = node_printer::op_node;
            p.op = &show_op<St, Op>;
        }
    }
    return p;
}
/// The printers of every node of Topo, in its (topological) order.
template <style St, class Topo> inline constexpr auto printers_v = []<class... T>(meta::list<T...>) {
    return std::array<node_printer, sizeof...(T)>{printer_of<St, T, Topo>()...};
}(Topo{});

/// Whether a non-leaf node of Topo is an argument more than once (of two nodes, or twice of one).
template <class Topo> constexpr bool shares_a_node() {
    constexpr auto &table = printers_v<style::text, Topo>;
    std::array<std::size_t, table.size() + 1> uses{};
    for (const node_printer &p : table)
        for (std::size_t k = 0; k < p.nargs; ++k)
            if (table[p.args[k]].kind != node_printer::leaf) ++uses[p.args[k]];
    for (std::size_t u : uses)
        if (u > 1) return true;
    return false;
}

/// Every node of a graph printed whole from its printers (table): what show_expr prints for each.
template <style St> inline std::vector<printed> print_whole(const node_printer *table, std::size_t n) {
    std::vector<printed> out(n);
    std::array<printed, 8> a;
    for (std::size_t i = 0; i < n; ++i) {
        const node_printer &p = table[i];
        if (p.kind != node_printer::op_node) {
            out[i] = p.whole();
            continue;
        }
        for (std::size_t k = 0; k < p.nargs; ++k) a[k] = out[p.args[k]];
        out[i] = p.op(a.data(), p.nargs);
    }
    return out;
}
/// One definition per non-leaf node, "v1 = W1 * x; v2 = relu(v1 + b1); ...", each over its
/// arguments' names (a leaf's printed form, v_k for any other node).
inline std::string print_shared(const node_printer *table, std::size_t n) {
    std::vector<printed> name(n);
    std::array<printed, 8> a;
    std::string s;
    std::size_t k = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const node_printer &p = table[i];
        if (p.kind == node_printer::leaf) {
            name[i] = p.whole();
            continue;
        }
        std::string v(1, 'v'); // (appended, not "v" + to_string: g++ 12 at -O3 reports a false -Wrestrict there)
        v += std::to_string(++k);
        name[i] = {std::move(v), 6};
        if (!s.empty()) s += "; ";
        s += name[i].s;
        s += " = ";
        if (p.kind == node_printer::piecewise) {
            s += p.named();
        } else {
            for (std::size_t j = 0; j < p.nargs; ++j) a[j] = name[p.args[j]];
            s += p.op(a.data(), p.nargs).s;
        }
    }
    return s;
}

} // namespace print

/// The plain text of an expression with each shared subexpression written once: `to_text(f)`
/// when no non-leaf node is used twice, otherwise one definition per non-leaf node in topological
/// order, "v1 = W1 * x; v2 = relu(v1 + b1); ...", the last defining f. to_text repeats a shared
/// node at every use, so its length doubles with every nested sharing (a residual block's input,
/// a normalisation's centred value: 26 million characters for the 8-layer residual network of
/// examples/fashion_resnet.cpp); this form is linear in the graph. It prints from the graph's
/// node list (print::printers_v): one printing function per op, not per node, so its compile
/// time is linear too.
template <expression X> std::string to_text_shared(const X &) {
    using Topo = topo_t<graph_t<X>>;
    constexpr auto &table = print::printers_v<print::style::text, Topo>;
    if constexpr (!print::shares_a_node<Topo>()) return print::print_whole<print::style::text>(table.data(), table.size()).back().s;
    else return print::print_shared(table.data(), table.size());
}

/// Forward definitions and backward adjoints of a tensor loss, in LaTeX.
struct program_formulas {
    std::vector<std::pair<std::string, std::string>> forward;  ///< {v_k, definition}
    std::vector<std::pair<std::string, std::string>> backward; ///< {adjoint, sum of contributions}
};

/// The formulas of `loss`'s fused step: forward definitions in topological order, then the
/// adjoints in the order the backward pass completes them (the loss first). Inputs, labels and
/// constants get no adjoint.
template <expression L> program_formulas formulas(const L &) {
    using Topo = topo_t<graph_t<L>>;
    program_formulas f;
    [&]<class... T>(meta::list<T...>) {
        (
            [&] {
                if constexpr (!is_leaf_v<T>)
                    f.forward.emplace_back(print::name_of<T, Topo>(), print::definition<T, Topo>::get());
            }(),
            ...);
        std::vector<std::pair<std::string, std::string>> back;
        (
            [&] {
                if constexpr (KINK_SAME(T, graph_t<L>)) {
                    back.emplace_back(print::adjoint_of<T, Topo>(), "\\frac{1}{B}");
                } else if constexpr (!is_leaf_v<T> || is_param_v<T>) {
                    std::string terms = print::adjoint_terms<T>(Topo{});
                    if (!terms.empty()) back.emplace_back(print::adjoint_of<T, Topo>(), std::move(terms));
                }
            }(),
            ...);
        f.backward.assign(back.rbegin(), back.rend());
    }(Topo{});
    return f;
}

} // namespace kink

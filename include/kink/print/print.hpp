#pragma once
/// \file
/// Printers: plain text, LaTeX and Graphviz DOT, as {fmt} formatters. The only header that
/// includes {fmt}. A piecewise derivative prints every branch, and at each kink the value its
/// policy chose and the policy's name:
///
///     relu'(x), policy zero:  1 if x > 0, 0 if x = 0 (policy zero), 0 if x < 0
///
/// Text and LaTeX print the expression tree (a subexpression used twice is printed twice); DOT
/// prints the graph, each distinct node once.

#include <algorithm>
#include <cstdint>
#include <string>
#include <initializer_list>
#include <string_view>

#include <fmt/format.h>

#include <kink/expr/graph.hpp>
#include <kink/ops/piecewise.hpp>

namespace kink {

namespace print {

enum class style { text, latex };

/// A printed subexpression and the precedence of its outermost operator
/// (0 piecewise, 1 + -, 2 * /, 3 unary minus, 4 power, 5 function call, 6 atom).
struct printed {
    std::string s;
    int prec;
};

inline std::string paren(const printed &p, bool need, style st) {
    if (!need) return p.s;
    return st == style::text ? "(" + p.s + ")" : "\\left(" + p.s + "\\right)";
}

/// A rational as text: integers as integers, terminating fractions as decimals, others as n/d.
inline printed rational(std::int64_t n, std::int64_t d, style st) {
    if (d < 0) n = -n, d = -d;
    const bool neg = n < 0;
    const std::int64_t an = neg ? -n : n;
    const int neg_prec = 3;
    if (d == 1) return {fmt::format("{}{}", neg ? "-" : "", an), neg ? neg_prec : 6};
    std::int64_t m = d, k = 0;
    while (m % 2 == 0) m /= 2, ++k;
    std::int64_t k5 = 0;
    while (m % 5 == 0) m /= 5, ++k5;
    if (m == 1 && std::max(k, k5) <= 9) {
        const std::int64_t digits = std::max(k, k5);
        std::int64_t scale = 1;
        for (std::int64_t i = 0; i < digits; ++i) scale *= 10;
        const std::int64_t scaled = an * (scale / d);
        return {fmt::format("{}{}.{:0{}}", neg ? "-" : "", scaled / scale, scaled % scale, digits), neg ? neg_prec : 6};
    }
    if (st == style::latex) return {fmt::format("{}\\frac{{{}}}{{{}}}", neg ? "-" : "", an, d), neg ? neg_prec : 5};
    return {fmt::format("{}{}/{}", neg ? "-" : "", an, d), neg ? neg_prec : 2};
}

inline std::string leaf_name(std::string_view name, style st) {
    if (st == style::text || name.size() == 1) return std::string(name);
    std::string out = "\\mathrm{";
    for (char c : name) {
        if (c == '_') out += "\\_";
        else out += c;
    }
    return out + "}";
}

inline void replace_all(std::string &s, std::string_view from, std::string_view to) {
    for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
        s.replace(pos, from.size(), to);
}

/// "$k": the placeholder of argument k in case texts. (Built by appending: g++ 12 -O3 reports a
/// false -Wrestrict for `"$" + std::to_string(k)`.)
inline std::string placeholder(std::size_t k) {
    std::string s(1, '$');
    s += std::to_string(k);
    return s;
}

/// Substitutes "$k" by argument k's text (after turning != <= >= into LaTeX when needed).
template <std::size_t N> std::string fill(std::string_view tmpl, const std::array<std::string, N> &args, style st) {
    std::string s(tmpl);
    if (st == style::latex) {
        replace_all(s, "!=", "\\neq");
        replace_all(s, "<=", "\\le");
        replace_all(s, ">=", "\\ge");
        replace_all(s, "exp(", "\\exp(");
    }
    for (std::size_t k = 0; k < N; ++k) replace_all(s, placeholder(k), args[k]);
    return s;
}

/// Concatenation by appending. (g++ 12 -O3 reports a false -Wrestrict for `"text" + string&&`.)
template <class... S> std::string cat(const S &...s) {
    std::string out;
    ((out += s), ...);
    return out;
}

/// The policy's name as printed: "zero", "count<half>", ...
template <class P> std::string policy_name() { return policy_label<P>(); }

/// A kink value: a rational when known, otherwise text.
struct kval {
    bool numeric;
    std::int64_t n, d;
    std::string sym;
};

template <style St, class E> printed show_expr();

/// Arguments as kink values: exact when the argument is a literal, text otherwise.
template <std::size_t N> struct case_args {
    std::array<std::string, N> text;
    std::array<kval, N> value;
};
template <style St, class A> kval arg_value() {
    if constexpr (is_lit_v<A>) return {true, A::num, A::den, {}};
    else return {false, 0, 1, show_expr<St, A>().s};
}

template <std::size_t N> kval side_value(const side_desc &sd, const case_args<N> &args, style st) {
    if (sd.sym.empty()) return {true, sd.num, sd.den, {}};
    for (std::size_t k = 0; k < N; ++k)
        if (sd.sym == placeholder(k)) return args.value[k];
    return {false, 0, 1, fill(sd.sym, args.text, st)};
}
inline std::string show(const kval &v, style st) { return v.numeric ? rational(v.n, v.d, st).s : v.sym; }

/// The value policy Q reports at kink case `c` of partial I.
/// The pieces in order, appended into one string (rather than "literal" + string: g++ 12 at -O3
/// reports a false -Wrestrict in that operator's insert).
inline std::string concat(std::initializer_list<std::string_view> parts) {
    std::string s;
    for (const std::string_view p : parts) s += p;
    return s;
}
template <class Q, std::size_t I, std::size_t N>
std::string kink_value(const case_desc &c, const case_args<N> &args, style st) {
    const kval l = side_value(c.left, args, st), r = side_value(c.right, args, st);
    kval v{};
    if constexpr (is_per_kink_v<Q>) { // the policy of this case's kink
        return [&]<class... R>(std::type_identity<policy::per_kink<R...>>) {
            int k = 0;
            std::string out;
            ((k++ == c.id ? void(out = kink_value<R, I>(c, args, st)) : void()), ...);
            return out;
        }(std::type_identity<Q>{});
    } else if constexpr (is_runtime_v<Q>) {
        v = {false, 0, 1, std::string(Q::constant::name())};
    } else { // the policy's rule, as choose() reads it
        constexpr kink_rule rule = policy_impl<Q>::rule;
        using K = kink_rule::kind;
        static_assert(rule.k != K::none, "kink: print: not a concrete policy");
        if constexpr (rule.k == K::value) v = {true, rule.num, rule.den, {}};
        else if constexpr (rule.k == K::left) v = l;
        else if constexpr (rule.k == K::right) v = r;
        else if constexpr (rule.k == K::argument) v = {true, I == rule.arg ? 1 : 0, 1, {}};
        else if constexpr (rule.k == K::trap) return "error";
        else if (l.numeric && r.numeric) v = {true, l.n * r.d + r.n * l.d, 2 * l.d * r.d, {}}; // the mean
        else if (st == style::text) v = {false, 0, 1, concat({"(", show(l, st), " + ", show(r, st), ")/2"})};
        else v = {false, 0, 1, concat({"\\frac{", show(l, st), " + ", show(r, st), "}{2}"})};
    }
    if (c.complement) {
        if (v.numeric) v = {true, v.d - v.n, v.d, {}};
        else v = {false, 0, 1, concat({"1 - (", v.sym, ")"})};
    }
    if (v.numeric) {
        const std::int64_t g = std::gcd(v.n, v.d);
        v.n /= g, v.d /= g;
    }
    return show(v, st);
}

template <style St, class E> printed show_expr();

/// A piecewise op's cases from its printed arguments: one function per (style, op, arity), not
/// per node, so that the printing code of a network does not grow with its nodes.
template <style St, class Op, std::size_t N> printed show_cases_of(const case_args<N> &cargs) {
    using primal = typename Op::primal;
    using P = typename Op::policy;
    using Q = strip_count_t<P>;
    constexpr std::size_t I = Op::index;
    const auto &args = cargs.text;
    const std::string label = "policy " + policy_name<P>();
    std::string tex_label; // \text{} takes no bare underscore: per_kink, straight_through
    for (const char ch : label) tex_label += ch == '_' ? std::string("\\_") : std::string(1, ch);
    std::string out;
    const bool tex = St == style::latex;
    const std::string_view sep = tex ? " \\\\ " : ", ";
    auto add = [&](const std::string &value, const std::string &cond, bool with_label) {
        if (!out.empty()) out += sep;
        if (tex) {
            out += value + " & " + cond;
            if (with_label) out += " \\text{ (" + tex_label + ")}";
        } else {
            out += value + " if " + cond;
            if (with_label) out += " (" + label + ")";
        }
    };
    constexpr kink_rule rule = policy_impl<Q>::rule;
    if constexpr (rule.k == kink_rule::kind::through && rule.den == 0) { // straight-through everywhere
        out = tex ? "1 & \\text{everywhere (" + tex_label + ")}" : "1 (" + label + ")";
    } else if constexpr (rule.k == kink_rule::kind::through) { // within a bound
        add("1", fill("|$0| <= " + rational(rule.num, rule.den, style::text).s, args, St), true);
        if (tex) out += " \\\\ 0 & \\text{otherwise}";
        else out += ", 0 otherwise";
    } else {
        constexpr auto cases = primal::template cases<I>();
        for (const case_desc &c : cases) {
            if (c.kink) add(kink_value<Q, I>(c, cargs, St), fill(c.cond, args, St), true);
            else add(fill(c.value, args, St), fill(c.cond, args, St), false);
        }
    }
    if (tex) out = "\\begin{cases} " + out + " \\end{cases}";
    return {out, 0};
}
template <style St, class Op, class... A> printed show_cases() {
    return show_cases_of<St, Op>(case_args<sizeof...(A)>{{show_expr<St, A>().s...}, {arg_value<St, A>()...}});
}

/// "<one>" after an op's name when its policy is not what the default preset (PyTorch's) gives
/// that op, so that the printed formula identifies the program: relu(x) is relu<zero>(x),
/// relu<one>(x) prints so, relu<count<zero>>(x) too.
template <class Op> std::string policy_suffix() {
    if constexpr (requires {
                      typename Op::policy;
                      typename Op::family;
                  }) {
        using preset = resolve_t<policy::default_policy, typename Op::family>;
        if constexpr (!KINK_SAME(typename Op::policy, preset))
            return cat("<", policy_name<typename Op::policy>(), ">");
        else return {};
    } else {
        return {};
    }
}

/// An op's attributes (`padding=2`, `kernel=2, stride=1`), as it declares them with
/// `static std::string attributes()` (only what differs from PyTorch's defaults, plus what has
/// none, as a pool's kernel), so that the printed formula and a model file's network description
/// identify what the op computes; in LaTeX the keys are upright.
template <class Op> std::string attributes_of(style st) {
    if constexpr (requires { Op::attributes(); }) {
        const std::string a = Op::attributes();
        if (st != style::latex || a.empty()) return a;
        std::string out = "\\mathrm{";
        for (char c : a) {
            if (c == '=') out += "}=";
            else if (c == ',') out += ",\\,";
            else if (c == ' ' && !out.empty() && out.back() == ',') out += "\\mathrm{";
            else if (c == '_') out += "\\_";
            else out += c;
        }
        return out;
    } else {
        return {};
    }
}

template <style St, class E> struct shower {
    static printed get() {
        if constexpr (is_var_v<E> || is_rconst_v<E> || is_param_v<E> || is_input_v<E> || is_label_v<E>)
            return {leaf_name(E::name(), St), 6};
        else return rational(E::num, E::den, St);
    }
};
/// An op applied to its printed arguments a[0 .. n): one function per (style, op), not per node.
template <style St, class Op> printed show_op(const printed *a, std::size_t n) {
    constexpr style st = St;
    constexpr int p = Op::prec;
    if constexpr (Op::style == notation::infix) {
        if (st == style::latex && Op::name == std::string_view("/")) return {"\\frac{" + a[0].s + "}{" + a[1].s + "}", 5};
        const std::string_view sym = st == style::text ? Op::name : Op::latex;
        return {paren(a[0], a[0].prec < p, st) + " " + std::string(sym) + " " + paren(a[1], a[1].prec <= p, st), p};
    } else if constexpr (Op::style == notation::prefix) {
        return {"-" + paren(a[0], a[0].prec <= p, st), p};
    } else if constexpr (Op::style == notation::power) {
        const std::string base = paren(a[0], a[0].prec <= p, st);
        if (st == style::latex) return {"{" + base + "}^{" + std::to_string(Op::exponent) + "}", p};
        if (Op::exponent < 0) return {base + "^(" + std::to_string(Op::exponent) + ")", p};
        return {base + "^" + std::to_string(Op::exponent), p};
    } else {
        if (st == style::latex && Op::name == std::string_view("sqrt")) return {"\\sqrt{" + a[0].s + "}", 5};
        std::string args;
        for (std::size_t k = 0; k < n; ++k) {
            if (k) args += ", ";
            args += a[k].s;
        }
        const std::string attrs = attributes_of<Op>(st);
        if (st == style::text) return {std::string(Op::name) + policy_suffix<Op>() + "(" + args + (attrs.empty() ? "" : ", " + attrs) + ")", 5};
        return {std::string(Op::latex) + "\\left(" + args + (attrs.empty() ? "" : "; " + attrs) + "\\right)", 5};
    }
}
template <style St, class Op, class... A> struct shower<St, node<Op, A...>> {
    static printed get() {
        if constexpr (Op::style == notation::piecewise) {
            return show_cases<St, Op, A...>();
        } else {
            const std::array<printed, sizeof...(A)> a{show_expr<St, A>()...};
            return show_op<St, Op>(a.data(), a.size());
        }
    }
};
template <style St, class E> printed show_expr() { return shower<St, E>::get(); }

/// The DOT label of one node: leaves by name, ops by symbol, piecewise ops with their policy.
template <class E> std::string dot_label() {
    if constexpr (is_leaf_v<E>) {
        return show_expr<style::text, E>().s;
    } else {
        using Op = op_t<E>;
        std::string s(Op::name);
        if (const std::string a = attributes_of<Op>(style::text); !a.empty()) s += " " + a;
        if constexpr (Op::style == notation::power) s += std::to_string(Op::exponent);
        if constexpr (Op::style == notation::piecewise)
            s = "d" + s + "/d#" + std::to_string(Op::index) + " [" + policy_name<typename Op::policy>() + "]";
        else if constexpr (requires { typename Op::policy; })
            s += " [" + policy_name<typename Op::policy>() + "]";
        return s;
    }
}

template <class Topo, class N, class Children = children_t<N>> struct dot_edges;
template <class Topo, class N, class... A> struct dot_edges<Topo, N, meta::list<A...>> {
    static void add(std::string &out) {
        const std::size_t from[] = {meta::index_of<A, Topo>::value..., 0};
        for (std::size_t slot = 0; slot < sizeof...(A); ++slot)
            out += fmt::format("  n{} -> n{} [label=\"{}\"];\n", from[slot], meta::index_of<N, Topo>::value, slot);
    }
};
template <class Topo, class N> void dot_node(std::string &out) {
    std::string label = dot_label<N>();
    replace_all(label, "\"", "\\\"");
    out += fmt::format("  n{} [label=\"{}\"{}];\n", meta::index_of<N, Topo>::value, label, is_leaf_v<N> ? ", shape=box" : "");
    dot_edges<Topo, N>::add(out);
}
template <class Topo> struct dot_graph;
template <class... N> struct dot_graph<meta::list<N...>> {
    static std::string get() {
        std::string out = "digraph kink {\n  rankdir=BT;\n  node [fontname=\"Helvetica\"];\n";
        using add = void (*)(std::string &);
        const add nodes[] = {&dot_node<meta::list<N...>, N>..., nullptr};
        for (std::size_t k = 0; k < sizeof...(N); ++k) nodes[k](out);
        return out + "}\n";
    }
};

} // namespace print

/// Plain-text formula of an expression, e.g. "relu(W * x + b)".
template <expression X> std::string to_text(const X &) { return print::show_expr<print::style::text, graph_t<X>>().s; }
/// LaTeX formula of an expression (math mode, without delimiters).
template <expression X> std::string to_latex(const X &) { return print::show_expr<print::style::latex, graph_t<X>>().s; }
/// Graphviz DOT of the expression's graph: each distinct node once, edges labelled by argument slot.
template <expression X> std::string to_dot(const X &) { return print::dot_graph<topo_t<graph_t<X>>>::get(); }

/// `fmt::format("{}", latex(f))`
/// Unnamed view types (see expr_of): their IR names do not spell the graph.
template <class X> struct view_of {
    struct {
        using latex_of = X;
        X e;
    } latex;
    struct {
        using dot_of = X;
        X e;
    } dot;
};
template <class X> using latex_view = decltype(view_of<X>::latex);
template <class X> using dot_view = decltype(view_of<X>::dot);
template <expression X> constexpr latex_view<X> latex(const X &e) { return {e}; }
/// `fmt::format("{}", dot(f))`
template <expression X> constexpr dot_view<X> dot(const X &e) { return {e}; }

} // namespace kink

namespace kink::detail {
/// The formatters take no format spec ("{}" only) and copy the printed text. (Reusing fmt's
/// string_view formatter would run its spec parser, where g++ 12 -O3 reports a false
/// -Wstringop-overflow inside fmt's core.h.)
struct plain_formatter {
    constexpr auto parse(fmt::format_parse_context &ctx) {
        auto it = ctx.begin();
        if (it != ctx.end() && *it != '}') throw fmt::format_error("kink: expressions print with \"{}\" only (no format spec)");
        return it;
    }
    static auto put(const std::string &s, fmt::format_context &ctx) { return std::copy(s.begin(), s.end(), ctx.out()); }
};
} // namespace kink::detail

template <kink::expression X> struct fmt::formatter<X, char> : kink::detail::plain_formatter {
    auto format(const X &e, fmt::format_context &ctx) const { return put(kink::to_text(e), ctx); }
};
template <class V>
    requires requires { typename V::latex_of; }
struct fmt::formatter<V, char> : kink::detail::plain_formatter {
    auto format(const V &v, fmt::format_context &ctx) const { return put(kink::to_latex(v.e), ctx); }
};
template <class V>
    requires requires { typename V::dot_of; }
struct fmt::formatter<V, char> : kink::detail::plain_formatter {
    auto format(const V &v, fmt::format_context &ctx) const { return put(kink::to_dot(v.e), ctx); }
};

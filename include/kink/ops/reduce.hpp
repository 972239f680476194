#pragma once
/// \file
/// Reductions over a per-sample vector and the softmax family. These are tensor ops: their value
/// and vector-Jacobian rules are written next to each other here as plain loops over one sample
/// (`forward` and `backward`); exec/ calls them per sample.
///
/// max(x) is piecewise: where several entries tie for the maximum the policy (family max_reduce)
/// shares the gradient: half gives 1/k to each of k tied entries (PyTorch's max/amax, JAX's and
/// TensorFlow's reduce_max: all three presets), first gives all to the first tied entry, second
/// to the last, zero none, one 1 to each; trap throws. A NaN entry makes max(x) NaN and every
/// partial NaN (torch.amax).

#include <cmath>
#include <cstddef>
#include <string_view>

#include <string>

#include <kink/ops/piecewise.hpp>

namespace kink {

namespace detail {
template <class... S> struct vector_to_scalar {
    static constexpr bool ok = false;
    using type = void;
};
template <class S> struct vector_to_scalar<S> {
    static constexpr bool ok = S::rank <= 1;
    using type = shape<>;
};
template <class... S> struct vector_to_vector {
    static constexpr bool ok = false;
    using type = void;
};
template <class S> struct vector_to_vector<S> {
    static constexpr bool ok = S::rank == 1;
    using type = S;
};
} // namespace detail

#define KINK_TENSOR_OP(NAME, LATEX)                                                                  \
    static constexpr std::string_view name = NAME, latex = LATEX;                                   \
    static constexpr notation style = notation::function;                                           \
    static constexpr int prec = 5;                                                                  \
    static constexpr bool elementwise = false;

/// sum(x) = sum_j x_j over one sample's vector.
struct sum_op {
    KINK_TENSOR_OP("sum", "\\sum")
    template <class... S> using shape_rule = detail::vector_to_scalar<S...>;
    template <class T> static T forward(const T *x, std::size_t n) {
        T s = 0;
        for (std::size_t j = 0; j < n; ++j) s += x[j];
        return s;
    }
    /// d sum / d x_j = 1
    template <class T> static T backward_scale(std::size_t) { return T(1); }
    template <std::size_t K, class Node> static std::string vjp_latex(const std::string &g, const std::string *, const std::string &) {
        return g + "\\, \\mathbf{1}";
    }
};
/// mean(x) = sum_j x_j / n.
struct mean_op {
    KINK_TENSOR_OP("mean", "\\operatorname{mean}")
    template <class... S> using shape_rule = detail::vector_to_scalar<S...>;
    template <class T> static T forward(const T *x, std::size_t n) { return sum_op::forward(x, n) / T(n); }
    /// d mean / d x_j = 1 / n
    template <class T> static T backward_scale(std::size_t n) { return T(1) / T(n); }
    template <std::size_t K, class Node> static std::string vjp_latex(const std::string &g, const std::string *, const std::string &) {
        return "\\frac{" + g + "}{" + std::to_string(shape_of_t<arg_t<0, Node>>::size) + "}\\, \\mathbf{1}";
    }
};

/// max(x) = max_j x_j, with the tie rule of policy P (family max).
template <class P> struct max_reduce_op {
    KINK_TENSOR_OP("max", "\\max")
    using policy = P;
    using family = ::kink::family::max_reduce;
    template <class Q> using rebind = max_reduce_op<resolve_t<Q, ::kink::family::max_reduce>>;
    template <class... S> using shape_rule = detail::vector_to_scalar<S...>;
    template <class T> static T forward(const T *x, std::size_t n) {
        T m = x[0];
        for (std::size_t j = 1; j < n; ++j) m = (x[j] > m || x[j] != x[j]) ? x[j] : m; // NaN anywhere: NaN
        return m;
    }
    template <std::size_t K, class Node>
    static std::string vjp_latex(const std::string &g, const std::string *args, const std::string &) {
        return g + "\\, e_{\\arg\\max " + args[0] + "} \\text{ (ties: policy " + policy_label<P>() + ")}";
    }
    /// Number of entries equal to the maximum (a kink when more than one).
    template <class T> static std::size_t ties(const T *x, std::size_t n, T m) {
        std::size_t k = 0;
        for (std::size_t j = 0; j < n; ++j) k += x[j] == m;
        return k;
    }
    /// dx_j += g * (share of entry j): 1 for a unique maximum, the policy's share at a tie.
    template <class T> static void backward(const T *x, std::size_t n, T m, T g, T *dx, bool assign) {
        using Q = strip_count_t<P>;
        if (m != m) { // a NaN entry: not a tie; every partial is NaN
            if constexpr (policy_impl<Q>::tie.k == tie_rule::kind::trap)
                throw kink_error("kink: max (reduction) was differentiated at NaN (an entry is NaN; not a tie)");
            for (std::size_t j = 0; j < n; ++j) dx[j] = assign ? m : dx[j] + m;
            return;
        }
        const std::size_t k = ties(x, n, m);
        std::size_t seen = 0;
        for (std::size_t j = 0; j < n; ++j) {
            T share = T(0);
            if (x[j] == m) {
                ++seen;
                if (k == 1) share = T(1);
                else if constexpr (policy_impl<Q>::tie.k == tie_rule::kind::trap)
                    throw kink_error("kink: max (reduction) was differentiated at a tie of " + std::to_string(k) +
                                     " entries (policy trap)");
                else share = tie_share<T>(policy_impl<Q>::tie, seen, k);
            }
            dx[j] = assign ? g * share : dx[j] + g * share;
        }
    }
};

namespace detail {
template <class Op> inline constexpr bool is_max_reduce_v = false;
template <class P> inline constexpr bool is_max_reduce_v<max_reduce_op<P>> = true;
} // namespace detail

/// softmax(x)_j = exp(x_j - max x) / sum_i exp(x_i - max x).
struct softmax_op {
    KINK_TENSOR_OP("softmax", "\\operatorname{softmax}")
    template <class... S> using shape_rule = detail::vector_to_vector<S...>;
    template <class T> static void forward(const T *x, std::size_t n, T *y) {
        using std::exp;
        const T m = max_reduce_op<policy::half>::forward(x, n);
        T s = 0;
        for (std::size_t j = 0; j < n; ++j) s += (y[j] = exp(x[j] - m));
        for (std::size_t j = 0; j < n; ++j) y[j] /= s;
    }
    template <std::size_t K, class Node>
    static std::string vjp_latex(const std::string &g, const std::string *, const std::string &v) {
        return v + " \\odot \\left(" + g + " - \\langle " + g + ", " + v + " \\rangle\\right)";
    }
    /// dx_j = y_j (g_j - sum_i g_i y_i)
    template <class T> static void backward(const T *y, const T *g, std::size_t n, T *dx, bool assign) {
        T dot = 0;
        for (std::size_t j = 0; j < n; ++j) dot += g[j] * y[j];
        for (std::size_t j = 0; j < n; ++j) {
            const T d = y[j] * (g[j] - dot);
            dx[j] = assign ? d : dx[j] + d;
        }
    }
};

/// log_softmax(x)_j = x_j - max x - log sum_i exp(x_i - max x).
struct log_softmax_op {
    KINK_TENSOR_OP("log_softmax", "\\operatorname{log\\,softmax}")
    template <class... S> using shape_rule = detail::vector_to_vector<S...>;
    template <class T> static void forward(const T *x, std::size_t n, T *y) {
        using std::exp;
        using std::log;
        const T m = max_reduce_op<policy::half>::forward(x, n);
        T s = 0;
        for (std::size_t j = 0; j < n; ++j) s += exp(x[j] - m);
        const T lse = m + log(s);
        for (std::size_t j = 0; j < n; ++j) y[j] = x[j] - lse;
    }
    template <std::size_t K, class Node>
    static std::string vjp_latex(const std::string &g, const std::string *args, const std::string &) {
        return g + " - \\operatorname{softmax}\\left(" + args[0] + "\\right) \\sum " + g;
    }
    /// dx_j = g_j - exp(y_j) sum_i g_i
    template <class T> static void backward(const T *y, const T *g, std::size_t n, T *dx, bool assign) {
        using std::exp;
        T sg = 0;
        for (std::size_t j = 0; j < n; ++j) sg += g[j];
        for (std::size_t j = 0; j < n; ++j) {
            const T d = g[j] - exp(y[j]) * sg;
            dx[j] = assign ? d : dx[j] + d;
        }
    }
};

/// `sum(x)`: the sum of a per-sample vector.
template <expression X> constexpr auto sum(const X &x) { return make_node<sum_op>(x); }
/// `mean(x)`: the mean of a per-sample vector.
template <expression X> constexpr auto mean(const X &x) { return make_node<mean_op>(x); }
/// `max(x)`: the largest entry of a per-sample vector; ties follow policy P (family max).
template <class P = policy::default_policy, expression X> constexpr auto max(const X &x) {
    KINK_CHECK_POLICY(P, max_reduce, "max");
    return make_node<max_reduce_op<resolve_t<P, family::max_reduce>>>(x);
}
template <expression X> constexpr auto softmax(const X &x) { return make_node<softmax_op>(x); }
template <expression X> constexpr auto log_softmax(const X &x) { return make_node<log_softmax_op>(x); }

} // namespace kink

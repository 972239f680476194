#pragma once
/// \file
/// Losses. Softmax cross-entropy with integer labels is one tensor op (its value and its
/// gradient softmax(z) - onehot(y) side by side, the softmax kept from the forward pass); the
/// others are compositions of elementwise ops and `mean`, so their kinks take the policies of
/// the ops they are made of:
///
///   mse(p, t)       = mean((p - t)^2)
///   l1<P>(p, t)     = mean(abs<P>(p - t))              abs'(0) from P
///   hinge<P>(p, y)  = mean(relu<P>(1 - y * p))         y in {-1, +1}; relu'(0) at margin 1 from P
///   huber<P>(p, t, d) = mean(huber_d(p - t))            huber' = clamp<P>(r, -d, d): kinks at +-d

#include <cmath>
#include <cstddef>
#include <string_view>

#include <kink/ops/abs_sign.hpp>
#include <kink/ops/minmax.hpp>
#include <kink/ops/reduce.hpp>
#include <kink/ops/relu.hpp>

namespace kink {

/// softmax_cross_entropy(z, y) = log sum_j exp(z_j) - z_y for logits z and a label y in [0, K).
struct softmax_ce_op {
    KINK_TENSOR_OP("softmax_cross_entropy", "\\operatorname{CE}")
    template <class... S> struct shape_rule {
        static constexpr bool ok = false;
        using type = void;
    };
    template <class Z, class Y> struct shape_rule<Z, Y> {
        static constexpr bool ok = Z::rank == 1 && Y::rank == 0;
        using type = shape<>;
    };
    /// The loss of one sample; `p` receives softmax(z) for the backward pass.
    template <class T> static T forward(const T *z, std::size_t n, std::size_t y, T *p) {
        using std::exp;
        using std::log;
        const T m = max_reduce_op<policy::half>::forward(z, n);
        T s = 0;
        for (std::size_t j = 0; j < n; ++j) s += (p[j] = exp(z[j] - m));
        const T inv = T(1) / s;
        for (std::size_t j = 0; j < n; ++j) p[j] *= inv;
        return m + log(s) - z[y];
    }
    template <std::size_t K, class Node>
    static std::string vjp_latex(const std::string &g, const std::string *args, const std::string &) {
        if constexpr (K == 0) return g + " \\left(\\operatorname{softmax}\\left(" + args[0] + "\\right) - e_{" + args[1] + "}\\right)";
        else return {};
    }
    /// dz_j = g (p_j - [j = y])
    template <class T> static void backward(const T *p, std::size_t n, std::size_t y, T g, T *dz, bool assign) {
        for (std::size_t j = 0; j < n; ++j) {
            const T d = g * (p[j] - (j == y ? T(1) : T(0)));
            dz[j] = assign ? d : dz[j] + d;
        }
    }
};

/// The Huber function of a residual r with threshold d: r^2 / 2 for |r| <= d, d (|r| - d / 2)
/// beyond. Its derivative clamp(r, -d, d) is continuous; the kinks of that derivative take P.
template <class P> struct huber_op {
    using policy = P;
    using family = ::kink::family::clamp;
    template <class Q> using rebind = huber_op<resolve_t<Q, ::kink::family::clamp>>;
    static constexpr std::string_view name = "huber", latex = "\\operatorname{huber}";
    static constexpr notation style = notation::function;
    static constexpr int prec = 5;
    template <class T> static constexpr T eval(T r, T d) {
        const T a = r < T(0) ? -r : r;
        return a <= d ? r * r / T(2) : d * (a - d / T(2));
    }
    /// d/dr = clamp(r, -d, d); the threshold is a constant, never differentiated.
    template <std::size_t I, class Self>
    using partial = std::conditional_t<I == 0, node<clamp_op<P>, arg_t<0, Self>, neg_t<arg_t<1, Self>>, arg_t<1, Self>>,
                                       zero_t>;
};

/// Softmax cross-entropy of logits `z` (a K-vector) against an integer label `y` = label<"y", K>.
template <expression Z, expression Y> constexpr auto softmax_cross_entropy(const Z &z, const Y &y) {
    static_assert(is_label_v<graph_t<Y>>, "kink: softmax_cross_entropy(z, y): y must be a label<\"name\", K>");
    if constexpr (is_label_v<graph_t<Y>>) {
        using S = shape_of_t<graph_t<Z>>;
        static_assert(is_bad_shape_v<S> || (S::rank == 1 && S::dims[S::rank == 1 ? 0 : 0] == graph_t<Y>::classes),
                      "kink: softmax_cross_entropy: the logits must be a vector with one entry per class of the label");
    }
    return make_node<softmax_ce_op>(z, y);
}
/// Mean squared error.
template <expression A, expression B> constexpr auto mse(const A &p, const B &t) { return mean(pow<2>(p - t)); }
/// Mean absolute error; abs'(0) from P.
template <class P = policy::default_policy, expression A, expression B> constexpr auto l1(const A &p, const B &t) {
    return mean(abs<P>(p - t));
}
/// Mean hinge loss for targets y in {-1, +1}; relu'(0) at the margin from P.
template <class P = policy::default_policy, expression A, expression B> constexpr auto hinge(const A &p, const B &y) {
    return mean(relu<P>(1_c - hadamard(y, p)));
}
/// Mean Huber loss with threshold d (a constant: `1_c` or `constant<"delta">(v)`); the clamp
/// in its derivative takes P.
template <class P = policy::default_policy, expression A, expression B, expression D = ex<one_t>>
constexpr auto huber(const A &p, const B &t, const D &d = {}) {
    KINK_CHECK_POLICY(P, clamp, "huber");
    static_assert(is_lit_v<graph_t<D>> || is_rconst_v<graph_t<D>>, "kink: huber: the threshold must be a constant");
    return mean(make_node<huber_op<resolve_t<P, family::clamp>>>(p - t, d));
}
template <class P = policy::default_policy, expression A, expression B, class D>
    requires plain_number_mix<A, B, D>
constexpr auto huber(const A &p, const B &t, const D &d) {
    return huber<P>(p, t, as_expr(d));
}

} // namespace kink

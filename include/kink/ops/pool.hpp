#pragma once
/// \file
/// Pooling over the spatial positions of a [C, H, W] value.
///
/// max_pool2d<G, P>(x): y[c, i, j] = max of the window of G.kernel x G.kernel inputs starting at
/// (s i - p, s j - p); positions in the padding are not part of the window (PyTorch pads with
/// -inf). Its derivative is a kink wherever the window's maximum is tied among k > 1 inputs:
/// policy P (family max_pool) decides how the window's adjoint is shared among the k maxima,
/// numbered 1..k in scan order (rows, then columns):
///
///   first     all to maximum 1: PyTorch CPU and CUDA (`val > maxval`), TensorFlow, oneDNN, XLA;
///             the value of every preset
///   last      all to maximum k
///   split     1/k to each (the even split that Boustany, TMLR 2024, finds numerically stable)
///   mix<N, D> beta * split + (1 - beta) * first, beta = N / D
///   trap      throws kink_error at a tied window that is differentiated
///   runtime<Name>  the rule read at run time from the constant t in [-1, 1] (one program serves
///             every rule): t = 0 first, t = 1 split, t = -1 last, exactly (the same kernels);
///             0 < t < 1 mix with beta = t (t = N / D gives mix<N, D>'s bits); -1 < t < 0 the
///             convex combination (1 + t) first + (-t) last. Set it with
///             `program::constant<Name>(t)` (or the names in kink::ties); any other value is an
///             error there
///   count<P>  behaves as P; counts windows with a tie (hits), windows evaluated (evals), NaN
///             windows, and, in the backward pass, tied windows whose adjoint is nonzero (live)
///
/// A NaN in a window makes its maximum NaN and gives the whole adjoint to the last NaN, as
/// PyTorch's `(val > maxval) || isnan(val)` does.
///
/// avg_pool2d<G>(x): the window's sum divided by kernel^2, padding counted as zeros (PyTorch's
/// count_include_pad = true). global_avg_pool(x): [C, H, W] -> [C], the mean over positions.
/// Both are linear: no kink.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <kink/ops/conv.hpp>

namespace kink {

/// Window size, stride (0: the kernel size, PyTorch's default) and padding of a pooling op.
struct pool2d {
    std::size_t kernel = 2, stride = 0, padding = 0;
    constexpr std::size_t step() const { return stride == 0 ? kernel : stride; }
};

/// The values of a max_pool2d tie-rule constant (policy::runtime): `net.constant<"ties">(ties::split)`.
namespace ties {
inline constexpr double last = -1.0, first = 0.0, split = 1.0;
/// Whether t is a tie rule (a value in [-1, 1]; NaN is not).
constexpr bool valid(double t) { return t >= -1.0 && t <= 1.0; }
} // namespace ties

namespace detail {
/// The share of a window's adjoint that its r-th maximum (1-based, scan order) receives when
/// k > 1 inputs tie for the maximum, under concrete tie policy Q; t is the rule of a
/// policy::runtime (ignored by the others).
template <class Q, class T> T tie_share(std::size_t r, std::size_t k, double t) {
    if constexpr (is_runtime_v<Q>) {
        if (t >= 0.0) return static_cast<T>(t / double(k) + (r == 1 ? 1.0 - t : 0.0)); // mix, beta = t
        return static_cast<T>((r == 1 ? 1.0 + t : 0.0) + (r == k ? -t : 0.0));
    } else {
        constexpr tie_rule rule = policy_impl<Q>::tie;
        static_assert(rule.k != tie_rule::kind::none, "kink: max_pool2d: not a max_pool policy");
        if constexpr (rule.k == tie_rule::kind::trap)
            throw kink_error("kink: max_pool2d was differentiated at a window whose maximum is tied among " + std::to_string(k) +
                             " inputs (policy trap)");
        else return ::kink::tie_share<T>(rule, r, k);
    }
}

template <pool2d G> struct pool_rule {
    template <class... S> struct shape_rule {
        static constexpr bool ok = false;
        using type = void;
    };
    template <class X> struct shape_rule<X> {
        static constexpr bool ranks = X::rank == 3;
        static constexpr std::size_t OH = ranks ? window_extent(X::dims[ranks ? 1 : 0], G.kernel, G.step(), G.padding, 1) : 0,
                                     OW = ranks ? window_extent(X::dims[ranks ? 2 : 0], G.kernel, G.step(), G.padding, 1) : 0;
        static constexpr bool ok = ranks && OH > 0 && OW > 0 && 2 * G.padding <= G.kernel;
        using type = std::conditional_t<ok, shape<(ranks ? X::dims[0] : 0), OH, OW>, void>;
    };
};
} // namespace detail

namespace detail {
/// A pool's printed attributes: its kernel, and its stride and padding where they differ from
/// PyTorch's defaults (the kernel, 0).
inline std::string pool_attributes(std::size_t kernel, std::size_t step, std::size_t pad) {
    std::string a = "kernel=" + std::to_string(kernel);
    if (step != kernel) a += ", stride=" + std::to_string(step);
    if (pad != 0) a += ", padding=" + std::to_string(pad);
    return a;
}
} // namespace detail

/// max_pool2d with a Win x Win window, stride Step and padding Pad, and tie policy P; see the file comment.
template <class P, std::size_t Win, std::size_t Step, std::size_t Pad> struct max_pool2d_op {
    static constexpr pool2d G{Win, Step, Pad};
    KINK_TENSOR_OP("max_pool2d", "\\operatorname{maxpool}")
    static std::string attributes() { return detail::pool_attributes(Win, G.step(), Pad); }
    using policy = P;
    using family = ::kink::family::max_pool;
    template <class Q> using rebind = max_pool2d_op<resolve_t<Q, ::kink::family::max_pool>, Win, Step, Pad>;
    static constexpr pool2d geometry = G;
    /// The values of a policy::runtime tie rule (program::constant checks them).
    static constexpr bool accepts_constant(double t) { return ties::valid(t); }
    static constexpr std::string_view constant_domain = "a tie rule t in [-1, 1] (-1 last, 0 first, 1 split)";
    template <class... S> using shape_rule = typename detail::pool_rule<G>::template shape_rule<S...>;

    /// Printed per window w and input of the window: the window's adjoint times its share, 1 for
    /// a unique maximum, and at a tie among k maxima (the r-th in scan order) the policy's share.
    template <std::size_t K, class Node>
    static std::string vjp_latex(const std::string &g, const std::string *args, const std::string &) {
        using Q = strip_count_t<P>;
        std::string share;
        if constexpr (is_runtime_v<Q>) share = "\\operatorname{share}_{" + std::string(Q::constant::name()) + "}(r, k)";
        else share = tie_share_latex(policy_impl<Q>::tie);
        return "\\sum_{w \\ni \\cdot} " + g + "_{w} \\begin{cases} 1 & \\text{the unique maximum of window } w \\text{ of } " + args[0] +
               " \\\\ " + share + " & \\text{the } r\\text{-th of } k > 1 \\text{ tied maxima (tied window: policy " + policy_label<P>() +
               ")} \\\\ 0 & \\text{otherwise} \\end{cases}";
    }
};

/// avg_pool2d with a Win x Win window, stride Step and padding Pad (padding counted as zeros).
template <std::size_t Win, std::size_t Step, std::size_t Pad> struct avg_pool2d_op {
    static constexpr pool2d G{Win, Step, Pad};
    KINK_TENSOR_OP("avg_pool2d", "\\operatorname{avgpool}")
    static std::string attributes() { return detail::pool_attributes(Win, G.step(), Pad); }
    static constexpr pool2d geometry = G;
    template <class... S> using shape_rule = typename detail::pool_rule<G>::template shape_rule<S...>;
    template <std::size_t K, class Node>
    static std::string vjp_latex(const std::string &g, const std::string *, const std::string &) {
        return "\\frac{1}{" + std::to_string(G.kernel * G.kernel) + "} \\operatorname{spread}\\left(" + g + "\\right)";
    }
};

/// global_avg_pool(x): [C, H, W] -> [C], each channel's mean.
struct global_avg_pool_op {
    KINK_TENSOR_OP("global_avg_pool", "\\operatorname{gap}")
    template <class... S> struct shape_rule {
        static constexpr bool ok = false;
        using type = void;
    };
    template <class X> struct shape_rule<X> {
        static constexpr bool ok = X::rank == 3;
        using type = std::conditional_t<ok, shape<(X::rank == 3 ? X::dims[0] : 0)>, void>;
    };
    template <std::size_t K, class Node>
    static std::string vjp_latex(const std::string &g, const std::string *, const std::string &) {
        using S = shape_of_t<arg_t<0, Node>>;
        return "\\frac{" + g + "}{" + std::to_string(S::dims[1] * S::dims[2]) + "} \\mathbf{1}";
    }
};

/// `max_pool2d<pool2d{2}>(x)`: 2 x 2 windows, stride 2; ties follow policy P (family max_pool;
/// every preset gives `first`): `max_pool2d<pool2d{2}, policy::split>(x)`.
template <pool2d G, class P = policy::default_policy, expression X> constexpr auto max_pool2d(const X &x) {
    KINK_CHECK_POLICY(P, max_pool, "max_pool2d");
    static_assert(G.kernel >= 1, "kink: max_pool2d: the kernel must be at least 1");
    return make_node<max_pool2d_op<resolve_t<P, family::max_pool>, G.kernel, G.step(), G.padding>>(x);
}
/// `avg_pool2d<pool2d{2}>(x)`: the mean of each window (padding counted as zeros).
template <pool2d G, expression X> constexpr auto avg_pool2d(const X &x) {
    static_assert(G.kernel >= 1, "kink: avg_pool2d: the kernel must be at least 1");
    return make_node<avg_pool2d_op<G.kernel, G.step(), G.padding>>(x);
}
/// `global_avg_pool(x)`: the mean of each channel over its positions.
template <expression X> constexpr auto global_avg_pool(const X &x) { return make_node<global_avg_pool_op>(x); }

} // namespace kink

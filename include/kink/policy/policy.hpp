#pragma once
/// \file
/// Kink policy tags: which derivative a piecewise op reports where it has no derivative.
///
/// A piecewise op evaluates a `branch` for each partial: away from a kink it is the ordinary
/// derivative; at a kink it carries the two one-sided derivatives and the policy picks the value.
/// Policies are types, so `relu<policy::one>(x)` and `relu<policy::zero>(x)` are different graphs.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <kink/expr/expr.hpp>
#include <kink/expr/meta.hpp>

namespace kink {

/// Thrown when a `policy::trap` node is differentiated exactly at its kink.
struct kink_error : std::domain_error {
    using std::domain_error::domain_error;
};

/// What a piecewise op reports for one partial derivative at one point.
template <class T> struct branch {
    T value{};       ///< the derivative where it exists
    T left{}, right{}; ///< one-sided derivatives (meaningful when `at_kink`)
    bool at_kink = false;
    bool complement = false; ///< report 1 - (policy value): the bound arguments of clamp
    int kink_id = 0;         ///< which kink of the op (clamp: 0 = lower bound, 1 = upper)
    bool tie = false;        ///< a tie between two arguments (max/min): first/second apply
};
template <class T> constexpr branch<T> smooth_branch(T v) { return {v, v, v, false, false, 0, false}; }
template <class T> constexpr branch<T> kink_branch(T left, T right, int id = 0) {
    return {T(0), left, right, true, false, id, false};
}

/// What a policy needs to know of a kinked op, declared by the op's family (fits<P, F> reads it;
/// an op of the user's own declares a family of its own the same way):
///   kind   which answers apply at its kinks (below);
///   kinks  how many kinks each of its ops has (per_kink<P0, P1> fits ops with two).
enum class kink_kind : unsigned char {
    slope,    ///< one-sided derivatives differ: the value policies (zero, one, half, left, right), trap, runtime
    jump,     ///< a step (sign, step): the value policies and straight-through
    argument, ///< a tie between the arguments of an elementwise max or min: value policies, first, second
    entry,    ///< a tie among the k equal maxima of a vector: value policies, first, second (not runtime)
    window    ///< a tie among the k equal maxima of a max-pool window: the tie rules (first, last, split, mix), trap, runtime
};
/// The declaration a family derives from: `struct bent : kink::kinks_of<kink::kink_kind::slope> {};`.
template <kink_kind K, int N = 1> struct kinks_of {
    static constexpr kink_kind kind = K;
    static constexpr int kinks = N;
};

/// Op families: what a preset maps to a concrete policy, and what kinks their ops have.
namespace family {
struct relu : kinks_of<kink_kind::slope> {};
struct leaky_relu : kinks_of<kink_kind::slope> {};
struct relu6 : kinks_of<kink_kind::slope, 2> {};
struct hardtanh : kinks_of<kink_kind::slope, 2> {};
struct abs : kinks_of<kink_kind::slope> {};
struct sign : kinks_of<kink_kind::jump> {};
struct step : kinks_of<kink_kind::jump> {};
struct max : kinks_of<kink_kind::argument> {};      ///< elementwise max(a, b)
struct max_reduce : kinks_of<kink_kind::entry> {};  ///< max over a vector: ties among k entries
struct max_pool : kinks_of<kink_kind::window> {};   ///< a max-pooling window whose maximum is tied among k entries
struct min : kinks_of<kink_kind::argument> {};
struct clamp : kinks_of<kink_kind::slope, 2> {};
struct hardsigmoid : kinks_of<kink_kind::slope, 2> {};
struct hardswish : kinks_of<kink_kind::slope, 2> {};
struct elu : kinks_of<kink_kind::slope> {}; ///< elu with alpha != 1 (and celu, which has no kink)
struct selu : kinks_of<kink_kind::slope> {};
struct softshrink : kinks_of<kink_kind::slope, 2> {};
struct hardshrink : kinks_of<kink_kind::slope, 2> {};
struct threshold : kinks_of<kink_kind::slope> {};
} // namespace family
/// A family's declaration: kind and kinks (a family that declares neither: one change of slope).
template <class F> inline constexpr kink_kind kind_of_v = [] {
    if constexpr (requires { F::kind; }) return kink_kind(F::kind);
    else return kink_kind::slope;
}();
template <class F> inline constexpr int kinks_of_v = [] {
    if constexpr (requires { F::kinks; }) return int(F::kinks);
    else return 1;
}();

namespace policy {
/// 0 at the kink.
struct zero { static constexpr std::string_view name = "zero"; };
/// 1 at the kink.
struct one { static constexpr std::string_view name = "one"; };
/// Midpoint of the one-sided derivatives (relu: 1/2, abs: 0, max tie: 1/2 to each argument).
struct half { static constexpr std::string_view name = "half"; };
/// The left-sided derivative (relu: 0, leaky_relu: its slope).
struct left { static constexpr std::string_view name = "left"; };
/// The right-sided derivative (relu: 1).
struct right { static constexpr std::string_view name = "right"; };
/// Ties of max/min: everything to the first argument.
struct first { static constexpr std::string_view name = "first"; };
/// Ties of max/min: everything to the second argument.
struct second { static constexpr std::string_view name = "second"; };
/// Ties of a max-pool window: everything to the last maximum in scan order.
struct last { static constexpr std::string_view name = "last"; };
/// Ties of a max-pool window: 1/k to each of the k maxima (the even split, Boustany 2024).
struct split { static constexpr std::string_view name = "split"; };
/// Ties of a max-pool window: the convex combination beta * split + (1 - beta) * first with
/// beta = N / D (0 <= beta <= 1): a first maximum gets (1 - beta) + beta / k, the others beta / k.
template <std::int64_t N, std::int64_t D> struct mix {
    static_assert(D > 0 && N >= 0 && N <= D, "kink: policy::mix<N, D>: beta = N / D must lie in [0, 1]");
    static constexpr std::string_view name = "mix";
    static constexpr std::int64_t num = N, den = D;
};
/// Straight-through estimator for step and sign: derivative 1 everywhere (Bengio et al. 2013).
struct straight_through { static constexpr std::string_view name = "straight_through"; };
/// Clipped straight-through: derivative 1 on |x| <= 1, 0 elsewhere (the hardtanh proxy).
struct straight_through_clipped { static constexpr std::string_view name = "straight_through_clipped"; };
/// Differentiating at the kink throws `kink_error` naming the op.
struct trap { static constexpr std::string_view name = "trap"; };
/// The value at the kink is a runtime constant named `Name`, read when the derivative is
/// evaluated: one program serves every value (a study sweeps relu'(0) = c without recompiling).
/// The constant belongs to every expression holding such a node and starts at 0; set it with
/// `with_constant<Name>(f, c)` before evaluating or compiling, or on a compiled program with
/// `program::constant<Name>(c)`. With c = 0 or 1 it is exactly `zero` or `one` on every op (bound
/// arguments of clamp get 1 - c, as they get 1 - (policy value) from every policy); with c = 1/2 it
/// is `half` wherever the one-sided derivatives are 0 and 1: relu, relu6, hardtanh, max/min ties,
/// clamp bounds (half differs where they are not: abs gives 0, leaky_relu (a + 1)/2).
/// On max_pool2d the constant t in [-1, 1] is the tie rule: t = 0 is `first` (every preset's
/// rule), t = 1 `split`, t = -1 `last`, exactly; between 0 and 1 it is `mix` with beta = t, and
/// between -1 and 0 the convex combination (1 + t) first + (-t) last (ops/pool.hpp). Not for the
/// max over a vector.
template <fixed_string Name> struct runtime {
    static constexpr std::string_view name = "runtime";
    using constant = rconst_leaf<Name>;
};
/// One policy per kink of the op, in the op's kink order (kink 0 is the lowest point: hardswish's
/// -3, relu6's 0, clamp's lower bound): `per_kink<right, left>` takes the right-sided derivative at
/// hardswish's kink at -3 and the left-sided one at 3, the derivative of the middle piece at both
/// (PyTorch's hardswish). Each `P` is one of zero, one, half, left, right, trap.
template <class... P> struct per_kink {
    static_assert(sizeof...(P) > 0, "kink: policy::per_kink<P...>: name one policy per kink");
    static constexpr std::string_view name = "per_kink";
};
/// Behaves as `P`; the forward pass counts how often each node lands exactly on a kink.
template <class P> struct count { static constexpr std::string_view name = "count"; using inner = P; };

/// Presets: each reproduces a framework's derivative at every kink (see docs/site/guide-policies.md).
struct pytorch { static constexpr std::string_view name = "pytorch"; };
struct jax { static constexpr std::string_view name = "jax"; };
struct tensorflow { static constexpr std::string_view name = "tensorflow"; };

/// The documented default: PyTorch's values.
using default_policy = pytorch;
} // namespace policy

// ---------------------------------------------------------------------------------------------
// Resolving presets to concrete policies

template <class P, class F> struct resolve { using type = P; };
template <class P, class F> using resolve_t = typename resolve<P, F>::type;
template <class P, class F> struct resolve<policy::count<P>, F> { using type = policy::count<resolve_t<P, F>>; };

// PyTorch 1.13 (read off torch by calling backward at the point; tests/torch_check.py re-checks).
template <class F> struct resolve<policy::pytorch, F> { using type = policy::zero; };
template <> struct resolve<policy::pytorch, family::leaky_relu> { using type = policy::left; };
template <> struct resolve<policy::pytorch, family::clamp> { using type = policy::one; };
template <> struct resolve<policy::pytorch, family::max> { using type = policy::half; };
template <> struct resolve<policy::pytorch, family::max_reduce> { using type = policy::half; };
template <> struct resolve<policy::pytorch, family::min> { using type = policy::half; };
template <> struct resolve<policy::pytorch, family::step> { using type = policy::trap; };
// max_pool2d: the whole gradient to the first maximum in scan order (`val > maxval` in
// aten/src/ATen/native/cpu/MaxPoolKernel.cpp and the CUDA kernels; tests/torch_check.py).
template <> struct resolve<policy::pytorch, family::max_pool> { using type = policy::first; };
// The activations, from their backward kernels (aten/src/ATen/native/cpu/Activation.cpp) and read
// off torch by tests/torch_check.py: hardswish_backward takes the middle piece x/3 + 1/2 on
// [-3, 3] (so -1/2 at -3, 3/2 at 3); elu_backward the x <= 0 piece at 0 (alpha, and scale * alpha
// for selu); hardsigmoid, softshrink, hardshrink and threshold give 0 at their kinks (the default).
template <> struct resolve<policy::pytorch, family::hardswish> { using type = policy::per_kink<policy::right, policy::left>; };
template <> struct resolve<policy::pytorch, family::elu> { using type = policy::left; };
template <> struct resolve<policy::pytorch, family::selu> { using type = policy::left; };

// JAX: abs'(0) = 1, leaky_relu'(0) = 1, hardtanh 1 at both bounds, jnp.clip 1/2, ties 1/2
// (checked against JAX 0.10.2 by tests/preset_check.py; lax.clamp differs: 0 at a bound).
template <class F> struct resolve<policy::jax, F> { using type = policy::zero; };
template <> struct resolve<policy::jax, family::abs> { using type = policy::one; };
template <> struct resolve<policy::jax, family::leaky_relu> { using type = policy::right; };
template <> struct resolve<policy::jax, family::hardtanh> { using type = policy::one; };
template <> struct resolve<policy::jax, family::clamp> { using type = policy::half; };
template <> struct resolve<policy::jax, family::max> { using type = policy::half; };
template <> struct resolve<policy::jax, family::max_reduce> { using type = policy::half; };
template <> struct resolve<policy::jax, family::min> { using type = policy::half; };
// flax's max_pool is lax.reduce_window(max); its transpose (_reduce_window_chooser_jvp_rule,
// select_and_scatter_add with `ge`) gives the gradient to the first maximum of each window.
template <> struct resolve<policy::jax, family::max_pool> { using type = policy::first; };
// jax.nn.hard_swish is x * relu6(x + 3) / 6, so relu6'(0) = relu6'(6) = 0 gives the outer pieces:
// 0 at -3, 1 at 3. jax.nn.elu and selu are jnp.where(x > 0, ...): the x <= 0 piece at 0.
// hard_sigmoid is relu6(x + 3) / 6: 0 at both kinks. JAX has no softshrink, hardshrink or
// threshold (those rows keep the zero of the default).
template <> struct resolve<policy::jax, family::hardswish> { using type = policy::per_kink<policy::left, policy::right>; };
template <> struct resolve<policy::jax, family::elu> { using type = policy::left; };
template <> struct resolve<policy::jax, family::selu> { using type = policy::left; };

// TensorFlow: elementwise ties (tf.maximum, tf.minimum) all to the first argument, clip_by_value
// passes 1 at a bound (hardtanh is clip_by_value(x, -1, 1) there), leaky_relu'(0) = alpha, and
// trap at the step (tf.experimental.numpy.heaviside has no gradient). Checked against
// TensorFlow 2.21.0 by tests/preset_check.py.
template <class F> struct resolve<policy::tensorflow, F> { using type = policy::zero; };
template <> struct resolve<policy::tensorflow, family::leaky_relu> { using type = policy::left; };
template <> struct resolve<policy::tensorflow, family::hardtanh> { using type = policy::one; };
template <> struct resolve<policy::tensorflow, family::clamp> { using type = policy::one; };
template <> struct resolve<policy::tensorflow, family::max> { using type = policy::first; };
// reduce_max splits a tie evenly: _MinOrMaxGrad (python/ops/math_grad.py) divides the gradient
// by the number of entries equal to the maximum.
template <> struct resolve<policy::tensorflow, family::max_reduce> { using type = policy::half; };
template <> struct resolve<policy::tensorflow, family::min> { using type = policy::first; };
template <> struct resolve<policy::tensorflow, family::step> { using type = policy::trap; };
// tf.nn.max_pool's gradient (MaxPoolGrad, core/kernels/maxpooling_op.cc) routes to the argmax
// recorded by the forward scan, which keeps the first maximum (`>` comparison).
template <> struct resolve<policy::tensorflow, family::max_pool> { using type = policy::first; };
// Keras 3 on TensorFlow: hard_swish is x * relu6(x + 3) / 6 (0 at -3, 1 at 3, as JAX); elu with
// alpha != 1 takes the x <= 0 piece at 0 (alpha); tf.nn.selu's SeluGrad tests `features < 0`, so
// selu'(0) = scale, the right side; soft_shrink, hard_shrink and threshold are tf.where on strict
// comparisons, 0 at their kinks, as hard_sigmoid (relu6(x + 3) / 6).
template <> struct resolve<policy::tensorflow, family::hardswish> { using type = policy::per_kink<policy::left, policy::right>; };
template <> struct resolve<policy::tensorflow, family::elu> { using type = policy::left; };
template <> struct resolve<policy::tensorflow, family::selu> { using type = policy::right; };

// ---------------------------------------------------------------------------------------------
// What each concrete policy does: one struct per policy

/// A policy's answer at a kink of an elementwise piecewise op, as data: the derivative (choose)
/// and the printed formula (print/print.hpp) both read it, so neither branches on a policy.
struct kink_rule {
    enum class kind : unsigned char {
        value,    ///< the number num / den
        left,     ///< the left-sided derivative
        right,    ///< the right-sided derivative
        mean,     ///< the midpoint of the one-sided derivatives
        argument, ///< 1 for partial `arg`, 0 for the others (ties of max/min)
        trap,     ///< an error naming the op
        through,  ///< straight-through: 1 wherever |x| <= num / den (den 0: everywhere), 0 elsewhere,
                  ///< in place of the op's derivative (sign, step)
        none      ///< no elementwise answer (a tie rule only)
    };
    kind k = kind::none;
    std::int64_t num = 0, den = 1;
    std::size_t arg = 0;
};

/// A policy's answer at a tie among k equal maxima (max over a vector, a max-pool window): the
/// share of the adjoint that the r-th of them in scan order receives.
struct tie_rule {
    enum class kind : unsigned char {
        all,   ///< every tied entry num / den
        first, ///< all to the first
        last,  ///< all to the last
        split, ///< 1/k each
        mix,   ///< beta = num / den: beta / k each, plus 1 - beta to the first
        trap,  ///< an error naming the op
        none   ///< not a tie rule
    };
    kind k = kind::none;
    std::int64_t num = 0, den = 1;
};
/// The share of tie rule `t` for the r-th (1-based) of k tied maxima.
template <class T> constexpr T tie_share(const tie_rule &t, std::size_t r, std::size_t k) {
    using K = tie_rule::kind;
    switch (t.k) {
    case K::all: return static_cast<T>(t.num) / static_cast<T>(t.den);
    case K::first: return r == 1 ? T(1) : T(0);
    case K::last: return r == k ? T(1) : T(0);
    case K::split: return T(1) / static_cast<T>(k);
    case K::mix: {
        const double beta = double(t.num) / double(t.den);
        return static_cast<T>(beta / double(k) + (r == 1 ? 1.0 - beta : 0.0));
    }
    default: return T(0);
    }
}
/// The share as printed in a vector-Jacobian product (LaTeX), r and k as above.
inline std::string tie_share_latex(const tie_rule &t) {
    using K = tie_rule::kind;
    switch (t.k) {
    case K::all: return t.den == 1 ? std::to_string(t.num) : "\\tfrac{" + std::to_string(t.num) + "}{" + std::to_string(t.den) + "}";
    case K::first: return "[r = 1]";
    case K::last: return "[r = k]";
    case K::split: return "\\tfrac{1}{k}";
    case K::mix:
        return "\\tfrac{" + std::to_string(t.num) + "}{" + std::to_string(t.den) + " k} + \\tfrac{" + std::to_string(t.den - t.num) + "}{" +
               std::to_string(t.den) + "} [r = 1]";
    default: return "\\text{error}";
    }
}

/// The behaviour of concrete policy P, one specialisation per policy (presets resolve to these;
/// count, per_kink and runtime are combinators handled where they apply):
///   rule          its answer at an elementwise kink (kink_rule)
///   tie           its answer at a tie among equal maxima (tie_rule)
///   fits<F>       whether it applies to op family F
template <class P> struct policy_impl {
    static constexpr kink_rule rule{};
    static constexpr tie_rule tie{};
    template <class F> static constexpr bool fits = false;
};
namespace detail {
/// The families whose kinks are ties in a max-pool window, where only the tie rules apply.
template <class F> inline constexpr bool tie_family_v = kind_of_v<F> == kink_kind::window;
/// The value policies (zero, one, half, left, right, trap) fit every family but max_pool.
/// Of a max over a vector, a tie's entries get what a single entry gets from the one-sided
/// derivatives (left 0, right 1) or the policy's number; half splits the adjoint evenly.
template <kink_rule::kind K, std::int64_t N, tie_rule Tie> struct value_policy {
    static constexpr kink_rule rule{K, N, 1, 0};
    static constexpr tie_rule tie = Tie;
    template <class F> static constexpr bool fits = !tie_family_v<F>;
};
} // namespace detail
template <> struct policy_impl<policy::zero> : detail::value_policy<kink_rule::kind::value, 0, tie_rule{tie_rule::kind::all, 0, 1}> {};
template <> struct policy_impl<policy::one> : detail::value_policy<kink_rule::kind::value, 1, tie_rule{tie_rule::kind::all, 1, 1}> {};
template <> struct policy_impl<policy::half> : detail::value_policy<kink_rule::kind::mean, 0, tie_rule{tie_rule::kind::split}> {};
template <> struct policy_impl<policy::left> : detail::value_policy<kink_rule::kind::left, 0, tie_rule{tie_rule::kind::all, 0, 1}> {};
template <> struct policy_impl<policy::right> : detail::value_policy<kink_rule::kind::right, 0, tie_rule{tie_rule::kind::all, 1, 1}> {};
template <> struct policy_impl<policy::trap> {
    static constexpr kink_rule rule{kink_rule::kind::trap};
    static constexpr tie_rule tie{tie_rule::kind::trap};
    template <class F> static constexpr bool fits = true;
};
template <> struct policy_impl<policy::first> {
    static constexpr kink_rule rule{kink_rule::kind::argument, 0, 1, 0};
    static constexpr tie_rule tie{tie_rule::kind::first};
    template <class F> static constexpr bool fits = kind_of_v<F> == kink_kind::argument || kind_of_v<F> == kink_kind::entry ||
                                                    kind_of_v<F> == kink_kind::window;
};
template <> struct policy_impl<policy::second> {
    static constexpr kink_rule rule{kink_rule::kind::argument, 0, 1, 1};
    static constexpr tie_rule tie{tie_rule::kind::last};
    template <class F> static constexpr bool fits = kind_of_v<F> == kink_kind::argument || kind_of_v<F> == kink_kind::entry;
};
template <> struct policy_impl<policy::last> {
    static constexpr kink_rule rule{};
    static constexpr tie_rule tie{tie_rule::kind::last};
    template <class F> static constexpr bool fits = detail::tie_family_v<F>;
};
template <> struct policy_impl<policy::split> {
    static constexpr kink_rule rule{};
    static constexpr tie_rule tie{tie_rule::kind::split};
    template <class F> static constexpr bool fits = detail::tie_family_v<F>;
};
template <std::int64_t N, std::int64_t D> struct policy_impl<policy::mix<N, D>> {
    static constexpr kink_rule rule{};
    static constexpr tie_rule tie{tie_rule::kind::mix, N, D};
    template <class F> static constexpr bool fits = detail::tie_family_v<F>;
};
template <> struct policy_impl<policy::straight_through> {
    static constexpr kink_rule rule{kink_rule::kind::through, 0, 0};
    static constexpr tie_rule tie{};
    template <class F> static constexpr bool fits = kind_of_v<F> == kink_kind::jump;
};
template <> struct policy_impl<policy::straight_through_clipped> {
    static constexpr kink_rule rule{kink_rule::kind::through, 1, 1};
    static constexpr tie_rule tie{};
    template <class F> static constexpr bool fits = kind_of_v<F> == kink_kind::jump;
};

// ---------------------------------------------------------------------------------------------
// Which policies fit which op

template <class P> struct is_count : std::false_type {};
template <class P> struct is_count<policy::count<P>> : std::true_type {};
template <class P> inline constexpr bool is_count_v = is_count<P>::value;

template <class P> struct strip_count { using type = P; };
template <class P> struct strip_count<policy::count<P>> { using type = typename strip_count<P>::type; };
template <class P> using strip_count_t = typename strip_count<P>::type;

template <class P> inline constexpr bool is_straight_through_v =
    KINK_SAME(P, policy::straight_through) || KINK_SAME(P, policy::straight_through_clipped);

template <class P> struct is_mix : std::false_type {};
template <std::int64_t N, std::int64_t D> struct is_mix<policy::mix<N, D>> : std::true_type {};

template <class P> struct is_runtime : std::false_type {};
template <fixed_string N> struct is_runtime<policy::runtime<N>> : std::true_type {};
template <class P> inline constexpr bool is_runtime_v = is_runtime<P>::value;

template <class P> struct is_per_kink : std::false_type {};
template <class... P> struct is_per_kink<policy::per_kink<P...>> : std::true_type {};
template <class P> inline constexpr bool is_per_kink_v = is_per_kink<P>::value;

/// Families whose ops have more than one kink: where per_kink<P...> applies.
template <class F> inline constexpr bool has_kinks_v = kinks_of_v<F> > 1;

template <class P, class F> constexpr bool fits();
template <class P, class F> struct per_kink_fits : std::false_type {};
template <class... P, class F> struct per_kink_fits<policy::per_kink<P...>, F>
    : std::bool_constant<kinks_of_v<F> == int(sizeof...(P)) && sizeof...(P) == 2 &&
                         (meta::contains_v<P, policy::zero, policy::one, policy::half, policy::left, policy::right,
                                           policy::trap> && ...)> {};

template <class P, class F> constexpr bool fits() {
    using Q = strip_count_t<P>;
    if constexpr (is_per_kink_v<Q>)
        return per_kink_fits<Q, F>::value;
    else if constexpr (is_runtime_v<Q>)
        return kind_of_v<F> != kink_kind::entry;
    else
        return policy_impl<Q>::template fits<F>;
}

/// The policy's name as printed: "zero", "count<half>", "mix<1/2>".
template <class P> std::string policy_label() {
    if constexpr (is_count_v<P>) return "count<" + policy_label<typename P::inner>() + ">";
    else if constexpr (is_runtime_v<P>) return "runtime<" + std::string(P::constant::name()) + ">";
    else if constexpr (is_per_kink_v<P>) return [] <class... Q>(std::type_identity<policy::per_kink<Q...>>) {
        std::string s;
        ((s += (s.empty() ? "" : ", ") + policy_label<Q>()), ...);
        return "per_kink<" + s + ">";
    }(std::type_identity<P>{});
    else if constexpr (is_mix<P>::value) return "mix<" + std::to_string(P::num) + "/" + std::to_string(P::den) + ">";
    else return std::string(P::name);
}

template <class P> struct is_policy : std::false_type {};
#define KINK_POLICY_TAG(P) template <> struct is_policy<policy::P> : std::true_type {};
KINK_POLICY_TAG(zero)
KINK_POLICY_TAG(one)
KINK_POLICY_TAG(half)
KINK_POLICY_TAG(left)
KINK_POLICY_TAG(right)
KINK_POLICY_TAG(first)
KINK_POLICY_TAG(second)
KINK_POLICY_TAG(last)
KINK_POLICY_TAG(split)
KINK_POLICY_TAG(straight_through)
KINK_POLICY_TAG(straight_through_clipped)
KINK_POLICY_TAG(trap)
KINK_POLICY_TAG(pytorch)
KINK_POLICY_TAG(jax)
KINK_POLICY_TAG(tensorflow)
#undef KINK_POLICY_TAG
template <class P> struct is_policy<policy::count<P>> : is_policy<P> {};
template <std::int64_t N, std::int64_t D> struct is_policy<policy::mix<N, D>> : std::true_type {};
template <fixed_string N> struct is_policy<policy::runtime<N>> : std::true_type {};
template <class... P> struct is_policy<policy::per_kink<P...>> : std::bool_constant<(is_policy<P>::value && ...)> {};
template <class P> inline constexpr bool is_policy_v = is_policy<P>::value;

// ---------------------------------------------------------------------------------------------
// Choosing the value at a kink

/// The derivative a concrete policy `P` reports for partial `I` given the op's branch.
/// `op` names the op for the trap message.
template <class P, std::size_t I, class T> constexpr T choose(const branch<T> &b, std::string_view op) {
    using Q = strip_count_t<P>;
    if (!b.at_kink) return b.value;
    T v{};
    if constexpr (is_per_kink_v<Q>) {
        return [&]<class... R>(std::type_identity<policy::per_kink<R...>>) {
            int k = 0;
            T r{};
            ((k++ == b.kink_id ? void(r = choose<R, I>(b, op)) : void()), ...);
            return r;
        }(std::type_identity<Q>{});
    } else {
        constexpr kink_rule r = policy_impl<Q>::rule;
        using K = kink_rule::kind;
        static_assert(r.k != K::none, "kink: not a concrete kink policy");
        if constexpr (r.k == K::value) v = static_cast<T>(r.num) / static_cast<T>(r.den);
        else if constexpr (r.k == K::left) v = b.left;
        else if constexpr (r.k == K::right) v = b.right;
        else if constexpr (r.k == K::mean) v = (b.left + b.right) / T(2);
        else if constexpr (r.k == K::argument) v = I == r.arg ? T(1) : T(0);
        else throw kink_error("kink: " + std::string(op) + " was differentiated exactly at its kink (policy trap)");
    }
    return b.complement ? T(1) - v : v;
}

} // namespace kink

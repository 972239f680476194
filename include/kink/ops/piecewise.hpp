#pragma once
/// \file
/// The machinery shared by every piecewise op: the derivative node `dkink_op<Op, I>` (partial I of
/// a piecewise op, a piecewise-constant function of the op's arguments whose value at a kink the
/// op's policy chooses) and the case descriptions printers use to show every branch.

#include <cstdint>
#include <string_view>

#include <kink/ops/arith.hpp>
#include <kink/policy/policy.hpp>

namespace kink {

/// One side of a kink as printers see it: a rational, or symbolic text ("$1" is argument 1).
struct side_desc {
    std::int64_t num = 0, den = 1;
    std::string_view sym{};
};
/// One case of a piecewise derivative: `value if cond`. For a kink case the policy supplies the
/// value from the one-sided derivatives. "$k" in the texts stands for argument k.
struct case_desc {
    std::string_view value{};
    std::string_view cond{};
    bool kink = false;
    side_desc left{}, right{};
    bool complement = false;
    bool tie = false;
    int id = 0; ///< which kink of the op (the branch's kink_id): per_kink<P...> picks its policy by it
};
constexpr case_desc when(std::string_view value, std::string_view cond) { return {value, cond}; }
constexpr case_desc at_kink_case(std::string_view cond, side_desc l, side_desc r, int id = 0) {
    return {{}, cond, true, l, r, false, false, id};
}

/// The derivative of partial I of piecewise op `Op` with respect to argument J: 0 (a piecewise-
/// constant partial, relu's), unless Op gives `second<I, J, Self>`, the graph of that derivative
/// away from its kinks (hardswish, elu), where Self is the partial's node.
template <class Op, std::size_t I, std::size_t J, class Self> struct dkink_second { using type = zero_t; };
template <class Op, std::size_t I, std::size_t J, class Self>
    requires requires { typename Op::template second<I, J, Self>; }
struct dkink_second<Op, I, J, Self> { using type = typename Op::template second<I, J, Self>; };

/// Partial derivative I of piecewise op `Op`, evaluated from Op's own arguments.
template <class Op, std::size_t I> struct dkink_op {
    using primal = Op;
    using family = typename Op::family;
    using policy = typename Op::policy;
    static constexpr std::size_t index = I;
    static constexpr std::string_view name = Op::name, latex = Op::latex;
    static constexpr notation style = notation::piecewise;
    static constexpr int prec = 0;
    template <class T, class... U> static constexpr T eval(T a, U... rest) {
        using P = strip_count_t<typename Op::policy>;
        if constexpr (is_runtime_v<P>) { // the last argument is the kink value's runtime constant
            const T all[] = {a, static_cast<T>(rest)...};
            return [&]<std::size_t... J>(std::index_sequence<J...>) {
                return at_point(all[sizeof...(U)], all[J]...);
            }(std::make_index_sequence<sizeof...(U)>{});
        } else {
            return at_point(T(0), a, rest...);
        }
    }
    /// The partial at (a, rest...); `c` is the value at a kink under policy::runtime.
    template <class T, class... U> static constexpr T at_point([[maybe_unused]] T c, T a, U... rest) {
        using P = strip_count_t<typename Op::policy>;
        // A NaN argument is not a kink: the derivative is NaN (the first NaN argument, so the
        // gradient it enters is NaN too), and trap says NaN rather than "at its kink".
        const bool nan_arg = !(a == a) || (!(rest == rest) || ...);
        constexpr kink_rule rule = policy_impl<P>::rule;
        if constexpr (rule.k == kink_rule::kind::trap)
            if (nan_arg) throw kink_error("kink: " + std::string(Op::name) + " was differentiated at NaN (an argument is NaN; not a kink)");
        T nan = a;
        ((nan = (nan == nan && !(rest == rest)) ? static_cast<T>(rest) : nan), ...);
        T v;
        if constexpr (rule.k == kink_rule::kind::through) { // 1 in place of the derivative, within the bound
            if constexpr (rule.den == 0) v = T(1);
            else {
                const T bound = static_cast<T>(rule.num) / static_cast<T>(rule.den);
                v = (a <= bound && a >= -bound) ? T(1) : T(0);
            }
        } else if constexpr (is_runtime_v<P>) {
            const branch<T> b = Op::template d<I>(a, rest...);
            v = !b.at_kink ? b.value : b.complement ? T(1) - c : c;
        } else v = choose<P, I>(Op::template d<I>(a, rest...), Op::name);
        // The branch is computed for every argument and the NaN case selected last, without an
        // early return: the loops over a layer then compile to vector selects (g++ if-converts
        // this form, not a return from inside the NaN test).
        return nan_arg ? nan : v;
    }
    /// Zero wherever it exists for piecewise-constant partials; the op's `second` otherwise.
    template <std::size_t J, class Self> using partial = typename dkink_second<Op, I, J, Self>::type;
    template <class P> using rebind = dkink_op<typename Op::template rebind<P>, I>;
};

template <class Self> struct dkink_node;
template <class Op, class... A> struct dkink_node<node<Op, A...>> {
    template <std::size_t I> using type = node<dkink_op<Op, I>, A...>;
};
// policy::runtime: the kink value's constant is the derivative node's last argument.
template <class Op, class... A>
    requires is_runtime_v<strip_count_t<typename Op::policy>>
struct dkink_node<node<Op, A...>> {
    template <std::size_t I> using type = node<dkink_op<Op, I>, A..., typename strip_count_t<typename Op::policy>::constant>;
};
/// The graph of partial I of piecewise node `Self`.
template <std::size_t I, class Self> using dkink_t = typename dkink_node<Self>::template type<I>;

/// Common members of a piecewise op with policy P in family FAMILY (a type: a family of the
/// user's own derives from kinks_of, see policy/policy.hpp).
#define KINK_KINKED_OP(OP, NAME, LATEX, FAMILY)                                                      \
    using policy = P;                                                                               \
    using family = FAMILY;                                                                          \
    template <class Q> using rebind = OP<::kink::resolve_t<Q, FAMILY>>;                             \
    static constexpr std::string_view name = NAME, latex = LATEX;                                   \
    static constexpr ::kink::notation style = ::kink::notation::function;                           \
    static constexpr int prec = 5;                                                                  \
    template <std::size_t I, class Self> using partial = ::kink::dkink_t<I, Self>;
/// kink's own ops name their family in namespace kink::family.
#define KINK_PIECEWISE_OP(OP, NAME, LATEX, FAMILY) KINK_KINKED_OP(OP, NAME, LATEX, ::kink::family::FAMILY)

#define KINK_CHECK_KINK_POLICY(P, FAMILY, OPNAME)                                                    \
    static_assert(::kink::is_policy_v<P>, "kink: " OPNAME "<P>: P is not a kink policy tag (policy::zero, ...)"); \
    static_assert(!::kink::is_policy_v<P> || ::kink::fits<::kink::resolve_t<P, FAMILY>, FAMILY>(),   \
                  "kink: " OPNAME ": this policy does not fit " OPNAME                              \
                  " (straight_through fits only step and sign; first/second only max and min; max_pool2d takes " \
                  "first, last, split, mix<N, D>, runtime<Name> or trap; per_kink<P0, P1> only ops with two kinks; "   \
                  "runtime<Name> fits every op but the max " \
                  "of a vector)")
#define KINK_CHECK_POLICY(P, FAMILY, OPNAME) KINK_CHECK_KINK_POLICY(P, ::kink::family::FAMILY, OPNAME)

} // namespace kink

#pragma once
/// \file
/// `with_policy<P>(f)`: a compile-time rewrite of every piecewise node of `f` (and of derivative
/// nodes) to policy P, or, for a preset, to the preset's policy for that op.

#include <kink/expr/expr.hpp>
#include <kink/policy/policy.hpp>

namespace kink {

template <class Op, class = void> struct has_rebind : std::false_type {};
template <class Op>
struct has_rebind<Op, std::void_t<typename Op::template rebind<policy::zero>>> : std::true_type {};

template <class P, class Op, bool = has_rebind<Op>::value> struct rebind_op { using type = Op; };
template <class P, class Op> struct rebind_op<P, Op, true> {
    using type = typename Op::template rebind<P>;
    static_assert(fits<resolve_t<P, typename Op::family>, typename Op::family>(),
                  "kink: with_policy: the policy does not fit an op of this expression (straight_through "
                  "fits only step and sign; first/second only max and min)");
};

template <class P, class E> struct rewrite_policy { using type = E; };
template <class P, class Op, class... A> struct rewrite_policy<P, node<Op, A...>> {
    using type = node<typename rebind_op<P, Op>::type, typename rewrite_policy<P, A>::type...>;
};

/// Every piecewise node of `f` rewritten to policy `P` (a concrete policy or a preset).
template <class P, expression X> constexpr auto with_policy(const X &f) {
    static_assert(is_policy_v<P>, "kink: with_policy<P>: P is not a kink policy tag");
    using R = typename rewrite_policy<P, graph_t<X>>::type;
    return ex<R>{f.pool}; // same structure, so the same runtime constants in the same order
}

} // namespace kink

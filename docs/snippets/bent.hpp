#pragma once
// A kinked op of your own: bent(x) = x below 0 and 2 x above, a change of slope at 0 (left
// derivative 1, right 2). Its family declares what kind of kink it has; the op gives its value,
// where its kink is and the one-sided derivatives there (and their printed cases). Every policy
// then applies as it does to kink's own ops. (docs/snippets/own_kink.cpp uses it; so does the
// test suite, tests/test_user_op.cpp.)
#include <array>
#include <cstddef>

#include <kink/kink.hpp>

namespace my {

/// bent's family: one change of slope, so the value policies (zero, one, half, left, right),
/// trap, runtime<Name> and count<P> fit it.
struct bent_family : kink::kinks_of<kink::kink_kind::slope> {};

template <class P> struct bent_op {
    KINK_KINKED_OP(bent_op, "bent", "\\operatorname{bent}", bent_family)
    template <class T> static constexpr T eval(T x) { return x > T(0) ? T(2) * x : x; } // NaN stays NaN
    template <class T> static constexpr bool at_kink(T x) { return x == T(0); }
    template <class T> static constexpr T kink_distance(T x) { return x < T(0) ? -x : x; }
    template <std::size_t I, class T> static constexpr kink::branch<T> d(T x) {
        if (x > T(0)) return kink::smooth_branch(T(2));
        if (x < T(0)) return kink::smooth_branch(T(1));
        return kink::kink_branch(T(1), T(2)); // the one-sided derivatives: left 1, right 2
    }
    template <std::size_t I> static constexpr auto cases() {
        return std::array{kink::when("2", "$0 > 0"), kink::at_kink_case("$0 = 0", {1}, {2}), kink::when("1", "$0 < 0")};
    }
};

/// bent<P>(x); the default policy is PyTorch's preset, which gives 0 at a kink of a family it
/// does not know (specialise kink::resolve<kink::policy::pytorch, bent_family> to choose another).
template <class P = kink::policy::default_policy, kink::expression X> constexpr auto bent(const X &x) {
    KINK_CHECK_KINK_POLICY(P, bent_family, "bent");
    return kink::make_node<bent_op<kink::resolve_t<P, bent_family>>>(x);
}

} // namespace my

#pragma once
/// \file
/// Training and evaluation mode. A few ops behave differently while a network trains: a batch
/// statistic that keeps a running average (batch_norm's mean and variance) normalises with the
/// batch's statistics, dropout drops. Such an op declares `eval_arg`, the argument its node
/// stands for in evaluation mode (the running statistic; dropout's input), or `eval_node<A...>`,
/// the graph over its arguments A it stands for, and `eval_mode(f)` rewrites the graph at
/// compile time. The graph as written is training mode.

#include <cstddef>
#include <type_traits>

#include <kink/expr/expr.hpp>

namespace kink {

namespace detail {
/// The argument an op's node becomes in evaluation mode (an op that behaves differently in
/// training declares `eval_arg`: a tracked batch statistic its running statistic, dropout its
/// input); none for every other op.
template <class Op> constexpr std::size_t eval_arg_of() {
    if constexpr (requires { Op::eval_arg; }) return Op::eval_arg;
    else return detail::none;
}
/// What a node of op Op over arguments A (already in evaluation mode) becomes in evaluation
/// mode: the op's `eval_node<A...>` (a graph over the same arguments: batch_norm_stats's running
/// statistics), or its argument eval_arg, or the node itself.
template <class Op, class... A> struct eval_node_of {
    static constexpr std::size_t k = eval_arg_of<Op>();
    using type = typename std::conditional_t<(k < sizeof...(A)), meta::at<(k < sizeof...(A) ? k : 0), meta::list<A...>>,
                                             std::type_identity<node<Op, A...>>>::type;
};
template <class Op, class... A>
    requires requires { typename Op::template eval_node<A...>; }
struct eval_node_of<Op, A...> {
    using type = typename Op::template eval_node<A...>;
};
/// The graph in evaluation mode: every node of an op that declares an eval_node or an eval_arg
/// replaced by it.
template <class E> struct to_eval_mode {
    using type = E;
};
template <class Op, class... A> struct to_eval_mode<node<Op, A...>> {
    using type = typename eval_node_of<Op, typename to_eval_mode<A>::type...>::type;
};
/// Whether a graph has a node that behaves differently in training (an op with an eval_node or
/// an eval_arg).
template <class Op, class... A> constexpr bool trains_differently() {
    return eval_arg_of<Op>() != detail::none || requires { typename Op::template eval_node<A...>; };
}
template <class E> struct has_training_op : std::false_type {};
template <class Op, class... A>
struct has_training_op<node<Op, A...>> : std::bool_constant<trains_differently<Op, A...>() || (has_training_op<A>::value || ...)> {};
} // namespace detail

/// `eval_mode(f)`: f in evaluation mode, as PyTorch's model.eval(): every node of an op that
/// declares an `eval_node` or an `eval_arg` is replaced by it: every batch statistic that keeps
/// a running average (batch_norm's) by the running statistics, so each sample is normalised on
/// its own, and every dropout by its input. A compile-time rewrite; `f` itself is training mode.
template <expression X> constexpr auto eval_mode(const X &f) {
    using R = typename detail::to_eval_mode<graph_t<X>>::type;
    return detail::gather<ex<R>>(rconsts_t<R>{}, f);
}

} // namespace kink

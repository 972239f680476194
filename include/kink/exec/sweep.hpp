#pragma once
/// \file
/// The sweep of one chunk: what a worker runs between the program's scheduling points. Forward,
/// every node position of a phase in topological order (an elementwise node through the generic
/// loop, a tensor op through kernel<Op>, a node fused into its host's epilogue not at all);
/// backward, the zeroed adjoints, the loss's seed 1/B and the contributions in reverse order. All
/// static over a worker's state: the program (exec/program.hpp) schedules chunks on threads and
/// folds their gradients; this header only says what one chunk does.

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <utility>

#include <kink/exec/finite.hpp>
#include <kink/exec/kernel_ctx.hpp>
#include <kink/exec/kernels.hpp>
#include <kink/exec/state.hpp>

namespace kink::detail {

template <class T, class Key, exec_options O> struct chunk_sweep {
    using state = detail::state<T, Key, O>;
    using role = detail::role;
    using Root = typename state::Root;
    using topo = typename state::topo;
    using plan = typename state::plan;
    static constexpr std::size_t count = state::count;

    template <std::size_t I> static void write_constant(state &w) {
        using L = meta::node_at_t<I, topo>;
        if constexpr (is_lit_v<L>) w.val(I)[0] = L::template value<T>();
        else if constexpr (is_rconst_v<L>) w.val(I)[0] = static_cast<T>(w.pool_[meta::index_of<L, rconsts_t<Root>>::value]);
    }
    // Folds over the node positions call member templates, never a lambda per position: a lambda
    // inside a function over the pack 0, 1, ..., N - 1 carries the pack in its name.
    static void write_constants(state &w) {
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (void)std::initializer_list<int>{0, (write_constant<plan::constants.at[K]>(w), 0)...};
        }(std::make_index_sequence<plan::constants.size>{});
    }

    // -- the passes ----------------------------------------------------------------------------
    template <std::size_t I> static void node_forward(state &w) {
        if constexpr (!plan::fwd_work(I) || plan::fwd_host[I] != none) {
        } else if constexpr (plan::roles[I] == role::elementwise) {
            w.template ew_forward<I>(0, w.rows_of(I), 0, plan::size[I]);
        } else {
            auto c = node_call<state, I>::template make<false>(w);
            kernel<typename decltype(c)::op>::forward(c);
        }
    }
    template <std::size_t I> static void node_backward(state &w) {
        if constexpr (!plan::needs[I] || !plan::fwd_work(I) || plan::bwd_host[I] != none) {
        } else if constexpr (plan::roles[I] == role::elementwise) {
            w.template ew_backward<I>(0, w.rows_of(I), 0, plan::size[I]);
        } else {
            auto c = node_call<state, I>::template make<true>(w);
            kernel<typename decltype(c)::op>::backward(c);
        }
    }
    static void chunk_forward(state &w) { phase_forward<0>(w); }
    /// Forward phase P of worker w's chunk (the whole forward pass in a program without batch
    /// statistics).
    template <std::size_t P> static void phase_forward(state &w) {
        constexpr auto &t = plan::fwd_phases;
        if constexpr (O.check_finite) { // every node position of the phase, checked after it runs
            constexpr std::size_t lo = P == 0 ? 0 : plan::forward_runs.at[t.start[P]];
            constexpr std::size_t hi = P + 1 == t.n ? count : plan::forward_runs.at[t.start[P + 1]];
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                (void)std::initializer_list<int>{0, (node_forward<lo + I>(w), check_values<lo + I>(w), 0)...};
            }(std::make_index_sequence<hi - lo>{});
        } else {
            [&]<std::size_t... K>(std::index_sequence<K...>) {
                (void)std::initializer_list<int>{0, (node_forward<plan::forward_runs.at[t.start[P] + K]>(w), 0)...};
            }(std::make_index_sequence<t.start[P + 1] - t.start[P]>{});
        }
    }
    /// The backward pass of worker w's chunk, into w.grads_.
    template <std::size_t I> static void zero_adjoint(state &w) {
        if constexpr (plan::zeroed[I]) {
            T *d = w.dst(I);
            std::fill(d, d + plan::size[I] * w.rows_of(I), T(0));
        }
    }
    static void chunk_backward(state &w) { phase_backward<0>(w); }
    /// Backward phase Q of worker w's chunk (the whole backward pass without batch statistics).
    template <std::size_t Q> static void phase_backward(state &w) {
        constexpr auto &t = plan::bwd_phases;
        if constexpr (Q == 0) {
            [&]<std::size_t... K>(std::index_sequence<K...>) {
                (void)std::initializer_list<int>{0, (zero_adjoint<plan::zeroed_nodes.at[K]>(w), 0)...};
            }(std::make_index_sequence<plan::zeroed_nodes.size>{});
            constexpr std::size_t r = count - 1;
            if constexpr (plan::needs[r]) {
                T *g = w.adj(r);
                const T seed = plan::batched[r] ? T(1) / static_cast<T>(w.stride_) : T(1);
                for (std::size_t s = 0; s < w.rows_of(r); ++s) g[s] = seed;
            }
        }
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (void)std::initializer_list<int>{0, (node_backward<plan::backward_runs.at[t.start[Q] + K]>(w), 0)...};
        }(std::make_index_sequence<t.start[Q + 1] - t.start[Q]>{});
    }

    // -- the finite check (exec_options::check_finite) -----------------------------------------
    template <std::size_t I> static std::string node_label() {
        std::size_t k = 0;
        for (std::size_t i = 0; i <= I; ++i)
            k += !(plan::base[i] == role::param || plan::base[i] == role::input || plan::base[i] == role::label ||
                   plan::base[i] == role::constant || plan::base[i] == role::variable);
        return "node v" + std::to_string(k) + " (" + std::string(op_t<meta::node_at_t<I, topo>>::name) + ")";
    }
    /// Node I's values (a batch statistic's once combined: Combined).
    template <std::size_t I, bool Combined = false> static void check_values(state &w) {
        if constexpr (plan::has_value(I) && plan::roles[I] != role::constant && plan::barrier(I) == Combined) {
            const std::size_t n = plan::size[I] * w.rows_of(I);
            const T *v = w.val(I);
            if (const std::size_t i = detail::first_non_finite(v, n); i < n)
                detail::report_non_finite(node_label<I>(), v[i], i + (plan::batched[I] ? w.s0_ * plan::size[I] : 0), plan::size[I],
                                          plan::batched[I]);
        }
    }
};

} // namespace kink::detail

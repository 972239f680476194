#pragma once
/// \file
/// Kernels of the per-sample vector ops: reductions (sum, mean, max), the softmax family and
/// softmax cross-entropy. Each runs the op's own per-sample rule (ops/reduce.hpp, ops/loss.hpp)
/// over the rows of the batch.

#include <cstddef>

#include <kink/exec/eval.hpp>
#include <kink/exec/kernel.hpp>
#include <kink/ops/loss.hpp>
#include <kink/ops/reduce.hpp>

namespace kink {

namespace detail {
/// sum and mean: y = scale * sum(x); dx_j = g * scale.
template <class Op> struct reduction_kernel {
    template <class C> static void forward(C &c) {
        constexpr std::size_t n = shape_of_t<arg_t<0, typename C::node>>::size;
        const auto *x = c.template in<0>();
        auto *y = c.out();
        for (std::size_t s = 0; s < c.rows(); ++s) y[s] = Op::forward(x + s * n, n);
    }
    template <class C> static void backward(C &c) {
        using T = typename C::T;
        constexpr std::size_t n = shape_of_t<arg_t<0, typename C::node>>::size;
        if constexpr (C::template needs<0>) {
            const T *g = c.grad();
            T *d = c.template arg_grad<0>();
            for (std::size_t s = 0; s < c.rows(); ++s) {
                const T v = g[s] * Op::template backward_scale<T>(n);
                T *ds = d + s * n;
                for (std::size_t j = 0; j < n; ++j) ds[j] = C::template assign<0> ? v : ds[j] + v;
            }
        }
    }
};
/// softmax and log_softmax: y = f(x) per sample; dx from y and g.
template <class Op> struct softmax_kernel {
    template <class C> static void forward(C &c) {
        constexpr std::size_t n = shape_of_t<arg_t<0, typename C::node>>::size;
        const auto *x = c.template in<0>();
        auto *y = c.out();
        for (std::size_t s = 0; s < c.rows(); ++s) Op::forward(x + s * n, n, y + s * n);
    }
    template <class C> static void backward(C &c) {
        constexpr std::size_t n = shape_of_t<arg_t<0, typename C::node>>::size;
        if constexpr (C::template needs<0>) {
            const auto *y = c.out();
            const auto *g = c.grad();
            auto *d = c.template arg_grad<0>();
            for (std::size_t s = 0; s < c.rows(); ++s) Op::backward(y + s * n, g + s * n, n, d + s * n, C::template assign<0>);
        }
    }
};
} // namespace detail

template <> struct kernel<sum_op> : detail::reduction_kernel<sum_op> {};
template <> struct kernel<mean_op> : detail::reduction_kernel<mean_op> {};
template <> struct kernel<softmax_op> : detail::softmax_kernel<softmax_op> {};
template <> struct kernel<log_softmax_op> : detail::softmax_kernel<log_softmax_op> {};

template <class P> struct kernel<max_reduce_op<P>> {
    using Op = max_reduce_op<P>;
    template <class C> static void forward(C &c) {
        using Nd = typename C::node;
        constexpr std::size_t n = shape_of_t<arg_t<0, Nd>>::size;
        const auto *x = c.template in<0>();
        auto *y = c.out();
        for (std::size_t s = 0; s < c.rows(); ++s) {
            y[s] = Op::forward(x + s * n, n);
            if constexpr (C::counting) {
                ++*c.counts().evals;
                *c.counts().hits += Op::ties(x + s * n, n, y[s]) > 1;
                *c.counts().nans += y[s] != y[s];
            }
        }
    }
    template <class C> static void backward(C &c) {
        constexpr std::size_t n = shape_of_t<arg_t<0, typename C::node>>::size;
        if constexpr (C::template needs<0>) {
            const auto *x = c.template in<0>();
            const auto *y = c.out();
            const auto *g = c.grad();
            auto *d = c.template arg_grad<0>();
            for (std::size_t s = 0; s < c.rows(); ++s) Op::backward(x + s * n, n, y[s], g[s], d + s * n, C::template assign<0>);
        }
    }
};

template <> struct kernel<softmax_ce_op> {
    /// The softmax of each sample's logits, kept for the backward pass.
    template <class N> static constexpr std::size_t aux_size = shape_of_t<arg_t<0, N>>::size;
    template <class C> static void forward(C &c) {
        constexpr std::size_t n = shape_of_t<arg_t<0, typename C::node>>::size;
        const auto *z = c.template in<0>();
        const auto *y = c.template labels<1>();
        auto *out = c.out();
        auto *p = c.aux();
        for (std::size_t s = 0; s < c.rows(); ++s)
            out[s] = softmax_ce_op::forward(z + s * n, n, static_cast<std::size_t>(y[s]), p + s * n);
    }
    template <class C> static void backward(C &c) {
        constexpr std::size_t n = shape_of_t<arg_t<0, typename C::node>>::size;
        if constexpr (C::template needs<0>) {
            const auto *y = c.template labels<1>();
            const auto *p = c.aux();
            const auto *g = c.grad();
            auto *d = c.template arg_grad<0>();
            for (std::size_t s = 0; s < c.rows(); ++s)
                softmax_ce_op::backward(p + s * n, n, static_cast<std::size_t>(y[s]), g[s], d + s * n, C::template assign<0>);
        }
    }
};

} // namespace kink

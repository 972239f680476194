#pragma once
/// \file
/// The kernel of dropout (ops/dropout.hpp): the mask of each element regenerated from its
/// position in the batch, the program's seed and its step counter, forward and backward.

#include <cstddef>

#include <kink/exec/kernel.hpp>
#include <kink/ops/dropout.hpp>

namespace kink {

template <int Num, int Den, fixed_string Name> struct kernel<dropout_op<Num, Den, Name>> {
    using Op = dropout_op<Num, Den, Name>;
    template <class C> static void forward(C &c) {
        constexpr std::size_t n = shape_of_t<typename C::node>::size;
        Op::template apply<true>(c.template in<0>(), c.out(), c.rows(), n, Op::key(c.seed(), c.rng_step()), c.first_sample());
    }
    template <class C> static void backward(C &c) {
        constexpr std::size_t n = shape_of_t<typename C::node>::size;
        if constexpr (C::template needs<0>)
            Op::template apply<C::template assign<0>>(c.grad(), c.template arg_grad<0>(), c.rows(), n, Op::key(c.seed(), c.rng_step()),
                                                      c.first_sample());
    }
};

} // namespace kink

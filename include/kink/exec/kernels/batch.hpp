#pragma once
/// \file
/// Kernels of the batch statistics (ops/batch.hpp). A kernel that declares `batch_reduction`
/// runs in three parts (exec/kernel.hpp): `forward` adds its chunk's partial sums to
/// c.partial() (doubles, zero on entry), `finish` turns the sum of every chunk's partials, added
/// in chunk order by the program, into the value, and `backward` finds in c.grad() the whole
/// batch's adjoint of the statistic.

#include <cstddef>

#include <kink/exec/kernel.hpp>
#include <kink/ops/batch.hpp>

namespace kink {

template <class Track> struct kernel<batch_mean_op<Track>> {
    using Op = batch_mean_op<Track>;
    static constexpr bool batch_reduction = true;
    template <class C> using geometry = channel_geometry<shape_of_t<arg_t<0, typename C::node>>>;
    template <class C> static void forward(C &c) {
        using G = geometry<C>;
        Op::accumulate(c.template in<0>(), c.rows(), G::channels, G::positions, c.partial());
    }
    /// The value, and in a training step the running average (argument 1).
    template <class C> static void finish(C &c) {
        using G = geometry<C>;
        Op::finish(c.partial(), G::channels, c.batch() * G::positions, c.out());
        if constexpr (!KINK_SAME(Track, void))
            if (c.training()) Op::keep(c.partial(), G::channels, c.batch() * G::positions, c.template running<1>());
    }
    template <class C> static void backward(C &c) {
        using G = geometry<C>;
        if constexpr (C::template needs<0>)
            Op::backward(c.grad(), c.rows(), G::channels, G::positions, c.batch() * G::positions, c.template arg_grad<0>(),
                         C::template assign<0>);
    }
};

} // namespace kink

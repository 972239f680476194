#pragma once
/// \file
/// The open executor's customisation point: `kernel<Op>`, the forward and backward kernels of a
/// tensor op, found by the op's type (as Eigen finds `evaluator<Xpr>` and Hana `xxx_impl<Tag>`).
/// A compiled program plans storage, orders the sweep and calls `kernel<Op>::forward(c)` and
/// `kernel<Op>::backward(c)`; it never names an op. Elementwise ops need no kernel: one generic
/// loop evaluates every elementwise op's value rule and its `partial` graphs.
///
/// A kernel is a struct with
///
///     template <class C> static void forward(C &c);   // writes c.out() (and c.aux())
///     template <class C> static void backward(C &c);  // adds the products of c.grad() into
///                                                      // c.arg_grad<K>() for each K with c.needs<K>
///
/// and optionally declares what the plan needs to know (kernel_traits reads each with a default):
///
///     storage         own (default), alias (the value is the argument's storage: flatten) or
///                     strided (no storage: only an argument K a consumer `accepts_strided<K>`)
///     epilogue        true: the elementwise nodes right after this one run inside its forward
///                     tiles (c.epilogue(s0, s1, e0, e1) on finished rows s, elements e)
///     grad_epilogue   the argument whose adjoint this kernel completes tile by tile (the
///                     elementwise nodes before it then run inside c.grad_epilogue(...)); none
///     writes_whole    true: asked to assign (c.assign<K>), backward writes every element of an
///                     unbatched argument's adjoint (e.g. the first sample assigns, the rest add)
///     absorbs_bias    `this + b` with b an unbatched vector of this node's size is one node
///                     (the kernel sees c.bias())
///     aux_size<N>     values per sample kept from forward for backward (softmax_ce: softmax)
///     scratch_size<N> values of T the kernel needs per step, shared by all kernels
///     work_size<N, T>(n) values of gemm::work_t<T> for a batch of n (matrix-product packing)
///     weight_slot, bias_slot, fans<N>()  which arguments are weights and biases, and their
///                     fan-in and fan-out (for the initializers)
///     batch_reduction true: a batch statistic (an op with `reduces_batch`, ops/batch.hpp):
///                     forward(c) adds its chunk's partial sums to c.partial() (partial_size<N>
///                     doubles, default the node's size, zero on entry); the program adds the
///                     chunks' partials in chunk order and calls finish(c), which writes c.out()
///                     from the total in c.partial(); backward(c) sees the whole batch's adjoint
///                     in c.grad(). The program runs in phases around it (exec/program.hpp)
///     merge<N>(a, b)  for a batch reduction whose partials do not add (a count, a mean and a sum
///                     of squared deviations): a := the partials of a's samples followed by b's;
///                     the program then starts from chunk 0's partials and merges the others in
///                     chunk order instead of adding them
///     adds_once<K, T>(rows)  true: asked to add into argument K's (unbatched) adjoint for a chunk
///                     of at most `rows` samples, backward adds one complete partial sum to each
///                     element (d = d + p, p summed from zero), so adding straight into a
///                     gradient gives the bits of storing p and adding it later (see program.hpp)
///
/// The context `c` (a `detail::kernel_ctx`, exec/kernel_ctx.hpp) gives the kernel its node's data:
/// `c.in<K>()`, `c.out()`, `c.aux()`, `c.grad()`, `c.arg_grad<K>()`, `c.rows()` (the batch, or
/// 1), `c.assign<K>` (the first contribution to that adjoint: assign instead of add),
/// `c.continues<K>()` (run time: add even so, for kernels that declare adds_once),
/// `c.labels<K>()`, `c.batch()` (the whole batch), `c.partial()` (a batch statistic's partial
/// sums), `c.work()`, `c.scratch()`, `c.constant<C>()` (the value of the op's runtime
/// constant C), `c.counting` and `c.counts()` (the node's kink counters, when counting), the
/// compile-time `node` (the op over stand-ins of its arguments' shapes, `detail::shaped_leaf`),
/// and `c.hosts_epilogue` / `c.hosts_grad_epilogue` (whether any elementwise node runs in
/// c.epilogue / c.grad_epilogue: a kernel with none can pass gemm::no_epilogue, a type all such
/// products share). The context's type holds no position and no graph: every node of the same
/// op, shapes and placement calls one compiled kernel.

#include <array>
#include <cstddef>
#include <type_traits>

#include <kink/expr/expr.hpp>

namespace kink {

/// The kernels of tensor op Op (specialised per op family in exec/kernels/).
template <class Op> struct kernel;
/// Stands for "not a tensor op" (leaves and elementwise nodes) in the plan's tables.
template <> struct kernel<void> {};

/// How a node's values are stored.
enum class storage_kind : unsigned char {
    own,    ///< its own buffer in the program's arena
    alias,  ///< its argument's buffer, unchanged (a reshape)
    strided ///< its argument's buffer read with other strides (a transpose); only as an argument
            ///< that the consumer's kernel accepts strided
};

/// What a kernel declares, with the defaults of a kernel that declares nothing.
template <class Op> struct kernel_traits {
    using K = kernel<Op>;
    static constexpr storage_kind storage = [] {
        if constexpr (requires { K::storage; }) return K::storage;
        else return storage_kind::own;
    }();
    static constexpr bool epilogue = [] {
        if constexpr (requires { K::epilogue; }) return K::epilogue;
        else return false;
    }();
    static constexpr std::size_t grad_epilogue = [] {
        if constexpr (requires { K::grad_epilogue; }) return K::grad_epilogue;
        else return detail::none;
    }();
    static constexpr bool writes_whole = [] {
        if constexpr (requires { K::writes_whole; }) return K::writes_whole;
        else return false;
    }();
    static constexpr bool absorbs_bias = [] {
        if constexpr (requires { K::absorbs_bias; }) return K::absorbs_bias;
        else return false;
    }();
    static constexpr std::size_t weight_slot = [] {
        if constexpr (requires { K::weight_slot; }) return K::weight_slot;
        else return detail::none;
    }();
    static constexpr std::size_t bias_slot = [] {
        if constexpr (requires { K::bias_slot; }) return K::bias_slot;
        else return detail::none;
    }();
    static constexpr bool batch_reduction = [] {
        if constexpr (requires { K::batch_reduction; }) return K::batch_reduction;
        else return false;
    }();
    template <class N> static constexpr bool merges() {
        return requires(double *a) { K::template merge<N>(a, a); };
    }
    template <class N> static constexpr std::size_t partial_size() {
        if constexpr (!batch_reduction) return 0;
        else if constexpr (requires { K::template partial_size<N>; }) return K::template partial_size<N>;
        else return shape_of_t<N>::size;
    }
    template <std::size_t A> static constexpr bool accepts_strided() {
        if constexpr (requires { K::template accepts_strided<A>; }) return K::template accepts_strided<A>;
        else return false;
    }
    template <std::size_t A, class T> static constexpr bool adds_once(std::size_t rows) {
        if constexpr (requires { K::template adds_once<A, T>(rows); }) return K::template adds_once<A, T>(rows);
        else return false;
    }
    template <class N> static constexpr std::size_t aux_size() {
        if constexpr (requires { K::template aux_size<N>; }) return K::template aux_size<N>;
        else return 0;
    }
    template <class N> static constexpr std::size_t scratch_size() {
        if constexpr (requires { K::template scratch_size<N>; }) return K::template scratch_size<N>;
        else return 0;
    }
    template <class N, class T> static constexpr std::size_t work_size(std::size_t n) {
        if constexpr (requires { K::template work_size<N, T>(n); }) return K::template work_size<N, T>(n);
        else return 0;
    }
    /// {fan_in, fan_out} of the weight (and bias) of node N.
    template <class N> static constexpr std::array<std::size_t, 2> fans() {
        if constexpr (requires { K::template fans<N>(); }) return K::template fans<N>();
        else return {0, 0};
    }
};

/// Whether a tensor op has kernels (a complete kernel<Op>).
template <class Op> inline constexpr bool has_kernel_v = requires { sizeof(kernel<Op>); };

} // namespace kink

#pragma once
/// \file
/// Kernels of the matrix product `W * x` (and of `transpose(W)`, read as a strided matrix by the
/// product): the forward product with the bias and the elementwise nodes that follow in its
/// epilogue, the weight gradient, the bias gradient (column sums) and the input gradient, whose
/// epilogue runs the vector-Jacobian products of the elementwise nodes before it (the derivative
/// mask). All three products go through the one GEMM kernel (exec/gemm.hpp).

#include <algorithm>
#include <cstddef>

#include <kink/exec/gemm.hpp>
#include <kink/exec/kernel.hpp>
#include <kink/ops/arith.hpp>

namespace kink {

/// transpose(W): no storage; the product reads W with swapped strides.
template <> struct kernel<transpose_op> {
    static constexpr storage_kind storage = storage_kind::strided;
};

template <> struct kernel<matmul_op> {
    static constexpr bool epilogue = true;
    static constexpr std::size_t grad_epilogue = 1; // the input gradient completes x's adjoint
    static constexpr bool absorbs_bias = true;
    static constexpr bool writes_whole = true;
    static constexpr std::size_t weight_slot = 0;
    template <std::size_t K> static constexpr bool accepts_strided = K == 0;

    /// The product's output size m and input size k. A class named after the two numbers, not a
    /// member template over the node, whose instantiations g++ names after the node's whole graph.
    template <std::size_t M, std::size_t K> struct dims {
        static constexpr std::size_t m = M, k = K;
    };
    template <class N> using dims_of = dims<shape_of_t<N>::size, shape_of_t<arg_t<1, N>>::size>;
    template <class N> static constexpr std::array<std::size_t, 2> fans() { return {dims_of<N>::k, dims_of<N>::m}; }
    /// Workspace of the three products for a batch of n.
    template <class N, class T> static constexpr std::size_t work_size(std::size_t n) {
        constexpr std::size_t M = dims_of<N>::m, K = dims_of<N>::k;
        if constexpr (is_narrow_v<T>) {
            const std::size_t r = batched_v<N> ? n : 1;
            return std::max({gemm::narrow_workspace(r, M, K), gemm::narrow_workspace(M, K, r), gemm::narrow_workspace(K, M, r),
                             gemm::narrow_workspace(r, K, M)}) +
                   64 + M;
        } else {
            return gemm::workspace<T>(std::max({M, K, n}));
        }
    }
    /// The weight gradient of a chunk of at most kc_block samples is one k-block of the GEMM: its
    /// sums start from zero in registers and are added to the gradient once (gemm::micro).
    template <std::size_t A, class T> static constexpr bool adds_once(std::size_t rows) {
        return A == 0 && !is_narrow_v<T> && rows <= gemm::kc_block;
    }
    /// Products of at most 1024 weights run their epilogue after the product, tile by tile in the
    /// product's order, compiled into this kernel (gemm::run's `After`); larger ones call it from
    /// inside the product through a gemm::epilogue_ref, on each tile while it is in cache. Either
    /// way all products of a program, and of every program in a translation unit, share one GEMM
    /// per (type, contraction, tile width, layout): a GEMM compiled per product with its epilogue
    /// inside made up 60% of the code of the program tests (327 of them in one test file).
    static constexpr bool epilogue_after(std::size_t m, std::size_t k) { return m * k <= 1024; }

    template <class C> static gemm::view<typename C::T> matrix(C &c) {
        using N = typename C::node;
        if constexpr (C::template arg_strided<0>) return {c.template in<0>(), 1, dims_of<N>::m}; // W = A^T, A is k x m
        else return {c.template in<0>(), dims_of<N>::k, 1};
    }

    template <class C> static void forward(C &c) {
        using N = typename C::node;
        using T = typename C::T;
        using Vec = gemm::view<T>;
        constexpr std::size_t M = dims_of<N>::m, K = dims_of<N>::k;
        static_assert(shape_of_t<arg_t<1, N>>::rank == 1, "kink: compile: a matrix product takes a vector on the right (W * x)");
        static_assert(!C::template arg_batched<0>, "kink: compile: the matrix of a product must not be batched");
        const Vec w = matrix(c);
        T *out = c.out();
        const T *bias = c.bias();
        const auto bias_and_epilogue = [&](std::size_t s0, std::size_t rows, std::size_t j0, std::size_t cols) {
            if (C::affine && !C::bias_first) {
                T *__restrict o = out;
                const T *__restrict bb = bias;
                for (std::size_t s = s0; s < s0 + rows; ++s)
                    for (std::size_t j = j0; j < j0 + cols; ++j) o[s * M + j] += bb[j];
            }
            c.epilogue(s0, s0 + rows, j0, j0 + cols);
        };
        const auto run = [&](auto epi) {
            gemm::run<T, C::options.fma, epilogue_after(M, K), gemm::extents<0, M, K>>(c.rows(), M, K, Vec{c.template in<1>(), K, 1}, Vec{w.p, w.cs, w.rs}, out,
                                                             M, false, C::bias_first ? bias : nullptr, c.work(), epi);
        };
        if constexpr ((C::affine && !C::bias_first) || C::hosts_epilogue) run(bias_and_epilogue);
        else run(gemm::no_epilogue{});
    }

    template <class C> static void backward(C &c) {
        using N = typename C::node;
        using T = typename C::T;
        using Vec = gemm::view<T>;
        constexpr std::size_t M = dims_of<N>::m, K = dims_of<N>::k;
        const T *g = c.grad();
        const std::size_t rows = c.rows();
        if constexpr (C::needs_bias) {
            T *__restrict db = c.bias_grad();
            const T *__restrict gs = g;
            if constexpr (C::assign_bias) std::fill(db, db + M, T(0));
            if constexpr (is_narrow_v<T>) { // column sums in float, rounded once
                float *acc = c.work();
                for (std::size_t j = 0; j < M; ++j) acc[j] = static_cast<float>(db[j]);
                for (std::size_t s = 0; s < rows; ++s)
                    for (std::size_t j = 0; j < M; ++j) acc[j] += static_cast<float>(gs[s * M + j]);
                for (std::size_t j = 0; j < M; ++j) db[j] = T(acc[j]);
            } else {
                constexpr std::size_t L = gemm::lanes<T>, mv = M / L * L;
                using V = gemm::vec_t<T>;
                for (std::size_t j = 0; j < mv; j += L) { // column sums, one vector of columns at a time
                    V acc = gemm::load<V>(db + j);
                    for (std::size_t s = 0; s < rows; ++s) acc += gemm::load<V>(gs + s * M + j);
                    gemm::store<V>(db + j, acc);
                }
                for (std::size_t s = 0; s < rows; ++s)
                    for (std::size_t j = mv; j < M; ++j) db[j] += gs[s * M + j];
            }
        }
        if constexpr (C::template needs<0>) {
            const bool acc = !C::template assign<0> || c.template continues<0>();
            if constexpr (C::template arg_strided<0>) // A (k x m) += X^T G
                gemm::run<T, C::options.fma, epilogue_after(M, K), gemm::extents<K, M, 0>>(K, M, rows, Vec{c.template in<1>(), 1, K}, Vec{g, M, 1},
                                                                 c.template arg_grad<0>(), M, acc, nullptr, c.work(), gemm::no_epilogue{});
            else // W (m x k) += G^T X
                gemm::run<T, C::options.fma, epilogue_after(M, K), gemm::extents<M, K, 0>>(M, K, rows, Vec{g, 1, M}, Vec{c.template in<1>(), K, 1},
                                                                 c.template arg_grad<0>(), K, acc, nullptr, c.work(), gemm::no_epilogue{});
        }
        if constexpr (C::template needs<1>) { // dX += G W
            constexpr bool acc = !C::template assign<1>;
            const auto grad_epilogue_rows = [&](std::size_t s0, std::size_t r, std::size_t j0, std::size_t cols) {
                c.grad_epilogue(s0, s0 + r, j0, j0 + cols);
            };
            const auto run = [&](auto epi) {
                gemm::run<T, C::options.fma, epilogue_after(M, K), gemm::extents<0, K, M>>(rows, K, M, Vec{g, M, 1}, matrix(c), c.template arg_grad<1>(), K, acc,
                                                                 nullptr, c.work(), epi);
            };
            if constexpr (C::hosts_grad_epilogue) run(grad_epilogue_rows);
            else run(gemm::no_epilogue{});
        }
    }
};

} // namespace kink

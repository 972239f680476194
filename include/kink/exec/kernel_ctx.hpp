#pragma once
/// \file
/// What a kernel sees of its node (`kernel_ctx`) and how a program fills it (`node_call`): the
/// node's values, adjoints and arguments, addressed as the plan laid them out, in a type that
/// holds no position and no graph, so that every node of one op, shapes and placement, in every
/// block of a network and every program of a translation unit, calls one compiled kernel.

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <kink/exec/state.hpp>

namespace kink {
namespace detail {

/// What a kernel knows of its node at compile time besides the node's op and shapes: how the
/// plan placed it (exec/kernel.hpp lists what each flag means). A value, so that every node of
/// the same op, shapes and placement, in every block and every program, has one kernel_ctx type.
template <std::size_t A> struct call_facts {
    bool affine = false, batched = false, needs_bias = false, assign_bias = false;
    bool hosts_epilogue = false, hosts_grad_epilogue = false, counting = false;
    std::array<bool, A> needs{}, assign{}, arg_batched{}, arg_strided{};
};

/// What a kernel sees (exec/kernel.hpp lists the members): its node's op and argument shapes as
/// a shallow node (arguments replaced by shaped leaves), the facts F of its place in the plan,
/// and, at run time, pointers to its values, adjoints and arguments. No position and no graph is
/// in its type: a kernel is compiled once per (scalar type, op, shapes, options, facts), however
/// many nodes and programs call it. For an affine node, the op and arguments are those of its
/// product, and bias() is the added vector.
template <class Scalar, class Node, exec_options O, auto F> struct kernel_ctx {
    using T = Scalar;
    using node = Node;
    using op = op_t<Node>;
    static constexpr exec_options options = O;
    static constexpr std::size_t arity = F.needs.size();
    static constexpr bool counting = F.counting;
    static constexpr bool affine = F.affine;
    static constexpr bool batched = F.batched;
    template <std::size_t K> static constexpr bool needs = F.needs[K];
    template <std::size_t K> static constexpr bool assign = F.assign[K];
    template <std::size_t K> static constexpr bool arg_batched = F.arg_batched[K];
    template <std::size_t K> static constexpr bool arg_strided = F.arg_strided[K];
    static constexpr bool needs_bias = F.needs_bias;
    static constexpr bool assign_bias = F.assign_bias;
    static constexpr bool bias_first = F.affine && O.bias == bias_at::start;
    /// Whether elementwise nodes run in this kernel's forward epilogue (grad epilogue): a kernel
    /// without any passes gemm::no_epilogue, whose kernels every such product shares.
    static constexpr bool hosts_epilogue = F.hosts_epilogue;
    static constexpr bool hosts_grad_epilogue = F.hosts_grad_epilogue;
    using rconsts = typename op_rconsts<op>::type;
    using fused_fn = void (*)(void *, std::size_t, std::size_t, std::size_t, std::size_t);

    std::size_t rows_ = 0, batch_ = 0, first_ = 0;
    std::uint64_t seed_ = 0, rng_step_ = 0;
    double *partial_ = nullptr;
    bool training_ = false;
    std::array<const T *, arity + 1> in_{};
    std::array<T *, arity + 1> arg_grad_{};
    std::array<const std::int32_t *, arity + 1> labels_{};
    std::array<bool, arity + 1> continues_{};
    T *out_ = nullptr, *aux_ = nullptr, *bias_grad_ = nullptr, *scratch_ = nullptr;
    const T *grad_ = nullptr, *bias_ = nullptr;
    gemm::work_t<T> *work_ = nullptr;
    std::array<double, rconsts::size + 1> constants_{};
    kink_cells counts_{};
    void *state_ = nullptr;
    fused_fn epilogue_ = nullptr, grad_epilogue_ = nullptr;

    std::size_t rows() const { return rows_; }
    /// The whole batch (rows() is the chunk's part of it), and the index in it of row 0.
    std::size_t batch() const { return batch_; }
    std::size_t first_sample() const { return first_; }
    /// The program's random seed and step counter (program::seed, program::rng_step): with a
    /// sample's index, all a counter-based random draw (dropout's mask) depends on.
    std::uint64_t seed() const { return seed_; }
    std::uint64_t rng_step() const { return rng_step_; }
    /// A batch statistic's partial sums (exec/kernel.hpp: batch_reduction).
    double *partial() const { return partial_; }
    /// In a batch statistic's finish: whether this is a training step (program::step), whose
    /// statistics update their running averages; evaluations (forward, compile_forward) do not.
    bool training() const { return training_; }
    /// Argument K, a running statistic (a `running` leaf), for its op to update in a training
    /// step: the step takes the parameter store non-const for a program that has one.
    template <std::size_t K> T *running() const {
        return const_cast<T *>(in_[K]);
    }
    template <std::size_t K> const T *in() const { return in_[K]; }
    T *out() const { return out_; }
    T *aux() const { return aux_; }
    const T *grad() const { return grad_; }
    template <std::size_t K> T *arg_grad() const { return arg_grad_[K]; }
    const T *bias() const { return bias_; }
    T *bias_grad() const { return bias_grad_; }
    template <std::size_t K> const std::int32_t *labels() const { return labels_[K]; }
    /// Whether argument K's adjoint already holds earlier chunks' sums, so that a kernel asked to
    /// assign it (assign<K>) must add instead; only for kernels that declare adds_once.
    template <std::size_t K> bool continues() const { return continues_[K]; }
    /// The value of runtime constant C of the op (a policy::runtime kink value or rule).
    template <class C> double constant() const { return constants_[meta::index_of<C, rconsts>::value]; }
    /// The node's kink counters (when counting), on the calling thread.
    const kink_cells &counts() const { return counts_; }
    gemm::work_t<T> *work() const { return work_; }
    T *scratch() const { return scratch_; }
    /// Runs the elementwise nodes fused after this one on rows [s0, s1), elements [e0, e1).
    void epilogue(std::size_t s0, std::size_t s1, std::size_t e0, std::size_t e1) const {
        if constexpr (hosts_epilogue) epilogue_(state_, s0, s1, e0, e1);
    }
    /// Runs the elementwise vector-Jacobian products fused into this node's grad epilogue.
    void grad_epilogue(std::size_t s0, std::size_t s1, std::size_t e0, std::size_t e1) const {
        if constexpr (hosts_grad_epilogue) grad_epilogue_(state_, s0, s1, e0, e1);
    }
};

/// Node I's kernel call: its kernel_ctx type, and the context of a forward or backward pass
/// filled from the state of the calling thread (only what that pass and the node use).
template <class S, std::size_t I> struct node_call {
    using plan = typename S::plan;
    using T = std::remove_cvref_t<decltype(*std::declval<S &>().fwd_)>;
    static constexpr std::size_t op_index = plan::op_node(I), arity = plan::nargs[op_index];
    using node = meta::node_at_t<op_index, typename S::topo>;
    static constexpr bool affine = plan::roles[I] == role::affine;
    static constexpr call_facts<arity> facts = [] {
        call_facts<arity> f;
        f.affine = affine;
        f.batched = plan::batched[I];
        f.needs_bias = affine && plan::needs[plan::bias_of(affine ? I : 0)];
        f.assign_bias = affine && plan::assigns(I, plan::bias_slot);
        f.hosts_epilogue = plan::fwd_hosted.size(I) != 0;
        f.hosts_grad_epilogue = plan::bwd_hosted.size(I) != 0;
        f.counting = is_counted<node>::value;
        for (std::size_t k = 0; k != arity; ++k) {
            const std::size_t a = plan::args[op_index][k];
            f.needs[k] = plan::needs[a];
            f.assign[k] = plan::assigns(I, k);
            f.arg_batched[k] = plan::batched[a];
            f.arg_strided[k] = plan::roles[a] == role::strided;
        }
        return f;
    }();
    using ctx = kernel_ctx<T, shallow_t<node>, S::options, facts>;

    static void fused_forward(void *s, std::size_t s0, std::size_t s1, std::size_t e0, std::size_t e1) {
        static_cast<S *>(s)->template fused_forward<I>(s0, s1, e0, e1);
    }
    static void fused_backward(void *s, std::size_t s0, std::size_t s1, std::size_t e0, std::size_t e1) {
        static_cast<S *>(s)->template fused_backward<I>(s0, s1, e0, e1);
    }
    /// The pool positions of the op's runtime constants, in the op's order.
    template <class... C> static constexpr std::array<std::size_t, sizeof...(C) + 1> constant_slots(meta::list<C...>) {
        return {meta::index_of<C, rconsts_t<typename S::root>>::value..., 0};
    }
    /// The context of pass `backward` (false: forward).
    template <bool backward> static ctx make(S &s) {
        ctx c;
        c.rows_ = plan::barrier(I) ? s.n_ : s.rows_of(I); // a batch statistic reads its chunk's rows
        c.batch_ = s.stride_;
        c.first_ = s.s0_;
        c.seed_ = s.seed_;
        c.rng_step_ = s.rng_step_;
        if constexpr (plan::partial_size[op_index] != 0) c.partial_ = s.partial_ + plan::partial_off[I];
        for (std::size_t k = 0; k != arity; ++k) {
            const std::size_t a = plan::args[op_index][k];
            if (plan::roles[a] == role::label) c.labels_[k] = s.labels(a);
            else c.in_[k] = s.src(a);
            if (backward && plan::needs[a]) {
                c.arg_grad_[k] = s.dst(a);
                c.continues_[k] = S::direct_dest[plan::dest_of(a)] && s.continuing_;
            }
        }
        c.out_ = s.val(I);
        if constexpr (plan::aux_size[op_index] != 0) c.aux_ = s.aux(I);
        if constexpr (affine) {
            c.bias_ = s.src(plan::bias_of(I));
            if constexpr (backward && facts.needs_bias) c.bias_grad_ = s.dst(plan::bias_of(I));
        }
        if constexpr (backward) c.grad_ = s.adj(I);
        c.work_ = s.work_.data();
        c.scratch_ = s.scratch_.data();
        constexpr auto constants = constant_slots(typename ctx::rconsts{});
        for (std::size_t k = 0; k + 1 != constants.size(); ++k) c.constants_[k] = s.constant_at(constants[k]);
        if constexpr (facts.counting) c.counts_ = kink_cells::of<node>();
        c.state_ = &s;
        if constexpr (!backward && facts.hosts_epilogue) c.epilogue_ = &fused_forward;
        if constexpr (backward && facts.hosts_grad_epilogue) c.grad_epilogue_ = &fused_backward;
        return c;
    }
};

} // namespace detail
} // namespace kink

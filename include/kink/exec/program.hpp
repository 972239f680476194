#pragma once
/// \file
/// The compiled program of a tensor expression (exec/compile.hpp makes one: `compile(loss)`,
/// `compile_forward(z)`): its API, the binding of a batch (exec/bind.hpp checks it), chunk
/// scheduling on the program's threads with the fixed-order fold of the chunks' gradients, and
/// the phases of a program with batch statistics. What one chunk runs is exec/sweep.hpp.
///
/// The program is the open executor's driver: it binds inputs, points at the parameters, and
/// runs the sweep the plan (exec/plan.hpp) ordered, calling for each node either the generic
/// elementwise loop or its op's kernel (`kernel<Op>`, exec/kernel.hpp), with a `kernel_ctx`
/// addressing the node's storage (exec/kernel_ctx.hpp). It names no op: adding a tensor op adds its
/// ops/ header and its kernel header, and no branch here. Elementwise local derivatives are the
/// ops' own `partial` graphs (policies included), evaluated from the values the forward pass
/// stored; nothing is recomputed.
///
/// A step splits the batch into chunks of `exec_options::chunk` samples and runs each chunk's
/// forward and backward passes back to back (its values are still in cache for the backward
/// pass); the program's threads (`threads(n)`) take whole chunks, and each parameter gradient is
/// the sum of the chunks' gradients in chunk order. So the result is the same, bit for bit, for
/// every number of threads.
///
/// A program with batch statistics (batch_mean: a value formed from every sample of the batch)
/// runs in phases instead (exec/plan.hpp says where the sweeps are cut): each phase over all
/// chunks, the statistics' partial sums added in chunk order between phases, each chunk's
/// gradient in a slot of its own; the last forward phase and the first backward phase still run
/// back to back per chunk. The same bits for every number of threads, as above.
///
/// After `reserve(batch)` (or the first step at that batch size) a step allocates nothing.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <cstdio>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <kink/exec/finite.hpp>
#include <kink/exec/fold.hpp>
#include <kink/exec/kernels.hpp>
#include <kink/exec/kernel_ctx.hpp>
#include <kink/exec/bind.hpp>
#include <kink/exec/state.hpp>
#include <kink/exec/sweep.hpp>
#include <kink/exec/team.hpp>

namespace kink {

/// A program's storage did not fit: a std::bad_alloc whose what() says what the batch and the
/// threads need (program::reserve, program::threads).
class out_of_memory : public std::bad_alloc {
  public:
    explicit out_of_memory(std::string what) : what_(std::move(what)) {}
    const char *what() const noexcept override { return what_.c_str(); }

  private:
    std::string what_;
};

namespace detail {
/// What out_of_memory says a batch of n on t threads needs. Not a member of the program: it
/// depends on no graph, so it is compiled once per translation unit, not once per program.
inline std::string memory_text(std::size_t n, std::size_t t, std::size_t per_sample, std::size_t per_thread) {
    auto size = [](double b) {
        const char *unit[] = {"bytes", "KB", "MB", "GB", "TB"};
        int u = 0;
        while (b >= 1000 && u < 4) b /= 1000, ++u;
        char s[32];
        std::snprintf(s, sizeof s, u ? "%.3g %s" : "%.0f %s", b, unit[u]);
        return std::string(s);
    };
    return "kink: program: a batch of " + std::to_string(n) + " samples on " + std::to_string(t) + " thread" + (t == 1 ? "" : "s") +
           " needs about " + size(double(n) * double(per_sample) + double(t) * double(per_thread)) + " (" + size(double(per_sample)) +
           " per sample, " + size(double(per_thread)) + " per thread), more than this process could allocate: use a smaller batch or fewer threads";
}
} // namespace detail

template <class T, class Key, exec_options O> class program : private detail::state<T, Key, O> {
    using state = detail::state<T, Key, O>;
    using sweep = detail::chunk_sweep<T, Key, O>;
    using role = detail::role;
    using Root = typename state::Root;
    using Wrt = typename state::Wrt;

  public:
    using graph = Root;
    using scalar = T;
    using topo = topo_t<Root>;
    using plan = detail::plan<topo, Wrt>;
    using params_type = param_store<T, typename detail::params_of<topo>::type>;
    static constexpr std::size_t count = topo::size;
    static constexpr exec_options options = O;
    /// Whether the parameter store holds running statistics (batch_norm's), which steps update.
    static constexpr bool keeps_running = params_type::trained_count != params_type::count;
    /// Whether the program has batch statistics (batch_norm, batch_mean): a step then needs every
    /// sample of the batch in one process (step_share refuses a part of it).
    static constexpr bool whole_batch = plan::phased;

    /// Whether this program only evaluates (compile_forward): no adjoints, any output shape.
    static constexpr bool forward_only = Wrt::size == 0;
    static_assert(forward_only || shape_of_t<Root>::rank == 0,
                  "kink: compile(loss): the loss must be a per-sample scalar: reduce a vector with mean(...) or sum(...); "
                  "compile_forward(output) evaluates a tensor output without a loss");
    static_assert([]<class... N>(meta::list<N...>) { return meta::all(std::array<bool, sizeof...(N)>{detail::node_checks<N>::ok::value...}); }(topo{}));
    static_assert(plan::strided_ok_everywhere, "kink: compile: transpose(W) is supported as the matrix of a product "
                                               "(transpose(W) * x), not as the argument of another op");

  private:
    // -- what the kernels declare, per node ----------------------------------------------------
    template <class N> using traits = detail::traits_t<N>;
    static constexpr auto weight_slot = []<class... N>(meta::list<N...>) {
        return std::array<std::size_t, count>{traits<N>::weight_slot...};
    }(topo{});
    static constexpr auto bias_slot = []<class... N>(meta::list<N...>) {
        return std::array<std::size_t, count>{traits<N>::bias_slot...};
    }(topo{});
    static constexpr auto kernel_fans = []<class... N>(meta::list<N...>) {
        return std::array<std::array<std::size_t, 2>, count>{traits<N>::template fans<detail::shallow_t<N>>()...};
    }(topo{});
    /// Scratch values (T) of the hungriest kernel: shared, since kernels run one at a time.
    static constexpr std::size_t scratch_size = []<class... N>(meta::list<N...>) {
        return std::max({std::size_t(0), traits<N>::template scratch_size<detail::shallow_t<N>>()...});
    }(topo{});
    /// Matrix-product workspace for a batch of n: the largest any kernel asks for.
    static constexpr std::size_t work_size(std::size_t n) { return detail::work_sizes<T, detail::shallow_list_t<topo>>::get(n); }

  public:
    program() = default;
    template <class Pool> explicit program(const Pool &pool) { this->pool_ = pool; }

    /// Sets runtime constant `Name` (a constant<Name> leaf, or the kink value of a
    /// policy::runtime<Name> node) for the following steps and evaluations.
    /// Values an op does not accept (a max_pool2d tie rule outside [-1, 1]) throw kink_error.
    template <fixed_string Name> void constant(double value) {
        detail::check_constant<rconst_leaf<Name>>(value, topo{});
        this->pool_[constant_slot<Name>()] = value;
    }
    /// The value of runtime constant `Name`.
    template <fixed_string Name> double constant() const { return this->pool_[constant_slot<Name>()]; }
    /// Every runtime constant as `name=value` (17 significant digits), in the program's order,
    /// comma-separated: what model files and checkpoints record, since the values change what the
    /// program computes (relu'(0) = 1, a pool's tie rule). Empty without runtime constants.
    std::string constant_values() const {
        std::string s;
        if constexpr (rconsts_t<Root>::size != 0) {
            [&]<class... C>(meta::list<C...>) {
                std::size_t k = 0;
                (
                    [&] {
                        char v[40];
                        std::snprintf(v, sizeof v, "%.17g", double(this->pool_[k++]));
                        s += (s.empty() ? "" : ", ") + std::string(C::name()) + "=" + v;
                    }(),
                    ...);
            }(rconsts_t<Root>{});
        }
        return s;
    }

    /// The seed of the program's random draws (dropout's masks; 0 by default). A draw depends on
    /// the seed, the step counter and the sample's index in the batch, so it is reproducible
    /// and the same for every number of threads.
    void seed(std::uint64_t s) { this->seed_ = s; }
    std::uint64_t seed() const { return this->seed_; }
    /// The step counter of the random draws: each step uses it and then adds 1; forward and
    /// evaluate use it as it is. Set it to resume a run (checkpoints save it) or to repeat a step.
    void rng_step(std::uint64_t k) { this->rng_step_ = k; }
    std::uint64_t rng_step() const { return this->rng_step_; }

    /// Fresh storage for the parameters (zeros) or their gradients.
    params_type make_params() const { return {}; }

    /// Sizes the workspace for batches up to n: steps at or below n allocate nothing.
    /// Out of memory: throws kink::out_of_memory (a std::bad_alloc) that says what a batch of n
    /// needs on this many threads.
    void reserve(std::size_t n) {
        if (n <= cap_) return;
        try {
            fwd_all_.resize(n * plan::fwd_layout.per_sample + 16);
            if constexpr (!forward_only) {
                adj_all_.resize(n * plan::adj_layout.per_sample + 16);
            }
            labels_all_.resize(n * label_count + 1);
            if constexpr (plan::phased) {
                partials_.resize((chunks(n) + 1) * plan::partial_total + 8);
                if constexpr (!forward_only) uadj_all_.resize(chunks(n) * uadj_stride + 16);
            }
            const std::size_t before = cap_;
            cap_ = n;
            try {
                size_workers();
            } catch (...) {
                cap_ = before;
                throw;
            }
        } catch (const std::bad_alloc &) {
            throw out_of_memory(memory_text(n, threads()));
        }
    }
    /// The bytes a step at batch n on t threads holds (what reserve and threads allocate).
    static constexpr std::size_t bytes_per_sample() {
        std::size_t b = plan::fwd_layout.per_sample * sizeof(T) + label_count * sizeof(std::int32_t);
        if constexpr (!forward_only) b += plan::adj_layout.per_sample * sizeof(T) + (flat_size * sizeof(T) + chunk - 1) / chunk;
        return b;
    }
    static constexpr std::size_t bytes_per_thread() {
        std::size_t b = (plan::fwd_layout.unbatched + work_size(chunk) + scratch_size) * sizeof(T);
        if constexpr (!forward_only) b += plan::adj_layout.unbatched * sizeof(T);
        return b;
    }
    static std::string memory_text(std::size_t n, std::size_t t) { return detail::memory_text(n, t, bytes_per_sample(), bytes_per_thread()); }

    /// Runs steps on n threads (n >= 1; 1, the default, starts none): the calling thread and
    /// n - 1 threads the program starts now and keeps. Results do not depend on n.
    void threads(std::size_t n) {
        if (n == 0) throw std::invalid_argument("kink: program::threads: the number of threads must be at least 1");
        if (n == threads()) return;
        team_ = n == 1 ? nullptr : std::make_unique<team>(n);
        try {
            crew_.resize(n - 1);
            size_workers();
        } catch (const std::bad_alloc &) {
            throw out_of_memory(memory_text(std::max<std::size_t>(cap_, 1), n));
        }
    }
    /// The number of threads a step runs on.
    std::size_t threads() const { return crew_.size() + 1; }
    /// Runs f(k, n) on each of the program's n threads (k = 0 on the calling thread) and waits
    /// for all: other work between steps, such as an optimizer's update (nn::adam::step(params,
    /// grads, net)), uses the same threads instead of starting more.
    template <class F> void on_threads(F &&f) {
        if (!team_) return f(std::size_t(0), std::size_t(1));
        const std::size_t n = threads();
        team_->run([&](std::size_t k) { f(k, n); });
    }
    /// The number of chunks a batch of n is split into.
    static constexpr std::size_t chunks(std::size_t n) { return n == 0 ? 1 : (n + chunk - 1) / chunk; }
    /// Samples per chunk (exec_options::chunk).
    static constexpr std::size_t chunk = O.chunk;
    static_assert(O.chunk >= 1, "kink: exec_options::chunk must be at least 1");

    program(const program &o) : state(o), fwd_all_(o.fwd_all_), adj_all_(o.adj_all_), slots_(o.slots_), uadj_all_(o.uadj_all_),
                                partials_(o.partials_), labels_all_(o.labels_all_), crew_(o.crew_), cap_(o.cap_), batch_(o.batch_) {
        if (o.team_) team_ = std::make_unique<team>(o.team_->size());
    }
    program &operator=(const program &o) {
        if (this != &o) {
            program c(o);
            *this = std::move(c);
        }
        return *this;
    }
    program(program &&) noexcept = default;
    program &operator=(program &&) noexcept = default;

    /// One training step: the forward pass, the mean loss over the batch (returned) and, in `grads`,
    /// the gradient of that mean with respect to every trained parameter. Bindings: `x = span`
    /// for every input (batch * size values) and label (batch integers).
    /// A program with running statistics (batch_norm) updates them in `params` in each step, as
    /// PyTorch's training mode does, so it takes the store non-const.
    template <class Store, class... B>
        requires KINK_SAME(std::remove_const_t<Store>, params_type)
    T step(Store &params, params_type &grads, const B &...bindings) {
        static_assert(!forward_only, "kink: program::step: this is a compile_forward program: call it, program(params, x = data)");
        static_assert(!std::is_const_v<Store> || !keeps_running, "kink: program::step: this program keeps running statistics "
                                                                "(batch_norm) and updates them in each step: pass the parameter store non-const");
        prepare(params, bindings...);
        training_step_ = true;
        run_share(grads, 0, chunks(batch_));
        ++this->rng_step_;
        if constexpr (O.check_finite) check_gradients();
        return mean_loss();
    }

    /// Part of a step, for processes that share a batch (kink/dist/mpi.hpp): binds the whole
    /// batch but runs only chunks [c0, c1). With c0 = 0, `grads` receives the sum of those
    /// chunks' gradients (in order); otherwise each chunk's gradient is kept, and
    /// fold_share(grads) later adds them, in order, to the sum of chunks [0, c0) that `grads`
    /// must then hold. The loss values of the share's samples are in losses().
    /// Share `part` of `parts` takes chunks [ceil(part K / parts), ceil((part + 1) K / parts)) of
    /// the batch's K, as threads split a step's chunks. A program with batch statistics needs the
    /// other shares' chunks of each statistic (and of its adjoint) where the sweep is cut: the
    /// share_exchange set with share_statistics fills them in, and then every share merges all K
    /// chunks in chunk order, as one process does.
    struct share_exchange {
        void *context = nullptr;
        /// Fills chunk c's m values at base + c * stride (elements of `bytes` bytes each) for every
        /// chunk c of [0, chunks) outside this share, from the shares that computed them.
        void (*fill)(void *context, void *base, std::size_t bytes, std::size_t stride, std::size_t m, std::size_t chunks) = nullptr;
    };
    /// Sets (or, with {}, clears) the exchange of a shared step's batch statistics.
    void share_statistics(share_exchange e) { exchange_ = e; }
    template <class Store, class... B>
        requires KINK_SAME(std::remove_const_t<Store>, params_type)
    void step_share(Store &params, params_type &grads, std::size_t part, std::size_t parts, const B &...bindings) {
        static_assert(!std::is_const_v<Store> || !keeps_running, "kink: program::step_share: this program keeps running statistics "
                                                                "(batch_norm) and updates them in each step: pass the parameter store non-const");
        static_assert(!forward_only, "kink: program::step_share: a compile_forward program has no gradients");
        if (parts == 0 || part >= parts)
            throw std::invalid_argument("kink: step_share: share " + std::to_string(part) + " of " + std::to_string(parts));
        prepare(params, bindings...);
        training_step_ = true;
        const std::size_t K = chunks(batch_), c0 = (part * K + parts - 1) / parts, c1 = ((part + 1) * K + parts - 1) / parts;
        if (plan::phased && (c0 != 0 || c1 != K) && !exchange_.fill)
            throw kink_error("kink: step_share: this program has batch statistics (batch_norm, batch_mean), whose chunks of "
                             "other shares must be exchanged: share_exchange (kink::mpi::step sets it), or one process");
        run_share(grads, c0, c1);
        ++this->rng_step_;
        share_ = {c0, c1};
    }
    /// The samples [first, last) of the last step_share's chunks.
    std::pair<std::size_t, std::size_t> share_samples() const {
        return {std::min(share_.first * chunk, batch_), std::min(share_.second * chunk, batch_)};
    }
    /// After step_share(params, grads, c0, c1, ...) with c0 > 0: grads += the kept gradients of
    /// chunks c0, c0 + 1, ..., c1 - 1, in that order (split over the program's threads).
    void fold_share(params_type &grads) {
        const std::size_t c0 = share_.first, c1 = share_.second;
        if (c0 == 0 || c1 == c0) return;
        on_threads([&](std::size_t t, std::size_t n) { fold_slots(grads.data(), slots_.data() + flat_size, c1 - c0, t, n, false); });
    }
    /// Per sample of the last batch, the loss (the root's values); after step_share, valid for
    /// the share's samples only (the others are for the caller to fill in).
    std::span<T> losses() { return {whole_val(count - 1), plan::batched[count - 1] ? batch_ : 1}; }
    /// The mean of losses() (in double, in sample order), as step returns it.
    T mean_of_losses() { return mean_loss(); }

    /// The forward pass only: the mean loss over the batch. Node values stay readable with `value`.
    template <class... B> T forward(const params_type &params, const B &...bindings) {
        static_assert(!forward_only, "kink: program::forward: this is a compile_forward program: call it, program(params, x = data)");
        evaluate(params, bindings...);
        return mean_loss();
    }

    /// Evaluates the graph on a batch (every node's value, as `forward` does) and returns the
    /// output's values: batch * size values for a batched output. Parameters come from any
    /// param_store that holds every parameter of this graph (a training program's `params`).
    template <class Store, class... B> std::span<const T> evaluate(const Store &params, const B &...bindings) {
        constexpr std::size_t r = count - 1;
        static_assert(plan::has_value(r), "kink: compile_forward: the output must be computed by an op, not a leaf");
        prepare(params, bindings...);
        training_step_ = false;
        if constexpr (plan::phased) run_phases(nullptr, 0, chunks(batch_));
        else run_chunks(0, chunks(batch_), [&](state &w, std::size_t) { sweep::chunk_forward(w); });
        return {whole_val(r), plan::size[r] * (plan::batched[r] ? batch_ : 1)};
    }

    /// The values of node `x` (a subexpression of the loss) from the last forward pass:
    /// batch * size values for a batched node.
    template <expression X> std::span<const T> value(const X &) const {
        using G = graph_t<X>;
        static_assert(meta::in_list_v<G, topo>, "kink: program::value: not a subexpression of the loss");
        constexpr std::size_t i = meta::node_index_of<G, topo>::value;
        static_assert(plan::has_value(i), "kink: program::value: this node is not stored (a leaf, a transpose or a "
                                          "product absorbed into an affine node: ask for the affine node)");
        return {const_cast<program *>(this)->whole_val(i), plan::size[i] * (plan::batched[i] ? batch_ : 1)};
    }
    /// The gradient of the mean loss with respect to input `x` (batch * size values) from the last
    /// step; the program must have been compiled with x among its differentiated leaves.
    template <expression X> std::span<const T> input_grad(const X &) const {
        using G = graph_t<X>;
        static_assert(is_input_v<G> && meta::in_list_v<G, Wrt>,
                      "kink: program::input_grad: compile with the input among the leaves: compile(loss, W, b, x)");
        constexpr std::size_t i = meta::node_index_of<G, topo>::value;
        return {adj_all_.data() + batch_ * plan::adj_layout.off[i], plan::size[i] * batch_};
    }
    /// Per parameter (in param_store order): the fan-in (out = false) or fan-out of the op it is
    /// the weight or the bias of, as that op's kernel declares it (a dense layer: its input and
    /// output sizes; a convolution: C KH KW and O KH KW); its own size when it is in no such op.
    static constexpr auto fans(bool out) {
        using P = typename detail::params_of<topo>::type;
        std::array<std::size_t, P::size> f{};
        std::array<std::size_t, count> k{}; // a parameter node's position in the store
        for (std::size_t i = 0; i < count; ++i)
            if (plan::roles[i] == role::param) k[i] = plan::leaf_slot[i], f[k[i]] = plan::size[i];
        // one pass over the kernels (the last op a parameter is the weight or bias of decides)
        for (std::size_t g = 0; g < count; ++g) {
            if (!plan::runs_kernel(g)) continue;
            const std::size_t p = plan::op_node(g);
            const auto mark = [&](std::size_t i) {
                if (plan::roles[i] == role::param) f[k[i]] = kernel_fans[p][out ? 1 : 0];
            };
            if (weight_slot[p] != detail::none) mark(plan::source(plan::args[p][weight_slot[p]]));
            if (bias_slot[p] != detail::none && plan::nargs[p] > bias_slot[p]) mark(plan::args[p][bias_slot[p]]);
            if (plan::roles[g] == role::affine) mark(plan::bias_of(g));
        }
        return f;
    }
    /// Fan-in per parameter: initializers use it, e.g. PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    static constexpr auto fan_in = fans(false);
    /// Fan-out per parameter (Glorot).
    static constexpr auto fan_out = fans(true);
    /// Batch size of the last forward pass.
    std::size_t batch() const { return batch_; }

  private:
    /// Values of a flat gradient store (padding included): one chunk's gradient slot.
    static constexpr std::size_t flat_size = params_type::offsets[params_type::count];
    static constexpr std::size_t label_count = [] {
        std::size_t n = 0;
        for (auto k : plan::roles) n += k == role::label;
        return n;
    }();

    /// Where runtime constant `Name` sits in the pool.
    template <fixed_string Name> static constexpr std::size_t constant_slot() {
        using C = rconst_leaf<Name>;
        static_assert(meta::in_list_v<C, rconsts_t<Root>>, "kink: program::constant: the program has no runtime constant of this name");
        return meta::index_of<C, rconsts_t<Root>>::value;
    }

    // -- binding -------------------------------------------------------------------------------
    template <class... B> void bind(const B &...b) {
        detail::batch_extent n;
        (
            [&] {
                using L = typename B::leaf;
                static_assert(leaf_in_graph<typename detail::leaf_name_chars<L>::type, meta::in_list_v<L, topo>>::value,
                              "kink: step: a binding names a leaf the graph does not use (leaf_in_graph<its name>)");
                if constexpr (is_input_v<L>) n.add(L::name(), b.value.size(), shape_of_t<L>::size);
                else n.add(L::name(), b.value.size(), 1);
            }(),
            ...);
        reserve(n.get());
        batch_ = n.get();
        (
            [&] {
                using L = typename B::leaf;
                constexpr std::size_t i = meta::node_index_of<L, topo>::value;
                if constexpr (is_input_v<L>) {
                    static_assert(std::is_convertible_v<decltype(b.value.data()), const T *>,
                                  "kink: step: bind an input to contiguous values of the program's scalar type");
                    this->inputs_[i] = b.value.data();
                } else {
                    detail::copy_labels(b.value, batch_, L::classes, L::name(), labels_all_.data() + plan::leaf_slot[i] * cap_);
                }
            }(),
            ...);
        check_bound<B...>(std::make_index_sequence<plan::data_leaves.size>{});
    }
    template <class... B, std::size_t... K> static void check_bound(std::index_sequence<K...>) {
        (void)std::initializer_list<int>{0, (check_bound_at<plan::data_leaves.at[K], B...>(), 0)...};
    }
    template <std::size_t I, class... B> static void check_bound_at() {
        using L = meta::node_at_t<I, topo>;
        if constexpr (is_input_v<L> || is_label_v<L>)
            static_assert(input_bound<typename detail::leaf_name_chars<L>::type, detail::bound_v<L, B...>>::value,
                          "kink: step: an input or label of the graph is not bound (input_bound<its name>): "
                          "pass name = data for each");
    }

    // -- the workers ---------------------------------------------------------------------------
    /// Worker t's state: worker 0 is the program's own, the others belong to its threads.
    state &worker(std::size_t t) { return t == 0 ? static_cast<state &>(*this) : crew_[t - 1]; }
    /// Per-worker storage: unbatched values and adjoints, scratch, and the workspace of a chunk.
    void size_workers() {
        if constexpr (!forward_only) // a step's slots: one on one thread, at most one per chunk on several
            slots_.resize((threads() == 1 && !plan::phased ? 1 : chunks(std::max<std::size_t>(cap_, 1))) * flat_size + 16);
        const std::size_t rows = std::min(std::max<std::size_t>(cap_, 1), chunk);
        for (std::size_t t = 0; t < threads(); ++t) {
            state &w = worker(t);
            w.unb_fwd_.resize(plan::fwd_layout.unbatched + 16);
            if constexpr (!forward_only) w.unb_adj_.resize(plan::adj_layout.unbatched + 16);
            w.work_.resize(work_size(rows));
            w.scratch_.resize(scratch_size + 16);
        }
    }
    /// Binds the batch and points every worker at it and at the parameters.
    template <class Store, class... B> void prepare(const Store &params, const B &...bindings) {
        bind(bindings...);
        set_params(params);
        if constexpr (O.check_finite) check_leaves(std::make_index_sequence<count>{});
        for (std::size_t t = 0; t < threads(); ++t) {
            state &w = worker(t);
            if (t != 0) {
                w.seed_ = this->seed_;
                w.rng_step_ = this->rng_step_;
                w.pool_ = this->pool_;
                w.inputs_ = this->inputs_;
                w.param_ptr_ = this->param_ptr_;
            }
            w.fwd_ = fwd_all_.data();
            w.adj_ = adj_all_.data();
            w.labels_ = labels_all_.data();
            w.label_cap_ = cap_;
            w.stride_ = batch_;
            w.uadj_ = w.unb_adj_.data();
            sweep::write_constants(w);
        }
    }
    /// Chunks [c0, c1) of a step. The gradient is the sum of the chunks' gradients in chunk
    /// order. From chunk 0, the calling thread's chunks come first: it adds each into `grads` as
    /// soon as it is made (direct_dest parameters straight from their kernel, the others through
    /// a slot that stays in cache). Every other chunk goes to a slot of its own; with c0 = 0
    /// they are added in order once all are done, otherwise fold_share adds them.
    void run_share(params_type &grads, std::size_t c0, std::size_t c1) {
        if constexpr (plan::phased) return run_phases(&grads, c0, c1);
        const std::size_t n = std::max<std::size_t>(1, std::min(threads(), c1 - c0));
        const std::size_t first = c0 == 0 ? (c1 + n - 1) / n : c0; // chunks [c0, first): into grads
        slots_.resize((c1 > first ? 1 + c1 - first : 1) * flat_size + 16); // reserve() sized it for a step
        run_chunks(c0, c1, [&](state &w, std::size_t c) {
            if (c < first) {
                w.direct_ = grads.data();
                w.continuing_ = c != 0;
                w.grads_ = c == 0 ? grads.data() : slots_.data();
            } else {
                w.direct_ = w.grads_ = slots_.data() + (1 + c - first) * flat_size;
                w.continuing_ = false;
            }
            sweep::chunk_forward(w);
            sweep::chunk_backward(w);
            if (c != 0 && c < first) fold_slots(grads.data(), slots_.data(), 1, 0, 1, true);
        });
        if (c0 == 0 && c1 > first)
            on_threads([&](std::size_t t, std::size_t m) { fold_slots(grads.data(), slots_.data() + flat_size, c1 - first, t, m, false); });
        this->grads_ = grads.data();
    }
    /// Runs f(worker, c) for every chunk c in [c0, c1), with the worker set to that chunk. Thread
    /// t takes chunks c0 + [ceil(t K / n), ceil((t + 1) K / n)) of K = c1 - c0 on n threads:
    /// consecutive chunks, the first on the calling thread. Kink counts made on other threads are
    /// added to the calling thread's (counters are thread-local).
    template <class F> void run_chunks(std::size_t c0, std::size_t c1, F &&f) {
        const std::size_t K = c1 - c0, n = std::max<std::size_t>(1, std::min(threads(), K));
        auto part = [&](std::size_t t) {
            state &w = worker(t);
            for (std::size_t c = c0 + (t * K + n - 1) / n, e = c0 + ((t + 1) * K + n - 1) / n; c < e; ++c) {
                w.s0_ = c * chunk;
                w.n_ = std::min(chunk, batch_ - w.s0_);
                f(w, c);
            }
        };
        if (n == 1) return part(0);
        team_->run([&](std::size_t t) {
            if (t >= n) return;
            if (t == 0) return part(0);
            counted::reset();
            part(t);
            crew_[t - 1].counts_ = counted::get();
        });
        for (std::size_t t = 1; t < n; ++t) counted::add(crew_[t - 1].counts_);
    }
    // -- phases (a program with batch statistics) ------------------------------------------------
    /// Unbatched adjoint values per chunk.
    static constexpr std::size_t uadj_stride = plan::adj_layout.unbatched + 16;
    /// Points worker w at chunk c's partial sums, unbatched adjoints and gradient: chunk 0's is
    /// `grads` itself, every other chunk's a slot (chunk c's slot c, or c - c0 + 1 in a share
    /// [c0, c1) with c0 > 0, whose chunks fold_share adds).
    void enter_chunk(state &w, std::size_t c, params_type *grads) {
        w.partial_ = partials_.data() + c * plan::partial_total;
        if constexpr (!forward_only) {
            w.uadj_ = uadj_all_.data() + c * uadj_stride;
            const std::size_t c0 = phase_chunks_.first, slot = c0 == 0 ? c : c - c0 + 1;
            if (grads) w.direct_ = w.grads_ = c == 0 ? grads->data() : slots_.data() + slot * flat_size;
            w.continuing_ = false;
        }
    }
    /// A step (grads) or an evaluation (nullptr) of chunks [c0, c1) of the batch, phase by phase
    /// (a share of a step when not all: the statistics of the other chunks come from exchange_).
    void run_phases(params_type *grads, std::size_t c0, std::size_t c1) {
        const std::size_t K = chunks(batch_);
        phase_chunks_ = {c0, c1};
        std::fill(partials_.data(), partials_.data() + (K + 1) * plan::partial_total, 0.0);
        [&]<std::size_t... P>(std::index_sequence<P...>) {
            (run_forward_phase<P>(grads), ...);
        }(std::make_index_sequence<plan::fwd_phases.n>{});
        if constexpr (!forward_only) {
            if (!grads) return;
            [&]<std::size_t... Q>(std::index_sequence<Q...>) {
                (run_backward_phase<Q + 1>(grads), ...);
            }(std::make_index_sequence<plan::bwd_phases.n - 1>{});
            if (c0 == 0 && c1 > 1)
                on_threads([&](std::size_t t, std::size_t n) { fold_slots(grads->data(), slots_.data() + flat_size, c1 - 1, t, n, false); });
            this->grads_ = grads->data();
        }
    }
    /// Whether the running pass is a share of the batch (not every chunk).
    bool sharing() const { return phase_chunks_.first != 0 || phase_chunks_.second != chunks(batch_); }
    /// Forward phase P over the pass's chunks (the last one with each chunk's first backward
    /// phase), then the statistics it formed.
    template <std::size_t P> void run_forward_phase(params_type *grads) {
        run_chunks(phase_chunks_.first, phase_chunks_.second, [&](state &w, std::size_t c) {
            enter_chunk(w, c, grads);
            sweep::template phase_forward<P>(w);
            if constexpr (!forward_only && P + 1 == plan::fwd_phases.n)
                if (grads) sweep::template phase_backward<0>(w);
        });
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (void)std::initializer_list<int>{0, (combine_value<P, plan::barriers.at[K]>(), 0)...};
        }(std::make_index_sequence<plan::barriers.size>{});
    }
    /// Backward phase Q >= 1 over all chunks, after the adjoints of the statistics it starts with.
    template <std::size_t Q> void run_backward_phase(params_type *grads) {
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (void)std::initializer_list<int>{0, (combine_adjoint<Q, plan::barriers.at[K]>(), 0)...};
        }(std::make_index_sequence<plan::barriers.size>{});
        run_chunks(phase_chunks_.first, phase_chunks_.second, [&](state &w, std::size_t c) {
            enter_chunk(w, c, grads);
            sweep::template phase_backward<Q>(w);
        });
    }
    /// Statistic I of forward phase P: the chunks' partial sums added in chunk order, its kernel's
    /// finish, and the value copied to every worker.
    template <std::size_t P, std::size_t I> void combine_value() {
        if constexpr (plan::fwd_phase_of[I] == P) {
            const std::size_t K = chunks(batch_);
            constexpr std::size_t off = plan::partial_off[I], m = plan::partial_size[I];
            if (sharing()) exchange_.fill(exchange_.context, partials_.data() + off, sizeof(double), plan::partial_total, m, K);
            const double *part = partials_.data() + off;
            double *total = partials_.data() + K * plan::partial_total + off;
            using call = detail::node_call<state, I>;
            using Kern = kernel<typename call::ctx::op>;
            if constexpr (kernel_traits<typename call::ctx::op>::template merges<typename call::ctx::node>()) {
                std::copy(part, part + m, total);
                for (std::size_t c = 1; c < K; ++c) Kern::template merge<typename call::ctx::node>(total, part + c * plan::partial_total);
            } else {
                for (std::size_t j = 0; j < m; ++j) {
                    double a = 0;
                    for (std::size_t c = 0; c < K; ++c) a += part[c * plan::partial_total + j];
                    total[j] = a;
                }
            }
            state &w0 = worker(0);
            w0.partial_ = partials_.data() + K * plan::partial_total;
            auto c = call::template make<false>(w0);
            c.training_ = training_step_;
            Kern::finish(c);
            for (std::size_t t = 1; t < threads(); ++t) std::copy(w0.val(I), w0.val(I) + plan::size[I], worker(t).val(I));
            if constexpr (O.check_finite) sweep::template check_values<I, true>(w0);
        }
    }
    /// The adjoint of statistic I, if backward phase Q starts with it: the chunks' parts added in
    /// chunk order, the sum given to every chunk.
    template <std::size_t Q, std::size_t I> void combine_adjoint() {
        if constexpr (plan::needs[I] && plan::bwd_phase_of[I] == Q) {
            const std::size_t K = chunks(batch_);
            T *a = uadj_all_.data() + plan::adj_layout.off[I];
            if (sharing()) exchange_.fill(exchange_.context, a, sizeof(T), uadj_stride, plan::size[I], K);
            for (std::size_t j = 0; j < plan::size[I]; ++j) {
                T v = a[j];
                for (std::size_t c = 1; c < K; ++c) v = static_cast<T>(v + a[c * uadj_stride + j]);
                for (std::size_t c = 0; c < K; ++c) a[c * uadj_stride + j] = v;
            }
        }
    }
    /// Per parameter (store order): whether it is trained. Each of Wrt's leaves is looked up
    /// among the parameters, not each parameter in Wrt (O(P |Wrt|) at compile time).
    static constexpr auto trained_params = [] {
        std::array<bool, params_type::count + 1> t{};
        for (std::size_t i = 0; i < count; ++i)
            if (plan::roles[i] == role::param && plan::trained[i]) t[plan::leaf_slot[i]] = true;
        return t;
    }();
    /// The {offset, size} of every trained parameter (or only of those not in direct_dest).
    struct fold_ranges {
        std::array<std::array<std::size_t, 2>, params_type::count + 1> ranges{};
        std::size_t n = 0;
    };
    template <bool IndirectOnly> static constexpr fold_ranges fold_ranges_v = [] {
        std::array<bool, params_type::count + 1> direct{};
        for (std::size_t i = 0; i < count; ++i)
            if (plan::roles[i] == role::param) direct[plan::leaf_slot[i]] = state::direct_dest[i];
        fold_ranges r;
        for (std::size_t k = 0; k < params_type::count; ++k)
            if (trained_params[k] && !(IndirectOnly && direct[k])) r.ranges[r.n++] = {params_type::offsets[k], params_type::sizes[k]};
        return r;
    }();
    /// Share t of n of the sum g += slot 0, slot 1, ... (`slots` slots of flat_size values),
    /// parameter by parameter: every trained one, or only those not in direct_dest.
    void fold_slots(T *g, const T *slots, std::size_t count_, std::size_t t, std::size_t n, bool indirect_only) {
        const fold_ranges &r = indirect_only ? fold_ranges_v<true> : fold_ranges_v<false>;
        detail::fold_slots(g, slots, flat_size, count_, std::span(r.ranges.data(), r.n), t, n);
    }
    T mean_loss() {
        constexpr std::size_t r = count - 1;
        const T *l = whole_val(r);
        if constexpr (plan::batched[r]) {
            double s = 0;
            for (std::size_t i = 0; i < batch_; ++i) s += l[i];
            return static_cast<T>(s / static_cast<double>(batch_));
        } else {
            return l[0];
        }
    }
    /// Node i's values for the whole batch (unbatched: worker 0's).
    T *whole_val(std::size_t i) {
        return plan::batched[i] ? fwd_all_.data() + batch_ * plan::fwd_layout.off[i] : this->unb_fwd_.data() + plan::fwd_layout.off[i];
    }

    // -- the finite check (exec_options::check_finite) -----------------------------------------
    /// The parameters and the whole batch's inputs, before any chunk runs.
    template <std::size_t... I> void check_leaves(std::index_sequence<I...>) { (void)std::initializer_list<int>{0, (check_leaf<I>(), 0)...}; }
    template <std::size_t I> void check_leaf() {
        using L = meta::node_at_t<I, topo>;
        if constexpr (plan::roles[I] == role::param || plan::roles[I] == role::input) {
            const std::size_t n = plan::size[I] * (plan::batched[I] ? batch_ : 1);
            const T *v = is_param_v<L> ? this->param_ptr_[plan::leaf_slot[I]] : this->inputs_[I];
            if (const std::size_t i = detail::first_non_finite(v, n); i < n)
                detail::report_non_finite(std::string(is_param_v<L> ? "parameter '" : "input '") + std::string(L::name()) + "'", v[i],
                                          i, plan::size[I], plan::batched[I]);
        }
    }
    /// The indices of the trained parameters.
    static constexpr auto trained_list = [] {
        std::array<std::size_t, params_type::count + 1> l{};
        std::size_t n = 0;
        for (std::size_t k = 0; k < params_type::count; ++k)
            if (trained_params[k]) l[n++] = k;
        return std::pair{l, n};
    }();
    void check_gradients() {
        detail::check_gradients(this->grads_, std::span(trained_list.first.data(), trained_list.second), params_type::offsets, params_type::sizes,
                                params_type::names);
    }

    /// Points every parameter of this graph at its values in `store` (same store type as the
    /// program's, or any store that holds each parameter with the same name and shape).
    template <class Store> void set_params(const Store &store) {
        set_params_at(store, std::make_index_sequence<params_type::count>{});
    }
    template <class Store, std::size_t... K> void set_params_at(const Store &store, std::index_sequence<K...>) {
        if constexpr (KINK_SAME(Store, params_type)) {
            (void)std::initializer_list<int>{0, (this->param_ptr_[K] = store.data() + params_type::offsets[K], 0)...};
        } else {
            using mine = typename detail::params_of<topo>::type;
            static_assert(meta::all(std::array<bool, sizeof...(K)>{Store::template holds<meta::at_t<K, mine>>...}),
                          "kink: compile_forward: the parameter store lacks a parameter of this graph (the same name and shape)");
            (void)std::initializer_list<int>{0, (this->param_ptr_[K] = store.data() + Store::template offset_of<meta::at_t<K, mine>>, 0)...};
        }
    }

    using counted = detail::counted_nodes<Root>;
    /// The state of one of the program's threads, with the kink counts it made in a step.
    struct crew_state : state {
        decltype(counted::get()) counts_{};
    };
    detail::aligned_buffer<T> fwd_all_, adj_all_, slots_, uadj_all_;
    detail::aligned_buffer<double> partials_; ///< per chunk, then their sum: batch statistics' partial sums
    detail::aligned_buffer<std::int32_t> labels_all_;
    std::unique_ptr<team> team_;
    std::pair<std::size_t, std::size_t> share_{0, 0}; ///< the chunks of the last step_share
    std::pair<std::size_t, std::size_t> phase_chunks_{0, 0}; ///< the chunks of the running phased pass
    share_exchange exchange_{}; ///< how a shared step's batch statistics reach the other shares
    std::vector<crew_state> crew_;
    std::size_t cap_ = 0, batch_ = 0;
    bool training_step_ = false; ///< whether the running pass is a step (statistics keep their running averages)
};

} // namespace kink

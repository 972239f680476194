#pragma once
/// \file
/// Data-parallel training over MPI, with the bytes of one process. Every process (rank) binds
/// the same whole batch and runs the chunks of its share (program::step_share: rank r of R takes
/// chunks [ceil(r K / R), ceil((r + 1) K / R)) of the batch's K, on its own threads). The
/// gradient is then summed in chunk order along the ranks: rank 0 holds the sum of its chunks,
/// rank 1 receives it and adds its chunks' gradients one by one, and so on; the last rank's
/// sum, the whole batch's, is broadcast to all. That is the order one process uses
/// (exec_options::chunk), so R ranks on T threads each give the same bytes as one process on
/// any number of threads. Each rank also sends the per-sample losses of its samples to all, and
/// every rank averages them in sample order. A program with batch statistics (batch_norm) is
/// cut into phases at each statistic (exec/plan.hpp); there every rank gathers the others'
/// per-chunk partial sums and merges all chunks in chunk order, as one process does, so its
/// statistics, running averages and gradients are the same bytes too.
///
/// Cost per step: the gradient passes once along the chain of ranks and once from the last to
/// all (2 (R - 1) messages of the parameters' size on a chain, log R rounds for the broadcast),
/// plus one gather of the batch's losses.
///
/// Not included by <kink/kink.hpp>: include it and link MPI (meson: dependency('mpi', language :
/// 'cpp'); CMake: find_package(MPI) and MPI::MPI_CXX).
///
/// Failures. A rank that dies ends the run: MPI's default error handler aborts every rank, and
/// mpirun names the rank that died. A rank that fails with an exception must not wait for the
/// others in MPI_Finalize while they wait for it in a step (the run would hang): `world::abort`
/// prints the reason with the rank's number and ends every rank, and a `world` destroyed by an
/// exception on its way out does the same. Errors that every rank meets at the same point, on
/// the same data (step's check that the ranks bound the same batch), are `collective_error`s:
/// every rank throws one, so the ranks can end together and one of them say why.

// MPI's C interface only: the C++ bindings (deprecated since MPI 2.2) warn under -Wextra
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <kink/expr/expr.hpp>

namespace kink::mpi {

/// An error that every rank of a run raised at the same point with the same message (its cause
/// was in data every rank sees), so that the ranks can end together and one of them say why.
struct collective_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The MPI environment of a process: MPI_Init on construction (MPI_THREAD_FUNNELED: only the
/// thread that made it calls MPI; a program's own threads never do), MPI_Finalize on
/// destruction. Run without mpirun, a process is a world of one. Destroyed by an exception on
/// its way out of a run of several ranks, it ends every rank (MPI_Abort) instead: MPI_Finalize
/// would wait for ranks that wait for this one.
class world {
  public:
    world() : unwinding_(std::uncaught_exceptions()) {
        int initialized = 0;
        MPI_Initialized(&initialized);
        if (!initialized) {
            int provided = 0;
            MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
            owner_ = true;
        }
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
    }
    world(const world &) = delete;
    world &operator=(const world &) = delete;
    ~world() {
        if (!owner_) return;
        if (size_ > 1 && std::uncaught_exceptions() > unwinding_) {
            std::fprintf(stderr, "kink: mpi: rank %d of %d ended by an error (above); ending every rank\n", rank_, size_);
            std::fflush(stderr);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        MPI_Finalize();
    }
    int rank() const { return rank_; }
    int size() const { return size_; }
    /// Ends every rank of the run with exit status `status`, after printing `message` and the
    /// rank's number on this rank's standard error: for a failure of this rank alone (a file it
    /// could not write, memory), while the others may be waiting for it in a step.
    [[noreturn]] void abort(const std::string &message, int status = 1) const {
        std::fprintf(stderr, "%s (rank %d of %d; ending every rank)\n", message.c_str(), rank_, size_);
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, status);
        std::_Exit(status); // MPI_Abort does not return; this is for the compiler
    }
    /// Whether any rank has `failed`, and the lowest such rank (-1 if none): every rank calls it
    /// at the same point, after the work that may fail (reading files), so that the ranks agree
    /// to stop before a step and the lowest failing rank alone says why.
    int first_failure(bool failed) const {
        int mine = failed ? rank_ : size_, first = size_;
        MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        return first < size_ ? first : -1;
    }
    /// The sum over ranks of an integer (exact).
    std::int64_t sum(std::int64_t v) const {
        std::int64_t r = 0;
        MPI_Allreduce(&v, &r, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
        return r;
    }
    /// v[0 .. n) := their sums over ranks (exact), in one message.
    void sum(std::int64_t *v, int n) const { MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD); }
    void barrier() const { MPI_Barrier(MPI_COMM_WORLD); }

  private:
    int unwinding_ = 0; ///< std::uncaught_exceptions() at construction
    int rank_ = 0, size_ = 1;
    bool owner_ = false;
};

namespace detail {
inline int count_of(std::size_t bytes) {
    if (bytes > std::size_t(std::numeric_limits<int>::max()))
        throw std::length_error("kink: mpi: a message of " + std::to_string(bytes) + " bytes is larger than MPI's int count");
    return int(bytes);
}

/// A 64-bit hash of `bytes` (four interleaved multiply-xorshift lanes over 8-byte words: a few
/// microseconds for a batch of Fashion-MNIST images). Not cryptographic: it tells batches apart.
inline std::uint64_t hash_bytes(std::span<const std::byte> bytes) {
    constexpr std::uint64_t m = 0x9E3779B97F4A7C15ull;
    std::uint64_t h[4] = {1, 2, 3, 4};
    std::size_t i = 0;
    for (; i + 32 <= bytes.size(); i += 32)
        for (std::size_t l = 0; l < 4; ++l) {
            std::uint64_t w;
            std::memcpy(&w, bytes.data() + i + 8 * l, 8);
            h[l] = (h[l] ^ w) * m;
            h[l] ^= h[l] >> 29;
        }
    std::uint64_t r = bytes.size();
    for (; i < bytes.size(); ++i) r = (r ^ std::uint64_t(bytes[i])) * m;
    for (std::uint64_t v : h) r = ((r ^ v) * m) ^ (r >> 31);
    return r;
}

/// Every rank must bind the same whole batch (step gives each its share). Gathers each rank's
/// (samples, hash) per binding and throws the same collective_error on every rank if a rank
/// differs from rank 0, naming the first such rank and binding: before anything else, so that
/// ranks binding different batch sizes meet this message, not a truncated message's MPI error.
template <class... B> void check_same_batch(const world &w, const B &...bindings) {
    const std::size_t n = sizeof...(B), R = std::size_t(w.size());
    std::vector<std::uint64_t> mine, all(2 * n * R);
    std::vector<std::string> names;
    (
        [&] {
            using L = typename B::leaf;
            const auto bytes = std::as_bytes(std::span(bindings.value));
            std::size_t samples = bindings.value.size();
            if constexpr (is_input_v<L>) samples /= shape_of_t<L>::size;
            mine.push_back(samples);
            mine.push_back(hash_bytes(bytes));
            names.emplace_back(L::name());
        }(),
        ...);
    MPI_Allgather(mine.data(), int(2 * n), MPI_UINT64_T, all.data(), int(2 * n), MPI_UINT64_T, MPI_COMM_WORLD);
    for (std::size_t q = 1; q < R; ++q)
        for (std::size_t b = 0; b < n; ++b) {
            const std::uint64_t *r0 = &all[2 * b], *rq = &all[2 * (q * n + b)];
            if (rq[0] != r0[0])
                throw collective_error("kink: mpi::step: rank " + std::to_string(q) + " bound a batch of " + std::to_string(rq[0]) +
                                       " samples to '" + names[b] + "', rank 0 one of " + std::to_string(r0[0]) +
                                       ": every rank binds the same whole batch (each runs its share of it)");
            if (rq[1] != r0[1])
                throw collective_error("kink: mpi::step: rank " + std::to_string(q) + " bound other values to '" + names[b] +
                                       "' than rank 0 (a batch of " + std::to_string(r0[0]) +
                                       " samples): every rank binds the same whole batch (each runs its share of it), "
                                       "not a shard of its own");
        }
}
/// The chunks [c0, c1) of rank q of R in a batch of K chunks (program::step_share's split).
inline std::pair<std::size_t, std::size_t> chunks_of(std::size_t q, std::size_t R, std::size_t K) {
    return {(q * K + R - 1) / R, ((q + 1) * K + R - 1) / R};
}
/// A shared step's exchange of batch statistics (program::share_exchange): each rank's chunks'
/// values gathered by every rank (one MPI_Allgatherv), so that all merge the same K chunks.
struct statistics_exchange {
    const world *w;
    std::vector<std::byte> mine, all;
    static void fill(void *context, void *base, std::size_t bytes, std::size_t stride, std::size_t m, std::size_t K) {
        auto &x = *static_cast<statistics_exchange *>(context);
        const std::size_t R = std::size_t(x.w->size()), r = std::size_t(x.w->rank()), seg = m * bytes;
        auto *b = static_cast<std::byte *>(base);
        const auto [c0, c1] = chunks_of(r, R, K);
        x.mine.resize((c1 - c0) * seg + 1);
        for (std::size_t c = c0; c < c1; ++c) std::memcpy(x.mine.data() + (c - c0) * seg, b + c * stride * bytes, seg);
        std::vector<int> counts(R), displs(R);
        for (std::size_t q = 0; q < R; ++q) {
            const auto [q0, q1] = chunks_of(q, R, K);
            counts[q] = count_of((q1 - q0) * seg);
            displs[q] = count_of(q0 * seg);
        }
        x.all.resize(K * seg + 1);
        MPI_Allgatherv(x.mine.data(), counts[r], MPI_BYTE, x.all.data(), counts.data(), displs.data(), MPI_BYTE, MPI_COMM_WORLD);
        for (std::size_t c = 0; c < K; ++c)
            if (c < c0 || c >= c1) std::memcpy(b + c * stride * bytes, x.all.data() + c * seg, seg);
    }
};
} // namespace detail

/// One training step of `net` on the whole batch bound by `bindings` (the same on every rank),
/// shared by the ranks of `w`: afterwards every rank holds the batch's gradient in `grads` and
/// the batch's per-sample losses in net.losses(), and the mean loss is returned, all the same
/// bytes as net.step on one process. Node values (net.value) hold the rank's own samples
/// (net.share_samples()). `params` is non-const as for net.step (a program with running
/// statistics updates them, the same on every rank). A program with batch statistics
/// (batch_norm, batch_mean) exchanges them where its sweep is cut: every rank gathers the other
/// ranks' per-chunk partial sums of each statistic, and of its adjoint in the backward pass (one
/// MPI_Allgatherv each, of a few values per channel and chunk), and merges all chunks in chunk
/// order: the same statistics, and the same bytes, as one process. With several ranks, it first
/// checks that they bound the same batch (sizes and a hash of the bytes; one gather of 16 bytes
/// per binding and rank) and throws a collective_error on every rank if not.
template <class Net, class... B>
typename Net::scalar step(const world &w, Net &net, typename Net::params_type &params, typename Net::params_type &grads,
                          const B &...bindings) {
    using T = typename Net::scalar;
    const int r = w.rank(), R = w.size();
    if (R > 1) detail::check_same_batch(w, bindings...);
    if constexpr (Net::whole_batch) { // batch statistics: each is merged from every rank's chunks
        detail::statistics_exchange x{&w, {}, {}};
        net.share_statistics({&x, &detail::statistics_exchange::fill});
        try {
            net.step_share(params, grads, std::size_t(r), std::size_t(R), bindings...);
        } catch (...) {
            net.share_statistics({});
            throw;
        }
        net.share_statistics({});
    } else {
        net.step_share(params, grads, std::size_t(r), std::size_t(R), bindings...);
    }
    const int bytes = detail::count_of(grads.flat().size() * sizeof(T));
    void *g = static_cast<void *>(grads.data());
    if (r > 0) {
        MPI_Recv(g, bytes, MPI_BYTE, r - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        net.fold_share(grads);
    }
    if (r + 1 < R) MPI_Send(g, bytes, MPI_BYTE, r + 1, 0, MPI_COMM_WORLD);
    if (R > 1) MPI_Bcast(g, bytes, MPI_BYTE, R - 1, MPI_COMM_WORLD);
    // the per-sample losses: rank q's samples are those of its chunks
    auto losses = net.losses();
    if (R > 1 && losses.size() == net.batch()) {
        std::vector<int> counts(static_cast<std::size_t>(R)), displs(static_cast<std::size_t>(R));
        const std::size_t K = Net::chunks(net.batch());
        for (int q = 0; q < R; ++q) {
            const auto [c0, c1] = detail::chunks_of(std::size_t(q), std::size_t(R), K);
            const std::size_t s0 = std::min(c0 * Net::chunk, net.batch()), s1 = std::min(c1 * Net::chunk, net.batch());
            counts[std::size_t(q)] = detail::count_of((s1 - s0) * sizeof(T));
            displs[std::size_t(q)] = detail::count_of(s0 * sizeof(T));
        }
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_BYTE, static_cast<void *>(losses.data()), counts.data(), displs.data(), MPI_BYTE,
                       MPI_COMM_WORLD);
    }
    return net.mean_of_losses();
}

} // namespace kink::mpi

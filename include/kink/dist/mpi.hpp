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
/// every rank averages them in sample order.
///
/// Cost per step: the gradient passes once along the chain of ranks and once from the last to
/// all (2 (R - 1) messages of the parameters' size on a chain, log R rounds for the broadcast),
/// plus one gather of the batch's losses.
///
/// Not included by <kink/kink.hpp>: include it and link MPI (meson: dependency('mpi', language :
/// 'cpp'); CMake: find_package(MPI) and MPI::MPI_CXX). A rank that dies ends the run: MPI's
/// default error handler aborts every rank, and mpirun names the rank that died.

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
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace kink::mpi {

/// The MPI environment of a process: MPI_Init on construction (MPI_THREAD_FUNNELED: only the
/// thread that made it calls MPI; a program's own threads never do), MPI_Finalize on
/// destruction. Run without mpirun, a process is a world of one.
class world {
  public:
    world() {
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
        if (owner_) MPI_Finalize();
    }
    int rank() const { return rank_; }
    int size() const { return size_; }
    /// The sum over ranks of an integer (exact).
    std::int64_t sum(std::int64_t v) const {
        std::int64_t r = 0;
        MPI_Allreduce(&v, &r, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
        return r;
    }
    void barrier() const { MPI_Barrier(MPI_COMM_WORLD); }

  private:
    int rank_ = 0, size_ = 1;
    bool owner_ = false;
};

namespace detail {
inline int count_of(std::size_t bytes) {
    if (bytes > std::size_t(std::numeric_limits<int>::max()))
        throw std::length_error("kink: mpi: a message of " + std::to_string(bytes) + " bytes is larger than MPI's int count");
    return int(bytes);
}
} // namespace detail

/// One training step of `net` on the whole batch bound by `bindings` (the same on every rank),
/// shared by the ranks of `w`: afterwards every rank holds the batch's gradient in `grads` and
/// the batch's per-sample losses in net.losses(), and the mean loss is returned, all the same
/// bytes as net.step on one process. Node values (net.value) hold the rank's own samples
/// (net.share_samples()). `params` is non-const as for net.step (a program with running
/// statistics updates them; its batch statistics need the whole batch, so such a program runs on
/// one rank: step_share refuses a share of it).
template <class Net, class... B>
typename Net::scalar step(const world &w, Net &net, typename Net::params_type &params, typename Net::params_type &grads,
                          const B &...bindings) {
    using T = typename Net::scalar;
    const int r = w.rank(), R = w.size();
    net.step_share(params, grads, std::size_t(r), std::size_t(R), bindings...);
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
            const std::size_t c0 = (std::size_t(q) * K + std::size_t(R) - 1) / std::size_t(R);
            const std::size_t c1 = (std::size_t(q + 1) * K + std::size_t(R) - 1) / std::size_t(R);
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

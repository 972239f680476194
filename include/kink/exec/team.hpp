#pragma once
/// \file
/// `team`: the threads a compiled program runs a step on. A team of n is the calling thread and
/// n - 1 threads it starts once and keeps; `run(f)` calls f(0) on the caller and f(t) on member
/// t, and returns when all have finished (a fork-join, no allocation). Members wait for work by
/// spinning briefly, then sleeping on an atomic (C++20 wait/notify, a futex on Linux), so a
/// team between steps costs no core.
///
/// Determinism does not come from the team: a program splits a batch into chunks of a fixed
/// size (exec_options::chunk) and gives whole chunks to members, so what is computed, and in
/// which order it is summed, is the same for every team size.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace kink {

class team {
  public:
    /// A team of n members (n >= 1): the calling thread and n - 1 started here. When the system
    /// refuses a thread (a process or memory limit), the threads already started are stopped and
    /// joined and std::system_error says how many were asked for and why, instead of the
    /// std::terminate that destroying a running std::thread would cause.
    explicit team(std::size_t n = 1) : errors_(n == 0 ? 1 : n) {
        const std::size_t m = n == 0 ? 1 : n;
        threads_.reserve(m - 1);
        for (std::size_t t = 1; t < m; ++t) {
            try {
                threads_.emplace_back([this, t] { serve(t); });
            } catch (const std::system_error &e) {
                stop_all();
                throw std::system_error(e.code(), "kink: threads(" + std::to_string(m) + "): the system refused to start thread " +
                                                      std::to_string(t + 1) + " of " + std::to_string(m) + " (" + e.code().message() +
                                                      "; a process or memory limit?)");
            }
        }
    }
    team(const team &) = delete;
    team &operator=(const team &) = delete;
    ~team() { stop_all(); }

    std::size_t size() const { return threads_.size() + 1; }

    /// Calls f(t) for every member t (t = 0 on the calling thread) and waits for all. An exception
    /// thrown by f is rethrown here, the one of the lowest member when several throw.
    template <class F> void run(F &&f) {
        if (threads_.empty()) {
            f(std::size_t(0));
            return;
        }
        using Fn = std::remove_reference_t<F>;
        run_job(static_cast<void *>(&f), [](void *ctx, std::size_t t) { (*static_cast<Fn *>(ctx))(t); });
    }

  private:
    /// Wakes every member to return, and joins them.
    void stop_all() {
        stop_.store(true, std::memory_order_relaxed);
        gen_.fetch_add(1, std::memory_order_release);
        gen_.notify_all();
        for (auto &th : threads_) th.join();
        threads_.clear();
    }
    /// run's body, a function of no callable type: one copy for every caller, not one per lambda.
    void run_job(void *ctx, void (*job)(void *, std::size_t)) {
        job_ctx_ = ctx;
        job_ = job;
        pending_.store(threads_.size(), std::memory_order_relaxed);
        gen_.fetch_add(1, std::memory_order_release);
        gen_.notify_all();
        guarded(0);
        for (int i = 0; pending_.load(std::memory_order_acquire) != 0; ++i) {
            if (i < spins) pause();
            else if (const std::size_t p = pending_.load(std::memory_order_acquire); p != 0) pending_.wait(p, std::memory_order_acquire);
        }
        for (auto &e : errors_)
            if (e) {
                std::exception_ptr first = e;
                for (auto &x : errors_) x = nullptr;
                std::rethrow_exception(first);
            }
    }
    /// About 20 to 50 µs of spinning before a member sleeps: long enough to span the gap between
    /// two steps (an optimizer update), short enough not to hold a core while the caller is away.
    static constexpr int spins = 20000;
    static void pause() {
#if defined(__x86_64__) || defined(__i386__)
        _mm_pause();
#endif
    }
    void guarded(std::size_t t) {
        try {
            job_(job_ctx_, t);
        } catch (...) {
            errors_[t] = std::current_exception();
        }
    }
    void serve(std::size_t t) {
        std::uint64_t seen = 0;
        for (;;) {
            for (int i = 0; gen_.load(std::memory_order_acquire) == seen; ++i) {
                if (i < spins) pause();
                else gen_.wait(seen, std::memory_order_acquire);
            }
            seen = gen_.load(std::memory_order_acquire);
            if (stop_.load(std::memory_order_relaxed)) return;
            guarded(t);
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
        }
    }

    std::vector<std::thread> threads_;
    std::vector<std::exception_ptr> errors_;
    void (*job_)(void *, std::size_t) = nullptr;
    void *job_ctx_ = nullptr;
    std::atomic<std::uint64_t> gen_{0};
    std::atomic<std::size_t> pending_{0};
    std::atomic<bool> stop_{false};
};

} // namespace kink

#pragma once
/// \file
/// Storage of a compiled program: 64-byte aligned buffers and the parameter store (one buffer,
/// one offset per `param` leaf, each parameter padded to a multiple of 16 values).

#include <array>
#include <cstddef>
#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <string_view>

#include <kink/expr/graph.hpp>

namespace kink {

/// The largest rank of a parameter (a convolution's weights: out x in x kh x kw).
inline constexpr std::size_t max_rank = 4;

namespace detail {

/// A buffer of T aligned to 64 bytes; grows, never shrinks.
template <class T> class aligned_buffer {
  public:
    aligned_buffer() = default;
    aligned_buffer(aligned_buffer &&) noexcept = default;
    aligned_buffer &operator=(aligned_buffer &&) noexcept = default;
    aligned_buffer(const aligned_buffer &o) { *this = o; }
    aligned_buffer &operator=(const aligned_buffer &o) {
        if (this != &o) {
            if (n_ < o.n_) {
                p_.reset();
                n_ = 0;
                resize(o.n_);
            }
            if (o.n_) std::memcpy(static_cast<void *>(p_.get()), o.p_.get(), o.n_ * sizeof(T));
        }
        return *this;
    }
    T *data() { return p_.get(); }
    const T *data() const { return p_.get(); }
    std::size_t size() const { return n_; }
    void resize(std::size_t n) {
        if (n <= n_) return;
        std::unique_ptr<T[], deleter> q(static_cast<T *>(::operator new[](n * sizeof(T), std::align_val_t(64))));
        if (n_) std::memcpy(q.get(), p_.get(), n_ * sizeof(T));
        std::memset(static_cast<void *>(q.get() + n_), 0, (n - n_) * sizeof(T));
        p_ = std::move(q);
        n_ = n;
    }

  private:
    struct deleter {
        void operator()(T *p) const { ::operator delete[](p, std::align_val_t(64)); }
    };
    std::unique_ptr<T[], deleter> p_;
    std::size_t n_ = 0;
};

constexpr std::size_t round16(std::size_t n) { return (n + 15) / 16 * 16; }

/// The dimensions of shape S padded with 1 to max_rank.
template <class S> constexpr std::array<std::size_t, max_rank> padded_dims() {
    static_assert(S::rank <= max_rank, "kink: a parameter has more than four dimensions");
    std::array<std::size_t, max_rank> d{1, 1, 1, 1};
    for (std::size_t i = 0; i < S::rank; ++i) d[i] = S::dims[i];
    return d;
}

template <class A, class B> struct concat;
template <class... A, class... B> struct concat<meta::list<A...>, meta::list<B...>> {
    using type = meta::list<A..., B...>;
};
/// The parameters of a node list as a store holds them: the trained ones, then the running
/// statistics, each in topological order.
template <class L> struct params_of;
template <class... N> struct params_of<meta::list<N...>> {
    using trained = meta::filter_t<is_trained_param, meta::list<N...>>;
    using running = meta::filter_t<is_running, meta::list<N...>>;
    using type = typename concat<trained, running>::type;
};
} // namespace detail

/// Name the leaf in the failing condition of a misuse (clang prints a fixed_string as codes).
template <class Name, bool In> struct param_in_store {
    static constexpr bool value = In;
};
template <class Name, bool In> struct leaf_in_graph {
    static constexpr bool value = In;
};

/// Storage for the parameters of a graph (or their gradients): one aligned buffer, one offset
/// per `param` leaf. `p[W1]` is a span over W1's values (row-major).
template <class T, class List> class param_store;
template <class T, class... P> class param_store<T, meta::list<P...>> {
  public:
    static constexpr std::size_t count = sizeof...(P);
    static constexpr std::array<std::size_t, count> sizes{shape_of_t<P>::size...};
    static constexpr std::array<std::size_t, count + 1> offsets = [] {
        std::array<std::size_t, count + 1> o{};
        for (std::size_t i = 0; i < count; ++i) o[i + 1] = o[i] + detail::round16(sizes[i]);
        return o;
    }();
    /// Total number of parameter values (without alignment padding).
    static constexpr std::size_t values = (std::size_t(0) + ... + shape_of_t<P>::size);
    static constexpr std::array<std::string_view, count> names{P::name()...};
    /// Each parameter's rank and dimensions (at most max_rank; the unused trailing dimensions are 1).
    static constexpr std::array<std::size_t, count> ranks{shape_of_t<P>::rank...};
    static constexpr std::array<std::array<std::size_t, max_rank>, count> dims{detail::padded_dims<shape_of_t<P>>()...};

    /// Whether this store holds parameter leaf Q, and where its values start.
    template <class Q> static constexpr bool holds = meta::in_list_v<Q, meta::list<P...>>;
    template <class Q> static constexpr std::size_t offset_of = offsets[meta::index_of<Q, meta::list<P...>>::value];

    /// How many of the parameters are trained: they come first (running statistics after them).
    static constexpr std::size_t trained_count = (std::size_t(0) + ... + std::size_t(P::kind::trained));
    /// Whether parameter i is drawn by the initializers (start_tag parameters and running
    /// statistics keep their starting values), and that value.
    static constexpr std::array<bool, count + 1> drawn{P::kind::drawn..., false};
    static constexpr std::array<int, count + 1> start{P::kind::start..., 0};

    /// Every parameter at its starting value: 0, or the V of its start_tag or running_tag (a
    /// store of gradients holds the same; a step writes the trained parameters' entries).
    param_store() {
        buf_.resize(offsets[count] + 1);
        restart(true);
    }
    /// Sets the parameters that are not drawn to their starting values (all of them with
    /// `running`, else only the trained ones).
    void restart(bool running) {
        for (std::size_t i = 0; i < (running ? count : trained_count); ++i)
            if (!drawn[i]) std::fill(buf_.data() + offsets[i], buf_.data() + offsets[i] + sizes[i], static_cast<T>(start[i]));
    }

    template <expression X> std::span<T> operator[](const X &) {
        static_assert(param_in_store<typename detail::leaf_name_chars<graph_t<X>>::type, meta::in_list_v<graph_t<X>, list>>::value,
                      "kink: param_store[p]: p is not a parameter of this program (param_in_store<its name>)");
        return at<meta::index_of<graph_t<X>, list>::value>();
    }
    template <expression X> std::span<const T> operator[](const X &) const {
        constexpr std::size_t i = meta::index_of<graph_t<X>, list>::value;
        return {buf_.data() + offsets[i], sizes[i]};
    }
    template <std::size_t I> std::span<T> at() { return {buf_.data() + offsets[I], sizes[I]}; }
    /// Every value including the zero padding between parameters.
    std::span<T> flat() { return {buf_.data(), offsets[count]}; }
    std::span<const T> flat() const { return {buf_.data(), offsets[count]}; }
    /// The trained parameters' values including their padding: what an optimizer updates.
    std::span<T> trained() { return {buf_.data(), offsets[trained_count]}; }
    std::span<const T> trained() const { return {buf_.data(), offsets[trained_count]}; }
    T *data() { return buf_.data(); }
    const T *data() const { return buf_.data(); }

  private:
    using list = meta::list<P...>;
    detail::aligned_buffer<T> buf_;
};

} // namespace kink

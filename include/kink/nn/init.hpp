#pragma once
/// \file
/// Parameter initializers for compiled programs. A parameter's fan-in and fan-out come from the
/// product it belongs to (as its matrix, or as the bias added to it): `Program::fan_in`,
/// `Program::fan_out`. Deterministic for a seed on every platform: std::mt19937_64 with the
/// uniform and normal draws written here (the standard distributions are
/// implementation-defined).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <type_traits>
#include <utility>

namespace kink::nn {

namespace detail {
/// Uniform in [lo, hi) from 53 random bits.
inline double uniform01(std::mt19937_64 &rng) { return double(rng() >> 11) * 0x1p-53; }
/// Standard normal by Box-Muller.
inline double normal01(std::mt19937_64 &rng) {
    const double u1 = 1.0 - uniform01(rng), u2 = uniform01(rng);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}
/// f(values, fan_in, fan_out, is_matrix) for each parameter the initializers draw; the others
/// (a normalisation's scale and shift, running statistics) are set to their starting values.
template <class Program, class Store, class F> void each_param(Store &params, F &&f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (void)std::initializer_list<int>{0, (Store::drawn[I] ? f(params.template at<I>(), Program::fan_in[I], Program::fan_out[I], Store::ranks[I] >= 2) : void(), 0)...};
    }(std::make_index_sequence<Store::count>{});
    params.restart(false);
}
} // namespace detail

/// PyTorch's default for nn.Linear: weights and biases of a product with fan-in k from
/// U(-1/sqrt(k), 1/sqrt(k)) (kaiming_uniform with a = sqrt(5) gives exactly this bound).
template <class Program, class Store> void init_uniform_fan_in(const Program &, Store &params, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    detail::each_param<Program>(params, [&](auto span, std::size_t fan_in, std::size_t, bool) {
        const double bound = 1.0 / std::sqrt(double(fan_in));
        for (auto &v : span) v = static_cast<std::remove_reference_t<decltype(v)>>((2 * detail::uniform01(rng) - 1) * bound);
    });
}

/// He (Kaiming) normal for ReLU networks: weights N(0, 2 / fan_in), biases 0.
template <class Program, class Store> void init_he(const Program &, Store &params, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    detail::each_param<Program>(params, [&](auto span, std::size_t fan_in, std::size_t, bool matrix) {
        const double sd = std::sqrt(2.0 / double(fan_in));
        for (auto &v : span) v = static_cast<std::remove_reference_t<decltype(v)>>(matrix ? sd * detail::normal01(rng) : 0.0);
    });
}

/// Glorot (Xavier) uniform: weights U(-b, b) with b = sqrt(6 / (fan_in + fan_out)), biases 0.
template <class Program, class Store> void init_glorot(const Program &, Store &params, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    detail::each_param<Program>(params, [&](auto span, std::size_t fan_in, std::size_t fan_out, bool matrix) {
        const double b = std::sqrt(6.0 / double(fan_in + fan_out));
        for (auto &v : span) v = static_cast<std::remove_reference_t<decltype(v)>>(matrix ? (2 * detail::uniform01(rng) - 1) * b : 0.0);
    });
}

} // namespace kink::nn

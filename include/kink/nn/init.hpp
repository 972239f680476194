#pragma once
/// \file
/// Parameter initializers for compiled programs.

#include <cmath>
#include <cstddef>
#include <random>
#include <type_traits>
#include <utility>

namespace kink::nn {

/// PyTorch's default for nn.Linear: every weight and bias of a product with fan-in k drawn from
/// U(-1/sqrt(k), 1/sqrt(k)) (kaiming_uniform with a = sqrt(5)); other parameters use their own
/// size as k. Deterministic for a given seed (std::mt19937).
template <class Program, class Store> void init_uniform_fan_in(const Program &, Store &params, unsigned seed) {
    std::mt19937 rng(seed);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (
            [&] {
                const double bound = 1.0 / std::sqrt(double(Program::fan_in[I]));
                std::uniform_real_distribution<double> u(-bound, bound);
                for (auto &v : params.template at<I>()) v = static_cast<std::remove_reference_t<decltype(v)>>(u(rng));
            }(),
            ...);
    }(std::make_index_sequence<Store::count>{});
}

} // namespace kink::nn

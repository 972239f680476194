#pragma once
// A naive reference interpreter for tensor expressions, independent of exec/program.hpp: one
// sample at a time, every node recomputed recursively with plain loops in double, no fusion, no
// GEMM, no planned storage. Its gradients are central finite differences of its loss.

#include <cmath>
#include <cstddef>
#include <span>
#include <tuple>
#include <vector>

#include <kink/exec/program.hpp>

namespace ref {
using namespace kink;

template <class Root, class Params, class... B> struct reference {
    const pool_t<Root> &pool;
    const Params &p;
    std::tuple<const B &...> b;
    std::size_t batch;

    template <class L> auto binding() const {
        constexpr bool hit[] = {KINK_SAME(typename B::leaf, L)...};
        constexpr std::size_t k = [&] {
            for (std::size_t i = 0; i < sizeof...(B); ++i)
                if (hit[i]) return i;
            return sizeof...(B);
        }();
        return std::get<k>(b).value;
    }

    template <class G> std::vector<double> value(std::size_t s) const {
        using S = shape_of_t<G>;
        if constexpr (is_param_v<G>) {
            const auto v = p[ex<G>{}];
            return {v.begin(), v.end()};
        } else if constexpr (is_input_v<G>) {
            const auto v = binding<G>();
            return {v.begin() + s * S::size, v.begin() + (s + 1) * S::size};
        } else if constexpr (is_label_v<G>) {
            return {double(binding<G>()[s])};
        } else if constexpr (is_lit_v<G>) {
            return {G::template value<double>()};
        } else if constexpr (is_rconst_v<G>) {
            return {pool[meta::index_of<G, rconsts_t<Root>>::value]};
        } else {
            return node<G>(s, std::type_identity<G>{});
        }
    }

    template <class G, class Op, class... A> std::vector<double> node(std::size_t s, std::type_identity<kink::node<Op, A...>>) const {
        using S = shape_of_t<G>;
        const std::array<std::vector<double>, sizeof...(A)> a{value<A>(s)...};
        std::vector<double> out(S::size);
        if constexpr (KINK_SAME(Op, matmul_op)) {
            using SA = shape_of_t<meta::at_t<0, meta::list<A...>>>;
            const std::size_t m = SA::dims[0], k = SA::dims[1];
            for (std::size_t i = 0; i < m; ++i) {
                double acc = 0;
                for (std::size_t j = 0; j < k; ++j) acc += a[0][i * k + j] * a[1][j];
                out[i] = acc;
            }
        } else if constexpr (KINK_SAME(Op, transpose_op)) {
            const std::size_t r = S::dims[0], c = S::dims[1];
            for (std::size_t i = 0; i < r; ++i)
                for (std::size_t j = 0; j < c; ++j) out[i * c + j] = a[0][j * r + i];
        } else if constexpr (KINK_SAME(Op, sum_op) || KINK_SAME(Op, mean_op)) {
            double acc = 0;
            for (double v : a[0]) acc += v;
            out[0] = KINK_SAME(Op, mean_op) ? acc / double(a[0].size()) : acc;
        } else if constexpr (detail::is_max_reduce_v<Op>) {
            double m = a[0][0];
            for (double v : a[0]) m = std::max(m, v);
            out[0] = m;
        } else if constexpr (KINK_SAME(Op, softmax_op) || KINK_SAME(Op, log_softmax_op)) {
            double m = a[0][0], z = 0;
            for (double v : a[0]) m = std::max(m, v);
            for (double v : a[0]) z += std::exp(v - m);
            for (std::size_t j = 0; j < out.size(); ++j)
                out[j] = KINK_SAME(Op, softmax_op) ? std::exp(a[0][j] - m) / z : a[0][j] - m - std::log(z);
        } else if constexpr (KINK_SAME(Op, softmax_ce_op)) {
            double z = 0;
            for (double v : a[0]) z += std::exp(v);
            out[0] = std::log(z) - a[0][std::size_t(a[1][0])];
        } else {
            for (std::size_t j = 0; j < out.size(); ++j)
                out[j] = [&]<std::size_t... I>(std::index_sequence<I...>) {
                    return Op::eval((a[I].size() == 1 ? a[I][0] : a[I][j])...);
                }(std::make_index_sequence<sizeof...(A)>{});
        }
        return out;
    }

    template <class G> double loss() const {
        double acc = 0;
        const std::size_t n = batched_v<G> ? batch : 1;
        for (std::size_t s = 0; s < n; ++s) acc += value<G>(s)[0];
        return acc / double(n);
    }
};

template <class L, class Params, class... B> double loss(const L &e, const Params &p, std::size_t batch, const B &...b) {
    using G = graph_t<L>;
    return reference<G, Params, B...>{e.pool, p, {b...}, batch}.template loss<G>();
}

} // namespace ref

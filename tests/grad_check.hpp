#pragma once
// The gradient check every tensor-program test uses: central differences over each value of each
// parameter of a store (the padding between parameters skipped). With h = 1e-6 in double the
// truncation error is about h^2 |f'''| ~ 1e-12 and the rounding error eps |f| / h ~ 1e-10, so a
// tolerance of 1e-7 on the worst entry leaves margin for the losses these tests build.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>

namespace test_data {
struct central_result {
    double worst = 0;        ///< max |gradient - central difference|
    std::size_t checked = 0; ///< entries compared
};
/// Compares g (the gradient at p) with (loss_at(p + h e_k) - loss_at(p - h e_k)) / 2h for every
/// parameter value k of p; p is restored.
template <class Store, class F> central_result central_differences(Store &p, Store &g, F &&loss_at, double h = 1e-6) {
    central_result r;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (
            [&] {
                auto pv = p.template at<I>();
                const auto gv = g.template at<I>();
                for (std::size_t k = 0; k < pv.size(); ++k) {
                    const double v = pv[k];
                    pv[k] = v + h;
                    const double up = loss_at(p);
                    pv[k] = v - h;
                    const double down = loss_at(p);
                    pv[k] = v;
                    r.worst = std::max(r.worst, std::abs(double(gv[k]) - (up - down) / (2 * h)));
                    ++r.checked;
                }
            }(),
            ...);
    }(std::make_index_sequence<Store::count>{});
    return r;
}
} // namespace test_data

// Finite differences for every activation's first and second derivatives (the second by
// differences of the first, grad(f, x) being an expression), at random points (fd_check.hpp).
// In the portable build only: the checks that eval and value_and_grad agree to 4 eps assume
// both round alike, which -march=native's FMA contraction does not promise near a zero.
#include <boost/hana/for_each.hpp>
#include <boost/hana/tuple.hpp>

#include "fd_check.hpp"

using namespace kink;

TEST_CASE("finite differences: the activations' first and second derivatives") {
    fd::checks = fd::skipped = 0;
    constexpr auto x = fd::x;
    constexpr auto y = fd::y;
    namespace hana = boost::hana;
    const auto ops = hana::make_tuple(
        hardsigmoid(x * 2_c) * y, hardswish(x * 2_c + y), elu(x - y), elu(x * y, 0.5_c), elu(x, constant<"a">(1.5)),
        selu(x - y), celu(x * 2_c, 0.5_c) + y, softshrink(x * y), softshrink(x, 0.25_c) * y, hardshrink(x - y) * y,
        threshold(x * y, 0.5_c, 2_c), silu(x * y), gelu(x * 3_c - y), gelu_tanh(x * 3_c - y), mish(x * 2_c + y),
        softsign(x * y), normal_cdf(x * y), normal_pdf(x + y));
    hana::for_each(ops, [&](const auto &f) {
        fd::check_random(f, 7, 20);
        fd::check_random(grad(f, x), 8, 20); // the second derivative, by differences of the first
    });
    MESSAGE("activation checks: ", fd::checks, ", points skipped near a kink: ", fd::skipped);
    CHECK(fd::checks >= 2 * 18 * 30);
}


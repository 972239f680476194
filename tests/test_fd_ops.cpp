// Finite differences for every op at random points in its domain (see fd_check.hpp).
#include <boost/hana/for_each.hpp>
#include <boost/hana/tuple.hpp>

#include "fd_check.hpp"

using namespace kink;
using namespace fd;

TEST_CASE("finite differences: every op, at random points in its domain") {
    checks = skipped = 0;
    namespace hana = boost::hana;
    const auto ops = hana::make_tuple(
        x + y, x - y, x * y, x / (y + 3_c), -x, pow<3>(x), pow<-2>(x + 3_c), pow<2>(x) * y,
        exp(x), log(x + 3_c), sqrt(x + 3_c), tanh(x * y), sigmoid(x - y), softplus(x * 3_c), sin(x * y), cos(x + y),
        relu(x - y), leaky_relu(x - y, 0.2_c), leaky_relu(x, constant<"a">(0.3)), relu6(x * 4_c), hardtanh(x * y),
        abs(x - y), sign(x) * y, step(x) * y, max(x, y), min(x, y), clamp(x, y, y + 1_c), clamp(x * 2_c, -1_c, y + 1_c),
        x * constant<"c">(1.5) + y);
    hana::for_each(ops, [](const auto &f) { check_random(f, 42, 20); });
    MESSAGE("op checks: ", checks, ", points skipped near a kink: ", skipped);
    CHECK(checks >= 2 * 20 * 29);
}


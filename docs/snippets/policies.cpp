// Concepts: the derivative at a kink is chosen by a policy tag in the node's type. Presets
// reproduce frameworks; runtime<Name> reads the value at run time; count<P> counts exact hits; trap refuses to differentiate at a kink.
#include <kink/kink.hpp>
using namespace kink;

int main() {
    constexpr auto x = var<"x">;
    fmt::print("relu'(0), policy zero: {}\n", eval(grad(relu<policy::zero>(x), x), x = 0.0));
    fmt::print("relu'(0), policy one:  {}\n", eval(grad(relu<policy::one>(x), x), x = 0.0));
    fmt::print("relu'(0), policy half: {}\n", eval(grad(relu<policy::half>(x), x), x = 0.0));
    // runtime<"c">: the value at the kink is the runtime constant c (one program for every c)
    const auto r = relu<policy::runtime<"c">>(x);
    fmt::print("{}\n", to_text(grad(r, x)));
    for (double c : {0.0, 0.3}) fmt::print("relu'(0), policy runtime<c> with c = {}: {}\n", c, eval(grad(with_constant<"c">(r, c), x), x = 0.0));
    const auto f = abs(x) + relu(x);
    fmt::print("d/dx [abs(x) + relu(x)] at 0 under the presets: pytorch {}, jax {}, tensorflow {}\n",
               eval(grad(with_policy<policy::pytorch>(f), x), x = 0.0), eval(grad(with_policy<policy::jax>(f), x), x = 0.0),
               eval(grad(with_policy<policy::tensorflow>(f), x), x = 0.0));
    constexpr auto counted = relu<policy::count<policy::zero>>(x);
    for (double v : {-1.0, 0.0, 0.0, 2.0}) (void)eval(counted, x = v);
    const auto c = kink_hits(counted);
    fmt::print("count<zero>: {} of {} evaluations were exactly on the kink\n", c.hits, c.evals);
    try {
        (void)eval(grad(relu<policy::trap>(x), x), x = 0.0);
    } catch (const kink_error &e) {
        fmt::print("trap: {}\n", e.what());
    }
}

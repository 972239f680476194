// Precision guide: one network, compiled in four scalar types; each program's parameters,
// gradients, inputs and stored values are of its type.
#include <cstdio>
#include <vector>

#include <kink/kink.hpp>
using namespace kink;

constexpr auto x = input<"x", 2>;
constexpr auto t = input<"t", 1>;
constexpr auto W = param<"W", 1, 2>;
constexpr auto b = param<"b", 1>;
constexpr auto loss = mse(W * relu(x) + b, t);

template <class Net, class T> void one_step(const char *name, Net net) {
    auto p = net.make_params(), g = net.make_params();
    p[W][0] = T(0.5f), p[W][1] = T(-0.25f), p[b][0] = T(0.1f);
    const std::vector<T> xs{T(1.f), T(2.f)}, ts{T(0.3f)};
    const T l = net.step(p, g, x = std::span(xs), t = std::span(ts));
    std::printf("%-9s loss %.10g  dL/db %.10g\n", name, double(l), double(g[b][0]));
}

int main() {
    one_step<decltype(compile<double>(loss)), double>("double", compile<double>(loss));
    one_step<decltype(compile(loss)), float>("float", compile(loss)); // float, the default
    one_step<decltype(compile<float16>(loss)), float16>("float16", compile<float16>(loss)); // IEEE 754 binary16
    one_step<decltype(compile<bfloat16>(loss)), bfloat16>("bfloat16", compile<bfloat16>(loss));
}

// A small network trained end to end with one compiled step: a 2-32-32-1 ReLU MLP fits
// y = sin(3 u0) cos(2 u1) on [-1, 1]^2 with Adam. Prints the loss as it falls, the program's
// configuration (instruction set, where the bias enters, FMA), and how many first-layer
// pre-activations landed exactly on relu's kink. Exits non-zero if the loss did not fall 10x.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <kink/kink.hpp>
#include <kink/nn/init.hpp>
#include <kink/nn/optim.hpp>

#include "networks.hpp"

using namespace kink;

using namespace nets::regression;

int main(int argc, char **argv) {
    const int steps = argc > 1 ? std::atoi(argv[1]) : 3000;
    constexpr std::size_t batch = 64;

    const auto hidden = nets::regression::hidden(); // relu<count<zero>>(W1 u + b1): counts exact zeros
    const auto out = nets::regression::out();
    auto net = compile(mse(out, t));
    fmt::print("loss  = {}\nkernels: {}, bias added {}, {} multiply-add\n", to_text(mse(out, t)), gemm::isa,
               decltype(net)::options.bias == bias_at::end ? "after the sum" : "first",
               decltype(net)::options.fma == contraction::fused ? "fused" : "separate");

    auto params = net.make_params(), grads = net.make_params();
    nn::init_uniform_fan_in(net, params, 1);
    nn::adam<float> opt;
    opt.lr = 3e-3f;

    std::mt19937 rng(7);
    std::uniform_real_distribution<float> coord(-1.f, 1.f);
    std::vector<float> us(batch * 2), ts(batch);
    float first = 0, recent = 0;
    for (int step = 0; step < steps; ++step) {
        for (std::size_t i = 0; i < batch; ++i) {
            us[2 * i] = coord(rng);
            us[2 * i + 1] = coord(rng);
            ts[i] = std::sin(3 * us[2 * i]) * std::cos(2 * us[2 * i + 1]);
        }
        const float loss = net.step(params, grads, u = std::span(us), t = std::span(ts));
        opt.step(params, grads);
        if (step == 0) first = loss;
        recent = step < 100 ? loss : 0.99f * recent + 0.01f * loss;
        if (step % (steps / 6) == 0 || step == steps - 1) fmt::print("step {:5d}  loss {:.5f}\n", step, loss);
    }
    const auto hits = kink_hits(hidden);
    fmt::print("first-layer pre-activations exactly 0: {} of {} (relu'(0) = 0 was used for them)\n", hits.hits,
               hits.evals);
    fmt::print("loss: first {:.4f}, smoothed last {:.5f}\n", first, recent);
    return recent < first / 10 ? 0 : 1;
}

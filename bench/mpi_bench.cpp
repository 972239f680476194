// Data-parallel steps over MPI (kink/dist/mpi.hpp), run under mpirun: case 1's MLP with Adam at
// batch 256 per rank (the whole batch is 256 x ranks), one thread per rank. Rank 0 prints, as
// JSON lines, the median per step of the whole step (with Adam), of the rank's compute
// (step_share), of Adam and of the exchange (the rest: the gradient along the chain of ranks and
// back, the losses gathered, waiting for the slowest rank), and the gradient's size. usage: mpirun -np R mpi_bench [repetitions]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <kink/dist/mpi.hpp>
#include <kink/kink.hpp>
#include <kink/nn/init.hpp>
#include <kink/nn/optim.hpp>

using namespace kink;

int main(int argc, char **argv) {
    kink::mpi::world w;
    const int reps = argc > 1 ? std::max(3, std::atoi(argv[1])) : 9;
    constexpr auto x = input<"x", 784>;
    constexpr auto y = label<"y", 10>;
    constexpr auto W1 = param<"W1", 256, 784>;
    constexpr auto b1 = param<"b1", 256>;
    constexpr auto W2 = param<"W2", 128, 256>;
    constexpr auto b2 = param<"b2", 128>;
    constexpr auto W3 = param<"W3", 10, 128>;
    constexpr auto b3 = param<"b3", 10>;
    auto net = compile(softmax_cross_entropy(W3 * relu(W2 * relu(W1 * x + b1) + b2) + b3, y));
    const std::size_t B = 256 * std::size_t(w.size());
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0, 1);
    std::vector<float> xs(B * 784);
    for (auto &v : xs) v = u(rng);
    std::vector<int> ys(B);
    for (std::size_t i = 0; i < B; ++i) ys[i] = int(i * 7 % 10);
    auto p = net.make_params(), g = net.make_params();
    nn::init_uniform_fan_in(net, p, 0);
    nn::adam<float> opt;
    net.reserve(B);
    using clock = std::chrono::steady_clock;
    std::vector<double> whole, compute, update, exchange;
    for (int r = 0; r < reps + 2; ++r) {
        constexpr int inner = 20;
        double c = 0, a = 0;
        w.barrier();
        const auto t0 = clock::now();
        for (int i = 0; i < inner; ++i) {
            // the compute alone, as mpi::step runs it, then the whole step (compute + exchange)
            const auto c0 = clock::now();
            net.step_share(p, g, std::size_t(w.rank()), std::size_t(w.size()), x = std::span(xs), y = std::span(ys));
            c += std::chrono::duration<double>(clock::now() - c0).count();
            kink::mpi::step(w, net, p, g, x = std::span(xs), y = std::span(ys));
            const auto a0 = clock::now();
            opt.step(p, g);
            a += std::chrono::duration<double>(clock::now() - a0).count();
        }
        const double t = std::chrono::duration<double>(clock::now() - t0).count();
        if (r >= 2) whole.push_back((t - c) / inner), compute.push_back(c / inner), update.push_back(a / inner),
                        exchange.push_back((t - 2 * c - a) / inner);
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    const double step = median(whole), comp = median(compute), adam = median(update), ex = median(exchange);
    if (w.rank() == 0)
        std::printf("{\"case\":\"mpi_mlp_784_256_128_10_b256_per_rank\",\"impl\":\"kink\",\"ranks\":%d,\"metric\":\"us_per_step\","
                    "\"value\":%.1f,\"compute_us\":%.1f,\"exchange_us\":%.1f,\"adam_us\":%.1f,\"gradient_bytes\":%zu,\"samples_per_s\":%.0f}\n",
                    w.size(), step * 1e6, comp * 1e6, ex * 1e6, adam * 1e6, g.flat().size() * sizeof(float),
                    double(B) / step);
    return 0;
}

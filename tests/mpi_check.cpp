// Data-parallel steps over MPI (kink/dist/mpi.hpp): trains an MLP (float, double), a CNN and a
// residual CNN with batch normalisation (float, double: its batch statistics are exchanged between
// the ranks, its running statistics updated) a few steps and prints, on rank 0, one line per network with a hash of the final parameters, the
// last gradient and the losses. Run alone it also trains each network with program::step and
// prints that line too; tests/mpi_check.py compares the lines of runs under mpirun -np 1, 2, 3
// and thread counts: they must be equal.
// usage: mpi_check THREADS
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <kink/dist/mpi.hpp>
#include <kink/kink.hpp>

using namespace kink;

namespace {

std::uint64_t fnv(const void *p, std::size_t n, std::uint64_t h = 1469598103934665603ull) {
    const auto *b = static_cast<const unsigned char *>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

constexpr auto x = input<"x", 30>;
constexpr auto y = label<"y", 4>;
constexpr auto W1 = param<"W1", 40, 30>;
constexpr auto b1 = param<"b1", 40>;
constexpr auto W2 = param<"W2", 4, 40>;
constexpr auto b2 = param<"b2", 4>;
constexpr auto img = input<"img", 1, 10, 10>;
constexpr auto C1 = param<"C1", 3, 1, 3, 3>;
constexpr auto d1 = param<"d1", 3>;
constexpr auto F = param<"F", 4, 75>;
constexpr auto f = param<"f", 4>;
constexpr auto C2 = param<"C2", 3, 3, 3, 3>;
constexpr auto G = param<"G", 4, 3>;
constexpr auto g0 = param<"g0", 4>;

template <class T, class Net, class X>
void run(const kink::mpi::world &w, const char *name, Net net, X leaf, std::size_t size, std::size_t threads, bool mpi) {
    net.threads(threads);
    constexpr std::size_t batch = 100; // chunks of 32, 32, 32 and 4
    std::mt19937 rng(4);
    std::uniform_real_distribution<double> u(-0.5, 0.5);
    std::vector<T> xs(batch * size);
    for (auto &v : xs) v = T(u(rng));
    std::vector<int> ys(batch);
    for (std::size_t i = 0; i < batch; ++i) ys[i] = int(i * 3 % 4);
    auto p = net.make_params(), g = net.make_params();
    for (auto &v : p.flat()) v = T(u(rng));
    std::uint64_t h = fnv(nullptr, 0);
    for (int s = 0; s < 4; ++s) {
        const T l = mpi ? kink::mpi::step(w, net, p, g, leaf = std::span(xs), y = std::span(ys))
                        : net.step(p, g, leaf = std::span(xs), y = std::span(ys));
        h = fnv(&l, sizeof l, h);
        for (std::size_t i = 0; i < p.flat().size(); ++i) p.flat()[i] -= T(0.1) * g.flat()[i];
    }
    h = fnv(p.data(), p.flat().size() * sizeof(T), h);
    h = fnv(g.data(), g.flat().size() * sizeof(T), h);
    if (w.rank() == 0) std::printf("%s%s %016llx\n", name, mpi ? "" : " (program::step)", static_cast<unsigned long long>(h));
}

} // namespace

int main(int argc, char **argv) {
    kink::mpi::world w;
    const std::size_t threads = argc > 1 ? std::size_t(std::atoi(argv[1])) : 1;
    const auto mlp = softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y);
    const auto cnn = softmax_cross_entropy(F * flatten(max_pool2d<pool2d{2}>(relu(conv2d<conv{.padding = 1}>(img, C1, d1)))) + f, y);
    // batch norm on both paths of a residual block (its statistics span every rank's samples)
    const auto h = relu(nn::batch_norm<"bn1">(conv2d<conv{.padding = 1}>(img, C1)));
    const auto bn = softmax_cross_entropy(
        G * global_avg_pool(relu(nn::batch_norm<"bn2">(conv2d<conv{.padding = 1}>(h, C2)) + nn::batch_norm<"bn3">(h))) + g0, y);
    for (bool mpi : {true, false}) {
        if (!mpi && w.size() > 1) break;
        run<float>(w, "mlp float", compile<float>(mlp), x, 30, threads, mpi);
        run<double>(w, "mlp double", compile<double>(mlp), x, 30, threads, mpi);
        run<float>(w, "cnn float", compile<float>(cnn), img, 100, threads, mpi);
        run<float>(w, "batch-norm cnn float", compile<float>(bn), img, 100, threads, mpi);
        run<double>(w, "batch-norm cnn double", compile<double>(bn), img, 100, threads, mpi);
    }
    return 0;
}

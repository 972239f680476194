// LibTorch C++ peer (Debian's libtorch-dev): case 1's training step, case 2's tiny step,
// case 5's LeNet-5 step, case 6's convolution and case 4's inference (batch 1 and 64) without Python, one thread, the same shapes and
// hyperparameters as bench/kink_bench.cpp. One JSON line per measurement (median).
// Built and run by bench/run when /usr/include/torch exists (tools/install-deps --peers).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {
int reps = 9;
template <class F> double median_seconds(F &&f, int inner) {
    for (int i = 0; i < std::max(2, inner / 10); ++i) f();
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < inner; ++i) f();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / inner);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}
void emit(const char *cas, const char *metric, double value) {
    std::printf("{\"case\":\"%s\",\"impl\":\"libtorch\",\"metric\":\"%s\",\"value\":%.4g,\"torch\":\"%s\"}\n", cas, metric, value,
                TORCH_VERSION);
    std::fflush(stdout);
}
torch::nn::Sequential mlp(std::vector<long> sizes) {
    torch::nn::Sequential s;
    for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
        s->push_back(torch::nn::Linear(sizes[i], sizes[i + 1]));
        if (i + 2 < sizes.size()) s->push_back(torch::nn::ReLU());
    }
    return s;
}
} // namespace

int main(int argc, char **argv) {
    if (argc > 1) reps = std::max(3, std::atoi(argv[1]));
    torch::set_num_threads(1);
    torch::manual_seed(0);
    {
        auto net = mlp({784, 256, 128, 10});
        torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
        auto x = torch::rand({64, 784});
        auto y = torch::randint(0, 10, {64}, torch::kLong);
        const double s = median_seconds(
            [&] {
                opt.zero_grad();
                auto loss = torch::nn::functional::cross_entropy(net->forward(x), y);
                loss.backward();
                opt.step();
            },
            100);
        emit("mlp_784_256_128_10_b64", "samples_per_s", 64 / s);
        net->eval();
        for (long b : {1L, 64L}) {
            auto xb = torch::rand({b, 784});
            const double f = median_seconds(
                [&] {
                    torch::InferenceMode guard;
                    auto z = net->forward(xb);
                },
                b == 1 ? 5000 : 500);
            emit(b == 1 ? "mlp_784_256_128_10_forward_b1" : "mlp_784_256_128_10_forward_b64", "us_per_call", f * 1e6);
        }
    }
    {
        auto net = mlp({2, 16, 16, 1});
        torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
        auto u = torch::rand({32, 2}), t = torch::rand({32, 1});
        const double s = median_seconds(
            [&] {
                opt.zero_grad();
                auto loss = torch::mse_loss(net->forward(u), t);
                loss.backward();
                opt.step();
            },
            2000);
        emit("mlp_2_16_16_1_b32", "us_per_step", s * 1e6);
    }
    {
        torch::nn::Sequential lenet(torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 6, 5).padding(2)), torch::nn::ReLU(),
                                    torch::nn::MaxPool2d(2), torch::nn::Conv2d(torch::nn::Conv2dOptions(6, 16, 5)), torch::nn::ReLU(),
                                    torch::nn::MaxPool2d(2), torch::nn::Flatten(), torch::nn::Linear(400, 120), torch::nn::ReLU(),
                                    torch::nn::Linear(120, 84), torch::nn::ReLU(), torch::nn::Linear(84, 10));
        torch::optim::Adam opt(lenet->parameters(), torch::optim::AdamOptions(1e-3));
        auto x = torch::rand({64, 1, 28, 28});
        auto y = torch::randint(0, 10, {64}, torch::kLong);
        const double s = median_seconds(
            [&] {
                opt.zero_grad();
                auto loss = torch::nn::functional::cross_entropy(lenet->forward(x), y);
                loss.backward();
                opt.step();
            },
            20);
        emit("lenet5_b64", "samples_per_s", 64 / s);
    }
    {
        torch::nn::Conv2d conv(torch::nn::Conv2dOptions(64, 64, 3).padding(1).bias(false));
        auto x = torch::rand({32, 64, 28, 28}).requires_grad_(true);
        const double s = median_seconds(
            [&] {
                conv->zero_grad();
                x.mutable_grad() = torch::Tensor();
                conv->forward(x).sum().backward();
            },
            3);
        emit("conv3x3_64_28x28_b32", "gflop_per_s", 3.0 * 2 * 32 * 64 * 64 * 9 * 784 / s / 1e9);
    }
}

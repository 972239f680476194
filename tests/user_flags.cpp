// kink's headers inside a user's translation unit with the user's own strict warnings
// (-Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror, any -O level): everything a user
// instantiates in a first program — printers, scalar derivatives, a compiled step in float,
// double and the 16-bit formats, optimizers, data, files — must compile without a warning.
// tests/meson.build compiles this file with g++ and clang++ at -O0, -O2 and -O3 (-march=native).
#include <kink/kink.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

using namespace kink;

namespace {
constexpr auto x = input<"x", 8>;
constexpr auto y = label<"y", 3>;
constexpr auto W1 = param<"W1", 16, 8>;
constexpr auto b1 = param<"b1", 16>;
constexpr auto W2 = param<"W2", 3, 16>;
constexpr auto b2 = param<"b2", 3>;
constexpr auto logits = W2 * relu(W1 * x + b1) + b2;
constexpr auto loss = softmax_cross_entropy(logits, y);

template <class T> int train_a_little() {
    auto net = compile<T>(loss);
    auto params = net.make_params(), grads = net.make_params();
    nn::init_uniform_fan_in(net, params, 1);
    nn::adam<T> opt;
    if constexpr (is_narrow_v<T>) opt.eps = 1e-3f; // 1e-8 is below float16's range: see docs/site/guide-precision.md
    std::vector<T> xs(4 * 8);
    for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = T(float(i % 7) / 7.0f - 0.5f);
    std::vector<std::int32_t> ys{0, 1, 2, 1};
    T l{};
    for (int s = 0; s < 3; ++s) {
        l = net.step(params, grads, x = std::span<const T>(xs), y = std::span<const std::int32_t>(ys));
        opt.step(params, grads);
    }
    auto predict = compile_forward<T>(logits);
    const auto out = predict(params, x = std::span<const T>(xs));
    if (!(float(l) == float(l)) || out.size() != 12) std::fprintf(stderr, "scalar of %zu bytes: loss %g, %zu outputs\n", sizeof(T), double(float(l)), out.size());
    if constexpr (KINK_SAME(T, float)) { // files: checkpoint, curves
        const std::string dir = std::filesystem::temp_directory_path() / ("kink_user_flags_" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        nn::save_checkpoint(dir + "/c.safetensors", net, params, opt, {{"note", "user flags"}});
        auto p2 = net.make_params();
        nn::adam<T> o2;
        nn::load_checkpoint(dir + "/c.safetensors", net, p2, o2);
        nn::save_model(dir + "/m.safetensors", net, params);
        nn::load_model(dir + "/m.safetensors", net, p2);
        std::vector<io::epoch_record> history{{1, 0.5, 0.5, 0.5, 0.5, 1.0}};
        io::write_csv(dir + "/curves.csv", history);
        io::write_training_svg(dir + "/curves.svg", history, "user flags");
        const bool same = std::equal(p2.flat().begin(), p2.flat().end(), params.flat().begin());
        std::filesystem::remove_all(dir);
        if (!same) return 1;
    }
    return float(l) == float(l) && out.size() == 12 ? 0 : 1;
}
} // namespace

int main() {
    constexpr auto a = var<"a">;
    constexpr auto b = var<"b">;
    const auto f = max(relu(a * b) - abs(a), clamp(a, -1.0_c, 1.0_c)) + leaky_relu(b, 0.2_c);
    const auto r = value_and_grad(f, wrt(a, b), a = 0.5, b = -2.0);
    std::string s = fmt::format("{}\n{}\n{}\n", f, latex(grad(f, a)), dot(f));
    s += to_text(loss) + "\n";
    s += to_text(relu<policy::count<policy::zero>>(a) + max<policy::tensorflow>(a, b)) + "\n";
    s += fmt::format("{}\n", grad(relu<policy::count<policy::half>>(a * b), b));
    s += fmt::format("{} {} {}\n", r.value, r[a], r[b]);
    std::fputs(s.c_str(), stdout);

    int bad = train_a_little<float>() + train_a_little<double>() + train_a_little<float16>() + train_a_little<bfloat16>();

    std::vector<float> images(2 * 8, 0.25f);
    std::vector<std::int32_t> labels{1, 2};
    nn::batcher batches(images, labels, 8, 1, 3);
    batches.shuffle(1);
    bad += batches.next() == 1 ? 0 : 1;
    nn::confusion_matrix cm(3);
    nn::progress_bar bar(1, stderr);
    (void)bar;
    std::vector<io::epoch_record> history{{1, 0.5, 0.5, 0.5, 0.5, 1.0}};
    bad += io::csv_text(history).empty() ? 1 : 0;
    return bad;
}

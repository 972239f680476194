// Prints convolution and pooling values and gradients of compiled kink programs, with their
// inputs, for tests/torch_cnn.py to recompute with PyTorch. One line per array:
// `case field v1 v2 ...`, values as hexadecimal floats (exact).

#include <cstdio>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <kink/kink.hpp>

#include "random_data.hpp"

using namespace kink;

namespace {

template <class T> void put(const std::string &name, const std::string &field, std::span<const T> v) {
    std::printf("%s %s", name.c_str(), field.c_str());
    for (T x : v) std::printf(" %a", static_cast<double>(x));
    std::printf("\n");
}
template <class T> void put(const std::string &name, const std::string &field, const std::vector<T> &v) {
    put(name, field, std::span<const T>(v));
}
using test_data::uniform;
/// Values from {0, 1, 2}: most pooling windows have a tied maximum.
std::vector<float> tied(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<float> v(n);
    for (auto &x : v) x = float(rng() % 3);
    return v;
}

constexpr std::size_t B = 3;

/// conv2d with bias and geometry G; loss = sum(flatten(y) * r) (mean over the batch).
template <class T, conv G> void conv_case(const std::string &name) {
    constexpr auto x = input<"x", 2, 7, 7>;
    constexpr auto w = param<"w", 4, 2, 3, 3>;
    constexpr auto b = param<"b", 4>;
    constexpr auto y = conv2d<G>(x, w, b);
    constexpr std::size_t ny = shape_of_t<graph_t<decltype(y)>>::size;
    constexpr auto r = param<"r", ny>;
    const auto loss = sum(hadamard(flatten(y), r));
    auto net = compile<T>(loss, w, b, x);
    auto p = net.make_params(), g = net.make_params();
    const auto wv = uniform<T>(4 * 2 * 9, 1), bv = uniform<T>(4, 2), rv = uniform<T>(ny, 3), xv = uniform<T>(B * 2 * 49, 4);
    std::copy(wv.begin(), wv.end(), p[w].begin());
    std::copy(bv.begin(), bv.end(), p[b].begin());
    std::copy(rv.begin(), rv.end(), p[r].begin());
    net.step(p, g, x = std::span<const T>(xv));
    std::printf("%s geometry %zu %zu %zu %s\n", name.c_str(), G.stride, G.padding, G.dilation, sizeof(T) == 8 ? "float64" : "float32");
    put(name, "x", xv);
    put(name, "w", wv);
    put(name, "b", bv);
    put(name, "r", rv);
    put(name, "y", net.value(y));
    put(name, "dx", net.input_grad(x));
    put(name, "dw", std::span<const T>(g[w]));
    put(name, "db", std::span<const T>(g[b]));
}

/// max_pool2d with geometry G and tie policy P on an image full of ties; the same loss.
template <pool2d G, class P> void max_pool_case(const std::string &name) {
    constexpr auto x = input<"x", 3, 8, 8>;
    constexpr auto y = max_pool2d<G, P>(x);
    constexpr std::size_t ny = shape_of_t<graph_t<decltype(y)>>::size;
    constexpr auto r = param<"r", ny>;
    const auto loss = sum(hadamard(flatten(y), r));
    auto net = compile<float>(loss, x);
    auto p = net.make_params(), g = net.make_params();
    const auto rv = uniform<float>(ny, 5), xv = tied(B * 3 * 64, 6);
    std::copy(rv.begin(), rv.end(), p[r].begin());
    net.step(p, g, x = std::span<const float>(xv));
    std::printf("%s geometry %zu %zu %zu %s\n", name.c_str(), G.kernel, G.step(), G.padding, std::string(policy_label<P>()).c_str());
    put(name, "x", xv);
    put(name, "r", rv);
    put(name, "y", net.value(y));
    put(name, "dx", net.input_grad(x));
}

template <pool2d G> void avg_pool_case(const std::string &name) {
    constexpr auto x = input<"x", 3, 8, 8>;
    constexpr auto y = avg_pool2d<G>(x);
    constexpr std::size_t ny = shape_of_t<graph_t<decltype(y)>>::size;
    constexpr auto r = param<"r", ny>;
    const auto loss = sum(hadamard(flatten(y), r));
    auto net = compile<float>(loss, x);
    auto p = net.make_params(), g = net.make_params();
    const auto rv = uniform<float>(ny, 7), xv = uniform<float>(B * 3 * 64, 8);
    std::copy(rv.begin(), rv.end(), p[r].begin());
    net.step(p, g, x = std::span<const float>(xv));
    std::printf("%s geometry %zu %zu %zu avg\n", name.c_str(), G.kernel, G.step(), G.padding);
    put(name, "x", xv);
    put(name, "r", rv);
    put(name, "y", net.value(y));
    put(name, "dx", net.input_grad(x));
}

/// A small CNN in double: conv (pad 1) -> relu -> max_pool 2 -> (flatten, global average pool) ->
/// dense -> softmax cross-entropy; loss and every gradient.
void cnn_case() {
    constexpr auto x = input<"x", 2, 8, 8>;
    constexpr auto lab = label<"y", 3>;
    constexpr auto w1 = param<"w1", 4, 2, 3, 3>;
    constexpr auto b1 = param<"b1", 4>;
    constexpr auto b2 = param<"b2", 3>;
    constexpr auto h = max_pool2d<pool2d{2}>(relu(conv2d<conv{.padding = 1}>(x, w1, b1))); // 4 x 4 x 4
    // the dense layer sees flatten(h) and global_avg_pool(h), through two products summed
    constexpr auto wa = param<"wa", 3, 64>;
    constexpr auto wb = param<"wb", 3, 4>;
    const auto logits = wa * flatten(h) + wb * global_avg_pool(h) + b2;
    const auto loss = softmax_cross_entropy(logits, lab);
    auto net = compile<double>(loss);
    auto p = net.make_params(), g = net.make_params();
    const auto init = uniform<double>(p.flat().size(), 9);
    std::copy(init.begin(), init.end(), p.flat().begin());
    const auto xv = uniform<double>(B * 128, 10);
    const std::vector<int> yv{2, 0, 1};
    const double l = net.step(p, g, x = std::span<const double>(xv), lab = std::span<const int>(yv));
    std::printf("cnn geometry 0 0 0 float64\n");
    put("cnn", "x", xv);
    put("cnn", "w1", std::span<const double>(p[w1]));
    put("cnn", "b1", std::span<const double>(p[b1]));
    put("cnn", "wa", std::span<const double>(p[wa]));
    put("cnn", "wb", std::span<const double>(p[wb]));
    put("cnn", "b2", std::span<const double>(p[b2]));
    put("cnn", "loss", std::vector<double>{l});
    put("cnn", "dw1", std::span<const double>(g[w1]));
    put("cnn", "db1", std::span<const double>(g[b1]));
    put("cnn", "dwa", std::span<const double>(g[wa]));
    put("cnn", "dwb", std::span<const double>(g[wb]));
    put("cnn", "db2", std::span<const double>(g[b2]));
}

} // namespace

int main() {
    conv_case<double, conv{.stride = 2, .padding = 1}>("conv_s2p1_f64");
    conv_case<double, conv{.padding = 2, .dilation = 2}>("conv_p2d2_f64");
    conv_case<float, conv{.padding = 1}>("conv_p1_f32");
    max_pool_case<pool2d{2}, policy::first>("maxpool_k2_first");
    max_pool_case<pool2d{2}, policy::pytorch>("maxpool_k2_pytorch");
    max_pool_case<pool2d{2}, policy::last>("maxpool_k2_last");
    max_pool_case<pool2d{2}, policy::split>("maxpool_k2_split");
    max_pool_case<pool2d{.kernel = 3, .stride = 2, .padding = 1}, policy::first>("maxpool_k3s2p1_first");
    max_pool_case<pool2d{.kernel = 3, .stride = 2, .padding = 1}, policy::split>("maxpool_k3s2p1_split");
    avg_pool_case<pool2d{2}>("avgpool_k2");
    avg_pool_case<pool2d{.kernel = 3, .stride = 2, .padding = 1}>("avgpool_k3s2p1");
    cnn_case();
}

// Writes a checkpoint of a small network to argv[1] and prints a few of its values as
// `tensor index value` lines, for tests/safetensors_numpy.py to compare with what numpy reads.
#include <cstdio>

#include <kink/kink.hpp>
#include <kink/io/safetensors.hpp>
#include <kink/nn/checkpoint.hpp>
#include <kink/nn/init.hpp>

using namespace kink;

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    constexpr auto x = input<"x", 5>;
    constexpr auto W = param<"W", 4, 5>;
    constexpr auto b = param<"b", 4>;
    auto net = compile(sum(relu(W * x + b)));
    auto p = net.make_params();
    nn::init_uniform_fan_in(net, p, 9);
    std::vector<io::tensor_out> t;
    nn::add_tensors(t, "param.", p, p.data());
    io::write_safetensors(argv[1], t, {{"network", to_text(sum(relu(W * x + b)))}});
    for (std::size_t i : {0u, 7u, 19u}) std::printf("param.W %zu %.9g\n", i, double(p[W][i]));
    std::printf("param.b 3 %.9g\n", double(p[b][3]));
}

// The Fashion-MNIST CNN's program alone (examples/fashion_cnn's network with relu'(0) = 0 and
// max-pool ties to the first maximum): what bench/run compiles to report the compile time and
// memory of one convolutional training step.
#include <kink/core.hpp> // the program alone: no nn:: or io:: helpers

#include "../examples/networks.hpp"

using namespace nets::fashion_cnn;

float train_step(const float *xs, const int *ys, std::size_t batch) {
    static auto net = kink::compile(loss<kink::policy::zero, kink::policy::first>());
    static auto p = net.make_params(), g = net.make_params();
    return net.step(p, g, x = std::span(xs, batch * 784), y = std::span(ys, batch));
}

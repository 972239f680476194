// Exporting a network with an op that has no ONNX form in kink (here huber, a loss) is one error naming
// the op and what to write.
// expect: onnx_form_missing<kink::huber_op
#include <kink/io/onnx.hpp>
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = input<"x", 4>;
    constexpr auto W = param<"fc.weight", 2, 4>;
#ifdef KINK_FAIL
    auto predict = compile_forward(huber(W * x, param<"target", 2>));
#else
    auto predict = compile_forward(W * relu(x));
#endif
    onnx::save("/dev/null", predict, predict.make_params());
}

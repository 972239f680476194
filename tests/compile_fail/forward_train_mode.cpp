// Inference with batch normalisation needs evaluation mode (the running statistics): compiling
// the training-mode graph for inference is one error naming the fix.
// expect: kink: compile_forward: the output is in training mode
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = input<"x", 4>;
    constexpr auto logits = nn::dense<"out", 2>(nn::batch_norm<"bn">(nn::dense<"fc", 4>(x)));
#ifdef KINK_FAIL
    auto predict = compile_forward(logits);
#else
    auto predict = compile_forward(eval_mode(logits));
#endif
    (void)predict;
}

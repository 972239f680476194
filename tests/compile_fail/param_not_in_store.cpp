// Reading a parameter that the program does not have: the one error names it.
// expect: param_in_store<kink::name_chars<'W', '9'>, false>
#include <kink/kink.hpp>
using namespace kink;
int main() {
    constexpr auto x = input<"x", 4>;
    constexpr auto W = param<"W", 3, 4>;
    constexpr auto W9 = param<"W9", 3, 4>;
    auto net = compile(sum(W * x));
    auto p = net.make_params();
#ifdef KINK_FAIL
    auto s = p[W9];
#else
    auto s = p[W];
    (void)W9;
#endif
    (void)s;
}

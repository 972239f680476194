#!/usr/bin/env bash
# Compile time and peak compiler memory of a depth-N composition and its fused value_and_grad,
# with g++ -O2 (override with CXX / CXXFLAGS). One JSON line per depth and kind:
#   chain:  a chain of tanh / relu + sigmoid / softplus / sin levels (a kink every 4th level)
#   shared: u <- sin(u) * u + u, each level using the previous one three times (3^N tree, O(N) graph)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
CXX=${CXX:-g++}
CXXFLAGS=${CXXFLAGS:--O2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for kind in chain shared; do
    for depth in ${DEPTHS:-8 16 32 64}; do
        cat >"$tmp/depth.cpp" <<CPP
#include <kink/kink.hpp>
using namespace kink;
template <int N> constexpr auto chain(const expression auto &u) {
    if constexpr (N == 0) return u;
    else if constexpr (N % 4 == 0) return chain<N - 1>(tanh(u));
    else if constexpr (N % 4 == 1) return chain<N - 1>(relu(u) + sigmoid(u));
    else if constexpr (N % 4 == 2) return chain<N - 1>(softplus(u) * 0.5_c);
    else return chain<N - 1>(sin(u));
}
template <int N> constexpr auto shared(const expression auto &u) {
    if constexpr (N == 0) return u;
    else return shared<N - 1>(sin(u) * u + u);
}
int main(int argc, char **) {
    constexpr auto x = var<"x">;
    const auto r = value_and_grad($kind<$depth>(x), wrt(x), x = 0.1 * argc);
    return r[x] > 1e300;
}
CPP
        out=$( { /usr/bin/time -f "%e %M" "$CXX" -std=c++20 $CXXFLAGS -I"$root/include" -c "$tmp/depth.cpp" -o "$tmp/depth.o"; } 2>&1 | tail -1)
        read -r secs kib <<<"$out"
        printf '{"case":"compile_%s_depth_%d","impl":"kink","compiler":"%s %s","seconds":%s,"peak_mib":%d}\n' \
            "$kind" "$depth" "$CXX" "$CXXFLAGS" "$secs" $((kib / 1024))
    done
done

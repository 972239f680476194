#!/usr/bin/env bash
# Compile time and peak compiler memory by depth, one translation unit each, as JSON lines:
#   residual_mlp: one training step of a residual MLP of N pre-norm blocks (bench/compile/residual_mlp.cpp),
#                 N = 1 2 4 8 16 32 ($BLOCKS)
#   resnet:       one training step of a ResNet-18-shaped CNN, N residual blocks (bench/compile/resnet.cpp),
#                 N = 1 2 4 8 ($RESNET_BLOCKS)
#   chain:        a chain of tanh / relu + sigmoid / softplus / sin levels and its fused value_and_grad
#   shared:       u <- sin(u) * u + u, each level using the previous one three times (3^N tree, O(N) graph)
#                 depth 8 16 32 64 ($DEPTHS)
# with each compiler of $COMPILERS (default "g++ clang++") at $CXXFLAGS (default -O2); $KINDS
# picks the kinds (default: all four). An empty program (the headers and main) is measured
# first as the baseline: "doubling the depth at most doubles the time above it". The documentation's
# benchmarks page draws a saved run (bench/compile_depth.jsonl: the median of three runs of
#   KINDS="residual_mlp resnet" bench/compile_time.sh
# and of CXXFLAGS="-O2 -march=native" BLOCKS="8 32" RESNET_BLOCKS=8 with the same kinds).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
CXXFLAGS=${CXXFLAGS:--O2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
measure() { # compiler, case, source, extra flags...
    local cxx=$1 name=$2 src=$3 out secs kib
    shift 3
    if ! out=$( { /usr/bin/time -f "%e %M" "$cxx" -std=c++20 $CXXFLAGS "$@" -I"$root/include" -c "$src" -o "$tmp/t.o"; } 2>&1); then
        printf '%s\n' "$out" | tail -5 >&2
        printf '{"case":"%s","impl":"kink","compiler":"%s %s","error":"compilation failed"}\n' "$name" "$cxx" "$CXXFLAGS"
        return
    fi
    read -r secs kib <<<"$(printf '%s\n' "$out" | tail -1)"
    printf '{"case":"%s","impl":"kink","compiler":"%s %s","seconds":%s,"peak_mib":%d}\n' "$name" "$cxx" "$CXXFLAGS" "$secs" $((kib / 1024))
}
printf '#include <kink/kink.hpp>\nint main() {}\n' >"$tmp/empty.cpp"
for cxx in ${COMPILERS:-g++ clang++}; do
    measure "$cxx" compile_empty_program "$tmp/empty.cpp"
    for kind in ${KINDS:-residual_mlp resnet chain shared}; do
        case $kind in
        residual_mlp)
            for n in ${BLOCKS:-1 2 4 8 16 32}; do measure "$cxx" "compile_residual_mlp_blocks_$n" "$root/bench/compile/residual_mlp.cpp" -DBLOCKS="$n"; done ;;
        resnet)
            for n in ${RESNET_BLOCKS:-1 2 4 8}; do measure "$cxx" "compile_resnet_blocks_$n" "$root/bench/compile/resnet.cpp" -DBLOCKS="$n"; done ;;
        chain | shared)
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
                measure "$cxx" "compile_${kind}_depth_$depth" "$tmp/depth.cpp"
            done ;;
        *) echo "compile_time.sh: unknown kind '$kind'" >&2; exit 2 ;;
        esac
    done
done

#!/usr/bin/env bash
# Builds and runs tests/consumer/app.cpp the four ways a user consumes kink: installed with
# `meson install --destdir` and found by CMake (find_package + kink::kink), by pkg-config, and by
# meson through pkg-config; and as a meson subproject of the user's project. The user's flags
# are strict (-Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror).
# The installed headers carry a line that warns under the user's flags (see below): each of the
# installed ways must mark kink's include directory as a system include.
# usage: run.sh SOURCE_ROOT BUILD_ROOT
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/root
meson install -C "$build" --no-rebuild --quiet --destdir "$dest" >/dev/null
prefix=$(meson introspect "$build" --buildoptions | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
root=$dest$prefix
pcdir=$(dirname "$(find "$root" -name kink.pc | head -1)")
# A probe of the system-include marking: the installed copy of kink.hpp gets a line that warns
# under -Wconversion. The consumers build with -Werror, so they pass only if kink's include
# directory reaches the compiler as a system include (-isystem), as a user's build needs.
kink_hpp=$(find "$root" -path '*/kink/kink.hpp' | head -1)
printf '\ninline int kink_system_include_probe(double d) { return d; }\n' >> "$kink_hpp"
fail=0
check() { # name, command...
    local name=$1
    shift
    if out=$("$@" 2>&1); then
        echo "ok   $name: $(echo "$out" | tail -1)"
    else
        echo "FAIL $name"
        echo "$out" | tail -30
        fail=1
    fi
}
cd "$src/tests/consumer"
check "cmake find_package(kink 0.1)" bash -c "cmake -S cmake -B '$tmp/cmake' -DCMAKE_PREFIX_PATH='$root' >/dev/null && cmake --build '$tmp/cmake' >/dev/null && '$tmp/cmake/app'"
check "cmake refuses find_package(kink 0.2)" bash -c "sed 's/kink 0.1/kink 0.2/' cmake/CMakeLists.txt > '$tmp/CMakeLists.txt' && cp app.cpp '$tmp/' && sed -i 's|../app.cpp|app.cpp|' '$tmp/CMakeLists.txt' && ! cmake -S '$tmp' -B '$tmp/cmake2' -DCMAKE_PREFIX_PATH='$root' >'$tmp/cmake2.log' 2>&1 && grep -q 'compatible' '$tmp/cmake2.log' && grep -q 'version: 0.1.0' '$tmp/cmake2.log' && echo refused"
check "pkg-config" bash -c "PKG_CONFIG_PATH='$pcdir' PKG_CONFIG_SYSROOT_DIR='$dest' && export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR && c++ -std=c++20 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror app.cpp \$(pkg-config --cflags --libs kink) -o '$tmp/app_pc' && '$tmp/app_pc'"
check "meson dependency('kink') through pkg-config" bash -c "PKG_CONFIG_PATH='$pcdir' PKG_CONFIG_SYSROOT_DIR='$dest' meson setup '$tmp/meson' meson >/dev/null && meson compile -C '$tmp/meson' >/dev/null && '$tmp/meson/app'"
mkdir -p "$tmp/sub/subprojects"
cp meson_subproject/meson.build app.cpp "$tmp/sub/"
sed -i 's|../app.cpp|app.cpp|' "$tmp/sub/meson.build"
ln -s "$src" "$tmp/sub/subprojects/kink"
check "meson subproject" bash -c "meson setup '$tmp/sub/build' '$tmp/sub' -Dkink:tests=false -Dkink:bench=false -Dkink:docs=disabled >/dev/null && meson compile -C '$tmp/sub/build' app >/dev/null && '$tmp/sub/build/app'"
exit $fail

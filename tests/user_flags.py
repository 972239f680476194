#!/usr/bin/env python3
"""kink's headers under a user's strict warnings: compiles tests/user_flags.cpp with
-Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror at one optimisation level (kink's include
directory with -I, as a plain user include, so nothing is hidden as a system header), links it
and runs it.

usage: user_flags.py SOURCE INCLUDE_DIR COMPILER [FLAGS...]"""
import subprocess
import sys
import tempfile

STRICT = ["-std=c++20", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wshadow", "-Werror"]


def main() -> int:
    source, include, compiler = sys.argv[1], sys.argv[2], sys.argv[3:]
    with tempfile.TemporaryDirectory() as tmp:
        exe = f"{tmp}/user_flags"
        cmd = compiler + STRICT + ["-I" + include, source, "-o", exe, "-lfmt", "-lz"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            print(" ".join(cmd))
            print(r.stderr[:20000])
            return 1
        run = subprocess.run([exe], capture_output=True, text=True)
        if run.returncode != 0:
            print(f"the program exited with {run.returncode}:\n{run.stdout}\n{run.stderr}")
            return 1
    print("clean: " + " ".join(compiler + STRICT))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Compile-fail test: build CASE twice, once as is (must compile) and once with -DKINK_FAIL
(must fail with exactly one error, which contains the text of the case's `// expect:` line, in at
most 30 lines of compiler output, or the case's `// at most N lines`).

usage: run.py CASE.cpp COMPILER [FLAGS...]"""
import pathlib
import re
import subprocess
import sys
import tempfile


def main() -> int:
    case, compiler = pathlib.Path(sys.argv[1]), sys.argv[2:]
    expect = re.search(r"^// expect: (.+)$", case.read_text(), re.M)
    if not expect:
        print(f"{case}: no '// expect:' line")
        return 1
    expected = expect.group(1).strip()
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "case.o"
        base = compiler + ["-std=c++20", "-fsyntax-only", str(case), "-o", str(out)]
        good = subprocess.run(base, capture_output=True, text=True)
        if good.returncode != 0:
            print(f"{case.name}: the correct variant does not compile:\n{good.stderr}")
            return 1
        bad = subprocess.run(base + ["-DKINK_FAIL"], capture_output=True, text=True)
    if bad.returncode == 0:
        print(f"{case.name}: the faulty variant compiled")
        return 1
    errors = [l for l in bad.stderr.splitlines() if re.search(r"\berror\b", l) and "note:" not in l
              and "generated" not in l and "compilation terminated" not in l]
    # An error and the notes attached to it are one diagnostic (g++ prints the failing
    # static_assert condition in a note: "'...' evaluates to false").
    lines = bad.stderr.splitlines()
    diagnostics = []
    for i, l in enumerate(lines):
        if l in errors:
            text = l
            for nxt in lines[i + 1:i + 4]:
                if "note:" in nxt and "evaluates to false" in nxt:
                    text += "\n" + nxt
            diagnostics.append(text)
    if not diagnostics or expected not in diagnostics[0]:
        print(f"{case.name}: expected the first error to contain {expected!r}, got:\n" + "\n".join(errors))
        return 1
    # a person reads the whole message: no cascade of context lines either
    ceiling = int(m.group(1)) if (m := re.search(r"^// at most (\d+) lines$", case.read_text(), re.M)) else 30
    if len(lines) > ceiling:
        print(f"{case.name}: {len(lines)} lines of compiler output, more than {ceiling}:\n" + bad.stderr[:5000])
        return 1
    if len(errors) != 1:
        print(f"{case.name}: expected one error, got {len(errors)}:\n" + "\n".join(errors))
        return 1
    print(f"{case.name}: ok: {errors[0].strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Builds tests/fuzz/fuzz_idx.cpp with clang++ -fsanitize=fuzzer,address,undefined and runs it for
a bounded number of executions, seeded with a valid IDX file, a valid safetensors file and
truncations of them. Prints the executions and the outcome.

usage: run.py CLANG++ INCLUDE_DIR RUNS"""
import os, pathlib, re, struct, subprocess, sys, tempfile

def main() -> int:
    clang, include, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    here = pathlib.Path(__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        exe = tmp / "fuzz_idx"
        build = subprocess.run([clang, "-std=c++20", "-O1", "-g", "-fsanitize=fuzzer,address,undefined",
                                "-fno-sanitize-recover=all", "-I", include, str(here / "fuzz_idx.cpp"), "-lz",
                                "-o", str(exe)], capture_output=True, text=True)
        if build.returncode != 0:
            print("fuzz target does not build:\n" + build.stderr)
            return 1
        corpus = tmp / "corpus"
        corpus.mkdir()
        idx = bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 3, 2) + bytes(range(12))
        (corpus / "images").write_bytes(idx)
        (corpus / "labels").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 4) + bytes([1, 2, 3, 4]))
        hdr = b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}'
        (corpus / "st").write_bytes(struct.pack("<Q", len(hdr)) + hdr + bytes(8))
        (corpus / "short").write_bytes(idx[:9])
        run = subprocess.run([str(exe), f"-runs={runs}", "-max_len=4096", "-seed=1", str(corpus)],
                             capture_output=True, text=True)
        m = re.findall(r"#(\d+)\s+(?:DONE|pulse|NEW|REDUCE|INITED)", run.stderr)
        execs = m[-1] if m else "?"
        if run.returncode != 0:
            print(run.stderr[-3000:])
            print(f"fuzz_idx: FAILED after {execs} executions")
            return 1
        print(f"fuzz_idx: {execs} executions, no crash, no sanitizer report, only format_error")
        return 0

if __name__ == "__main__":
    sys.exit(main())

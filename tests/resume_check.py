#!/usr/bin/env python3
"""examples/fashion_mnist (or fashion_cnn) --resume continues bit for bit, on any number of
threads: three epochs straight on one thread, and one epoch on two threads, an interruption,
then --resume on three threads must leave identical parameters and Adam state in the checkpoint
(every tensor byte compared; the metadata's timings may differ).

usage: resume_check.py EXAMPLE_EXE"""
import json, pathlib, struct, subprocess, sys, tempfile


def tensors(path):
    raw = pathlib.Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    return {k: data[v["data_offsets"][0]:v["data_offsets"][1]] for k, v in header.items()}


def main() -> int:
    exe = sys.argv[1]
    common = ["--limit", "640", "--epochs", "3", "--batch", "32"]
    with tempfile.TemporaryDirectory() as tmp:
        a, b = f"{tmp}/a", f"{tmp}/b"
        subprocess.run([exe, *common, "--out", a, "--threads", "1"], check=True, capture_output=True)
        subprocess.run([exe, *common, "--out", b, "--stop-after", "1", "--threads", "2"], check=True, capture_output=True)
        r = subprocess.run([exe, *common, "--out", b, "--resume", "--threads", "3"], check=True, capture_output=True, text=True)
        if "resumed from" not in r.stdout:
            print("the resumed run did not say it resumed:\n" + r.stdout)
            return 1
        ta, tb = tensors(f"{a}/checkpoint.safetensors"), tensors(f"{b}/checkpoint.safetensors")
    if ta.keys() != tb.keys():
        print("different tensors:", sorted(ta), sorted(tb))
        return 1
    diff = [k for k in ta if ta[k] != tb[k]]
    if diff:
        print("tensors differ after resuming:", diff)
        return 1
    print(f"resume: {len(ta)} tensors ({sum(map(len, ta.values()))} bytes) identical to the uninterrupted run "
          "(1 thread; interrupted on 2, resumed on 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

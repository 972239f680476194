#!/usr/bin/env python3
"""examples/fashion_mnist (or fashion_cnn) --resume continues bit for bit, on any number of
threads: three epochs straight on one thread, and one epoch on two threads, an interruption,
then --resume on three threads must leave the same checkpoint file, byte for byte (parameters,
Adam state and metadata: the checkpoint records no timings). Further arguments are passed to
every run (--augment, --weight-decay X: their draws and decay must resume bit for bit too).

usage: resume_check.py EXAMPLE_EXE [--limit N] [OPTION...]   (--limit: training images, default 640)"""
import json, pathlib, struct, subprocess, sys, tempfile


def tensors(path):
    raw = pathlib.Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data = raw[8 + n:]
    return {k: data[v["data_offsets"][0]:v["data_offsets"][1]] for k, v in header.items()}


def main() -> int:
    exe, extra = sys.argv[1], sys.argv[2:]
    limit = "640"
    if extra[:1] == ["--limit"]:
        limit, extra = extra[1], extra[2:]
    common = ["--limit", limit, "--epochs", "3", "--batch", "32", *extra]
    with tempfile.TemporaryDirectory() as tmp:
        a, b = f"{tmp}/a", f"{tmp}/b"
        subprocess.run([exe, *common, "--out", a, "--threads", "1"], check=True, capture_output=True)
        subprocess.run([exe, *common, "--out", b, "--stop-after", "1", "--threads", "2"], check=True, capture_output=True)
        r = subprocess.run([exe, *common, "--out", b, "--resume", "--threads", "3"], check=True, capture_output=True, text=True)
        if "resumed from" not in r.stdout:
            print("the resumed run did not say it resumed:\n" + r.stdout)
            return 1
        ta, tb = tensors(f"{a}/checkpoint.safetensors"), tensors(f"{b}/checkpoint.safetensors")
        same_file = pathlib.Path(f"{a}/checkpoint.safetensors").read_bytes() == pathlib.Path(f"{b}/checkpoint.safetensors").read_bytes()
    if ta.keys() != tb.keys():
        print("different tensors:", sorted(ta), sorted(tb))
        return 1
    diff = [k for k in ta if ta[k] != tb[k]]
    if diff:
        print("tensors differ after resuming:", diff)
        return 1
    if not same_file:
        print("the tensors agree, but the checkpoint files differ (metadata)")
        return 1
    print(f"resume: the checkpoint ({len(ta)} tensors, {sum(map(len, ta.values()))} bytes of data) is byte-identical to the "
          "uninterrupted run's (1 thread; interrupted on 2, resumed on 3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

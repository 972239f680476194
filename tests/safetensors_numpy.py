#!/usr/bin/python3
"""A kink checkpoint is real safetensors: read it with numpy alone (no kink code) following the
format's specification, and compare the values with what the C++ side wrote.

usage: safetensors_numpy.py WRITER   (WRITER writes a checkpoint to argv[1] and prints the
expected values of a few entries as `name index value` lines)"""
import json, pathlib, struct, subprocess, sys, tempfile

try:
    import numpy as np
except ImportError:
    print("python3-numpy is not installed")
    sys.exit(77)  # meson: skipped


def main() -> int:
    writer = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "ckpt.safetensors"
        out = subprocess.run([writer, str(path)], capture_output=True, text=True, check=True).stdout
        raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    arrays = {}
    for name, t in header.items():
        dtype = {"F32": "<f4", "F64": "<f8"}[t["dtype"]]
        b, e = t["data_offsets"]
        arrays[name] = np.frombuffer(data[b:e], dtype=dtype).reshape(t["shape"])
    checked = 0
    for line in out.splitlines():
        name, index, value = line.split()
        got = arrays[name].reshape(-1)[int(index)]
        if got != np.float32(float(value)) and got != float(value):
            print(f"{name}[{index}]: numpy reads {got!r}, kink wrote {value}")
            return 1
        checked += 1
    print(f"numpy read {len(arrays)} tensors ({', '.join(f'{k}{list(v.shape)}' for k, v in sorted(arrays.items()))}), "
          f"metadata keys {sorted(meta)}; {checked} values match")
    return 0 if checked else 1


if __name__ == "__main__":
    sys.exit(main())

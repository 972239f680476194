#!/usr/bin/env python3
"""Weights move between PyTorch and kink unchanged: `torch_state_dict.py state_dict_values`.

The examples' CNN and ResNet (examples/networks.hpp, PyTorch's parameter names) are built here as
torch modules with the same names, in float64:

1. torch -> kink: each model's state_dict is written in the safetensors format (the layout of
   `safetensors.torch.save_file`; that package is not in Debian, so the file is written here
   with json and struct: little-endian data, a JSON header of dtype, shape and data_offsets),
   the CNN's as F32 (the model's weights rounded to float first, so both sides hold the same
   values) and the ResNet's as F64 with BatchNorm's num_batches_tracked (I64) as PyTorch keeps it;
   kink loads it with nn::load_state_dict and prints its evaluation-mode logits of 7 images.
2. kink -> torch: kink draws parameters, takes a training step (batch norm's running statistics
   move) and saves a model file; torch loads its tensors with load_state_dict(strict=False),
   missing nothing but num_batches_tracked, and computes the logits of the same images.

Tolerance: 1e-12 relative to the largest |logit|, and the same predicted class. Both sides compute
in float64 from the same parameters, in different orders (products of up to 1,568 terms; batch
norm's evaluation form as x * (w / sqrt(v + eps)) + ... in kink, (x - m) / sqrt(v + eps) * w + b in
torch): n eps = 1568 x 1.1e-16 = 1.7e-13 of the sum of the terms' magnitudes, which is within a
few times the largest logit here. Measured: about 1e-15.
Skips (exit 77) without torch unless KINK_REQUIRE_TORCH=1."""
import json, os, struct, subprocess, sys, tempfile

try:
    import torch
except ImportError:
    print("torch not importable by", sys.executable)
    sys.exit(1 if os.environ.get("KINK_REQUIRE_TORCH") == "1" else 77)

nn = torch.nn
DTYPES = {torch.float64: ("F64", "d"), torch.float32: ("F32", "f"), torch.int64: ("I64", "q")}


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        code, fmt = DTYPES[t.dtype]
        data = struct.pack("<%d%s" % (t.numel(), fmt), *t.flatten().tolist())
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    data, out = raw[8 + n:], {}
    for name, v in header.items():
        code = v["dtype"]
        fmt = {"F64": "d", "F32": "f"}[code]
        b, e = v["data_offsets"]
        vals = struct.unpack("<%d%s" % ((e - b) // struct.calcsize(fmt), fmt), data[b:e])
        out[name] = torch.tensor(vals, dtype=torch.float64).reshape(v["shape"])
    return out


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 16, 5, padding=2), nn.Conv2d(16, 32, 5, padding=2)
        self.fc1, self.fc2 = nn.Linear(32 * 7 * 7, 128), nn.Linear(128, 10)

    def forward(self, x):
        h = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        h = torch.max_pool2d(torch.relu(self.conv2(h)), 2)
        return self.fc2(torch.relu(self.fc1(h.flatten(1))))


class ConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(self.conv(x))


class Block(nn.Module):
    """kink's block / down_block: conv1.weight, bn1, conv2.weight, bn2, downsample.conv, downsample.bn."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.downsample = ConvBN(cin, cout, 1, stride) if stride != 1 else None

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 24, 3, 1, 1, bias=False), nn.BatchNorm2d(24)
        self.layer1, self.layer2, self.layer3 = Block(24, 24, 1), Block(24, 48, 2), Block(48, 96, 2)
        self.fc = nn.Linear(96, 10)

    def forward(self, x):
        h = self.layer3(self.layer2(self.layer1(torch.relu(self.bn1(self.conv1(x))))))
        return self.fc(h.mean((2, 3)))


def logits_of(out):
    line = [l for l in out.splitlines() if l.startswith("logits ")][0]
    return torch.tensor([float(v) for v in line.split()[1:]], dtype=torch.float64).reshape(-1, 10)


def compare(what, got, want):
    worst = ((got - want).abs().max() / want.abs().max()).item()
    ok = got.shape == want.shape and worst <= 1e-12 and bool((got.argmax(1) == want.argmax(1)).all())
    print(f"{'ok  ' if ok else 'FAIL'} {what}: {want.shape[0]} images, worst {worst:.2e} relative (torch {torch.__version__})")
    return ok


def main():
    exe = sys.argv[1]
    torch.manual_seed(3)
    x = torch.rand(7, 1, 28, 28, dtype=torch.float64)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        inputs = f"{tmp}/x.safetensors"
        write_safetensors(inputs, {"x": x})
        for name, model in (("cnn", CNN()), ("resnet", ResNet())):
            model = model.double()
            if name == "resnet":  # running statistics and affine parameters away from their start
                model.train()
                with torch.no_grad():
                    for _ in range(3):
                        model(torch.rand(16, 1, 28, 28, dtype=torch.float64) * 2)
                    for m in model.modules():
                        if isinstance(m, nn.BatchNorm2d):
                            m.weight.uniform_(0.5, 1.5)
                            m.bias.uniform_(-0.2, 0.2)
                sd = dict(model.state_dict())
            else:  # F32 on file: the model's weights rounded to float first
                with torch.no_grad():
                    for p in model.parameters():
                        p.copy_(p.float().double())
                sd = {k: v.float() for k, v in model.state_dict().items()}
            model.eval()
            # 1. torch -> kink
            path = f"{tmp}/{name}.safetensors"
            write_safetensors(path, sd)
            r = subprocess.run([exe, "load", name, path, inputs], capture_output=True, text=True)
            if r.returncode != 0:
                print(f"FAIL {name}: kink refused the state_dict:\n{r.stderr}")
                failed += 1
                continue
            with torch.no_grad():
                failed += not compare(f"{name}: PyTorch's state_dict ({'F32' if name == 'cnn' else 'F64'}) in kink", logits_of(r.stdout), model(x))
            # 2. kink -> torch
            saved = f"{tmp}/{name}-kink.safetensors"
            r = subprocess.run([exe, "save", name, saved, inputs], capture_output=True, text=True, check=True)
            fresh = (CNN() if name == "cnn" else ResNet()).double().eval()
            result = fresh.load_state_dict(read_safetensors(saved), strict=False)
            extra_missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
            if extra_missing or result.unexpected_keys:
                print(f"FAIL {name}: kink's model file does not match torch's names: missing {extra_missing}, "
                      f"unexpected {result.unexpected_keys}")
                failed += 1
                continue
            with torch.no_grad():
                failed += not compare(f"{name}: kink's model file in PyTorch", logits_of(r.stdout), fresh(x))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

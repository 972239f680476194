#!/usr/bin/env python3
"""Checks layer_norm against torch's F.layer_norm (float64): tests/layer_norm_values prints the
inputs, kink's forward values and its gradients; torch computes the same loss and backward.

Tolerance: 64 eps relative to max(1, |torch|), eps = 2^-52. Both sides compute the mean, the
biased variance over 7 entries and one square root in double, in different orders (torch: Welford
or a two-pass sum, rstd = 1/sqrt(var + eps); kink: two passes and a division), so each value is a
few ulp apart, and the backward sums over 7 entries and 3 samples add a few more.
Skips (exit 77) without torch unless KINK_REQUIRE_TORCH=1."""
import os
import subprocess
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch not importable by", sys.executable)
    sys.exit(1 if os.environ.get("KINK_REQUIRE_TORCH") == "1" else 77)

out = subprocess.run([sys.argv[1]], capture_output=True, text=True, check=True).stdout
k = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in out.splitlines()}
n = len(k["g"])
x = torch.tensor(k["x"], dtype=torch.float64).reshape(-1, n).requires_grad_()
r = torch.tensor(k["r"], dtype=torch.float64).reshape(-1, n)
g = torch.tensor(k["g"], dtype=torch.float64).requires_grad_()
b = torch.tensor(k["b"], dtype=torch.float64).requires_grad_()
y = F.layer_norm(x, (n,), g, b, eps=1e-5)
# kink's step reports the loss and gradients of the batch mean
(y * r).sum(dim=1).mean().backward()
ref = {"y": y.detach().flatten().tolist(), "dx": x.grad.flatten().tolist(), "dg": g.grad.tolist(), "db": b.grad.tolist()}
eps = 2.0**-52
failed = 0
for name, want in ref.items():
    got = k[name]
    worst = max(abs(a - w) / max(1.0, abs(w)) for a, w in zip(got, want)) / eps
    ok = len(got) == len(want) and worst <= 64
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {len(got)} values, worst {worst:.1f} eps (torch {torch.__version__})")
sys.exit(1 if failed else 0)

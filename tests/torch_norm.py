#!/usr/bin/env python3
"""Checks kink's normalisations against torch in float64: `torch_norm.py KIND norm_values`, KIND
layer_norm (F.layer_norm over each sample), batch_norm (batch_mean's batch normalisation against
F.batch_norm(training=True)), batch_norm2d (the same per channel of [3, 4, 5] images), or
batch_norm_layer / batch_norm_layer2d (nn::batch_norm against nn.BatchNorm1d / BatchNorm2d: three
training steps, the running statistics after them, and evaluation mode). tests/norm_values prints the inputs, kink's forward values and its
gradients; torch computes the same loss and backward.

Tolerance: 64 eps relative to the largest |torch| value of each quantity, eps = 2^-52. Both sides
form a mean, a biased variance and one square root per normalised vector in double, in different
orders (torch: one sum or Welford, rstd = 1/sqrt(var + eps); kink: batch_mean's per-chunk sums
added in chunk order and a division, or nn::batch_norm's per-chunk means and squared deviations
merged in chunk order), and the backward pass sums again: a few ulp.
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

kind, program = sys.argv[1], sys.argv[2]
out = subprocess.run([program, kind], capture_output=True, text=True, check=True).stdout
k = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in out.splitlines()}
n = len(k["g"])
shape = (-1, n, 4, 5) if kind.endswith("2d") else (-1, n)
eps = 2.0**-52
failed = 0


def compare(name, got, want, tol=64):
    global failed
    scale = max(abs(w) for w in want)
    worst = max(abs(a - w) for a, w in zip(got, want)) / scale / eps
    ok = len(got) == len(want) and worst <= tol
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {kind} {name}: {len(got)} values, worst {worst:.1f} eps (torch {torch.__version__})")


if kind.startswith("batch_norm_layer"):
    # nn.BatchNorm1d / BatchNorm2d (momentum 0.1, eps 1e-5): three training steps, then eval mode
    bn = (torch.nn.BatchNorm2d if kind.endswith("2d") else torch.nn.BatchNorm1d)(n, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(k["g"], dtype=torch.float64))
        bn.bias.copy_(torch.tensor(k["b"], dtype=torch.float64))
    bn.train()
    for step in range(3):
        x = torch.tensor(k[f"x{step}"], dtype=torch.float64).reshape(shape).requires_grad_()
        r = torch.tensor(k[f"r{step}"], dtype=torch.float64).reshape(shape)
        bn.zero_grad()
        y = bn(x)
        (y * r).flatten(1).sum(dim=1).mean().backward()
        compare(f"step {step} y", k[f"y{step}"], y.detach().flatten().tolist())
        compare(f"step {step} dx", k[f"dx{step}"], x.grad.flatten().tolist())
        compare(f"step {step} dweight", k[f"dg{step}"], bn.weight.grad.tolist())
        compare(f"step {step} dbias", k[f"db{step}"], bn.bias.grad.tolist())
    compare("running_mean", k["rm"], bn.running_mean.tolist())
    compare("running_var", k["rv"], bn.running_var.tolist())
    bn.eval()
    with torch.no_grad():
        ye = bn(torch.tensor(k["xe"], dtype=torch.float64).reshape(shape))
    compare("eval mode y", k["ye"], ye.flatten().tolist())
    sys.exit(1 if failed else 0)

x = torch.tensor(k["x"], dtype=torch.float64).reshape(shape).requires_grad_()
r = torch.tensor(k["r"], dtype=torch.float64).reshape(shape)
g = torch.tensor(k["g"], dtype=torch.float64).requires_grad_()
b = torch.tensor(k["b"], dtype=torch.float64).requires_grad_()
if kind == "layer_norm":
    y = F.layer_norm(x, (n,), g, b, eps=1e-5)
else:
    y = F.batch_norm(x, None, None, g, b, training=True, eps=1e-5)
# kink's step reports the loss and gradients of the batch mean
(y * r).flatten(1).sum(dim=1).mean().backward()
ref = {"y": y.detach().flatten().tolist(), "dx": x.grad.flatten().tolist(), "dg": g.grad.tolist(), "db": b.grad.tolist()}
for name, want in ref.items():
    compare(name, k[name], want)
sys.exit(1 if failed else 0)

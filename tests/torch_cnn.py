#!/usr/bin/env python3
"""conv2d, max_pool2d, avg_pool2d, global average pooling and a small CNN: kink (tests/torch_cnn)
against real PyTorch on the same inputs and weights. The max-pool inputs are full of tied
windows: kink's `first` (and the pytorch preset) must equal torch's gradient exactly; `last` and
`split` must differ from it exactly at the tied maxima of windows with a nonzero adjoint, and
`split` must be 1/k of the window's adjoint at each of its k maxima. Skips (exit 77) when torch
is missing, unless KINK_REQUIRE_TORCH=1."""
import os
import subprocess
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch not importable by", sys.executable)
    sys.exit(1 if os.environ.get("KINK_REQUIRE_TORCH") == "1" else 77)

torch.set_num_threads(1)
out = subprocess.run([sys.argv[1]], check=True, capture_output=True, text=True).stdout
cases = {}
for line in out.splitlines():
    name, field, *vals = line.split()
    c = cases.setdefault(name, {})
    c[field] = vals if field == "geometry" else [float.fromhex(v) for v in vals]

failures = 0
checks = 0
B = 3


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL", what)


def t(vals, shape, dtype, grad=False):
    return torch.tensor(vals, dtype=dtype).reshape(shape).requires_grad_(grad)


def close(name, a, b, tol):
    a = a.detach().flatten().double()
    b = torch.tensor(b, dtype=torch.float64)
    err = ((a - b).abs() / (1 + a.abs())).max().item()
    check(err <= tol, f"{name}: relative error {err:.3g} > {tol:.1g}")
    return err


for name, c in cases.items():
    g = c["geometry"]
    if name.startswith("conv"):
        dtype = torch.float64 if g[3] == "float64" else torch.float32
        s, p, d = int(g[0]), int(g[1]), int(g[2])
        x = t(c["x"], (B, 2, 7, 7), dtype, True)
        w = t(c["w"], (4, 2, 3, 3), dtype, True)
        b = t(c["b"], (4,), dtype, True)
        y = F.conv2d(x, w, b, stride=s, padding=p, dilation=d)
        r = torch.tensor(c["r"], dtype=dtype)
        (y.flatten(1) * r).sum(1).mean().backward()
        # different summation orders (oneDNN / im2col+BLAS in torch): sums of <= 18 products of
        # values below 1, so a few ulp of the dtype, relative to 1 + |value|
        tol = 1e-13 if dtype == torch.float64 else 2e-6
        close(name + " y", y, c["y"], tol)
        close(name + " dx", x.grad, c["dx"], tol)
        close(name + " dw", w.grad, c["dw"], tol)
        close(name + " db", b.grad, c["db"], tol)
    elif name.startswith("maxpool"):
        k, s, p, pol = int(g[0]), int(g[1]), int(g[2]), g[3]
        x = t(c["x"], (B, 3, 8, 8), torch.float32, True)
        y, idx = F.max_pool2d(x, k, s, p, return_indices=True)
        r = torch.tensor(c["r"], dtype=torch.float32)
        (y.flatten(1) * r).sum(1).mean().backward()
        check(torch.equal(y.detach().flatten(), torch.tensor(c["y"], dtype=torch.float32)), name + " values equal torch's exactly")
        dx = torch.tensor(c["dx"], dtype=torch.float32)
        tg = x.grad.flatten()
        # the tied maxima of windows with a nonzero adjoint, and the expected split gradient,
        # per plane: window masks folded back to pixels
        xs = x.detach()
        unf_p = F.unfold(F.pad(xs, (p, p, p, p), value=float("-inf")).reshape(B * 3, 1, 8 + 2 * p, 8 + 2 * p), k, stride=s)  # (B*3, k*k, L)
        m_p = unf_p.max(1, keepdim=True).values
        tie_p = unf_p == m_p
        k_p = tie_p.sum(1, keepdim=True)
        g_p = (r / B).reshape(3, -1).repeat(B, 1).unsqueeze(1)  # (B*3, 1, L)
        live = (k_p > 1) & (g_p != 0)
        live_px = F.fold((tie_p & live).double(), (8 + 2 * p, 8 + 2 * p), k, stride=s) > 0
        split_px = F.fold(tie_p.double() * g_p.double() / k_p.double(), (8 + 2 * p, 8 + 2 * p), k, stride=s)
        live_px = live_px[:, :, p:p + 8, p:p + 8].flatten()
        split_px = split_px[:, :, p:p + 8, p:p + 8].flatten()
        n_live = int(live.sum())
        check(n_live > 0, name + ": the input has tied windows with a nonzero adjoint")
        if pol in ("first",) or name.endswith("pytorch"):
            check(torch.equal(dx, tg), name + " gradient equals torch's exactly")
        else:
            differ = dx != tg
            check(bool((differ <= live_px).all()), name + ": differs from torch only at tied maxima")
            if k <= s:  # non-overlapping windows: every live tied window changes a gradient
                check(int(differ.sum()) >= n_live, name + ": differs from torch at every live tied window")
            check(abs(float(dx.double().sum() - tg.double().sum())) < 1e-5, name + ": the adjoint is conserved")
            if pol == "split":
                err = (dx.double() - split_px).abs().max().item()
                check(err < 1e-6, f"{name}: split is 1/k of the adjoint at each of k maxima (error {err:.3g})")
    elif name.startswith("avgpool"):
        k, s, p = int(g[0]), int(g[1]), int(g[2])
        x = t(c["x"], (B, 3, 8, 8), torch.float32, True)
        y = F.avg_pool2d(x, k, s, p)
        r = torch.tensor(c["r"], dtype=torch.float32)
        (y.flatten(1) * r).sum(1).mean().backward()
        close(name + " y", y, c["y"], 1e-6)
        close(name + " dx", x.grad, c["dx"], 1e-6)
    elif name == "cnn":
        d = torch.float64
        x = t(c["x"], (B, 2, 8, 8), d)
        w1 = t(c["w1"], (4, 2, 3, 3), d, True)
        b1 = t(c["b1"], (4,), d, True)
        wa = t(c["wa"], (3, 64), d, True)
        wb = t(c["wb"], (3, 4), d, True)
        b2 = t(c["b2"], (3,), d, True)
        h = F.max_pool2d(torch.relu(F.conv2d(x, w1, b1, padding=1)), 2)
        z = h.flatten(1) @ wa.T + F.adaptive_avg_pool2d(h, 1).flatten(1) @ wb.T + b2
        loss = F.cross_entropy(z, torch.tensor([2, 0, 1]))
        loss.backward()
        close("cnn loss", loss, c["loss"], 1e-13)
        for n_, v in (("dw1", w1), ("db1", b1), ("dwa", wa), ("dwb", wb), ("db2", b2)):
            close("cnn " + n_, v.grad, c[n_], 1e-12)

print(f"{checks} checks against torch {torch.__version__}, {failures} failed")
sys.exit(1 if failures else 0)

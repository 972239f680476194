#!/usr/bin/env python3
"""Checks every activation's value and derivative against real PyTorch on a grid of points
(tests/activation_values prints kink's; torch computes its own with backward, in float64).

Tolerance: |kink - torch| <= 16 eps max(1, |torch|), eps = 2^-52. Both sides evaluate the same
formula in double with a handful of correctly rounded operations each (a few ulp apart); they
differ in the tails only where one side loses digits that the other keeps, which the max(1, .)
bounds: torch's gelu is x (1 + erf(x / sqrt 2)) / 2 (absolute error ~eps where kink's erfc form
is accurate), and torch's elu/selu/celu use exp(x) - 1 where kink uses expm1 (absolute error ~eps
near 0). One documented difference: torch's hardsigmoid backward multiplies by the float
constant 1.0f / 6.0f in every precision (hardsigmoid_backward_kernel, Activation.cpp), so in
double it gives 0.1666666716337204 where kink gives 1/6 rounded to double; checked exactly as
that. Skips (exit 77) without torch unless KINK_REQUIRE_TORCH=1."""
import os
import subprocess
import sys

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch not importable by", sys.executable)
    sys.exit(1 if os.environ.get("KINK_REQUIRE_TORCH") == "1" else 77)

torch.set_default_dtype(torch.float64)
fns = {
    "silu": F.silu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "mish": F.mish,
    "softsign": F.softsign,
    "elu(0.5)": lambda x: F.elu(x, 0.5),
    "selu": F.selu,
    "celu(0.5)": lambda x: F.celu(x, 0.5),
    "hardsigmoid": F.hardsigmoid,
    "hardswish": F.hardswish,
    "softshrink(0.5)": lambda x: F.softshrink(x, 0.5),
    "hardshrink(0.5)": lambda x: F.hardshrink(x, 0.5),
    "threshold(0.5,2)": lambda x: F.threshold(x, 0.5, 2.0),
}
eps = 2.0**-52
sixth_float = float(torch.tensor(1.0 / 6.0, dtype=torch.float32))
documented = 0
out = subprocess.run([sys.argv[1]], capture_output=True, text=True, check=True).stdout
worst, failed, lines = {}, 0, 0
for line in out.splitlines():
    name, a, f, df = line.split()
    a, f, df = float(a), float(f), float(df)
    t = torch.tensor(a, requires_grad=True)
    y = fns[name](t)
    y.backward()
    for what, k, r in (("f", f, float(y)), ("df", df, float(t.grad))):
        if name == "hardsigmoid" and what == "df" and r == sixth_float and k == 1.0 / 6.0:
            documented += 1
            continue
        err = abs(k - r) / max(1.0, abs(r))
        worst[name] = max(worst.get(name, 0.0), err / eps)
        if err > 16 * eps:
            failed += 1
            print(f"FAIL {name} {what}({a!r}): kink {k!r}, torch {r!r}")
    lines += 1
for name, w in worst.items():
    print(f"{name}: worst {w:.1f} eps (relative to max(1, |torch|))")
missing = set(fns) - set(worst)
for name in missing:
    print(f"FAIL {name}: kink printed nothing")
print(f"{lines} points, torch {torch.__version__}, {failed + len(missing)} failed; "
      f"{documented} hardsigmoid derivatives are torch's float 1/6 (documented)")
sys.exit(1 if failed or missing else 0)

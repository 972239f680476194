#!/usr/bin/env python3
"""Checks dropout against torch's F.dropout in training mode (float32, 50,000 ones per p):
every value is 0 or torch's scale, the mask divided by 1 - p, bit for bit; and the kept fractions
agree, kink's and torch's each within 5 binomial standard deviations of 1 - p (the masks come
from different generators, so only their distribution can agree).
Skips (exit 77) without torch unless KINK_REQUIRE_TORCH=1."""
import math
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
failed = 0
torch.manual_seed(2024)
for line in out.splitlines():
    fields = line.split()
    p = float(fields[1])
    kink = torch.tensor([float(v) for v in fields[2:]], dtype=torch.float32)
    ref = F.dropout(torch.ones(kink.numel(), dtype=torch.float32), p=p, training=True)
    scale = ref.max().item()
    values_ok = bool(((kink == 0) | (kink == scale)).all())
    n = kink.numel()
    sd = math.sqrt(p * (1 - p) / n)
    fk, ft = (kink != 0).double().mean().item(), (ref != 0).double().mean().item()
    ok = values_ok and abs(fk - (1 - p)) <= 5 * sd and abs(ft - (1 - p)) <= 5 * sd
    failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} p = {p}: values 0 or {scale!r} (torch's scale): {values_ok}; kept {fk:.4f} (kink), "
          f"{ft:.4f} (torch), 1 - p = {1 - p:.4f} +- {5 * sd:.4f} (torch {torch.__version__})")
sys.exit(1 if failed else 0)

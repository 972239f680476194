#!/usr/bin/env python3
"""Checks kink's pytorch preset against real PyTorch: runs tests/preset_kinks and computes each
derivative with torch's backward at the same point. Skips (exit 77) when torch is missing,
unless KINK_REQUIRE_TORCH=1 (CI), where a missing torch is a failure."""
import os
import sys

from preset_compare import compare

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch not importable by", sys.executable)
    sys.exit(1 if os.environ.get("KINK_REQUIRE_TORCH") == "1" else 77)

torch.set_default_dtype(torch.float64)


def grads(fn, *vals):
    ts = [torch.tensor(v, requires_grad=True) for v in vals]
    try:
        fn(*ts).backward()
    except RuntimeError:
        return ["error"]
    return [float(t.grad) + 0.0 for t in ts]  # + 0.0 turns -0.0 into 0.0


cases = {
    "relu@0": lambda: grads(torch.relu, 0.0),
    "abs@0": lambda: grads(torch.abs, 0.0),
    "leaky_relu(0.25)@0": lambda: grads(lambda x: F.leaky_relu(x, 0.25), 0.0),
    "relu6@0": lambda: grads(F.relu6, 0.0),
    "relu6@6": lambda: grads(F.relu6, 6.0),
    "hardtanh@-1": lambda: grads(F.hardtanh, -1.0),
    "hardtanh@1": lambda: grads(F.hardtanh, 1.0),
    "sign@0": lambda: grads(torch.sign, 0.0),
    "heaviside@0": lambda: grads(lambda x: torch.heaviside(x, torch.tensor(0.0)), 0.0),
    "l1@x=t": lambda: grads(lambda x: F.l1_loss(x, torch.tensor(1.5)), 1.5),
    "maximum@tie": lambda: grads(torch.maximum, 1.0, 1.0) + [0.0],
    "minimum@tie": lambda: grads(torch.minimum, 1.0, 1.0) + [0.0],
    "clamp@lo": lambda: grads(torch.clamp, 0.0, 0.0, 1.0),
    "clamp@hi": lambda: grads(torch.clamp, 1.0, 0.0, 1.0),
    "amax@tie": lambda: amax_tie(),
    "max_pool2x2@tie": lambda: pool_tie(),
}
nan = float("nan")
values = {  # forward values at NaN: kink must give NaN wherever torch does
    "value:relu@nan": lambda: torch.relu(torch.tensor(nan)),
    "value:relu6@nan": lambda: F.relu6(torch.tensor(nan)),
    "value:hardtanh@nan": lambda: F.hardtanh(torch.tensor(nan)),
    "value:leaky_relu@nan": lambda: F.leaky_relu(torch.tensor(nan), 0.25),
    "value:abs@nan": lambda: torch.abs(torch.tensor(nan)),
    "value:clamp@nan": lambda: torch.clamp(torch.tensor(nan), -1.0, 1.0),
    "value:maximum(nan,1)": lambda: torch.maximum(torch.tensor(nan), torch.tensor(1.0)),
    "value:maximum(1,nan)": lambda: torch.maximum(torch.tensor(1.0), torch.tensor(nan)),
    "value:minimum(nan,1)": lambda: torch.minimum(torch.tensor(nan), torch.tensor(1.0)),
    "value:minimum(1,nan)": lambda: torch.minimum(torch.tensor(1.0), torch.tensor(nan)),
}


def amax_tie():
    t = torch.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    t.amax().backward()
    return [float(v) + 0.0 for v in t.grad]

def pool_tie():
    t = torch.tensor([[[[1.0, 3.0], [3.0, 2.0]]]], requires_grad=True)
    F.max_pool2d(t, 2).sum().backward()
    return [float(v) + 0.0 for v in t.grad.flatten()]


compare(sys.argv[1], "pytorch", "torch " + torch.__version__, cases, values,
        unchecked={"hinge@margin": "torch has no plain hinge loss (hinge_embedding_loss and multi_margin_loss are other losses)"})

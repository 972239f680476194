#!/usr/bin/env python3
"""Checks kink's pytorch preset against real PyTorch: runs tests/preset_kinks and computes each
derivative with torch's backward at the same point. Skips (exit 77) when torch is missing,
unless KINK_REQUIRE_TORCH=1 (CI), where a missing torch is a failure."""
import os
import sys

from preset_compare import clean, compare

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
    "hardsigmoid@-3": lambda: grads(F.hardsigmoid, -3.0),
    "hardsigmoid@3": lambda: grads(F.hardsigmoid, 3.0),
    "hardswish@-3": lambda: grads(F.hardswish, -3.0),
    "hardswish@3": lambda: grads(F.hardswish, 3.0),
    "elu(0.5)@0": lambda: grads(lambda x: F.elu(x, 0.5), 0.0),
    "selu@0": lambda: grads(F.selu, 0.0),
    "celu(0.5)@0": lambda: grads(lambda x: F.celu(x, 0.5), 0.0),
    "softshrink(0.5)@-0.5": lambda: grads(lambda x: F.softshrink(x, 0.5), -0.5),
    "softshrink(0.5)@0.5": lambda: grads(lambda x: F.softshrink(x, 0.5), 0.5),
    "hardshrink(0.5)@-0.5": lambda: grads(lambda x: F.hardshrink(x, 0.5), -0.5),
    "hardshrink(0.5)@0.5": lambda: grads(lambda x: F.hardshrink(x, 0.5), 0.5),
    "threshold(0.5,2)@0.5": lambda: grads(lambda x: F.threshold(x, 0.5, 2.0), 0.5),
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
    "value:hardsigmoid@nan": lambda: F.hardsigmoid(torch.tensor(nan)),
    "value:hardswish@nan": lambda: F.hardswish(torch.tensor(nan)),
    "value:elu(0.5)@nan": lambda: F.elu(torch.tensor(nan), 0.5),
    "value:selu@nan": lambda: F.selu(torch.tensor(nan)),
    "value:celu(0.5)@nan": lambda: F.celu(torch.tensor(nan), 0.5),
    "value:softshrink(0.5)@nan": lambda: F.softshrink(torch.tensor(nan), 0.5),
    "value:hardshrink(0.5)@nan": lambda: F.hardshrink(torch.tensor(nan), 0.5),
    "value:threshold(0.5,2)@nan": lambda: F.threshold(torch.tensor(nan), 0.5, 2.0),
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


# softshrink(NaN) was 0 on the CPU before torch 2.6 (pytorch/pytorch#138385, fixed by #138421:
# NaN since); kink gives NaN, as every value rule does. Checked against the version at hand.
unchecked = {"hinge@margin": "torch has no plain hinge loss (hinge_embedding_loss and multi_margin_loss are other losses)"}
documented = {}
if tuple(int(p) for p in torch.__version__.split(".")[:2]) < (2, 6):
    values.pop("value:softshrink(0.5)@nan")
    unchecked["value:softshrink(0.5)@nan"] = "torch < 2.6 returns 0 (see softshrink(nan) below)"
    documented["softshrink(nan) before torch 2.6"] = (lambda: [clean(F.softshrink(torch.tensor(nan), 0.5))], [0.0])

compare(sys.argv[1], "pytorch", "torch " + torch.__version__, cases, values, unchecked, documented)

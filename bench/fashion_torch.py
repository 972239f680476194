#!/usr/bin/python3
"""PyTorch peer of examples/fashion_mnist (network "mlp": MLP 784-256-128-10, ReLU) and of
examples/fashion_cnn (network "cnn": conv 5x5 16 pad 2 - relu - max-pool 2 - conv 5x5 32 pad 2 -
relu - max-pool 2 - dense 128 - relu - dense 10) and of examples/fashion_resnet (network "resnet":
conv 3x3 24 - a residual block of 24 - blocks of 48 and 96 entered with stride 2 and 1 x 1
projection skips - average pool - dense 10, BatchNorm2d after every convolution, convolutions
without bias): PyTorch's default initialisation, Adam (lr 1e-3, batch 64; the resnet lr 2e-3,
batch 128, as the examples' defaults) with cosine annealing over the epochs, one thread. Prints one JSON line per epoch and
the training time until the test accuracy first reaches each threshold (evaluation time
excluded, as in kink's examples).

With --augment, each training batch is shifted and mirrored as the examples' --augment does
(torchvision's RandomCrop(28, padding=2) then RandomHorizontalFlip, drawn from torch's generator);
with --weight-decay X, AdamW(weight_decay=X) replaces Adam, as the examples' --weight-decay.

usage: fashion_torch.py [epochs] [seed] [mlp|cnn|resnet] [--augment] [--weight-decay X]"""
import gzip, json, os, struct, sys, time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
try:
    import numpy as np
    import torch
except ImportError:
    print(json.dumps({"case": "fashion_mnist", "impl": "pytorch", "skipped": "python3-torch or numpy is not installed"}))
    sys.exit(0)

DIR = "/usr/share/datasets/fashion-mnist"


def idx(name):
    with gzip.open(f"{DIR}/{name}", "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Block(torch.nn.Module):
    """torchvision's BasicBlock: conv-bn-relu-conv-bn, plus the input (or its stride-2 1 x 1
    projection with batch norm), then relu."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        nn = torch.nn
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.down = None if stride == 1 else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return torch.relu(h + (x if self.down is None else self.down(x)))


def resnet():
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 24, 3, 1, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU(), Block(24, 24, 1), Block(24, 48, 2),
                         Block(48, 96, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(96, 10))


def crop_flip(xb, gen):
    """Each image of xb (n x 1 x 28 x 28) padded with 2 zeros, cut at a random offset in [0, 4]
    per axis, then mirrored left to right with probability 1/2."""
    n = xb.shape[0]
    padded = torch.nn.functional.pad(xb[:, 0], (2, 2, 2, 2))
    dy, dx = torch.randint(0, 5, (n,), generator=gen), torch.randint(0, 5, (n,), generator=gen)
    r = torch.arange(28)
    out = padded[torch.arange(n)[:, None, None], (r[None, :] + dy[:, None])[:, :, None], (r[None, :] + dx[:, None])[:, None, :]]
    flip = torch.rand(n, generator=gen) < 0.5
    return torch.where(flip[:, None, None], out.flip(-1), out).unsqueeze(1)


def main():
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    augment = "--augment" in flags
    weight_decay = 0.0
    if "--weight-decay" in sys.argv:
        weight_decay = float(sys.argv[sys.argv.index("--weight-decay") + 1])
    argv = [a for i, a in enumerate(sys.argv) if not a.startswith("--") and sys.argv[i - 1] != "--weight-decay"]
    epochs = int(argv[1]) if len(argv) > 1 else 10
    seed = int(argv[2]) if len(argv) > 2 else 1
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    xtr = torch.tensor(idx("train-images-idx3-ubyte.gz").reshape(-1, 784), dtype=torch.float32) / 255
    ytr = torch.tensor(idx("train-labels-idx1-ubyte.gz"), dtype=torch.int64)
    xte = torch.tensor(idx("t10k-images-idx3-ubyte.gz").reshape(-1, 784), dtype=torch.float32) / 255
    yte = torch.tensor(idx("t10k-labels-idx1-ubyte.gz"), dtype=torch.int64)
    kind = argv[3] if len(argv) > 3 else "mlp"
    case = {"mlp": "fashion_mnist", "cnn": "fashion_cnn", "resnet": "fashion_resnet"}[kind]
    thresholds = {"mlp": (0.85, 0.88, 0.89), "cnn": (0.88, 0.90, 0.91), "resnet": (0.91, 0.92, 0.93)}[kind]
    batch, lr = (128, 2e-3) if kind == "resnet" else (64, 1e-3)
    if kind == "mlp":
        net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                  torch.nn.Linear(128, 10))
    elif kind == "resnet":
        xtr, xte = xtr.reshape(-1, 1, 28, 28), xte.reshape(-1, 1, 28, 28)
        net = resnet()
    else:
        xtr, xte = xtr.reshape(-1, 1, 28, 28), xte.reshape(-1, 1, 28, 28)
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 16, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                  torch.nn.Conv2d(16, 32, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                  torch.nn.Flatten(), torch.nn.Linear(32 * 7 * 7, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    if augment and kind == "mlp":
        xtr = xtr.reshape(-1, 1, 28, 28)
        net = torch.nn.Sequential(torch.nn.Flatten(), net)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay) if weight_decay else torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    lossf = torch.nn.CrossEntropyLoss()
    train_time = 0.0
    reached = {}
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(len(ytr))
        t0 = time.perf_counter()
        net.train()
        for i in range(0, len(ytr), batch):
            idx_ = perm[i:i + batch]
            xb = crop_flip(xtr[idx_], gen) if augment else xtr[idx_]
            opt.zero_grad(set_to_none=True)
            loss = lossf(net(xb), ytr[idx_])
            loss.backward()
            opt.step()
        sched.step()
        train_time += time.perf_counter() - t0
        with torch.no_grad():
            net.eval()
            acc = sum((net(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item() for i in range(0, len(yte), 1000)) / len(yte)
        print(json.dumps({"case": case + "_epoch", "impl": "pytorch", "epoch": epoch, "test_accuracy": round(acc, 4),
                          "train_seconds": round(train_time, 2)}), flush=True)
        for th in thresholds:
            if acc >= th and th not in reached:
                reached[th] = train_time
    for th in thresholds:
        print(json.dumps({"case": f"{case}_time_to_{th}", "impl": "pytorch", "metric": "train_seconds",
                          "value": round(reached[th], 2) if th in reached else None}))


main()

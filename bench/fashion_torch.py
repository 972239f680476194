#!/usr/bin/python3
"""PyTorch peer of examples/fashion_mnist: MLP 784-256-128-10, ReLU, PyTorch's default
initialisation, Adam lr 1e-3 with cosine annealing over the epochs, batch 64, one thread.
Prints one JSON line per epoch and the training time until the test accuracy first reaches
each threshold (evaluation time excluded, as in kink's example).

usage: fashion_torch.py [epochs] [seed]"""
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


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    xtr = torch.tensor(idx("train-images-idx3-ubyte.gz").reshape(-1, 784), dtype=torch.float32) / 255
    ytr = torch.tensor(idx("train-labels-idx1-ubyte.gz"), dtype=torch.int64)
    xte = torch.tensor(idx("t10k-images-idx3-ubyte.gz").reshape(-1, 784), dtype=torch.float32) / 255
    yte = torch.tensor(idx("t10k-labels-idx1-ubyte.gz"), dtype=torch.int64)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(),
                              torch.nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    lossf = torch.nn.CrossEntropyLoss()
    train_time = 0.0
    reached = {}
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(len(ytr))
        t0 = time.perf_counter()
        net.train()
        for i in range(0, len(ytr), 64):
            idx_ = perm[i:i + 64]
            opt.zero_grad(set_to_none=True)
            loss = lossf(net(xtr[idx_]), ytr[idx_])
            loss.backward()
            opt.step()
        sched.step()
        train_time += time.perf_counter() - t0
        with torch.no_grad():
            acc = (net(xte).argmax(1) == yte).float().mean().item()
        print(json.dumps({"case": "fashion_mnist_epoch", "impl": "pytorch", "epoch": epoch, "test_accuracy": round(acc, 4),
                          "train_seconds": round(train_time, 2)}), flush=True)
        for th in (0.85, 0.88, 0.89):
            if acc >= th and th not in reached:
                reached[th] = train_time
    for th in (0.85, 0.88, 0.89):
        print(json.dumps({"case": f"fashion_mnist_time_to_{th}", "impl": "pytorch", "metric": "train_seconds",
                          "value": round(reached[th], 2) if th in reached else None}))


main()

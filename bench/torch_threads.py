#!/usr/bin/python3
"""PyTorch peer for kink_bench's case 7 (threads): case 1's MLP at batch 64 and 256 and case 5's
LeNet-5 at batch 64 with Adam, on 1, 2, ... threads up to the machine's cores. Each thread
count runs in its own process with torch's intra-op threads and its BLAS's (OpenBLAS and MKL
read their counts when they load) set to it; the thread counts take turns within each
repetition, as in kink_bench. One JSON line per case and count, then one per case naming the
best count ("best_threads").

usage: torch_threads.py [repetitions]"""
import json, os, statistics, subprocess, sys

REPS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "--child" else 7


def child(threads, case, steps):
    import time
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    lossf = torch.nn.CrossEntropyLoss()
    if case.startswith("mlp"):
        b = int(case.split("_b")[1])
        net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                  torch.nn.Linear(128, 10))
        x = torch.rand(b, 784)
    else:
        b = 64
        net = torch.nn.Sequential(
            torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
            torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10))
        x = torch.rand(b, 1, 28, 28)
    y = torch.randint(0, 10, (b,))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        lossf(net(x), y).backward()
        opt.step()

    for _ in range(max(3, steps // 5)):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    print(b * steps / (time.perf_counter() - t0), torch.__version__)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        print(json.dumps({"case": "torch_threads", "impl": "pytorch", "skipped": "python3-torch is not installed"}))
        return 0
    cores = os.cpu_count() or 1
    for case, steps in (("mlp_784_256_128_10_b64", 100), ("mlp_784_256_128_10_b256", 30), ("lenet5_b64", 20)):
        rates = {t: [] for t in range(1, cores + 1)}
        version = ""
        for _ in range(REPS):
            for t in rates:
                env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t))
                out = subprocess.run([sys.executable, __file__, "--child", str(t), case, str(steps)], env=env, check=True,
                                     capture_output=True, text=True).stdout.split()
                rates[t].append(float(out[0]))
                version = out[1]
        med = {t: statistics.median(v) for t, v in rates.items()}
        for t in rates:
            print(json.dumps({"case": "threads_" + case, "impl": "pytorch", "metric": "samples_per_s", "value": round(med[t], 1),
                              "threads": t, "speedup_vs_1_thread": round(med[t] / med[1], 3), "torch": version}), flush=True)
        best = max(med, key=med.get)
        print(json.dumps({"case": "threads_" + case, "impl": "pytorch_best", "metric": "samples_per_s",
                          "value": round(med[best], 1), "best_threads": best, "torch": version}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

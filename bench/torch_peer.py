#!/usr/bin/python3
"""PyTorch peer for bench/kink_bench: the same cases, shapes, initialisation and
hyperparameters, single thread. Prints one JSON line per measurement (median of repetitions).

usage: torch_peer.py [repetitions] [compile]
Run by Debian's python3 it measures torch 1.13 ("impl": "pytorch"); by the Python of the
project's virtual environment (tools/install-peers --bench) torch 2 ("pytorch2"), eagerly or,
with `compile`, each network through torch.compile (Inductor, C++ kernels built by the
machine's g++; "pytorch2_compile")."""
import json, os, statistics, sys, time

# One thread everywhere: torch's intra-op pool and the BLAS it calls (OpenBLAS reads these).
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

try:
    import torch
except ImportError:
    print(json.dumps({"case": "torch_peer", "impl": "pytorch", "skipped": "python3-torch is not installed"}))
    sys.exit(0)

torch.set_num_threads(1)
torch.manual_seed(0)
REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
COMPILE = len(sys.argv) > 2 and sys.argv[2] == "compile"
MAJOR = int(torch.__version__.split(".")[0])
IMPL = "pytorch" if MAJOR < 2 else "pytorch2_compile" if COMPILE else "pytorch2"
if COMPILE and MAJOR < 2:
    print(json.dumps({"case": "torch_peer", "impl": IMPL, "skipped": f"torch.compile needs torch 2 ({torch.__version__})"}))
    sys.exit(0)


def compiled(module):
    """The module itself, or torch.compile of it (forward and, through AOTAutograd, backward)."""
    return torch.compile(module) if COMPILE else module


def blas():
    if torch.backends.mkl.is_available():  # PyPI's wheels link MKL in
        return "mkl"
    cfg = torch.__config__.show()
    for lib in ("openblas", "mkl", "blis"):
        if lib in open("/proc/self/maps").read().lower():
            return lib
    return "reference" if "BLAS_INFO=generic" in cfg else "unknown"


torch.mm(torch.ones(2, 2), torch.ones(2, 2))  # loads the BLAS library
BLAS = blas()


def emit(case, metric, value):
    print(json.dumps({"case": case, "impl": IMPL, "metric": metric, "value": round(value, 3),
                      "torch": torch.__version__, "blas": BLAS}), flush=True)


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))  # U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def time_steps(step, steps):
    for _ in range(max(3, steps // 10)):
        step()
    times = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


# Case 1: MLP 784-256-128-10, ReLU, softmax cross-entropy, batch 64, Adam.
net = mlp([784, 256, 128, 10])
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
net_c = compiled(net)
x = torch.rand(64, 784)
y = torch.randint(0, 10, (64,))
lossf = torch.nn.CrossEntropyLoss()


def step1():
    opt.zero_grad(set_to_none=True)
    loss = lossf(net_c(x), y)
    loss.backward()
    opt.step()


s = time_steps(step1, 100)
emit("mlp_784_256_128_10_b64", "samples_per_s", 64 / s)

# Case 2: tiny MLP 2-16-16-1, ReLU, MSE, batch 32, Adam.
net2 = mlp([2, 16, 16, 1])
opt2 = torch.optim.Adam(net2.parameters(), lr=1e-3)
net2_c = compiled(net2)
x2 = torch.rand(32, 2)
t2 = torch.rand(32, 1)
mse = torch.nn.MSELoss()


def step2():
    opt2.zero_grad(set_to_none=True)
    loss = mse(net2_c(x2), t2)
    loss.backward()
    opt2.step()


s = time_steps(step2, 1000)
emit("mlp_2_16_16_1_b32", "us_per_step", s * 1e6)

# Case 3: one dense layer 1024x1024, batch 256, forward + backward (input gradient included).
lin = torch.nn.Linear(1024, 1024)
lin_c = compiled(lin)
x3 = torch.rand(256, 1024, requires_grad=True)


def step3():
    lin.zero_grad(set_to_none=True)
    x3.grad = None
    lin_c(x3).sum().backward()


s = time_steps(step3, 10)
emit("dense_1024_b256", "gflop_per_s", 3 * 2 * 256 * 1024 * 1024 / s / 1e9)

# Case 4: inference, the forward pass of case 1's network without autograd, batch 1 and 64.
net.eval()
for b, steps in ((1, 5000), (64, 500)):
    xb = torch.rand(b, 784)

    def fwd():
        with torch.inference_mode():
            net_c(xb)

    s = time_steps(fwd, steps)
    emit(f"mlp_784_256_128_10_forward_b{b}", "us_per_call", s * 1e6)

# Case 5: a LeNet-5-style CNN, 28x28x1 input, batch 64, Adam (convolutions through oneDNN when
# torch was built with it, as Debian's is).
lenet = torch.nn.Sequential(
    torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
    torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
    torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10))
opt5 = torch.optim.Adam(lenet.parameters(), lr=1e-3)
lenet_c = compiled(lenet)
x5 = torch.rand(64, 1, 28, 28)
y5 = torch.randint(0, 10, (64,))


def step5():
    opt5.zero_grad(set_to_none=True)
    loss = lossf(lenet_c(x5), y5)
    loss.backward()
    opt5.step()


s = time_steps(step5, 20)
emit("lenet5_b64", "samples_per_s", 64 / s)

# Case 6: one 3x3 convolution 64 -> 64, 28x28, padding 1, batch 32: forward + both gradients.
conv6 = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False)
conv6_c = compiled(conv6)
x6 = torch.rand(32, 64, 28, 28, requires_grad=True)


def step6():
    conv6.zero_grad(set_to_none=True)
    x6.grad = None
    conv6_c(x6).sum().backward()


s = time_steps(step6, 3)
emit("conv3x3_64_28x28_b32", "gflop_per_s", 3 * 2 * 32 * 64 * 64 * 9 * 784 / s / 1e9)

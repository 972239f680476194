#!/usr/bin/env python3
"""JAX peer for bench/kink_bench, cases 1 and 2: the same networks, initialisation (uniform in
+-1/sqrt(fan_in), as torch.nn.Linear), loss and Adam (lr 1e-3, PyTorch's defaults), the whole
training step one jax.jit function (forward, backward and the Adam update), single thread, float32.
Prints one JSON line per measurement (median of repetitions), or one saying it was skipped.

usage: jax_peer.py [repetitions]     (by the Python of the project's virtual environment,
                                      tools/install-peers)"""
import json, os, statistics, sys, time

# one thread: XLA's Eigen pool off, and the process pinned to one core (XLA's CPU client starts
# threads of its own)
os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
try:
    import jax
    import jax.numpy as jnp
except ImportError:
    print(json.dumps({"case": "jax_peer", "impl": "jax_jit", "skipped": f"jax is not importable by {sys.executable} (tools/install-peers)"}))
    sys.exit(0)

REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 7


def emit(case, metric, value):
    print(json.dumps({"case": case, "impl": "jax_jit", "metric": metric, "value": round(value, 3), "jax": jax.__version__}), flush=True)


def init(sizes, key):
    params = []
    for i in range(len(sizes) - 1):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / sizes[i] ** 0.5
        params.append((jax.random.uniform(kw, (sizes[i], sizes[i + 1]), jnp.float32, -bound, bound),
                       jax.random.uniform(kb, (sizes[i + 1],), jnp.float32, -bound, bound)))
    return params


def forward(params, x):
    for i, (w, b) in enumerate(params):
        x = x @ w + b
        if i + 1 < len(params):
            x = jax.nn.relu(x)
    return x


def adam_step(loss_fn, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    @jax.jit
    def step(params, m, v, t, x, y):
        loss, g = jax.value_and_grad(loss_fn)(params, x, y)
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        params = jax.tree_util.tree_map(lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + eps), params, m, v)
        return params, m, v, t, loss

    return step


def time_steps(state, step, args, steps):
    for _ in range(max(3, steps // 10)):
        state = step(*state[:4], *args)
    jax.block_until_ready(state)
    times = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        for _ in range(steps):
            state = step(*state[:4], *args)
        jax.block_until_ready(state)
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def run(sizes, batch, loss_fn, labels, steps):
    key = jax.random.PRNGKey(0)
    params = init(sizes, key)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    x = jax.random.uniform(jax.random.PRNGKey(1), (batch, sizes[0]), jnp.float32)
    step = adam_step(loss_fn)
    state = (params, zeros, zeros, jnp.float32(0))
    return time_steps(state, step, (x, labels), steps)


def cross_entropy(params, x, y):
    logits = forward(params, x)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


def mse(params, x, t):
    return jnp.mean((forward(params, x) - t) ** 2)


# Case 1: MLP 784-256-128-10, ReLU, softmax cross-entropy, batch 64, Adam.
y1 = jnp.array([i * 7 % 10 for i in range(64)], dtype=jnp.int32)
s = run([784, 256, 128, 10], 64, cross_entropy, y1, 100)
emit("mlp_784_256_128_10_b64", "samples_per_s", 64 / s)

# Case 2: tiny MLP 2-16-16-1, ReLU, MSE, batch 32, Adam.
t2 = jax.random.uniform(jax.random.PRNGKey(2), (32, 1), jnp.float32)
s = run([2, 16, 16, 1], 32, mse, t2, 1000)
emit("mlp_2_16_16_1_b32", "us_per_step", s * 1e6)

#!/usr/bin/env python3
"""Checks kink's `jax` or `tensorflow` preset against the framework itself: runs
tests/preset_kinks <preset> and computes each derivative at the same point with the framework's
own function for the op (jax.grad in float64 via jax_enable_x64; tf.GradientTape in float64),
and the documented differences (another function of the framework for the same op family).

usage: preset_check.py jax|tensorflow <preset_kinks binary>

Runs in the Python of the project's virtual environment (tools/install-peers: .venv beside the
checkout, or $KINK_VENV), whichever Python starts it. Skips (exit 77)
when the framework is not importable, unless KINK_REQUIRE_PEERS=1 (CI), where that is a failure."""
import os
import pathlib
import sys

from preset_compare import clean, compare

framework, binary = sys.argv[1], sys.argv[2]
nan = float("nan")
# the project's virtual environment (tools/install-peers): run there when called by another Python
venv = pathlib.Path(os.environ.get("KINK_VENV", pathlib.Path(__file__).resolve().parent.parent / ".venv"))
venv_python = venv / "bin" / "python3"
if venv_python.exists() and pathlib.Path(sys.prefix).resolve() != venv.resolve():
    os.execv(str(venv_python), [str(venv_python), *sys.argv])

try:
    if framework == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        import jax.numpy as jnp
        from jax import lax

        version = "jax " + jax.__version__
    elif framework == "tensorflow":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf
        import keras

        version = "tensorflow " + tf.__version__
    else:
        sys.exit(f"preset_check.py: unknown framework {framework!r} (jax or tensorflow)")
except ImportError as e:
    print(f"{framework} not importable by {sys.executable} ({e}): tools/install-peers installs it in {venv}")
    sys.exit(1 if os.environ.get("KINK_REQUIRE_PEERS") == "1" else 77)


if framework == "jax":

    def grads(fn, *vals):
        g = jax.grad(fn, argnums=tuple(range(len(vals))))(*[jnp.float64(v) for v in vals])
        return [clean(t) for t in g]

    def vec_grad(fn, vals):
        return [clean(t) for t in jax.grad(fn)(jnp.array(vals, dtype=jnp.float64))]

    def value(fn, *vals):
        return clean(fn(*[jnp.float64(v) for v in vals]))

    def heaviside(x):
        return jnp.heaviside(x, 0.0)

    def pool(t):  # flax.linen.max_pool / haiku's max_pool: lax.reduce_window with lax.max
        return jnp.sum(lax.reduce_window(t.reshape(1, 2, 2, 1), -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"))

    cases = {
        "relu@0": lambda: grads(jax.nn.relu, 0.0),
        "abs@0": lambda: grads(jnp.abs, 0.0),
        "leaky_relu(0.25)@0": lambda: grads(lambda x: jax.nn.leaky_relu(x, 0.25), 0.0),
        "relu6@0": lambda: grads(jax.nn.relu6, 0.0),
        "relu6@6": lambda: grads(jax.nn.relu6, 6.0),
        "hardtanh@-1": lambda: grads(jax.nn.hard_tanh, -1.0),
        "hardtanh@1": lambda: grads(jax.nn.hard_tanh, 1.0),
        "sign@0": lambda: grads(jnp.sign, 0.0),
        "heaviside@0": lambda: grads(heaviside, 0.0),
        "l1@x=t": lambda: grads(lambda x: jnp.abs(x - 1.5), 1.5),
        "maximum@tie": lambda: grads(jnp.maximum, 1.0, 1.0) + [0.0],
        "minimum@tie": lambda: grads(jnp.minimum, 1.0, 1.0) + [0.0],
        "clamp@lo": lambda: grads(jnp.clip, 0.0, 0.0, 1.0),
        "clamp@hi": lambda: grads(jnp.clip, 1.0, 0.0, 1.0),
        "amax@tie": lambda: vec_grad(jnp.max, [1.0, 3.0, 3.0, 2.0]),
        "max_pool2x2@tie": lambda: vec_grad(pool, [1.0, 3.0, 3.0, 2.0]),
        "hardsigmoid@-3": lambda: grads(jax.nn.hard_sigmoid, -3.0),
        "hardsigmoid@3": lambda: grads(jax.nn.hard_sigmoid, 3.0),
        "hardswish@-3": lambda: grads(jax.nn.hard_swish, -3.0),
        "hardswish@3": lambda: grads(jax.nn.hard_swish, 3.0),
        "elu(0.5)@0": lambda: grads(lambda x: jax.nn.elu(x, 0.5), 0.0),
        "selu@0": lambda: grads(jax.nn.selu, 0.0),
        "celu(0.5)@0": lambda: grads(lambda x: jax.nn.celu(x, 0.5), 0.0),
    }
    values = {
        "value:hardsigmoid@nan": lambda: value(jax.nn.hard_sigmoid, nan),
        "value:hardswish@nan": lambda: value(jax.nn.hard_swish, nan),
        "value:elu(0.5)@nan": lambda: value(lambda x: jax.nn.elu(x, 0.5), nan),
        "value:selu@nan": lambda: value(jax.nn.selu, nan),
        "value:celu(0.5)@nan": lambda: value(lambda x: jax.nn.celu(x, 0.5), nan),
        "value:relu@nan": lambda: value(jax.nn.relu, nan),
        "value:relu6@nan": lambda: value(jax.nn.relu6, nan),
        "value:hardtanh@nan": lambda: value(jax.nn.hard_tanh, nan),
        "value:leaky_relu@nan": lambda: value(lambda x: jax.nn.leaky_relu(x, 0.25), nan),
        "value:abs@nan": lambda: value(jnp.abs, nan),
        "value:clamp@nan": lambda: value(lambda x: jnp.clip(x, -1.0, 1.0), nan),
        "value:maximum(nan,1)": lambda: value(jnp.maximum, nan, 1.0),
        "value:maximum(1,nan)": lambda: value(jnp.maximum, 1.0, nan),
        "value:minimum(nan,1)": lambda: value(jnp.minimum, nan, 1.0),
        "value:minimum(1,nan)": lambda: value(jnp.minimum, 1.0, nan),
    }
    # A second function of the framework for the same op family that disagrees with the first
    # at the kink: kink's preset follows the first (jnp.clip, what jax.nn and user code call);
    # docs/site/policies.md states the difference. Checked, so that the note cannot go stale:
    # (function at point, its derivative there).
    documented = {
        "lax.clamp@lo": (lambda: grads(lambda x, lo, hi: lax.clamp(lo, x, hi), 0.0, 0.0, 1.0), [0.0, 0.0, 0.0]),
        "lax.clamp@hi": (lambda: grads(lambda x, lo, hi: lax.clamp(lo, x, hi), 1.0, 0.0, 1.0), [0.0, 0.0, 0.0]),
    }
    unchecked = {"hinge@margin": "JAX itself has no hinge loss"}
    for op in ["softshrink(0.5)@-0.5", "softshrink(0.5)@0.5", "hardshrink(0.5)@-0.5", "hardshrink(0.5)@0.5",
               "threshold(0.5,2)@0.5", "value:softshrink(0.5)@nan", "value:hardshrink(0.5)@nan", "value:threshold(0.5,2)@nan"]:
        unchecked[op] = "jax.nn has no softshrink, hardshrink or threshold"
else:

    def grads(fn, *vals):
        ts = [tf.Variable(v, dtype=tf.float64) for v in vals]
        with tf.GradientTape() as tape:
            out = fn(*ts)
        g = tape.gradient(out, ts)
        return [0.0 if t is None else clean(t) for t in g]

    def vec_grad(fn, vals):
        t = tf.Variable(vals, dtype=tf.float64)
        with tf.GradientTape() as tape:
            out = fn(t)
        return [clean(v) for v in tape.gradient(out, t).numpy()]

    def value(fn, *vals):
        return clean(fn(*[tf.constant(v, dtype=tf.float64) for v in vals]))

    def pool(t):  # tf.nn.max_pool2d, NHWC
        return tf.reduce_sum(tf.nn.max_pool2d(tf.reshape(t, (1, 2, 2, 1)), 2, 2, "VALID"))

    def hardtanh(x):  # Keras and TF have no hardtanh op; clip_by_value is what users write
        return tf.clip_by_value(x, -1.0, 1.0)

    cases = {
        "relu@0": lambda: grads(tf.nn.relu, 0.0),
        "abs@0": lambda: grads(tf.abs, 0.0),
        "leaky_relu(0.25)@0": lambda: grads(lambda x: tf.nn.leaky_relu(x, 0.25), 0.0),
        "relu6@0": lambda: grads(tf.nn.relu6, 0.0),
        "relu6@6": lambda: grads(tf.nn.relu6, 6.0),
        "hardtanh@-1": lambda: grads(hardtanh, -1.0),
        "hardtanh@1": lambda: grads(hardtanh, 1.0),
        "sign@0": lambda: grads(tf.sign, 0.0),
        "l1@x=t": lambda: grads(lambda x: tf.abs(x - 1.5), 1.5),
        "maximum@tie": lambda: grads(tf.maximum, 1.0, 1.0) + [0.0],
        "minimum@tie": lambda: grads(tf.minimum, 1.0, 1.0) + [0.0],
        "clamp@lo": lambda: grads(tf.clip_by_value, 0.0, 0.0, 1.0),
        "clamp@hi": lambda: grads(tf.clip_by_value, 1.0, 0.0, 1.0),
        "amax@tie": lambda: vec_grad(tf.reduce_max, [1.0, 3.0, 3.0, 2.0]),
        "max_pool2x2@tie": lambda: vec_grad(pool, [1.0, 3.0, 3.0, 2.0]),
        "hardsigmoid@-3": lambda: grads(keras.activations.hard_sigmoid, -3.0),
        "hardsigmoid@3": lambda: grads(keras.activations.hard_sigmoid, 3.0),
        "hardswish@-3": lambda: grads(keras.activations.hard_swish, -3.0),
        "hardswish@3": lambda: grads(keras.activations.hard_swish, 3.0),
        "elu(0.5)@0": lambda: grads(lambda x: keras.activations.elu(x, 0.5), 0.0),
        "selu@0": lambda: grads(tf.nn.selu, 0.0),
        "softshrink(0.5)@-0.5": lambda: grads(lambda x: keras.activations.soft_shrink(x, 0.5), -0.5),
        "softshrink(0.5)@0.5": lambda: grads(lambda x: keras.activations.soft_shrink(x, 0.5), 0.5),
        "hardshrink(0.5)@-0.5": lambda: grads(lambda x: keras.activations.hard_shrink(x, 0.5), -0.5),
        "hardshrink(0.5)@0.5": lambda: grads(lambda x: keras.activations.hard_shrink(x, 0.5), 0.5),
        "threshold(0.5,2)@0.5": lambda: grads(lambda x: keras.activations.threshold(x, 0.5, 2.0), 0.5),
    }
    values = {
        "value:hardsigmoid@nan": lambda: value(keras.activations.hard_sigmoid, nan),
        "value:hardswish@nan": lambda: value(keras.activations.hard_swish, nan),
        "value:elu(0.5)@nan": lambda: value(lambda x: keras.activations.elu(x, 0.5), nan),
        "value:selu@nan": lambda: value(tf.nn.selu, nan),
        "value:celu(0.5)@nan": lambda: value(lambda x: keras.activations.celu(x, 0.5), nan),
        "value:relu@nan": lambda: value(tf.nn.relu, nan),
        "value:relu6@nan": lambda: value(tf.nn.relu6, nan),
        "value:hardtanh@nan": lambda: value(hardtanh, nan),
        "value:leaky_relu@nan": lambda: value(lambda x: tf.nn.leaky_relu(x, 0.25), nan),
        "value:abs@nan": lambda: value(tf.abs, nan),
        "value:clamp@nan": lambda: value(lambda x: tf.clip_by_value(x, -1.0, 1.0), nan),
        "value:maximum(nan,1)": lambda: value(tf.maximum, nan, 1.0),
        "value:maximum(1,nan)": lambda: value(tf.maximum, 1.0, nan),
        "value:minimum(nan,1)": lambda: value(tf.minimum, nan, 1.0),
        "value:minimum(1,nan)": lambda: value(tf.minimum, 1.0, nan),
    }
    def no_gradient(fn, v):  # None: the tape finds no gradient (the op has none registered)
        x = tf.Variable(v, dtype=tf.float64)
        with tf.GradientTape() as tape:
            out = fn(x)
        return [None if tape.gradient(out, x) is None else "a gradient"]

    def keras_hinge(p, y):
        t = tf.Variable(p, dtype=tf.float64)
        with tf.GradientTape() as tape:
            out = tf.keras.losses.hinge(tf.constant(y, dtype=tf.float64), t)
        return [clean(v) for v in tape.gradient(out, t).numpy()]

    # TensorFlow's only Heaviside function, tf.experimental.numpy.heaviside, has no gradient
    # (the tape returns None): the preset traps there rather than invent a value. Keras's hinge
    # is mean(maximum(1 - y p, 0)), whose tie at the margin goes to maximum's first argument:
    # d/dp = -y / n, where kink's hinge (relu of the margin) takes relu'(0) = 0 from the preset.
    # Checked:
    documented = {
        "tnp.heaviside@0": (lambda: no_gradient(lambda x: tf.experimental.numpy.heaviside(x, 0.0), 0.0), [None]),
        "keras.hinge@margin": (lambda: keras_hinge([1.0, -1.0], [1.0, -1.0]), [-0.5, 0.5]),
        # Keras's soft_shrink, hard_shrink and threshold are tf.where on comparisons, which are
        # false for NaN: they return 0, 0 and the default value, where kink keeps the NaN.
        # Keras's celu is maximum(x, 0) + alpha expm1(minimum(x, 0) / alpha): at 0 both ties go
        # to x, so celu'(0) = 1 + 1 = 2, where the function's derivative (kink's) is 1.
        "keras.celu(0.5)@0": (lambda: grads(lambda x: keras.activations.celu(x, 0.5), 0.0), [2.0]),
        "keras.soft_shrink(nan)": (lambda: [value(lambda x: keras.activations.soft_shrink(x, 0.5), nan)], [0.0]),
        "keras.hard_shrink(nan)": (lambda: [value(lambda x: keras.activations.hard_shrink(x, 0.5), nan)], [0.0]),
        "keras.threshold(nan)": (lambda: [value(lambda x: keras.activations.threshold(x, 0.5, 2.0), nan)], [2.0]),
    }
    # cases kink prints that the framework cannot answer, or answers differently (see `documented`)
    unchecked = {"heaviside@0": "no gradient in TensorFlow, see tnp.heaviside below",
                 "hinge@margin": "Keras's hinge differs at the margin, see keras.hinge below",
                 "celu(0.5)@0": "Keras's celu gives 2, the sum of both pieces, see keras.celu below",
                 "value:softshrink(0.5)@nan": "Keras gives 0, see keras.soft_shrink(nan) below",
                 "value:hardshrink(0.5)@nan": "Keras gives 0, see keras.hard_shrink(nan) below",
                 "value:threshold(0.5,2)@nan": "Keras gives the default value, see keras.threshold(nan) below"}

compare(binary, framework, version, cases, values, unchecked, documented)

#!/usr/bin/env python3
"""kink's ONNX export checked by ONNX itself and run by ONNX Runtime:
`onnx_check.py [--images N] onnx_values [FASHION_CNN_EXE]`.

For the examples' MLP, CNN and ResNet (batch norm in evaluation mode), an MLP through the other
ops with an ONNX form (layer_norm, softmax, the activations) and one through the piecewise ops
(clamp, max, min, sign, step, the shrinks, threshold, a runtime constant), tests/onnx_values draws
parameters, writes the inference program as an ONNX model and kink's logits of the first 1,000
Fashion-MNIST test images (--images N: the first N; the sanitizer build takes fewer). Here onnx.checker.check_model(full_check=True) validates the model
(operators, attributes, types and shapes inferred through the whole graph), ONNX Runtime runs
it on the same images (read from Debian's dataset-fashion-mnist, pixel / 255 in float32 as kink
reads them), and every predicted class must equal kink's, every logit within 1e-5 of kink's
relative to the largest |logit| of its image. Float32 throughout: the products sum up to 1,568
terms in different orders (MLAS's kernels against kink's), about sqrt(1568) x 6e-8 = 2.4e-6 of the
terms' magnitudes at worst, within 1e-5 for logits of this scale.

With the example's executable: `fashion_cnn --quick --export-onnx F` trains on 512 images and
evaluates 512 test images; ONNX Runtime's accuracy on those images with the exported model must
equal the test_accuracy the example printed.

Runs in the project's virtual environment (tools/install-peers installs onnx and onnxruntime);
skips (exit 77) when they are absent, unless KINK_REQUIRE_PEERS=1 (CI)."""
import gzip, json, os, pathlib, struct, subprocess, sys, tempfile

venv = pathlib.Path(os.environ.get("KINK_VENV", pathlib.Path(__file__).resolve().parent.parent / ".venv"))
venv_python = venv / "bin" / "python3"
if venv_python.exists() and pathlib.Path(sys.prefix).resolve() != venv.resolve():
    os.execv(str(venv_python), [str(venv_python), *sys.argv])
try:
    import numpy as np
    import onnx
    import onnxruntime as ort
except ImportError as e:
    print("onnx or onnxruntime not importable by", sys.executable, f"({e})")
    sys.exit(1 if os.environ.get("KINK_REQUIRE_PEERS") == "1" else 77)

DATA = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def images(n):
    raw = gzip.open(DATA, "rb").read()
    return (np.frombuffer(raw, dtype=np.uint8, offset=16)[: n * 784].astype(np.float32) / np.float32(255)).reshape(n, 784)


def logits(path):
    raw = open(path, "rb").read()
    (h,) = struct.unpack("<Q", raw[:8])
    t = json.loads(raw[8:8 + h])["logits"]
    b, e = t["data_offsets"]
    return np.frombuffer(raw[8 + h + b:8 + h + e], dtype=np.float32).reshape(t["shape"])


def main():
    args, n, failed = sys.argv[1:], 1000, 0
    if args[:1] == ["--images"]:
        n, args = int(args[1]), args[2:]
    exe = args[0]
    x = images(n)
    with tempfile.TemporaryDirectory() as tmp:
        for net in ("mlp", "cnn", "resnet", "misc", "kinked"):
            model, out = f"{tmp}/{net}.onnx", f"{tmp}/{net}.safetensors"
            subprocess.run([exe, net, model, out, str(n)], check=True)
            m = onnx.load(model)
            onnx.checker.check_model(m, full_check=True)
            sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
            name = sess.get_inputs()[0].name
            feed = x if net in ("mlp", "misc", "kinked") else x.reshape(n, 1, 28, 28)
            got = sess.run(["output"], {name: feed})[0]
            want = logits(out)
            rel = (np.abs(got - want).max(axis=1) / np.abs(want).max(axis=1)).max()
            same = int((got.argmax(1) == want.argmax(1)).sum())
            ok = rel <= 1e-5 and same == n
            failed += not ok
            ops = sorted({node.op_type for node in m.graph.node})
            print(f"{'ok  ' if ok else 'FAIL'} {net}: {same}/{n} classes equal, worst logit {rel:.2e} relative; "
                  f"opset {m.opset_import[0].version}, ops {' '.join(ops)} (onnx {onnx.__version__}, onnxruntime {ort.__version__})")
        if len(args) > 1:
            model = f"{tmp}/example.onnx"
            r = subprocess.run([args[1], "--quick", "--threads", "1", "--out", f"{tmp}/run", "--export-onnx", model],
                               capture_output=True, text=True, check=True)
            printed = float(r.stdout.strip().splitlines()[-1].split()[0].split("=")[1])
            labels = np.frombuffer(gzip.open(DATA.replace("images-idx3", "labels-idx1"), "rb").read(), dtype=np.uint8, offset=8)[:512]
            sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
            z = sess.run(["output"], {"x": images(512).reshape(512, 1, 28, 28)})[0]
            acc = float((z.argmax(1) == labels).mean())
            ok = f"{acc:.4f}" == f"{printed:.4f}"
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} fashion_cnn --export-onnx: ONNX Runtime's accuracy on the 512 test images {acc:.4f}, "
                  f"the example printed {printed:.4f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

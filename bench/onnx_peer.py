#!/usr/bin/env python3
"""ONNX Runtime peer of kink_bench's case 4 (inference): the MLP 784-256-128-10 and the LeNet-5,
exported by kink_bench itself (KINK_BENCH_ONNX_DIR; the same networks and parameters), run by
ONNX Runtime on one thread (intra- and inter-op) at batch 1 and 64: microseconds per call, the
median of several repetitions, as kink_bench measures its own compile_forward programs.

usage: onnx_peer.py ONNX_DIR [repetitions]    (in the project's .venv: tools/install-peers)"""
import json, os, sys, time

try:
    import numpy as np
    import onnxruntime as ort
except ImportError as e:
    print(json.dumps({"case": "onnx_peer", "impl": "onnxruntime", "skipped": f"not importable: {e}"}))
    sys.exit(0)


def main():
    folder = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    rng = np.random.default_rng(6)
    for name, case, shape in (("mlp", "mlp_784_256_128_10", (784,)), ("lenet5", "lenet5", (1, 28, 28))):
        path = os.path.join(folder, name + ".onnx")
        if not os.path.exists(path):
            print(json.dumps({"case": case, "impl": "onnxruntime", "skipped": f"no {path} (kink_bench built without protozero)"}))
            continue
        sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        feed_name = sess.get_inputs()[0].name
        for batch, inner in ((1, 20000), (64, 2000)):
            x = rng.random((batch, *shape), dtype=np.float32)
            feed = {feed_name: x}
            sess.run(["output"], feed)
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                for _ in range(inner if batch == 64 else inner // 4):
                    sess.run(["output"], feed)
                times.append((time.perf_counter() - t0) / (inner if batch == 64 else inner // 4))
            times.sort()
            print(json.dumps({"case": f"{case}_forward_b{batch}", "impl": "onnxruntime", "metric": "us_per_call",
                              "value": round(times[len(times) // 2] * 1e6, 2), "batch": batch, "onnxruntime": ort.__version__}), flush=True)


main()

# Deploying a model, the Python side: the ONNX file in ONNX Runtime, and the model file in PyTorch.
# (pip install onnxruntime numpy safetensors torch; tests/onnx_check.py and tests/torch_state_dict.py
# check the same in the test suite.)
import gzip

import numpy as np
import onnxruntime as ort

raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", "rb").read()
images = (np.frombuffer(raw, dtype=np.uint8, offset=16).astype(np.float32) / np.float32(255)).reshape(-1, 784)
sess = ort.InferenceSession("mlp.onnx", providers=["CPUExecutionProvider"])
classes = sess.run(["output"], {"x": images})[0].argmax(1)

# the same architecture in PyTorch, with kink's (PyTorch's) parameter names
import torch
from safetensors.torch import load_file


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.bn1, self.fc2 = torch.nn.Linear(784, 128), torch.nn.BatchNorm1d(128), torch.nn.Linear(128, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.bn1(self.fc1(x))))


model = MLP().eval()
missing, unexpected = model.load_state_dict(load_file("mlp.safetensors"), strict=False)
assert missing == ["bn1.num_batches_tracked"] and not unexpected  # kink keeps no batch count

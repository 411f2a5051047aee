#!/usr/bin/env python3
"""Exports a small CNN with both of PyTorch's ONNX exporters, as users do, into
tests/fixtures/onnx/torch/, with the reference probabilities onnxruntime gives on the
fixture probes (tests/fixtures/onnx/probes, 8x8):

  default_exporter.onnx (+ default_exporter.onnx.data)
      torch.onnx.export(..., dynamo=True), PyTorch's default exporter (torch.export and
      onnxscript), which keeps the weights in an external data file beside the model;
  torchscript_exporter.onnx
      torch.onnx.export(..., dynamo=False), the TorchScript exporter;
  expected.json
      {"models": {file: {probe: [p_0, p_1, p_2]}}}: onnxruntime's softmax of the logits.

Both take "image" [batch, 3, 8, 8] in [0, 1] with a dynamic batch and output "logits" [batch, 3].

    pip install torch onnx onnxscript onnxruntime numpy
    python3 scripts/make_torch_fixtures.py
"""
import json
import pathlib
import sys

import numpy as np
import onnxruntime as ort
import torch

FIX = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/onnx"
OUT = FIX / "torch"
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_exporter_fixtures import read_png  # noqa: E402


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 3)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc(x.mean(dim=(2, 3)))


def main():
    torch.manual_seed(5)
    OUT.mkdir(parents=True, exist_ok=True)
    for stale in OUT.iterdir():
        stale.unlink()
    model = Tiny().eval()
    with torch.no_grad():
        for c in range(3):
            model.conv.weight[c, c] += 0.5
            model.fc.weight[c, c] += 3.0
    x = torch.rand(2, 3, 8, 8)
    batch = torch.export.Dim("batch")
    torch.onnx.export(
        model,
        (x,),
        OUT / "default_exporter.onnx",
        input_names=["image"],
        output_names=["logits"],
        dynamic_shapes={"x": {0: batch}},
        dynamo=True,
        external_data=True,
    )
    torch.onnx.export(
        model,
        (x,),
        OUT / "torchscript_exporter.onnx",
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        dynamo=False,
    )
    names = sorted(p.name for p in (FIX / "probes").glob("*.png"))
    images = np.stack([read_png(FIX / "probes" / n).astype(np.float32).transpose(2, 0, 1) / 255 for n in names])
    expected = {}
    for f in ["default_exporter.onnx", "torchscript_exporter.onnx"]:
        s = ort.InferenceSession(str(OUT / f), providers=["CPUExecutionProvider"])
        logits = s.run(None, {"image": images})[0]
        with torch.no_grad():
            assert np.abs(logits - model(torch.from_numpy(images)).numpy()).max() < 1e-4
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        expected[f] = {n: [float(v) for v in row] for n, row in zip(names, p)}
    (OUT / "expected.json").write_text(json.dumps({"models": expected}, indent=1))
    print("wrote", sorted(p.name for p in OUT.iterdir()))


if __name__ == "__main__":
    main()

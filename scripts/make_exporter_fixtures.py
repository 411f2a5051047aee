#!/usr/bin/env python3
"""Builds ONNX fixtures with what real exporters write, from tests/fixtures/onnx/tiny.onnx
(same weights, so the reference probabilities are its expected.json):

  exporters/external_data.onnx (+ external_data.onnx.data)
      the weights in a separate file beside the model, as PyTorch's default exporter
      (torch.export / onnxscript) saves them;
  exporters/value_info_symbol.onnx
      value_info for every intermediate tensor with the batch dimension named
      "DynamicDimension.0" while the input names it "N", as Paddle2ONNX writes it;
  exporters/nhwc_opset9.onnx
      an NHWC input (a Transpose first) at opset 9, as tf2onnx writes TensorFlow models.

    pip install numpy onnx onnxruntime
    python3 scripts/make_exporter_fixtures.py

It checks each fixture with onnxruntime against expected.json (1e-5) before writing it.
"""
import json
import pathlib
import struct
import zlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, shape_inference

FIX = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/onnx"
OUT = FIX / "exporters"


def read_png(path):
    """An (h, w, 3) uint8 array from the fixture's PNGs (8-bit RGB, filter 0, as
    make_onnx_fixture.py writes them)."""
    data = path.read_bytes()[8:]
    idat, w, h = b"", 0, 0
    while data:
        n = struct.unpack(">I", data[:4])[0]
        kind, body = data[4:8], data[8 : 8 + n]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        data = data[12 + n :]
    raw = zlib.decompress(idat)
    rows = [raw[y * (3 * w + 1) + 1 : (y + 1) * (3 * w + 1)] for y in range(h)]
    assert all(raw[y * (3 * w + 1)] == 0 for y in range(h)), "unfiltered rows expected"
    return np.frombuffer(b"".join(rows), np.uint8).reshape(h, w, 3)


def probes():
    table = json.loads((FIX / "expected.json").read_text())["probabilities"]
    names = sorted(table)
    x = np.stack([read_png(FIX / "probes" / n).astype(np.float32).transpose(2, 0, 1) / 255 for n in names])
    return x, np.array([table[n] for n in names])


def check(path, x, expected, nhwc=False):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = x.transpose(0, 2, 3, 1) if nhwc else x
    got = s.run(None, {s.get_inputs()[0].name: np.ascontiguousarray(feed)})[0]
    assert np.abs(got - expected).max() < 1e-5, np.abs(got - expected).max()


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    x, expected = probes()
    tiny = onnx.load(FIX / "tiny.onnx")

    m = onnx.load(FIX / "tiny.onnx")
    for stale in OUT.glob("external_data.onnx*"):
        stale.unlink()
    onnx.save_model(
        m,
        OUT / "external_data.onnx",
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="external_data.onnx.data",
        size_threshold=0,
    )
    check(OUT / "external_data.onnx", x, expected)

    m = shape_inference.infer_shapes(tiny)
    for vi in m.graph.value_info:
        dims = vi.type.tensor_type.shape.dim
        if dims and dims[0].dim_param:
            dims[0].dim_param = "DynamicDimension.0"
    onnx.save(m, OUT / "value_info_symbol.onnx")
    check(OUT / "value_info_symbol.onnx", x, expected)

    m = onnx.load(FIX / "tiny.onnx")
    g = m.graph
    g.input[0].CopyFrom(helper.make_tensor_value_info("image_nhwc", TensorProto.FLOAT, ["N", 8, 8, 3]))
    g.node.insert(0, helper.make_node("Transpose", ["image_nhwc"], ["image"], perm=[0, 3, 1, 2]))
    # Every operator here means the same at opset 9 (Softmax over [N, 3] at axis 1 included).
    m.opset_import[0].version = 9
    onnx.checker.check_model(m)
    onnx.save(m, OUT / "nhwc_opset9.onnx")
    check(OUT / "nhwc_opset9.onnx", x, expected, nhwc=True)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

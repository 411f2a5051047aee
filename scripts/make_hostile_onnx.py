#!/usr/bin/env python3
"""Builds the ONNX models of the bad-input tests (tests/fixtures/onnx/hostile/).

Each is a tiny classifier of 8x8 RGB images: the per-channel mean of the image times a fixed
3x2 matrix gives two logits. The variants differ in what a careless export produces:

  two_outputs.onnx     outputs "features" [N, 3] then "logits" [N, 2]
  uint8_input.onnx     input uint8 pixel values 0-255
  float16_input.onnx   input float16
  float64_output.onnx  output float64 logits
  int64_output.onnx    output int64 class indices [N, 1] (not probabilities)
  int32_input.onnx     input int32 (no clear meaning: refused)
  zero_classes.onnx    output [N, 0]
  two_inputs.onnx      two image inputs
  nan_output.onnx      outputs NaN for every image
  any_size.onnx        input [N, 3, H, W] of any size (so --input-size decides)

expected.json holds each convertible model's logits, from onnxruntime, on a fixed batch
(probes 0-3 of tests/fixtures/onnx/probes, as float32 RGB in [0, 1]).

    .venv/bin/pip install numpy onnx onnxruntime
    .venv/bin/python scripts/make_hostile_onnx.py
"""
import json
import pathlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/onnx/hostile"
W = np.array([[2.0, -1.0], [-1.5, 2.5], [0.5, 0.25]], dtype=np.float32)


def model(name, nodes, inputs, outputs, inits=()):
    graph = helper.make_graph(
        nodes, name, inputs, outputs, [numpy_helper.from_array(W, "w"), *inits]
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, OUT / f"{name}.onnx")
    return m


def image(name, elem=TensorProto.FLOAT, size=(8, 8)):
    return helper.make_tensor_value_info(name, elem, ["N", 3, *size])


def head(src, out="logits"):
    """Per-channel mean, then the 3x2 matrix."""
    return [
        helper.make_node("ReduceMean", [src], ["m"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["m", "w"], [out]),
    ]


def logits_info(elem=TensorProto.FLOAT, name="logits", width=2):
    return helper.make_tensor_value_info(name, elem, ["N", width])


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    model(
        "two_outputs",
        [
            helper.make_node("ReduceMean", ["image"], ["features"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["features", "w"], ["logits"]),
        ],
        [image("image")],
        [logits_info(name="features", width=3), logits_info()],
    )
    model(
        "uint8_input",
        [
            helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT),
            helper.make_node("Div", ["f", "k255"], ["x"]),
            *head("x"),
        ],
        [image("image", TensorProto.UINT8)],
        [logits_info()],
        [numpy_helper.from_array(np.array(255.0, dtype=np.float32), "k255")],
    )
    model(
        "float16_input",
        [helper.make_node("Cast", ["image"], ["x"], to=TensorProto.FLOAT), *head("x")],
        [image("image", TensorProto.FLOAT16)],
        [logits_info()],
    )
    model(
        "float64_output",
        [*head("image", "l32"), helper.make_node("Cast", ["l32"], ["logits"], to=TensorProto.DOUBLE)],
        [image("image")],
        [logits_info(TensorProto.DOUBLE)],
    )
    model(
        "int64_output",
        [*head("image", "l32"), helper.make_node("ArgMax", ["l32"], ["logits"], axis=1, keepdims=1)],
        [image("image")],
        [logits_info(TensorProto.INT64, width=1)],
    )
    model(
        "int32_input",
        [helper.make_node("Cast", ["image"], ["x"], to=TensorProto.FLOAT), *head("x")],
        [image("image", TensorProto.INT32)],
        [logits_info()],
    )
    model(
        "zero_classes",
        [
            *head("image", "l32"),
            helper.make_node("Slice", ["l32", "zero", "zero", "one"], ["logits"]),
        ],
        [image("image")],
        [logits_info(width=0)],
        [
            numpy_helper.from_array(np.array([0], dtype=np.int64), "zero"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        ],
    )
    model(
        "two_inputs",
        [helper.make_node("Add", ["a", "b"], ["x"]), *head("x")],
        [image("a"), image("b")],
        [logits_info()],
    )
    model(
        "nan_output",
        [*head("image", "l32"), helper.make_node("Div", ["zeros", "zeros"], ["nan"]),
         helper.make_node("Add", ["l32", "nan"], ["logits"])],
        [image("image")],
        [logits_info()],
        [numpy_helper.from_array(np.zeros(2, dtype=np.float32), "zeros")],
    )

    model("any_size", head("image"), [image("image", size=("H", "W"))], [logits_info()])

    # Reference outputs on 4 fixed images.
    probes = sorted((OUT.parent / "probes").glob("*.png"))[:4]
    from zlib import decompress

    def read_png(p):
        data = p.read_bytes()
        pos, idat, w, h = 8, b"", 0, 0
        while pos < len(data):
            n = int.from_bytes(data[pos:pos + 4], "big")
            kind = data[pos + 4:pos + 8]
            body = data[pos + 8:pos + 8 + n]
            if kind == b"IHDR":
                w, h = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
            if kind == b"IDAT":
                idat += body
            pos += 12 + n
        raw = decompress(idat)
        rows = [raw[y * (3 * w + 1) + 1:(y + 1) * (3 * w + 1)] for y in range(h)]
        return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(h, w, 3)

    u8 = np.stack([read_png(p) for p in probes]).transpose(0, 3, 1, 2).copy()
    f32 = u8.astype(np.float32) / 255.0
    feeds = {
        "two_outputs": f32,
        "uint8_input": u8,
        "float16_input": f32.astype(np.float16),
        "float64_output": f32,
    }
    expected = {"probes": [p.name for p in probes]}
    for name, x in feeds.items():
        sess = ort.InferenceSession(str(OUT / f"{name}.onnx"))
        out = sess.run(["logits"], {"image": x})[0]
        expected[name] = np.asarray(out, dtype=np.float64).tolist()
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main()

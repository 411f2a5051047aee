#!/usr/bin/env python3
"""Builds the ONNX test fixture: a tiny image classifier and reference outputs.

Writes into tests/fixtures/onnx/:
  tiny.onnx        Conv(3->4, 3x3) - ReLU - GlobalAveragePool - Flatten - Gemm(4->3) - Softmax,
                   input "image" [N, 3, 8, 8] (NCHW, values in [0, 1]), output "probs" [N, 3];
                   class names in the metadata under "class_names" (one of them is markup, so
                   the report's escaping is exercised)
  probes/*.png     24 small RGB images (8x8)
  expected.json    the model's softmax output for each probe, from onnx's reference evaluator

    pip install numpy onnx
    python3 scripts/make_onnx_fixture.py

The weights come from a fixed numpy seed; the PNGs are written with zlib, so nothing else is
needed.
"""
import json
import pathlib
import struct
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/onnx"
CLASS_NAMES = ["red-ish", "green-ish", "<b>blue</b>"]


def png(path, rgb):
    """Writes an 8-bit RGB PNG from an (h, w, 3) uint8 array."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def model():
    rng = np.random.default_rng(7)
    conv_w = rng.normal(0, 0.5, size=(4, 3, 3, 3)).astype(np.float32)
    # Make the channels matter: filter c mostly looks at colour channel c.
    for c in range(3):
        conv_w[c, c] += 1.0
    conv_b = rng.normal(0, 0.1, size=(4,)).astype(np.float32)
    gemm_w = rng.normal(0, 1.0, size=(3, 4)).astype(np.float32)
    gemm_w[:, :3] += 4.0 * np.eye(3, dtype=np.float32)
    gemm_b = np.zeros(3, dtype=np.float32)
    nodes = [
        helper.make_node("Conv", ["image", "conv_w", "conv_b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "gemm_w", "gemm_b"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 3])],
        initializer=[
            numpy_helper.from_array(conv_w, "conv_w"),
            numpy_helper.from_array(conv_b, "conv_b"),
            numpy_helper.from_array(gemm_w, "gemm_w"),
            numpy_helper.from_array(gemm_b, "gemm_b"),
        ],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="spurion-fixture")
    m.ir_version = 8
    helper.set_model_props(m, {"class_names": json.dumps(CLASS_NAMES)})
    onnx.checker.check_model(m)
    return m


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "probes").mkdir(exist_ok=True)
    m = model()
    onnx.save(m, OUT / "tiny.onnx")
    rng = np.random.default_rng(11)
    images = []
    for i in range(24):
        base = rng.integers(0, 256, size=3)
        noise = rng.integers(-40, 41, size=(8, 8, 3))
        img = np.clip(base + noise, 0, 255).astype(np.uint8)
        name = f"probe-{i:02d}.png"
        png(OUT / "probes" / name, img)
        images.append((name, img))
    x = np.stack([img.astype(np.float32).transpose(2, 0, 1) / 255.0 for _, img in images])
    probs = ReferenceEvaluator(m).run(None, {"image": x})[0]
    expected = {name: [float(v) for v in p] for (name, _), p in zip(images, probs)}
    (OUT / "expected.json").write_text(json.dumps({"class_names": CLASS_NAMES, "probabilities": expected}, indent=1))
    print(f"wrote {OUT}: tiny.onnx, {len(images)} probes, expected.json")


if __name__ == "__main__":
    main()

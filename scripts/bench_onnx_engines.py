#!/usr/bin/env python3
"""Probes/s of ONNX models on onnxruntime's Python API and on spurion's two engines, side by
side in one run, with the same threads and batch.

    pip install onnxruntime numpy
    python3 scripts/bench_onnx_engines.py MODEL.onnx [MODEL.onnx ...] [--batch 32] [--repeats 3]

onnxruntime-Python runs batches of uniform [0, 1] inputs at the model's declared input size
(float32, NCHW) with intra_op_num_threads = the number of cores; then `spurion bench --onnx`
times tract and ONNX Runtime (the same library the Python package loaded) on solid probes,
preprocessing and softmax included. Prints one table and the ratio to onnxruntime-Python.
"""
import argparse
import os
import pathlib
import subprocess
import time

import numpy as np
import onnxruntime as ort

ROOT = pathlib.Path(__file__).resolve().parent.parent


def library():
    capi = pathlib.Path(ort.__file__).parent / "capi"
    return str(next(capi.glob("libonnxruntime.so*")))


def python_rate(model, batch, repeats, threads):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    s = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    shape = [batch] + [d if isinstance(d, int) else 1 for d in i.shape[1:]]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    s.run(None, {i.name: x})
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        s.run(None, {i.name: x})
        best = min(best, time.perf_counter() - t)
    return batch / best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--spurion", default=str(ROOT / "target/release/spurion"))
    a = ap.parse_args()
    threads = os.cpu_count()
    lib = library()
    print(f"onnxruntime {ort.__version__} ({lib}), {threads} threads, batch {a.batch}, best of {a.repeats}")
    for m in a.models:
        py = python_rate(m, a.batch, a.repeats, threads)
        out = subprocess.run(
            [a.spurion, "bench", "-q", "--onnx", m, "--onnx-batch", str(a.batch), "--repeats", str(a.repeats), "--ort-lib", lib],
            check=True, capture_output=True, text=True,
        ).stdout
        print(f"{pathlib.Path(m).name:<24} onnxruntime-Python {py:8.1f} probes/s")
        for line in out.splitlines():
            if "probes/s" in line:
                rate = float(line.split("probes/s")[0].split()[-1])
                engine = line.split(" on ")[1].split()[0]
                print(f"{'':<24} spurion {engine:<11} {rate:8.1f} probes/s  ({rate / py:.2f}x)")


if __name__ == "__main__":
    main()

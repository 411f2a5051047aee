#!/usr/bin/env python3
"""The Python route's overhead: `spurion.audit` with a `predict` that costs nothing against
the CLI's `--scores` route on the same probe folder and probabilities.

    pip install numpy target/wheels/spurion-*.whl
    python3 scripts/bench_python_overhead.py [--count 100000] [--size 28]

Writes a solid probe folder with `spurion probes`, scores every probe (a mean-colour rule), then
times (best of --repeats) the CLI reading the scores from a CSV and the Python package calling a
`predict` that only hands back the precomputed rows in order: the difference is what crossing
into Python and back costs per batch.
"""
import argparse
import pathlib
import subprocess
import tempfile
import time

import numpy as np

import spurion

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--spurion", default=str(ROOT / "target/release/spurion"))
    a = ap.parse_args()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="spurion-overhead-"))
    probes = tmp / "probes"
    subprocess.run([a.spurion, "probes", "--family", "solid", "--count", str(a.count), "--size", str(a.size),
                    "--out", str(probes), "-q"], check=True)
    x = spurion.probes("solid", a.count, (a.size, a.size), seed=0)
    m = x.mean(axis=(2, 3))
    p1 = 1 / (1 + np.exp(-12 * (m[:, 1] - np.maximum(m[:, 0], m[:, 2]))))
    table = np.stack([1 - p1, p1], axis=1).astype(np.float32)
    with open(tmp / "scores.csv", "w") as f:
        f.write("id,other,green\n")
        for i, row in enumerate(table):
            f.write(f"{i},{float(row[0])!r},{float(row[1])!r}\n")

    def cli():
        subprocess.run([a.spurion, "audit", "--probes", str(probes), "--scores", str(tmp / "scores.csv"),
                        "--out", str(tmp / "cli"), "-q"], check=True)

    def python():
        at = [0]

        def predict(batch):
            rows = table[at[0] : at[0] + len(batch)]
            at[0] += len(batch)
            return rows

        spurion.audit(predict, probes=str(probes), probes_count=None, input_size=(a.size, a.size),
                      class_names=["other", "green"], out=tmp / "py", force=True, quiet=True)

    times = {}
    for name, run in [("cli --scores", cli), ("python", python)]:
        best = float("inf")
        for _ in range(a.repeats):
            t = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - t)
        times[name] = best
        print(f"{name:<14} {best:7.1f} s")
    print(f"python / cli = {times['python'] / times['cli --scores']:.3f} ({a.count} probes, {a.size}x{a.size})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference numbers for spurion's weighted k-means, from scikit-learn.

Writes tests/fixtures/kmeans_reference.json: fixed data sets, their weights, and what
scikit-learn's KMeans(sample_weight=...) finds on them. The Rust tests in
src/kmeans/tests.rs read that file and compare.

    pip install numpy scikit-learn
    python3 scripts/kmeans_reference.py

The data is generated from a fixed numpy seed, and written out in full, so the Rust side does
not need numpy's generator.
"""
import json
import pathlib

import numpy as np
import sklearn
from sklearn.cluster import KMeans


def blobs(rng, centers, n_per, scale):
    pts = [rng.normal(c, scale, size=(n_per, len(c))) for c in centers]
    return np.concatenate(pts).astype(np.float32)


def case(name, x, w, k, init=None):
    if init is None:
        km = KMeans(n_clusters=k, init="k-means++", n_init=50, tol=1e-10, max_iter=1000,
                    random_state=0, algorithm="lloyd")
    else:
        km = KMeans(n_clusters=k, init=np.asarray(init, dtype=np.float64), n_init=1,
                    tol=1e-10, max_iter=1000, algorithm="lloyd")
    km.fit(x.astype(np.float64), sample_weight=w.astype(np.float64))
    return {
        "name": name,
        "dim": int(x.shape[1]),
        "k": k,
        "points": [float(v) for v in x.ravel()],
        "weights": [float(v) for v in w],
        "init": None if init is None else [float(v) for v in np.asarray(init).ravel()],
        "centroids": [float(v) for v in km.cluster_centers_.ravel()],
        "inertia": float(km.inertia_),
        "labels": [int(v) for v in km.labels_],
    }


def main():
    rng = np.random.default_rng(20240410)
    cases = []

    # Three 2-D blobs, weights spread over [0.05, 1]: a weighted fit from a given start.
    x = blobs(rng, [(0, 0), (4, 0), (2, 3)], 30, 0.6)
    w = rng.uniform(0.05, 1.0, size=len(x)).astype(np.float32)
    init = [x[0], x[31], x[62]]
    cases.append(case("blobs2d_from_init", x, w, 3, init=init))
    # The same data from k-means++ with restarts: the weighted optimum.
    cases.append(case("blobs2d_kmeanspp", x, w, 3))

    # Weights decide the answer: a 1-D set where unweighted and weighted means differ.
    x1 = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [30.0]], dtype=np.float32)
    w1 = np.array([1.0, 1.0, 8.0, 0.5, 4.0, 0.0], dtype=np.float32)
    cases.append(case("weights_move_means_1d", x1, w1, 2, init=[[0.0], [11.0]]))

    # Latent-like 3-D data with p^2 weights, some exactly zero.
    x3 = rng.normal(0, 1, size=(200, 3)).astype(np.float32)
    p = 1 / (1 + np.exp(-3 * x3[:, 0]))
    w3 = (p ** 2).astype(np.float32)
    w3[:20] = 0.0
    cases.append(case("latents3d_p2_weights", x3, w3, 2))

    out = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/kmeans_reference.json"
    out.write_text(json.dumps({"sklearn_version": sklearn.__version__, "cases": cases}, indent=1))
    print(f"wrote {out} ({len(cases)} cases, scikit-learn {sklearn.__version__})")


if __name__ == "__main__":
    main()

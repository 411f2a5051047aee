"""spurion: find the shortcuts (spurious correlations) an image classifier has learned, from
unlabeled probe images and nothing but the classifier's output probabilities.

The method (Tischler 2024, "Using Clustered Random Samples to Find Spurious Correlations in
Neural Networks"): run probe images through the classifier, train a VAE on the probes, and
cluster the probes' latents per class, each probe weighted by p_c(x)^2; decoded centroids show
what drives each class. spurion adds held-out scoring, a calibrated permutation test and a
causal test on real images, and says "nothing found" when nothing is.

    import spurion
    result = spurion.audit(predict, probes="solid", input_size=(28, 28), holdout=images)
    for f in result.findings:
        print(f["class_name"], f["status"], f["reason"])

`predict` is any callable taking a float32 numpy batch (N, 3, H, W) in [0, 1] and returning
probabilities (N, C) (or logits, with output="logits"). For a PyTorch model, see
spurion.torch.predictor.

Progress shows with tqdm when it is installed (in a terminal and in Jupyter), otherwise as
the Rust bars on stderr; Ctrl-C (or the notebook's interrupt) stops a run at its next step
with KeyboardInterrupt and writes nothing.
"""

import json
import os
import pathlib
import shutil
import tempfile

import numpy as np

from . import _spurion

__version__ = _spurion.__version__
__all__ = ["audit", "audit_onnx", "probes", "reproduce", "AuditResult", "TqdmBars"]


def _generated(family, count, size, seed):
    h, w = _size(size)
    buf = _spurion.probes(family, int(count), h, w, int(seed))
    return np.frombuffer(buf, dtype="<f4").reshape(int(count), 3, h, w).copy()


def probes(family="solid", count=1000, size=(28, 28), seed=0):
    """The probes `audit` generates for `family` (solid, patch, gratings, noise, frame, glyph, mixed) with `seed`,
    as a float32 array (count, 3, H, W) in [0, 1]."""
    return _generated(family, count, size, seed)


def _size(size):
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


class TqdmBars:
    """Progress through tqdm (tqdm.auto: a widget in Jupyter, a bar in a terminal). Any object
    with these four methods can be passed as `progress=` instead."""

    def __init__(self):
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self._bars = {}

    def start(self, bar, total, label):
        self._bars[bar] = self._tqdm(total=total, desc=label, leave=False)

    def update(self, bar, position, message):
        b = self._bars.get(bar)
        if b is None:
            return
        if message:
            b.set_postfix_str(message, refresh=False)
        b.update(position - b.n)

    def finish(self, bar):
        b = self._bars.pop(bar, None)
        if b is not None:
            b.close()

    def line(self, text):
        self._tqdm.write(text)


def _bars(progress, quiet):
    """(quiet, bars) for the core from `progress`: "auto" (tqdm if installed, else the Rust
    bars on stderr), "tqdm", "stderr", "none", or an object with start/update/finish/line."""
    if quiet or progress in (None, False, "none"):
        return True, None
    if progress == "stderr":
        return False, None
    if progress in ("auto", True):
        try:
            return False, TqdmBars()
        except ImportError:
            return False, None
    if progress == "tqdm":
        return False, TqdmBars()
    if all(hasattr(progress, m) for m in ("start", "update", "finish", "line")):
        return False, progress
    raise ValueError(
        f"progress: expected 'auto', 'tqdm', 'stderr', 'none' or an object with "
        f"start/update/finish/line methods, got {progress!r}"
    )


def _to_probabilities(raw, output):
    raw = np.asarray(raw, dtype=np.float64)
    if output == "probabilities":
        return raw
    if output == "logits":
        if raw.ndim == 2 and raw.shape[1] == 1:
            return 1.0 / (1.0 + np.exp(-raw))
        z = raw - raw.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(f"output: expected 'probabilities' or 'logits', got {output!r}")


def _checked(predict, output, classes):
    """`predict` as the core calls it: float32 bytes in, float32 bytes out, every batch checked."""

    def call(buf, n, c, h, w):
        x = np.frombuffer(buf, dtype="<f4").reshape(n, c, h, w)
        p = _to_probabilities(predict(x), output)
        if classes == 2 and p.ndim == 1:
            p = p[:, None]
        widths = (2, 1) if classes == 2 else (classes,)
        if p.ndim != 2 or p.shape[0] != n or p.shape[1] not in widths:
            raise ValueError(f"predict returned shape {p.shape}, expected ({n}, {classes})")
        if not np.all(np.isfinite(p)):
            raise ValueError("predict returned NaN or infinite values")
        if p.min() < 0.0 or p.max() > 1.0:
            raise ValueError(
                f"predict returned values outside [0, 1] ({p.min():.3g} to {p.max():.3g}); "
                "pass output='logits' if they are logits"
            )
        if p.shape[1] == 1:  # one sigmoid output: a binary model, p_1
            p = np.concatenate([1.0 - p, p], axis=1)
        return np.ascontiguousarray(p, dtype="<f4").tobytes()

    return call


class AuditResult:
    """What `audit` found: `findings` (one per class: status, reason, and the numbers behind
    it), `acp` with its `chance` and `ceiling`, per-probe `latents` and `probabilities`, and
    the report folder (`report_dir`, with report.html), which `save` copies."""

    def __init__(self, results, report_dir, prototypes=None, nearest=None):
        self.results = results
        # Decoded centroids (clusters, 3, S, S), S the VAE's thumbnail size; each finding's
        # "prototype" is its cluster's, and its "nearest_probes" (n, 3, S, S) the held-out
        # probes nearest that centroid.
        self.prototypes = prototypes
        self.nearest_probes = nearest or []
        self.report_dir = pathlib.Path(report_dir)
        run = results["runs"][0]["run"]
        self.run = run
        self.class_names = results["class_names"]
        self.findings = results["findings"]
        for key, per_cluster in (("prototype", prototypes), ("nearest_probes", self.nearest_probes)):
            for f in self.findings:
                j = f.get("cluster")
                if per_cluster is not None and j is not None and j < len(per_cluster):
                    f[key] = per_cluster[j]
        self.clusters = run["clusters"]
        self.acp = run["acp"]
        self.chance = run["chance"]
        self.ceiling = run["ceiling"]
        self.normalized_acp = run["normalized_acp"]
        npz = self.report_dir / "latents.npz"
        if npz.exists():
            with np.load(npz) as z:
                self.arrays = {k: z[k] for k in z.files}
        else:
            self.arrays = {}
        self.latents = self.arrays.get("latents")
        self.probabilities = self.arrays.get("probabilities")

    def found(self):
        """The classes found driven by a shortcut."""
        return [f["class_name"] for f in self.findings if f["status"] == "found"]

    def save(self, path):
        """Copies the report folder (report.html, results.json, latents.npz, ...) to `path`,
        which must not exist yet."""
        shutil.copytree(self.report_dir, path)
        return pathlib.Path(path)

    def to_html(self, path):
        """Writes the self-contained report.html to `path`, which must not exist yet."""
        with open(path, "xb") as out, open(self.report_dir / "report.html", "rb") as src:
            shutil.copyfileobj(src, out)
        return pathlib.Path(path)

    def __repr__(self):
        found = self.found()
        return (
            f"AuditResult(classes={self.class_names}, ACP {self.acp:.1%} (chance {self.chance:.1%}), "
            f"found: {', '.join(found) if found else 'nothing'})"
        )


def _out_dir(out):
    """The report folder, and the temporary folder made for it (None when the caller chose)."""
    if out is not None:
        return pathlib.Path(out), None
    made = pathlib.Path(tempfile.mkdtemp(prefix="spurion-"))
    return made / "report", made


def _run(out, call):
    """`call(target)` writing its report to `out` (or a new temporary folder, removed again
    when the run fails)."""
    target, made = _out_dir(out)
    try:
        return target, call(target)
    except BaseException:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        raise


def _method(probes, probes_count, latent_dim, k, seed):
    """The settings both audits pass the core, in its order."""
    count = None if probes_count is None else int(probes_count)
    return str(probes), count, int(latent_dim), "" if k is None else str(k), int(seed)


def _images(pair):
    data, shape = pair
    return np.frombuffer(data, dtype="<f4").reshape(shape).copy()


def audit(
    predict,
    probes="solid",
    probes_count=10_000,
    input_size=(28, 28),
    latent_dim=3,
    k=None,
    seed=0,
    out=None,
    holdout=None,
    class_names=None,
    output="probabilities",
    force=False,
    quiet=False,
    progress="auto",
):
    """Finds what drives each class of the classifier behind `predict`.

    predict: a callable from a float32 array (N, 3, H, W) in [0, 1] to probabilities (N, C),
        or logits with output="logits".
    probes: a probe family (solid, patch, gratings, noise, frame, glyph, mixed) or a folder of images.
    holdout: real images (N, 3, H, W) in [0, 1] for the causal test; without them no class
        can be "found" (the report says "not tested on real images").
    out: the report folder (default: a temporary folder, kept in result.report_dir).
    progress: "auto" (tqdm when installed, else bars on stderr), "tqdm", "stderr", "none",
        or an object with start(bar, total, label), update(bar, position, message),
        finish(bar) and line(text) methods.
    """
    h, w = _size(input_size)
    if class_names is None:
        first = _to_probabilities(predict(_generated("solid", 2, (h, w), seed)), output)
        if first.ndim != 2 or first.shape[0] != 2:
            raise ValueError(f"predict returned shape {first.shape} for 2 images, expected (2, classes)")
        classes = 2 if first.shape[1] == 1 else first.shape[1]
        class_names = [str(i) for i in range(classes)]
    class_names = [str(c) for c in class_names]
    hold = None
    count = 0
    if holdout is not None:
        hold = np.asarray(holdout, dtype=np.float32)
        if hold.ndim != 4 or hold.shape[1:] != (3, h, w):
            raise ValueError(f"holdout: expected an array (N, 3, {h}, {w}), got shape {hold.shape}")
        count = hold.shape[0]
        hold = np.ascontiguousarray(hold, dtype="<f4").tobytes()
    quiet, bars = _bars(progress, quiet)
    target, (text, protos, nearest) = _run(
        out,
        lambda target: _spurion.audit(
            _checked(predict, output, len(class_names)),
            class_names,
            (h, w),
            *_method(probes, probes_count, latent_dim, k, seed),
            str(target),
            bool(force),
            hold,
            count,
            bool(quiet),
            bars,
        ),
    )
    prototypes = _images(protos) if protos is not None else None
    return AuditResult(json.loads(text), target, prototypes, [_images(n) for n in nearest])


def audit_onnx(
    model,
    probes="solid",
    probes_count=None,
    latent_dim=3,
    k=None,
    seed=0,
    out=None,
    holdout=None,
    runtime="auto",
    ort_lib=None,
    force=False,
    quiet=False,
    progress="auto",
):
    """`spurion audit` on an ONNX file (or a spurion model folder): tract or ONNX Runtime
    (runtime="ort", with ort_lib or ORT_DYLIB_PATH naming its library)."""
    quiet, bars = _bars(progress, quiet)
    target, text = _run(
        out,
        lambda target: _spurion.audit_onnx(
            os.fspath(model),
            *_method(probes, probes_count, latent_dim, k, seed),
            str(target),
            bool(force),
            None if holdout is None else os.fspath(holdout),
            str(runtime),
            None if ort_lib is None else os.fspath(ort_lib),
            bool(quiet),
            bars,
        ),
    )
    return AuditResult(json.loads(text), target)


def reproduce(
    data,
    out="spurion-out",
    trials=5,
    dims=(2, 3, 5, 10),
    probes=10_000,
    seed=0,
    force=False,
    quiet=False,
    progress="auto",
):
    """The paper's experiment (`spurion reproduce`) on the IDX data at `data` (the repository's
    data/mnist-10k, or EMNIST/MNIST files): returns results.json as a dict; the report goes to
    `out`."""
    quiet, bars = _bars(progress, quiet)
    text = _spurion.reproduce(
        os.fspath(data),
        os.fspath(out),
        int(trials),
        [int(d) for d in dims],
        int(probes),
        int(seed),
        bool(force),
        bool(quiet),
        bars,
    )
    return json.loads(text)

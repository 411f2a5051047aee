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
spurion.torch.predictor. Settings left as None take spurion's defaults (`spurion.defaults()`),
the same for `audit`, `audit_onnx` and the command line.

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
__all__ = ["audit", "audit_onnx", "defaults", "probes", "reproduce", "AuditResult", "TqdmBars"]


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


def _checked(predict):
    """`predict` as the core calls it: float32 bytes in; its output as float32 bytes with the
    array's shape out. The core checks the shape and the values and turns logits into
    probabilities."""

    def call(buf, n, c, h, w):
        x = np.frombuffer(buf, dtype="<f4").reshape(n, c, h, w)
        raw = np.asarray(predict(x), dtype="<f4")
        return np.ascontiguousarray(raw).tobytes(), tuple(int(d) for d in raw.shape)

    return call


def _settings(probes, probes_count, latent_dim, k, seed):
    """The settings given (None: left to spurion's defaults), as JSON for the core. `probes` is
    a family, a folder, or several: a comma-separated string or a list."""
    given = {}
    if probes is not None:
        items = [probes] if isinstance(probes, (str, os.PathLike)) else list(probes)
        given["probes"] = [os.fspath(p) for p in items]
    if probes_count is not None:
        given["probes_count"] = int(probes_count)
    if latent_dim is not None:
        given["latent_dim"] = int(latent_dim)
    if k is not None:
        given["k"] = str(k)
    if seed is not None:
        given["seed"] = int(seed)
    return json.dumps(given)


def defaults():
    """The settings `audit` and `audit_onnx` use where they are given None: probes, probes_count
    (None: `generated_probes` generated probes, or every image of a folder), latent_dim, k and
    seed."""
    return json.loads(_spurion.defaults())


class AuditResult:
    """What `audit` found: `findings` (one per class: status, reason, and the numbers behind
    it), `acp` with its `chance` and `ceiling`, per-probe `latents` and `probabilities`, and
    the report folder (`report_dir`, with report.html), which `save` copies."""

    def __init__(self, results, report_dir, pictures=None):
        self.results = results
        # Per probe set's run: decoded centroids (clusters, 3, S, S), S the VAE's thumbnail
        # size, and per cluster the held-out probes nearest its centroid (n, 3, S, S). Each
        # finding's "prototype" and "nearest_probes" are those of its cluster in its run.
        pictures = pictures or {}
        first = results["runs"][0]["family"]
        self.prototypes, self.nearest_probes = pictures.get(first, (None, []))
        self.report_dir = pathlib.Path(report_dir)
        run = results["runs"][0]["run"]
        self.run = run
        self.class_names = results["class_names"]
        self.findings = results["findings"]
        for f in self.findings:
            prototypes, nearest = pictures.get(f.get("probes", first), (None, []))
            j = f.get("cluster")
            if prototypes is not None and j is not None and j < len(prototypes):
                f["prototype"] = prototypes[j]
            if j is not None and j < len(nearest):
                f["nearest_probes"] = nearest[j]
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


def _images(pair):
    data, shape = pair
    return np.frombuffer(data, dtype="<f4").reshape(shape).copy()


def audit(
    predict,
    probes=None,
    probes_count=None,
    input_size=(28, 28),
    latent_dim=None,
    k=None,
    seed=None,
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
        or logits with output="logits" (spurion applies the softmax, or the sigmoid for one
        output).
    probes: a probe family (solid, patch, gratings, noise, frame, glyph, mixed) or a folder of
        images; several as a comma-separated string or a list, each run in turn.
    probes_count, latent_dim, k (a number, "tested" or "auto"), seed: None takes spurion's default
        (`spurion.defaults()`).
    holdout: real images (N, 3, H, W) in [0, 1] for the causal test; without them no class
        can be "found" (the report says "not tested on real images").
    out: the report folder (default: a temporary folder, kept in result.report_dir).
    progress: "auto" (tqdm when installed, else bars on stderr), "tqdm", "stderr", "none",
        or an object with start(bar, total, label), update(bar, position, message),
        finish(bar) and line(text) methods.
    """
    h, w = _size(input_size)
    settings = _settings(probes, probes_count, latent_dim, k, seed)
    if class_names is None:
        first = np.asarray(predict(_generated("solid", 2, (h, w), 0)))
        if first.ndim not in (1, 2) or first.shape[0] != 2:
            raise ValueError(f"predict returned shape {first.shape} for 2 images, expected (2, classes)")
        classes = 2 if first.ndim == 1 or first.shape[1] == 1 else first.shape[1]
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
    target, (text, runs) = _run(
        out,
        lambda target: _spurion.audit(
            _checked(predict),
            class_names,
            (h, w),
            settings,
            str(output),
            str(target),
            bool(force),
            hold,
            count,
            bool(quiet),
            bars,
        ),
    )
    pictures = {name: (_images(p), [_images(n) for n in near]) for name, p, near in runs}
    return AuditResult(json.loads(text), target, pictures)


def audit_onnx(
    model,
    probes=None,
    probes_count=None,
    latent_dim=None,
    k=None,
    seed=None,
    out=None,
    holdout=None,
    runtime="auto",
    ort_lib=None,
    force=False,
    quiet=False,
    progress="auto",
):
    """`spurion audit` on an ONNX file (or a spurion model folder): tract or ONNX Runtime
    (runtime="ort", with ort_lib or ORT_DYLIB_PATH naming its library). probes, probes_count,
    latent_dim, k and seed as in `audit`."""
    settings = _settings(probes, probes_count, latent_dim, k, seed)
    quiet, bars = _bars(progress, quiet)
    target, text = _run(
        out,
        lambda target: _spurion.audit_onnx(
            os.fspath(model),
            settings,
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

"""The Python package end to end: a numpy `predict` with a planted colour rule, hostile
`predict`s, and equality with the CLI's --scores route. Run after installing the wheel:

    pip install numpy pytest target/wheels/spurion-*.whl
    SPURION_BIN=target/release/spurion pytest python/tests
"""
import csv
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

import spurion

SIZE = (16, 16)


def green_rule(x):
    """Class 1 ("green") when the image is clearly green on average: a colour shortcut."""
    m = x.mean(axis=(2, 3))
    score = 12.0 * (m[:, 1] - 0.45) - 12.0 * (np.maximum(m[:, 0], m[:, 2]) - 0.25)
    p = 1.0 / (1.0 + np.exp(-score))
    return np.stack([1.0 - p, p], axis=1)


def grey_images(n=60, seed=1):
    """Hold-out 'real' images: grey noise, which the rule calls class 0."""
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.1, 0.4, size=(n, 1, *SIZE)).astype(np.float32)
    return np.repeat(v, 3, axis=1)


def test_a_planted_colour_rule_is_found_and_the_report_is_written(tmp_path):
    r = spurion.audit(
        green_rule,
        probes="solid",
        probes_count=2000,
        input_size=SIZE,
        holdout=grey_images(),
        class_names=["other", "green"],
        out=tmp_path / "report",
        quiet=True,
    )
    assert r.found() == ["green"], [f["reason"] for f in r.findings]
    green = r.findings[1]
    assert green["status"] == "found"
    assert green["color"][1] > max(green["color"][0], green["color"][2])
    assert r.acp > r.chance
    proto = green["prototype"]
    assert proto.shape[0] == 3 and proto[1].mean() > max(proto[0].mean(), proto[2].mean())
    # The held-out probes nearest the green centroid, as numpy: green ones.
    near = green["nearest_probes"]
    assert near.ndim == 4 and near.shape[0] >= 1 and near.shape[1:] == proto.shape
    assert near[:, 1].mean() > max(near[:, 0].mean(), near[:, 2].mean())
    assert len(r.nearest_probes) == len(r.clusters)
    assert r.latents.shape[0] == r.probabilities.shape[0] > 0
    assert (tmp_path / "report" / "report.html").exists()
    r.to_html(tmp_path / "copy.html")
    assert (tmp_path / "copy.html").read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(FileExistsError):
        r.to_html(tmp_path / "copy.html")


def test_probes_are_the_generated_set():
    a = spurion.probes("patch", 5, SIZE, seed=3)
    assert a.shape == (5, 3, *SIZE) and a.dtype == np.float32
    assert np.array_equal(a, spurion.probes("patch", 5, SIZE, seed=3))
    assert 0.0 <= a.min() and a.max() <= 1.0


@pytest.mark.parametrize(
    "predict, error, text",
    [
        (lambda x: (_ for _ in ()).throw(KeyError("boom")), KeyError, "boom"),
        (lambda x: np.zeros((len(x), 3)), ValueError, "shape"),
        (lambda x: np.full((len(x), 2), np.nan), ValueError, "NaN"),
        (lambda x: np.full((len(x), 2), 3.0), ValueError, "outside"),
    ],
)
def test_a_bad_predict_stops_the_run_and_writes_nothing(tmp_path, predict, error, text):
    out = tmp_path / "report"
    with pytest.raises(error, match=text):
        spurion.audit(predict, probes_count=200, input_size=SIZE, class_names=["a", "b"], out=out, quiet=True)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="probes"):
        spurion.audit(green_rule, probes="plaid", input_size=SIZE, out=tmp_path / "a", quiet=True)
    with pytest.raises(ValueError, match="k"):
        spurion.audit(green_rule, k=10_000, probes_count=100, input_size=SIZE, out=tmp_path / "b", quiet=True)
    with pytest.raises(ValueError, match="holdout"):
        spurion.audit(green_rule, holdout=np.zeros((2, 3, 4, 4)), input_size=SIZE, out=tmp_path / "c", quiet=True)


def test_settings_left_out_are_the_rust_defaults(tmp_path):
    d = spurion.defaults()
    assert d["probes"] == ["solid"] and d["probes_count"] is None and d["generated_probes"] > 0
    r = spurion.audit(green_rule, probes_count=300, input_size=SIZE, class_names=["other", "green"],
                      out=tmp_path / "r", quiet=True)
    s = r.results["settings"]
    assert s["probes"] == [{"family": "solid"}] and s["probes_count"] == 300
    assert s["latent_dim"] == d["latent_dim"] and s["seed"] == d["seed"]
    assert d["k"] == "tested" and s["method"]["k"] == {"tested": {"max": 3}}


def test_audit_and_audit_onnx_read_probe_lists_alike(tmp_path):
    messages = []
    for probes in ("solid,plaid", ["solid", "plaid"]):
        for call in (
            lambda: spurion.audit(green_rule, probes=probes, input_size=SIZE, out=tmp_path / "a", quiet=True),
            lambda: spurion.audit_onnx(tmp_path / "no-model.onnx", probes=probes, out=tmp_path / "b", quiet=True),
        ):
            with pytest.raises(ValueError, match="plaid") as e:
                call()
            messages.append(str(e.value))
    assert len(set(messages)) == 1, messages
    # Two probe sets, each run in turn; each finding's pictures are its own run's.
    r = spurion.audit(green_rule, probes="solid, patch", probes_count=200, input_size=SIZE,
                      class_names=["other", "green"], out=tmp_path / "two", quiet=True)
    assert [run["family"] for run in r.results["runs"]] == ["solid", "patch"]
    for f in r.findings:
        assert f["probes"] in ("solid", "patch")
        if f.get("cluster") is not None:
            assert f["prototype"].shape[0] == 3 and f["nearest_probes"].ndim == 4


@pytest.mark.parametrize("columns", [1, 2])
def test_logits_become_probabilities_in_the_core(tmp_path, columns):
    def logits(x):
        p = green_rule(x)[:, 1].clip(1e-6, 1 - 1e-6)
        score = np.log(p / (1 - p))
        return score[:, None] if columns == 1 else np.stack([np.zeros_like(score), score], axis=1)

    r = spurion.audit(logits, output="logits", probes_count=2000, input_size=SIZE, holdout=grey_images(),
                      class_names=["other", "green"], out=tmp_path / "r", quiet=True)
    assert r.found() == ["green"], [f["reason"] for f in r.findings]
    direct = spurion.audit(green_rule, probes_count=2000, input_size=SIZE, class_names=["other", "green"],
                           out=tmp_path / "p", quiet=True)
    assert np.allclose(r.probabilities, direct.probabilities, atol=1e-5)
    with pytest.raises(ValueError, match="output"):
        spurion.audit(logits, output="odds", input_size=SIZE, class_names=["a", "b"], out=tmp_path / "x", quiet=True)


def test_the_python_route_equals_the_clis_scores_route(tmp_path):
    cli = os.environ.get("SPURION_BIN")
    if not cli:
        pytest.skip("SPURION_BIN (the spurion binary) not set")
    probes = tmp_path / "probes"
    subprocess.run([cli, "probes", "--family", "solid", "--count", "400", "--size", "16", "--out", str(probes), "-q"], check=True)
    r = spurion.audit(green_rule, probes=str(probes), probes_count=None, input_size=(16, 16),
                      class_names=["other", "green"], out=tmp_path / "py", quiet=True)
    # The probabilities predict gave, as a scores file for the CLI, by probe id.
    rows = list(csv.DictReader(open(probes / "manifest.csv")))
    with open(tmp_path / "scores.csv", "w") as f:
        f.write("id,other,green\n")
        for row, p in zip(rows, r.probabilities):
            f.write(f"{row['id']},{float(p[0])!r},{float(p[1])!r}\n")
    subprocess.run([cli, "audit", "--probes", str(probes), "--scores", str(tmp_path / "scores.csv"),
                    "--out", str(tmp_path / "cli"), "-q", "--no-timings"], check=True)
    c = json.loads((tmp_path / "cli" / "results.json").read_text())["runs"][0]["run"]
    assert c["acp"] == r.run["acp"]
    assert [k["centroid"] for k in c["clusters"]] == [k["centroid"] for k in r.clusters]


def test_reproduce_runs_the_papers_experiment(tmp_path):
    data = pathlib.Path(__file__).resolve().parents[2] / "data" / "mnist-10k"
    r = spurion.reproduce(data, out=tmp_path / "r", trials=1, dims=[2], probes=500, quiet=True)
    assert [row["latent_dim"] for row in r["summary"]] == [2]
    assert r["trials"][0]["colored_accuracy"] > 0.9
    assert (tmp_path / "r" / "report.html").exists()


class Recorder:
    """A progress object: records what the core reports."""

    def __init__(self, on_start=None):
        self.events = []
        self.on_start = on_start

    def start(self, bar, total, label):
        self.events.append(("start", bar, total, label))
        if self.on_start:
            self.on_start(label)

    def update(self, bar, position, message):
        self.events.append(("update", bar, position, message))

    def finish(self, bar):
        self.events.append(("finish", bar))

    def line(self, text):
        self.events.append(("line", text))


def test_progress_goes_to_the_object_given(tmp_path):
    rec = Recorder()
    spurion.audit(green_rule, probes_count=600, input_size=SIZE, class_names=["other", "green"],
                  out=tmp_path / "r", progress=rec)
    starts = {e[1]: (e[2], e[3]) for e in rec.events if e[0] == "start"}
    labels = [label for _, label in starts.values()]
    assert any(l.startswith("classifying") for l in labels) and any("VAE" in l for l in labels), labels
    for bar, (total, label) in starts.items():
        moves = [e[2] for e in rec.events if e[0] == "update" and e[1] == bar]
        assert ("finish", bar) in rec.events, label
        assert moves == sorted(moves) and moves[-1] <= total, (label, moves)
    classify = next(b for b, (_, l) in starts.items() if l.startswith("classifying"))
    assert [e[2] for e in rec.events if e[0] == "update" and e[1] == classify][-1] == 600
    with pytest.raises(ValueError, match="progress"):
        spurion.audit(green_rule, input_size=SIZE, out=tmp_path / "x", progress="fancy")


def test_ctrl_c_while_the_vae_trains_stops_the_run_and_writes_nothing(tmp_path):
    """The interrupt arrives while Rust trains the VAE (no Python code of the user's running);
    the run stops at its next step with KeyboardInterrupt and no report."""
    import _thread
    import signal
    import threading
    import time

    # interrupt_main does nothing while SIGINT is ignored, as it is for a shell's background
    # jobs (a CI script run with `&`): give this test Python's own handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    fire = threading.Event()

    def interrupter():
        fire.wait(60)
        time.sleep(0.2)
        _thread.interrupt_main()

    threading.Thread(target=interrupter, daemon=True).start()
    rec = Recorder(on_start=lambda label: fire.set() if "VAE" in label else None)
    out = tmp_path / "r"
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            spurion.audit(green_rule, probes_count=3000, input_size=SIZE,
                          class_names=["other", "green"], out=out, progress=rec)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - started < 60
    assert fire.is_set()
    assert not out.exists() and list(tmp_path.iterdir()) == []
    # Stopped inside training: the VAE's bar never finished and nothing came after it.
    vae = next(e[1] for e in rec.events if e[0] == "start" and "VAE" in e[3])
    assert ("finish", vae) not in rec.events


def test_a_failed_run_into_a_temporary_folder_leaves_nothing_behind(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ValueError, match="NaN"):
        spurion.audit(lambda x: np.full((len(x), 2), np.nan), probes_count=200, input_size=SIZE,
                      class_names=["a", "b"], quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_tqdm_draws_the_bars_when_installed(tmp_path, capfd):
    pytest.importorskip("tqdm")
    spurion.audit(green_rule, probes_count=600, input_size=SIZE, class_names=["other", "green"],
                  out=tmp_path / "r", progress="tqdm")
    err = capfd.readouterr().err
    assert "classifying solid probes" in err and "training VAE" in err

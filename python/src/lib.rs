//! `spurion._spurion`: the Rust core under the `spurion` Python package.
//!
//! The user's model stays in Python: [`PyModel`] is a [`ProbabilityModel`] whose `predict`
//! hands each batch of probes (float32 bytes, N x C x H x W) to a Python callable and reads
//! its raw outputs back (float32 bytes and their shape), so a PyTorch model on a GPU does the
//! heavy part; the outputs are checked and turned into probabilities here, as for an ONNX
//! model. Settings left out in Python take [`AuditConfig`]'s defaults ([`Settings`]), so no
//! default is written twice. The package's Python side (`py/spurion/__init__.py`) turns bytes
//! into numpy arrays and wraps the results. Errors from Rust become `ValueError`
//! (bad arguments and file contents), `OSError` (files) or `RuntimeError`; an exception raised
//! by `predict` stops the run and is raised again as it was.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use spurion::audit::Holdout;
use spurion::config::DEFAULT_PROBES;
use spurion::model::output::{probability_note, to_probabilities};
use spurion::model::{ModelFormat, ModelInfo, OutputKind};
use spurion::probes::{ProbeFamily, ProbeSpec};
use spurion::{
    AuditConfig, ClusterCount, Images, Probabilities, ProbabilityModel, ProbeChoice, Progress,
    ProgressSink,
};

/// The first Python exception a run met (raised by `predict`, by a progress callback, or a
/// KeyboardInterrupt from Ctrl-C), to raise again once the run has stopped.
#[derive(Clone, Default)]
struct Failure(Arc<Mutex<Option<PyErr>>>);

impl Failure {
    fn keep(&self, e: PyErr) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(e);
        }
    }

    fn happened(&self) -> bool {
        self.0.lock().map(|s| s.is_some()).unwrap_or(false)
    }

    fn take(&self) -> Option<PyErr> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }

    /// The kept exception if there is one, else `e` as a Python exception.
    fn or(&self, e: spurion::Error) -> PyErr {
        self.take().unwrap_or_else(|| to_py(e))
    }
}

/// Progress for Python: bars go to `bars` (an object with `start`, `update`, `finish` and
/// `line` methods, such as the package's tqdm adapter) when given; between steps the run
/// checks for Ctrl-C, so a KeyboardInterrupt stops it even while Rust trains the VAE.
struct PySink {
    bars: Option<Py<PyAny>>,
    failure: Failure,
}

impl PySink {
    fn call<A: for<'py> pyo3::call::PyCallArgs<'py>>(&self, method: &str, args: A) {
        let Some(bars) = &self.bars else { return };
        if self.failure.happened() {
            return;
        }
        Python::attach(|py| {
            if let Err(e) = bars.call_method1(py, method, args) {
                self.failure.keep(e);
            }
        });
    }
}

impl ProgressSink for PySink {
    fn start(&self, bar: u64, len: u64, label: &str) {
        self.call("start", (bar, len, label.to_string()));
    }

    fn update(&self, bar: u64, position: u64, message: &str) {
        self.call("update", (bar, position, message.to_string()));
    }

    fn finish(&self, bar: u64) {
        self.call("finish", (bar,));
    }

    fn line(&self, text: &str) {
        self.call("line", (text.to_string(),));
    }

    fn interrupted(&self) -> bool {
        if self.failure.happened() {
            return true;
        }
        Python::attach(|py| {
            if let Err(e) = py.check_signals() {
                self.failure.keep(e);
            }
        });
        self.failure.happened()
    }
}

/// The run's progress: bars to `bars` when given, else on stderr unless `quiet`; Ctrl-C
/// checked either way.
fn progress(quiet: bool, bars: Option<Py<PyAny>>, failure: &Failure) -> Progress {
    Progress::unless_quiet(quiet || bars.is_some()).with_sink(Arc::new(PySink {
        bars,
        failure: failure.clone(),
    }))
}

/// A Python callable `(bytes, n, c, h, w) -> (bytes, shape)` as a classifier: it returns
/// the user's `predict` output as float32 bytes with the array's shape.
struct PyModel {
    predict: Py<PyAny>,
    class_names: Vec<String>,
    size: [usize; 2],
    /// What `predict` returns: probabilities (`Sigmoid`: used as they are) or `Logits`.
    output: OutputKind,
    /// Where the exception `predict` raised is kept, to raise again once the run has stopped.
    failure: Failure,
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn f32_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

impl ProbabilityModel for PyModel {
    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn input_size(&self) -> [usize; 2] {
        self.size
    }

    fn predict(&self, images: &Images) -> spurion::Result<Probabilities> {
        let called = Python::attach(|py| -> PyResult<(Vec<f32>, Vec<usize>)> {
            // Ctrl-C in a notebook: KeyboardInterrupt stops the run here.
            py.check_signals()?;
            let input = PyBytes::new(py, &f32_bytes(&images.data));
            let out = self.predict.call1(
                py,
                (
                    input,
                    images.count,
                    images.channels,
                    images.height,
                    images.width,
                ),
            )?;
            let (bytes, shape): (Vec<u8>, Vec<usize>) = out.extract(py)?;
            Ok((f32_values(&bytes), shape))
        });
        let (raw, shape) = called.map_err(|e| {
            let message = e.to_string();
            self.failure.keep(e);
            spurion::Error::Model(format!("predict raised {message}"))
        })?;
        probabilities(
            &raw,
            &shape,
            images.count,
            self.class_names.len(),
            self.output,
        )
    }

    fn info(&self) -> ModelInfo {
        ModelInfo {
            path: "a Python callable".into(),
            format: ModelFormat::Other,
            class_names: self.class_names.clone(),
            class_names_source: "the caller".into(),
            input_height: self.size[0],
            input_width: self.size[1],
            output: match self.output {
                OutputKind::Logits => OutputKind::Logits,
                _ => OutputKind::Softmax,
            },
            probability: match self.output {
                OutputKind::Logits => probability_note(self.class_names.len(), OutputKind::Logits),
                _ => "p_c as predict returns it",
            }
            .into(),
            preprocess: None,
            runtime: "Python (spurion.audit)".into(),
        }
    }
}

/// `predict`'s outputs (`shape`, float32 `raw`) for `n` probes as probabilities of `classes`
/// classes: one row per probe, one column per class (or one, `p_1` or its logit, for a binary
/// model), numbers, and probabilities in [0, 1] unless they are logits. A bad output is a
/// `ValueError` naming `predict`.
fn probabilities(
    raw: &[f32],
    shape: &[usize],
    n: usize,
    classes: usize,
    output: OutputKind,
) -> spurion::Result<Probabilities> {
    let bad = |message: String| spurion::Error::Data {
        path: "predict".into(),
        message,
    };
    let shown = || {
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        format!("({})", dims.join(", "))
    };
    let width = match *shape {
        [rows] if rows == n => 1,
        [rows, width] if rows == n => width,
        _ => 0,
    };
    if !(width == classes || (classes == 2 && width == 1)) || raw.len() != n * width {
        return Err(bad(format!(
            "returned shape {}, expected ({n}, {classes})",
            shown()
        )));
    }
    if raw.iter().any(|v| !v.is_finite()) {
        return Err(bad("returned NaN or infinite values".into()));
    }
    if output != OutputKind::Logits {
        let (lo, hi) = raw
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        if lo < 0.0 || hi > 1.0 {
            return Err(bad(format!(
                "returned values outside [0, 1] ({lo:.3} to {hi:.3}); pass output='logits' if \
                 they are logits"
            )));
        }
    }
    Probabilities::new(classes, to_probabilities(raw, width, output))
}

/// What `predict` returns, from Python's `output=`.
fn output_kind(name: &str) -> PyResult<OutputKind> {
    match name {
        "probabilities" => Ok(OutputKind::Sigmoid),
        "logits" => Ok(OutputKind::Logits),
        other => Err(PyValueError::new_err(format!(
            "output: expected 'probabilities' or 'logits', got '{other}'"
        ))),
    }
}

/// The audit settings a Python call gives, as JSON; each one left out takes
/// [`AuditConfig::default`]'s value, the one place spurion's defaults are written.
#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Probe families or folders, each possibly a comma-separated list, as `--probes`.
    probes: Option<Vec<String>>,
    probes_count: Option<usize>,
    latent_dim: Option<usize>,
    /// A number or "auto".
    k: Option<String>,
    seed: Option<u64>,
}

impl Settings {
    fn read(json: &str) -> PyResult<Self> {
        serde_json::from_str(json).map_err(|e| PyValueError::new_err(format!("settings: {e}")))
    }

    /// The audit's config: these settings over the defaults.
    fn config(self) -> PyResult<AuditConfig> {
        let mut config = AuditConfig::default();
        if let Some(probes) = self.probes {
            config.probes = ProbeChoice::parse_list(&probes).map_err(to_py)?;
        }
        config.probes_count = self.probes_count.or(config.probes_count);
        if let Some(d) = self.latent_dim {
            config.latent_dim = d;
        }
        if let Some(k) = self.k {
            config.method.k = k.parse::<ClusterCount>().map_err(to_py)?;
        }
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        Ok(config)
    }
}

/// The defaults of the settings `audit` and `audit_onnx` take, as JSON (`probes_count` null:
/// `generated_probes` generated probes, or every image of a folder).
#[pyfunction]
fn defaults() -> String {
    let c = AuditConfig::default();
    serde_json::json!({
        "probes": c.probes.iter().map(ProbeChoice::name).collect::<Vec<_>>(),
        "probes_count": c.probes_count,
        "generated_probes": DEFAULT_PROBES,
        "latent_dim": c.latent_dim,
        "k": c.method.k.to_string(),
        "seed": c.seed,
    })
    .to_string()
}

/// A spurion error as the Python exception of its kind.
fn to_py(e: spurion::Error) -> PyErr {
    match &e {
        spurion::Error::Param { .. } | spurion::Error::Data { .. } => {
            PyValueError::new_err(e.to_string())
        }
        spurion::Error::Io { .. } => PyOSError::new_err(e.to_string()),
        _ => PyRuntimeError::new_err(e.to_string()),
    }
}

fn family(name: &str) -> PyResult<ProbeFamily> {
    name.parse::<ProbeFamily>().map_err(to_py)
}

/// `count` probes of `family` at `height` x `width` from `seed`, as float32 bytes
/// (count x 3 x height x width): the probes `audit` generates with that seed.
#[pyfunction]
fn probes(
    py: Python<'_>,
    family_name: &str,
    count: usize,
    height: usize,
    width: usize,
    seed: u64,
) -> PyResult<Py<PyBytes>> {
    let f = family(family_name)?;
    if count == 0 || height == 0 || width == 0 {
        return Err(PyValueError::new_err(
            "count, height and width must be at least 1",
        ));
    }
    let spec = ProbeSpec::new(f, count, [height, width], spurion::scores::probe_seed(seed));
    let images = py.detach(|| spec.generate());
    Ok(PyBytes::new(py, &f32_bytes(&images.data)).unbind())
}

/// Float32 images as bytes with their shape (count, channels, height, width).
type ImageBytes = (Py<PyBytes>, (usize, usize, usize, usize));

fn image_bytes(py: Python<'_>, images: &Images) -> ImageBytes {
    (
        PyBytes::new(py, &f32_bytes(&images.data)).unbind(),
        (images.count, images.channels, images.height, images.width),
    )
}

/// Per probe set's run: its name, the decoded prototypes, and per cluster its nearest
/// held-out probes.
type Pictures = (String, Images, Vec<Images>);

/// One run's pictures, as bytes for Python.
type RunPictures = (String, ImageBytes, Vec<ImageBytes>);

/// Audits a Python `predict` (float32 bytes in, its outputs as float32 bytes and their shape
/// out; `output` says whether they are probabilities or logits) with the probe sets of
/// `settings` (JSON, see [`Settings`]), with optional hold-out images (float32 bytes, n x 3 x
/// h x w) for the causal test. Writes the report folder to `out` and returns results.json's
/// text and, per probe set's run, its decoded prototypes (clusters x channels x height x
/// width) and each cluster's nearest held-out probes. Progress goes to `bars` when given
/// (see [`PySink`]).
#[pyfunction]
#[pyo3(signature = (predict, class_names, input_size, settings, output, out, force, holdout, holdout_count, quiet, bars))]
#[allow(clippy::too_many_arguments)]
fn audit(
    py: Python<'_>,
    predict: Py<PyAny>,
    class_names: Vec<String>,
    input_size: (usize, usize),
    settings: &str,
    output: &str,
    out: PathBuf,
    force: bool,
    holdout: Option<Vec<u8>>,
    holdout_count: usize,
    quiet: bool,
    bars: Option<Py<PyAny>>,
) -> PyResult<(String, Vec<RunPictures>)> {
    let config = AuditConfig {
        out,
        force,
        ..Settings::read(settings)?.config()?
    };
    let size = [input_size.0, input_size.1];
    let failure = Failure::default();
    let model = PyModel {
        predict,
        class_names,
        size,
        output: output_kind(output)?,
        failure: failure.clone(),
    };
    let holdout = match holdout {
        Some(bytes) => {
            let values = f32_values(&bytes);
            let per = 3 * size[0] * size[1];
            if holdout_count == 0 || values.len() != holdout_count * per {
                return Err(PyValueError::new_err(format!(
                    "holdout: expected {holdout_count} images of 3 x {} x {}",
                    size[0], size[1]
                )));
            }
            Some(Holdout::new(
                Images {
                    data: values,
                    count: holdout_count,
                    channels: 3,
                    height: size[0],
                    width: size[1],
                },
                format!("{holdout_count} hold-out images given to spurion.audit"),
            ))
        }
        None => None,
    };
    let progress = progress(quiet, bars, &failure);
    let result = py.detach(|| -> spurion::Result<(String, Vec<Pictures>)> {
        config.check_for_library_model()?;
        let sources = (0..config.probes.len())
            .map(|k| spurion::audit::probe_source(&config, k, size))
            .collect::<spurion::Result<Vec<_>>>()?;
        let results =
            spurion::audit::audit(&model, &sources, holdout.as_ref(), &config, &progress)?;
        progress.check()?;
        spurion::report::write_audit(&results, &config.output())?;
        let pictures = results
            .runs
            .iter()
            .filter_map(|r| {
                let d = r.run.data.as_ref()?;
                Some((
                    r.family.clone(),
                    d.prototypes().clone(),
                    d.nearest_probes().to_vec(),
                ))
            })
            .collect();
        let json =
            serde_json::to_string(&results).map_err(|e| spurion::Error::Invalid(e.to_string()))?;
        Ok((json, pictures))
    });
    let (json, pictures) = result.map_err(|e| failure.or(e))?;
    let pictures = pictures
        .iter()
        .map(|(name, prototypes, nearest)| {
            (
                name.clone(),
                image_bytes(py, prototypes),
                nearest.iter().map(|n| image_bytes(py, n)).collect(),
            )
        })
        .collect();
    Ok((json, pictures))
}

/// `spurion audit` on an ONNX file (or a spurion checkpoint folder) with the probe sets of
/// `settings` (JSON, see [`Settings`]): returns results.json's text, the report written to
/// `out`.
#[pyfunction]
#[pyo3(signature = (model, settings, out, force, holdout, runtime, ort_lib, quiet, bars))]
#[allow(clippy::too_many_arguments)]
fn audit_onnx(
    py: Python<'_>,
    model: PathBuf,
    settings: &str,
    out: PathBuf,
    force: bool,
    holdout: Option<PathBuf>,
    runtime: &str,
    ort_lib: Option<PathBuf>,
    quiet: bool,
    bars: Option<Py<PyAny>>,
) -> PyResult<String> {
    use spurion::model::runtime::{OnnxRuntime, RuntimeKind};
    let kind = match runtime {
        "auto" => RuntimeKind::Auto,
        "tract" => RuntimeKind::Tract,
        "ort" => RuntimeKind::Ort,
        other => {
            return Err(PyValueError::new_err(format!(
                "runtime: '{other}' is not one of auto, tract, ort"
            )));
        }
    };
    let config = AuditConfig {
        model,
        holdout,
        runtime: OnnxRuntime { kind, ort_lib },
        out,
        force,
        ..Settings::read(settings)?.config()?
    };
    let failure = Failure::default();
    let progress = progress(quiet, bars, &failure);
    py.detach(|| {
        let results = spurion::audit::run(&config, &progress)?;
        serde_json::to_string(&results).map_err(|e| spurion::Error::Invalid(e.to_string()))
    })
    .map_err(|e| failure.or(e))
}

/// The paper's experiment (`spurion reproduce`) on the IDX data at `data`: returns
/// results.json's text, the report written to `out`.
#[pyfunction]
#[pyo3(signature = (data, out, trials, dims, probes, seed, force, quiet, bars))]
#[allow(clippy::too_many_arguments)]
fn reproduce(
    py: Python<'_>,
    data: PathBuf,
    out: PathBuf,
    trials: usize,
    dims: Vec<usize>,
    probes: usize,
    seed: u64,
    force: bool,
    quiet: bool,
    bars: Option<Py<PyAny>>,
) -> PyResult<String> {
    let config = spurion::ReproduceConfig {
        data,
        out,
        trials,
        dims,
        probes,
        seed,
        force,
        ..spurion::ReproduceConfig::default()
    };
    let failure = Failure::default();
    let progress = progress(quiet, bars, &failure);
    py.detach(|| {
        config.check()?;
        let results = spurion::reproduce::run(&config, &progress)?;
        serde_json::to_string(&results).map_err(|e| spurion::Error::Invalid(e.to_string()))
    })
    .map_err(|e| failure.or(e))
}

#[pymodule]
fn _spurion(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(probes, m)?)?;
    m.add_function(wrap_pyfunction!(audit, m)?)?;
    m.add_function(wrap_pyfunction!(audit_onnx, m)?)?;
    m.add_function(wrap_pyfunction!(defaults, m)?)?;
    m.add_function(wrap_pyfunction!(reproduce, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

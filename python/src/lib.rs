//! `spurion._spurion`: the Rust core under the `spurion` Python package.
//!
//! The user's model stays in Python: [`PyModel`] is a [`ProbabilityModel`] whose `predict`
//! hands each batch of probes (float32 bytes, N x C x H x W) to a Python callable and reads
//! float32 probabilities back, so a PyTorch model on a GPU does the heavy part. The package's
//! Python side (`py/spurion/__init__.py`) turns the bytes into numpy arrays, checks what the
//! user's `predict` returns, and wraps the results. Errors from Rust become `ValueError`
//! (bad arguments and file contents), `OSError` (files) or `RuntimeError`; an exception raised
//! by `predict` stops the run and is raised again as it was.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use spurion::audit::Holdout;
use spurion::method::causal::NullCache;
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

/// A Python callable `(bytes, n, c, h, w) -> bytes` as a classifier.
struct PyModel {
    predict: Py<PyAny>,
    class_names: Vec<String>,
    size: [usize; 2],
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
        let called = Python::attach(|py| -> PyResult<Vec<f32>> {
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
            let out = out.bind(py).cast::<PyBytes>()?.as_bytes().to_vec();
            Ok(f32_values(&out))
        });
        let values = called.map_err(|e| {
            let message = e.to_string();
            self.failure.keep(e);
            spurion::Error::Model(format!("predict raised {message}"))
        })?;
        Probabilities::new(self.class_names.len(), values)
    }

    fn info(&self) -> ModelInfo {
        ModelInfo {
            path: "a Python callable".into(),
            format: ModelFormat::Other,
            class_names: self.class_names.clone(),
            class_names_source: "the caller".into(),
            input_height: self.size[0],
            input_width: self.size[1],
            output: OutputKind::Softmax,
            probability: "p_c as predict returns it".into(),
            preprocess: None,
            runtime: "Python (spurion.audit)".into(),
        }
    }
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

/// The audit's default method with `k` clusters per class (a number or "auto"; empty: the
/// audit's default).
fn method(k: &str) -> PyResult<spurion::MethodSettings> {
    let default = spurion::AuditConfig::default().method;
    Ok(spurion::MethodSettings {
        k: match k {
            "" => default.k,
            k => k.parse::<ClusterCount>().map_err(to_py)?,
        },
        ..default
    })
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

/// results.json's text, the prototypes, and per cluster its nearest held-out probes.
type AuditReturn = (String, Option<ImageBytes>, Vec<ImageBytes>);

/// The prototypes and, per cluster, its nearest held-out probes.
type Pictures = (Images, Vec<Images>);

/// Audits a Python `predict` (float32 bytes in, float32 probability bytes out) on one probe
/// family or folder, with optional hold-out images (float32 bytes, n x 3 x h x w) for the
/// causal test. Writes the report folder to `out` and returns results.json's text, the
/// decoded prototypes (clusters x channels x height x width) and each cluster's nearest
/// held-out probes. Progress goes to `bars` when given (see [`PySink`]).
#[pyfunction]
#[pyo3(signature = (predict, class_names, input_size, probes, probes_count, latent_dim, k, seed, out, force, holdout, holdout_count, quiet, bars))]
#[allow(clippy::too_many_arguments)]
fn audit(
    py: Python<'_>,
    predict: Py<PyAny>,
    class_names: Vec<String>,
    input_size: (usize, usize),
    probes: &str,
    probes_count: Option<usize>,
    latent_dim: usize,
    k: &str,
    seed: u64,
    out: PathBuf,
    force: bool,
    holdout: Option<Vec<u8>>,
    holdout_count: usize,
    quiet: bool,
    bars: Option<Py<PyAny>>,
) -> PyResult<AuditReturn> {
    let choice = probes.parse::<ProbeChoice>().map_err(to_py)?;
    let config = AuditConfig {
        model: PathBuf::new(),
        probes: vec![choice],
        probes_count,
        latent_dim,
        seed,
        method: method(k)?,
        out,
        force,
        ..AuditConfig::default()
    };
    let size = [input_size.0, input_size.1];
    let failure = Failure::default();
    let model = PyModel {
        predict,
        class_names,
        size,
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
            Some(Holdout {
                images: Images {
                    data: values,
                    count: holdout_count,
                    channels: 3,
                    height: size[0],
                    width: size[1],
                },
                description: format!("{holdout_count} hold-out images given to spurion.audit"),
                cache: NullCache::default(),
            })
        }
        None => None,
    };
    let progress = progress(quiet, bars, &failure);
    let result = py.detach(|| -> spurion::Result<(String, Option<Pictures>)> {
        config.check_for_library_model()?;
        let source = spurion::audit::probe_source(&config, 0, size)?;
        let results = spurion::audit::audit(
            &model,
            std::slice::from_ref(&source),
            holdout.as_ref(),
            &config,
            &progress,
        )?;
        progress.check()?;
        spurion::report::write_audit(&results, &config.output())?;
        let pictures = results
            .runs
            .first()
            .and_then(|r| r.run.data.as_ref())
            .map(|d| (d.prototypes().clone(), d.nearest_probes().to_vec()));
        let json =
            serde_json::to_string(&results).map_err(|e| spurion::Error::Invalid(e.to_string()))?;
        Ok((json, pictures))
    });
    let (json, pictures) = result.map_err(|e| failure.or(e))?;
    Ok(match pictures {
        Some((prototypes, nearest)) => (
            json,
            Some(image_bytes(py, &prototypes)),
            nearest.iter().map(|n| image_bytes(py, n)).collect(),
        ),
        None => (json, None, Vec::new()),
    })
}

/// `spurion audit` on an ONNX file (or a spurion checkpoint folder): returns results.json's
/// text, the report written to `out`.
#[pyfunction]
#[pyo3(signature = (model, probes, probes_count, latent_dim, k, seed, out, force, holdout, runtime, ort_lib, quiet, bars))]
#[allow(clippy::too_many_arguments)]
fn audit_onnx(
    py: Python<'_>,
    model: PathBuf,
    probes: &str,
    probes_count: Option<usize>,
    latent_dim: usize,
    k: &str,
    seed: u64,
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
        probes: probes
            .split(',')
            .map(|p| p.trim().parse::<ProbeChoice>())
            .collect::<spurion::Result<_>>()
            .map_err(to_py)?,
        probes_count,
        latent_dim,
        seed,
        method: method(k)?,
        holdout,
        runtime: OnnxRuntime { kind, ort_lib },
        out,
        force,
        ..AuditConfig::default()
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
    m.add_function(wrap_pyfunction!(reproduce, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

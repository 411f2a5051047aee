//! Which engine runs an ONNX model: tract (pure Rust, always there) or ONNX Runtime, loaded at
//! run time from the shared library that `pip install onnxruntime` (or `onnxruntime-gpu`) puts
//! on disk. ONNX Runtime loads every model onnxruntime-Python loads (external data files,
//! tf2onnx and Paddle2ONNX graphs) at its speed; nothing of it is downloaded or linked when
//! spurion is built.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use super::onnx::graph::ElemType;
use crate::error::{Error, Result};

/// The engine that runs ONNX models.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// ONNX Runtime when its library is found (--ort-lib or ORT_DYLIB_PATH), else tract.
    #[default]
    Auto,
    /// tract: pure Rust, built in.
    Tract,
    /// ONNX Runtime, from its shared library.
    Ort,
}

/// The engine choice and where ONNX Runtime's library is.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OnnxRuntime {
    pub kind: RuntimeKind,
    /// `libonnxruntime.so` (or `.dylib`, `.dll`); default: `$ORT_DYLIB_PATH`.
    #[serde(default)]
    pub ort_lib: Option<PathBuf>,
}

/// The environment variable ONNX Runtime's library is named by.
pub const ORT_ENV: &str = "ORT_DYLIB_PATH";

/// What [`OnnxRuntime::resolve`] picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    Tract,
    /// ONNX Runtime from this library file.
    Ort(PathBuf),
}

impl OnnxRuntime {
    /// tract, for callers that want the built-in engine whatever the environment says.
    pub fn tract() -> Self {
        OnnxRuntime {
            kind: RuntimeKind::Tract,
            ort_lib: None,
        }
    }

    /// The library named by `--ort-lib`, else by `ORT_DYLIB_PATH`.
    fn library(&self) -> Option<(PathBuf, &'static str)> {
        match &self.ort_lib {
            Some(p) => Some((p.clone(), "--ort-lib")),
            None => std::env::var_os(ORT_ENV)
                .filter(|v| !v.is_empty())
                .map(|v| (PathBuf::from(v), ORT_ENV)),
        }
    }

    /// The engine to use: `auto` takes ONNX Runtime when a library is named, tract otherwise;
    /// `ort` needs the library, and a named library must be a file.
    pub fn resolve(&self) -> Result<Engine> {
        let lib = self.library();
        if let Some((path, from)) = &lib
            && self.kind != RuntimeKind::Tract
            && !path.is_file()
        {
            return Err(Error::param(
                "ort-lib",
                format!(
                    "{} (from {from}) is not a file: expected ONNX Runtime's shared library \
                     ({HINT})",
                    path.display()
                ),
            ));
        }
        Ok(match (self.kind, lib) {
            (RuntimeKind::Tract, _) | (RuntimeKind::Auto, None) => Engine::Tract,
            (_, Some((path, _))) => Engine::Ort(path),
            (RuntimeKind::Ort, None) => {
                return Err(Error::param(
                    "runtime",
                    format!(
                        "ort needs ONNX Runtime's shared library: pass --ort-lib PATH or set \
                         {ORT_ENV} ({HINT})"
                    ),
                ));
            }
        })
    }
}

const HINT: &str = "`pip install onnxruntime` puts it at \
                    site-packages/onnxruntime/capi/libonnxruntime.so.*";

/// The one ONNX Runtime environment of the process, and the library it came from: ONNX
/// Runtime allows one environment per process, and loads its library once. A failed load is
/// not kept, so a later call may name another library.
static ENVIRONMENT: Mutex<Option<(ort::environment::Environment, PathBuf)>> = Mutex::new(None);

fn environment(lib: &Path) -> Result<ort::environment::Environment> {
    let mut loaded = ENVIRONMENT
        .lock()
        .map_err(|_| Error::Model("onnxruntime: loading panicked".into()))?;
    if let Some((env, first)) = loaded.as_ref() {
        if first == lib {
            return Ok(env.clone());
        }
        return Err(Error::param(
            "ort-lib",
            format!(
                "ONNX Runtime is already loaded from {} in this process; {} cannot be loaded \
                 beside it",
                first.display(),
                lib.display()
            ),
        ));
    }
    let refuse = |e: String| {
        Error::data(
            lib,
            format!("cannot load ONNX Runtime from this library ({e}); {HINT}"),
        )
    };
    let builder = ort::init_from(lib).map_err(|e| {
        let cause = std::error::Error::source(&e)
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        refuse(format!("{e}{cause}"))
    })?;
    let env = builder
        .with_name("spurion")
        .build()
        .map_err(|e| refuse(e.to_string()))?;
    *loaded = Some((env.clone(), lib.to_path_buf()));
    Ok(env)
}

/// One input or output as ONNX Runtime reports it: name, element type, and shape
/// (None for a dimension it does not fix), with its symbols as text.
pub(super) struct Port {
    pub name: String,
    pub elem_type: ElemType,
    pub dims: Vec<Option<usize>>,
    pub shape: String,
}

fn elem_type(t: TensorElementType) -> ElemType {
    use ElemType as E;
    use TensorElementType as T;
    match t {
        T::Float32 => E::Float32,
        T::Uint8 => E::Uint8,
        T::Int8 => E::Int8,
        T::Uint16 => E::Uint16,
        T::Int16 => E::Int16,
        T::Int32 => E::Int32,
        T::Int64 => E::Int64,
        T::String => E::String,
        T::Bool => E::Bool,
        T::Float16 => E::Float16,
        T::Float64 => E::Float64,
        T::Uint32 => E::Uint32,
        T::Uint64 => E::Uint64,
        T::Bfloat16 => E::Bfloat16,
        _ => E::Other,
    }
}

fn port(name: &str, t: &ValueType) -> Port {
    match t {
        ValueType::Tensor {
            ty,
            shape,
            dimension_symbols,
        } => {
            let dims: Vec<Option<usize>> = shape.iter().map(|&d| usize::try_from(d).ok()).collect();
            let text: Vec<String> = shape
                .iter()
                .enumerate()
                .map(|(i, &d)| match dimension_symbols.get(i) {
                    _ if d >= 0 => d.to_string(),
                    Some(s) if !s.is_empty() => s.clone(),
                    _ => "?".into(),
                })
                .collect();
            Port {
                name: name.to_string(),
                elem_type: elem_type(*ty),
                dims,
                shape: format!("[{}]", text.join(", ")),
            }
        }
        other => Port {
            name: name.to_string(),
            elem_type: ElemType::Other,
            dims: Vec::new(),
            shape: format!("{other}"),
        },
    }
}

/// A model loaded into ONNX Runtime.
pub struct OrtSession {
    session: Mutex<Session>,
    pub(super) inputs: Vec<Port>,
    pub(super) outputs: Vec<Port>,
    /// Custom metadata `class_names` or `labels`, as stored.
    pub(super) labels: Option<String>,
    /// "onnxruntime (LIB), CPU execution provider".
    pub(super) description: String,
}

impl OrtSession {
    /// Loads `path` (external data files beside it included) with the library `lib`; with
    /// `cuda`, through the CUDA execution provider, which must register (no silent fallback).
    pub fn load(path: &Path, lib: &Path, cuda: bool) -> Result<Self> {
        let env = environment(lib)?;
        let bad = |e: &dyn std::fmt::Display| {
            Error::data(
                path,
                format!(
                    "ONNX Runtime cannot load this model: {e} (try --runtime tract, or check \
                     the exporter's opset)"
                ),
            )
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut builder = Session::builder(&env)
            .map_err(|e| bad(&e))?
            .with_intra_threads(threads)
            .map_err(|e| bad(&<ort::Error>::from(e)))?;
        if cuda {
            builder = builder
                .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                .map_err(|e| {
                    Error::param(
                        "device",
                        format!(
                            "cuda: ONNX Runtime from {} cannot run on CUDA ({}); install \
                             onnxruntime-gpu and point --ort-lib at its library",
                            lib.display(),
                            <ort::Error>::from(e)
                        ),
                    )
                })?;
        }
        let session = builder.commit_from_file(path).map_err(|e| bad(&e))?;
        let inputs = session
            .inputs()
            .iter()
            .map(|o| port(o.name(), o.dtype()))
            .collect();
        let outputs = session
            .outputs()
            .iter()
            .map(|o| port(o.name(), o.dtype()))
            .collect();
        let labels = session
            .metadata()
            .ok()
            .and_then(|m| m.custom("class_names").or_else(|| m.custom("labels")));
        Ok(OrtSession {
            session: Mutex::new(session),
            inputs,
            outputs,
            labels,
            description: format!(
                "onnxruntime ({}), {} execution provider",
                lib.display(),
                if cuda { "CUDA" } else { "CPU" }
            ),
        })
    }

    /// Runs input `input` of `shape` (values already preprocessed, in the element type the
    /// model declares) and returns output `output` as f32.
    pub fn run(
        &self,
        input: &str,
        output: &str,
        shape: [usize; 4],
        values: &[f32],
        elem: i32,
    ) -> Result<Vec<f32>> {
        let fail = |e: &dyn std::fmt::Display| Error::Model(format!("onnxruntime: {e}"));
        let mut session = self
            .session
            .lock()
            .map_err(|_| Error::Model("onnxruntime: a run panicked".into()))?;
        let outputs = match elem {
            2 => {
                let v: Vec<u8> = values.iter().map(|&x| x as u8).collect();
                let t = TensorRef::from_array_view((shape, &v[..])).map_err(|e| fail(&e))?;
                session.run(ort::inputs![input => t])
            }
            10 => {
                let v: Vec<half::f16> = values.iter().map(|&x| half::f16::from_f32(x)).collect();
                let t = TensorRef::from_array_view((shape, &v[..])).map_err(|e| fail(&e))?;
                session.run(ort::inputs![input => t])
            }
            11 => {
                let v: Vec<f64> = values.iter().map(|&x| x as f64).collect();
                let t = TensorRef::from_array_view((shape, &v[..])).map_err(|e| fail(&e))?;
                session.run(ort::inputs![input => t])
            }
            _ => {
                let t = TensorRef::from_array_view((shape, values)).map_err(|e| fail(&e))?;
                session.run(ort::inputs![input => t])
            }
        }
        .map_err(|e| fail(&e))?;
        let value = outputs
            .get(output)
            .ok_or_else(|| Error::Model(format!("onnxruntime: no output '{output}'")))?;
        if let Ok((_, v)) = value.try_extract_tensor::<f32>() {
            return Ok(v.to_vec());
        }
        if let Ok((_, v)) = value.try_extract_tensor::<f64>() {
            return Ok(v.iter().map(|&x| x as f32).collect());
        }
        let (_, v) = value
            .try_extract_tensor::<half::f16>()
            .map_err(|e| fail(&e))?;
        Ok(v.iter().map(|x| x.to_f32()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_follows_the_kind_and_the_library() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let with = |kind, lib: Option<&Path>| OnnxRuntime {
            kind,
            ort_lib: lib.map(Path::to_path_buf),
        };
        let lib = Some(file.path());
        assert_eq!(
            with(RuntimeKind::Tract, lib).resolve().unwrap(),
            Engine::Tract
        );
        assert_eq!(
            with(RuntimeKind::Auto, lib).resolve().unwrap(),
            Engine::Ort(file.path().to_path_buf())
        );
        let missing = Path::new("/nonexistent/libonnxruntime.so");
        let e = with(RuntimeKind::Ort, Some(missing)).resolve().unwrap_err();
        assert!(
            e.to_string().contains("--ort-lib") && e.to_string().contains("not a file"),
            "{e}"
        );
    }

    #[test]
    fn a_file_that_is_not_onnx_runtime_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("libonnxruntime.so");
        std::fs::write(&fake, b"not a library").unwrap();
        let e = OrtSession::load(Path::new("m.onnx"), &fake, false)
            .err()
            .expect("refused")
            .to_string();
        assert!(e.contains("cannot load ONNX Runtime"), "{e}");
    }
}

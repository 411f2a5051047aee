//! ONNX Runtime's half of loading and running a model: a session on the library that
//! [`super::super::runtime`] resolved, what the session reports of the model's inputs and
//! outputs, and runs fed in the element type the input declares.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};
use tract_onnx::prelude::Framework;

use super::super::preprocess::{InputType, Preprocess};
use super::super::runtime::HINT;
use super::super::settings::Layout;
use super::graph::{Declared, ElemType, Read, activations, parse_labels};
use crate::error::{Error, Result};

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
struct Port {
    name: String,
    elem_type: ElemType,
    dims: Vec<Option<usize>>,
    shape: String,
}

impl Port {
    fn declared(&self) -> Declared {
        Declared {
            name: self.name.clone(),
            elem_type: self.elem_type,
            shape: self.shape.clone(),
        }
    }
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
pub(super) struct OrtSession {
    session: Mutex<Session>,
    inputs: Vec<Port>,
    outputs: Vec<Port>,
    /// Custom metadata `class_names` or `labels`, as stored.
    labels: Option<String>,
    /// "onnxruntime (LIB), CPU execution provider".
    pub(super) description: String,
}

/// Loads `path` into ONNX Runtime and reads what its session reports.
pub(super) fn open(path: &Path, lib: &Path, cuda: bool) -> Result<Read<OrtSession>> {
    let session = OrtSession::load(path, lib, cuda)?;
    let outputs: Vec<Declared> = session.outputs.iter().map(Port::declared).collect();
    // The session does not say which operator ends the graph: the protobuf does, when tract
    // can read it (it may not, for a model only ONNX Runtime loads).
    let activations = tract_onnx::onnx()
        .proto_model_for_path(path)
        .map(|proto| activations(&proto, &outputs))
        .unwrap_or_default();
    Ok(Read {
        inputs: session.inputs.iter().map(Port::declared).collect(),
        outputs,
        input_dims: session
            .inputs
            .first()
            .map(|p| p.dims.clone())
            .unwrap_or_default(),
        labels: session.labels.as_deref().map(parse_labels),
        activations,
        engine: session,
    })
}

impl OrtSession {
    /// Loads `path` (external data files beside it included) with the library `lib`; with
    /// `cuda`, through the CUDA execution provider, which must register (no silent fallback).
    fn load(path: &Path, lib: &Path, cuda: bool) -> Result<Self> {
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

    /// Values output `output` holds per image: as the session declares it, else what one
    /// blank image, fed to `input` as `preprocess` makes images, gives.
    pub(super) fn width(
        &self,
        input: &str,
        output: &str,
        preprocess: &Preprocess,
        input_type: InputType,
    ) -> Result<usize> {
        let dims = self
            .outputs
            .iter()
            .find(|o| o.name == output)
            .map(|o| o.dims.as_slice())
            .unwrap_or_default();
        Ok(match dims {
            [_, Some(w)] | [_, Some(w), Some(1), Some(1)] => *w,
            _ => {
                let (cc, h, w) = (
                    preprocess.channel_count(),
                    preprocess.height,
                    preprocess.width,
                );
                let shape = match preprocess.layout {
                    Layout::Nchw => [1, cc, h, w],
                    Layout::Nhwc => [1, h, w, cc],
                };
                let blank = vec![0.0f32; cc * h * w];
                self.run(input, output, shape, &blank, input_type)?.len()
            }
        })
    }

    /// Runs input `input` of `shape` (values already preprocessed, and rounded for uint8),
    /// converted to `elem`, and returns output `output` as f32.
    pub(super) fn run(
        &self,
        input: &str,
        output: &str,
        shape: [usize; 4],
        values: &[f32],
        elem: InputType,
    ) -> Result<Vec<f32>> {
        let fail = |e: &dyn std::fmt::Display| Error::Model(format!("onnxruntime: {e}"));
        let mut session = self
            .session
            .lock()
            .map_err(|_| Error::Model("onnxruntime: a run panicked".into()))?;
        let outputs = match elem {
            InputType::Float32 => {
                let t = TensorRef::from_array_view((shape, values)).map_err(|e| fail(&e))?;
                session.run(ort::inputs![input => t])
            }
            InputType::Uint8 => {
                let v: Vec<u8> = values.iter().map(|&x| x as u8).collect();
                let t = TensorRef::from_array_view((shape, &v[..])).map_err(|e| fail(&e))?;
                session.run(ort::inputs![input => t])
            }
            InputType::Float16 => {
                let v: Vec<half::f16> = values.iter().map(|&x| half::f16::from_f32(x)).collect();
                let t = TensorRef::from_array_view((shape, &v[..])).map_err(|e| fail(&e))?;
                session.run(ort::inputs![input => t])
            }
            InputType::Float64 => {
                let v: Vec<f64> = values.iter().map(|&x| x as f64).collect();
                let t = TensorRef::from_array_view((shape, &v[..])).map_err(|e| fail(&e))?;
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

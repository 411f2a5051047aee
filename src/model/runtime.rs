//! Which engine runs an ONNX model: tract (pure Rust, always there) or ONNX Runtime, loaded at
//! run time from the shared library that `pip install onnxruntime` (or `onnxruntime-gpu`) puts
//! on disk. ONNX Runtime loads every model onnxruntime-Python loads (external data files,
//! tf2onnx and Paddle2ONNX graphs) at its speed; nothing of it is downloaded or linked when
//! spurion is built. This file only chooses the engine and finds the library; `onnx/ort.rs`
//! loads and runs models with it.

use std::path::PathBuf;

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

/// Where ONNX Runtime's library is found, for messages.
pub(super) const HINT: &str = "`pip install onnxruntime` puts it at \
                    site-packages/onnxruntime/capi/libonnxruntime.so.*";

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
}

//! The classifier under audit (step 3 of the method): anything that turns a batch of probe
//! images into class probabilities `p_c(x)`.
//!
//! [`ProbabilityModel`] is all the method asks of a classifier. spurion implements it for its
//! own checkpoints ([`Checkpoint`], from `spurion train`) and for ONNX files exported from
//! PyTorch, TensorFlow or Paddle ([`OnnxModel`], run with tract or ONNX Runtime). An ONNX model is told how it
//! expects its input and what its output is by [`OnnxSettings`] (flags or a TOML file), falling
//! back on what the model declares; [`Preprocess`] is the result.

mod checkpoint;
mod onnx;
pub mod output;
mod preprocess;
pub mod runtime;
mod settings;

pub use checkpoint::{Checkpoint, TRAIN_FRACTION, TrainSummary, recorded_data};
pub use onnx::OnnxModel;
pub(crate) use onnx::graph::read_labels;
pub use preprocess::{InputType, Preprocess};
pub use settings::{Channels, Layout, OnnxSettings, OutputKind};

use std::path::Path;

use crate::data::Images;
use crate::error::Result;
use crate::metrics::Probabilities;

/// Anything that maps a batch of images to class probabilities.
///
/// `predict` receives RGB images of [`ProbabilityModel::input_size`], values in `[0, 1]`, and
/// returns one row of `p_c(x)` per image, one column per class name.
///
/// ```
/// use spurion::{Images, Probabilities, ProbabilityModel, Result};
///
/// /// "Red" when the red channel is brighter than the blue one.
/// struct RedOrBlue;
///
/// impl ProbabilityModel for RedOrBlue {
///     fn class_names(&self) -> &[String] {
///         static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
///         NAMES.get_or_init(|| vec!["red".into(), "blue".into()])
///     }
///     fn input_size(&self) -> [usize; 2] {
///         [4, 4]
///     }
///     fn predict(&self, images: &Images) -> Result<Probabilities> {
///         let hw = 16;
///         let mut p = Vec::new();
///         for i in 0..images.count {
///             let img = images.image(i);
///             let red: f32 = img[..hw].iter().sum();
///             let blue: f32 = img[2 * hw..].iter().sum();
///             let p_red = 1.0 / (1.0 + (blue - red).exp());
///             p.extend([p_red, 1.0 - p_red]);
///         }
///         Probabilities::new(2, p)
///     }
/// }
///
/// let probes = spurion::probes::ProbeSpec::new(spurion::ProbeFamily::Solid, 8, [4, 4], 0);
/// let p = RedOrBlue.predict(&probes.generate())?;
/// assert_eq!(p.count(), 8);
/// # Ok::<(), spurion::Error>(())
/// ```
pub trait ProbabilityModel: Sync {
    /// One name per class, in output order.
    fn class_names(&self) -> &[String];
    /// `[height, width]` of the images the model takes.
    fn input_size(&self) -> [usize; 2];
    /// `p_c(x)` for a batch of images.
    fn predict(&self, images: &Images) -> Result<Probabilities>;
    /// What the report says about the model.
    fn info(&self) -> ModelInfo {
        let [h, w] = self.input_size();
        ModelInfo {
            path: String::new(),
            format: ModelFormat::Other,
            class_names: self.class_names().to_vec(),
            class_names_source: "the model".into(),
            input_height: h,
            input_width: w,
            output: OutputKind::Softmax,
            probability: "p_c as the model gives it".into(),
            preprocess: None,
            runtime: String::new(),
        }
    }
}

/// What kind of model a report speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelFormat {
    /// A spurion checkpoint folder.
    Spurion,
    /// An ONNX file.
    Onnx,
    /// A model given through the library.
    Other,
    /// No model: probabilities read from a file (`audit --scores`).
    Scores,
}

/// A short account of the model for reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelInfo {
    pub path: String,
    pub format: ModelFormat,
    pub class_names: Vec<String>,
    pub class_names_source: String,
    pub input_height: usize,
    pub input_width: usize,
    pub output: OutputKind,
    /// How p_c(x) is obtained, in words.
    pub probability: String,
    /// ONNX preprocessing, when the model is ONNX.
    pub preprocess: Option<Preprocess>,
    /// What ran the model: "spurion (burn)", "tract", "onnxruntime (LIB), CPU execution
    /// provider"; empty when nothing did.
    #[serde(default)]
    pub runtime: String,
}

impl std::fmt::Display for ModelFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModelFormat::Spurion => "spurion",
            ModelFormat::Onnx => "onnx",
            ModelFormat::Other => "other",
            ModelFormat::Scores => "scores",
        })
    }
}

/// A classifier loaded from a path: a spurion checkpoint, or an `.onnx` file.
pub enum LoadedModel {
    Checkpoint(Box<Checkpoint>),
    Onnx(Box<OnnxModel>),
}

impl LoadedModel {
    /// Loads an `.onnx` file (with `onnx` settings), or a spurion checkpoint folder (or one of
    /// its files) on `device`.
    pub fn load(path: &Path, onnx: &OnnxSettings, device: &burn::prelude::Device) -> Result<Self> {
        Self::load_with(path, onnx, &runtime::OnnxRuntime::default(), false, device)
    }

    /// [`LoadedModel::load`] (which picks the engine as `--runtime auto` does) with the engine
    /// for an ONNX model given; `cuda` runs it on ONNX
    /// Runtime's CUDA execution provider.
    pub fn load_with(
        path: &Path,
        onnx: &OnnxSettings,
        runtime: &runtime::OnnxRuntime,
        cuda: bool,
        device: &burn::prelude::Device,
    ) -> Result<Self> {
        let is_onnx = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
        if is_onnx {
            return Ok(LoadedModel::Onnx(Box::new(OnnxModel::load_with(
                path, onnx, runtime, cuda,
            )?)));
        }
        // A checkpoint knows its own input and output: ONNX settings would be ignored.
        let runtime_flag = if runtime.ort_lib.is_some() {
            Some("ort-lib")
        } else if runtime.kind != runtime::RuntimeKind::Auto {
            Some("runtime")
        } else {
            None
        };
        if let Some(flag) = onnx.first_set().or(runtime_flag) {
            return Err(crate::Error::param(
                flag,
                format!(
                    "applies to ONNX models only; {} is a spurion checkpoint, which records \
                     its own input and classes",
                    path.display()
                ),
            ));
        }
        Ok(LoadedModel::Checkpoint(Box::new(Checkpoint::load(
            path, device,
        )?)))
    }

    /// The folder of a spurion checkpoint; None for ONNX models.
    pub fn checkpoint_dir(&self) -> Option<&Path> {
        match self {
            LoadedModel::Checkpoint(c) => Some(c.dir()),
            LoadedModel::Onnx(_) => None,
        }
    }

    fn inner(&self) -> &dyn ProbabilityModel {
        match self {
            LoadedModel::Checkpoint(c) => c.as_ref(),
            LoadedModel::Onnx(o) => o.as_ref(),
        }
    }
}

impl ProbabilityModel for LoadedModel {
    fn class_names(&self) -> &[String] {
        self.inner().class_names()
    }
    fn input_size(&self) -> [usize; 2] {
        self.inner().input_size()
    }
    fn predict(&self, images: &Images) -> Result<Probabilities> {
        self.inner().predict(images)
    }
    fn info(&self) -> ModelInfo {
        self.inner().info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_checkpoint_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let device = crate::nn::ComputeDevice::Cpu.device().unwrap();
        let e = LoadedModel::load(dir.path(), &OnnxSettings::default(), &device)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("classifier.json"), "{e}");
    }
}

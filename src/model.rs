//! The classifier under audit (step 3 of the method): anything that turns a batch of probe
//! images into class probabilities `p_c(x)`.
//!
//! Two kinds are supported: spurion's own checkpoints (`spurion train`: a folder with
//! `classifier.safetensors` and `classifier.json`), and ONNX files exported from PyTorch or
//! TensorFlow, run with tract (pure Rust). An ONNX model needs to be told how it expects its
//! input (size, channel order, mean/std, layout, value range) and what its output is (logits,
//! sigmoid or softmax): by flags or a TOML file, falling back on what the model declares.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;

use crate::data::Images;
use crate::error::{Error, Result};
use crate::metrics::Probabilities;
use crate::nn::classifier::{self, Classifier, ClassifierConfig};

/// What a model's output values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// Raw scores: spurion applies a softmax across classes (a sigmoid for one output).
    Logits,
    /// Per-class sigmoid probabilities (one output = binary model, p_1).
    Sigmoid,
    /// Softmax probabilities.
    Softmax,
}

/// Channel order a model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channels {
    Rgb,
    Bgr,
    /// One channel: the mean of R, G and B.
    Gray,
}

/// Tensor layout a model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Nchw,
    Nhwc,
}

/// ONNX input and output settings as given by flags or a TOML file; unset values fall back on
/// what the model declares, then on defaults (RGB, mean 0, std 1, range 1, logits).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxSettings {
    /// Input `[height, width]`.
    pub size: Option<[usize; 2]>,
    pub channels: Option<Channels>,
    pub layout: Option<Layout>,
    /// Per-channel mean subtracted after scaling (one value or one per channel).
    pub mean: Option<Vec<f32>>,
    /// Per-channel standard deviation divided by (one value or one per channel).
    pub std: Option<Vec<f32>>,
    /// Pixel values are `[0, range]` before mean/std: 1 (PyTorch style) or 255.
    pub range: Option<f32>,
    pub output: Option<OutputKind>,
    /// Class names, one per line.
    pub labels: Option<PathBuf>,
}

impl OnnxSettings {
    /// Reads settings from a TOML file (keys as the fields above).
    pub fn from_toml(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse_toml(&text, path)
    }

    /// Parses TOML text; `path` names it in errors and anchors a relative labels path.
    pub fn parse_toml(text: &str, path: &Path) -> Result<Self> {
        let mut s: OnnxSettings = toml::from_str(text).map_err(|e| {
            Error::data(
                path,
                format!("not a valid preprocessing file: {}", e.message()),
            )
        })?;
        if let (Some(l), Some(dir)) = (&s.labels, path.parent())
            && l.is_relative()
        {
            s.labels = Some(dir.join(l));
        }
        Ok(s)
    }

    /// Values set here win over `base`.
    pub fn over(self, base: OnnxSettings) -> OnnxSettings {
        OnnxSettings {
            size: self.size.or(base.size),
            channels: self.channels.or(base.channels),
            layout: self.layout.or(base.layout),
            mean: self.mean.or(base.mean),
            std: self.std.or(base.std),
            range: self.range.or(base.range),
            output: self.output.or(base.output),
            labels: self.labels.or(base.labels),
        }
    }
}

/// Resolved preprocessing of an ONNX model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preprocess {
    pub height: usize,
    pub width: usize,
    pub channels: Channels,
    pub layout: Layout,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub range: f32,
}

impl Preprocess {
    fn channel_count(&self) -> usize {
        if self.channels == Channels::Gray {
            1
        } else {
            3
        }
    }

    /// Probe images (RGB, NCHW, `[0, 1]`) as the model's input values.
    fn apply(&self, images: &Images) -> Vec<f32> {
        let (h, w) = (self.height, self.width);
        let hw = h * w;
        let cc = self.channel_count();
        let mut out = vec![0.0f32; images.count * cc * hw];
        for i in 0..images.count {
            let img = images.image(i);
            for p in 0..hw {
                let rgb = [img[p], img[hw + p], img[2 * hw + p]];
                for c in 0..cc {
                    let v = match self.channels {
                        Channels::Rgb => rgb[c],
                        Channels::Bgr => rgb[2 - c],
                        Channels::Gray => (rgb[0] + rgb[1] + rgb[2]) / 3.0,
                    };
                    let v = (v * self.range - self.mean[c]) / self.std[c];
                    let o = match self.layout {
                        Layout::Nchw => i * cc * hw + c * hw + p,
                        Layout::Nhwc => i * cc * hw + p * cc + c,
                    };
                    out[o] = v;
                }
            }
        }
        out
    }
}

enum Kind {
    Spurion {
        model: Box<Classifier>,
        config: ClassifierConfig,
        device: burn::prelude::Device,
        /// The checkpoint folder (it may also hold training.json).
        dir: PathBuf,
    },
    Onnx {
        plan: Arc<TypedRunnableModel>,
        preprocess: Preprocess,
        outputs: usize,
    },
}

/// A loaded classifier.
pub struct AuditedModel {
    kind: Kind,
    pub class_names: Vec<String>,
    pub output: OutputKind,
    /// Where the class names came from (labels file, model metadata, indices, checkpoint).
    pub class_names_source: String,
    pub path: PathBuf,
}

/// A short account of the model for reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelInfo {
    pub path: String,
    /// "spurion" or "onnx".
    pub format: String,
    pub class_names: Vec<String>,
    pub class_names_source: String,
    pub input_height: usize,
    pub input_width: usize,
    pub output: OutputKind,
    /// How p_c(x) is obtained, in words.
    pub probability: String,
    /// ONNX preprocessing, when the model is ONNX.
    pub preprocess: Option<Preprocess>,
}

fn per_channel(
    v: Option<Vec<f32>>,
    n: usize,
    default: f32,
    flag: &'static str,
) -> Result<Vec<f32>> {
    match v {
        None => Ok(vec![default; n]),
        Some(v) if v.len() == 1 => Ok(vec![v[0]; n]),
        Some(v) if v.len() == n => Ok(v),
        Some(v) => Err(Error::param(
            flag,
            format!(
                "expected 1 or {n} values (one per channel), got {}",
                v.len()
            ),
        )),
    }
}

fn read_labels(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let names: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() {
        return Err(Error::data(
            path,
            "labels file has no class names (expected one per line)",
        ));
    }
    Ok(names)
}

/// Class names stored in ONNX metadata under `class_names` or `labels`: a JSON list, or
/// comma-separated.
fn metadata_labels(proto: &tract_onnx::pb::ModelProto) -> Option<Vec<String>> {
    let entry = proto
        .metadata_props
        .iter()
        .find(|p| p.key == "class_names" || p.key == "labels")?;
    let v = entry.value.trim();
    if let Ok(list) = serde_json::from_str::<Vec<String>>(v) {
        return Some(list);
    }
    Some(v.split(',').map(|s| s.trim().to_string()).collect())
}

impl AuditedModel {
    /// Loads a spurion checkpoint (folder, or its `.safetensors` / `.json`) or an ONNX file.
    pub fn load(path: &Path, onnx: &OnnxSettings, device: &burn::prelude::Device) -> Result<Self> {
        let is_onnx = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
        if is_onnx {
            Self::load_onnx(path, onnx)
        } else {
            Self::load_spurion(path, device)
        }
    }

    fn load_spurion(path: &Path, device: &burn::prelude::Device) -> Result<Self> {
        let dir = if path.is_dir() {
            path.to_path_buf()
        } else {
            path.parent().unwrap_or(Path::new(".")).to_path_buf()
        };
        let config_path = dir.join("classifier.json");
        let weights_path = dir.join("classifier.safetensors");
        if !config_path.is_file() || !weights_path.is_file() {
            return Err(Error::data(
                path,
                "expected an .onnx file or a spurion model folder holding classifier.json and \
                 classifier.safetensors",
            ));
        }
        let text = std::fs::read(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let config: ClassifierConfig = serde_json::from_slice(&text).map_err(|e| {
            Error::data(
                &config_path,
                format!("not a spurion classifier config: {e}"),
            )
        })?;
        if config.class_names.len() < 2 || config.channels != 3 {
            return Err(Error::data(
                &config_path,
                "expected at least 2 class names and 3 input channels",
            ));
        }
        let model = crate::nn::load_weights(Classifier::new(&config, device), &weights_path)?;
        Ok(AuditedModel {
            class_names: config.class_names.clone(),
            output: OutputKind::Sigmoid,
            class_names_source: "checkpoint".into(),
            path: path.to_path_buf(),
            kind: Kind::Spurion {
                model: Box::new(model),
                config,
                device: device.clone(),
                dir,
            },
        })
    }

    fn load_onnx(path: &Path, settings: &OnnxSettings) -> Result<Self> {
        let bad =
            |e: &dyn std::fmt::Display| Error::data(path, format!("not a usable ONNX model: {e}"));
        let onnx = tract_onnx::onnx();
        let proto = onnx.proto_model_for_path(path).map_err(|e| bad(&e))?;
        let model = onnx.model_for_proto_model(&proto).map_err(|e| bad(&e))?;
        if model.inputs.len() != 1 {
            return Err(Error::data(
                path,
                format!(
                    "model has {} inputs: expected one image input",
                    model.inputs.len()
                ),
            ));
        }
        // What the model declares about its input: [N, C, H, W] or [N, H, W, C].
        let declared: Vec<Option<usize>> = model
            .input_fact(0)
            .map_err(|e| bad(&e))?
            .shape
            .dims()
            .map(|d| d.concretize().and_then(|d| d.to_usize().ok()))
            .collect();
        let rank4 = declared.len() == 4;
        let guessed_layout =
            if rank4 && matches!(declared[3], Some(1 | 3)) && !matches!(declared[1], Some(1 | 3)) {
                Layout::Nhwc
            } else {
                Layout::Nchw
            };
        let layout = settings.layout.unwrap_or(guessed_layout);
        let (hi, wi, ci) = match layout {
            Layout::Nchw => (2, 3, 1),
            Layout::Nhwc => (1, 2, 3),
        };
        let at = |i: usize| if rank4 { declared[i] } else { None };
        let size = match settings.size {
            Some(s) => s,
            None => match (at(hi), at(wi)) {
                (Some(h), Some(w)) => [h, w],
                _ => {
                    return Err(Error::param(
                        "input-size",
                        format!(
                            "{} does not declare its input size: give it as HxW",
                            path.display()
                        ),
                    ));
                }
            },
        };
        if size[0] == 0 || size[1] == 0 {
            return Err(Error::param(
                "input-size",
                "height and width must be positive",
            ));
        }
        if let (Some(h), Some(w)) = (at(hi), at(wi))
            && [h, w] != size
        {
            return Err(Error::param(
                "input-size",
                format!(
                    "{} declares a {h}x{w} input, but {}x{} was given",
                    path.display(),
                    size[0],
                    size[1]
                ),
            ));
        }
        let channels = settings.channels.unwrap_or(if at(ci) == Some(1) {
            Channels::Gray
        } else {
            Channels::Rgb
        });
        let n = if channels == Channels::Gray { 1 } else { 3 };
        if let Some(c) = at(ci)
            && c != n
        {
            return Err(Error::param(
                "channels",
                format!("the model takes {c} input channels, but {channels:?} gives {n}"),
            ));
        }
        let preprocess = Preprocess {
            height: size[0],
            width: size[1],
            channels,
            layout,
            mean: per_channel(settings.mean.clone(), n, 0.0, "mean")?,
            std: per_channel(settings.std.clone(), n, 1.0, "std")?,
            range: settings.range.unwrap_or(1.0),
        };
        if preprocess.std.iter().any(|&s| s == 0.0 || !s.is_finite()) {
            return Err(Error::param(
                "std",
                "standard deviations must be finite and non-zero",
            ));
        }
        if !(preprocess.range > 0.0 && preprocess.range.is_finite()) {
            return Err(Error::param(
                "range",
                "expected a positive number such as 1 or 255",
            ));
        }
        let batch = model.sym("N");
        let shape = match layout {
            Layout::Nchw => tvec![batch.into(), n.to_dim(), size[0].to_dim(), size[1].to_dim()],
            Layout::Nhwc => tvec![batch.into(), size[0].to_dim(), size[1].to_dim(), n.to_dim()],
        };
        let typed = model
            .with_input_fact(0, f32::fact(shape).into())
            .and_then(|m| m.into_optimized())
            .map_err(|e| bad(&e))?;
        let out_fact = typed.output_fact(0).map_err(|e| bad(&e))?;
        let out_dims: Vec<Option<usize>> =
            out_fact.shape.iter().map(|d| d.to_usize().ok()).collect();
        let outputs = match out_dims.as_slice() {
            [_, Some(w)] => *w,
            [_, Some(w), Some(1), Some(1)] => *w,
            _ => {
                return Err(Error::data(
                    path,
                    format!(
                        "output shape {:?}: expected [batch, classes]",
                        out_fact.shape
                    ),
                ));
            }
        };
        let plan = typed.into_runnable().map_err(|e| bad(&e))?;
        let (class_names, source) = if let Some(labels) = &settings.labels {
            (
                read_labels(labels)?,
                format!("labels file {}", labels.display()),
            )
        } else if let Some(names) = metadata_labels(&proto) {
            (names, "model metadata".to_string())
        } else {
            let n = if outputs == 1 { 2 } else { outputs };
            (
                (0..n).map(|i| i.to_string()).collect(),
                "indices".to_string(),
            )
        };
        let output = settings.output.unwrap_or(OutputKind::Logits);
        let expected = if outputs == 1 { 2 } else { outputs };
        if class_names.len() != expected {
            return Err(Error::data(
                settings.labels.as_deref().unwrap_or(path),
                format!(
                    "{} class names ({source}) but the model outputs {outputs} value(s) per image{}",
                    class_names.len(),
                    if outputs == 1 {
                        " (one output = two classes)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        if outputs == 1 && output == OutputKind::Softmax {
            return Err(Error::param(
                "output",
                "softmax over a single output is always 1: use sigmoid or logits",
            ));
        }
        Ok(AuditedModel {
            kind: Kind::Onnx {
                plan,
                preprocess,
                outputs,
            },
            class_names,
            output,
            class_names_source: source,
            path: path.to_path_buf(),
        })
    }

    /// `[height, width]` of the images the model takes.
    /// The folder of a spurion checkpoint; None for ONNX models.
    pub fn checkpoint_dir(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Spurion { dir, .. } => Some(dir),
            Kind::Onnx { .. } => None,
        }
    }

    pub fn input_size(&self) -> [usize; 2] {
        match &self.kind {
            Kind::Spurion { config, .. } => [config.height, config.width],
            Kind::Onnx { preprocess, .. } => [preprocess.height, preprocess.width],
        }
    }

    /// How `p_c(x)` is obtained, in words, for the report.
    pub fn probability_note(&self) -> String {
        let n = self.class_names.len();
        match (&self.kind, self.output) {
            (Kind::Spurion { .. }, _) if n == 2 => {
                "p_c is the sigmoid output (one output: p_1 = sigmoid, p_0 = 1 - p_1)".into()
            }
            (Kind::Spurion { .. }, _) => {
                "p_c is the sigmoid output of class c (one-vs-rest)".into()
            }
            (Kind::Onnx { outputs: 1, .. }, OutputKind::Logits) => {
                "p_1 = sigmoid(logit), p_0 = 1 - p_1".into()
            }
            (Kind::Onnx { outputs: 1, .. }, _) => "p_1 = the model's output, p_0 = 1 - p_1".into(),
            (_, OutputKind::Logits) => {
                "p_c is the softmax probability (softmax of the logits)".into()
            }
            (_, OutputKind::Softmax) => {
                "p_c is the softmax probability (the model's output)".into()
            }
            (_, OutputKind::Sigmoid) => {
                "p_c is the sigmoid probability of class c (the model's output)".into()
            }
        }
    }

    /// Facts for the report.
    pub fn info(&self) -> ModelInfo {
        let [h, w] = self.input_size();
        ModelInfo {
            path: self.path.display().to_string(),
            format: match self.kind {
                Kind::Spurion { .. } => "spurion".into(),
                Kind::Onnx { .. } => "onnx".into(),
            },
            class_names: self.class_names.clone(),
            class_names_source: self.class_names_source.clone(),
            input_height: h,
            input_width: w,
            output: self.output,
            probability: self.probability_note(),
            preprocess: match &self.kind {
                Kind::Onnx { preprocess, .. } => Some(preprocess.clone()),
                Kind::Spurion { .. } => None,
            },
        }
    }

    /// `p_c(x)` for a batch of probes (RGB, the model's input size).
    pub fn predict(&self, images: &Images) -> Result<Probabilities> {
        match &self.kind {
            Kind::Spurion {
                model,
                config,
                device,
                ..
            } => classifier::predict(model, config, images, images.count.max(1), device),
            Kind::Onnx {
                plan,
                preprocess,
                outputs,
            } => {
                let input = preprocess.apply(images);
                let cc = preprocess.channel_count();
                let shape: [usize; 4] = match preprocess.layout {
                    Layout::Nchw => [images.count, cc, preprocess.height, preprocess.width],
                    Layout::Nhwc => [images.count, preprocess.height, preprocess.width, cc],
                };
                let tensor = Tensor::from_shape(&shape, &input)
                    .map_err(|e| Error::Model(format!("building the input: {e}")))?;
                let result = plan
                    .run(tvec!(tensor.into()))
                    .map_err(|e| Error::Model(format!("running {}: {e}", self.path.display())))?;
                let raw: Vec<f32> = result[0]
                    .to_plain_array_view::<f32>()
                    .map_err(|e| Error::Model(format!("reading the output: {e}")))?
                    .iter()
                    .copied()
                    .collect();
                if raw.len() != images.count * outputs {
                    return Err(Error::Model(format!(
                        "model returned {} values for {} images of {outputs} outputs",
                        raw.len(),
                        images.count
                    )));
                }
                let probs = to_probabilities(&raw, *outputs, self.output);
                Probabilities::new(self.class_names.len(), probs).map_err(|e| {
                    Error::Invalid(
                        format!("{e} (is --output {:?} right for this model?)", self.output)
                            .to_lowercase(),
                    )
                })
            }
        }
    }
}

/// Turns raw outputs (`count x outputs`) into probabilities (`count x classes`).
pub fn to_probabilities(raw: &[f32], outputs: usize, kind: OutputKind) -> Vec<f32> {
    let sigmoid = |x: f32| 1.0 / (1.0 + (-x).exp());
    if outputs == 1 {
        return raw
            .iter()
            .flat_map(|&v| {
                let p = if kind == OutputKind::Logits {
                    sigmoid(v)
                } else {
                    v
                };
                [1.0 - p, p]
            })
            .collect();
    }
    match kind {
        OutputKind::Sigmoid | OutputKind::Softmax => raw.to_vec(),
        OutputKind::Logits => raw
            .chunks_exact(outputs)
            .flat_map(|row| {
                let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = row.iter().map(|&x| (x - m).exp()).collect();
                let s: f32 = e.iter().sum();
                e.into_iter().map(move |x| x / s)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logits_become_softmax_and_single_outputs_binary() {
        let p = to_probabilities(&[0.0, 0.0, 2.0_f32.ln(), 0.0], 2, OutputKind::Logits);
        assert!((p[0] - 0.5).abs() < 1e-6 && (p[2] - 2.0 / 3.0).abs() < 1e-6);
        let p = to_probabilities(&[0.0, 0.8], 1, OutputKind::Sigmoid);
        assert_eq!(p, vec![1.0, 0.0, 1.0 - 0.8, 0.8]);
        let p = to_probabilities(&[0.0], 1, OutputKind::Logits);
        assert_eq!(p, vec![0.5, 0.5]);
    }

    #[test]
    fn preprocessing_orders_scales_and_lays_out() {
        let img = Images {
            count: 1,
            channels: 3,
            height: 1,
            width: 2,
            data: vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        };
        let pre = Preprocess {
            height: 1,
            width: 2,
            channels: Channels::Bgr,
            layout: Layout::Nhwc,
            mean: vec![0.0; 3],
            std: vec![1.0, 1.0, 0.5],
            range: 255.0,
        };
        let v = pre.apply(&img);
        // pixel 0: B, G, R = 0.5, 0.3, 0.1 (x255, last channel / 0.5)
        let want = [
            0.5 * 255.0,
            0.3 * 255.0,
            0.1 * 255.0 / 0.5,
            0.6 * 255.0,
            0.4 * 255.0,
            0.2 * 255.0 / 0.5,
        ];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-3, "{v:?}");
        }
    }

    #[test]
    fn toml_settings_parse_and_unknown_keys_are_rejected() {
        let s = OnnxSettings::parse_toml(
            "size = [32, 32]\nchannels = \"bgr\"\nmean = [0.5]\noutput = \"softmax\"\nlabels = \"l.txt\"\n",
            Path::new("/m/pre.toml"),
        )
        .unwrap();
        assert_eq!(s.size, Some([32, 32]));
        assert_eq!(s.channels, Some(Channels::Bgr));
        assert_eq!(s.labels, Some(PathBuf::from("/m/l.txt")));
        let e = OnnxSettings::parse_toml("sizes = [1, 2]", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.toml") && e.contains("sizes"), "{e}");
        let e = OnnxSettings::parse_toml("size = [32", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.toml"), "{e}");
    }

    /// The error loading `path` as a model gives.
    fn load_error(path: &Path) -> String {
        let device = crate::nn::ComputeDevice::Cpu.device().unwrap();
        AuditedModel::load(path, &OnnxSettings::default(), &device)
            .err()
            .unwrap()
            .to_string()
    }

    #[test]
    fn not_onnx_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.onnx");
        std::fs::write(&p, b"this is not a protobuf at all").unwrap();
        let e = load_error(&p);
        assert!(
            e.contains("model.onnx") && e.contains("not a usable ONNX model"),
            "{e}"
        );
    }

    #[test]
    fn truncated_onnx_is_a_clear_error() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/tiny.onnx");
        let bytes = std::fs::read(fixture).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cut.onnx");
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e = load_error(&p);
        assert!(
            e.contains("cut.onnx") && e.contains("not a usable ONNX model"),
            "{e}"
        );
    }

    #[test]
    fn missing_checkpoint_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_error(dir.path());
        assert!(e.contains("classifier.json"), "{e}");
    }
}

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
    /// Which output holds the class scores, for a model with several.
    #[serde(default)]
    pub output_name: Option<String>,
    /// Class names, one per line.
    pub labels: Option<PathBuf>,
}

impl OnnxSettings {
    /// Reads settings from a TOML file (keys as the fields above).
    pub fn from_toml(path: &Path) -> Result<Self> {
        let text = crate::data::read_text(path)?;
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
            output_name: self.output_name.or(base.output_name),
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
    /// The preprocessing `settings` ask for at `size`, with `channels` and `layout` already
    /// decided; unset values take their defaults (mean 0, std 1, range 1, or 255 for a
    /// uint8 input). Each bad value names its flag.
    pub fn resolve(
        settings: &OnnxSettings,
        size: [usize; 2],
        channels: Channels,
        layout: Layout,
        input_type: InputType,
    ) -> Result<Self> {
        if size[0] == 0 || size[1] == 0 {
            return Err(Error::param(
                "input-size",
                "height and width must be positive",
            ));
        }
        let n = if channels == Channels::Gray { 1 } else { 3 };
        let preprocess = Preprocess {
            height: size[0],
            width: size[1],
            channels,
            layout,
            mean: per_channel(settings.mean.clone(), n, 0.0, "mean")?,
            std: per_channel(settings.std.clone(), n, 1.0, "std")?,
            // A uint8 input takes pixel values 0-255.
            range: settings.range.unwrap_or(if input_type == InputType::Uint8 {
                255.0
            } else {
                1.0
            }),
        };
        if preprocess.mean.iter().any(|m| !m.is_finite()) {
            return Err(Error::param("mean", "means must be finite numbers"));
        }
        if preprocess.std.iter().any(|&s| s <= 0.0 || !s.is_finite()) {
            return Err(Error::param(
                "std",
                "standard deviations must be finite and positive",
            ));
        }
        if !(preprocess.range > 0.0 && preprocess.range.is_finite()) {
            return Err(Error::param(
                "range",
                "expected a positive number such as 1 or 255",
            ));
        }
        if input_type == InputType::Uint8 {
            let plain = |v: &[f32], x: f32| v.iter().all(|&m| m == x);
            if preprocess.range != 255.0 {
                return Err(Error::param(
                    "range",
                    "the model takes uint8 pixel values (0-255): the range must be 255",
                ));
            }
            if !plain(&preprocess.mean, 0.0) || !plain(&preprocess.std, 1.0) {
                let flag = if plain(&preprocess.mean, 0.0) {
                    "std"
                } else {
                    "mean"
                };
                return Err(Error::param(
                    flag,
                    "the model takes uint8 pixel values (0-255), which --mean and --std \
                     would turn into fractions: leave them out (the model normalises itself)",
                ));
            }
        }
        crate::budget::Budget::of_machine().need(
            "input-size",
            3.0 * size[0] as f64 * size[1] as f64 * crate::budget::F32 * 4.0,
            format!("one {}x{} image", size[0], size[1]),
        )?;
        Ok(preprocess)
    }

    /// The preprocessing a settings file asks for on its own (no model to fill gaps): the
    /// size must be given; channels default to RGB, layout to NCHW, input to float32.
    pub fn from_settings(settings: &OnnxSettings) -> Result<Self> {
        let size = settings.size.ok_or_else(|| {
            Error::param("input-size", "no model to take it from: give it as HxW")
        })?;
        Self::resolve(
            settings,
            size,
            settings.channels.unwrap_or(Channels::Rgb),
            settings.layout.unwrap_or(Layout::Nchw),
            InputType::Float32,
        )
    }

    /// The model's input values for one encoded image (PNG or JPEG bytes): decoded within the
    /// image memory limit, resized, then preprocessed. The path a probe image takes.
    pub fn image_bytes_to_input(&self, bytes: &[u8]) -> Result<Vec<f32>> {
        let rgb = crate::data::folder::image_from_bytes(bytes, self.height, self.width)?;
        let mut images = Images::empty(3, self.height, self.width);
        images.push(&rgb);
        Ok(self.apply(&images))
    }

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

/// The element type an ONNX model takes its image in; spurion computes in `f32` and converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    Float32,
    Float16,
    Float64,
    /// Pixel values 0-255, rounded.
    Uint8,
}

impl InputType {
    fn datum(self) -> DatumType {
        match self {
            InputType::Float32 => DatumType::F32,
            InputType::Float16 => DatumType::F16,
            InputType::Float64 => DatumType::F64,
            InputType::Uint8 => DatumType::U8,
        }
    }
}

/// One input or output as the ONNX graph declares it.
struct Declared {
    name: String,
    /// ONNX `TensorProto.DataType` code (1 float, 2 uint8, 10 float16, 11 double, ...).
    elem_type: i32,
    /// "[N, 3, 224, 224]", with `?` for unknown dimensions.
    shape: String,
}

impl Declared {
    fn of(v: &tract_onnx::pb::ValueInfoProto) -> Self {
        use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
        use tract_onnx::pb::type_proto::Value as Type;
        let (elem_type, shape) = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(Type::TensorType(t)) => (
                t.elem_type,
                t.shape.as_ref().map(|s| {
                    s.dim
                        .iter()
                        .map(|d| match &d.value {
                            Some(Dim::DimValue(v)) => v.to_string(),
                            Some(Dim::DimParam(p)) if !p.is_empty() => p.clone(),
                            _ => "?".to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
            ),
            _ => (0, None),
        };
        Declared {
            name: v.name.clone(),
            elem_type,
            shape: format!("[{}]", shape.unwrap_or_else(|| "?".into())),
        }
    }

    /// The ONNX name of the element type.
    fn type_name(&self) -> &'static str {
        match self.elem_type {
            1 => "float32",
            2 => "uint8",
            3 => "int8",
            4 => "uint16",
            5 => "int16",
            6 => "int32",
            7 => "int64",
            8 => "string",
            9 => "bool",
            10 => "float16",
            11 => "float64",
            12 => "uint32",
            13 => "uint64",
            16 => "bfloat16",
            _ => "an unknown type",
        }
    }
}

/// The graph's inputs (initializers excluded) and outputs.
fn signature(proto: &tract_onnx::pb::ModelProto) -> (Vec<Declared>, Vec<Declared>) {
    let Some(g) = proto.graph.as_ref() else {
        return (Vec::new(), Vec::new());
    };
    let inits: std::collections::HashSet<&str> =
        g.initializer.iter().map(|t| t.name.as_str()).collect();
    (
        g.input
            .iter()
            .filter(|i| !inits.contains(i.name.as_str()))
            .map(Declared::of)
            .collect(),
        g.output.iter().map(Declared::of).collect(),
    )
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
        input_type: InputType,
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
    let text = crate::data::read_text(path)?;
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
        let text = crate::data::read_file(&config_path)?;
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
        crate::data::regular_file(path)?;
        let onnx = tract_onnx::onnx();
        let proto = onnx.proto_model_for_path(path).map_err(|e| bad(&e))?;
        let (inputs, outputs_declared) = signature(&proto);
        let mut model = onnx.model_for_proto_model(&proto).map_err(|e| bad(&e))?;
        if model.inputs.len() != 1 {
            return Err(Error::data(
                path,
                format!(
                    "model has {} inputs ({}): expected one image input",
                    model.inputs.len(),
                    inputs
                        .iter()
                        .map(|i| format!("'{}' {} {}", i.name, i.type_name(), i.shape))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let list_outputs = || {
            outputs_declared
                .iter()
                .map(|o| format!("'{}' {} {}", o.name, o.type_name(), o.shape))
                .collect::<Vec<_>>()
                .join(", ")
        };
        // The output that holds the class scores.
        let chosen = match (&settings.output_name, outputs_declared.len()) {
            (Some(name), _) => {
                let Some(o) = outputs_declared.iter().find(|o| &o.name == name) else {
                    return Err(Error::param(
                        "output-name",
                        format!(
                            "{} has no output '{name}'; its outputs: {}",
                            path.display(),
                            list_outputs()
                        ),
                    ));
                };
                model = model
                    .with_outputs_by_name([name.as_str()])
                    .map_err(|e| bad(&e))?;
                o
            }
            (None, 1) => &outputs_declared[0],
            (None, _) => {
                return Err(Error::param(
                    "output-name",
                    format!(
                        "{} has {} outputs: {}; name the one with the class scores",
                        path.display(),
                        outputs_declared.len(),
                        list_outputs()
                    ),
                ));
            }
        };
        match chosen.elem_type {
            1 | 10 | 11 => {}
            _ => {
                return Err(Error::data(
                    path,
                    format!(
                        "output '{}' is {} {}: spurion needs class scores as floats \
                         (logits or probabilities), not {}",
                        chosen.name,
                        chosen.type_name(),
                        chosen.shape,
                        if matches!(chosen.elem_type, 6 | 7) {
                            "class indices"
                        } else {
                            "this type"
                        }
                    ),
                ));
            }
        }
        let input_decl = inputs.first();
        let input_type = match input_decl.map_or(1, |i| i.elem_type) {
            1 | 0 => InputType::Float32,
            10 => InputType::Float16,
            11 => InputType::Float64,
            2 => InputType::Uint8,
            _ => {
                let i = input_decl.expect("an input with a declared type");
                return Err(Error::data(
                    path,
                    format!(
                        "input '{}' is {} {}: spurion feeds images as float32, float16, \
                         float64 or uint8 pixel values",
                        i.name,
                        i.type_name(),
                        i.shape
                    ),
                ));
            }
        };
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
        // A layout given by hand must fit every dimension the model declares.
        if let Some(given) = settings.layout
            && rank4
        {
            let fed = match given {
                Layout::Nchw => [None, Some(n), Some(size[0]), Some(size[1])],
                Layout::Nhwc => [None, Some(size[0]), Some(size[1]), Some(n)],
            };
            let clash =
                (1..4).any(|i| matches!((declared[i], fed[i]), (Some(d), Some(f)) if d != f));
            if clash {
                return Err(Error::param(
                    "layout",
                    format!(
                        "{} declares its input as {}, which does not fit {given:?} with {n} \
                         channel(s) at {}x{}",
                        path.display(),
                        input_decl.map_or("?", |i| i.shape.as_str()),
                        size[0],
                        size[1]
                    ),
                ));
            }
        }
        if let Some(c) = at(ci)
            && c != n
        {
            return Err(Error::param(
                "channels",
                format!("the model takes {c} input channels, but {channels:?} gives {n}"),
            ));
        }
        let preprocess = Preprocess::resolve(settings, size, channels, layout, input_type)?;
        let batch = model.sym("N");
        let shape = match layout {
            Layout::Nchw => tvec![batch.into(), n.to_dim(), size[0].to_dim(), size[1].to_dim()],
            Layout::Nhwc => tvec![batch.into(), size[0].to_dim(), size[1].to_dim(), n.to_dim()],
        };
        let typed = model
            .with_input_fact(0, InferenceFact::dt_shape(input_type.datum(), shape))
            .and_then(|m| m.into_optimized())
            .map_err(|e| bad(&e))?;
        let out_fact = typed.output_fact(0).map_err(|e| bad(&e))?;
        let out_dims: Vec<Option<usize>> =
            out_fact.shape.iter().map(|d| d.to_usize().ok()).collect();
        let outputs = match out_dims.as_slice() {
            [_, Some(0)] | [_, Some(0), Some(1), Some(1)] => {
                return Err(Error::data(
                    path,
                    format!(
                        "output '{}' has no classes (shape {:?}): expected [batch, classes]",
                        chosen.name, out_fact.shape
                    ),
                ));
            }
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
                input_type,
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
                input_type,
            } => {
                let mut input = preprocess.apply(images);
                if *input_type == InputType::Uint8 {
                    input
                        .iter_mut()
                        .for_each(|v| *v = v.round().clamp(0.0, 255.0));
                }
                let cc = preprocess.channel_count();
                let shape: [usize; 4] = match preprocess.layout {
                    Layout::Nchw => [images.count, cc, preprocess.height, preprocess.width],
                    Layout::Nhwc => [images.count, preprocess.height, preprocess.width, cc],
                };
                let tensor = Tensor::from_shape(&shape, &input)
                    .and_then(|t| Ok(t.cast_to_dt(input_type.datum())?.into_owned()))
                    .map_err(|e| Error::Model(format!("building the input: {e}")))?;
                let result = plan
                    .run(tvec!(tensor.into()))
                    .map_err(|e| Error::Model(format!("running {}: {e}", self.path.display())))?;
                let out = result[0]
                    .cast_to::<f32>()
                    .map_err(|e| Error::Model(format!("reading the output: {e}")))?;
                let raw: Vec<f32> = out
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
                check_raw_outputs(&raw, *outputs, self.output, &self.path)?;
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

/// Refuses raw outputs that are not numbers, and "softmax" outputs whose rows do not sum to 1.
fn check_raw_outputs(raw: &[f32], outputs: usize, kind: OutputKind, path: &Path) -> Result<()> {
    if let Some(i) = raw.iter().position(|v| !v.is_finite()) {
        return Err(Error::data(
            path,
            format!(
                "the model returned {} for probe {} (output {}): its outputs must be numbers",
                raw[i],
                i / outputs,
                i % outputs
            ),
        ));
    }
    if kind == OutputKind::Softmax && outputs > 1 {
        for (i, row) in raw.chunks_exact(outputs).enumerate() {
            let sum: f32 = row.iter().sum();
            if (sum - 1.0).abs() > 1e-3 {
                return Err(Error::param(
                    "output",
                    format!(
                        "softmax outputs sum to 1 per image, but probe {i}'s sum to {sum}: \
                         are they logits (--output logits) or sigmoids (--output sigmoid)?"
                    ),
                ));
            }
        }
    }
    Ok(())
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

    #[test]
    fn the_fuzz_corpus_preprocesses_to_the_settings_shape() {
        // The inputs the `preprocess_image` fuzz target starts from: settings, 0, PNG bytes.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/preprocess_image");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let split = bytes.iter().position(|&b| b == 0).unwrap();
            let text = std::str::from_utf8(&bytes[..split]).unwrap();
            let settings = OnnxSettings::parse_toml(text, Path::new("c.toml")).unwrap();
            let pre = Preprocess::from_settings(&settings).unwrap();
            let v = pre.image_bytes_to_input(&bytes[split + 1..]).unwrap();
            assert_eq!(v.len(), pre.channel_count() * pre.height * pre.width);
            assert!(v.iter().all(|x| x.is_finite()));
            seen += 1;
        }
        assert!(seen >= 3);
        // Cut image bytes and absurd sizes are errors, not panics.
        let s = OnnxSettings {
            size: Some([8, 8]),
            ..OnnxSettings::default()
        };
        let pre = Preprocess::from_settings(&s).unwrap();
        assert!(pre.image_bytes_to_input(b"\x89PNG\r\n\x1a\n").is_err());
        let huge = OnnxSettings {
            size: Some([1 << 40, 1 << 40]),
            ..OnnxSettings::default()
        };
        let e = Preprocess::from_settings(&huge).unwrap_err().to_string();
        assert!(e.contains("--input-size"), "{e}");
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

    fn hostile(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/onnx/hostile")
            .join(name)
    }

    #[test]
    fn input_and_output_types_are_converted_to_the_reference_probabilities() {
        let expected: serde_json::Value =
            serde_json::from_slice(&std::fs::read(hostile("expected.json")).unwrap()).unwrap();
        let probes = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/probes");
        let mut images = Images::empty(3, 8, 8);
        for name in expected["probes"].as_array().unwrap() {
            let p = probes.join(name.as_str().unwrap());
            images.push(&crate::data::folder::load_image(&p, 8, 8).unwrap());
        }
        let device = crate::nn::ComputeDevice::Cpu.device().unwrap();
        // (model, tolerance): float16 rounds the input to 11 bits.
        for (model, tol) in [
            ("two_outputs", 1e-5),
            ("uint8_input", 1e-5),
            ("float16_input", 2e-3),
            ("float64_output", 1e-5),
        ] {
            let settings = OnnxSettings {
                output_name: Some("logits".into()),
                ..OnnxSettings::default()
            };
            let m = AuditedModel::load(&hostile(&format!("{model}.onnx")), &settings, &device)
                .unwrap_or_else(|e| panic!("{model}: {e}"));
            let got = m.predict(&images).unwrap();
            for (i, row) in expected[model].as_array().unwrap().iter().enumerate() {
                let logits: Vec<f32> = row
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect();
                let want = to_probabilities(&logits, 2, OutputKind::Logits);
                for (c, w) in want.iter().enumerate() {
                    let d = (got.get(i, c) - w).abs();
                    assert!(d < tol, "{model} probe {i} class {c}: {d}");
                }
            }
        }
    }

    #[test]
    fn models_spurion_cannot_read_are_refused_with_what_they_declare() {
        let device = crate::nn::ComputeDevice::Cpu.device().unwrap();
        // (model, settings, pieces of the error)
        let with_name = |n: &str| OnnxSettings {
            output_name: Some(n.into()),
            ..OnnxSettings::default()
        };
        let table: Vec<(&str, OnnxSettings, &[&str])> = vec![
            (
                "two_outputs",
                OnnxSettings::default(),
                &[
                    "--output-name",
                    "'features' float32 [N, 3]",
                    "'logits' float32 [N, 2]",
                ],
            ),
            (
                "two_outputs",
                with_name("probs"),
                &["--output-name", "no output 'probs'"],
            ),
            (
                "int64_output",
                OnnxSettings::default(),
                &["int64", "class indices"],
            ),
            (
                "int32_input",
                OnnxSettings::default(),
                &["input 'image' is int32"],
            ),
            ("zero_classes", OnnxSettings::default(), &["has no classes"]),
            (
                "two_inputs",
                OnnxSettings::default(),
                &["2 inputs", "'a' float32"],
            ),
            (
                "uint8_input",
                OnnxSettings {
                    range: Some(1.0),
                    ..OnnxSettings::default()
                },
                &["--range", "uint8"],
            ),
            (
                "uint8_input",
                OnnxSettings {
                    mean: Some(vec![0.5]),
                    ..OnnxSettings::default()
                },
                &["--mean", "uint8"],
            ),
            (
                "any_size",
                OnnxSettings {
                    layout: Some(Layout::Nhwc),
                    size: Some([8, 8]),
                    ..OnnxSettings::default()
                },
                &["--layout", "[N, 3, H, W]"],
            ),
            (
                "two_outputs",
                OnnxSettings {
                    mean: Some(vec![f32::NAN]),
                    output_name: Some("logits".into()),
                    ..OnnxSettings::default()
                },
                &["--mean", "finite"],
            ),
            (
                "two_outputs",
                OnnxSettings {
                    std: Some(vec![-1.0]),
                    output_name: Some("logits".into()),
                    ..OnnxSettings::default()
                },
                &["--std", "positive"],
            ),
        ];
        for (model, settings, needles) in table {
            let e = AuditedModel::load(&hostile(&format!("{model}.onnx")), &settings, &device)
                .err()
                .unwrap_or_else(|| panic!("{model} {settings:?} loaded"))
                .to_string();
            for n in needles {
                assert!(e.contains(n), "{model}: '{n}' not in: {e}");
            }
        }
    }

    #[test]
    fn nan_outputs_and_false_softmax_claims_are_refused() {
        let device = crate::nn::ComputeDevice::Cpu.device().unwrap();
        let images = Images {
            count: 2,
            channels: 3,
            height: 8,
            width: 8,
            data: vec![0.5; 2 * 3 * 64],
        };
        let nan = AuditedModel::load(
            &hostile("nan_output.onnx"),
            &OnnxSettings::default(),
            &device,
        )
        .unwrap();
        let e = nan.predict(&images).unwrap_err().to_string();
        assert!(e.contains("nan_output.onnx") && e.contains("NaN"), "{e}");
        let settings = OnnxSettings {
            output: Some(OutputKind::Softmax),
            output_name: Some("logits".into()),
            ..OnnxSettings::default()
        };
        let m = AuditedModel::load(&hostile("two_outputs.onnx"), &settings, &device).unwrap();
        let e = m.predict(&images).unwrap_err().to_string();
        assert!(e.contains("--output") && e.contains("sum to"), "{e}");
    }

    #[test]
    fn missing_checkpoint_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_error(dir.path());
        assert!(e.contains("classifier.json"), "{e}");
    }
}

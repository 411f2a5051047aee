//! ONNX classifiers exported from PyTorch, TensorFlow or Paddle, run with tract (pure Rust) or
//! ONNX Runtime ([`super::runtime`] picks the engine).
//!
//! Loading reads what the graph declares (inputs, outputs, their element types and shapes),
//! picks the output with the class scores, resolves the preprocessing against the declared
//! input, and compiles the graph for a symbolic batch size. Anything spurion cannot feed or
//! read is refused with what the model declares.
//!
//! Each engine reads the model its own way (`tract.rs`, `ort.rs`) into the same `graph::Read`;
//! one step here, `assemble`, checks it whichever engine read it and builds the [`OnnxModel`],
//! so both engines accept and refuse the same models with the same messages.

pub mod graph;
mod ort;
mod tract;

use std::path::{Path, PathBuf};

use self::ort::OrtSession;
use graph::{Declared, DeclaredDims, ElemType, Read, list, read_labels};

use super::output::{check_raw_outputs, probability_note, to_probabilities};
use super::preprocess::{InputType, Preprocess};
use super::runtime::{Engine, OnnxRuntime};
use super::settings::{Channels, Layout, OnnxSettings, OutputKind};
use super::{ModelFormat, ModelInfo, ProbabilityModel};
use crate::data::Images;
use crate::error::{Error, Result};
use crate::metrics::Probabilities;

/// What runs the graph.
enum Runner {
    Tract(tract::Plan),
    Ort {
        session: OrtSession,
        input: String,
        output: String,
    },
}

/// A compiled ONNX classifier and the preprocessing of its input.
pub struct OnnxModel {
    runner: Runner,
    /// The engine, in words, for the report.
    runtime: String,
    preprocess: Preprocess,
    /// Values the chosen output holds per image.
    outputs: usize,
    input_type: InputType,
    class_names: Vec<String>,
    output: OutputKind,
    output_source: OutputSource,
    /// Where the class names came from (labels file, model metadata, indices).
    class_names_source: String,
    path: PathBuf,
}

/// Most classes an audited model may have (ImageNet-21k has 21,843): each class costs a
/// weighted k-means and its statistics.
pub const MAX_CLASSES: usize = 25_000;

impl OnnxModel {
    /// Loads and compiles `path` with `settings` (unset values come from what it declares),
    /// with tract.
    pub fn load(path: &Path, settings: &OnnxSettings) -> Result<Self> {
        Self::load_with(path, settings, &OnnxRuntime::tract(), false)
    }

    /// Loads `path` with the engine `runtime` resolves to; `cuda` runs it on ONNX Runtime's
    /// CUDA execution provider.
    pub fn load_with(
        path: &Path,
        settings: &OnnxSettings,
        runtime: &OnnxRuntime,
        cuda: bool,
    ) -> Result<Self> {
        crate::data::regular_file(path)?;
        match runtime.resolve()? {
            Engine::Tract => assemble(path, settings, tract::open(path)?),
            Engine::Ort(lib) => assemble(path, settings, ort::open(path, &lib, cuda)?),
        }
    }

    /// The resolved preprocessing.
    pub fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }
}

/// An engine's model, read but not yet ready to run: it becomes a [`Runner`] once the
/// preprocessing is resolved (tract compiles for that input; ONNX Runtime may run a blank
/// image to learn the output's width).
trait Finish {
    /// The engine, in words, for the report.
    fn runtime(&self) -> String;

    /// The runner feeding input `input` as `preprocess` makes images, in `input_type`, and
    /// reading output `output`; and that output's width.
    fn finish(
        self,
        path: &Path,
        preprocess: &Preprocess,
        input_type: InputType,
        input: &str,
        output: &Declared,
    ) -> Result<(Runner, usize)>;
}

impl Finish for tract::Parsed {
    fn runtime(&self) -> String {
        "tract".to_string()
    }

    fn finish(
        self,
        path: &Path,
        preprocess: &Preprocess,
        input_type: InputType,
        _input: &str,
        output: &Declared,
    ) -> Result<(Runner, usize)> {
        let (plan, width) = self.compile(path, preprocess, input_type, output)?;
        Ok((Runner::Tract(plan), width))
    }
}

impl Finish for OrtSession {
    fn runtime(&self) -> String {
        self.description.clone()
    }

    fn finish(
        self,
        _path: &Path,
        preprocess: &Preprocess,
        input_type: InputType,
        input: &str,
        output: &Declared,
    ) -> Result<(Runner, usize)> {
        let width = self.width(input, &output.name, preprocess, input_type)?;
        Ok((
            Runner::Ort {
                session: self,
                input: input.to_string(),
                output: output.name.clone(),
            },
            width,
        ))
    }
}

/// The model `read` describes, checked the same way whichever engine read it: one image
/// input of a type spurion feeds, an output of float scores, a geometry that fits the
/// settings, and as many class names as the output has values.
fn assemble<E: Finish>(path: &Path, settings: &OnnxSettings, read: Read<E>) -> Result<OnnxModel> {
    if read.inputs.len() != 1 {
        return Err(Error::data(
            path,
            format!(
                "model has {} inputs ({}): expected one image input",
                read.inputs.len(),
                list(&read.inputs)
            ),
        ));
    }
    let chosen = choose_output(path, &read.outputs, settings.output_name.as_deref())?;
    let input = &read.inputs[0];
    let input_type = input_type(path, input)?;
    let (layout, size, channels) = input_geometry(path, settings, &read.input_dims, &input.shape)?;
    let preprocess = Preprocess::resolve(settings, size, channels, layout, input_type)?;
    let graph_kind = read.activation(&chosen.name);
    let runtime = read.engine.runtime();
    let (runner, width) = read
        .engine
        .finish(path, &preprocess, input_type, &input.name, chosen)?;
    check_width(path, width, &chosen.name)?;
    let (class_names, class_names_source) = class_names(path, settings, read.labels, width)?;
    let (output, output_source) = output_kind(settings, graph_kind, width)?;
    Ok(OnnxModel {
        runner,
        runtime,
        preprocess,
        outputs: width,
        input_type,
        class_names,
        output,
        output_source,
        class_names_source,
        path: path.to_path_buf(),
    })
}

/// At most [`MAX_CLASSES`] values per image.
fn check_width(path: &Path, width: usize, name: &str) -> Result<()> {
    if width == 0 {
        return Err(Error::data(
            path,
            format!("output '{name}' has no classes: expected [batch, classes]"),
        ));
    }
    if width > MAX_CLASSES {
        return Err(Error::data(
            path,
            format!(
                "output '{name}' has {width} values per image: spurion audits at most \
                 {MAX_CLASSES} classes"
            ),
        ));
    }
    Ok(())
}

/// Unless told, what the graph's last operator makes of the scores: a final Softmax or
/// Sigmoid means probabilities (applying it again would be silently wrong).
fn output_kind(
    settings: &OnnxSettings,
    graph: Option<OutputKind>,
    width: usize,
) -> Result<(OutputKind, OutputSource)> {
    let (output, source) = match (settings.output, graph) {
        (Some(o), _) => (o, OutputSource::Given),
        (None, Some(o)) => (o, OutputSource::Graph),
        (None, None) => (OutputKind::Logits, OutputSource::Default),
    };
    if width == 1 && output == OutputKind::Softmax {
        return Err(Error::param(
            "output",
            "softmax over a single output is always 1: use sigmoid or logits",
        ));
    }
    Ok((output, source))
}

/// Where the output kind came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutputSource {
    /// `--output` or the preprocessing file.
    Given,
    /// The graph's final Softmax or Sigmoid.
    Graph,
    /// Neither: taken for logits.
    Default,
}

/// The output with the class scores: the only one, or the one named; it must hold floats.
fn choose_output<'a>(
    path: &Path,
    outputs: &'a [Declared],
    name: Option<&str>,
) -> Result<&'a Declared> {
    let chosen = match (name, outputs.len()) {
        (Some(name), _) => outputs.iter().find(|o| o.name == name).ok_or_else(|| {
            Error::param(
                "output-name",
                format!(
                    "{} has no output '{name}'; its outputs: {}",
                    path.display(),
                    list(outputs)
                ),
            )
        })?,
        (None, 1) => &outputs[0],
        (None, n) => {
            return Err(Error::param(
                "output-name",
                format!(
                    "{} has {n} outputs: {}; name the one with the class scores",
                    path.display(),
                    list(outputs)
                ),
            ));
        }
    };
    if !matches!(
        chosen.elem_type,
        ElemType::Float32 | ElemType::Float16 | ElemType::Float64
    ) {
        return Err(Error::data(
            path,
            format!(
                "output '{}' is {} {}: spurion needs class scores as floats (logits or \
                 probabilities), not {}",
                chosen.name,
                chosen.type_name(),
                chosen.shape,
                if matches!(chosen.elem_type, ElemType::Int32 | ElemType::Int64) {
                    "class indices"
                } else {
                    "this type"
                }
            ),
        ));
    }
    Ok(chosen)
}

/// The element type the image input takes.
fn input_type(path: &Path, input: &Declared) -> Result<InputType> {
    Ok(match input.elem_type {
        ElemType::Float32 | ElemType::Undeclared => InputType::Float32,
        ElemType::Float16 => InputType::Float16,
        ElemType::Float64 => InputType::Float64,
        ElemType::Uint8 => InputType::Uint8,
        _ => {
            return Err(Error::data(
                path,
                format!(
                    "input '{}' is {} {}: spurion feeds images as float32, float16, float64 \
                     or uint8 pixel values",
                    input.name,
                    input.type_name(),
                    input.shape
                ),
            ));
        }
    })
}

/// Layout, `[height, width]` and channel order: from the settings where given, else from the
/// declared input; every given value must fit what the model declares.
fn input_geometry(
    path: &Path,
    settings: &OnnxSettings,
    declared: &DeclaredDims,
    shape_text: &str,
) -> Result<(Layout, [usize; 2], Channels)> {
    let rank4 = declared.len() == 4;
    let guessed =
        if rank4 && matches!(declared[3], Some(1 | 3)) && !matches!(declared[1], Some(1 | 3)) {
            Layout::Nhwc
        } else {
            Layout::Nchw
        };
    let layout = settings.layout.unwrap_or(guessed);
    let (hi, wi, ci) = match layout {
        Layout::Nchw => (2, 3, 1),
        Layout::Nhwc => (1, 2, 3),
    };
    let at = |i: usize| if rank4 { declared[i] } else { None };
    let size = match (settings.size, at(hi), at(wi)) {
        (Some(s), _, _) => s,
        (None, Some(h), Some(w)) => [h, w],
        _ => {
            return Err(Error::param(
                "input-size",
                format!(
                    "{} does not declare its input size: give it as HxW",
                    path.display()
                ),
            ));
        }
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
        if (1..4).any(|i| matches!((declared[i], fed[i]), (Some(d), Some(f)) if d != f)) {
            return Err(Error::param(
                "layout",
                format!(
                    "{} declares its input as {shape_text}, which does not fit {given:?} with \
                     {n} channel(s) at {}x{}",
                    path.display(),
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
    Ok((layout, size, channels))
}

/// Class names and where they came from: the labels file, the model's metadata, or indices.
/// One output means two classes.
fn class_names(
    path: &Path,
    settings: &OnnxSettings,
    metadata: Option<Vec<String>>,
    width: usize,
) -> Result<(Vec<String>, String)> {
    let expected = if width == 1 { 2 } else { width };
    let (names, source) = if let Some(labels) = &settings.labels {
        (
            read_labels(labels)?,
            format!("labels file {}", labels.display()),
        )
    } else if let Some(names) = metadata {
        (names, "model metadata".to_string())
    } else {
        (
            (0..expected).map(|i| i.to_string()).collect(),
            "indices".to_string(),
        )
    };
    if names.len() != expected {
        return Err(Error::data(
            settings.labels.as_deref().unwrap_or(path),
            format!(
                "{} class names ({source}) but the model outputs {width} value(s) per image{}",
                names.len(),
                if width == 1 {
                    " (one output = two classes)"
                } else {
                    ""
                }
            ),
        ));
    }
    Ok((names, source))
}

impl ProbabilityModel for OnnxModel {
    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn input_size(&self) -> [usize; 2] {
        [self.preprocess.height, self.preprocess.width]
    }

    fn predict(&self, images: &Images) -> Result<Probabilities> {
        let pre = &self.preprocess;
        let mut input = pre.apply(images);
        // Preprocessing that overflows (a tiny --std, a huge --range) is the settings' fault,
        // not the model's; float16 holds at most 65504.
        let limit = if self.input_type == InputType::Float16 {
            65504.0
        } else {
            f32::MAX
        };
        if let Some(v) = input.iter().find(|v| !v.is_finite() || v.abs() > limit) {
            return Err(Error::param(
                "std",
                format!(
                    "--mean, --std and --range turn probe pixels into {v}, which the model's \
                     {:?} input cannot hold: check them",
                    self.input_type
                ),
            ));
        }
        if self.input_type == InputType::Uint8 {
            input
                .iter_mut()
                .for_each(|v| *v = v.round().clamp(0.0, 255.0));
        }
        let cc = pre.channel_count();
        let shape: [usize; 4] = match pre.layout {
            Layout::Nchw => [images.count, cc, pre.height, pre.width],
            Layout::Nhwc => [images.count, pre.height, pre.width, cc],
        };
        let raw = match &self.runner {
            Runner::Tract(plan) => tract::run(plan, &self.path, self.input_type, &shape, &input)?,
            Runner::Ort {
                session,
                input: name,
                output,
            } => session.run(name, output, shape, &input, self.input_type)?,
        };
        if raw.len() != images.count * self.outputs {
            return Err(Error::Model(format!(
                "model returned {} values for {} images of {} outputs",
                raw.len(),
                images.count,
                self.outputs
            )));
        }
        check_raw_outputs(&raw, self.outputs, self.output, &self.path)?;
        let probs = to_probabilities(&raw, self.outputs, self.output);
        Probabilities::new(self.class_names.len(), probs).map_err(|e| {
            Error::Invalid(
                format!("{e} (is --output {:?} right for this model?)", self.output).to_lowercase(),
            )
        })
    }

    fn info(&self) -> ModelInfo {
        ModelInfo {
            path: self.path.display().to_string(),
            format: ModelFormat::Onnx,
            class_names: self.class_names.clone(),
            class_names_source: self.class_names_source.clone(),
            input_height: self.preprocess.height,
            input_width: self.preprocess.width,
            output: self.output,
            probability: format!(
                "{}{}",
                probability_note(self.outputs, self.output),
                match self.output_source {
                    OutputSource::Graph => " (the graph ends in that function)",
                    OutputSource::Given | OutputSource::Default => "",
                }
            ),
            preprocess: Some(self.preprocess.clone()),
            runtime: self.runtime.clone(),
        }
    }
}

// The tests call tract's failure reporting directly.
#[cfg(test)]
use tract::{failing_node, tract_failure};

#[cfg(test)]
mod tests;

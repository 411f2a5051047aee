//! ONNX classifiers exported from PyTorch, TensorFlow or Paddle, run with tract (pure Rust) or
//! ONNX Runtime ([`super::runtime`] picks the engine).
//!
//! Loading reads what the graph declares (inputs, outputs, their element types and shapes),
//! picks the output with the class scores, resolves the preprocessing against the declared
//! input, and compiles the graph for a symbolic batch size. Anything spurion cannot feed or
//! read is refused with what the model declares.

pub mod graph;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;

use graph::{
    Declared, ElemType, exporter, list, metadata_labels, parse_labels, read_labels, signature,
};

use super::output::{check_raw_outputs, probability_note, to_probabilities};
use super::preprocess::{InputType, Preprocess};
use super::runtime::{Engine, OnnxRuntime, OrtSession, Port};
use super::settings::{Channels, Layout, OnnxSettings, OutputKind};
use super::{ModelFormat, ModelInfo, ProbabilityModel};
use crate::data::Images;
use crate::error::{Error, Result};
use crate::metrics::Probabilities;

/// What runs the graph.
enum Runner {
    Tract(Arc<TypedRunnableModel>),
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

/// Input values as declared: `[N, C, H, W]` or `[N, H, W, C]`, `None` where not a number.
type DeclaredDims = Vec<Option<usize>>;

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
            Engine::Tract => Self::load_tract(path, settings),
            Engine::Ort(lib) => Self::load_ort(path, settings, &lib, cuda),
        }
    }

    fn load_ort(path: &Path, settings: &OnnxSettings, lib: &Path, cuda: bool) -> Result<Self> {
        let session = OrtSession::load(path, lib, cuda)?;
        let declared = |p: &Port| Declared {
            name: p.name.clone(),
            elem_type: p.elem_type,
            shape: p.shape.clone(),
        };
        let inputs: Vec<Declared> = session.inputs.iter().map(declared).collect();
        let outputs: Vec<Declared> = session.outputs.iter().map(declared).collect();
        if inputs.len() != 1 {
            return Err(Error::data(
                path,
                format!(
                    "model has {} inputs ({}): expected one image input",
                    inputs.len(),
                    list(&inputs)
                ),
            ));
        }
        let chosen = choose_output(path, &outputs, settings.output_name.as_deref())?;
        let input_type = input_type(path, inputs.first())?;
        let dims: DeclaredDims = session.inputs[0].dims.clone();
        let (layout, size, channels) = input_geometry(path, settings, &dims, &inputs[0].shape)?;
        let preprocess = Preprocess::resolve(settings, size, channels, layout, input_type)?;
        let out_dims = session
            .outputs
            .iter()
            .find(|o| o.name == chosen.name)
            .map(|o| o.dims.clone())
            .unwrap_or_default();
        let input = inputs[0].name.clone();
        let output = chosen.name.clone();
        let width = match out_dims.as_slice() {
            [_, Some(w)] | [_, Some(w), Some(1), Some(1)] => *w,
            // Not declared: what one image gives.
            _ => {
                let cc = preprocess.channel_count();
                let shape = match layout {
                    Layout::Nchw => [1, cc, size[0], size[1]],
                    Layout::Nhwc => [1, size[0], size[1], cc],
                };
                let blank = vec![0.0f32; cc * size[0] * size[1]];
                session
                    .run(&input, &output, shape, &blank, input_type.onnx_code())?
                    .len()
            }
        };
        check_width(path, width, &chosen.name)?;
        // The graph's last operator, when tract can read the graph (it may not, for a model
        // only ONNX Runtime loads).
        let graph_kind = tract_onnx::onnx()
            .proto_model_for_path(path)
            .ok()
            .and_then(|proto| ends_in(&proto, &chosen.name));
        let metadata = session.labels.as_deref().map(parse_labels);
        let (class_names, class_names_source) = class_names(path, settings, metadata, width)?;
        let (output_kind, output_source) = output_kind(settings, graph_kind, width)?;
        Ok(OnnxModel {
            runtime: session.description.clone(),
            runner: Runner::Ort {
                session,
                input,
                output,
            },
            preprocess,
            outputs: width,
            input_type,
            class_names,
            output: output_kind,
            output_source,
            class_names_source,
            path: path.to_path_buf(),
        })
    }

    fn load_tract(path: &Path, settings: &OnnxSettings) -> Result<Self> {
        let bad = |e: &dyn std::fmt::Display| not_usable(path, e);
        // value_info only hints at shapes, and exporters write hints that disagree with the
        // batch size spurion sets (Paddle2ONNX's `DynamicDimension.0`): tract infers them.
        let onnx = tract_onnx::onnx().with_ignore_value_info(true);
        let proto = onnx.proto_model_for_path(path).map_err(|e| bad(&e))?;
        let (inputs, outputs) = signature(&proto);
        let failed = |e: &dyn std::fmt::Display| tract_failure(path, &proto, e);
        // The model's folder is where external data files (`model.onnx.data`) are found.
        let dir = path.parent().and_then(|d| d.to_str());
        let parsed = onnx.parse(&proto, dir).map_err(|e| failed(&e))?;
        if !parsed.unresolved_inputs.is_empty() {
            return Err(bad(&format!(
                "inputs {:?} are used but never defined",
                parsed.unresolved_inputs
            )));
        }
        let mut model = parsed.model;
        if model.inputs.len() != 1 {
            return Err(Error::data(
                path,
                format!(
                    "model has {} inputs ({}): expected one image input",
                    model.inputs.len(),
                    list(&inputs)
                ),
            ));
        }
        let chosen = choose_output(path, &outputs, settings.output_name.as_deref())?;
        if outputs.len() > 1 {
            model = model
                .with_outputs_by_name([chosen.name.as_str()])
                .map_err(|e| failed(&e))?;
        }
        let input = inputs.first();
        let input_type = input_type(path, input)?;
        let declared: DeclaredDims = model
            .input_fact(0)
            .map_err(|e| failed(&e))?
            .shape
            .dims()
            .map(|d| d.concretize().and_then(|d| d.to_usize().ok()))
            .collect();
        let shape_text = input.map_or("?", |i| i.shape.as_str());
        let (layout, size, channels) = input_geometry(path, settings, &declared, shape_text)?;
        let preprocess = Preprocess::resolve(settings, size, channels, layout, input_type)?;
        let (plan, width) = compile(path, model, &preprocess, input_type, chosen, &failed)?;
        check_width(path, width, &chosen.name)?;
        let (class_names, class_names_source) =
            class_names(path, settings, metadata_labels(&proto), width)?;
        let (output, output_source) = output_kind(settings, ends_in(&proto, &chosen.name), width)?;
        Ok(OnnxModel {
            runner: Runner::Tract(plan),
            runtime: "tract".to_string(),
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

    /// The resolved preprocessing.
    pub fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }
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

/// `Softmax` or `Sigmoid` when the graph computes output `name` with that operator (through
/// any reshaping that follows it); None otherwise.
fn ends_in(proto: &tract_onnx::pb::ModelProto, name: &str) -> Option<OutputKind> {
    let graph = proto.graph.as_ref()?;
    let mut name = name.to_string();
    // Bounded: a malformed graph could loop.
    for _ in 0..graph.node.len() {
        let node = graph.node.iter().find(|n| n.output.contains(&name))?;
        match node.op_type.as_str() {
            "Softmax" => return Some(OutputKind::Softmax),
            "Sigmoid" => return Some(OutputKind::Sigmoid),
            "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Identity" | "Cast" => {
                name = node.input.first()?.clone();
            }
            _ => return None,
        }
    }
    None
}

fn not_usable(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::data(path, format!("not a usable ONNX model: {e}"))
}

/// Why tract cannot run a parsed model, with what helps the user: tract's whole chain of
/// reasons, the failing node and its ONNX operator when tract names one, the exporter and
/// opset the model declares, and the other engine.
fn tract_failure(
    path: &Path,
    proto: &tract_onnx::pb::ModelProto,
    e: &dyn std::fmt::Display,
) -> Error {
    // `{:#}` prints an anyhow chain as "outer: inner: root".
    let chain = format!("{e:#}").replace('\n', " ");
    let mut message = format!("not a usable ONNX model for tract: {chain}");
    if let Some(name) = failing_node(&chain) {
        let nodes = proto.graph.as_ref().map_or(&[][..], |g| &g.node[..]);
        // tract names the nodes its rewrites make after the ONNX node they came from
        // ("conv1/BiasAdd.downsample.0...").
        let exact = nodes.iter().find(|n| n.name == name);
        let origin = nodes
            .iter()
            .filter(|n| !n.name.is_empty() && name.starts_with(&format!("{}.", n.name)))
            .max_by_key(|n| n.name.len());
        match (exact, origin) {
            (Some(n), _) => message.push_str(&format!(
                "; failing node '{}' (ONNX operator {})",
                n.name, n.op_type
            )),
            (None, Some(n)) => message.push_str(&format!(
                "; failing node '{}' (ONNX operator {}), in tract's rewrite of it",
                n.name, n.op_type
            )),
            (None, None) => message.push_str(&format!("; failing node '{name}'")),
        }
    }
    message.push_str(&format!("; {}", exporter(proto)));
    message.push_str(
        "; ONNX Runtime loads more exporters' graphs: try --runtime ort (pip install \
         onnxruntime, then --ort-lib or ORT_DYLIB_PATH naming its library)",
    );
    Error::data(path, message)
}

/// The node name in tract's `node #560 "Reshape@18" Reshape` (or `#560 "name"`).
fn failing_node(chain: &str) -> Option<String> {
    let at = chain.find('#')?;
    let rest = &chain[at + 1..];
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let quoted = rest[digits..].trim_start().strip_prefix('"')?;
    let end = quoted.find('"')?;
    (digits > 0 && end > 0).then(|| quoted[..end].to_string())
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
fn input_type(path: &Path, input: Option<&Declared>) -> Result<InputType> {
    Ok(match input.map_or(ElemType::Undeclared, |i| i.elem_type) {
        ElemType::Float32 | ElemType::Undeclared => InputType::Float32,
        ElemType::Float16 => InputType::Float16,
        ElemType::Float64 => InputType::Float64,
        ElemType::Uint8 => InputType::Uint8,
        _ => {
            let i = input.expect("an input with a declared type");
            return Err(Error::data(
                path,
                format!(
                    "input '{}' is {} {}: spurion feeds images as float32, float16, float64 \
                     or uint8 pixel values",
                    i.name,
                    i.type_name(),
                    i.shape
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

/// The graph optimised for a symbolic batch of preprocessed images; and the chosen output's
/// width (classes, or 1 for a binary model).
fn compile(
    path: &Path,
    model: InferenceModel,
    preprocess: &Preprocess,
    input_type: InputType,
    chosen: &Declared,
    bad: &dyn Fn(&dyn std::fmt::Display) -> Error,
) -> Result<(Arc<TypedRunnableModel>, usize)> {
    let (n, [h, w]) = (
        preprocess.channel_count(),
        [preprocess.height, preprocess.width],
    );
    let batch = model.sym("N");
    let shape = match preprocess.layout {
        Layout::Nchw => tvec![batch.into(), n.to_dim(), h.to_dim(), w.to_dim()],
        Layout::Nhwc => tvec![batch.into(), h.to_dim(), w.to_dim(), n.to_dim()],
    };
    let typed = model
        .with_input_fact(0, InferenceFact::dt_shape(input_type.datum(), shape))
        .and_then(|m| m.into_optimized())
        .map_err(|e| bad(&e))?;
    let out_fact = typed.output_fact(0).map_err(|e| bad(&e))?;
    let out_dims: Vec<Option<usize>> = out_fact.shape.iter().map(|d| d.to_usize().ok()).collect();
    let width = match out_dims.as_slice() {
        [_, Some(0)] | [_, Some(0), Some(1), Some(1)] => {
            return Err(Error::data(
                path,
                format!(
                    "output '{}' has no classes (shape {:?}): expected [batch, classes]",
                    chosen.name, out_fact.shape
                ),
            ));
        }
        [_, Some(w)] | [_, Some(w), Some(1), Some(1)] => *w,
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
    Ok((typed.into_runnable().map_err(|e| bad(&e))?, width))
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
            Runner::Tract(plan) => self.run_tract(plan, &shape, &input)?,
            Runner::Ort {
                session,
                input: name,
                output,
            } => session.run(name, output, shape, &input, self.input_type.onnx_code())?,
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

impl OnnxModel {
    fn run_tract(
        &self,
        plan: &Arc<TypedRunnableModel>,
        shape: &[usize; 4],
        input: &[f32],
    ) -> Result<Vec<f32>> {
        let tensor = Tensor::from_shape(shape, input)
            .and_then(|t| Ok(t.cast_to_dt(self.input_type.datum())?.into_owned()))
            .map_err(|e| Error::Model(format!("building the input: {e}")))?;
        let result = plan
            .run(tvec!(tensor.into()))
            .map_err(|e| Error::Model(format!("running {}: {e}", self.path.display())))?;
        let out = result[0]
            .cast_to::<f32>()
            .map_err(|e| Error::Model(format!("reading the output: {e}")))?;
        Ok(out
            .to_plain_array_view::<f32>()
            .map_err(|e| Error::Model(format!("reading the output: {e}")))?
            .iter()
            .copied()
            .collect())
    }
}

#[cfg(test)]
mod tests;

//! tract's half of loading and running a model: parsing the graph, compiling it once the input
//! is resolved, and running the plan. tract reads fewer exporters' graphs than ONNX Runtime,
//! so its failures say which node failed, who exported the model, and which engine to try.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;

use super::super::preprocess::{InputType, Preprocess};
use super::super::settings::Layout;
use super::graph::{Declared, Read, activations, exporter, metadata_labels, signature};
use crate::error::{Error, Result};

/// A compiled graph, ready to run on a batch.
pub(super) type Plan = Arc<TypedRunnableModel>;

/// A parsed graph, compiled once the input is known; its protobuf explains failures.
pub(super) struct Parsed {
    model: InferenceModel,
    proto: tract_onnx::pb::ModelProto,
}

/// Parses `path` and reads what it declares.
pub(super) fn open(path: &Path) -> Result<Read<Parsed>> {
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
    let model = parsed.model;
    // More inputs than one are refused by the shared checks, with what the graph declares.
    let input_dims = if model.inputs.len() == 1 {
        model
            .input_fact(0)
            .map_err(|e| failed(&e))?
            .shape
            .dims()
            .map(|d| d.concretize().and_then(|d| d.to_usize().ok()))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Read {
        labels: metadata_labels(&proto),
        activations: activations(&proto, &outputs),
        inputs,
        outputs,
        input_dims,
        engine: Parsed { model, proto },
    })
}

impl Parsed {
    /// The graph optimised for a symbolic batch of preprocessed images, computing output
    /// `chosen` alone; and that output's width (classes, or 1 for a binary model).
    pub(super) fn compile(
        self,
        path: &Path,
        preprocess: &Preprocess,
        input_type: InputType,
        chosen: &Declared,
    ) -> Result<(Plan, usize)> {
        let Parsed { mut model, proto } = self;
        let bad = |e: &dyn std::fmt::Display| tract_failure(path, &proto, e);
        if model.outputs.len() > 1 {
            model = model
                .with_outputs_by_name([chosen.name.as_str()])
                .map_err(|e| bad(&e))?;
        }
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
        let out_dims: Vec<Option<usize>> =
            out_fact.shape.iter().map(|d| d.to_usize().ok()).collect();
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
}

/// Runs `plan` (the model at `path`) on `input` of `shape`, converted to `input_type`; the
/// output as f32.
pub(super) fn run(
    plan: &Plan,
    path: &Path,
    input_type: InputType,
    shape: &[usize; 4],
    input: &[f32],
) -> Result<Vec<f32>> {
    let tensor = Tensor::from_shape(shape, input)
        .and_then(|t| Ok(t.cast_to_dt(input_type.datum())?.into_owned()))
        .map_err(|e| Error::Model(format!("building the input: {e}")))?;
    let result = plan
        .run(tvec!(tensor.into()))
        .map_err(|e| Error::Model(format!("running {}: {e}", path.display())))?;
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

fn not_usable(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::data(path, format!("not a usable ONNX model: {e}"))
}

/// Why tract cannot run a parsed model, with what helps the user: tract's whole chain of
/// reasons, the failing node and its ONNX operator when tract names one, the exporter and
/// opset the model declares, and the other engine.
pub(super) fn tract_failure(
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
pub(super) fn failing_node(chain: &str) -> Option<String> {
    let at = chain.find('#')?;
    let rest = &chain[at + 1..];
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let quoted = rest[digits..].trim_start().strip_prefix('"')?;
    let end = quoted.find('"')?;
    (digits > 0 && end > 0).then(|| quoted[..end].to_string())
}

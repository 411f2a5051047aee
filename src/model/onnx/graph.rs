//! What an ONNX model declares, whichever engine reads it: element types (ONNX Runtime's
//! session reports the same ones as the protobuf), inputs and outputs, the operator that ends
//! the graph, the exporter, and class names (a labels file, or the model's metadata). Both
//! engines hand what they read to the shared checks as a [`Read`].

use std::path::Path;

use super::super::settings::OutputKind;
use crate::error::{Error, Result};

/// An element type as an ONNX graph declares it (`TensorProto.DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElemType {
    Float32,
    Uint8,
    Int8,
    Uint16,
    Int16,
    Int32,
    Int64,
    String,
    Bool,
    Float16,
    Float64,
    Uint32,
    Uint64,
    Bfloat16,
    /// The graph does not say (ONNX code 0).
    Undeclared,
    /// A type spurion does not name, or a value that is not a tensor.
    Other,
}

impl ElemType {
    /// The type of ONNX code `code` (1 float, 2 uint8, 10 float16, 11 double, ...).
    pub fn of_code(code: i32) -> Self {
        use ElemType as T;
        match code {
            0 => T::Undeclared,
            1 => T::Float32,
            2 => T::Uint8,
            3 => T::Int8,
            4 => T::Uint16,
            5 => T::Int16,
            6 => T::Int32,
            7 => T::Int64,
            8 => T::String,
            9 => T::Bool,
            10 => T::Float16,
            11 => T::Float64,
            12 => T::Uint32,
            13 => T::Uint64,
            16 => T::Bfloat16,
            _ => T::Other,
        }
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        use ElemType as T;
        match self {
            T::Float32 => "float32",
            T::Uint8 => "uint8",
            T::Int8 => "int8",
            T::Uint16 => "uint16",
            T::Int16 => "int16",
            T::Int32 => "int32",
            T::Int64 => "int64",
            T::String => "string",
            T::Bool => "bool",
            T::Float16 => "float16",
            T::Float64 => "float64",
            T::Uint32 => "uint32",
            T::Uint64 => "uint64",
            T::Bfloat16 => "bfloat16",
            T::Undeclared | T::Other => "an unknown type",
        }
    }
}

/// One input or output as the ONNX graph declares it.
pub(super) struct Declared {
    pub name: String,
    pub elem_type: ElemType,
    /// "[N, 3, 224, 224]", with `?` for unknown dimensions.
    pub shape: String,
}

impl Declared {
    pub fn of(v: &tract_onnx::pb::ValueInfoProto) -> Self {
        use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;
        use tract_onnx::pb::type_proto::Value as Type;
        let (elem_type, shape) = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(Type::TensorType(t)) => (
                ElemType::of_code(t.elem_type),
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
            _ => (ElemType::Undeclared, None),
        };
        Declared {
            name: v.name.clone(),
            elem_type,
            shape: format!("[{}]", shape.unwrap_or_else(|| "?".into())),
        }
    }

    /// The ONNX name of the element type.
    pub fn type_name(&self) -> &'static str {
        self.elem_type.name()
    }
}

/// Input dimensions as declared: `[N, C, H, W]` or `[N, H, W, C]`, `None` where not a number.
pub(super) type DeclaredDims = Vec<Option<usize>>;

/// What an engine read from a model, before spurion checks any of it; `engine` is the engine's
/// own half, made ready to run once the preprocessing is resolved.
pub(super) struct Read<E> {
    /// The inputs the graph declares (initializers excluded).
    pub inputs: Vec<Declared>,
    pub outputs: Vec<Declared>,
    /// The first input's dimensions.
    pub input_dims: DeclaredDims,
    /// Class names the model's metadata holds.
    pub labels: Option<Vec<String>>,
    /// The outputs the graph computes with a final Softmax or Sigmoid: empty where the graph
    /// could not be read.
    pub activations: Vec<(String, OutputKind)>,
    pub engine: E,
}

impl<E> Read<E> {
    /// What the graph's last operator makes of output `name`, when it is known.
    pub fn activation(&self, name: &str) -> Option<OutputKind> {
        self.activations
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, kind)| kind)
    }
}

/// The outputs among `outputs` that the graph computes with a final Softmax or Sigmoid.
pub(super) fn activations(
    proto: &tract_onnx::pb::ModelProto,
    outputs: &[Declared],
) -> Vec<(String, OutputKind)> {
    outputs
        .iter()
        .filter_map(|o| ends_in(proto, &o.name).map(|kind| (o.name.clone(), kind)))
        .collect()
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

/// The graph's inputs (initializers excluded) and outputs.
pub(super) fn signature(proto: &tract_onnx::pb::ModelProto) -> (Vec<Declared>, Vec<Declared>) {
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

/// "exported by Paddle2ONNX 1.0.6, opset 11" from the model's own fields.
pub(super) fn exporter(proto: &tract_onnx::pb::ModelProto) -> String {
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or("no opset".to_string(), |o| format!("opset {}", o.version));
    let by = match (proto.producer_name.trim(), proto.producer_version.trim()) {
        ("", _) => "exporter not named in the file".to_string(),
        (name, "") => format!("exported by {name}"),
        (name, version) => format!("exported by {name} {version}"),
    };
    format!("{by}, {opset}")
}

/// "'image' float32 [N, 3, 8, 8], ..."
pub(super) fn list(values: &[Declared]) -> String {
    values
        .iter()
        .map(|v| format!("'{}' {} {}", v.name, v.type_name(), v.shape))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Class names from a labels file, one per line.
pub(crate) fn read_labels(path: &Path) -> Result<Vec<String>> {
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
pub(super) fn metadata_labels(proto: &tract_onnx::pb::ModelProto) -> Option<Vec<String>> {
    let entry = proto
        .metadata_props
        .iter()
        .find(|p| p.key == "class_names" || p.key == "labels")?;
    Some(parse_labels(&entry.value))
}

/// A metadata value holding class names: a JSON list, or comma-separated.
pub(super) fn parse_labels(value: &str) -> Vec<String> {
    let v = value.trim();
    if let Ok(list) = serde_json::from_str::<Vec<String>>(v) {
        return list;
    }
    v.split(',').map(|s| s.trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_types_are_read_from_their_onnx_codes() {
        assert_eq!(ElemType::of_code(1), ElemType::Float32);
        assert_eq!(ElemType::of_code(10).name(), "float16");
        assert_eq!(ElemType::of_code(7).name(), "int64");
        assert_eq!(ElemType::of_code(0), ElemType::Undeclared);
        assert_eq!(ElemType::of_code(99), ElemType::Other);
        assert_eq!(ElemType::of_code(99).name(), "an unknown type");
    }
}

//! What an ONNX graph declares of its values, shared by both engines (tract reads it from the
//! graph, ONNX Runtime from its session): the element types.

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

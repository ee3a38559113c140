//! ONNX `TensorProto.DataType` values gdmilp reads.
/// float32
pub const FLOAT: i32 = 1;
/// int32
pub const INT32: i32 = 6;
/// int64
pub const INT64: i32 = 7;
/// float16
pub const FLOAT16: i32 = 10;
/// float64
pub const DOUBLE: i32 = 11;
/// bfloat16
pub const BFLOAT16: i32 = 16;

/// True for the floating-point types gdmilp reads as weights.
pub fn is_float(t: i32) -> bool {
    matches!(t, FLOAT | DOUBLE | FLOAT16 | BFLOAT16)
}

/// Bytes per element in `raw_data` and external files, for the types
/// gdmilp reads or inlines.
pub fn size(t: i32) -> Option<usize> {
    match t {
        DOUBLE | INT64 | 13 => Some(8),
        FLOAT | INT32 | 12 => Some(4),
        FLOAT16 | BFLOAT16 | 4 | 5 => Some(2),
        2 | 3 | 9 => Some(1),
        _ => None,
    }
}

/// A readable name for a data type number.
pub fn name(t: i32) -> &'static str {
    match t {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        6 => "int32",
        7 => "int64",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        16 => "bfloat16",
        _ => "an unsupported type",
    }
}

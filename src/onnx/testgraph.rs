//! Tiny ONNX models built byte by byte with the wire helpers, for unit
//! tests of the layer walk and the patcher (no ONNX Runtime, no files).

use super::dtype;
use super::edit::value_info_proto as value_info;
use super::model::{field, Model};
use super::wire;
use std::path::Path;

/// A graph under construction: each part is its encoded graph fields.
#[derive(Default)]
pub struct Graph {
    bytes: Vec<u8>,
}

/// A TensorProto with `values` in `raw_data`, rounded to `data_type`.
pub fn tensor(name: &str, dims: &[i64], data_type: i32, values: &[f64]) -> Vec<u8> {
    let mut t = Vec::new();
    for &d in dims {
        wire::put_int(&mut t, field::TENSOR_DIMS, d);
    }
    wire::put_int(&mut t, field::TENSOR_DATA_TYPE, data_type as i64);
    wire::put_bytes(&mut t, field::TENSOR_NAME, name.as_bytes());
    wire::put_bytes(
        &mut t,
        field::TENSOR_RAW_DATA,
        &super::float::to_le(values, data_type),
    );
    t
}

/// An attribute: an int, a list of ints, or a tensor.
pub enum Attr<'a> {
    /// `i`.
    Int(&'a str, i64),
    /// `t`.
    Tensor(&'a str, Vec<u8>),
}

fn attribute(a: &Attr<'_>) -> Vec<u8> {
    let mut b = Vec::new();
    match a {
        Attr::Int(name, v) => {
            wire::put_bytes(&mut b, 1, name.as_bytes());
            wire::put_int(&mut b, 3, *v);
            wire::put_int(&mut b, 20, 2);
        }
        Attr::Tensor(name, t) => {
            wire::put_bytes(&mut b, 1, name.as_bytes());
            wire::put_bytes(&mut b, 5, t);
            wire::put_int(&mut b, 20, 4);
        }
    }
    b
}

impl Graph {
    /// Adds a node.
    pub fn node(mut self, op: &str, inputs: &[&str], outputs: &[&str], attrs: &[Attr<'_>]) -> Self {
        let mut n = Vec::new();
        for i in inputs {
            wire::put_bytes(&mut n, 1, i.as_bytes());
        }
        for o in outputs {
            wire::put_bytes(&mut n, 2, o.as_bytes());
        }
        wire::put_bytes(&mut n, 3, format!("{op}_{}", outputs[0]).as_bytes());
        wire::put_bytes(&mut n, 4, op.as_bytes());
        for a in attrs {
            wire::put_bytes(&mut n, 5, &attribute(a));
        }
        wire::put_bytes(&mut self.bytes, field::GRAPH_NODE, &n);
        self
    }

    /// Adds a float32 initializer.
    pub fn init(self, name: &str, dims: &[i64], values: &[f64]) -> Self {
        self.init_typed(name, dims, dtype::FLOAT, values)
    }

    /// Adds an initializer of any float type.
    pub fn init_typed(mut self, name: &str, dims: &[i64], t: i32, values: &[f64]) -> Self {
        let b = tensor(name, dims, t, values);
        wire::put_bytes(&mut self.bytes, field::GRAPH_INITIALIZER, &b);
        self
    }

    /// Declares a graph input.
    pub fn input(mut self, name: &str) -> Self {
        wire::put_bytes(
            &mut self.bytes,
            field::GRAPH_INPUT,
            &value_info(name, dtype::FLOAT),
        );
        self
    }

    /// Declares a graph input of `elem_type` and shape `dims` (a number is
    /// a fixed size, anything else a symbolic one).
    pub fn input_shaped(mut self, name: &str, elem_type: i32, dims: &[&str]) -> Self {
        let b = shaped(name, elem_type, dims);
        wire::put_bytes(&mut self.bytes, field::GRAPH_INPUT, &b);
        self
    }

    /// Declares a graph output of `elem_type` and shape `dims`.
    pub fn output_shaped(mut self, name: &str, elem_type: i32, dims: &[&str]) -> Self {
        let b = shaped(name, elem_type, dims);
        wire::put_bytes(&mut self.bytes, field::GRAPH_OUTPUT, &b);
        self
    }

    /// Declares a graph output of `elem_type`.
    pub fn output(mut self, name: &str, elem_type: i32) -> Self {
        wire::put_bytes(
            &mut self.bytes,
            field::GRAPH_OUTPUT,
            &value_info(name, elem_type),
        );
        self
    }

    /// The model.
    pub fn model(self) -> Model {
        let mut m = Vec::new();
        wire::put_int(&mut m, 1, 8); // ir_version
        wire::put_bytes(&mut m, field::MODEL_GRAPH, &self.bytes);
        Model::from_bytes(Path::new("test.onnx"), m).expect("a valid test model")
    }
}

/// A ValueInfoProto with a tensor type and a shape.
fn shaped(name: &str, elem_type: i32, dims: &[&str]) -> Vec<u8> {
    let mut shape = Vec::new();
    for d in dims {
        let mut dim = Vec::new();
        match d.parse::<i64>() {
            Ok(n) => wire::put_int(&mut dim, 1, n),
            Err(_) => wire::put_bytes(&mut dim, 2, d.as_bytes()),
        }
        wire::put_bytes(&mut shape, 1, &dim);
    }
    let mut tensor_type = Vec::new();
    wire::put_int(&mut tensor_type, 1, elem_type as i64);
    wire::put_bytes(&mut tensor_type, 2, &shape);
    let mut type_proto = Vec::new();
    wire::put_bytes(&mut type_proto, 1, &tensor_type);
    let mut v = Vec::new();
    wire::put_bytes(&mut v, 1, name.as_bytes());
    wire::put_bytes(&mut v, 2, &type_proto);
    v
}

/// x → Gemm(W [2, 3] stored as `dims`, B [2], attrs) → `a`, plus `tail`.
pub fn gemm(attrs: &[Attr<'_>]) -> Graph {
    Graph::default()
        .input("x")
        .init("W", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        .init("B", &[2], &[0.5, -0.5])
        .node("Gemm", &["x", "W", "B"], &["a"], attrs)
}

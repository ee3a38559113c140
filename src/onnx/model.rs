//! An ONNX model mapped once from its protobuf bytes: the graph's nodes,
//! initializers, inputs and outputs, with tensor values read from wherever
//! they live (raw_data, typed fields, or an external data file).
//!
//! The original bytes are kept: the patcher and the feature extractor edit
//! them field by field through [`super::wire`], so nothing this view does
//! not understand is ever lost.

use super::dtype;
use super::wire::{self, Field};
use crate::digest::sha256_hex;
use crate::error::{Error, IoContext, Result};
use std::path::{Component, Path, PathBuf};

/// A dimension of a declared tensor shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A symbolic (dynamic) size such as `batch`.
    Param(String),
    /// Declared without a size.
    Unknown,
}

/// A graph input or output as declared.
#[derive(Debug, Clone)]
pub struct ValueInfo {
    /// Tensor name.
    pub name: String,
    /// Element type, if declared.
    pub elem_type: Option<i32>,
    /// Shape, if declared.
    pub shape: Option<Vec<Dim>>,
}

/// Where a tensor's values are stored.
#[derive(Debug, Clone)]
pub enum Storage {
    /// `raw_data` bytes (little-endian).
    Raw(Vec<u8>),
    /// `float_data`.
    Floats(Vec<f32>),
    /// `double_data`.
    Doubles(Vec<f64>),
    /// `int64_data`.
    Int64s(Vec<i64>),
    /// `int32_data`.
    Int32s(Vec<i64>),
    /// In an external file, relative to the model's directory.
    External {
        /// `location` entry.
        location: String,
        /// Byte offset in the file.
        offset: u64,
        /// Byte length, if given.
        length: Option<u64>,
    },
}

/// A tensor (an initializer or a Constant node's value).
#[derive(Debug, Clone)]
pub struct Tensor {
    /// Tensor name.
    pub name: String,
    /// Shape.
    pub dims: Vec<i64>,
    /// ONNX data type number.
    pub data_type: i32,
    /// Where its values are.
    pub storage: Storage,
}

impl Tensor {
    /// Number of elements.
    pub fn len(&self) -> usize {
        // Saturating: dims come from the file and may be absurd; every use
        // compares this count with data actually present.
        self.dims
            .iter()
            .fold(1usize, |n, &d| n.saturating_mul(d.max(0) as usize))
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A node attribute (only the kinds gdmilp reads).
#[derive(Debug, Clone, Default)]
pub struct Attribute {
    /// Attribute name.
    pub name: String,
    /// `f`.
    pub f: Option<f32>,
    /// `i`.
    pub i: Option<i64>,
    /// `t`.
    pub t: Option<Tensor>,
    /// `ints`.
    pub ints: Vec<i64>,
}

/// A graph node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Node name (may be empty).
    pub name: String,
    /// Operator type, e.g. `Gemm`.
    pub op_type: String,
    /// Operator domain (empty for the default ONNX domain).
    pub domain: String,
    /// Input tensor names (empty string = omitted optional input).
    pub inputs: Vec<String>,
    /// Output tensor names.
    pub outputs: Vec<String>,
    /// Attributes.
    pub attributes: Vec<Attribute>,
}

impl Node {
    /// The attribute called `name`.
    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// An integer attribute, or `default`.
    pub fn attr_i(&self, name: &str, default: i64) -> i64 {
        self.attr(name).and_then(|a| a.i).unwrap_or(default)
    }

    /// A float attribute, or `default`.
    pub fn attr_f(&self, name: &str, default: f32) -> f32 {
        self.attr(name).and_then(|a| a.f).unwrap_or(default)
    }

    /// `name (op)` for messages.
    pub fn describe(&self) -> String {
        if self.name.is_empty() {
            format!(
                "{} node producing '{}'",
                self.op_type,
                self.outputs.join("', '")
            )
        } else {
            format!("{} node '{}'", self.op_type, self.name)
        }
    }
}

/// The parts of `GraphProto` gdmilp uses.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// Nodes in file order.
    pub nodes: Vec<Node>,
    /// Initializers in file order.
    pub initializers: Vec<Tensor>,
    /// Declared inputs (may include initializers, as older exporters do).
    pub inputs: Vec<ValueInfo>,
    /// Declared outputs.
    pub outputs: Vec<ValueInfo>,
}

/// A loaded ONNX model: its bytes, their hash and the graph view.
#[derive(Debug, Clone)]
pub struct Model {
    /// The file it came from.
    pub path: PathBuf,
    /// The file's bytes, untouched.
    pub bytes: Vec<u8>,
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// The graph.
    pub graph: Graph,
}

/// ModelProto / GraphProto / ... field numbers used here.
pub(crate) mod field {
    pub const MODEL_GRAPH: u32 = 7;
    pub const GRAPH_NODE: u32 = 1;
    pub const GRAPH_INITIALIZER: u32 = 5;
    pub const GRAPH_INPUT: u32 = 11;
    pub const GRAPH_OUTPUT: u32 = 12;
    pub const TENSOR_DIMS: u32 = 1;
    pub const TENSOR_DATA_TYPE: u32 = 2;
    pub const TENSOR_FLOAT_DATA: u32 = 4;
    pub const TENSOR_INT32_DATA: u32 = 5;
    pub const TENSOR_INT64_DATA: u32 = 7;
    pub const TENSOR_NAME: u32 = 8;
    pub const TENSOR_RAW_DATA: u32 = 9;
    pub const TENSOR_DOUBLE_DATA: u32 = 10;
    pub const TENSOR_EXTERNAL_DATA: u32 = 13;
    pub const TENSOR_DATA_LOCATION: u32 = 14;
}

impl Model {
    /// Reads and maps `path`.
    pub fn load(path: &Path) -> Result<Model> {
        let bytes = std::fs::read(path).at(path, "read the model")?;
        Model::from_bytes(path, bytes)
    }

    /// Maps `bytes` as the model at `path` (the path locates external data
    /// and names the file in errors).
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Model> {
        let bad = |msg: String| Error::invalid(path, format!("not a valid ONNX model: {msg}"));
        if bytes.is_empty() {
            return Err(Error::invalid(path, "the file is empty, not an ONNX model"));
        }
        let graph_bytes = graph_bytes(&bytes).map_err(bad)?;
        let graph = parse_graph(graph_bytes).map_err(bad)?;
        if graph.nodes.is_empty() || graph.outputs.is_empty() {
            return Err(bad("the graph has no nodes or no outputs".into()));
        }
        let sha256 = sha256_hex(&bytes);
        Ok(Model {
            path: path.to_path_buf(),
            bytes,
            sha256,
            graph,
        })
    }

    /// The directory external data is resolved against.
    pub fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// The initializer called `name`.
    pub fn initializer(&self, name: &str) -> Option<(usize, &Tensor)> {
        self.graph
            .initializers
            .iter()
            .enumerate()
            .find(|(_, t)| t.name == name)
    }

    /// The node that produces tensor `name`.
    pub fn producer(&self, name: &str) -> Option<&Node> {
        self.graph
            .nodes
            .iter()
            .find(|n| n.outputs.iter().any(|o| o == name))
    }

    /// The nodes that read tensor `name`.
    pub fn consumers<'m>(&'m self, name: &'m str) -> impl Iterator<Item = &'m Node> + 'm {
        self.graph
            .nodes
            .iter()
            .filter(move |n| n.inputs.iter().any(|i| i == name))
    }

    /// The graph inputs that are fed by the caller (not initializers).
    pub fn data_inputs(&self) -> Vec<&ValueInfo> {
        self.graph
            .inputs
            .iter()
            .filter(|i| self.initializer(&i.name).is_none())
            .collect()
    }

    /// Resolves an external-data location inside the model's directory,
    /// refusing paths that leave it.
    pub fn external_path(&self, location: &str) -> Result<PathBuf> {
        let rel = Path::new(location);
        let escapes = rel.is_absolute()
            || rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if escapes || location.is_empty() {
            return Err(Error::invalid(
                &self.path,
                format!(
                    "external data location '{location}' is not a file inside the model's directory; refusing to read it"
                ),
            ));
        }
        Ok(self.dir().join(rel))
    }

    /// The raw little-endian bytes of an external tensor.
    pub fn external_bytes(&self, t: &Tensor, elem_size: usize) -> Result<Vec<u8>> {
        let Storage::External {
            location,
            offset,
            length,
        } = &t.storage
        else {
            return Err(Error::invalid(
                &self.path,
                "internal: tensor is not external",
            ));
        };
        let file = self.external_path(location)?;
        let expected = (t.len() * elem_size) as u64;
        let len = length.unwrap_or(expected);
        let meta = std::fs::metadata(&file).map_err(|e| {
            Error::invalid(
                &self.path,
                format!(
                    "weights of '{}' are stored in the external file {}, which cannot be read: {e}",
                    t.name,
                    file.display()
                ),
            )
        })?;
        if len != expected || offset.checked_add(len).is_none_or(|end| end > meta.len()) {
            return Err(Error::invalid(
                &file,
                format!(
                    "external data of tensor '{}' (offset {offset}, length {len}) does not fit: the file has {} bytes and the tensor needs {expected}",
                    t.name,
                    meta.len()
                ),
            ));
        }
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(&file).at(&file, "open")?;
        f.seek(SeekFrom::Start(*offset)).at(&file, "seek in")?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact(&mut buf).at(&file, "read")?;
        Ok(buf)
    }

    /// A float tensor's values as f64 (exactly: every float type gdmilp
    /// reads is a subset of f64), whatever its storage.
    pub fn float_values(&self, t: &Tensor) -> Result<Vec<f64>> {
        let n = t.len();
        if !dtype::is_float(t.data_type) {
            return Err(Error::invalid(
                &self.path,
                format!(
                    "tensor '{}' is {}; gdmilp reads float32, float64, float16 and bfloat16 weights",
                    t.name,
                    dtype::name(t.data_type)
                ),
            ));
        }
        let values = match &t.storage {
            Storage::Raw(b) => super::float::from_le(b, t.data_type),
            Storage::Floats(v) => v.iter().map(|&x| x as f64).collect(),
            Storage::Doubles(v) => v.clone(),
            // float16 and bfloat16 keep their bit patterns in int32_data.
            Storage::Int32s(v) => v
                .iter()
                .map(|&b| super::float::from_bits16(b as u16, t.data_type))
                .collect(),
            Storage::External { .. } => {
                let size = dtype::size(t.data_type).expect("float types have a size");
                super::float::from_le(&self.external_bytes(t, size)?, t.data_type)
            }
            Storage::Int64s(_) => Vec::new(),
        };
        if values.len() != n {
            return Err(Error::invalid(
                &self.path,
                format!(
                    "tensor '{}' has shape {:?} ({n} values) but stores {} values",
                    t.name,
                    t.dims,
                    values.len()
                ),
            ));
        }
        Ok(values)
    }

    /// Every file this model reads: the model file and each external data
    /// file its initializers and Constant nodes name (each once, in first
    /// use order). An output must never be one of them.
    pub fn files_read(&self) -> Result<Vec<PathBuf>> {
        let mut files = vec![self.path.clone()];
        for loc in self.external_locations() {
            let p = self.external_path(&loc)?;
            if !files.contains(&p) {
                files.push(p);
            }
        }
        Ok(files)
    }

    /// The distinct external data locations, in first use order
    /// (initializers first, then Constant nodes).
    pub fn external_locations(&self) -> Vec<String> {
        let constants = self
            .graph
            .nodes
            .iter()
            .filter(|n| n.op_type == "Constant")
            .filter_map(|n| n.attr("value").and_then(|a| a.t.as_ref()));
        let mut locs: Vec<String> = Vec::new();
        for t in self.graph.initializers.iter().chain(constants) {
            if let Storage::External { location, .. } = &t.storage {
                if !locs.contains(location) {
                    locs.push(location.clone());
                }
            }
        }
        locs
    }

    /// An integer tensor's values (for Reshape shapes and the like).
    pub fn int_values(&self, t: &Tensor) -> Result<Vec<i64>> {
        let v = match (&t.storage, t.data_type) {
            (Storage::Int64s(v) | Storage::Int32s(v), _) => v.clone(),
            (Storage::Raw(b), dtype::INT64) => b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            (Storage::Raw(b), dtype::INT32) => b
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
                .collect(),
            _ => {
                return Err(Error::invalid(
                    &self.path,
                    format!(
                        "tensor '{}' is not an integer tensor gdmilp can read",
                        t.name
                    ),
                ))
            }
        };
        Ok(v)
    }
}

/// The bytes of the (single) `graph` field of a ModelProto.
pub(crate) fn graph_bytes(model: &[u8]) -> Result<&[u8], String> {
    let mut graph = None;
    for f in wire::fields(model) {
        let f = f?;
        if f.number == field::MODEL_GRAPH {
            if graph.is_some() {
                return Err("the model has two graph fields".into());
            }
            graph = Some(f.bytes()?);
        }
    }
    graph.ok_or_else(|| "no graph in the file (is it an ONNX model?)".to_string())
}

fn parse_graph(b: &[u8]) -> Result<Graph, String> {
    let mut g = Graph::default();
    for f in wire::fields(b) {
        let f = f?;
        match f.number {
            field::GRAPH_NODE => g.nodes.push(parse_node(f.bytes()?)?),
            field::GRAPH_INITIALIZER => g.initializers.push(parse_tensor(f.bytes()?)?),
            field::GRAPH_INPUT => g.inputs.push(parse_value_info(f.bytes()?)?),
            field::GRAPH_OUTPUT => g.outputs.push(parse_value_info(f.bytes()?)?),
            _ => {}
        }
    }
    Ok(g)
}

fn parse_node(b: &[u8]) -> Result<Node, String> {
    let mut n = Node {
        name: String::new(),
        op_type: String::new(),
        domain: String::new(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        attributes: Vec::new(),
    };
    for f in wire::fields(b) {
        let f = f?;
        match f.number {
            1 => n.inputs.push(f.string()?),
            2 => n.outputs.push(f.string()?),
            3 => n.name = f.string()?,
            4 => n.op_type = f.string()?,
            5 => n.attributes.push(parse_attribute(f.bytes()?)?),
            7 => n.domain = f.string()?,
            _ => {}
        }
    }
    if n.op_type.is_empty() {
        return Err("a node has no op_type".into());
    }
    Ok(n)
}

fn parse_attribute(b: &[u8]) -> Result<Attribute, String> {
    let mut a = Attribute::default();
    for f in wire::fields(b) {
        let f = f?;
        match f.number {
            1 => a.name = f.string()?,
            2 => a.f = Some(f.float()?),
            3 => a.i = Some(f.int()?),
            5 => a.t = Some(parse_tensor(f.bytes()?)?),
            8 => wire::packed_varints(&f, &mut a.ints)?,
            _ => {}
        }
    }
    Ok(a)
}

fn floats_of(f: &Field<'_>, out: &mut Vec<f32>) -> Result<(), String> {
    match f.value {
        wire::Value::Fixed32(v) => out.push(f32::from_bits(v)),
        wire::Value::Bytes(b) if b.len() % 4 == 0 => out.extend(
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap())),
        ),
        _ => return Err("malformed float_data".into()),
    }
    Ok(())
}

fn doubles_of(f: &Field<'_>, out: &mut Vec<f64>) -> Result<(), String> {
    match f.value {
        wire::Value::Fixed64(v) => out.push(f64::from_bits(v)),
        wire::Value::Bytes(b) if b.len() % 8 == 0 => out.extend(
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap())),
        ),
        _ => return Err("malformed double_data".into()),
    }
    Ok(())
}

/// Maps a serialized `TensorProto`.
pub(crate) fn parse_tensor(b: &[u8]) -> Result<Tensor, String> {
    let mut t = Tensor {
        name: String::new(),
        dims: Vec::new(),
        data_type: 0,
        storage: Storage::Raw(Vec::new()),
    };
    let (mut floats, mut doubles, mut i64s, mut i32s) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut raw = None;
    let mut external = false;
    let (mut location, mut offset, mut length) = (None, 0u64, None);
    for f in wire::fields(b) {
        let f = f?;
        match f.number {
            field::TENSOR_DIMS => wire::packed_varints(&f, &mut t.dims)?,
            field::TENSOR_DATA_TYPE => t.data_type = f.int()? as i32,
            field::TENSOR_FLOAT_DATA => floats_of(&f, &mut floats)?,
            field::TENSOR_INT32_DATA => wire::packed_varints(&f, &mut i32s)?,
            field::TENSOR_INT64_DATA => wire::packed_varints(&f, &mut i64s)?,
            field::TENSOR_NAME => t.name = f.string()?,
            field::TENSOR_RAW_DATA => raw = Some(f.bytes()?.to_vec()),
            field::TENSOR_DOUBLE_DATA => doubles_of(&f, &mut doubles)?,
            field::TENSOR_EXTERNAL_DATA => {
                let (mut key, mut value) = (String::new(), String::new());
                for e in wire::fields(f.bytes()?) {
                    let e = e?;
                    match e.number {
                        1 => key = e.string()?,
                        2 => value = e.string()?,
                        _ => {}
                    }
                }
                let num = || {
                    value
                        .parse::<u64>()
                        .map_err(|_| format!("external data {key} '{value}' is not a number"))
                };
                match key.as_str() {
                    "location" => location = Some(value.clone()),
                    "offset" => offset = num()?,
                    "length" => length = Some(num()?),
                    _ => {}
                }
            }
            field::TENSOR_DATA_LOCATION => external = f.int()? == 1,
            _ => {}
        }
    }
    if t.dims.iter().any(|&d| d < 0) {
        return Err(format!("tensor '{}' has a negative dimension", t.name));
    }
    t.storage = if external {
        Storage::External {
            location: location
                .ok_or_else(|| format!("tensor '{}' is external but names no location", t.name))?,
            offset,
            length,
        }
    } else if let Some(raw) = raw {
        Storage::Raw(raw)
    } else if !floats.is_empty() {
        Storage::Floats(floats)
    } else if !doubles.is_empty() {
        Storage::Doubles(doubles)
    } else if !i64s.is_empty() {
        Storage::Int64s(i64s)
    } else if !i32s.is_empty() {
        Storage::Int32s(i32s)
    } else if t.data_type == dtype::DOUBLE {
        Storage::Doubles(Vec::new())
    } else {
        Storage::Floats(Vec::new())
    };
    Ok(t)
}

fn parse_value_info(b: &[u8]) -> Result<ValueInfo, String> {
    let mut v = ValueInfo {
        name: String::new(),
        elem_type: None,
        shape: None,
    };
    for f in wire::fields(b) {
        let f = f?;
        match f.number {
            1 => v.name = f.string()?,
            2 => {
                // TypeProto.tensor_type
                for tf in wire::fields(f.bytes()?) {
                    let tf = tf?;
                    if tf.number != 1 {
                        continue;
                    }
                    for tt in wire::fields(tf.bytes()?) {
                        let tt = tt?;
                        match tt.number {
                            1 => v.elem_type = Some(tt.int()? as i32),
                            2 => {
                                let mut dims = Vec::new();
                                for d in wire::fields(tt.bytes()?) {
                                    let d = d?;
                                    if d.number != 1 {
                                        continue;
                                    }
                                    let mut dim = Dim::Unknown;
                                    for x in wire::fields(d.bytes()?) {
                                        let x = x?;
                                        match x.number {
                                            1 => dim = Dim::Fixed(x.int()?),
                                            2 => dim = Dim::Param(x.string()?),
                                            _ => {}
                                        }
                                    }
                                    dims.push(dim);
                                }
                                v.shape = Some(dims);
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(v)
}

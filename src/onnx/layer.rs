//! Finds the last dense layer on the way to a model output and reads its
//! effective weights `W` (M×N) and bias `b` (M), whatever the ONNX layout:
//! `Gemm` (with `transA`, `transB`, `alpha`, `beta`) or `MatMul` (+ `Add`),
//! weights in initializers or Constant nodes, in any float type, read
//! directly or through a Cast.
//!
//! The walk has three steps: [`choose_output`] and the output's tail (layout
//! ops, ZipMap, ArgMax/TopK: what the metrics skip to reach the scores), the
//! walk back from the scores through activations to the dense node, and the
//! node's parameters. Nothing here runs a model or knows about solvers.
//!
//! Also knows the inverse mapping ([`FinalLayer::stored_weight`],
//! [`FinalLayer::stored_bias`]) so the patcher writes back exactly what the
//! node will read.

use super::dtype;
use super::float;
use super::model::{Dim, Model, Node, Storage, Tensor};
use crate::error::{Error, Result};
use ndarray::{Array1, Array2};
use serde::Serialize;

/// How the layer computes `a = W h + b`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op")]
pub enum LayerOp {
    /// `Y = alpha·op(A)·op(B) + beta·C`.
    Gemm {
        /// Input transposed.
        trans_a: bool,
        /// Weight transposed (PyTorch's `nn.Linear` layout).
        trans_b: bool,
        /// Scale of the product.
        alpha: f64,
        /// Scale of the bias.
        beta: f64,
    },
    /// `Y = X·W (+ B)`, weight stored N×M.
    MatMulAdd,
}

/// What follows the dense layer on the way to the output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// Nothing (or only Identity / Reshape / Flatten).
    Identity,
    /// `max(0, a)`, elementwise.
    Relu,
    /// Softmax over the classes: argmax unchanged.
    Softmax,
    /// LogSoftmax over the classes: argmax unchanged.
    LogSoftmax,
    /// Another strictly increasing elementwise function (Sigmoid, Tanh):
    /// argmax unchanged, but not linear.
    Monotone(String),
}

impl Activation {
    /// True when the argmax of the output is the argmax of `a`.
    pub fn keeps_argmax(&self) -> bool {
        !matches!(self, Activation::Relu)
    }

    /// The ONNX op name (or "none").
    pub fn name(&self) -> &str {
        match self {
            Activation::Identity => "none",
            Activation::Relu => "Relu",
            Activation::Softmax => "Softmax",
            Activation::LogSoftmax => "LogSoftmax",
            Activation::Monotone(op) => op,
        }
    }
}

/// Where a weight or bias tensor is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A graph initializer (patchable). `external` when in a data file.
    Initializer {
        /// Index among the graph's initializers.
        index: usize,
        /// Stored in an external data file.
        external: bool,
    },
    /// The `value` of a Constant node (patched in place like an initializer).
    Constant {
        /// The Constant node's name.
        node: String,
    },
}

/// A stored parameter of the layer.
#[derive(Debug, Clone, Serialize)]
pub struct Param {
    /// Tensor name in the graph.
    pub name: String,
    /// Stored shape.
    pub dims: Vec<i64>,
    /// Stored element type name ("float32", "float64", "float16", "bfloat16").
    pub dtype: &'static str,
    /// Where it lives.
    pub source: Source,
    /// The type the layer reads it as, when a Cast node converts it first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cast_to: Option<&'static str>,
    /// Stored ONNX data type.
    #[serde(skip)]
    pub data_type: i32,
    /// The ONNX data type the layer computes with (after any Cast).
    #[serde(skip)]
    pub compute_type: i32,
}

impl Param {
    /// `v` as the model holds it: rounded to the stored type, then to the
    /// type a Cast converts it to.
    pub fn round(&self, v: f64) -> f64 {
        float::round_to(self.compute_type, float::round_to(self.data_type, v))
    }
}

/// How the bias enters the formulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BiasKind {
    /// One stored bias per output: variables `b_j`.
    PerOutput,
    /// One scalar shared by all outputs: kept fixed (a constant).
    Scalar,
    /// No bias input: no `b_j` variables.
    None,
}

/// The located final dense layer with its current weights.
#[derive(Debug, Clone, Serialize)]
pub struct FinalLayer {
    /// The op and its attributes.
    #[serde(flatten)]
    pub op: LayerOp,
    /// Names (or descriptions) of the layer's nodes.
    pub nodes: Vec<String>,
    /// The penultimate tensor (the layer's input).
    pub input: String,
    /// The layer's output, before any activation.
    pub output: String,
    /// The output followed: a graph output, or any tensor `--output` named.
    pub model_output: String,
    /// The followed output's declared shape, when it is a graph output that
    /// declares one (`[batch, seq, 4]` for a layer over a sequence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_shape: Option<Vec<String>>,
    /// The tensor read to evaluate the model, one row of scores per point:
    /// `model_output`, or what a layout-only tail, a ZipMap or an
    /// ArgMax/TopK reads before the output.
    pub evaluated: String,
    /// Ops between the layer and the model output, in order.
    pub after: Vec<String>,
    /// The activation among them.
    pub activation: Activation,
    /// N: inputs of the layer.
    pub n_in: usize,
    /// M: outputs of the layer.
    pub n_out: usize,
    /// The stored weight.
    pub weight: Param,
    /// The stored bias, if any.
    pub bias: Option<Param>,
    /// How the bias is modelled.
    pub bias_kind: BiasKind,
    /// Effective weights W (M×N): `a = W h + b`.
    #[serde(skip)]
    pub w: Array2<f64>,
    /// Effective bias b (M); zeros when there is none.
    #[serde(skip)]
    pub b: Array1<f64>,
}

/// Ops that move values without changing them (a point's values stay a
/// point's values unless the shape mixes them: features checks that).
const LAYOUT: &[&str] = &[
    "Identity",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Dropout",
];
const ACTIVATIONS: &[&str] = &["Relu", "Softmax", "LogSoftmax", "Sigmoid", "Tanh"];
/// Ops that pick classes from scores: the metrics read the scores.
const PICKS: &[&str] = &["ArgMax", "TopK"];

/// The stored weight tensor (its own shape) → effective W (M×N).
fn effective_weight(op: &LayerOp, stored: Array2<f64>) -> Array2<f64> {
    let (w, scale) = match op {
        LayerOp::Gemm {
            trans_b: true,
            alpha,
            ..
        } => (stored, *alpha),
        LayerOp::Gemm { alpha, .. } => (stored.reversed_axes(), *alpha),
        LayerOp::MatMulAdd => (stored.reversed_axes(), 1.0),
    };
    w.as_standard_layout().mapv(|x| x * scale)
}

fn names<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// Chooses the output to follow: `name` (a graph output or any tensor a
/// node computes), else the first float output, else the first output an
/// ArgMax or TopK computes from scores.
pub fn choose_output(model: &Model, name: Option<&str>) -> Result<String> {
    let outputs = &model.graph.outputs;
    if let Some(name) = name {
        let known = outputs.iter().any(|o| o.name == name) || model.producer(name).is_some();
        return if known {
            Ok(name.to_string())
        } else {
            Err(Error::invalid(
                &model.path,
                format!(
                    "the model has no output or computed tensor '{name}'; its outputs are: {}",
                    names(outputs.iter().map(|o| o.name.as_str()))
                ),
            ))
        };
    }
    let float = outputs
        .iter()
        .find(|o| o.elem_type.is_none_or(dtype::is_float));
    let picked = || {
        outputs.iter().find(|o| {
            tail(model, &o.name)
                .ops
                .iter()
                .any(|op| PICKS.contains(&op.as_str()))
        })
    };
    float.or_else(picked).map(|o| o.name.clone()).ok_or_else(|| {
        Error::invalid(
            &model.path,
            format!(
                "the model has no float output and no ArgMax/TopK output to follow back to its scores; name the scores tensor with --output (outputs: {})",
                names(outputs.iter().map(|o| o.name.as_str()))
            ),
        )
    })
}

/// What the metrics skip between the scores and the output followed.
#[derive(Debug, Clone, PartialEq)]
struct Tail {
    /// The tensor holding one row of scores per point.
    evaluated: String,
    /// The skipped ops, output first.
    ops: Vec<String>,
}

/// Follows `output` back over ZipMap, layout ops, and an ArgMax/TopK with
/// what comes after it (layout ops, Cast of the indices, a label lookup).
fn tail(model: &Model, output: &str) -> Tail {
    let mut chain: Vec<(&Node, String)> = Vec::new();
    let mut t = output.to_string();
    while let Some(p) = model.producer(&t) {
        let op = p.op_type.as_str();
        let ml_op = p.domain == "ai.onnx.ml" && matches!(op, "ZipMap" | "ArrayFeatureExtractor");
        let default = p.domain.is_empty() || p.domain == "ai.onnx";
        let skips =
            ml_op || default && (LAYOUT.contains(&op) || PICKS.contains(&op) || op == "Cast");
        let input = match (op, p.inputs.as_slice()) {
            // skl2onnx looks the label up in its classes: follow the index.
            ("ArrayFeatureExtractor", [_, index]) => index,
            (_, [first, ..]) if !first.is_empty() => first,
            _ => break,
        };
        if !skips {
            break;
        }
        chain.push((p, input.clone()));
        t = input.clone();
    }
    let ops = |k: usize| chain[..k].iter().map(|(p, _)| p.op_type.clone()).collect();
    // Up to the pick nearest the scores, if there is one; else only the
    // ops that keep values as they are (ZipMap and layout).
    let cut = match chain
        .iter()
        .rposition(|(p, _)| PICKS.contains(&p.op_type.as_str()))
    {
        Some(k) => k + 1,
        None => chain
            .iter()
            .position(|(p, _)| matches!(p.op_type.as_str(), "Cast" | "ArrayFeatureExtractor"))
            .unwrap_or(chain.len()),
    };
    Tail {
        evaluated: if cut == 0 {
            output.to_string()
        } else {
            chain[cut - 1].1.clone()
        },
        ops: ops(cut),
    }
}

/// From the scores back to the dense node: the ops passed (output first).
fn walk_back<'m>(model: &'m Model, from: &str, output: &str) -> Result<(&'m Node, Vec<String>)> {
    let err = |msg: String| Error::invalid(&model.path, msg);
    let mut tensor = from.to_string();
    let mut passed = Vec::new();
    loop {
        let Some(node) = model.producer(&tensor) else {
            return Err(err(format!(
                "'{tensor}' is not computed by any node, so there is no dense layer before output '{output}'"
            )));
        };
        let op = node.op_type.as_str();
        if !node.domain.is_empty() && node.domain != "ai.onnx" {
            return Err(err(format!(
                "output '{output}' is computed by {} from domain '{}'; gdmilp needs a Gemm or MatMul(+Add) as the last layer",
                node.describe(),
                node.domain
            )));
        }
        check_arity(model, node)?;
        let float_cast = op == "Cast" && dtype::is_float(node.attr_i("to", 0) as i32);
        if LAYOUT.contains(&op) || ACTIVATIONS.contains(&op) || float_cast {
            passed.push(op.to_string());
            tensor = node.inputs[0].clone();
            continue;
        }
        if matches!(op, "Gemm" | "MatMul" | "Add") {
            return Ok((node, passed));
        }
        return Err(err(format!(
            "output '{output}' is computed by {} after the last dense layer; gdmilp models a Gemm or MatMul(+Add) followed only by Relu, Softmax, LogSoftmax, Sigmoid, Tanh, a float Cast and layout ops (Identity, Reshape, Flatten, Squeeze, Unsqueeze, Transpose), then optionally ArgMax/TopK",
            node.describe()
        )));
    }
}

/// Arity as the ONNX operator requires: a malformed node is an error,
/// never an index out of bounds later.
fn check_arity(model: &Model, node: &Node) -> Result<()> {
    let need = match node.op_type.as_str() {
        "Gemm" | "MatMul" | "Add" => 2,
        _ => 1,
    };
    if node.inputs.iter().filter(|i| !i.is_empty()).count() < need {
        return Err(Error::invalid(
            &model.path,
            format!(
                "{} has {} inputs; the operator needs at least {need}",
                node.describe(),
                node.inputs.len()
            ),
        ));
    }
    Ok(())
}

/// The one activation among the ops after the layer.
fn activation_of(model: &Model, after: &[String]) -> Result<Activation> {
    let acts: Vec<&str> = after
        .iter()
        .map(String::as_str)
        .filter(|a| ACTIVATIONS.contains(a))
        .collect();
    Ok(match acts.as_slice() {
        [] => Activation::Identity,
        ["Relu"] => Activation::Relu,
        ["Softmax"] => Activation::Softmax,
        ["LogSoftmax"] => Activation::LogSoftmax,
        [other] => Activation::Monotone(other.to_string()),
        many => {
            return Err(Error::invalid(
                &model.path,
                format!(
                    "the last dense layer is followed by {} activations ({}); gdmilp models at most one",
                    many.len(),
                    many.join(", ")
                ),
            ))
        }
    })
}

/// A stored tensor: an initializer or a Constant node's `value`.
fn stored(model: &Model, name: &str) -> Option<(Tensor, Source)> {
    if let Some((index, t)) = model.initializer(name) {
        let external = matches!(t.storage, Storage::External { .. });
        return Some((t.clone(), Source::Initializer { index, external }));
    }
    let p = model.producer(name).filter(|p| p.op_type == "Constant")?;
    let t = p.attr("value").and_then(|a| a.t.clone())?;
    Some((
        t,
        Source::Constant {
            node: p.name.clone(),
        },
    ))
}

/// Refuses a tensor that another node than `reader` also reads.
fn sole_reader(model: &Model, name: &str, role: &str, reader: &Node) -> Result<()> {
    let users: Vec<String> = model
        .consumers(name)
        .filter(|n| !std::ptr::eq(*n, reader))
        .map(|n| n.describe())
        .collect();
    if users.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(
        &model.path,
        format!(
            "the {role} '{name}' of {} is also read by {}; changing it would change that node too, so gdmilp refuses this layer",
            reader.describe(),
            users.join(", ")
        ),
    ))
}

/// The {role} input `name` of `node`: a stored tensor, read directly or
/// through a float Cast that only this node reads.
fn param(model: &Model, name: &str, role: &str, node: &Node) -> Result<(Param, Tensor)> {
    let err = |msg: String| Error::invalid(&model.path, msg);
    sole_reader(model, name, role, node)?;
    let cast = model
        .producer(name)
        .filter(|p| p.op_type == "Cast" && p.inputs.first().is_some_and(|i| !i.is_empty()));
    let (stored_name, compute_type) = match cast {
        Some(c) => {
            sole_reader(model, &c.inputs[0], role, c)?;
            (c.inputs[0].as_str(), Some(c.attr_i("to", 0) as i32))
        }
        None => (name, None),
    };
    let Some((tensor, source)) = stored(model, stored_name) else {
        let how = match model.producer(stored_name) {
            Some(p) if p.op_type == "Constant" => format!(
                "comes from {}, which holds no tensor 'value' gdmilp can read",
                p.describe()
            ),
            _ => "is computed at run time, not stored in the model; gdmilp re-optimises stored weights only".into(),
        };
        return Err(err(format!(
            "the {role} '{name}' of {} {how}",
            node.describe()
        )));
    };
    let compute_type = compute_type.unwrap_or(tensor.data_type);
    for t in [tensor.data_type, compute_type] {
        if !dtype::is_float(t) {
            return Err(err(format!(
                "the {role} '{name}' is {}; gdmilp handles float32, float64, float16 and bfloat16 weights",
                dtype::name(t)
            )));
        }
    }
    let p = Param {
        name: stored_name.to_string(),
        dims: tensor.dims.clone(),
        dtype: dtype::name(tensor.data_type),
        source,
        cast_to: (compute_type != tensor.data_type).then(|| dtype::name(compute_type)),
        data_type: tensor.data_type,
        compute_type,
    };
    Ok((p, tensor))
}

/// The dense node's op and stored parameters.
struct Dense {
    op: LayerOp,
    nodes: Vec<String>,
    input: String,
    weight: (Param, Tensor),
    bias: Option<(Param, Tensor)>,
}

fn gemm_parts(model: &Model, node: &Node) -> Result<Dense> {
    let weight = param(model, &node.inputs[1], "weight", node)?;
    let bias = match node.inputs.get(2).filter(|s| !s.is_empty()) {
        Some(c) => Some(param(model, c, "bias", node)?),
        None => None,
    };
    Ok(Dense {
        op: LayerOp::Gemm {
            trans_a: node.attr_i("transA", 0) != 0,
            trans_b: node.attr_i("transB", 0) != 0,
            alpha: node.attr_f("alpha", 1.0) as f64,
            beta: node.attr_f("beta", 1.0) as f64,
        },
        nodes: vec![node.describe()],
        input: node.inputs[0].clone(),
        weight,
        bias,
    })
}

/// `node` is the MatMul, or the Add of a bias to a MatMul.
fn matmul_parts(model: &Model, node: &Node, output: &str) -> Result<Dense> {
    let err = |msg: String| Error::invalid(&model.path, msg);
    let (matmul, add) = if node.op_type == "Add" {
        let mm = node
            .inputs
            .iter()
            .filter_map(|i| model.producer(i))
            .find(|p| p.op_type == "MatMul")
            .ok_or_else(|| {
                err(format!(
                    "output '{output}' comes from {}, which does not add a bias to a MatMul; gdmilp needs a Gemm or MatMul(+Add) as the last layer",
                    node.describe()
                ))
            })?;
        (mm, Some(node))
    } else {
        (node, None)
    };
    if matmul.inputs.len() < 2 || matmul.inputs.iter().any(|i| i.is_empty()) {
        return Err(err(format!(
            "{} does not have two inputs",
            matmul.describe()
        )));
    }
    if stored(model, &matmul.inputs[0]).is_some() {
        return Err(err(format!(
            "{} multiplies a stored matrix by the features (W·X); gdmilp handles X·W",
            matmul.describe()
        )));
    }
    let weight = param(model, &matmul.inputs[1], "weight", matmul)?;
    let bias = match add {
        Some(add) => {
            let other = add
                .inputs
                .iter()
                .find(|i| !matmul.outputs.contains(i))
                .cloned()
                .unwrap_or_default();
            Some(param(model, &other, "bias", add)?)
        }
        None => None,
    };
    let mut nodes = vec![matmul.describe()];
    nodes.extend(add.map(|a| a.describe()));
    Ok(Dense {
        op: LayerOp::MatMulAdd,
        nodes,
        input: matmul.inputs[0].clone(),
        weight,
        bias,
    })
}

/// The values a node reads from a stored parameter (after its Cast).
fn read_values(model: &Model, p: &Param, t: &Tensor) -> Result<Vec<f64>> {
    let v = model.float_values(t)?;
    Ok(if p.compute_type == p.data_type {
        v
    } else {
        v.into_iter().map(|x| p.round(x)).collect()
    })
}

/// Effective W (M×N) from the stored weight.
fn weight_matrix(model: &Model, op: &LayerOp, (p, t): &(Param, Tensor)) -> Result<Array2<f64>> {
    let err = |msg: String| Error::invalid(&model.path, msg);
    let values = read_values(model, p, t)?;
    if t.dims.len() != 2 {
        return Err(err(format!(
            "the weight '{}' has shape {:?}; a dense layer's weight is 2-D",
            p.name, t.dims
        )));
    }
    let shape = (t.dims[0] as usize, t.dims[1] as usize);
    let stored = Array2::from_shape_vec(shape, values).expect("length checked by float_values");
    let w = effective_weight(op, stored);
    if w.is_empty() {
        return Err(err(format!("the weight '{}' is empty", p.name)));
    }
    Ok(w)
}

fn beta_of(op: &LayerOp) -> f64 {
    match op {
        LayerOp::Gemm { beta, .. } => *beta,
        LayerOp::MatMulAdd => 1.0,
    }
}

/// Effective b (M) and how the formulation treats it.
fn bias_vector(
    model: &Model,
    op: &LayerOp,
    bias: Option<&(Param, Tensor)>,
    m: usize,
) -> Result<(Array1<f64>, BiasKind)> {
    let Some((p, t)) = bias else {
        return Ok((Array1::zeros(m), BiasKind::None));
    };
    let beta = beta_of(op);
    let v = read_values(model, p, t)?;
    let dims: Vec<i64> = t.dims.iter().copied().filter(|&d| d != 1).collect();
    if v.len() == m
        && dims.len() <= 1
        && t.dims.len() <= 2
        && (m == 1 || t.dims.last() == Some(&(m as i64)))
    {
        Ok((Array1::from_vec(v).mapv(|x| x * beta), BiasKind::PerOutput))
    } else if v.len() == 1 && dims.is_empty() {
        Ok((Array1::from_elem(m, v[0] * beta), BiasKind::Scalar))
    } else {
        Err(Error::invalid(
            &model.path,
            format!(
                "the bias '{}' has shape {:?}; gdmilp handles a bias of shape [{m}], [1, {m}] or a scalar",
                t.name, t.dims
            ),
        ))
    }
}

fn check_scales(model: &Model, d: &Dense, kind: BiasKind) -> Result<()> {
    if let LayerOp::Gemm { alpha, beta, .. } = &d.op {
        if *alpha == 0.0 || (kind == BiasKind::PerOutput && *beta == 0.0) {
            return Err(Error::invalid(
                &model.path,
                format!(
                    "{} has alpha = {alpha} and beta = {beta}; a zero scale cannot be re-optimised",
                    d.nodes[0]
                ),
            ));
        }
    }
    Ok(())
}

/// The declared shape of graph output `name`, dimensions as text.
fn declared_shape(model: &Model, name: &str) -> Option<Vec<String>> {
    let out = model.graph.outputs.iter().find(|o| o.name == name)?;
    let dims = out.shape.as_ref()?.iter().map(|d| match d {
        Dim::Fixed(n) => n.to_string(),
        Dim::Param(p) => p.clone(),
        Dim::Unknown => "?".to_string(),
    });
    Some(dims.collect())
}

/// Locates the final dense layer leading to `output` (see the module doc).
pub fn locate(model: &Model, output: Option<&str>) -> Result<FinalLayer> {
    let model_output = choose_output(model, output)?;
    let tail = tail(model, &model_output);
    let (node, passed) = walk_back(model, &tail.evaluated, &model_output)?;
    // Both lists run output first; `after` runs from the layer on.
    let mut after: Vec<String> = tail.ops.iter().chain(&passed).cloned().collect();
    after.reverse();
    let from_layer: Vec<String> = passed.iter().rev().cloned().collect();
    let activation = activation_of(model, &from_layer)?;
    let dense = match node.op_type.as_str() {
        "Gemm" => gemm_parts(model, node)?,
        _ => matmul_parts(model, node, &model_output)?,
    };
    let w = weight_matrix(model, &dense.op, &dense.weight)?;
    let (m, n) = w.dim();
    let (b, bias_kind) = bias_vector(model, &dense.op, dense.bias.as_ref(), m)?;
    check_scales(model, &dense, bias_kind)?;
    Ok(FinalLayer {
        op: dense.op,
        nodes: dense.nodes,
        input: dense.input,
        output: node.outputs.first().cloned().unwrap_or_default(),
        output_shape: declared_shape(model, &model_output),
        model_output,
        evaluated: tail.evaluated,
        after,
        activation,
        n_in: n,
        n_out: m,
        weight: dense.weight.0,
        bias: dense.bias.map(|b| b.0),
        bias_kind,
        w,
        b,
    })
}

impl FinalLayer {
    /// True when the formulation has bias variables `b_j`.
    pub fn has_bias_vars(&self) -> bool {
        self.bias_kind == BiasKind::PerOutput
    }

    /// Effective W (M×N) → the values stored in the weight tensor, in its
    /// own row-major layout.
    pub fn stored_weight(&self, w: &Array2<f64>) -> Vec<f64> {
        match &self.op {
            LayerOp::Gemm {
                trans_b: true,
                alpha,
                ..
            } => w.iter().map(|x| x / alpha).collect(),
            LayerOp::Gemm { alpha, .. } => w.t().iter().map(|x| x / alpha).collect(),
            LayerOp::MatMulAdd => w.t().iter().copied().collect(),
        }
    }

    /// Effective b (M) → the values stored in the bias tensor.
    pub fn stored_bias(&self, b: &Array1<f64>) -> Vec<f64> {
        let beta = beta_of(&self.op);
        b.iter().map(|x| x / beta).collect()
    }

    /// The layer as a patched file holds it: `w` and `b` rounded to the
    /// stored type (and to the type a Cast converts them to) and read back.
    pub fn as_stored(&self, w: &Array2<f64>, b: &Array1<f64>) -> FinalLayer {
        let mut l = self.clone();
        let stored: Vec<f64> = self
            .stored_weight(w)
            .iter()
            .map(|&v| self.weight.round(v))
            .collect();
        let shape = (self.weight.dims[0] as usize, self.weight.dims[1] as usize);
        let stored =
            Array2::from_shape_vec(shape, stored).expect("stored_weight keeps the stored shape");
        l.w = effective_weight(&self.op, stored);
        if let (true, Some(p)) = (self.has_bias_vars(), &self.bias) {
            let beta = beta_of(&self.op);
            l.b = self
                .stored_bias(b)
                .iter()
                .map(|&v| p.round(v) * beta)
                .collect();
        }
        l
    }

    /// True when the followed output declares more than two axes, as a
    /// layer over a sequence ([batch, seq, M]) does: a point per position.
    pub fn over_sequence(&self) -> bool {
        self.output_shape.as_ref().is_some_and(|s| s.len() > 2)
    }

    /// Whether the penultimate features come transposed (Gemm transA).
    pub fn input_transposed(&self) -> bool {
        matches!(self.op, LayerOp::Gemm { trans_a: true, .. })
    }

    /// One-line op description, e.g. `Gemm(transB=1)`.
    pub fn op_summary(&self) -> String {
        match &self.op {
            LayerOp::Gemm {
                trans_a,
                trans_b,
                alpha,
                beta,
            } => format!(
                "Gemm(transA={}, transB={}, alpha={alpha}, beta={beta})",
                *trans_a as u8, *trans_b as u8
            ),
            LayerOp::MatMulAdd if self.bias.is_some() => "MatMul+Add".into(),
            LayerOp::MatMulAdd => "MatMul".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::testgraph::{gemm, tensor, Attr, Graph};

    const FLOAT: i32 = dtype::FLOAT;

    fn trans_b() -> [Attr<'static>; 1] {
        [Attr::Int("transB", 1)]
    }

    #[test]
    fn gemm_weights_are_read_as_w_times_alpha() {
        let m = gemm(&[Attr::Int("transB", 1), Attr::Int("transA", 0)])
            .output("a", FLOAT)
            .model();
        let l = locate(&m, None).unwrap();
        assert_eq!((l.n_out, l.n_in), (2, 3));
        assert_eq!(l.w.row(1).to_vec(), vec![4.0, 5.0, 6.0]);
        assert_eq!(l.b.to_vec(), vec![0.5, -0.5]);
        assert_eq!(l.stored_weight(&l.w), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            (l.input.as_str(), l.output.as_str(), l.evaluated.as_str()),
            ("x", "a", "a")
        );
        assert_eq!(l.activation, Activation::Identity);
    }

    #[test]
    fn a_layout_tail_is_skipped_and_the_scores_are_the_layer_output() {
        // skl2onnx's multi-output regressor: MatMul + Add → Reshape(-1, 1).
        let m = Graph::default()
            .input("x")
            .init("W", &[3, 2], &[1.0; 6])
            .init("B", &[1, 2], &[0.0, 1.0])
            .init("shape", &[2], &[-1.0, 1.0])
            .node("MatMul", &["x", "W"], &["z"], &[])
            .node("Add", &["z", "B"], &["a"], &[])
            .node("Reshape", &["a", "shape"], &["y"], &[])
            .output("y", FLOAT)
            .model();
        let l = locate(&m, None).unwrap();
        assert_eq!(l.evaluated, "a");
        assert_eq!(l.after, vec!["Reshape"]);
        assert_eq!(l.bias_kind, BiasKind::PerOutput);
        assert_eq!(l.op_summary(), "MatMul+Add");
    }

    #[test]
    fn an_argmax_output_leads_back_to_its_scores_and_any_tensor_can_be_named() {
        let g = || {
            gemm(&trans_b())
                .node("Softmax", &["a"], &["p"], &[])
                .node("ArgMax", &["p"], &["k"], &[Attr::Int("axis", 1)])
                .node("Cast", &["k"], &["label"], &[Attr::Int("to", 7)])
                .output("label", dtype::INT64)
        };
        let l = locate(&g().model(), None).unwrap();
        assert_eq!(l.model_output, "label");
        assert_eq!(l.evaluated, "p");
        assert_eq!(l.activation, Activation::Softmax);
        assert_eq!(l.after, vec!["Softmax", "ArgMax", "Cast"]);
        let l = locate(&g().model(), Some("a")).unwrap();
        assert_eq!((l.model_output.as_str(), l.evaluated.as_str()), ("a", "a"));
        assert_eq!(l.activation, Activation::Identity);
        let e = locate(&g().model(), Some("nowhere"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no output or computed tensor 'nowhere'"), "{e}");
    }

    #[test]
    fn a_topk_output_and_a_zipmap_lead_back_to_the_scores() {
        let m = gemm(&trans_b())
            .node("LogSoftmax", &["a"], &["p"], &[])
            .init("k", &[1], &[1.0])
            .node("TopK", &["p", "k"], &["best", "idx"], &[])
            .node("Squeeze", &["idx"], &["label"], &[])
            .output("label", dtype::INT64)
            .model();
        let l = locate(&m, None).unwrap();
        assert_eq!(
            (l.evaluated.as_str(), l.activation.name()),
            ("p", "LogSoftmax")
        );
        assert_eq!(l.after, vec!["LogSoftmax", "TopK", "Squeeze"]);
    }

    #[test]
    fn without_a_float_output_or_a_pick_the_error_asks_for_output() {
        let m = gemm(&trans_b())
            .node("Cast", &["a"], &["n"], &[Attr::Int("to", 7)])
            .output("n", dtype::INT64)
            .model();
        let e = locate(&m, None).unwrap_err().to_string();
        assert!(e.contains("--output"), "{e}");
    }

    #[test]
    fn a_float_cast_after_the_layer_is_passed_and_an_integer_one_is_not() {
        let m = gemm(&trans_b())
            .node("Cast", &["a"], &["a16"], &[Attr::Int("to", 10)])
            .node("Relu", &["a16"], &["y"], &[])
            .output("y", dtype::FLOAT16)
            .model();
        let l = locate(&m, None).unwrap();
        assert_eq!(l.activation, Activation::Relu);
        assert_eq!(l.after, vec!["Cast", "Relu"]);
        let m = gemm(&trans_b())
            .node("Cast", &["a"], &["n"], &[Attr::Int("to", 7)])
            .node("Cast", &["n"], &["y"], &[Attr::Int("to", 1)])
            .output("y", FLOAT)
            .model();
        let e = locate(&m, None).unwrap_err().to_string();
        assert!(
            e.contains("Cast node") && e.contains("after the last dense layer"),
            "{e}"
        );
    }

    #[test]
    fn weights_in_constant_nodes_and_behind_a_cast_are_stored_parameters() {
        let w = tensor(
            "Wv",
            &[2, 3],
            dtype::BFLOAT16,
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        );
        let m = Graph::default()
            .input("x")
            .node("Constant", &[], &["Wc"], &[Attr::Tensor("value", w)])
            .node("Cast", &["Wc"], &["W"], &[Attr::Int("to", 1)])
            .init_typed("B", &[2], dtype::FLOAT16, &[0.5, 0.25])
            .node("Gemm", &["x", "W", "B"], &["y"], &trans_b())
            .output("y", FLOAT)
            .model();
        let l = locate(&m, None).unwrap();
        assert_eq!(l.weight.name, "Wc");
        assert!(matches!(l.weight.source, Source::Constant { .. }));
        assert_eq!(
            (l.weight.dtype, l.weight.cast_to),
            ("bfloat16", Some("float32"))
        );
        assert_eq!(l.bias.as_ref().unwrap().dtype, "float16");
        assert_eq!(l.b.to_vec(), vec![0.5, 0.25]);
        // Stored as the model holds it: 1 + 2^-9 rounds to 1 in bfloat16.
        let stored = l.as_stored(&l.w.mapv(|v| v + 2f64.powi(-9)), &l.b);
        assert_eq!(stored.w, l.w);
    }

    #[test]
    fn a_shared_or_computed_weight_and_two_activations_are_refused() {
        let shared = gemm(&trans_b())
            .node("Gemm", &["x", "W"], &["other"], &trans_b())
            .output("a", FLOAT)
            .model();
        let e = locate(&shared, Some("a")).unwrap_err().to_string();
        assert!(e.contains("also read by"), "{e}");
        let computed = Graph::default()
            .input("x")
            .input("w")
            .node("MatMul", &["x", "w"], &["y"], &[])
            .output("y", FLOAT)
            .model();
        let e = locate(&computed, None).unwrap_err().to_string();
        assert!(e.contains("computed at run time"), "{e}");
        let two = gemm(&trans_b())
            .node("Relu", &["a"], &["r"], &[])
            .node("Sigmoid", &["r"], &["y"], &[])
            .output("y", FLOAT)
            .model();
        let e = locate(&two, None).unwrap_err().to_string();
        assert!(e.contains("2 activations (Relu, Sigmoid)"), "{e}");
    }

    /// torch.onnx's token classifier: Gather (nn.Embedding) on int64 ids →
    /// MatMul + Add → Relu → MatMul + Add over [batch, seq, ·], then `tail`.
    fn tagger(tail: &[(&str, Vec<Attr<'static>>)]) -> Graph {
        let mut g = Graph::default()
            .input_shaped("input_ids", dtype::INT64, &["batch", "seq"])
            .init("E", &[5, 2], &[0.5; 10])
            .init("W1", &[2, 3], &[1.0; 6])
            .init("B1", &[3], &[0.0; 3])
            .init(
                "W2",
                &[3, 4],
                &[
                    1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0,
                ],
            )
            .init("B2", &[4], &[0.5, 0.25, -0.5, 2.0])
            .node("Gather", &["E", "input_ids"], &["e"], &[])
            .node("MatMul", &["e", "W1"], &["z1"], &[])
            .node("Add", &["z1", "B1"], &["h1"], &[])
            .node("Relu", &["h1"], &["h"], &[])
            .node("MatMul", &["h", "W2"], &["z2"], &[])
            .node("Add", &["z2", "B2"], &["logits"], &[]);
        let mut last = "logits".to_string();
        for (k, (op, attrs)) in tail.iter().enumerate() {
            let out = format!("t{k}");
            g = g.node(op, &[&last], &[&out], attrs);
            last = out;
        }
        g.output_shaped(&last, FLOAT, &["batch", "seq", "4"])
    }

    #[test]
    fn a_head_over_a_sequence_is_found_behind_an_embedding() {
        let l = locate(&tagger(&[]).model(), None).unwrap();
        assert_eq!((l.n_in, l.n_out, l.input.as_str()), (3, 4, "h"));
        assert_eq!(l.op_summary(), "MatMul+Add");
        assert_eq!(l.w.row(0).to_vec(), vec![1.0, 5.0, 9.0]);
        assert_eq!(l.b.to_vec(), vec![0.5, 0.25, -0.5, 2.0]);
        assert!(l.over_sequence());
        let shape = l.output_shape.as_deref().unwrap();
        assert_eq!(shape, ["batch", "seq", "4"]);
        // A Softmax over the classes is an activation (whether it runs over
        // the positions instead is checked on the values, in features).
        let soft = tagger(&[("Softmax", vec![Attr::Int("axis", -1)])]).model();
        let l = locate(&soft, None).unwrap();
        assert_eq!(l.activation, Activation::Softmax);
        assert!(!locate(&gemm(&trans_b()).output("a", FLOAT).model(), None)
            .unwrap()
            .over_sequence());
    }

    #[test]
    fn a_reduction_over_the_positions_is_not_a_per_position_head() {
        let mean = tagger(&[("ReduceMean", vec![Attr::Int("keepdims", 0)])]).model();
        let e = locate(&mean, None).unwrap_err().to_string();
        assert!(
            e.contains("ReduceMean node") && e.contains("after the last dense layer"),
            "{e}"
        );
    }

    #[test]
    fn trans_a_is_a_layer_whose_input_comes_transposed() {
        let m = Graph::default()
            .input("x")
            .init("W", &[3, 2], &[1.0; 6])
            .node("Transpose", &["x"], &["xt"], &[])
            .node("Gemm", &["xt", "W"], &["y"], &[Attr::Int("transA", 1)])
            .output("y", FLOAT)
            .model();
        let l = locate(&m, None).unwrap();
        assert!(l.input_transposed());
        assert_eq!((l.input.as_str(), l.n_in, l.n_out), ("xt", 3, 2));
        assert_eq!(l.bias_kind, BiasKind::None);
    }
}

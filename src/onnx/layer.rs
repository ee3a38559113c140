//! Finds the last dense layer on the way to a model output and reads its
//! effective weights `W` (M×N) and bias `b` (M), whatever the ONNX layout:
//! `Gemm` (with `transA`, `transB`, `alpha`, `beta`) or `MatMul` (+ `Add`).
//!
//! Also knows the inverse mapping ([`FinalLayer::stored_weight`],
//! [`FinalLayer::stored_bias`]) so the patcher writes back exactly what the
//! node will read.

use super::model::{dtype, Model, Node, Tensor};
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
    /// The `value` of a Constant node (read, not patched).
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
    /// Stored element type name ("float32" / "float64").
    pub dtype: &'static str,
    /// Where it lives.
    pub source: Source,
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
    /// The model output this layer leads to (a graph output).
    pub model_output: String,
    /// The tensor read to evaluate the model: `model_output`, or the
    /// probabilities feeding a ZipMap output.
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

const PASS_THROUGH: &[&str] = &[
    "Identity",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Dropout",
];
const ACTIVATIONS: &[&str] = &["Relu", "Softmax", "LogSoftmax", "Sigmoid", "Tanh"];

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

/// Chooses the output to follow: `name`, or the first float output.
pub fn choose_output(model: &Model, name: Option<&str>) -> Result<String> {
    let outputs = &model.graph.outputs;
    if let Some(name) = name {
        return if outputs.iter().any(|o| o.name == name) {
            Ok(name.to_string())
        } else {
            Err(Error::invalid(
                &model.path,
                format!(
                    "the model has no output '{name}'; its outputs are: {}",
                    outputs
                        .iter()
                        .map(|o| o.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        };
    }
    outputs
        .iter()
        .find(|o| matches!(o.elem_type, Some(dtype::FLOAT) | Some(dtype::DOUBLE) | None))
        .map(|o| o.name.clone())
        .ok_or_else(|| {
            Error::invalid(
                &model.path,
                "the model has no float output to follow; name one with --output",
            )
        })
}

fn param(model: &Model, name: &str, role: &str, node: &Node) -> Result<(Param, Tensor)> {
    let err = |msg: String| Error::invalid(&model.path, msg);
    let (tensor, source) = if let Some((index, t)) = model.initializer(name) {
        let external = matches!(t.storage, super::model::Storage::External { .. });
        (t.clone(), Source::Initializer { index, external })
    } else if let Some(p) = model.producer(name).filter(|p| p.op_type == "Constant") {
        let t = p.attr("value").and_then(|a| a.t.clone()).ok_or_else(|| {
            err(format!(
                "the {role} '{name}' of {} comes from {}, which holds no tensor 'value' gdmilp can read",
                node.describe(),
                p.describe()
            ))
        })?;
        (
            t,
            Source::Constant {
                node: p.name.clone(),
            },
        )
    } else {
        return Err(err(format!(
            "the {role} '{name}' of {} is computed at run time, not stored in the model; gdmilp re-optimises stored weights only",
            node.describe()
        )));
    };
    let users: Vec<String> = model
        .consumers(name)
        .filter(|n| !std::ptr::eq(*n, node))
        .map(|n| n.describe())
        .collect();
    if !users.is_empty() {
        return Err(err(format!(
            "the {role} '{name}' of {} is also read by {}; changing it would change that node too, so gdmilp refuses this layer",
            node.describe(),
            users.join(", ")
        )));
    }
    if tensor.data_type != dtype::FLOAT && tensor.data_type != dtype::DOUBLE {
        return Err(err(format!(
            "the {role} '{name}' is {}; gdmilp handles float32 and float64 weights",
            dtype::name(tensor.data_type)
        )));
    }
    let p = Param {
        name: name.to_string(),
        dims: tensor.dims.clone(),
        dtype: dtype::name(tensor.data_type),
        source,
    };
    Ok((p, tensor))
}

/// Locates the final dense layer leading to `output`.
pub fn locate(model: &Model, output: Option<&str>) -> Result<FinalLayer> {
    let model_output = choose_output(model, output)?;
    let err = |msg: String| Error::invalid(&model.path, msg);
    let mut after = Vec::new();
    let mut evaluated = model_output.clone();
    // skl2onnx's default classifier output is a ZipMap of the probabilities
    // (a sequence of maps, not a tensor): follow the probabilities instead.
    if let Some(z) = model
        .producer(&model_output)
        .filter(|n| n.op_type == "ZipMap" && n.domain == "ai.onnx.ml" && !n.inputs.is_empty())
    {
        after.push("ZipMap".to_string());
        evaluated = z.inputs[0].clone();
    }
    let mut tensor = evaluated.clone();
    let node = loop {
        let Some(node) = model.producer(&tensor) else {
            return Err(err(format!(
                "'{tensor}' is not computed by any node, so there is no dense layer before output '{model_output}'"
            )));
        };
        let op = node.op_type.as_str();
        if !node.domain.is_empty() && node.domain != "ai.onnx" {
            return Err(err(format!(
                "output '{model_output}' is computed by {} from domain '{}'; gdmilp needs a Gemm or MatMul(+Add) as the last layer",
                node.describe(),
                node.domain
            )));
        }
        // Arity as the ONNX operator requires; a malformed node is an error,
        // never an index out of bounds below.
        let need = match op {
            "Gemm" | "MatMul" | "Add" => 2,
            _ => 1,
        };
        if node.inputs.iter().filter(|i| !i.is_empty()).count() < need {
            return Err(err(format!(
                "{} has {} inputs; the operator needs at least {need}",
                node.describe(),
                node.inputs.len()
            )));
        }
        if PASS_THROUGH.contains(&op) || ACTIVATIONS.contains(&op) {
            after.push(op.to_string());
            tensor = node.inputs[0].clone();
            continue;
        }
        if matches!(op, "Gemm" | "MatMul" | "Add") {
            break node;
        }
        return Err(err(format!(
            "output '{model_output}' is computed by {} after the last dense layer; gdmilp models a Gemm or MatMul(+Add) followed only by Relu, Softmax, LogSoftmax, Sigmoid, Tanh, Identity, Reshape or Flatten",
            node.describe()
        )));
    };
    // Ops were collected output-first; a ZipMap, if any, stays last.
    let zipmap = after.first().is_some_and(|a| a == "ZipMap");
    after.retain(|a| a != "ZipMap");
    after.reverse();
    if zipmap {
        after.push("ZipMap".to_string());
    }
    let acts: Vec<&String> = after
        .iter()
        .filter(|a| ACTIVATIONS.contains(&a.as_str()))
        .collect();
    let activation = match acts.as_slice() {
        [] => Activation::Identity,
        [a] => match a.as_str() {
            "Relu" => Activation::Relu,
            "Softmax" => Activation::Softmax,
            "LogSoftmax" => Activation::LogSoftmax,
            other => Activation::Monotone(other.to_string()),
        },
        many => {
            return Err(err(format!(
            "the last dense layer is followed by {} activations ({}); gdmilp models at most one",
            many.len(),
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
        }
    };
    let layer_output = tensor;

    let (op, nodes, input, weight, wt, bias, bt) = match node.op_type.as_str() {
        "Gemm" => {
            let (weight, wt) = param(model, node.inputs.get(1).map_or("", |s| s), "weight", node)?;
            let bias = match node.inputs.get(2).filter(|s| !s.is_empty()) {
                Some(c) => Some(param(model, c, "bias", node)?),
                None => None,
            };
            let op = LayerOp::Gemm {
                trans_a: node.attr_i("transA", 0) != 0,
                trans_b: node.attr_i("transB", 0) != 0,
                alpha: node.attr_f("alpha", 1.0) as f64,
                beta: node.attr_f("beta", 1.0) as f64,
            };
            let (bias, bt) = bias.unzip();
            (
                op,
                vec![node.describe()],
                node.inputs[0].clone(),
                weight,
                wt,
                bias,
                bt,
            )
        }
        "MatMul" | "Add" => {
            let (matmul, add) = if node.op_type == "Add" {
                let mm = node
                    .inputs
                    .iter()
                    .filter_map(|i| model.producer(i))
                    .find(|p| p.op_type == "MatMul")
                    .ok_or_else(|| {
                        err(format!(
                            "output '{model_output}' comes from {}, which does not add a bias to a MatMul; gdmilp needs a Gemm or MatMul(+Add) as the last layer",
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
            if model.initializer(&matmul.inputs[0]).is_some() {
                return Err(err(format!(
                    "{} multiplies a stored matrix by the features (W·X); gdmilp handles X·W",
                    matmul.describe()
                )));
            }
            let (weight, wt) = param(model, &matmul.inputs[1], "weight", matmul)?;
            let (bias, bt) = match add {
                Some(add) => {
                    let other = add
                        .inputs
                        .iter()
                        .find(|i| !matmul.outputs.contains(i))
                        .cloned()
                        .unwrap_or_default();
                    let (p, t) = param(model, &other, "bias", add)?;
                    (Some(p), Some(t))
                }
                None => (None, None),
            };
            let mut nodes = vec![matmul.describe()];
            nodes.extend(add.map(|a| a.describe()));
            (
                LayerOp::MatMulAdd,
                nodes,
                matmul.inputs[0].clone(),
                weight,
                wt,
                bias,
                bt,
            )
        }
        _ => unreachable!("loop above only breaks on Gemm, MatMul or Add"),
    };

    let wv = model.float_values(&wt)?;
    if wt.dims.len() != 2 {
        return Err(err(format!(
            "the weight '{}' has shape {:?}; a dense layer's weight is 2-D",
            weight.name, wt.dims
        )));
    }
    let (r, c) = (wt.dims[0] as usize, wt.dims[1] as usize);
    let stored = Array2::from_shape_vec((r, c), wv).expect("length checked by float_values");
    let w = effective_weight(&op, stored);
    let (m, n) = w.dim();
    if m == 0 || n == 0 {
        return Err(err(format!("the weight '{}' is empty", weight.name)));
    }
    let beta = match &op {
        LayerOp::Gemm { beta, .. } => *beta,
        LayerOp::MatMulAdd => 1.0,
    };
    let (b, bias_kind) = match &bt {
        None => (Array1::zeros(m), BiasKind::None),
        Some(t) => {
            let v = model.float_values(t)?;
            let dims: Vec<i64> = t.dims.iter().copied().filter(|&d| d != 1).collect();
            if v.len() == m
                && dims.len() <= 1
                && t.dims.len() <= 2
                && (m == 1 || t.dims.last() == Some(&(m as i64)))
            {
                (Array1::from_vec(v).mapv(|x| x * beta), BiasKind::PerOutput)
            } else if v.len() == 1 && dims.is_empty() {
                (Array1::from_elem(m, v[0] * beta), BiasKind::Scalar)
            } else {
                return Err(err(format!(
                    "the bias '{}' has shape {:?}; gdmilp handles a bias of shape [{m}], [1, {m}] or a scalar",
                    t.name, t.dims
                )));
            }
        }
    };
    if let LayerOp::Gemm { alpha, beta, .. } = &op {
        if *alpha == 0.0 || (bias_kind == BiasKind::PerOutput && *beta == 0.0) {
            return Err(err(format!(
                "{} has alpha = {alpha} and beta = {beta}; a zero scale cannot be re-optimised",
                nodes[0]
            )));
        }
    }
    Ok(FinalLayer {
        op,
        nodes,
        input,
        output: layer_output,
        model_output,
        evaluated,
        after,
        activation,
        n_in: n,
        n_out: m,
        weight,
        bias,
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
        let beta = match &self.op {
            LayerOp::Gemm { beta, .. } => *beta,
            LayerOp::MatMulAdd => 1.0,
        };
        b.iter().map(|x| x / beta).collect()
    }

    /// The layer as a patched file holds it: `w` and `b` written in the
    /// initializers' dtype (float32 rounds) and read back.
    pub fn as_stored(&self, w: &Array2<f64>, b: &Array1<f64>) -> FinalLayer {
        let round = |v: f64, dtype: &str| {
            if dtype == "float64" {
                v
            } else {
                v as f32 as f64
            }
        };
        let mut l = self.clone();
        let stored: Vec<f64> = self
            .stored_weight(w)
            .iter()
            .map(|&v| round(v, self.weight.dtype))
            .collect();
        let shape = (self.weight.dims[0] as usize, self.weight.dims[1] as usize);
        let stored =
            Array2::from_shape_vec(shape, stored).expect("stored_weight keeps the stored shape");
        l.w = effective_weight(&self.op, stored);
        if let (true, Some(p)) = (self.has_bias_vars(), &self.bias) {
            let beta = match &self.op {
                LayerOp::Gemm { beta, .. } => *beta,
                LayerOp::MatMulAdd => 1.0,
            };
            l.b = self
                .stored_bias(b)
                .iter()
                .map(|&v| round(v, p.dtype) * beta)
                .collect();
        }
        l
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

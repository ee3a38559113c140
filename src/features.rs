//! Penultimate features from ONNX Runtime: the model is run with the final
//! layer's input and output added as graph outputs, and the features times
//! the weights read from the file must reproduce the layer's own output
//! (this catches a misread layer before anything is written).

use crate::error::{Error, Result};
use crate::onnx::edit;
use crate::onnx::model::dtype;
use crate::onnx::{FinalLayer, Model};
use crate::runtime;
use ndarray::{Array2, ArrayD};
use std::path::Path;

/// What one run of the model gives.
#[derive(Debug, Clone)]
pub struct Features {
    /// Penultimate features, points × N.
    pub h: Array2<f64>,
    /// The layer's output before any activation, points × M.
    pub a: Array2<f64>,
    /// The model output being followed, points × (values per point).
    pub out: Array2<f64>,
}

/// Runs `model` on `x` and returns features, layer output and model output.
pub fn compute(
    model: &Model,
    layer: &FinalLayer,
    x: &ArrayD<f64>,
    data_path: &Path,
    batch_size: usize,
) -> Result<Features> {
    let inputs = model.data_inputs();
    let input = match inputs.as_slice() {
        [one] => (*one).clone(),
        [] => {
            return Err(Error::invalid(
                &model.path,
                "the model has no input to feed",
            ))
        }
        many => {
            return Err(Error::invalid(
                &model.path,
                format!(
                    "the model has {} inputs ({}); gdmilp feeds models with one input",
                    many.len(),
                    many.iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        }
    };
    runtime::check_input(&model.path, data_path, &input, x.shape())?;
    if layer.input_transposed() {
        return Err(Error::invalid(
            &model.path,
            format!(
                "{} has transA=1 (features along columns); gdmilp needs points along rows",
                layer.nodes[0]
            ),
        ));
    }
    let elem = if layer.weight.dtype == "float64" {
        dtype::DOUBLE
    } else {
        dtype::FLOAT
    };
    let names = vec![
        layer.input.clone(),
        layer.output.clone(),
        layer.evaluated.clone(),
    ];
    // The followed output is usually a graph output already (with_outputs
    // leaves those alone); after a ZipMap it is the tensor feeding it.
    let extra: Vec<(&str, i32)> = names.iter().map(|n| (n.as_str(), elem)).collect();
    let bytes = edit::with_outputs(model, &extra)?;
    let mut got = runtime::run(&model.path, &bytes, &input, x, &names, batch_size)?;
    let out = got.pop().expect("three outputs");
    let a = got.pop().expect("three outputs");
    let h = got.pop().expect("three outputs");
    let (m, n) = layer.w.dim();
    if h.ncols() != n || a.ncols() != m {
        return Err(Error::invalid(
            &model.path,
            format!(
                "the layer's tensors have {} and {} values per point, but its weight '{}' is {m}×{n} (as M×N)",
                h.ncols(),
                a.ncols(),
                layer.weight.name
            ),
        ));
    }
    if let Some(pos) = h.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            data_path,
            format!(
                "the model's penultimate features are not finite at point {}",
                pos / n
            ),
        ));
    }
    check_reproduces(model, layer, &h, &a)?;
    Ok(Features { h, a, out })
}

/// Checks `h Wᵀ + b ≈ a` to float32 accuracy.
fn check_reproduces(
    model: &Model,
    layer: &FinalLayer,
    h: &Array2<f64>,
    a: &Array2<f64>,
) -> Result<()> {
    let tol = if layer.weight.dtype == "float64" {
        1e-9
    } else {
        2e-5
    };
    for (t, hrow) in h.rows().into_iter().enumerate() {
        for j in 0..layer.n_out {
            let wrow = layer.w.row(j);
            let mut s = layer.b[j];
            let mut scale = layer.b[j].abs();
            for (w, x) in wrow.iter().zip(hrow.iter()) {
                s += w * x;
                scale += (w * x).abs();
            }
            if (s - a[[t, j]]).abs() > tol * (1.0 + scale) {
                return Err(Error::invalid(
                    &model.path,
                    format!(
                        "the weights read from '{}' do not reproduce the layer output '{}' (point {t}, output {j}: computed {s}, the model gives {}); gdmilp cannot model this layer",
                        layer.weight.name,
                        layer.output,
                        a[[t, j]]
                    ),
                ));
            }
        }
    }
    Ok(())
}

//! Penultimate features from ONNX Runtime: the model is run with the final
//! layer's input, its output and the scores added as float64 graph outputs
//! (whatever float type the model computes in). The features times the
//! weights read from the file must reproduce the layer's own output to the
//! precision of that type, and the scores must be the activation of that
//! output point by point (this catches a misread layer, or a tail that
//! mixes points, before anything is written). A layer over a sequence
//! ([batch, seq, N]) gives one point per unmasked position. Knows nothing
//! of solvers.

use crate::data::{Array, Inputs};
use crate::error::{Error, Result};
use crate::inference::runtime;
use crate::onnx::dtype;
use crate::onnx::edit;
use crate::onnx::float;
use crate::onnx::model::ValueInfo;
use crate::onnx::{Activation, FinalLayer, Model};
use ndarray::{ArcArray2, Array2, ArrayView1, ArrayView2, Axis};
use std::path::Path;

/// What one run of the model gives.
#[derive(Debug, Clone)]
pub struct Features {
    /// Penultimate features, points × N (shared: a problem over all the
    /// points holds the same array, not a copy).
    pub h: ArcArray2<f64>,
    /// The layer's output before any activation, points × M.
    pub a: Array2<f64>,
    /// The model output being followed, points × (values per point).
    pub out: Array2<f64>,
}

/// Runs `model` on `x` and returns features, layer output and model
/// output, one row per point (in a data set of sequences, per position).
pub fn compute(
    model: &Model,
    layer: &FinalLayer,
    x: &Inputs,
    data_path: &Path,
    batch_size: usize,
) -> Result<Features> {
    compute_sharing(model, layer, x, data_path, batch_size, None)
}

/// [`compute`] for a model whose features are expected to be `h` (a copy
/// of a model with its layer patched after them): while ONNX Runtime's
/// features repeat `h` they are compared, not stored, and the result
/// shares `h` (on 50,000 points × 2,048 features, 800 MB not held twice).
/// Features that differ (a weight shared with an earlier layer) are kept
/// as computed.
pub fn compute_sharing(
    model: &Model,
    layer: &FinalLayer,
    x: &Inputs,
    data_path: &Path,
    batch_size: usize,
    h: Option<&ArcArray2<f64>>,
) -> Result<Features> {
    let mut got = run_per_point(model, layer, x, data_path, batch_size, h)?;
    let output = (got.len() == 4).then(|| got.pop().expect("four outputs").into_owned());
    let [h, a, out] = <[ArcArray2<f64>; 3]>::try_from(got).expect("three outputs");
    let (a, out) = (a.into_owned(), out.into_owned());
    if let Some(output) = &output {
        check_in_place(model, layer, x, &out, output)?;
    }
    check_widths(model, layer, h.view(), &a)?;
    if let Some(pos) = h.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            data_path,
            format!(
                "the model's penultimate features are not finite at {}",
                x.point_name(pos / layer.n_in)
            ),
        ));
    }
    check_reproduces(model, layer, x, h.view(), &a)?;
    check_follows(model, layer, x, &a, &out)?;
    Ok(Features { h, a, out })
}

/// Runs the model on every input array and returns the layer's input, its
/// output and the scores, as float64 (any float type the model computes
/// in), one row per point (a sequence's unmasked positions, in order);
/// over sequences, also the model output when layout ops lie between it
/// and the scores (whose order [`check_in_place`] checks).
fn run_per_point(
    model: &Model,
    layer: &FinalLayer,
    x: &Inputs,
    data_path: &Path,
    batch_size: usize,
    known_h: Option<&ArcArray2<f64>>,
) -> Result<Vec<ArcArray2<f64>>> {
    let arrays = input_arrays(model, x, data_path)?;
    let bits: Vec<Option<Array>> = arrays
        .iter()
        .map(|(input, _, array)| bfloat16_bits(input, array.as_ref().unwrap_or(&x.x)))
        .collect();
    let mut feeds = Vec::new();
    for ((input, key, array), bits) in arrays.iter().zip(&bits) {
        let feed = runtime::Feed {
            input: (*input).clone(),
            array: bits.as_ref().or(array.as_ref()).unwrap_or(&x.x),
        };
        runtime::check_input(&model.path, data_path, key, &feed)?;
        feeds.push(feed);
    }
    let fetch = |t: &str, transpose: bool| edit::Fetch {
        tensor: t.to_string(),
        transpose,
    };
    let mut fetches = vec![
        fetch(&layer.input, layer.input_transposed()),
        fetch(&layer.output, false),
        fetch(&layer.evaluated, false),
    ];
    let per_row = x.positions.as_ref().map_or(1, |p| p.len);
    let order = sequence_order(model, layer, per_row)?;
    if order == Order::ByOutput {
        fetches.push(fetch(&layer.model_output, false));
    }
    let fed = half_inputs_as_f64(model, &mut feeds)?;
    let (bytes, names) = edit::with_f64_outputs(fed.as_ref().unwrap_or(model), &fetches)?;
    let outputs: Vec<runtime::Fetch> = names
        .into_iter()
        .zip(&fetches)
        .enumerate()
        .map(|(k, (name, f))| runtime::Fetch {
            name,
            shown: f.tensor.clone(),
            whole: k == 3 || k == 2 && order == Order::ByScores,
            // (over sequences the rows are positions chosen afterwards)
            known: known_h.filter(|_| k == 0 && x.positions.is_none()).cloned(),
        })
        .collect();
    let got = runtime::run(&model.path, &bytes, &feeds, &outputs, batch_size, per_row)?;
    let got = match &x.positions {
        Some(p) => {
            let rows: Vec<usize> = p.at.iter().map(|&(r, s)| r * p.len + s).collect();
            got.into_iter()
                .map(|m| m.select(Axis(0), &rows).into_shared())
                .collect()
        }
        None => got,
    };
    Ok(got)
}

/// Which tensor's [batch, seq, …] axes pin each point's (sequence,
/// position) over sequences.
#[derive(Debug, PartialEq, Eq)]
enum Order {
    /// Not a sequence: one point a row.
    Rows,
    /// The scores themselves (they are the model output, or an
    /// ArgMax/TopK reads them).
    ByScores,
    /// The model output, after layout ops that may move positions.
    ByOutput,
}

/// How the sequence order is checked; a pick followed by ops that may
/// move positions is refused (its indices cannot be matched to scores).
fn sequence_order(model: &Model, layer: &FinalLayer, per_row: usize) -> Result<Order> {
    if per_row == 1 {
        return Ok(Order::Rows);
    }
    let pick = layer
        .after
        .iter()
        .rposition(|o| o == "ArgMax" || o == "TopK");
    match pick {
        Some(k) => {
            let moves = |o: &&String| matches!(o.as_str(), "Transpose" | "Reshape" | "Flatten");
            if let Some(op) = layer.after[k + 1..].iter().find(moves) {
                return Err(Error::invalid(
                    &model.path,
                    format!("output '{}' passes a {op} after {}, which may move positions; gdmilp cannot tell which (sequence, position) each value is (name the scores with --output)", layer.model_output, layer.after[k]),
                ));
            }
            Ok(Order::ByScores)
        }
        None if layer.model_output == layer.evaluated => Ok(Order::ByScores),
        None => Ok(Order::ByOutput),
    }
}

/// Over sequences, the scores read one row a point must be the model
/// output read [batch, seq, …]: layout ops after the layer (a Transpose
/// of a seq-first layer) must not have moved positions.
fn check_in_place(
    model: &Model,
    layer: &FinalLayer,
    x: &Inputs,
    scores: &Array2<f64>,
    output: &Array2<f64>,
) -> Result<()> {
    let tol = tolerance(layer.weight.compute_type).max(1e-5);
    let same = |s: f64, o: f64| (s - o).abs() <= tol * (1.0 + s.abs()) || s.is_nan() && o.is_nan();
    let bad = scores
        .rows()
        .into_iter()
        .zip(output.rows())
        .position(|(s, o)| {
            s.len() != o.len() || !s.iter().zip(o.iter()).all(|(&s, &o)| same(s, o))
        });
    match bad {
        None => Ok(()),
        Some(t) => Err(Error::invalid(
            &model.path,
            format!(
                "the layer's rows are not the model output '{}' read [batch, seq, …] at {} (the ops {} move positions, e.g. a seq-first layer); gdmilp cannot tell which (sequence, position) each row is",
                layer.model_output,
                x.point_name(t),
                layer.after.join(", ")
            ),
        )),
    }
}

/// Each model input with the key of the array that feeds it, and the array
/// when it is not `x.x`: one input takes `x`; of several, each takes the
/// array of its own name, and `x` goes to the input named like its key,
/// else to the first.
fn input_arrays<'m>(
    model: &'m Model,
    x: &Inputs,
    data_path: &Path,
) -> Result<Vec<(&'m ValueInfo, String, Option<Array>)>> {
    let inputs = model.data_inputs();
    if inputs.is_empty() {
        return Err(Error::invalid(
            &model.path,
            "the model has no input to feed",
        ));
    }
    let x_input = inputs.iter().position(|i| i.name == x.key).unwrap_or(0);
    inputs
        .iter()
        .enumerate()
        .map(|(k, input)| {
            if k == x_input {
                return Ok((*input, x.key.clone(), None));
            }
            let array = x.read_more(data_path, &input.name)?;
            Ok((*input, input.name.clone(), Some(array)))
        })
        .collect()
}

/// A float16 / bfloat16 input is fed as float64 through a Cast: the model
/// rewritten for it, when there is one.
fn half_inputs_as_f64(model: &Model, feeds: &mut [runtime::Feed<'_>]) -> Result<Option<Model>> {
    let Some(feed) = feeds
        .iter_mut()
        .find(|f| matches!(f.input.elem_type, Some(dtype::FLOAT16 | dtype::BFLOAT16)))
    else {
        return Ok(None);
    };
    let t = feed.input.elem_type.expect("matched above");
    let (bytes, name) = edit::with_f64_input(model, &feed.input.name, t)?;
    feed.input = ValueInfo {
        name,
        elem_type: Some(dtype::DOUBLE),
        shape: feed.input.shape.clone(),
    };
    Model::from_bytes(&model.path, bytes).map(Some)
}

/// A bfloat16 input's data saved as its bits: numpy has no bfloat16, so
/// `x.view(torch.int16)`, ml_dtypes or a raw `uint16` array carries it. For
/// a model input of that type, integers that all fit 16 bits are read as
/// bfloat16 values (every bfloat16 is exactly an f64).
fn bfloat16_bits(input: &ValueInfo, a: &Array) -> Option<Array> {
    match a {
        Array::Int(v)
            if input.elem_type == Some(dtype::BFLOAT16)
                && v.iter()
                    .all(|&b| (i64::from(i16::MIN)..=i64::from(u16::MAX)).contains(&b)) =>
        {
            // int16 views (torch) wrap the upper half to negatives.
            Some(Array::Float(
                v.mapv(|b| float::from_bits16(b as u16, dtype::BFLOAT16))
                    .into_shared(),
            ))
        }
        _ => None,
    }
}

/// The fetched tensors have N and M values per point, as the weight says.
fn check_widths(
    model: &Model,
    layer: &FinalLayer,
    h: ArrayView2<'_, f64>,
    a: &Array2<f64>,
) -> Result<()> {
    let (m, n) = layer.w.dim();
    if h.ncols() == n && a.ncols() == m {
        return Ok(());
    }
    let hint = if h.ncols() > n && h.ncols().is_multiple_of(n) {
        format!(
            "; if the layer runs over a sequence ([batch, seq, {n}]), give the data a mask [sequences, positions] (--mask-key; all ones when there is no padding) and labels per position"
        )
    } else {
        String::new()
    };
    Err(Error::invalid(
        &model.path,
        format!(
            "the layer's tensors have {} and {} values per point, but its weight '{}' is {m}×{n} (as M×N){hint}",
            h.ncols(),
            a.ncols(),
            layer.weight.name
        ),
    ))
}

/// Checks `h Wᵀ + b ≈ a` to float32 accuracy.
fn check_reproduces(
    model: &Model,
    layer: &FinalLayer,
    x: &Inputs,
    h: ArrayView2<'_, f64>,
    a: &Array2<f64>,
) -> Result<()> {
    let tol = tolerance(layer.weight.compute_type);
    // h·Wᵀ + b, a block of points at a time, each block one product on
    // every core. Each entry must be within tol·(1 + Σ_i |w_ji h_ti| +
    // |b_j|) of the model's; that scale is at least |h·w_j| + |b_j|, so an
    // entry within tol of that passes without it, and only the others
    // (activations near 0, or wrong) sum it.
    let scale = |t: usize, j: usize| -> f64 {
        let sum: f64 = h
            .row(t)
            .iter()
            .zip(layer.w.row(j))
            .map(|(x, w)| (x * w).abs())
            .sum();
        sum + layer.b[j].abs()
    };
    for from in (0..h.nrows()).step_by(CHECK_BLOCK) {
        let rows = h.slice(ndarray::s![from..(from + CHECK_BLOCK).min(h.nrows()), ..]);
        let computed = crate::num::product::times_t(rows, layer.w.view()) + &layer.b;
        if let Some(((t, j), s)) = computed
            .indexed_iter()
            .map(|((k, j), &s)| ((from + k, j), s))
            .find(|&((t, j), s)| {
                let off = (s - a[[t, j]]).abs();
                let surely = (s - layer.b[j]).abs() + layer.b[j].abs();
                off > tol * (1.0 + surely) && off > tol * (1.0 + scale(t, j))
            })
        {
            return Err(Error::invalid(
                &model.path,
                format!(
                    "the weights read from '{}' do not reproduce the layer output '{}' ({}, output {j}: computed {s}, the model gives {}); gdmilp cannot model this layer",
                    layer.weight.name,
                    layer.output,
                    x.point_name(t),
                    a[[t, j]]
                ),
            ));
        }
    }
    Ok(())
}

/// Points [`check_reproduces`] computes at once.
const CHECK_BLOCK: usize = 2048;

/// Relative tolerance for values a model computes in `data_type`.
fn tolerance(data_type: i32) -> f64 {
    match data_type {
        dtype::DOUBLE => 1e-9,
        dtype::FLOAT => 2e-5,
        // float16 / bfloat16: the output itself is rounded, and sums may
        // be too; eight units of roundoff.
        t => 8.0 * float::unit_roundoff(t),
    }
}

/// The activation the layer walk found, applied to one row of `a`.
fn activate(act: &Activation, row: ArrayView1<'_, f64>) -> Vec<f64> {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_sum = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
    row.iter()
        .map(|&v| match act {
            Activation::Identity => v,
            Activation::Relu => v.max(0.0),
            Activation::Softmax => (v - log_sum).exp(),
            Activation::LogSoftmax => v - log_sum,
            Activation::Monotone(op) if op == "Tanh" => v.tanh(),
            Activation::Monotone(_) => 1.0 / (1.0 + (-v).exp()),
        })
        .collect()
}

/// Checks that the scores are the activation of the layer's output, point
/// by point: what lies between them (layout ops, a Cast) must not mix
/// points or reorder a point's values.
fn check_follows(
    model: &Model,
    layer: &FinalLayer,
    x: &Inputs,
    a: &Array2<f64>,
    out: &Array2<f64>,
) -> Result<()> {
    let mixes = |detail: String| {
        Error::invalid(
            &model.path,
            format!(
                "the ops between the layer output '{}' and '{}' ({}) do not keep each point's {} values in place ({detail}); name the layer's scores with --output",
                layer.output,
                layer.evaluated,
                layer.after.join(", "),
                layer.n_out
            ),
        )
    };
    if out.ncols() != layer.n_out {
        return Err(mixes(format!(
            "'{}' has {} values per point",
            layer.evaluated,
            out.ncols()
        )));
    }
    let tol = tolerance(layer.weight.compute_type).max(1e-5);
    for (t, (arow, orow)) in a.rows().into_iter().zip(out.rows()).enumerate() {
        let want = activate(&layer.activation, arow);
        for (j, (w, o)) in want.iter().zip(orow.iter()).enumerate() {
            if (w - o).abs() > tol * (1.0 + w.abs()) && !(w.is_nan() && o.is_nan()) {
                return Err(mixes(format!(
                    "{}, output {j}: {} of the layer output gives {w}, the model {o}",
                    x.point_name(t),
                    layer.activation.name()
                )));
            }
        }
    }
    Ok(())
}

//! The model with new final-layer weights, in memory, and what ONNX Runtime
//! computes with it: how apply, protect and tune see a solution's effect
//! before anything is written.

use crate::data::Dataset;
use crate::error::Result;
use crate::formulation::Weights;
use crate::inference::features::{self, Features};
use crate::onnx::{edit, FinalLayer, Model};

/// Runs the model patched with `wts` (in memory) on `x`; checks that the
/// patched layer computes with the weights written.
pub fn run_patched(
    model: &Model,
    layer: &FinalLayer,
    wts: &Weights,
    data: &Dataset,
    batch: usize,
) -> Result<Features> {
    let (patched, stored) = patched_in_memory(model, layer, wts)?;
    features::compute(&patched, &stored, &data.x, &data.path, batch)
}

/// The model patched with `wts`, in memory (external data inlined), and
/// its layer as stored there.
pub fn patched_in_memory(
    model: &Model,
    layer: &FinalLayer,
    wts: &Weights,
) -> Result<(Model, FinalLayer)> {
    let inlined = edit::with_outputs(model, &[])?;
    let inlined = Model::from_bytes(&model.path, inlined)?;
    let patched = edit::patch(&inlined, layer, &wts.w, &wts.b, &model.path)?;
    Ok((
        Model::from_bytes(&model.path, patched.model)?,
        layer.as_stored(&wts.w, &wts.b),
    ))
}

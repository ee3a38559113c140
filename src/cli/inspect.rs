//! `gdmilp inspect MODEL`: the final dense layer, for a person or (--json)
//! a script.

use crate::error::Result;
use crate::onnx::{self, Model};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Model output, or any tensor a node computes, to follow (default: the
    /// first float output, else the scores an ArgMax/TopK output picks from).
    #[arg(long, value_name = "NAME")]
    pub output: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(a: InspectArgs) -> Result<u8> {
    let model = Model::load(&a.model)?;
    let layer = onnx::locate(&model, a.output.as_deref())?;
    if a.json {
        let mut v = serde_json::to_value(&layer).expect("layer serializes");
        v["sha256"] = model.sha256.clone().into();
        outln!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return Ok(0);
    }
    let storage = |p: &onnx::layer::Param| match &p.source {
        onnx::layer::Source::Initializer { external: true, .. } => {
            "initializer, external data".to_string()
        }
        onnx::layer::Source::Initializer { .. } => "initializer".to_string(),
        onnx::layer::Source::Constant { node } => format!("Constant node '{node}'"),
    } + &p.cast_to.map(|t| format!(", Cast to {t}")).unwrap_or_default();
    outln!("model        {}", a.model.display());
    outln!(
        "layer        {} ({})",
        layer.op_summary(),
        layer.nodes.join(", ")
    );
    outln!(
        "weight       '{}' {:?} {} ({})",
        layer.weight.name,
        layer.weight.dims,
        layer.weight.dtype,
        storage(&layer.weight)
    );
    match &layer.bias {
        Some(b) => outln!(
            "bias         '{}' {:?} {} ({}){}",
            b.name,
            b.dims,
            b.dtype,
            storage(b),
            if layer.has_bias_vars() {
                ""
            } else {
                ", scalar: kept fixed"
            }
        ),
        None => outln!("bias         none (no b_j variables)"),
    }
    outln!("inputs N     {}", layer.n_in);
    outln!("outputs M    {}", layer.n_out);
    outln!("penultimate  '{}'", layer.input);
    outln!("activation   {}", layer.activation.name());
    if !layer.after.is_empty() {
        outln!("after layer  {}", layer.after.join(" → "));
    }
    match &layer.output_shape {
        Some(shape) => outln!(
            "output       '{}' [{}]",
            layer.model_output,
            shape.join(", ")
        ),
        None => outln!("output       '{}'", layer.model_output),
    }
    if layer.over_sequence() {
        outln!("points       one per (sequence, position): the data needs a mask [sequences, positions] (--mask-key)");
    }
    Ok(0)
}

//! `gdmilp eval MODEL DATA`: loss / accuracy of a model on data.

use super::DataArgs;
use crate::error::Result;
use crate::workflow::pipeline;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// The data (.npz).
    pub data: PathBuf,
    #[command(flatten)]
    pub data_args: DataArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(a: EvalArgs) -> Result<u8> {
    let loaded = pipeline::load(
        &a.model,
        a.data_args.output.as_deref(),
        &a.data_args.spec(a.data.clone()),
    )?;
    let m = loaded.metrics();
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&m).expect("json"));
    } else {
        outln!("{}: {}", a.data.display(), super::describe(&m));
    }
    Ok(0)
}

//! `gdmilp export MODEL DATA -o layer.mps`: the MILP, its manifest and MIP
//! start, and a short summary.

use super::{DataArgs, FormArgs};
use crate::error::Result;
use crate::formats::manifest::path_json;
use crate::formats::FileKind;
use crate::workflow::export::{ExportPlan, Exported};
use crate::workflow::pipeline;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// The training data (.npz).
    pub data: PathBuf,
    /// The MILP file to write; its extension picks the format: .mps, .lp,
    /// .mps.gz or .lp.gz. The manifest (FILE.gdmilp.json) and MIP start
    /// (FILE.mst) go beside it; the three appear together or not at all.
    #[arg(short, long, value_name = "FILE")]
    pub output_file: PathBuf,
    #[command(flatten)]
    pub data_args: DataArgs,
    #[command(flatten)]
    pub form: FormArgs,
    /// Also print what was written as JSON on stdout (files, problem size,
    /// presolve counts, incumbent, the model's metrics on the data).
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(a: ExportArgs) -> Result<u8> {
    FileKind::from_path(&a.output_file)?;
    a.form.validate()?;
    let plan = ExportPlan {
        model: &a.model,
        data: a.data_args.spec(a.data.clone()),
        output: a.data_args.output.as_deref(),
        milp: &a.output_file,
        radius: a
            .form
            .radius()?
            .unwrap_or(crate::workflow::export::DEFAULT_RADIUS),
        bias_radius: a.form.bias_radius,
        selection: a.form.selection(),
        protect: a.form.protect.as_deref(),
        warm_start: a
            .form
            .warm_start
            .unwrap_or(crate::workflow::pipeline::WarmStart::Current),
    };
    let outputs = plan.check()?;
    let done = plan.run(outputs, |task| {
        let opts = a.form.options(task);
        a.form.check_for(&opts, &a.data)?;
        Ok(opts)
    })?;
    print(&a, &done);
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&summary(&a, &done)).expect("json")
        );
    }
    Ok(0)
}

/// `--json`: what was written and what it holds.
fn summary(a: &ExportArgs, done: &Exported) -> serde_json::Value {
    let p = &done.built.problem;
    let pre = p.presolve();
    let w = &done.written;
    serde_json::json!({
        "files": {
            "milp": path_json(&a.output_file),
            "manifest": path_json(&w.manifest),
            "start": path_json(&w.start),
            "cbc_start": path_json(&w.cbc_start),
        },
        "milp_bytes": w.milp_bytes,
        "task": done.loaded.data.y.task(),
        "model": done.loaded.metrics(),
        "points": {
            "selected": pre.points_in,
            "kept": pre.points_kept,
            "fixed_correct": pre.fixed_correct,
            "fixed_wrong": pre.fixed_wrong,
        },
        "rows_dropped": pre.rows_dropped,
        "columns": p.num_columns(),
        "binaries": p.binaries(),
        "rows": p.num_rows(),
        "nonzeros": p.nonzeros(),
        "incumbent": done.built.incumbent,
        "incumbent_loss": done.built.incumbent + p.objective_offset(),
        "protect": done.protected,
        "warm_start": done.warm,
    })
}

/// The summary, on stderr.
fn print(a: &ExportArgs, done: &Exported) {
    let Exported {
        loaded,
        options: opts,
        built,
        written,
        protected,
        warm,
    } = done;
    let task = loaded.data.y.task();
    let p = &built.problem;
    let pre = p.presolve();
    errln!(
        "layer    {} {}×{} ({} after), task {}",
        loaded.layer.op_summary(),
        loaded.layer.n_out,
        loaded.layer.n_in,
        loaded.layer.activation.name(),
        serde_json::to_value(task)
            .expect("json")
            .as_str()
            .unwrap_or("")
    );
    errln!("model    {}", super::describe(&loaded.metrics()));
    errln!(
        "points   {} selected, {} kept, {} fixed correct, {} fixed wrong; {} rows dropped by presolve",
        pre.points_in, pre.points_kept, pre.fixed_correct, pre.fixed_wrong, pre.rows_dropped
    );
    if let Some(line) = protected {
        errln!("protect  {line}");
    }
    errln!(
        "model    {} columns ({} binary), {} rows, {} non-zeros{}",
        p.num_columns(),
        p.binaries(),
        p.num_rows(),
        p.nonzeros(),
        if !p.has_quadratic() {
            String::new()
        } else {
            format!(" + {} Hessian entries (lower triangle)", p.quadratic_len())
        }
    );
    errln!(
        "incumbent objective {} (loss on the selected points {})",
        crate::num::fmt(built.incumbent),
        crate::num::fmt(built.incumbent + p.objective_offset())
    );
    errln!(
        "box      {}: {}",
        pipeline::BoxReach::radius_line(opts, built.box_size.as_ref()),
        pipeline::BoxReach::of(loaded, built, opts).describe(true)
    );
    if let Some(b) = p.mse_bound() {
        errln!("mse      {}", b.describe());
    }
    if let Some(w) = warm {
        errln!("start    {w}");
    }
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    errln!(
        "wrote    {} ({} bytes{}), {}, {}, {}",
        a.output_file.display(),
        size(&a.output_file),
        if written.milp_bytes != size(&a.output_file) {
            format!(", {} uncompressed", written.milp_bytes)
        } else {
            String::new()
        },
        written.start.display(),
        written.cbc_start.display(),
        written.manifest.display()
    );
}

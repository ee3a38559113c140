//! `gdmilp tune MODEL DATA -o tuned.onnx`: export → embedded HiGHS →
//! apply, for up to --sweeps sweeps, in one process; ends with the same
//! before/after report as apply.

use super::solve::SolverArgs;
use super::{DataArgs, FormArgs};
use crate::apply;
use crate::error::{Error, Result};
use crate::pipeline;
use crate::tune::{self, Plan};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `tune`.
#[derive(Debug, Args)]
pub struct TuneArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// The training data (.npz).
    pub data: PathBuf,
    /// The tuned model to write (with its own .data file when the input
    /// keeps weights externally). The input is never modified unless this
    /// names it.
    #[arg(short, long, value_name = "FILE")]
    pub output_file: PathBuf,
    /// Maximum number of sweeps; stops early when a sweep does not improve.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub sweeps: usize,
    /// Keep each sweep's MILP (.mps), MIP start, manifest and HiGHS solution
    /// in this folder.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Write the per-sweep report as JSON here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub data_args: DataArgs,
    #[command(flatten)]
    pub form: FormArgs,
    #[command(flatten)]
    pub solver: SolverArgs,
}

pub(super) fn run(a: TuneArgs) -> Result<u8> {
    a.form.validate()?;
    if a.sweeps == 0 {
        return Err(Error::usage("--sweeps must be at least 1"));
    }
    crate::atomic::temp_path(&a.output_file)?;
    if let Some(dir) = &a.keep {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create", e))?;
    }
    let loaded = pipeline::load(
        &a.model,
        a.data_args.output.as_deref(),
        &a.data_args.spec(a.data.clone()),
    )?;
    let original = loaded.model.clone();
    let layer = loaded.layer.clone();
    let plan = Plan {
        selection: a.form.selection(),
        options: a.form.options(loaded.data.y.task()),
        settings: a.solver.settings(),
        sweeps: a.sweeps,
        keep: a.keep.as_deref(),
        batch_size: a.data_args.batch_size,
    };
    let (wts, report) = tune::tune(loaded, &plan)?;
    let data_file = apply::write(&original, &layer, &wts, &a.output_file)?;
    if let Some(r) = &a.report {
        tune::write_report(&report, r)?;
    }
    for s in &report.sweeps {
        println!(
            "sweep {}  {} points  {}  loss {} → {}{}",
            s.sweep,
            s.points,
            if s.optimal {
                "optimal".to_string()
            } else {
                s.status.clone()
            },
            crate::formats::num::fmt(s.loss_before),
            crate::formats::num::fmt(s.loss_after),
            if s.kept { "" } else { "  (not kept)" }
        );
    }
    println!(
        "data       {}: before {} | after {}",
        a.data.display(),
        super::describe(&report.train_before),
        super::describe(&report.train_after)
    );
    println!("stopped    {}", report.stopped);
    println!(
        "wrote      {}{}",
        a.output_file.display(),
        data_file
            .map(|d| format!(" (weights in {})", d.display()))
            .unwrap_or_default()
    );
    Ok(0)
}

//! `gdmilp apply SOLUTION MODEL`: the flags become an [`ApplyPlan`] (the
//! sequence and its exit-code rules live in the library, `crate::workflow::apply`),
//! and its results become lines. Exit codes: 0 written and verified; 1
//! refused (no usable solution, worse than the current weights or a
//! protected point lost, without --force); 3 written with a caveat
//! (verification skipped or not matching the solver, or forced).

use crate::error::Result;
use crate::formats::manifest::path_json;
use crate::formats::solution::SolutionFormat;
use crate::num::fmt;
use crate::workflow::apply::{ApplyPlan, Outcome, Request, Verification};
use clap::Args;
use std::path::{Path, PathBuf};

/// Arguments of `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The solver's solution file (HiGHS, Gurobi, CPLEX XML, CBC, SCIP or GLPK -w).
    pub solution: PathBuf,
    /// The ONNX model that was exported.
    pub model: PathBuf,
    /// The patched model to write (default: MODEL's name with .patched.onnx,
    /// beside it). The input is overwritten only when this names it.
    #[arg(short, long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// The export's manifest (default: among the *.gdmilp.json of MODEL's
    /// exports beside the solution, else in the working directory, the one
    /// named like the solution — layer.sol ↔ layer.mps.gdmilp.json — else
    /// the only one, if it accepts the solution).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Read the solution as this format instead of detecting it.
    #[arg(long, value_enum)]
    pub solution_format: Option<SolutionFormat>,
    /// Write the model even when the patched model is worse than the
    /// current weights on the exported points.
    #[arg(long)]
    pub force: bool,
    /// Points per ONNX Runtime call.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub batch_size: usize,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(a: ApplyArgs) -> Result<u8> {
    let plan = ApplyPlan::new(Request {
        solution: a.solution.clone(),
        model: a.model.clone(),
        output: a.output_file.clone(),
        manifest: a.manifest.clone(),
        format: a.solution_format,
        force: a.force,
        batch_size: a.batch_size,
    })?;
    let status = plan.status();
    let format = plan.solution.format;
    if !a.json {
        outln!(
            "solution   {} ({}, {status})",
            a.solution.display(),
            format.name()
        );
        if let Some(f) = &plan.found {
            outln!("manifest   {}{}", f.path.display(), f.source.describe());
        }
    }
    if let Some(note) = format.rounding_note() {
        errln!("note: {note}");
    }
    let man_path = plan.found.as_ref().map(|f| f.path.clone());
    let checked = plan.verify()?;
    if let (Some(c), false) = (&checked, a.json) {
        report(&c.verification, &c.data_path);
        if let Some(p) = &c.protect {
            outln!("protect    {}", p.describe());
        }
    }
    let applied = plan.write(checked.as_ref())?;
    super::print_notes(&applied.written);
    let out = &applied.out;
    let caveat = match &applied.outcome {
        Outcome::Verified => None,
        Outcome::Caveat(why) => Some(why.as_str()),
    };
    match (&checked, a.json) {
        (None, true) => {
            let j = serde_json::json!({"status": status, "format": format.name(), "verified": false, "written": path_json(out), "caveat": caveat});
            outln!("{j}");
        }
        (Some(c), true) => {
            let v = &c.verification;
            let j = serde_json::json!({
                "status": status, "format": format.name(), "verified": v.matches_solver(),
                "worse_than_incumbent": v.worse_than_incumbent(), "verification": v, "written": path_json(out),
                "data_file": applied.written.data_files.first().map(|p| path_json(p)),
                "manifest": man_path.as_deref().map(path_json),
                "protect": c.protect, "caveat": caveat,
            });
            outln!("{j}");
        }
        (_, false) => {
            outln!(
                "wrote      {}{}",
                out.display(),
                super::weights_in(&applied.written)
            );
            if checked.is_none() {
                outln!("verification skipped: no manifest of this model's export was found (give --manifest)");
            }
        }
    }
    Ok(match applied.outcome {
        Outcome::Verified => 0,
        Outcome::Caveat(_) => 3,
    })
}

/// Prints the before / solver / after report.
pub(crate) fn report(v: &Verification, data_path: &Path) {
    outln!(
        "objective  before {}   solver {}   patched model {}",
        fmt(v.incumbent_loss),
        v.solver_loss
            .map(fmt)
            .unwrap_or_else(|| "not reported".into()),
        fmt(v.recomputed_loss)
    );
    if let Some(r) = &v.rounding {
        outln!(
            "rounding   the weights are {}: rounded to it, they give {} where the solver's exact weights give {}{}",
            r.dtype,
            fmt(r.stored_weights_loss),
            fmt(r.solver_weights_loss),
            if r.shift() > 0.0 {
                " (rounding loses part of the gain)"
            } else {
                ""
            }
        );
    }
    let shift = v.rounding.as_ref().map_or(0.0, |r| r.shift());
    match (v.matches_solver(), v.mse_bound, v.solver_loss.map(|s| s + shift)) {
        (true, Some(_), Some(s)) => outln!(
            "verified   the patched model's squared error is within what the solver's objective allows (≤ {})",
            fmt(v.solver_allows(s))
        ),
        (false, Some(_), Some(s)) => outln!(
            "warning    the patched model's squared error is above what the solver's objective allows (≤ {}): the solution is not the file's",
            fmt(v.solver_allows(s))
        ),
        (true, _, _) if shift != 0.0 => outln!(
            "verified   the patched model computes the solver's objective moved by the rounding (within 1e-6)"
        ),
        (true, _, _) => {
            outln!("verified   the patched model computes the solver's objective (within 1e-6)")
        }
        (false, _, _) => outln!(
            "warning    the patched model's objective differs from the solver's by more than 1e-6 (relative)"
        ),
    }
    outln!(
        "data       {}: before {} | after {}",
        data_path.display(),
        super::describe(&v.before),
        super::describe(&v.after)
    );
}

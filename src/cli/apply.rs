//! `gdmilp apply SOLUTION MODEL`: patch the final layer with a solver's
//! answer, re-run the model, report before/after. Exit codes: 0 written and
//! verified; 1 refused (no usable solution, or worse than the current
//! weights without --force); 3 written with a caveat (verification skipped
//! or not matching the solver, or forced).

use crate::apply::{self, Verification};
use crate::atomic;
use crate::data;
use crate::error::{Error, Result};
use crate::features;
use crate::formats::solution::{self, SolutionFormat, Status};
use crate::num::fmt;
use crate::onnx::{self, Model};
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

/// `model.onnx` → `model.patched.onnx`, beside it.
pub(crate) fn default_output(model: &Path) -> PathBuf {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    model.with_file_name(format!("{stem}.patched.onnx"))
}

pub(super) fn run(a: ApplyArgs) -> Result<u8> {
    let model = Model::load(&a.model)?;
    let sol = solution::read(&a.solution, a.solution_format)?;
    if let Status::NoSolution(why) = &sol.status {
        return Err(Error::Rejected(format!(
            "{}: the solver reports '{why}' and gives no usable solution; nothing written",
            a.solution.display()
        )));
    }
    let found = apply::find_manifest(a.manifest.as_deref(), &a.solution, &model.sha256, &a.model)?;
    let output_name = found
        .as_ref()
        .map(|f| f.manifest.layer.model_output.clone());
    let layer = onnx::locate(&model, output_name.as_deref())?;
    if let Some(f) = &found {
        let m = &f.manifest;
        if m.layer.n_in != layer.n_in
            || m.layer.n_out != layer.n_out
            || m.layer.weight != layer.weight.name
        {
            return Err(Error::invalid(
                &f.path,
                "describes a different layer than the model's; re-export",
            ));
        }
    }
    let wts = apply::map_found(&sol, &a.solution, &layer, found.as_ref(), a.force)?;
    let out = a
        .output_file
        .clone()
        .unwrap_or_else(|| default_output(&a.model));
    let _lock = atomic::Lock::take(&out)?;
    let mut inputs = vec![a.solution.as_path()];
    inputs.extend(found.as_ref().map(|f| f.path.as_path()));
    atomic::check_outputs(&[&out], &inputs)?;
    let status = match &sol.status {
        Status::Optimal => "optimal".to_string(),
        Status::Feasible(s) => format!("feasible, not proven optimal: {s}"),
        Status::NoSolution(s) => s.clone(),
    };
    if !a.json {
        outln!(
            "solution   {} ({}, {status})",
            a.solution.display(),
            sol.format.name()
        );
        if let Some(f) = &found {
            outln!("manifest   {}{}", f.path.display(), f.choice.describe());
        }
    }
    if let Some(note) = sol.format.rounding_note() {
        errln!("note: {note}");
    }
    let Some(apply::Found {
        path: man_path,
        manifest: man,
        ..
    }) = found
    else {
        let written = apply::write(&model, &layer, &wts, &out)?;
        super::print_notes(&written);
        if a.json {
            let j = serde_json::json!({"status": status, "format": sol.format.name(), "verified": false, "written": out});
            outln!("{j}");
        } else {
            outln!(
                "wrote      {}{}",
                out.display(),
                super::weights_in(&written)
            );
            outln!("verification skipped: no manifest of this model's export was found (give --manifest)");
        }
        return Ok(3);
    };
    let data_path = apply::manifest_data(&man_path, &man)?;
    atomic::check_outputs(&[&out], &[&data_path])?;
    let data = data::load_masked(
        &data_path,
        Some(&man.data.x_key),
        Some(&man.data.y_key),
        man.data.mask_key.as_deref(),
        Some(man.task),
    )?;
    if data.sha256 != man.data.sha256 {
        return Err(Error::invalid(
            &data_path,
            format!(
                "has changed since the export recorded in {}; verification needs the same data",
                man_path.display()
            ),
        ));
    }
    let before = features::compute(&model, &layer, &data.x, &data.path, a.batch_size)?;
    let after = apply::run_patched(&model, &layer, &wts, &data, a.batch_size)?;
    let mut v = apply::verify(&man, &layer, sol.objective, &data, &before, &after);
    v.rounding = apply::rounding(&man, &layer, &wts, &data, &after);
    if !a.json {
        report(&v, &data_path);
    }
    let worse = v.worse_than_incumbent();
    if worse && !a.force {
        return Err(Error::Rejected(format!(
            "the patched model is worse than the current weights on the exported points ({} > {}); nothing written (--force writes it anyway)",
            fmt(v.recomputed_loss),
            fmt(v.incumbent_loss)
        )));
    }
    let written = apply::write(&model, &layer, &wts, &out)?;
    super::print_notes(&written);
    let data_file = written.data_files.first();
    if a.json {
        let j = serde_json::json!({
            "status": status, "format": sol.format.name(), "verified": v.matches_solver(),
            "worse_than_incumbent": worse, "verification": v, "written": out, "data_file": data_file,
            "manifest": man_path,
        });
        outln!("{j}");
    } else {
        outln!(
            "wrote      {}{}",
            out.display(),
            super::weights_in(&written)
        );
    }
    Ok(if worse || !v.matches_solver() { 3 } else { 0 })
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

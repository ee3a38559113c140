//! `gdmilp tune MODEL DATA -o tuned.onnx`: export → embedded HiGHS →
//! apply, for up to --sweeps sweeps, in one process; ends with the same
//! before/after report as apply.

use super::solve::SolverArgs;
use super::{DataArgs, FormArgs};
use crate::error::Result;
use crate::workflow::tune::{self, TunePlan};
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
    /// Maximum number of sweeps; stops early when a sweep does not improve
    /// or, without --radius, when cross-validation finds the next one no
    /// better than chance.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub sweeps: usize,
    /// Keep each sweep's MILP (.mps), MIP start, manifest and HiGHS solution
    /// in this folder (sweepK.*; not the cross-validation's fold sweeps).
    /// Goes with --val, not --val-split.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Write the per-sweep report as JSON here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub data_args: DataArgs,
    #[command(flatten)]
    pub form: FormArgs,
    /// Validation data (.npz, same keys as DATA): a sweep is kept only when
    /// the loss's metric on it does not get worse (MSE for mse, MAE for l1,
    /// largest error for linf, accuracy for zero-one, mean hinge for hinge).
    #[arg(long, value_name = "FILE", conflicts_with = "val_split")]
    pub val: Option<PathBuf>,
    /// Hold out this fraction of DATA (seeded by --seed) as validation data
    /// instead of --val; the sweeps see the rest. 0: none (the default).
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub val_split: Option<f64>,
    /// Folds of the cross-validation that checks tune's default box and
    /// --radius auto (seeded by --seed): each radius costs K fold sweeps
    /// before the sweep on all of DATA, within the --time-limit's split.
    #[arg(long, value_name = "K", default_value_t = tune::DEFAULT_FOLDS)]
    pub folds: usize,
    /// With --val or --val-split: when validation rejects a sweep, the next
    /// sweep tries a box this many times as large (0 < F < 1, e.g. 0.5)
    /// instead of stopping; --sweeps still bounds the count.
    #[arg(long, value_name = "F")]
    pub shrink: Option<f64>,
    /// How each sweep is solved. auto: by the problem's shape and size
    /// (mse with a linear output as least squares per output; large hinge
    /// LPs by a first-order method with a certified gap; the rest, and small
    /// problems, by HiGHS). highs: HiGHS for every problem, as solving the
    /// exported file would. structured: the structured method wherever one
    /// applies, whatever the size.
    #[arg(long, value_enum, default_value_t = crate::solvers::strategy::Choice::Auto)]
    pub method: crate::solvers::strategy::Choice,
    #[command(flatten)]
    pub solver: SolverArgs,
}

pub(super) fn run(a: TuneArgs) -> Result<u8> {
    a.form.validate()?;
    a.solver.validate()?;
    let plan = TunePlan {
        model: &a.model,
        data: a.data_args.spec(a.data.clone()),
        output: a.data_args.output.as_deref(),
        tuned: &a.output_file,
        report: a.report.as_deref(),
        keep: a.keep.as_deref(),
        val: a.val.as_deref(),
        val_split: a.val_split,
        radius: a.form.radius()?,
        bias_radius: a.form.bias_radius,
        selection: a.form.selection(),
        folds: a.folds,
        sweeps: a.sweeps,
        shrink: a.shrink,
        method: a.method,
        protect: a.form.protect.as_deref(),
        warm_start: a.form.warm_start,
        mse_form: a.form.mse_form,
        settings: a.solver.settings(),
        time_limit: a.solver.time_limit,
    };
    let _lock = plan.check()?;
    let done = plan.run(|task| {
        let opts = a.form.options(task);
        a.form.check_for(&opts, &a.data)?;
        Ok(opts)
    })?;
    super::print_notes(&done.written);
    print_report(&a, &done.report, done.held_out);
    outln!(
        "wrote      {}{}",
        a.output_file.display(),
        super::weights_in(&done.written)
    );
    Ok(0)
}

/// The report, for people, on stdout.
fn print_report(a: &TuneArgs, report: &tune::Report, held_out: bool) {
    if let Some(cv) = &report.cross_validation {
        // Checks before later sweeps say which sweep they were for.
        let many = cv.radii.iter().any(|r| r.sweep > 1);
        for r in &cv.radii {
            outln!(
                "radius {}x = {}{}  {}-fold cross-validated{} {}; {}  ({} of {} folds improved{}, {:.1} s){}",
                crate::num::fmt(r.relative),
                crate::num::fmt(crate::num::round3(r.radius)),
                if many {
                    format!(" for sweep {}", r.sweep)
                } else {
                    String::new()
                },
                cv.folds,
                if r.confirms {
                    " again, on other folds (the check)"
                } else {
                    ""
                },
                super::describe(&r.metrics),
                r.evidence.describe(),
                r.improved,
                cv.folds,
                if r.stopped_early > 0 {
                    format!(", {} stopped before optimality", r.stopped_early)
                } else {
                    String::new()
                },
                r.seconds,
                if r.chosen { "  chosen" } else { "" }
            );
        }
    }
    for s in &report.sweeps {
        outln!("{}", sweep_line(s));
    }
    outln!(
        "train      {}{}: before {} | after {}",
        a.data.display(),
        if held_out {
            " (without the held-out part)"
        } else {
            ""
        },
        super::describe(&report.train_before),
        super::describe(&report.train_after)
    );
    if let (Some(b), Some(after)) = (&report.val_before, &report.val_after) {
        let name = a
            .val
            .as_ref()
            .map_or("held-out part".to_string(), |p| p.display().to_string());
        outln!(
            "validation {name}: before {} | after {}",
            super::describe(b),
            super::describe(after)
        );
    }
    outln!("stopped    {}", report.stopped);
}

/// One sweep: its box (both forms), method, status, loss and, with
/// validation data, the score of its weights there (kept or not).
fn sweep_line(s: &tune::Sweep) -> String {
    let radius = match s.relative {
        Some(f) => format!(
            "{}x = {}",
            crate::num::fmt(f),
            crate::num::fmt(crate::num::round3(s.radius))
        ),
        None => crate::num::fmt(s.radius),
    };
    let val = s.val_tried.as_ref().map_or(String::new(), |v| {
        format!("  validation {}", super::describe(v))
    });
    format!(
        "sweep {}  {} points  radius {radius}  {}  {}  loss {} → {}{val}{}{}",
        s.sweep,
        s.points,
        s.method.describe(),
        match (s.optimal, s.gap) {
            (true, _) => "optimal".to_string(),
            (false, Some(g)) => format!("{} (gap {g:.2e})", s.status),
            (false, None) => s.status.clone(),
        },
        crate::num::fmt(s.loss_before),
        crate::num::fmt(s.loss_after),
        s.protect.as_ref().map_or(String::new(), |p| format!(
            "  protect: {} rows, {} rounds, {} lost",
            p.rows, p.rounds.rounds, p.lost
        )),
        if s.kept {
            ""
        } else if s.rejected_by_validation {
            "  (not kept: validation got worse)"
        } else {
            "  (not kept)"
        }
    )
}

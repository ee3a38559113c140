//! `gdmilp tune MODEL DATA -o tuned.onnx`: export → embedded HiGHS →
//! apply, for up to --sweeps sweeps, in one process; ends with the same
//! before/after report as apply.

use super::solve::SolverArgs;
use super::{DataArgs, FormArgs};
use crate::data;
use crate::error::{Error, Result};
use crate::formulation::radius::Radius;
use crate::onnx::layer::Activation;
use crate::workflow::apply;
use crate::workflow::pipeline;
use crate::workflow::tune::{self, Plan};
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
    /// --radius auto (seeded by --seed): each radius costs K sweeps, each
    /// with the --time-limit of a sweep, before the sweep on all of DATA.
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
    check_args(&a)?;
    // Every output checked before the slow work (the model is written
    // before the report: a bad --report must not find it replaced).
    let _lock = crate::formats::atomic::Lock::take(&a.output_file)?;
    check_files(&a)?;
    let spec = a.data_args.spec(a.data.clone());
    let (model, layer, data) =
        pipeline::load_parts(&a.model, a.data_args.output.as_deref(), &spec)?;
    let split = tune::val_split(a.val_split);
    let (train, val) = match (&a.val, split) {
        (Some(p), _) => {
            let task = Some(data.y.task());
            let (x, y, mask) = (&data.x_key, &data.y_key, data.mask_key.as_deref());
            let v = data::load(
                p,
                data::Keys {
                    x: Some(x),
                    y: Some(y),
                    mask,
                    task,
                    over_sequence: false,
                },
            )?;
            (data, Some(v))
        }
        (None, Some(f)) => {
            let (t, v) = data.split(f, a.form.seed)?;
            (t, Some(v))
        }
        (None, None) => (data, None),
    };
    let explicit = a.form.radius()?;
    let radius = explicit.unwrap_or(tune::default_radius(val.is_some()));
    let checked = tune::checked(explicit);
    if checked {
        // Enough points for the folds, before the model runs.
        train.folds(a.folds, a.form.seed)?;
    }
    let loaded = pipeline::Loaded::from_parts(model, layer, train, a.data_args.batch_size)?;
    let protect = match &a.form.protect {
        Some(p) => Some(crate::workflow::protect::load(
            p,
            &loaded.data,
            &loaded.model,
            &loaded.layer,
            a.data_args.batch_size,
        )?),
        None => None,
    };
    let original = loaded.model.clone();
    let layer = loaded.layer.clone();
    let plan = plan(
        &a,
        &loaded,
        (radius, checked, val.as_ref()),
        protect.as_ref(),
    )?;
    let (wts, report) = tune::tune(loaded, &plan)?;
    // The tuned model, its data files and the report appear together.
    let (written, mut files) = apply::finish(&original, &layer, &wts, &a.output_file)?;
    if let Some(r) = &a.report {
        files.push(tune::finish_report(&report, r)?);
    }
    crate::formats::atomic::commit_all(files)?;
    super::print_notes(&written);
    print_report(&a, &report, split.is_some() && a.val.is_none());
    outln!(
        "wrote      {}{}",
        a.output_file.display(),
        super::weights_in(&written)
    );
    Ok(0)
}

/// The numbers and combinations of flags, before any file is read.
fn check_args(a: &TuneArgs) -> Result<()> {
    a.form.validate()?;
    if let Some(f) = a.val_split {
        if !(0.0..1.0).contains(&f) {
            return Err(Error::usage(format!(
                "--val-split must be at least 0 and below 1 (a fraction of the data), not {}",
                crate::num::shown(f)
            )));
        }
    }
    if a.sweeps == 0 {
        return Err(Error::usage("--sweeps must be at least 1"));
    }
    if let Some(f) = a.shrink {
        if !(f > 0.0 && f < 1.0) {
            return Err(Error::usage(format!(
                "--shrink must be between 0 and 1, not {}",
                crate::num::shown(f)
            )));
        }
        if a.val.is_none() && tune::val_split(a.val_split).is_none() {
            return Err(Error::usage(
                "--shrink acts when validation rejects a sweep: give --val or --val-split",
            ));
        }
    }
    if a.keep.is_some() && a.val.is_none() && tune::val_split(a.val_split).is_some() {
        return Err(Error::usage(
            "--keep writes files that apply checks against the data file, but with --val-split a sweep's points are a shuffled part of it: give the validation data as --val FILE",
        ));
    }
    if a.folds < 2 {
        return Err(Error::usage(format!(
            "--folds must be at least 2, not {}",
            a.folds
        )));
    }
    a.solver.validate()
}

/// The outputs (and --keep's folder) against the inputs.
fn check_files(a: &TuneArgs) -> Result<()> {
    let outputs: Vec<&std::path::Path> = std::iter::once(a.output_file.as_path())
        .chain(a.report.as_deref())
        .collect();
    let inputs: Vec<&std::path::Path> = std::iter::once(a.data.as_path())
        .chain(a.val.as_deref())
        .chain(a.form.protect.as_deref())
        .collect();
    crate::formats::atomic::check_outputs(&outputs, &inputs)?;
    if let Some(r) = &a.report {
        crate::formats::atomic::check_outputs(&[r], &[&a.model])?;
    }
    if let Some(dir) = &a.keep {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::invalid(
                dir,
                "is not a directory: --keep names a folder for the sweeps' files (made when missing)",
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create", e))?;
        crate::formats::atomic::check_outputs(&[&dir.join("sweep1.mps")], &[])?;
        for out in outputs {
            if keeps(dir, out) {
                return Err(Error::invalid(
                    out,
                    format!(
                        "is a name --keep {} writes (sweepK.mps, its manifest and starts, sweepK.sol): the two would be one file; choose another name",
                        dir.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Whether `out` is a file `--keep dir` may write: `sweepK.mps…` or
/// `sweepK.sol` in that folder.
fn keeps(dir: &std::path::Path, out: &std::path::Path) -> bool {
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let same = match (std::fs::canonicalize(folder), std::fs::canonicalize(dir)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let name = out.file_name().unwrap_or_default().to_string_lossy();
    let Some(rest) = name.strip_prefix("sweep") else {
        return false;
    };
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let tail = &rest[digits..];
    same && digits > 0 && (tail.starts_with(".mps") || tail == ".sol")
}

/// The flags as a plan, with the library's defaults for what they leave open
/// (`radius`: the box already resolved from --radius and the validation data).
fn plan<'a>(
    a: &'a TuneArgs,
    loaded: &pipeline::Loaded,
    (radius, checked, val): (Radius, bool, Option<&'a data::Dataset>),
    protect: Option<&'a crate::workflow::protect::Protect>,
) -> Result<Plan<'a>> {
    let mut options = a.form.options(loaded.data.y.task());
    a.form.check_for(&options, &a.data)?;
    let relu = loaded.layer.activation == Activation::Relu;
    let (form, note) = tune::mse_form(&options, a.form.mse_form, relu)?;
    options.mse_form = form;
    if let Some(n) = note {
        errln!("note     {n}");
    }
    Ok(Plan {
        selection: a.form.selection(),
        options,
        radius,
        checked,
        folds: a.folds,
        bias_radius: a.form.bias_radius,
        settings: a.solver.settings(),
        sweeps: a.sweeps,
        keep: a.keep.as_deref(),
        batch_size: a.data_args.batch_size,
        val,
        warm_start: a.form.warm_start.unwrap_or(tune::DEFAULT_WARM_START),
        shrink: a.shrink,
        method: a.method,
        protect,
    })
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

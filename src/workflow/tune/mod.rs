//! One GDSolver solver step, repeated: export → embedded HiGHS → apply, in
//! one process and without files, each sweep starting from the weights the
//! previous one kept. With tune's default box (and `--radius auto`) each
//! sweep first passes a check by K-fold cross-validation (`path`): it runs
//! only when its out-of-fold predictions beat the current model's by more
//! than chance. A sweep is kept only when the patched model, re-run in ONNX
//! Runtime, is strictly better on the sweep's points (and, with validation
//! data, no worse there); the loop stops at the first sweep that is not,
//! or, with `shrink`, retries a validation-rejected sweep in a smaller box.

use crate::data::Dataset;
use crate::error::Result;
use crate::formulation::metrics::{self, Metrics};
use crate::formulation::radius::{self, Radius};
use crate::formulation::Weights;
use crate::formulation::{Cap, Loss, MseForm, Options};
use crate::onnx::Activation;
use crate::solvers::highs::Settings;
use crate::solvers::strategy::{self, Method};
use crate::workflow::pipeline::{self, Loaded, SelectSpec, WarmStart};
use crate::workflow::solve::{after, secs_until};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

pub mod budget;
mod path;
mod plan;
pub use path::{CrossValidation, CvRadius, DEFAULT_FOLDS, EVIDENCE};
pub use plan::{TunePlan, Tuned};

/// What one sweep did.
#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    /// 1-based.
    pub sweep: usize,
    /// Points handed to the solver.
    pub points: usize,
    /// How it was solved.
    pub method: Method,
    /// The solver's status.
    pub status: String,
    /// The solver returned weights.
    pub has_solution: bool,
    /// Proven optimal.
    pub optimal: bool,
    /// Loss on the sweep's points before.
    pub loss_before: f64,
    /// Loss HiGHS reported.
    pub loss_solver: f64,
    /// Best bound the solver proved (as a loss), when it has one.
    pub loss_bound: Option<f64>,
    /// (solver − bound) / max(1, |loss|), when there is a bound.
    pub gap: Option<f64>,
    /// Loss recomputed on the patched model.
    pub loss_after: f64,
    /// Whether the sweep's weights were kept.
    pub kept: bool,
    /// Metrics on all the training data after the sweep (or unchanged).
    pub train: Metrics,
    /// Metrics on the validation data after the sweep, with --val.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val: Option<Metrics>,
    /// The sweep improved its points but made validation worse.
    pub rejected_by_validation: bool,
    /// Seconds for the sweep.
    pub seconds: f64,
    /// The box radius of the weights in this sweep.
    pub radius: f64,
    /// The box radius of the biases in this sweep.
    pub bias_radius: f64,
    /// The relative radius r was resolved from, when the box was relative.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative: Option<f64>,
    /// Metrics on the validation data of this sweep's weights, kept or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_tried: Option<Metrics>,
    /// zero-one with `--warm-start hinge`: what the hinge LP gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warm_start: Option<crate::workflow::warm::HingeStart>,
    /// `--protect`: the rounds of row generation, and the protected points
    /// the patched model lost in ONNX Runtime (a sweep that loses one is
    /// not kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protect: Option<ProtectSweep>,
}

/// What `--protect` did in one sweep.
#[derive(Debug, Clone, Serialize)]
pub struct ProtectSweep {
    /// Rows left after presolve.
    pub rows: usize,
    /// Row generation's rounds and the rows the solves needed.
    pub rounds: crate::workflow::protect::Rounds,
    /// Protected points lost in ONNX Runtime (checked when the sweep
    /// improved its points).
    pub lost: usize,
}

/// The result of [`tune`].
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Metrics on all the training data before.
    pub train_before: Metrics,
    /// Metrics on all the training data after.
    pub train_after: Metrics,
    /// Metrics on the validation data before, with --val.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_before: Option<Metrics>,
    /// Metrics on the validation data after, with --val.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_after: Option<Metrics>,
    /// `--radius auto`: each radius's cross-validated metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_validation: Option<CrossValidation>,
    /// Every sweep run.
    pub sweeps: Vec<Sweep>,
    /// Why the loop ended.
    pub stopped: String,
    /// How the time limit was split.
    pub budget: budget::Split,
}

/// How to run the sweeps.
#[derive(Clone)]
pub struct Plan<'a> {
    /// Point selection (re-drawn each sweep; seeds advance).
    pub selection: SelectSpec,
    /// Formulation options (their radii are overridden by `radius`).
    pub options: Options,
    /// The box: absolute, relative (resolved each sweep on its points) or
    /// the auto path (cross-validated on `folds`).
    pub radius: Radius,
    /// Cross-validate each sweep's relative radius first and run the sweep
    /// only when it beats the current model out of fold by more than chance
    /// ([`checked`]; `Radius::Auto` always does).
    pub checked: bool,
    /// The folds of that cross-validation.
    pub folds: usize,
    /// A fixed bias radius (default: r_b = r).
    pub bias_radius: Option<f64>,
    /// HiGHS settings (threads, gap, log; the time comes from `clock`).
    pub settings: Settings,
    /// The command's clock: every stage's deadline is its share of it.
    pub clock: budget::Clock,
    /// Maximum sweeps.
    pub sweeps: usize,
    /// Keep each sweep's MILP, start, manifest and solution in this folder.
    pub keep: Option<&'a Path>,
    /// Points per ONNX Runtime call.
    pub batch_size: usize,
    /// Validation data: a sweep is kept only when its metric does not get
    /// worse here.
    pub val: Option<&'a Dataset>,
    /// zero-one: start each sweep from the hinge LP's weights when better.
    pub warm_start: WarmStart,
    /// After a sweep validation rejects, the next one tries the box radii
    /// times this factor (0 < F < 1) instead of stopping.
    pub shrink: Option<f64>,
    /// How each sweep is solved (`--method`).
    pub method: strategy::Choice,
    /// `--protect`: points that must not get worse.
    pub protect: Option<&'a crate::workflow::protect::Protect>,
}

/// The mse form a sweep uses: `explicit` (`--mse-form`) when given, else
/// the exact quadratic where it is a convex QP on the weights alone (a
/// linear output without `--cap point`: solved per output as box-constrained
/// least squares) and segments otherwise. Also returns a note for the user
/// when the choice needs one; a quadratic form after a ReLU (a MIQP, which
/// HiGHS cannot solve) is refused.
pub fn mse_form(
    opts: &Options,
    explicit: Option<MseForm>,
    relu: bool,
) -> Result<(MseForm, Option<&'static str>)> {
    if opts.loss != Loss::Mse {
        return Ok((opts.mse_form, None));
    }
    Ok(match (explicit, relu) {
        (None, false) if opts.cap == Cap::None => (MseForm::Quadratic, None),
        // With --cap point the residuals need rows, and HiGHS's QP solver
        // is not reliable on that form.
        (None, false) => (MseForm::Segments, None),
        (None, true) => (
            MseForm::Segments,
            Some(
                "mse after a ReLU is a mixed-integer QP, which HiGHS cannot solve: \
                 using segments (within 0.03 % + a small stated amount of the exact loss)",
            ),
        ),
        (Some(MseForm::Quadratic), true) => {
            return Err(crate::Error::usage(
                "--mse-form quadratic after a ReLU is a mixed-integer QP, which the \
                 embedded HiGHS cannot solve; use --mse-form segments",
            ))
        }
        (Some(f), _) => (f, None),
    })
}

pub use crate::formulation::radius::DEFAULT_RELATIVE;

/// The MIP start of `tune`'s zero-one sweeps: the hinge LP's weights when
/// they get more points right. A sweep under a time limit keeps the best
/// incumbent it has, and the hinge start is never worse on its points than
/// the current weights (on the pretrained head of benches/box.py the
/// cross-validated path from it chose 8x, +2.75 held-out points; from the
/// current start one run found nothing, another chose 16x: time-limited
/// zero-one paths are noisy). `export`'s start stays the current weights
/// (it needs no solver).
pub const DEFAULT_WARM_START: WarmStart = WarmStart::Hinge;

/// `tune`'s box when none is given: the cross-validated path when there is
/// validation data to judge its sweep (the user asked for held-out checks
/// and their cost), else [`DEFAULT_RELATIVE`] (one sweep: the path costs
/// K sweeps a radius).
pub fn default_radius(has_val: bool) -> Radius {
    if has_val {
        Radius::Auto
    } else {
        Radius::Relative(DEFAULT_RELATIVE)
    }
}

/// Whether cross-validation checks each sweep before it runs when the box
/// is `explicit` (`--radius`, if given): tune's default box and `auto` are
/// checked; a radius given is swept as given, the paper's setting. Without
/// the check, default sweeps on the paper's digits loop lowered test
/// accuracy in 14 (zero-one) and 15 (hinge) of 50; with it, in none of
/// either (benches/paper/results.md).
pub fn checked(explicit: Option<Radius>) -> bool {
    explicit.is_none_or(|r| r == Radius::Auto)
}

/// The validation share `tune` holds out of DATA: `--val-split F`, where
/// 0 means none. Nothing is held out unless asked: the check
/// ([`checked`]) cross-validates on all the training points, which judges a
/// sweep on more points than a held-out part would (on the paper's digits
/// loop, sweeps at the paper's box gated by a 25 % split lowered test
/// accuracy in 3–8 of 50; checked sweeps, in none).
pub fn val_split(explicit: Option<f64>) -> Option<f64> {
    explicit.filter(|&f| f != 0.0)
}

/// The validation score of a loss's metric, lower is better: −accuracy
/// (zero-one), mean hinge, MSE (mse), MAE (l1), largest error (linf).
fn score(m: &Metrics, loss: Loss) -> f64 {
    let v = match loss {
        Loss::ZeroOne => m.accuracy.map(|a| -a),
        Loss::Hinge => m.hinge,
        Loss::Mse => m.mse,
        Loss::L1 => m.mae,
        Loss::Linf => m.max_abs_error,
    };
    v.expect("metrics carry the loss's metric for its task")
}

/// Metrics of `loaded`'s model on `val`.
fn val_metrics(loaded: &Loaded, val: &Dataset, batch: usize) -> Result<Metrics> {
    let f = crate::inference::features::compute(
        &loaded.model,
        &loaded.layer,
        &val.x,
        &val.path,
        batch,
    )?;
    Ok(metrics::metrics(&f.out, &f.a, &val.y))
}

/// The loop's state between sweeps.
struct State {
    current: Loaded,
    val_current: Option<Metrics>,
    best: Weights,
    sweeps: Vec<Sweep>,
    /// The box's scale (1, or shrunk after validation rejected a sweep).
    scale: f64,
    /// The box of the next sweep (never `Auto`: the path sets it).
    rule: Radius,
    /// What the cross-validated path found.
    cv: Option<CrossValidation>,
}

/// What one sweep found, before the loop decides.
struct Tried {
    record: Sweep,
    /// The patched model, when the sweep improved its points.
    next: Option<Loaded>,
}

/// Runs up to `plan.sweeps` sweeps from `start`; returns the final weights
/// (in the original layer's terms) and the report.
pub fn tune(start: Loaded, plan: &Plan<'_>) -> Result<(Weights, Report)> {
    let train_before = start.metrics();
    let val_before = match plan.val {
        Some(v) => Some(val_metrics(&start, v, plan.batch_size)?),
        None => None,
    };
    let mut st = State {
        best: Weights {
            w: start.layer.w.clone(),
            b: start.layer.b.clone(),
        },
        current: start,
        val_current: val_before.clone(),
        sweeps: Vec::new(),
        scale: 1.0,
        rule: plan.radius,
        cv: None,
    };
    let checked = plan.checked || plan.radius == Radius::Auto;
    let radii = match (checked, plan.radius) {
        (false, _) => 0,
        (true, Radius::Auto) => radius::AUTO_PATH.len() + 1,
        (true, _) => 1,
    };
    let split = plan
        .clock
        .split(plan.clock.budget.elapsed(), plan.sweeps, radii, plan.folds);
    crate::progress::note(format_args!("budget   {}", split.describe(plan.sweeps)));
    let units = (radii * plan.clock.rounds(plan.folds)) as f64;
    let mut stopped = format!(
        "ran {} sweep{}",
        plan.sweeps,
        if plan.sweeps == 1 { "" } else { "s" }
    );
    for k in 1..=plan.sweeps {
        // Units left: this sweep's check and sweep, and the later ones'.
        let later = (plan.sweeps - k) as f64 * (units + 1.0);
        if checked {
            let until = plan.clock.share(units, units + 1.0 + later);
            if budget::spent(until) {
                stopped = time_spent(plan, &format!("the check of sweep {k}"), k);
                break;
            }
            if let path::Verdict::Keep(why) = path::run(&mut st, plan, k, until)? {
                // After a kept sweep, "the weights stay" means as it left
                // them: say which check stopped the loop.
                stopped = if k == 1 {
                    why
                } else {
                    format!("before sweep {k}: {why}")
                };
                break;
            }
        }
        let until = plan.clock.share(1.0, 1.0 + later);
        if budget::spent(until) {
            stopped = time_spent(plan, &format!("sweep {k}"), k);
            break;
        }
        // A sweep before the last re-runs its patched model within its share.
        let until = if k < plan.sweeps {
            after(secs_until(until) - plan.clock.rerun)
        } else {
            until
        };
        let tried = sweep(&st, k, plan, until)?;
        let rec = tried.record.clone();
        st.sweeps.push(tried.record);
        if !rec.has_solution {
            stopped = format!("sweep {k}: the solver found no solution ({})", rec.status);
            break;
        }
        if let (true, Some(f)) = (rec.rejected_by_validation, plan.shrink) {
            if k < plan.sweeps {
                st.scale *= f;
                crate::progress::note(format_args!(
                    "sweep {k}: the next sweep tries a box {} times as wide",
                    crate::num::fmt(st.scale)
                ));
                continue;
            }
        }
        let Some(next) = tried.next.filter(|_| rec.kept) else {
            stopped = not_kept(k, &rec);
            break;
        };
        st.advance(next, rec.val.clone());
    }
    Ok(st.finish(train_before, val_before, stopped, split))
}

/// Why the loop stops when the time limit was spent before `what` (of
/// sweep `k`): the weights stay, as the sweeps before left them.
fn time_spent(plan: &Plan<'_>, what: &str, k: usize) -> String {
    format!(
        "the time limit ({} s) was spent before {what}: the weights stay{}",
        crate::num::fmt(plan.clock.budget.limit()),
        if k == 1 {
            ""
        } else {
            " as the sweeps before left them"
        }
    )
}

/// Why sweep `k`, solved, is not kept.
fn not_kept(k: usize, rec: &Sweep) -> String {
    let lost = rec.protect.as_ref().map_or(0, |p| p.lost);
    if lost > 0 {
        format!("sweep {k} loses {lost} protected points in ONNX Runtime; not kept")
    } else if rec.rejected_by_validation {
        format!("sweep {k} improved its points but made the validation data worse; not kept")
    } else {
        format!("sweep {k} found no improvement")
    }
}

impl State {
    /// Moves to the weights of `next`, with validation metrics `val`.
    fn advance(&mut self, next: Loaded, val: Option<Metrics>) {
        self.val_current = val;
        self.best = Weights {
            w: next.layer.w.clone(),
            b: next.layer.b.clone(),
        };
        self.current = next;
    }

    fn finish(
        self,
        train_before: Metrics,
        val_before: Option<Metrics>,
        stopped: String,
        budget: budget::Split,
    ) -> (Weights, Report) {
        let report = Report {
            train_before,
            train_after: self.current.metrics(),
            val_before,
            val_after: self.val_current,
            cross_validation: self.cv,
            sweeps: self.sweeps,
            stopped,
            budget,
        };
        (self.best, report)
    }
}

/// One sweep from the current weights: build, solve, patch, judge.
fn sweep(st: &State, k: usize, plan: &Plan<'_>, until: Instant) -> Result<Tried> {
    let clock = Instant::now();
    let deadline = Some(until);
    let current = &st.current;
    let Prepared {
        options,
        built,
        warm_start,
        guard,
        ..
    } = prepare(st, k, plan, deadline)?;
    let p = &built.problem;
    let (answer, rounds) = solve(
        p,
        guard.as_ref(),
        &options,
        current,
        plan,
        &plan.settings,
        deadline,
    )
    .map_err(|e| match e {
        crate::Error::Rejected(m) => {
            crate::Error::Rejected(format!("{}: sweep {k}: {m}", current.model.path.display()))
        }
        other => other,
    })?;
    if let Some(dir) = plan.keep {
        answer.write_solution(p, &dir.join(format!("sweep{k}.sol")))?;
    }
    let offset = p.objective_offset();
    let before = built.incumbent + offset;
    let mut record = Sweep {
        sweep: k,
        points: built.indices.len(),
        method: answer.method,
        status: answer.status.clone(),
        optimal: answer.optimal,
        has_solution: answer.weights.is_some(),
        loss_before: before,
        loss_solver: answer.objective + offset,
        loss_bound: answer.bound.map(|b| b + offset),
        gap: answer.gap(offset),
        loss_after: before,
        kept: false,
        train: current.metrics(),
        val: st.val_current.clone(),
        rejected_by_validation: false,
        seconds: 0.0,
        radius: options.radius,
        bias_radius: options.bias_radius,
        relative: built.box_size.and_then(|b| b.relative),
        val_tried: None,
        warm_start,
        protect: guard.as_ref().map(|g| ProtectSweep {
            rows: g.len(),
            rounds,
            lost: 0,
        }),
    };
    let Some((w, b)) = answer.weights else {
        // The current weights stand (the solver stopped before it had any
        // solution, e.g. a very short time limit).
        crate::progress::note(format_args!(
            "sweep {k}: {} ended with '{}' and no solution; the weights stay",
            answer.method.describe(),
            answer.status
        ));
        record.loss_solver = before;
        record.seconds = clock.elapsed().as_secs_f64();
        return Ok(Tried { record, next: None });
    };
    // The problem and the solver's column values are done with: free them
    // before the patched model runs (on the xl head they are a third of
    // the peak).
    let pipeline::Built {
        problem, indices, ..
    } = built;
    drop((problem, answer.values));
    let (next, after) = patched(current, &Weights { w, b }, &indices, plan)?;
    record.loss_after = after;
    judge(st, plan, &next, &mut record)?;
    if let (Some(g), Some(pr), true) = (&guard, plan.protect, record.kept) {
        protect_check(g, pr, st, &next, plan, &mut record)?;
    }
    record.seconds = clock.elapsed().as_secs_f64();
    Ok(Tried {
        record,
        next: Some(next),
    })
}

/// Solves a sweep's problem: with `--protect`, by row generation over the
/// protected rows `guard`.
fn solve(
    p: &crate::formulation::Problem,
    guard: Option<&crate::formulation::protect::Guard>,
    options: &Options,
    current: &Loaded,
    plan: &Plan<'_>,
    settings: &Settings,
    deadline: Option<Instant>,
) -> Result<(strategy::Answer, crate::workflow::protect::Rounds)> {
    let bias = &current.layer.b;
    match guard {
        Some(g) => {
            crate::workflow::protect::solve(p, g, options, bias, settings, deadline, plan.method)
        }
        None => Ok((
            strategy::solve(p, options, bias, settings, deadline, plan.method)?,
            Default::default(),
        )),
    }
}

/// Checks the protected points on the patched model `next` in ONNX
/// Runtime; a sweep that loses one is not kept.
fn protect_check(
    g: &crate::formulation::protect::Guard,
    pr: &crate::workflow::protect::Protect,
    st: &State,
    next: &Loaded,
    plan: &Plan<'_>,
    record: &mut Sweep,
) -> Result<()> {
    let current = &st.current;
    let check = crate::workflow::protect::check_models(
        pr,
        g,
        (&current.model, &current.layer),
        (&next.model, &next.layer),
        plan.batch_size,
    )?;
    crate::progress::note(format_args!(
        "sweep {}: protect {}",
        record.sweep,
        check.describe()
    ));
    if let Some(p) = &mut record.protect {
        p.lost = check.lost.len();
    }
    if !check.lost.is_empty() {
        crate::progress::note(format_args!(
            "sweep {}: not kept: it loses protected points",
            record.sweep
        ));
        record.kept = false;
        record.train = current.metrics();
        record.val = st.val_current.clone();
    }
    Ok(())
}

/// A sweep's problem, its protected rows and the hinge start it gets.
struct Prepared {
    /// The formulation options with the box resolved.
    options: Options,
    built: pipeline::Built,
    /// The point selection it used.
    sel: SelectSpec,
    warm_start: Option<crate::workflow::warm::HingeStart>,
    guard: Option<crate::formulation::protect::Guard>,
}

/// Sweep `k`'s selection (its seed advanced).
fn selection(plan: &Plan<'_>, k: usize) -> SelectSpec {
    let mut sel = plan.selection.clone();
    sel.seed = sel.seed.wrapping_add(k as u64 - 1);
    sel
}

/// What one sweep's problem is made of: its points (and the selection
/// that chose them), its box, and the HiGHS settings and deadline of its
/// hinge start.
struct SweepParts<'s> {
    sel: SelectSpec,
    indices: Vec<usize>,
    rule: pipeline::BoxRule,
    settings: &'s Settings,
    deadline: Option<Instant>,
}

/// A sweep's problem on `current`'s data, with the hinge start of a
/// zero-one sweep when asked for or needed, and the protected rows; says
/// nothing.
fn assemble(current: &Loaded, plan: &Plan<'_>, sweep: SweepParts<'_>) -> Result<Prepared> {
    let SweepParts {
        sel,
        indices,
        rule,
        settings,
        deadline,
    } = sweep;
    let (options, mut built) = pipeline::build_sized(current, indices, &sel, &plan.options, rule)?;
    let guard = protect_guard(current, plan, &options)?;
    let warm_start = zero_one_start(
        current, plan, &options, &mut built, &sel, settings, deadline,
    )?;
    Ok(Prepared {
        options,
        built,
        sel,
        warm_start,
        guard,
    })
}

/// [`assemble`] for the loop's sweep `k`, described on stderr (and its
/// files kept with `--keep`).
fn prepare(st: &State, k: usize, plan: &Plan<'_>, deadline: Option<Instant>) -> Result<Prepared> {
    let current = &st.current;
    let rule = match st.rule {
        Radius::Absolute(r) => Radius::Absolute(r * st.scale),
        Radius::Relative(f) => Radius::Relative(f * st.scale),
        Radius::Auto => unreachable!("the auto path sets a relative radius"),
    };
    let bias = plan.bias_radius.map(|b| b * st.scale);
    let sel = selection(plan, k);
    let indices = pipeline::select(current, &sel)?;
    let parts = assemble(
        current,
        plan,
        SweepParts {
            sel,
            indices,
            rule: pipeline::BoxRule {
                radius: rule,
                bias_radius: bias,
            },
            settings: &plan.settings,
            deadline,
        },
    )?;
    let (options, built) = (&parts.options, &parts.built);
    if let (Some(g), Some(pr)) = (&parts.guard, plan.protect) {
        crate::progress::note(format_args!(
            "sweep {k}: protect {}",
            crate::workflow::protect::describe(&pr.data.path, g)
        ));
    }
    if let Some(h) = &parts.warm_start {
        crate::progress::note(format_args!("sweep {k}: {}", h.describe()));
    }
    if k == 1 || st.scale != 1.0 {
        crate::progress::note(format_args!(
            "box      {}: {}",
            pipeline::BoxReach::radius_line(options, built.box_size.as_ref()),
            pipeline::BoxReach::of(current, built, options)
                .describe(!plan.checked && plan.radius != Radius::Auto && plan.val.is_none())
        ));
    }
    let p = &built.problem;
    crate::progress::note(format_args!(
        "sweep {k}: {} points ({} kept by presolve), {} columns ({} binary), {} rows; method: {}",
        p.presolve().points_in,
        p.presolve().points_kept,
        p.num_columns(),
        p.binaries(),
        p.num_rows(),
        Method::choose(
            p,
            options,
            crate::workflow::protect::choice(parts.guard.as_ref(), plan.method)
        )
        .describe()
    ));
    if let Some(dir) = plan.keep {
        let milp = dir.join(format!("sweep{k}.mps"));
        keep_files(current, plan, &parts, &milp)?;
    }
    Ok(parts)
}

/// The protected rows of this sweep's box (`--protect`).
fn protect_guard(
    current: &Loaded,
    plan: &Plan<'_>,
    options: &Options,
) -> Result<Option<crate::formulation::protect::Guard>> {
    let Some(pr) = plan.protect else {
        return Ok(None);
    };
    let relu = current.layer.activation == Activation::Relu;
    Ok(Some(pr.guard(&current.layer_data(), relu, options)?))
}

/// The hinge LP's weights as a zero-one sweep's start: when asked for, and
/// whatever --warm-start says for a MILP too large to search well (they
/// are all the sweep may have). The hinge LP may take 60 % of what is left
/// of the sweep's time; the branch and cut gets the rest.
fn zero_one_start(
    current: &Loaded,
    plan: &Plan<'_>,
    options: &Options,
    built: &mut pipeline::Built,
    sel: &pipeline::SelectSpec,
    settings: &Settings,
    deadline: Option<Instant>,
) -> Result<Option<crate::workflow::warm::HingeStart>> {
    let hinge = plan.warm_start == WarmStart::Hinge
        || (plan.method != strategy::Choice::Highs
            && built.problem.binaries() > 0
            && built.problem.nonzeros() > strategy::LARGE_MIP);
    if !(hinge && options.loss == Loss::ZeroOne) {
        return Ok(None);
    }
    if current.layer.activation == Activation::Relu {
        // The hinge LP is not modelled after a ReLU (it is not linear in
        // the weights there): the sweep starts from the current weights,
        // as `--warm-start current` does, instead of refusing tune's
        // default start.
        if !settings.quiet {
            crate::progress::note(format_args!("note     after a ReLU there is no hinge LP to start from: the MIP starts from the current weights"));
        }
        return Ok(None);
    }
    let until = deadline.map(|d| {
        let now = Instant::now();
        now + d.saturating_duration_since(now).mul_f64(0.6)
    });
    Ok(Some(crate::workflow::warm::hinge_start(
        current,
        built,
        sel,
        options,
        settings,
        until,
        plan.method,
    )?))
}

/// `--keep DIR`: the sweep's files, as export writes them (with every
/// protected row, as export's file has them).
fn keep_files(current: &Loaded, plan: &Plan<'_>, parts: &Prepared, milp: &Path) -> Result<()> {
    let (options, built, sel) = (&parts.options, &parts.built, &parts.sel);
    match (&parts.guard, plan.protect) {
        (Some(g), Some(pr)) => {
            let whole = pipeline::Built {
                problem: g.add_all(built.problem.clone()),
                indices: built.indices.clone(),
                incumbent: built.incumbent,
                protect: Some(pr.reference(g, options)),
                box_size: built.box_size,
            };
            pipeline::write_files(current, sel, options, &whole, milp)?;
        }
        _ => {
            pipeline::write_files(current, sel, options, built, milp)?;
        }
    }
    Ok(())
}

/// What a loss of `v` may move by when the float32 model computes it.
fn float32_reach(v: f64) -> f64 {
    1e-6 * v.abs().max(1.0)
}

/// Decides whether the patched model `next` is kept: strictly better on
/// the sweep's points and, with validation data, no worse there; says so.
fn judge(st: &State, plan: &Plan<'_>, next: &Loaded, record: &mut Sweep) -> Result<()> {
    let (before, after) = (record.loss_before, record.loss_after);
    // `before` comes from the features in f64, `after` from ONNX Runtime
    // running the patched float32 model: a gain below float32's reach
    // (~1e-6 of the loss) is rounding, not an improvement (a zero box
    // would otherwise "improve" every sweep).
    let improved = after < before - float32_reach(before);
    let val_next = match (plan.val, improved) {
        (Some(v), true) => Some(val_metrics(next, v, plan.batch_size)?),
        _ => None,
    };
    record.rejected_by_validation = match (&val_next, &st.val_current) {
        (Some(n), Some(c)) => {
            let (sn, sc) = (score(n, plan.options.loss), score(c, plan.options.loss));
            sn > sc + 1e-12 * sc.abs().max(1.0)
        }
        _ => false,
    };
    record.kept = improved && !record.rejected_by_validation;
    record.val_tried = val_next.clone();
    if record.kept {
        record.train = next.metrics();
        record.val = val_next;
    }
    crate::progress::note(format_args!(
        "sweep {}: {} — loss on its points {} → {} (solver {}{}){}",
        record.sweep,
        record.status,
        crate::num::fmt(before),
        crate::num::fmt(after),
        crate::num::fmt(record.loss_solver),
        match (record.loss_bound, record.gap) {
            (Some(b), Some(g)) if !record.optimal =>
                format!(", bound {}, gap {g:.2e}", crate::num::fmt(b)),
            (Some(b), _) => format!(", bound {}", crate::num::fmt(b)),
            _ => String::new(),
        },
        if record.kept {
            ""
        } else if record.rejected_by_validation {
            ": validation got worse, not kept"
        } else {
            ": not better, not kept"
        }
    ));
    Ok(())
}

/// The model patched with `wts`, re-run in ONNX Runtime on the training
/// data, and the formulation's loss it now has on the sweep's points.
fn patched(
    current: &Loaded,
    wts: &Weights,
    indices: &[usize],
    plan: &Plan<'_>,
) -> Result<(Loaded, f64)> {
    let (model, layer) =
        crate::workflow::patched::patched_in_memory(&current.model, &current.layer, wts)?;
    let next = current.patched(model, layer, plan.batch_size)?;
    let check = crate::workflow::apply::margin_check(&next.layer);
    // A coarse classifier counts as its own outputs do (see apply::verify).
    let counted = match (check, next.data.y.task()) {
        (metrics::MarginCheck::Positive, crate::data::Task::Classification) => &next.features.out,
        _ => &next.features.a,
    };
    let a_sel = counted.select(ndarray::Axis(0), indices);
    let y_sel = next.data.y.subset(indices);
    let after = metrics::formulation_loss(
        a_sel.view(),
        next.layer.activation == Activation::Relu,
        &plan.options,
        check,
        &y_sel,
    );
    Ok((next, after))
}

/// `report` as JSON in a finished temporary file for `path`, to be
/// committed with the tuned model ([`crate::formats::atomic::commit_all`]).
pub fn finish_report(report: &Report, path: &Path) -> Result<crate::formats::atomic::Finished> {
    let json = serde_json::to_string_pretty(report).expect("json");
    crate::formats::atomic::finished(path, json.as_bytes())
}

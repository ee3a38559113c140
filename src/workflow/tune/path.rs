//! `--radius auto`: the relative radii of [`AUTO_PATH`], smallest first,
//! each scored by K-fold cross-validation on the training points (K sweeps
//! from the same start, each on all but one fold and scored on the fold it
//! did not see), then one sweep on all the points at the radius that scored
//! best — the refit, as scikit-learn's `*CV` estimators and glmnet's
//! cv.glmnet choose a regularisation path's point. Validation data
//! (`--val`, `--val-split`) is not used to choose: it judges the refit like
//! any sweep, once, so the choice among radii does not bias it.
//!
//! The same cross-validation checks tune's default box (one relative radius)
//! before each sweep: whichever the path, a sweep runs only when its
//! out-of-fold predictions beat the current model's on the same points by
//! more than chance ([`EVIDENCE`]).

use super::{score, selection, Plan, State};
use crate::error::Result;
use crate::formulation::metrics::{self, Metrics, Paired};
use crate::formulation::radius::{self, BoxSize, Radius, Scales, AUTO_PATH};
use crate::formulation::Loss;
use crate::formulation::{Options, Problem};
use crate::onnx::{Activation, FinalLayer};
use crate::solvers::highs::Settings;
use crate::solvers::hinge;
use crate::solvers::strategy::Method;
use crate::workflow::pipeline::{self, Loaded};
use serde::Serialize;
use std::time::Instant;

/// What the check decided before a sweep.
pub(super) enum Verdict {
    /// Cross-validation prefers a radius, by more than chance: sweep.
    Sweep,
    /// The weights stay; why, in one line.
    Keep(String),
}

/// One radius of the path: scored, or a box that is empty on these points
/// (why, in one line).
enum Scored {
    Radius(CvRadius),
    Empty(String),
}

/// Radii in a row scoring worse than the best before them that stop the
/// path (one stopped it on noise: 78.00 % against 78.08 % on 1,250
/// points, where the larger boxes it skipped gained most).
const PATIENCE: usize = 2;

/// The path always runs up to this relative radius before [`PATIENCE`]
/// may stop it: below it sweeps move the model little and their
/// out-of-fold scores differ from the current model's by noise (on the
/// pretrained head a time-limited zero-one path stopped at 0.5x; with this
/// rule the same run went on and chose 8x, +2.75 held-out points).
const ALWAYS_TO: f64 = 2.0;

/// The folds `--radius auto` cross-validates on (`--folds`).
pub const DEFAULT_FOLDS: usize = 5;

/// A cross-validated radius is swept only when the chance that a change
/// no better than the current model beats it by as much on the out-of-fold
/// predictions ([`Paired::p`]: McNemar's sign test on the points whose class
/// changed, a paired t test on regression errors) is at most this. Without
/// it (a radius had only to score above the current model out of fold),
/// the auto path on the paper's digits loop (599 test digits, 50 sweeps on
/// 32 points each) lowered test accuracy in 6 (zero-one) and 7 (hinge) of
/// 50 sweeps; with it, in 0 and 1 (benches/paper/results.md).
pub const EVIDENCE: f64 = 0.05;

/// What cross-validation found, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct CrossValidation {
    /// Folds.
    pub folds: usize,
    /// The current model on the training points before sweep 1 (the score
    /// a radius must beat).
    pub current: Metrics,
    /// The same before each later sweep checked (sweep 2, 3, …: the model
    /// the earlier sweeps left, which those sweeps' radii were judged
    /// against).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub later: Vec<Metrics>,
    /// Each radius tried, in order.
    pub radii: Vec<CvRadius>,
}

/// One radius of the cross-validated path.
#[derive(Debug, Clone, Serialize)]
pub struct CvRadius {
    /// The relative radius.
    pub relative: f64,
    /// The box it resolved to on the training points (the refit's box; every
    /// fold's sweep has it).
    pub radius: f64,
    /// Its bias radius.
    pub bias_radius: f64,
    /// Out-of-fold metrics: each point scored by the sweep that did not see
    /// it (the current weights where a fold's sweep did not improve its
    /// points).
    pub metrics: Metrics,
    /// The out-of-fold predictions against the current model's, point by
    /// point.
    pub evidence: Paired,
    /// The sweep this radius was cross-validated for (the auto path's
    /// radii are all for sweep 1; later sweeps check their radius again).
    pub sweep: usize,
    /// Folds whose sweep improved its points.
    pub improved: usize,
    /// Folds whose solve stopped before it proved its answer optimal (the
    /// time limit, most often).
    pub stopped_early: usize,
    /// Seconds for the radius's K sweeps.
    pub seconds: f64,
    /// The radius the refit used.
    pub chosen: bool,
    /// The path's best radius cross-validated again on other folds: the
    /// score the check tests for `--radius auto` (the best of several
    /// radii scores high by luck as well as by merit).
    pub confirms: bool,
}

/// Where a score leaves the path.
#[derive(Default)]
struct Walk {
    best: Option<(f64, f64)>,
    worse: usize,
}

#[derive(Debug, PartialEq)]
enum Step {
    /// The best so far.
    Best,
    /// No better than the best before it (worse, or a tie), the path goes
    /// on.
    Worse,
    /// Worse than the best in both parts of the score at once (accuracy
    /// and hinge loss): the path has turned and may stop at once.
    Turn,
    /// [`PATIENCE`] worse in a row: the path may stop.
    Stop,
}

impl Walk {
    /// A score is (primary, tie-break), lower is better: (−accuracy, mean
    /// hinge) or (the regression metric, 0). Best when it beats the best so
    /// far in that order; worse, counting towards [`PATIENCE`], only when
    /// its primary is worse; otherwise a tie that neither resets nor counts
    /// (the smaller radius stands, the path goes on: on 300 points 0.5x
    /// and 1x tied in accuracy and 2x dipped, which stopped the path at 2x
    /// where held-out accuracy peaked at 8x–16x). A radius worse in both
    /// parts (fewer points right and a larger hinge loss) is a turn: past
    /// [`ALWAYS_TO`] it ends the path without a second radius, the largest
    /// and slowest (on the N = 512, T = 5,000 head 4x was best and 8x worse
    /// in both; 16x, worse again, took 170 of the path's 360 s). Every path
    /// in benches/box chose the same radius with this rule.
    fn step(&mut self, score: (f64, f64)) -> Step {
        match self.best {
            Some(b) if score >= b && score.0 > b.0 => {
                self.worse += 1;
                if self.worse >= PATIENCE {
                    Step::Stop
                } else if score.1 > b.1 {
                    Step::Turn
                } else {
                    Step::Worse
                }
            }
            Some(b) if score >= b => Step::Worse,
            _ => {
                (self.best, self.worse) = (Some(score), 0);
                Step::Best
            }
        }
    }
}

/// The path by K-fold cross-validation on the training points; sets the
/// rule of the sweeps that follow (the first is the refit on all the
/// points, judged like any sweep: on validation data too, when given).
/// Returns why the loop stops when no radius beats the current model.
pub(super) fn run(st: &mut State, plan: &Plan<'_>, k: usize, until: Instant) -> Result<Verdict> {
    let loss = plan.options.loss;
    let current = &st.current;
    let path = radii(plan, st.rule, st.scale);
    let parts = folds(current, plan)?;
    // The sweep's points: each radius's box is sized on them, once (sweep
    // k's selection, the one the sweep will size its box on).
    let sel = selection(plan, k);
    let refit = pipeline::select(current, &sel)?;
    if refit.is_empty() {
        // As a sweep at any fixed radius would say.
        return Err(pipeline::no_points(current, &sel));
    }
    let scales = pipeline::scales(current, &refit);
    let now = current.metrics();
    crate::progress::note(format_args!(
        "path     sweep {k}: {}-fold cross-validation on the {} training points; the current model: {}",
        plan.folds,
        current.data.y.len(),
        now.describe()
    ));
    let mut cv = match st.cv.take() {
        Some(mut cv) => {
            cv.later.push(now.clone());
            cv
        }
        None => CrossValidation {
            folds: plan.folds,
            current: now.clone(),
            later: Vec::new(),
            radii: Vec::new(),
        },
    };
    let first = cv.radii.len();
    let mut best: Option<usize> = None;
    let mut walk = Walk::default();
    // The best again on other folds is one more radius of the path.
    let confirm = usize::from(path.len() > 1);
    for (i, &f) in path.iter().enumerate() {
        if super::budget::spent(until) {
            crate::progress::note(format_args!(
                "path     its share of the time limit is spent before {}x: the path stops",
                crate::num::fmt(f)
            ));
            break;
        }
        let job = Job {
            plan,
            k,
            until: super::budget::part_of(until, path.len() - i + confirm),
        };
        let radius = match radius(current, &parts, scales, f, &job)? {
            Scored::Radius(r) => r,
            Scored::Empty(why) => {
                st.cv = Some(cv);
                return Ok(Verdict::Keep(why));
            }
        };
        let sc = path_score_of(&radius.metrics, loss);
        cv.radii.push(radius);
        match walk.step(sc) {
            Step::Turn if f >= ALWAYS_TO => {
                crate::progress::note(format_args!(
                    "path     cross-validation at {}x is worse than the best in accuracy and in hinge loss: the path has turned and stops",
                    crate::num::fmt(f)
                ));
                break;
            }
            Step::Stop if f >= ALWAYS_TO => {
                crate::progress::note(format_args!(
                    "path     cross-validation worse than the best at {PATIENCE} radii in a row (last {}x): the path stops",
                    crate::num::fmt(f)
                ));
                break;
            }
            Step::Worse | Step::Turn | Step::Stop => {}
            Step::Best if sc < path_score_of(&now, loss) => best = Some(cv.radii.len() - 1),
            Step::Best => {}
        }
    }
    let last = path.len() > 1 && best == Some(first + path.len() - 1);
    let mut tested = best;
    if let (Some(i), true) = (best, path.len() > 1) {
        // The best of several radii is tested on folds its choice did not
        // use (on random classes the path's own best passed the check 7
        // times in 40, where a test at 0.05 should pass 2).
        let parts = folds_seeded(current, plan, plan.selection.seed ^ CONFIRM_SEED)?;
        let f = cv.radii[i].relative;
        crate::progress::note(format_args!(
            "path     the best, {}x, again on other folds (the check tests these):",
            crate::num::fmt(f)
        ));
        let job = Job { plan, k, until };
        if let Scored::Radius(mut again) = radius(current, &parts, scales, f, &job)? {
            again.confirms = true;
            cv.radii.push(again);
            tested = Some(cv.radii.len() - 1);
        }
    }
    Ok(conclude(st, cv, best.zip(tested), last))
}

/// Mixed into `--seed` for the folds that confirm the path's choice.
const CONFIRM_SEED: u64 = 0xC0_7F1E_u64;

/// The relative radii sweep `rule` cross-validates: the auto path, or the
/// one relative radius tune checks, times `scale` (`--shrink`'s, as the
/// sweep will have it).
fn radii(plan: &Plan<'_>, rule: Radius, scale: f64) -> Vec<f64> {
    match rule {
        Radius::Relative(f) => vec![f * scale],
        Radius::Auto | Radius::Absolute(_) => {
            debug_assert_eq!(plan.radius, Radius::Auto, "only relative boxes are checked");
            AUTO_PATH.to_vec()
        }
    }
}

/// The folds of `current`'s points (seeded by `--seed`).
fn folds(current: &Loaded, plan: &Plan<'_>) -> Result<Vec<Part>> {
    folds_seeded(current, plan, plan.selection.seed)
}

/// The folds of `current`'s points, seeded by `seed`.
fn folds_seeded(current: &Loaded, plan: &Plan<'_>, seed: u64) -> Result<Vec<Part>> {
    let folds = current.data.folds(plan.folds, seed)?;
    Ok(folds
        .into_iter()
        .map(|held| Part {
            train: complement(current.data.y.len(), &held),
            held,
            warm: std::sync::Mutex::new(None),
        })
        .collect())
}

/// Relative radius `f`, its box sized on the refit's points (their
/// medians `scales`), scored by cross-validation over `parts` and said on
/// stderr; why the path ends when the box is empty.
fn radius(
    current: &Loaded,
    parts: &[Part],
    scales: Scales,
    f: f64,
    job: &Job<'_, '_>,
) -> Result<Scored> {
    let (plan, k) = (job.plan, job.k);
    let clock = Instant::now();
    let bias_vars = current.layer.has_bias_vars();
    let size = radius::relative(f, scales, plan.bias_radius, bias_vars);
    if let Some(why) = size.empty_because() {
        return Ok(Scored::Empty(format!(
            "radius {}x = 0: {why}",
            crate::num::fmt(f)
        )));
    }
    let fold = out_of_fold(current, parts, &size, job)?;
    crate::progress::note(format_args!(
        "path     {}x = {}: cross-validated {}; {} ({} of {} folds improved their points{})",
        crate::num::fmt(f),
        crate::num::fmt(crate::num::round3(size.radius)),
        fold.metrics.describe(),
        fold.evidence.describe(),
        fold.improved,
        plan.folds,
        early_note(fold.stopped_early)
    ));
    Ok(Scored::Radius(CvRadius {
        relative: f,
        radius: size.radius,
        bias_radius: size.bias_radius,
        metrics: fold.metrics,
        evidence: fold.evidence,
        sweep: k,
        improved: fold.improved,
        stopped_early: fold.stopped_early,
        seconds: clock.elapsed().as_secs_f64(),
        chosen: false,
        confirms: false,
    }))
}

/// Marks the radius `best` of `cv` chosen and sets the refit's rule, or
/// says why the weights stay; `cv` goes into the report either way.
fn conclude(
    st: &mut State,
    mut cv: CrossValidation,
    best_tested: Option<(usize, usize)>,
    last: bool,
) -> Verdict {
    let best = best_tested.map(|(b, _)| b);
    let early: usize = cv.radii.iter().map(|r| r.stopped_early).sum();
    // Not "p > EVIDENCE": a p-value that is not a number is no evidence.
    let weak = best_tested
        .map(|(_, t)| &cv.radii[t])
        .filter(|r| r.evidence.p.is_nan() || r.evidence.p > EVIDENCE);
    let why = match (best, weak) {
        (None, _) => Some(format!(
            "the weights stay: cross-validation scored no radius above the current model{}",
            early_note(early)
        )),
        (Some(_), Some(r)) => Some(format!(
            "the weights stay: out of fold{}, cross-validation's best radius, {}x, {}, no better than chance (p above {})",
            if r.confirms { " (other folds than chose it)" } else { "" },
            crate::num::fmt(r.relative),
            r.evidence.describe(),
            crate::num::fmt(EVIDENCE)
        )),
        (Some(_), None) => None,
    };
    let chosen = best.filter(|_| why.is_none()).map(|i| {
        cv.radii[i].chosen = true;
        cv.radii[i].relative
    });
    st.cv = Some(cv);
    let Some(f) = chosen else {
        return Verdict::Keep(why.expect("a reason when no radius is chosen"));
    };
    crate::progress::note(format_args!(
        "path     radius {}x (cross-validation prefers it, by more than chance): one sweep on all the points{}",
        crate::num::fmt(f),
        if last {
            "; it is the path's largest: a larger box (--radius 64x) may score better still"
        } else {
            ""
        }
    ));
    if st.rule == Radius::Auto {
        // The path chose; a checked radius stays the rule it was (the
        // sweep scales it by `--shrink`'s factor as the check did).
        st.rule = Radius::Relative(f);
    }
    Verdict::Sweep
}

/// `, N fold solves stopped before optimality: a longer --time-limit may
/// help`, or nothing.
fn early_note(n: usize) -> String {
    if n == 0 {
        return String::new();
    }
    format!(
        ", {n} fold solve{} stopped before optimality: a longer --time-limit may help",
        if n == 1 { "" } else { "s" }
    )
}

/// A radius's cross-validation: for sweep `k`, ending at `until`.
struct Job<'a, 'p> {
    plan: &'a Plan<'p>,
    k: usize,
    until: Instant,
}

/// One fold's sweep: quiet solver settings, for sweep `k`, ending at
/// `until`.
struct FoldJob<'a> {
    quiet: &'a Settings,
    k: usize,
    until: Instant,
}

/// One fold: the training points its sweep may choose from, and the points
/// it is scored on (both ascending data-file indices).
struct Part {
    train: Vec<usize>,
    held: Vec<usize>,
    /// The fold's hinge LP answer at the radius before, to start the next
    /// radius's from ([`hinge::solve_from`]).
    warm: std::sync::Mutex<Option<FoldStart>>,
}

/// A fold's hinge LP answer, by data-file point (the points presolve keeps
/// differ from radius to radius).
struct FoldStart {
    points: Vec<usize>,
    w: ndarray::Array2<f64>,
    b: ndarray::Array1<f64>,
    y: ndarray::Array2<f64>,
    steps: (f64, f64),
}

/// 0..n without the ascending `held`.
fn complement(n: usize, held: &[usize]) -> Vec<usize> {
    (0..n).filter(|t| held.binary_search(t).is_err()).collect()
}

/// A radius's out-of-fold scores.
struct Fold {
    metrics: Metrics,
    evidence: Paired,
    improved: usize,
    stopped_early: usize,
}

/// What one fold's sweep gave: the layer as it would be stored, when the
/// sweep improved its points, and whether its solve proved optimality.
struct FoldSweep {
    layer: Option<FinalLayer>,
    optimal: bool,
}

/// The metrics of the box `size` on `current`'s points, each scored by the
/// sweep on the other folds (from the features and the weights rounded as
/// the model stores them: the folds' sweeps are never written or re-run in
/// ONNX Runtime). The folds are solved side by side, one thread each up to
/// the cores there are (`--threads 1`: one at a time).
fn out_of_fold(
    current: &Loaded,
    parts: &[Part],
    size: &BoxSize,
    job: &Job<'_, '_>,
) -> Result<Fold> {
    let plan = job.plan;
    let workers = super::budget::side_by_side(plan.settings.threads).clamp(1, parts.len());
    // The folds sweep without --protect: protecting the points a fold
    // holds out (a protect file of the training data) keeps them from
    // breaking, and breaks are what the check counts (on random classes
    // with the training data protected it passed, fixes 6, breaks 0,
    // p = 0.016; unprotected, fixes 6, breaks 4, p = 0.38). The refit
    // keeps the promise.
    let plan = &Plan {
        protect: None,
        ..plan.clone()
    };
    let solved = solve_folds(current, parts, size, plan, job, workers)?;
    let mut a = current.features.a.clone();
    let (mut improved, mut stopped_early) = (0, 0);
    for (i, fold) in solved {
        stopped_early += usize::from(!fold.optimal);
        let Some(layer) = fold.layer else { continue };
        improved += 1;
        let held = &parts[i].held;
        let h = current.features.h.select(ndarray::Axis(0), held);
        let a_held = h.dot(&layer.w.t()) + &layer.b;
        for (&t, row) in held.iter().zip(a_held.rows()) {
            a.row_mut(t).assign(&row);
        }
    }
    let out = outputs(&a, current);
    // Both sides computed alike: points no fold moved compare equal.
    let now = outputs(&current.features.a, current);
    let y = &current.data.y;
    let group: Vec<usize> = (0..y.len()).map(|t| current.data.group(t)).collect();
    Ok(Fold {
        metrics: metrics::metrics(&out, &a, &current.data.y),
        evidence: metrics::paired(&now, &out, y, plan.options.loss, &group),
        improved,
        stopped_early,
    })
}

/// Each fold's sweep in the box `size` (by `plan`, which has no protect
/// file), `workers` side by side, each fold within its share of the
/// radius's time; by fold index, in the order they finished.
fn solve_folds(
    current: &Loaded,
    parts: &[Part],
    size: &BoxSize,
    plan: &Plan<'_>,
    job: &Job<'_, '_>,
    workers: usize,
) -> Result<Vec<(usize, FoldSweep)>> {
    // The folds' solves say nothing (the path prints one line a radius),
    // and side by side each has one thread.
    let quiet = Settings {
        quiet: true,
        threads: if workers > 1 {
            Some(1)
        } else {
            plan.settings.threads
        },
        ..plan.settings.clone()
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    // Folds done, for someone watching (the folds finish in any order).
    let ticker = std::sync::Mutex::new(crate::progress::Ticker::new(
        "check",
        Some(parts.len() as u64),
    ));
    let done = std::sync::atomic::AtomicU64::new(0);
    let solved: Vec<Result<Vec<(usize, FoldSweep)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(part) = parts.get(i) else {
                            return Ok(mine);
                        };
                        // This fold's share of the radius's time: the
                        // rounds of folds left, this one's included.
                        let rounds = (parts.len() - i).div_ceil(workers);
                        let fold = FoldJob {
                            quiet: &quiet,
                            k: job.k,
                            until: super::budget::part_of(job.until, rounds),
                        };
                        mine.push((i, fold_sweep(current, part, size, plan, &fold)?));
                        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        ticker
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .tick(n, || {
                                format!(
                                    "folds solved at {}",
                                    crate::num::fmt(crate::num::round3(size.radius))
                                )
                            });
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a fold's solve panicked"))
            .collect()
    });
    Ok(solved
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect())
}

/// The model's outputs at the layer's activations `a`.
fn outputs(a: &ndarray::Array2<f64>, current: &Loaded) -> ndarray::Array2<f64> {
    match current.layer.activation {
        Activation::Relu => a.mapv(|v| v.max(0.0)),
        // Softmax and the like keep the argmax, the only use of `out` for
        // classification; regression has no other activation.
        _ => a.clone(),
    }
}

/// One fold's sweep in the box `size` on the points sweep `k`'s selection
/// picks among `train`. A fold with no point to select (a misclassified sample where
/// its part of the data has none) keeps the current weights.
fn fold_sweep(
    current: &Loaded,
    part: &Part,
    size: &BoxSize,
    plan: &Plan<'_>,
    job: &FoldJob<'_>,
) -> Result<FoldSweep> {
    let (quiet, k) = (job.quiet, job.k);
    let sel = selection(plan, k);
    let indices = pipeline::select_in(current, &sel, &part.train)?;
    if indices.is_empty() {
        return Ok(FoldSweep {
            layer: None,
            optimal: true,
        });
    }
    let deadline = Some(job.until);
    let rule = pipeline::BoxRule {
        radius: Radius::Absolute(size.radius),
        bias_radius: Some(size.bias_radius),
    };
    let super::Prepared {
        options,
        built,
        guard,
        ..
    } = super::assemble(
        current,
        plan,
        super::SweepParts {
            sel,
            indices,
            rule,
            settings: quiet,
            deadline,
        },
    )?;
    let p = &built.problem;
    if guard.is_none() && Method::choose(p, &options, plan.method) == Method::HingePdhg {
        return Ok(fold_hinge(
            current,
            p,
            &options,
            built.incumbent,
            part,
            job.until,
        ));
    }
    let (answer, _) = super::solve(p, guard.as_ref(), &options, current, plan, quiet, deadline)?;
    let before = built.incumbent;
    let gain = answer.objective < before - super::float32_reach(before + p.objective_offset());
    Ok(FoldSweep {
        optimal: answer.optimal,
        layer: answer
            .weights
            .filter(|_| gain)
            .map(|(w, b)| current.layer.as_stored(&w, &b)),
    })
}

/// The certified relative gap a fold's hinge LP stops at, ten times the
/// sweep's (`strategy::REL_GAP`): a fold's answer only scores a radius
/// out of fold, and PDHG's tail to 1e-4 is most of its steps (on a fold of
/// the N = 512, T = 5,000 head, 527 steps instead of 1,687 at 4x, 1,952
/// instead of 5,504 at 8x, with the same out-of-fold accuracy to within a
/// point or two of 5,000).
pub const FOLD_GAP: f64 = 1e-3;

/// A fold's hinge LP by PDHG to [`FOLD_GAP`], started from the fold's
/// answer at the radius before when there is one, and kept as the start
/// of the next. `incumbent` is the problem's objective at the current
/// weights.
fn fold_hinge(
    current: &Loaded,
    p: &Problem,
    opts: &Options,
    incumbent: f64,
    part: &Part,
    until: Instant,
) -> FoldSweep {
    let labels = p.labels().expect("a hinge problem has labels");
    let w0 = p.current_weights();
    let b0 = p.current_bias().unwrap_or_else(|| current.layer.b.clone());
    let lp = hinge::HingeLp {
        h: p.features(),
        labels,
        w0: w0.view(),
        b0: b0.view(),
        radius: opts.radius,
        bias_radius: p.bias_vars().then_some(opts.bias_radius),
        delta: opts.margin,
    };
    let settings = hinge::Settings {
        rel_gap: FOLD_GAP,
        time_limit: Some(until.saturating_duration_since(Instant::now())),
        ..Default::default()
    };
    let mut warm = part.warm.lock().unwrap_or_else(|e| e.into_inner());
    let sol = match warm.as_ref() {
        Some(s) => {
            // The dual by point: rows of points the last LP dropped start at 0.
            let mut y = ndarray::Array2::zeros((p.points().len(), s.y.ncols()));
            for (k, t) in p.points().iter().enumerate() {
                if let Ok(r) = s.points.binary_search(t) {
                    y.row_mut(k).assign(&s.y.row(r));
                }
            }
            let start = hinge::Start {
                w: s.w.view(),
                b: s.b.view(),
                y: Some(y.view()),
                steps: Some(s.steps),
            };
            hinge::solve_from(&lp, &settings, &start)
        }
        None => hinge::solve(&lp, &settings),
    };
    let before = incumbent + p.objective_offset();
    let gain = sol.objective < before - super::float32_reach(before);
    let layer = gain.then(|| current.layer.as_stored(&sol.w, &sol.b));
    let optimal = sol.status == hinge::Status::Converged;
    *warm = Some(FoldStart {
        points: p.points().to_vec(),
        w: sol.w,
        b: sol.b,
        y: sol.y,
        steps: sol.steps,
    });
    FoldSweep { layer, optimal }
}

/// The path's score, lower is better: classification by accuracy, ties
/// broken by the mean hinge (small held-out sets tie often); regression by
/// the loss's metric.
fn path_score_of(m: &Metrics, loss: Loss) -> (f64, f64) {
    match (m.accuracy, m.hinge) {
        (Some(a), Some(h)) => (-a, h),
        _ => (score(m, loss), 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(scores: &[(f64, f64)]) -> Vec<Step> {
        let mut w = Walk::default();
        scores.iter().map(|&s| w.step(s)).collect()
    }

    #[test]
    fn the_walk_stops_after_two_worse_and_a_tie_neither_counts_nor_resets() {
        use Step::*;
        // Accuracy 0.93, 0.9333, 0.9333 with a worse hinge (a tie), 0.93:
        // one worse; then 0.925: the second.
        let s = [
            (-0.93, 0.2),
            (-0.9333, 0.17),
            (-0.9333, 0.18),
            (-0.93, 0.18),
            (-0.925, 0.1),
        ];
        // (the fourth is worse in accuracy and in hinge: a turn)
        assert_eq!(walk(&s), [Best, Best, Worse, Turn, Stop]);
        // Worse in accuracy with a better hinge is no turn.
        assert_eq!(
            walk(&[(-0.9, 0.3), (-0.89, 0.2), (-0.88, 0.4)]),
            [Best, Worse, Stop]
        );
        assert_eq!(walk(&[(-0.9, 0.3), (-0.89, 0.4)]), [Best, Turn]);
        // A better hinge at the same accuracy is the new best.
        assert_eq!(walk(&[(-0.9, 0.3), (-0.9, 0.2)]), [Best, Best]);
        // An exact tie is no better: the smaller radius stands.
        assert_eq!(
            walk(&[(0.5, 0.0), (0.5, 0.0), (0.5, 0.0)]),
            [Best, Worse, Worse]
        );
        // A best after one worse resets the count.
        let s = [(0.5, 0.0), (0.6, 0.0), (0.4, 0.0), (0.6, 0.0), (0.7, 0.0)];
        assert_eq!(walk(&s), [Best, Worse, Best, Worse, Stop]);
    }
}

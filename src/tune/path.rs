//! `--radius auto`: the relative radii of [`AUTO_PATH`], smallest first,
//! each scored by K-fold cross-validation on the training points (K sweeps
//! from the same start, each on all but one fold and scored on the fold it
//! did not see), then one sweep on all the points at the radius that scored
//! best — the refit, as scikit-learn's `*CV` estimators and glmnet's
//! cv.glmnet choose a regularisation path's point. Validation data
//! (`--val`, `--val-split`) is not used to choose: it judges the refit like
//! any sweep, once, so the choice among radii does not bias it.

use super::{score, Plan, State};
use crate::apply::Weights;
use crate::error::Result;
use crate::formats;
use crate::formulation::radius::{Radius, AUTO_PATH};
use crate::formulation::Loss;
use crate::metrics::{self, Metrics};
use crate::onnx::Activation;
use crate::pipeline::Loaded;
use crate::solve::Settings;
use serde::Serialize;
use std::time::Instant;

/// Radii in a row scoring worse than the best before them that stop the
/// path (one stopped it on noise: 78.00 % against 78.08 % on 1,250 points,
/// where the larger boxes it skipped gained most).
const PATIENCE: usize = 2;

/// The folds `--radius auto` cross-validates on without validation data.
pub const DEFAULT_FOLDS: usize = 5;

/// What cross-validation found, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct CrossValidation {
    /// Folds.
    pub folds: usize,
    /// The current model on the training points (the score a radius must
    /// beat).
    pub current: Metrics,
    /// Each radius tried, in order.
    pub radii: Vec<CvRadius>,
}

/// One radius of the cross-validated path.
#[derive(Debug, Clone, Serialize)]
pub struct CvRadius {
    /// The relative radius.
    pub relative: f64,
    /// Out-of-fold metrics: each point scored by the sweep that did not see
    /// it (the current weights where a fold's sweep did not improve its
    /// points).
    pub metrics: Metrics,
    /// Folds whose sweep improved its points.
    pub improved: usize,
    /// Seconds for the radius's K sweeps.
    pub seconds: f64,
    /// The radius the refit used.
    pub chosen: bool,
}

/// Where a score leaves the path.
#[derive(Default)]
struct Walk {
    best: Option<(f64, f64)>,
    worse: usize,
}

enum Step {
    /// The best so far.
    Best,
    /// Worse than the best before it, the path goes on.
    Worse,
    /// [`PATIENCE`] worse in a row: the path stops.
    Stop,
}

impl Walk {
    fn step(&mut self, score: (f64, f64)) -> Step {
        // A tie is not better: of two radii that score alike, the smaller.
        if self.best.is_some_and(|b| score >= b) {
            self.worse += 1;
            return if self.worse == PATIENCE {
                Step::Stop
            } else {
                Step::Worse
            };
        }
        (self.best, self.worse) = (Some(score), 0);
        Step::Best
    }
}

fn stop_line(f: f64, on: &str) {
    errln!(
        "path     {on} worse than the best at {PATIENCE} radii in a row (last {}x): the path stops",
        formats::num::fmt(f)
    );
}

/// Runs the path by K-fold cross-validation on the training points and
/// sets the rule of the sweeps that follow (the first is the refit on all
/// the points, judged like any sweep: on validation data too, when given).
/// Returns why the loop stops when no radius beats the current model.
pub(super) fn run(st: &mut State, plan: &Plan<'_>) -> Result<Result<(), String>> {
    cross_validated(st, plan)
}

/// The path by K-fold cross-validation on the training points; sets the
/// rule of the refit when a radius beats the current model.
fn cross_validated(st: &mut State, plan: &Plan<'_>) -> Result<Result<(), String>> {
    let loss = plan.options.loss;
    let data = &st.current.data;
    let folds = data.folds(plan.folds, plan.selection.seed)?;
    let parts: Vec<(Loaded, &[usize])> = folds
        .iter()
        .map(|held| {
            let rest = complement(data.y.len(), held);
            (st.current.subset(&rest), held.as_slice())
        })
        .collect();
    let now = st.current.metrics();
    errln!(
        "path     {}-fold cross-validation on the {} training points; the current model: {}",
        plan.folds,
        data.y.len(),
        now.describe()
    );
    let current = path_score_of(&now, loss);
    let mut cv = CrossValidation {
        folds: plan.folds,
        current: now,
        radii: Vec::new(),
    };
    let mut best: Option<usize> = None;
    let mut walk = Walk::default();
    for &f in &AUTO_PATH {
        let clock = Instant::now();
        let (m, improved) = out_of_fold(&st.current, &parts, f, plan)?;
        let sc = path_score_of(&m, loss);
        errln!(
            "path     {}x: cross-validated {} ({improved} of {} folds improved their points)",
            formats::num::fmt(f),
            m.describe(),
            plan.folds
        );
        cv.radii.push(CvRadius {
            relative: f,
            metrics: m,
            improved,
            seconds: clock.elapsed().as_secs_f64(),
            chosen: false,
        });
        match walk.step(sc) {
            Step::Stop => {
                stop_line(f, "cross-validation");
                break;
            }
            Step::Worse => {}
            Step::Best if sc < current => best = Some(cv.radii.len() - 1),
            Step::Best => {}
        }
    }
    let chosen = best.map(|i| {
        cv.radii[i].chosen = true;
        cv.radii[i].relative
    });
    st.cv = Some(cv);
    let Some(f) = chosen else {
        return Ok(Err(
            "no radius on the path beat the current model in cross-validation; the weights stay"
                .into(),
        ));
    };
    errln!(
        "path     radius {}x (cross-validation prefers it): one sweep on all the points",
        formats::num::fmt(f)
    );
    st.rule = Radius::Relative(f);
    Ok(Ok(()))
}

/// 0..n without the ascending `held`.
fn complement(n: usize, held: &[usize]) -> Vec<usize> {
    (0..n).filter(|t| held.binary_search(t).is_err()).collect()
}

/// The metrics of relative radius `f` on `current`'s points, each scored
/// by the sweep on the other folds (from the features: the folds' sweeps
/// are never written or re-run in ONNX Runtime), and how many folds'
/// sweeps improved their points. The folds are solved side by side, one
/// thread each up to the cores there are (`--threads 1`: one at a time).
fn out_of_fold(
    current: &Loaded,
    parts: &[(Loaded, &[usize])],
    f: f64,
    plan: &Plan<'_>,
) -> Result<(Metrics, usize)> {
    let workers = match plan.settings.threads {
        Some(t) => t as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
    .clamp(1, parts.len());
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
    let solved: Vec<Result<Solved>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((part, _)) = parts.get(i) else {
                            return Ok(mine);
                        };
                        mine.push((i, fold_sweep(part, f, plan, &quiet)?));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a fold's solve panicked"))
            .collect()
    });
    let mut a = current.features.a.clone();
    let mut improved = 0;
    for (i, wts) in solved
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
    {
        let Some(wts) = wts else { continue };
        improved += 1;
        let held = parts[i].1;
        let h = current.features.h.select(ndarray::Axis(0), held);
        let a_held = h.dot(&wts.w.t()) + &wts.b;
        for (&t, row) in held.iter().zip(a_held.rows()) {
            a.row_mut(t).assign(&row);
        }
    }
    let out = match current.layer.activation {
        Activation::Relu => a.mapv(|v| v.max(0.0)),
        // Softmax and the like keep the argmax, the only use of `out` for
        // classification; regression has no other activation.
        _ => a.clone(),
    };
    Ok((metrics::metrics(&out, &a, &current.data.y), improved))
}

/// Each fold's index and its sweep's weights, when they improved its points.
type Solved = Vec<(usize, Option<Weights>)>;

/// The weights of one fold's sweep at relative radius `f` on `part` (all
/// but that fold), when they improve its points.
fn fold_sweep(part: &Loaded, f: f64, plan: &Plan<'_>, quiet: &Settings) -> Result<Option<Weights>> {
    let deadline = super::deadline(plan, Instant::now());
    let super::Prepared {
        options,
        built,
        guard,
        ..
    } = super::assemble(
        part,
        1,
        plan,
        Radius::Relative(f),
        plan.bias_radius,
        (quiet, deadline),
    )?;
    let p = &built.problem;
    let (answer, _) = super::solve(p, guard.as_ref(), &options, part, plan, quiet, deadline)?;
    let before = built.incumbent;
    let gain = answer.objective < before - super::float32_reach(before + p.objective_offset());
    Ok(answer
        .weights
        .filter(|_| gain)
        .map(|(w, b)| Weights { w, b }))
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

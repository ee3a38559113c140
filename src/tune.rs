//! One GDSolver solver step, repeated: export → embedded HiGHS → apply, in
//! one process and without files, each sweep starting from the weights the
//! previous one kept. A sweep is kept only when the patched model, re-run
//! in ONNX Runtime, is strictly better on the sweep's points (and, with
//! validation data, no worse there); the loop stops at the first sweep that
//! is not, or, with `shrink`, retries a validation-rejected sweep in a
//! smaller box.

use crate::apply::{self, Weights};
use crate::data::Dataset;
use crate::error::Result;
use crate::formats;
use crate::formulation::{names::Var, Loss, Options};
use crate::metrics::{self, Metrics};
use crate::onnx::Activation;
use crate::pipeline::{self, Loaded, SelectSpec, WarmStart};
use crate::solve::{Highs, Settings};
use ndarray::{Array1, Array2};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// What one sweep did.
#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    /// 1-based.
    pub sweep: usize,
    /// Points handed to the solver.
    pub points: usize,
    /// HiGHS's status.
    pub status: String,
    /// Proven optimal.
    pub optimal: bool,
    /// Loss on the sweep's points before.
    pub loss_before: f64,
    /// Loss HiGHS reported.
    pub loss_solver: f64,
    /// Best bound HiGHS proved (as a loss), when it has one.
    pub loss_bound: Option<f64>,
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
    /// zero-one with `--warm-start hinge`: what the hinge LP gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warm_start: Option<crate::warm::HingeStart>,
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
    /// Every sweep run.
    pub sweeps: Vec<Sweep>,
    /// Why the loop ended.
    pub stopped: String,
}

/// How to run the sweeps.
pub struct Plan<'a> {
    /// Point selection (re-drawn each sweep; seeds advance).
    pub selection: SelectSpec,
    /// Formulation options.
    pub options: Options,
    /// HiGHS settings (time limit per sweep).
    pub settings: Settings,
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
    let f = crate::features::compute(&loaded.model, &loaded.layer, &val.x, &val.path, batch)?;
    Ok(metrics::metrics(&f.out, &f.a, &val.y))
}

/// The weights a HiGHS solution gives, clamped into the box.
pub(crate) fn weights_of(
    loaded: &Loaded,
    values: &[f64],
    opts: &Options,
    problem: &crate::formulation::Problem,
) -> Weights {
    let layer = &loaded.layer;
    let (m, n) = layer.w.dim();
    let mut w = Array2::zeros((m, n));
    let mut b: Array1<f64> = layer.b.clone();
    for (c, col) in problem.columns.iter().enumerate().take(problem.first_aux()) {
        match col.var {
            Var::W(j, i) => {
                w[[j, i]] =
                    values[c].clamp(layer.w[[j, i]] - opts.radius, layer.w[[j, i]] + opts.radius)
            }
            Var::B(j) => {
                b[j] = values[c].clamp(layer.b[j] - opts.bias_radius, layer.b[j] + opts.bias_radius)
            }
            _ => unreachable!("the first columns are the layer's parameters"),
        }
    }
    Weights { w, b }
}

/// Runs up to `plan.sweeps` sweeps from `start`; returns the final weights
/// (in the original layer's terms) and the report.
pub fn tune(start: Loaded, plan: &Plan<'_>) -> Result<(Weights, Report)> {
    let train_before = start.metrics();
    let val_before = match plan.val {
        Some(v) => Some(val_metrics(&start, v, plan.batch_size)?),
        None => None,
    };
    let mut val_current = val_before.clone();
    let mut current = start;
    let mut best = Weights {
        w: current.layer.w.clone(),
        b: current.layer.b.clone(),
    };
    let mut sweeps = Vec::new();
    let mut stopped = format!(
        "ran {} sweep{}",
        plan.sweeps,
        if plan.sweeps == 1 { "" } else { "s" }
    );
    let relu = current.layer.activation == Activation::Relu;
    let mut scale = 1.0;
    for k in 1..=plan.sweeps {
        let clock = Instant::now();
        let mut sel = plan.selection.clone();
        sel.seed = sel.seed.wrapping_add(k as u64 - 1);
        let options = Options {
            radius: plan.options.radius * scale,
            bias_radius: plan.options.bias_radius * scale,
            ..plan.options.clone()
        };
        let mut built = pipeline::build(&current, &sel, &options)?;
        let warm_start = match plan.warm_start {
            WarmStart::Current => None,
            WarmStart::Hinge => {
                let h =
                    crate::warm::hinge_start(&current, &mut built, &sel, &options, &plan.settings)?;
                eprintln!("sweep {k}: {}", h.describe());
                Some(h)
            }
        };
        let p = &built.problem;
        eprintln!(
            "sweep {k}: {} points ({} kept by presolve), {} columns ({} binary), {} rows",
            p.presolve.points_in,
            p.presolve.points_kept,
            p.columns.len(),
            p.binaries(),
            p.num_rows()
        );
        if let Some(dir) = plan.keep {
            let milp = dir.join(format!("sweep{k}.mps"));
            pipeline::write_files(&current, &sel, &options, &built, &milp)?;
        }
        let mut highs = Highs::new(&plan.settings)?;
        highs.pass(p)?;
        highs.set_start(&p.start())?;
        let out = highs.run()?;
        if let Some(dir) = plan.keep {
            highs.write_solution(&dir.join(format!("sweep{k}.sol")))?;
        }
        let before = built.incumbent + p.objective_offset;
        if !out.has_solution {
            // The current weights stand (HiGHS stopped before even taking
            // the MIP start, e.g. a very short time limit).
            eprintln!(
                "sweep {k}: HiGHS ended with '{}' and no solution; the weights stay",
                out.status
            );
            sweeps.push(Sweep {
                sweep: k,
                points: built.indices.len(),
                status: out.status.clone(),
                optimal: false,
                loss_before: before,
                loss_solver: before,
                loss_bound: None,
                loss_after: before,
                kept: false,
                train: current.metrics(),
                val: val_current.clone(),
                rejected_by_validation: false,
                seconds: clock.elapsed().as_secs_f64(),
                radius: options.radius,
                warm_start: warm_start.clone(),
            });
            stopped = format!("sweep {k}: HiGHS found no solution ({})", out.status);
            break;
        }
        let wts = weights_of(&current, &out.values, &options, p);
        let (model, layer) = apply::patched_in_memory(&current.model, &current.layer, &wts)?;
        let next = Loaded::from_parts(model, layer, current.data.clone(), plan.batch_size)?;
        let a_sel = next.features.a.select(ndarray::Axis(0), &built.indices);
        let y_sel = next.data.y.subset(&built.indices);
        let after = metrics::formulation_loss(
            a_sel.view(),
            relu,
            &plan.options,
            metrics::MarginCheck::Float32,
            &y_sel,
        );
        let improved = after < before - 1e-9 * before.abs().max(1.0);
        // With validation data, an improvement on the sweep's points counts
        // only if the validation metric of the loss does not get worse.
        let val_next = match (plan.val, improved) {
            (Some(v), true) => Some(val_metrics(&next, v, plan.batch_size)?),
            _ => None,
        };
        let rejected_by_validation = match (&val_next, &val_current) {
            (Some(n), Some(c)) => {
                let (sn, sc) = (score(n, plan.options.loss), score(c, plan.options.loss));
                sn > sc + 1e-12 * sc.abs().max(1.0)
            }
            _ => false,
        };
        let kept = improved && !rejected_by_validation;
        let train = if kept {
            next.metrics()
        } else {
            current.metrics()
        };
        let val = if kept { val_next } else { val_current.clone() };
        eprintln!(
            "sweep {k}: {} — loss on its points {} → {} (solver {}, bound {}){}",
            out.status,
            formats::num::fmt(before),
            formats::num::fmt(after),
            formats::num::fmt(out.objective + p.objective_offset),
            formats::num::fmt(out.bound + p.objective_offset),
            if kept {
                ""
            } else if rejected_by_validation {
                ": validation got worse, not kept"
            } else {
                ": not better, not kept"
            }
        );
        sweeps.push(Sweep {
            sweep: k,
            points: built.indices.len(),
            status: out.status.clone(),
            optimal: out.optimal,
            loss_before: before,
            loss_solver: out.objective + p.objective_offset,
            loss_bound: Some(out.bound + p.objective_offset),
            loss_after: after,
            kept,
            train,
            val: val.clone(),
            rejected_by_validation,
            seconds: clock.elapsed().as_secs_f64(),
            radius: options.radius,
            warm_start,
        });
        if let (true, Some(f)) = (rejected_by_validation, plan.shrink) {
            if k < plan.sweeps {
                scale *= f;
                eprintln!(
                    "sweep {k}: the next sweep tries radius {}",
                    formats::num::fmt(plan.options.radius * scale)
                );
                continue;
            }
        }
        if !kept {
            stopped = if rejected_by_validation {
                format!(
                    "sweep {k} improved its points but made the validation data worse; not kept"
                )
            } else {
                format!("sweep {k} found no improvement")
            };
            break;
        }
        val_current = val;
        best = Weights {
            w: next.layer.w.clone(),
            b: next.layer.b.clone(),
        };
        current = next;
    }
    let train_after = current.metrics();
    Ok((
        best,
        Report {
            train_before,
            train_after,
            val_before,
            val_after: val_current,
            sweeps,
            stopped,
        },
    ))
}

/// Writes `report` as JSON to `path`, atomically.
pub fn write_report(report: &Report, path: &Path) -> Result<()> {
    crate::atomic::write_all(
        path,
        serde_json::to_string_pretty(report)
            .expect("json")
            .as_bytes(),
    )
}

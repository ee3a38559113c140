//! From a solution to a patched model: map the solution's values to W and
//! b by name, check them against the export's box, patch the ONNX
//! initializers, re-run the patched model and compare what it computes with
//! what the solver said (and, after `export --protect`, check every
//! protected point). Nothing is written until everything checked out. The
//! whole sequence, with its exit-code rules, is [`ApplyPlan`]: a caller
//! (the CLI) turns its flags into a [`Request`] and the results into lines.

mod find;

pub use find::{find_manifest, manifest_data, Found, ManifestSource};

use crate::data::{self, Dataset};
use crate::error::{Error, Result};
use crate::formats::manifest::Manifest;
use crate::formats::solution::{Solution, Values};
use crate::formulation::metrics;
use crate::formulation::names::Var;
use crate::formulation::{MseBound, Weights};
use crate::inference::features::{self, Features};
use crate::onnx::{edit, Activation, FinalLayer, Model};
use ndarray::{Array1, Array2};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Maps a solution's values into W and b. With a manifest, names must be
/// ones the export wrote and values must lie in its box (within solver
/// tolerance; they are clamped into it).
pub fn map(
    sol: &Solution,
    path: &Path,
    layer: &FinalLayer,
    manifest: Option<&Manifest>,
) -> Result<Weights> {
    let columns = manifest.map(Manifest::column_map);
    let named: Vec<(String, f64, usize)> = match &sol.values {
        Values::ByName(v) => v.clone(),
        Values::ByIndex(v) => {
            let m = columns.as_ref().ok_or_else(|| {
                Error::invalid(path, format!("{} numbers columns instead of naming them; gdmilp needs the export's manifest (--manifest) to map them", sol.format.name()))
            })?;
            v.iter()
                .map(|&(k, val, line)| {
                    m.name(k)
                        .map(|n| (n, val, line))
                        .ok_or_else(|| Error::invalid(path, format!("line {line}: column {} does not exist: the export wrote {} columns (a solution of another model?)", k + 1, m.len())))
                })
                .collect::<Result<_>>()?
        }
    };
    let (m, n) = layer.w.dim();
    let bias_vars = layer.has_bias_vars();
    let mut w: Array2<Option<f64>> = Array2::from_elem((m, n), None);
    let mut b: Vec<Option<f64>> = vec![None; m];
    let mut seen = HashSet::new();
    for (name, v, line) in &named {
        let at = |msg: String| Error::invalid(path, format!("line {line}: {msg}"));
        if !seen.insert(name.as_str()) {
            return Err(at(format!("variable '{name}' appears twice")));
        }
        if !v.is_finite() {
            return Err(at(format!("variable '{name}' has the value {v}")));
        }
        let var = Var::parse(name).filter(|_| columns.as_ref().is_none_or(|k| k.contains(name)));
        let Some(var) = var else {
            return Err(at(format!(
                "variable '{name}' was not written by this export (a solution of another model?)"
            )));
        };
        match var {
            Var::W(j, i) if j < m && i < n => w[[j, i]] = Some(*v),
            Var::B(j) if j < m && bias_vars => b[j] = Some(*v),
            Var::W(..) | Var::B(_) => {
                return Err(at(format!(
                    "variable '{name}' does not fit the layer ({m} outputs × {n} inputs{}): a solution for another layer shape",
                    if bias_vars { "" } else { ", no bias variables" }
                )))
            }
            _ => {}
        }
    }
    let every = sol.format.lists_every_column();
    let missing = |name: String| {
        Error::invalid(
            path,
            format!("variable '{name}' is missing; {} solutions list every column, so the file is incomplete", sol.format.name()),
        )
    };
    let mut out_w = Array2::zeros((m, n));
    for ((j, i), v) in w.indexed_iter() {
        out_w[[j, i]] = match v {
            Some(v) => *v,
            None if every => return Err(missing(Var::W(j, i).to_string())),
            None => 0.0,
        };
    }
    let out_b = if bias_vars {
        let mut out = Array1::zeros(m);
        for (j, v) in b.iter().enumerate() {
            out[j] = match v {
                Some(v) => *v,
                None if every => return Err(missing(Var::B(j).to_string())),
                None => 0.0,
            };
        }
        out
    } else {
        layer.b.clone()
    };
    let mut weights = Weights { w: out_w, b: out_b };
    if let Some(man) = manifest {
        clamp_to_box(
            path,
            layer,
            man,
            sol.format.printed_precision(),
            &mut weights,
        )?;
    }
    Ok(weights)
}

/// Values outside the export's box follow the one rule of
/// [`crate::formulation::into_box`]; `precision` widens it by the relative
/// precision a format prints values with (0 for exact formats).
fn clamp_to_box(
    path: &Path,
    layer: &FinalLayer,
    man: &Manifest,
    precision: f64,
    wts: &mut Weights,
) -> Result<()> {
    let check = |name: String, v: &mut f64, center: f64, r: f64| -> Result<()> {
        let (lo, hi) = (center - r, center + r);
        *v = crate::formulation::into_box(*v, lo, hi, precision).ok_or_else(|| {
            Error::invalid(
                path,
                format!("{name} = {v} lies outside the box [{lo}, {hi}] the export allowed (radius {r})"),
            )
        })?;
        Ok(())
    };
    for ((j, i), v) in wts.w.indexed_iter_mut() {
        check(
            Var::W(j, i).to_string(),
            v,
            layer.w[[j, i]],
            man.options.radius,
        )?;
    }
    if layer.has_bias_vars() {
        for (j, v) in wts.b.iter_mut().enumerate() {
            check(
                Var::B(j).to_string(),
                v,
                layer.b[j],
                man.options.bias_radius,
            )?;
        }
    }
    Ok(())
}

/// What [`write`] wrote besides the model.
#[derive(Debug, Clone, Default)]
pub struct PatchedFiles {
    /// The patched model's external data files, beside it.
    pub data_files: Vec<PathBuf>,
    /// Why a data file has another name than `OUT.data` (it would have
    /// been a file the input model reads).
    pub notes: Vec<String>,
}

/// Writes the patched model to `out` (and copies of its external data
/// files beside it when the input keeps weights in some): all appear
/// together or none does; never a file the input model reads.
pub fn write(model: &Model, layer: &FinalLayer, wts: &Weights, out: &Path) -> Result<PatchedFiles> {
    let (written, files) = finish(model, layer, wts, out)?;
    crate::formats::atomic::commit_all(files)?;
    Ok(written)
}

/// [`write`] up to the renames: the files, finished, for the caller to
/// commit with its own outputs (`tune --report`).
pub fn finish(
    model: &Model,
    layer: &FinalLayer,
    wts: &Weights,
    out: &Path,
) -> Result<(PatchedFiles, Vec<crate::formats::atomic::Finished>)> {
    let patched = edit::patch(model, layer, &wts.w, &wts.b, out)?;
    let (data_files, files) = edit::write(model, &patched, out)?;
    let notes = patched.data.iter().filter_map(|d| d.note.clone()).collect();
    Ok((PatchedFiles { data_files, notes }, files))
}

/// What verification found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verification {
    /// Loss on the exported points at the current weights, as the model
    /// computes it in ONNX Runtime.
    pub incumbent_loss: f64,
    /// Loss the solver reported (objective + offset), if it did.
    pub solver_loss: Option<f64>,
    /// Loss recomputed on the patched model in ONNX Runtime.
    pub recomputed_loss: f64,
    /// mse, piecewise linear: how the file's objective relates to Σ r²
    /// (see [`MseBound`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mse_bound: Option<MseBound>,
    /// The constant part of the loss (not in the file's objective).
    pub objective_offset: f64,
    /// Metrics on the whole data file, before.
    pub before: metrics::Metrics,
    /// Metrics on the whole data file, after.
    pub after: metrics::Metrics,
    /// float16 / bfloat16 weights: what rounding the solver's weights to
    /// the model's type does to the loss ([`rounding`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounding: Option<Rounding>,
}

/// The loss on the exported points at the solver's weights and at those
/// weights rounded as the model stores them, both computed in f64 from the
/// features (float16 and bfloat16 weights only).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rounding {
    /// The coarsest type the weights pass through.
    pub dtype: &'static str,
    /// Loss at the solver's weights.
    pub solver_weights_loss: f64,
    /// Loss at the weights as stored.
    pub stored_weights_loss: f64,
}

impl Rounding {
    /// How much rounding moved the loss (positive: it lost part of the gain).
    pub fn shift(&self) -> f64 {
        self.stored_weights_loss - self.solver_weights_loss
    }
}

/// What rounding `wts` to a float16 or bfloat16 layer does to the loss on
/// the exported points (None for float32 and float64 layers, whose
/// rounding the verification's tolerances already cover).
pub fn rounding(
    man: &Manifest,
    layer: &FinalLayer,
    wts: &Weights,
    data: &Dataset,
    features: &Features,
) -> Option<Rounding> {
    use crate::onnx::dtype;
    let coarse = |t: i32| matches!(t, dtype::FLOAT16 | dtype::BFLOAT16);
    let p = &layer.weight;
    let t = [p.data_type, p.compute_type]
        .into_iter()
        .find(|&t| coarse(t))?;
    let stored = layer.as_stored(&wts.w, &wts.b);
    let relu = layer.activation == Activation::Relu;
    let h = features.h.select(ndarray::Axis(0), &man.selection.indices);
    let y = data.y.subset(&man.selection.indices);
    let loss = |w: &Array2<f64>, b: &Array1<f64>, check| {
        let a = h.dot(&w.t()) + b;
        metrics::formulation_loss(a.view(), relu, &man.options, check, &y)
    };
    Some(Rounding {
        dtype: crate::onnx::dtype::name(t),
        // The solver's weights as the solver counts (margins at ε within
        // its tolerance), the stored ones as the coarse model counts (see
        // margin_check): the shift is then what the model computes.
        solver_weights_loss: loss(&wts.w, &wts.b, metrics::MarginCheck::Float32),
        stored_weights_loss: loss(&stored.w, &stored.b, margin_check(layer)),
    })
}

impl Verification {
    /// Recomputed within 1e-6 (relative) of the solver's report; for mse in
    /// a piecewise-linear form, no larger than the most Σ r² the solver's
    /// objective allows (the objective is then an estimate, see
    /// [`MseBound`]).
    pub fn matches_solver(&self) -> bool {
        // The solver's loss moved by what rounding to the model's type does.
        let shift = self.rounding.as_ref().map_or(0.0, Rounding::shift);
        self.solver_loss.map(|s| s + shift).is_none_or(|s| {
            let tol = 1e-6 * s.abs().max(1.0);
            match self.mse_bound {
                None => (self.recomputed_loss - s).abs() <= tol,
                Some(_) => self.recomputed_loss <= self.solver_allows(s) + tol,
            }
        })
    }

    /// The largest loss the solver's reported loss `s` (objective + offset)
    /// allows: `s` itself, or with tangents (s + δ)/(1 − ε).
    pub fn solver_allows(&self, s: f64) -> f64 {
        match self.mse_bound {
            None => s,
            Some(b) => b.most(s),
        }
    }

    /// The patched model is worse than the incumbent on the exported points.
    pub fn worse_than_incumbent(&self) -> bool {
        self.recomputed_loss > self.incumbent_loss + 1e-9 * self.incumbent_loss.abs().max(1.0)
    }
}

/// How a classification margin of `layer`'s activations, as ONNX Runtime
/// computes them, is counted: within a float32 tolerance of ε, or above 0
/// for a float16 or bfloat16 layer, whose number spacing is about ε.
pub fn margin_check(layer: &FinalLayer) -> metrics::MarginCheck {
    use crate::onnx::dtype;
    let p = &layer.weight;
    if [p.data_type, p.compute_type]
        .iter()
        .any(|&t| matches!(t, dtype::FLOAT16 | dtype::BFLOAT16))
    {
        metrics::MarginCheck::Positive
    } else {
        metrics::MarginCheck::Float32
    }
}

/// Loss on `indices` at activations `a` (from ONNX Runtime) of the whole
/// data set; margins are checked as `check` says ([`margin_check`]).
pub fn loss_on(
    man: &Manifest,
    (relu, check): (bool, metrics::MarginCheck),
    a: &Array2<f64>,
    y: &data::Labels,
    indices: &[usize],
) -> f64 {
    let a_sel = a.select(ndarray::Axis(0), indices);
    let y_sel = y.subset(indices);
    metrics::formulation_loss(a_sel.view(), relu, &man.options, check, &y_sel)
}

/// Compares before, the solver's report, and the patched model.
pub fn verify(
    man: &Manifest,
    layer: &FinalLayer,
    solver_objective: Option<f64>,
    data: &Dataset,
    before: &Features,
    after: &Features,
) -> Verification {
    let relu = (layer.activation == Activation::Relu, margin_check(layer));
    let idx = &man.selection.indices;
    // A coarse model's own outputs: its softmax may round two classes to
    // one number, and its argmax then picks the first.
    let own = matches!(
        (relu.1, &man.task),
        (
            metrics::MarginCheck::Positive,
            crate::data::Task::Classification
        )
    );
    fn pick(f: &Features, own: bool) -> &Array2<f64> {
        if own {
            &f.out
        } else {
            &f.a
        }
    }
    Verification {
        // Computed by ONNX Runtime like `recomputed_loss`, so that weights
        // the patch leaves as they were compare equal in any float type.
        incumbent_loss: loss_on(man, relu, pick(before, own), &data.y, idx),
        solver_loss: solver_objective.map(|o| o + man.objective_offset),
        recomputed_loss: loss_on(man, relu, pick(after, own), &data.y, idx),
        mse_bound: man.mse_bound,
        objective_offset: man.objective_offset,
        before: metrics::metrics(&before.out, &before.a, &data.y),
        after: metrics::metrics(&after.out, &after.a, &data.y),
        rounding: None,
    }
}

/// [`map`] through the manifest `found`, if any. Without one, a format
/// that leaves out zero columns (CBC, SCIP) cannot tell a zero from a
/// missing weight: refused unless `force`. A lone manifest (not named like
/// the solution) is used only when it accepts the solution.
pub fn map_found(
    sol: &Solution,
    path: &Path,
    layer: &FinalLayer,
    found: Option<&Found>,
    force: bool,
) -> Result<Weights> {
    let Some(f) = found else {
        if !sol.format.lists_every_column() && !force {
            return Err(Error::invalid(
                path,
                format!(
                    "{} solutions leave out the columns that are 0, so without the export's manifest a missing weight cannot be told from a zero; give --manifest (--force reads every missing weight as 0)",
                    sol.format.name()
                ),
            ));
        }
        return map(sol, path, layer, None);
    };
    match (map(sol, path, layer, Some(&f.manifest)), f.source) {
        (Err(e), ManifestSource::Lone) => Err(Error::invalid(
            path,
            format!(
                "no manifest here is named like it, and the only one of this model, {}, does not accept it ({e}); give --manifest",
                f.path.display()
            ),
        )),
        (r, _) => r,
    }
}

/// What `apply` is asked to do, as the command line gives it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The solver's solution file.
    pub solution: PathBuf,
    /// The ONNX model that was exported.
    pub model: PathBuf,
    /// The patched model to write (default: [`default_output`]).
    pub output: Option<PathBuf>,
    /// The export's manifest (default: found by [`find_manifest`]).
    pub manifest: Option<PathBuf>,
    /// The solution's format, when not detected.
    pub format: Option<crate::formats::solution::SolutionFormat>,
    /// Write even a model that fails verification.
    pub force: bool,
    /// Points per ONNX Runtime call.
    pub batch_size: usize,
}

/// `model.onnx` → `model.patched.onnx`, beside it.
pub fn default_output(model: &Path) -> PathBuf {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    model.with_file_name(format!("{stem}.patched.onnx"))
}

/// An `apply`, checked before the slow work: the model read and its layer
/// located, the solution read and mapped to weights (through the manifest,
/// when there is one), the output locked and checked against every input.
/// Then [`ApplyPlan::verify`] re-runs the patched model, and
/// [`ApplyPlan::write`] writes it or refuses; [`Applied::outcome`] says
/// how it stands. The caller only prints.
pub struct ApplyPlan {
    request: Request,
    /// The patched model's path.
    pub out: PathBuf,
    /// The solution as read.
    pub solution: Solution,
    /// The manifest used, if any.
    pub found: Option<Found>,
    model: Model,
    layer: FinalLayer,
    weights: Weights,
    _lock: crate::formats::atomic::Lock,
}

/// What verification found, for [`ApplyPlan::write`] to judge.
pub struct Checked {
    /// The data file verification ran on.
    pub data_path: PathBuf,
    /// The comparison with the solver and with the current weights.
    pub verification: Verification,
    /// `--protect` at export: the protected points, checked one by one.
    pub protect: Option<crate::workflow::protect::Check>,
}

impl Checked {
    /// The patched model loses a protected point.
    pub fn loses_protected(&self) -> bool {
        self.protect.as_ref().is_some_and(|c| !c.lost.is_empty())
    }
}

/// What [`ApplyPlan::write`] wrote.
pub struct Applied {
    /// The patched model.
    pub out: PathBuf,
    /// Its data files and notes.
    pub written: PatchedFiles,
    /// Verified, or written with a caveat.
    pub outcome: Outcome,
}

/// How a written model stands: what the CLI turns into exit 0 or 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The patched model computes what the solver said (and keeps every
    /// protected point).
    Verified,
    /// Written, but not verified as the solver's answer: why, in one line.
    Caveat(String),
}

impl ApplyPlan {
    /// Reads and checks everything `request` names; refuses a solution
    /// without a usable answer (exit 1) before any other work.
    pub fn new(request: Request) -> Result<ApplyPlan> {
        let model = Model::load(&request.model)?;
        let sol = crate::formats::solution::read(&request.solution, request.format)?;
        if let crate::formats::solution::Status::NoSolution(why) = &sol.status {
            return Err(Error::Rejected(format!(
                "{}: the solver reports '{why}' and gives no usable solution; nothing written",
                request.solution.display()
            )));
        }
        let found = find_manifest(
            request.manifest.as_deref(),
            &request.solution,
            &model.sha256,
            &request.model,
        )?;
        let output_name = found
            .as_ref()
            .map(|f| f.manifest.layer.model_output.as_str());
        let layer = crate::onnx::locate(&model, output_name)?;
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
        let weights = map_found(
            &sol,
            &request.solution,
            &layer,
            found.as_ref(),
            request.force,
        )?;
        let out = request
            .output
            .clone()
            .unwrap_or_else(|| default_output(&request.model));
        let lock = crate::formats::atomic::Lock::take(&out)?;
        // The export's files too: apply reads its MILP file for the token.
        let export = found
            .as_ref()
            .map(|f| crate::formats::export_files(&f.path))
            .unwrap_or_default();
        let mut inputs = vec![request.solution.as_path()];
        inputs.extend(found.as_ref().map(|f| f.path.as_path()));
        inputs.extend(export.iter().map(PathBuf::as_path));
        crate::formats::atomic::check_outputs(&[&out], &inputs)?;
        Ok(ApplyPlan {
            request,
            out,
            solution: sol,
            found,
            model,
            layer,
            weights,
            _lock: lock,
        })
    }

    /// The solver's status, in words.
    pub fn status(&self) -> String {
        use crate::formats::solution::Status;
        match &self.solution.status {
            Status::Optimal => "optimal".to_string(),
            Status::Feasible(s) => format!("feasible, not proven optimal: {s}"),
            Status::NoSolution(s) => s.clone(),
        }
    }

    /// Re-runs the model before and after the patch on the manifest's data
    /// (and protect file) and compares; `None` without a manifest.
    pub fn verify(&self) -> Result<Option<Checked>> {
        let Some(f) = &self.found else {
            return Ok(None);
        };
        let (man_path, man) = (&f.path, &f.manifest);
        let data_path = manifest_data(man_path, man)?;
        crate::formats::atomic::check_outputs(&[&self.out], &[&data_path])?;
        let data = data::load(
            &data_path,
            data::Keys {
                x: Some(&man.data.x_key),
                y: Some(&man.data.y_key),
                mask: man.data.mask_key.as_deref(),
                task: Some(man.task),
                over_sequence: false,
            },
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
        let protect = match &man.protect {
            Some(pr) => Some(crate::workflow::protect::verify_file(
                man_path,
                man,
                pr,
                &self.out,
                (&self.model, &self.layer),
                &self.weights,
                self.request.batch_size,
            )?),
            None => None,
        };
        let batch = self.request.batch_size;
        let before = features::compute(&self.model, &self.layer, &data.x, &data.path, batch)?;
        let after = crate::workflow::patched::run_patched(
            &self.model,
            &self.layer,
            &self.weights,
            &data,
            batch,
        )?;
        let mut v = verify(
            man,
            &self.layer,
            self.solution.objective,
            &data,
            &before,
            &after,
        );
        v.rounding = rounding(man, &self.layer, &self.weights, &data, &after);
        Ok(Some(Checked {
            data_path,
            verification: v,
            protect,
        }))
    }

    /// Writes the patched model (all its files or none), unless `checked`
    /// finds it worse than the current weights or losing a protected point
    /// (exit 1, nothing written; `force` writes it with exit 3).
    pub fn write(self, checked: Option<&Checked>) -> Result<Applied> {
        let outcome = match checked {
            None => Outcome::Caveat(
                "verification skipped: no manifest of this model's export was found (give --manifest)"
                    .into(),
            ),
            Some(c) => {
                let v = &c.verification;
                let worse = v.worse_than_incumbent();
                let lost = c.loses_protected();
                if (worse || lost) && !self.request.force {
                    return Err(Error::Rejected(refusal(c)));
                }
                if worse || lost {
                    Outcome::Caveat(format!("written with --force: {}", refusal(c)))
                } else if !v.matches_solver() {
                    Outcome::Caveat(format!(
                        "the patched model's loss {} does not match the solver's {}",
                        crate::num::fmt(v.recomputed_loss),
                        v.solver_loss
                            .map(crate::num::fmt)
                            .unwrap_or_else(|| "(not reported)".into())
                    ))
                } else {
                    Outcome::Verified
                }
            }
        };
        let written = write(&self.model, &self.layer, &self.weights, &self.out)?;
        Ok(Applied {
            out: self.out,
            written,
            outcome,
        })
    }
}

/// Why [`ApplyPlan::write`] refuses, in one line.
fn refusal(c: &Checked) -> String {
    let v = &c.verification;
    let fmt = crate::num::fmt;
    match &c.protect {
        Some(p) if !p.lost.is_empty() => format!(
            "the patched model loses {} of the {} protected points of {} (first: {}); nothing written (--force writes it anyway)",
            p.lost.len(),
            p.protected,
            p.path.display(),
            p.first_lost(5)
        ),
        _ => format!(
            "the patched model is worse than the current weights on the exported points ({} > {}); nothing written (--force writes it anyway)",
            fmt(v.recomputed_loss),
            fmt(v.incumbent_loss)
        ),
    }
}

//! From a solution to a patched model: map the solution's values to W and
//! b by name, check them against the export's box, patch the ONNX
//! initializers, re-run the patched model and compare what it computes with
//! what the solver said. Nothing is written until everything checked out.

use crate::data::{self, Dataset};
use crate::error::{Error, Result};
use crate::features::{self, Features};
use crate::formats::solution::{Solution, Values};
use crate::formulation::names::Var;
use crate::formulation::MseBound;
use crate::manifest::Manifest;
use crate::metrics;
use crate::onnx::{edit, Activation, FinalLayer, Model};
use ndarray::{Array1, Array2};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// New effective parameters of the layer.
#[derive(Debug, Clone)]
pub struct Weights {
    /// W, M×N.
    pub w: Array2<f64>,
    /// b, M (the current bias when it is not a variable).
    pub b: Array1<f64>,
}

/// Maps a solution's values into W and b. With a manifest, names must be
/// ones the export wrote and values must lie in its box (within solver
/// tolerance; they are clamped into it).
pub fn map(
    sol: &Solution,
    path: &Path,
    layer: &FinalLayer,
    manifest: Option<&Manifest>,
) -> Result<Weights> {
    let named: Vec<(String, f64, usize)> = match &sol.values {
        Values::ByName(v) => v.clone(),
        Values::ByIndex(v) => {
            let m = manifest.ok_or_else(|| {
                Error::invalid(path, format!("{} numbers columns instead of naming them; gdmilp needs the export's manifest (--manifest) to map them", sol.format.name()))
            })?;
            v.iter()
                .map(|&(k, val, line)| {
                    m.columns
                        .get(k)
                        .map(|n| (n.clone(), val, line))
                        .ok_or_else(|| Error::invalid(path, format!("line {line}: column {} does not exist: the export wrote {} columns (a solution of another model?)", k + 1, m.columns.len())))
                })
                .collect::<Result<_>>()?
        }
    };
    let known: Option<HashSet<&str>> =
        manifest.map(|m| m.columns.iter().map(String::as_str).collect());
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
        let var =
            Var::parse(name).filter(|_| known.as_ref().is_none_or(|k| k.contains(name.as_str())));
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
        clamp_to_box(path, layer, man, &mut weights)?;
    }
    Ok(weights)
}

/// Values may exceed the box by a solver's feasibility tolerance (and by
/// the digits a solver prints): within 1e-6 (relative) they are clamped,
/// beyond it they are refused.
fn clamp_to_box(path: &Path, layer: &FinalLayer, man: &Manifest, wts: &mut Weights) -> Result<()> {
    let check = |name: String, v: &mut f64, center: f64, r: f64| -> Result<()> {
        let (lo, hi) = (center - r, center + r);
        let tol = 1e-6 * (1.0 + center.abs() + r);
        if *v < lo - tol || *v > hi + tol {
            return Err(Error::invalid(
                path,
                format!("{name} = {v} lies outside the box [{lo}, {hi}] the export allowed (radius {r})"),
            ));
        }
        *v = v.clamp(lo, hi);
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

/// Runs the model patched with `wts` (in memory) on `x`; checks that the
/// patched layer computes with the weights written.
pub fn run_patched(
    model: &Model,
    layer: &FinalLayer,
    wts: &Weights,
    data: &Dataset,
    batch: usize,
) -> Result<Features> {
    let (patched, stored) = patched_in_memory(model, layer, wts)?;
    features::compute(&patched, &stored, &data.x, &data.path, batch)
}

/// The model patched with `wts`, in memory (external data inlined), and
/// its layer as stored there.
pub fn patched_in_memory(
    model: &Model,
    layer: &FinalLayer,
    wts: &Weights,
) -> Result<(Model, FinalLayer)> {
    let inlined = edit::with_outputs(model, &[])?;
    let inlined = Model::from_bytes(&model.path, inlined)?;
    let patched = edit::patch(&inlined, layer, &wts.w, &wts.b, &model.path)?;
    Ok((
        Model::from_bytes(&model.path, patched.model)?,
        layer.as_stored(&wts.w, &wts.b),
    ))
}

/// What [`write`] wrote besides the model.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// The patched model's external data files, beside it.
    pub data_files: Vec<PathBuf>,
    /// Why a data file has another name than `OUT.data` (it would have
    /// been a file the input model reads).
    pub notes: Vec<String>,
}

/// Writes the patched model to `out` (and copies of its external data
/// files beside it when the input keeps weights in some), atomically;
/// never a file the input model reads.
pub fn write(model: &Model, layer: &FinalLayer, wts: &Weights, out: &Path) -> Result<Written> {
    let patched = edit::patch(model, layer, &wts.w, &wts.b, out)?;
    let data_files = edit::write(model, &patched, out)?;
    Ok(Written {
        data_files,
        notes: patched.data.iter().filter_map(|d| d.note.clone()).collect(),
    })
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
    use crate::onnx::model::dtype;
    let coarse = |t: i32| matches!(t, dtype::FLOAT16 | dtype::BFLOAT16);
    let p = &layer.weight;
    let t = [p.data_type, p.compute_type]
        .into_iter()
        .find(|&t| coarse(t))?;
    let stored = layer.as_stored(&wts.w, &wts.b);
    let relu = layer.activation == Activation::Relu;
    let h = features.h.select(ndarray::Axis(0), &man.selection.indices);
    let y = data.y.subset(&man.selection.indices);
    let loss = |w: &Array2<f64>, b: &Array1<f64>| {
        let a = h.dot(&w.t()) + b;
        // Margins counted as the verification counts them: a solver leaves
        // them at ε within its feasibility tolerance.
        metrics::formulation_loss(
            a.view(),
            relu,
            &man.options,
            metrics::MarginCheck::Float32,
            &y,
        )
    };
    Some(Rounding {
        dtype: crate::onnx::model::dtype::name(t),
        solver_weights_loss: loss(&wts.w, &wts.b),
        stored_weights_loss: loss(&stored.w, &stored.b),
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

/// Loss on `indices` at activations `a` (from the float32 model) of the
/// whole data set; margins are checked as [`metrics::MarginCheck::Float32`].
pub fn loss_on(
    man: &Manifest,
    relu: bool,
    a: &Array2<f64>,
    y: &data::Labels,
    indices: &[usize],
) -> f64 {
    let a_sel = a.select(ndarray::Axis(0), indices);
    let y_sel = y.subset(indices);
    metrics::formulation_loss(
        a_sel.view(),
        relu,
        &man.options,
        metrics::MarginCheck::Float32,
        &y_sel,
    )
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
    let relu = layer.activation == Activation::Relu;
    let idx = &man.selection.indices;
    Verification {
        // Computed by ONNX Runtime like `recomputed_loss`, so that weights
        // the patch leaves as they were compare equal in any float type.
        incumbent_loss: loss_on(man, relu, &before.a, &data.y, idx),
        solver_loss: solver_objective.map(|o| o + man.objective_offset),
        recomputed_loss: loss_on(man, relu, &after.a, &data.y, idx),
        mse_bound: man.mse_bound,
        objective_offset: man.objective_offset,
        before: metrics::metrics(&before.out, &before.a, &data.y),
        after: metrics::metrics(&after.out, &after.a, &data.y),
        rounding: None,
    }
}

/// Finds the manifest: `explicit`, else a `*.gdmilp.json` beside the
/// solution or in the working directory whose model hash is `sha256`.
pub fn find_manifest(
    explicit: Option<&Path>,
    solution: &Path,
    sha256: &str,
    model: &Path,
) -> Result<Option<(PathBuf, Manifest)>> {
    if let Some(p) = explicit {
        let m = Manifest::load(p)?;
        if m.model.sha256 != sha256 {
            return Err(Error::invalid(
                p,
                format!("was exported from a different model than {} (SHA-256 differs); the solution does not belong to this model", model.display()),
            ));
        }
        return Ok(Some((p.to_path_buf(), m)));
    }
    let mut dirs = vec![solution
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()];
    dirs.push(PathBuf::from("."));
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut candidates: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".gdmilp.json"))
            .collect();
        candidates.sort();
        let matching: Vec<(PathBuf, Manifest)> = candidates
            .into_iter()
            .filter_map(|c| Manifest::load(&c).ok().map(|m| (c, m)))
            .filter(|(_, m)| m.model.sha256 == sha256)
            .collect();
        // Several exports of one model side by side: the one named like
        // the solution (layer.sol ↔ layer.gdmilp.json), else ask.
        let stem = |p: &Path| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.split('.').next().unwrap_or_default().to_string()
        };
        let sol_stem = stem(solution);
        if let Some(i) = matching.iter().position(|(c, _)| stem(c) == sol_stem) {
            return Ok(matching.into_iter().nth(i));
        }
        match matching.len() {
            0 => continue,
            1 => return Ok(matching.into_iter().next()),
            _ => {
                let names: Vec<String> = matching
                    .iter()
                    .map(|(c, _)| c.display().to_string())
                    .collect();
                return Err(Error::usage(format!(
                    "{} manifests of this model's exports are here ({}) and none is named like {}; give --manifest",
                    names.len(),
                    names.join(", "),
                    solution.display()
                )));
            }
        }
    }
    Ok(None)
}

/// The data file a manifest names: as recorded, else relative to the
/// manifest's directory. Must have the recorded hash.
pub fn manifest_data(man_path: &Path, man: &Manifest) -> Result<PathBuf> {
    let rec = &man.data.path;
    let candidates = [
        rec.clone(),
        man_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(rec.file_name().unwrap_or_default()),
    ];
    let found = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
        Error::invalid(
            man_path,
            format!(
                "names the data file {}, which is not there; verification needs it",
                rec.display()
            ),
        )
    })?;
    Ok(found.clone())
}

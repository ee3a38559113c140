//! From a solution to a patched model: map the solution's values to W and
//! b by name, check them against the export's box, patch the ONNX
//! initializers, re-run the patched model and compare what it computes with
//! what the solver said (and, after `export --protect`, check every
//! protected point). Nothing is written until everything checked out. The
//! whole sequence, with its exit-code rules, is [`ApplyPlan`]: a caller
//! (the CLI) turns its flags into a [`Request`] and the results into lines.

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
        dtype: crate::onnx::dtype::name(t),
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

/// How [`find_manifest`] chose a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestSource {
    /// `--manifest`.
    Given,
    /// Named like the solution: `layer.v2.sol` ↔ `layer.v2.mps.gdmilp.json`.
    Named,
    /// The only manifest of this model nearby, not named like the
    /// solution: usable only when its columns and box accept the solution.
    Lone,
}

impl ManifestSource {
    /// Why this manifest, for the `manifest` line ("" when given).
    pub fn describe(self) -> &'static str {
        match self {
            ManifestSource::Given => "",
            ManifestSource::Named => " (named like the solution)",
            ManifestSource::Lone => {
                " (the only manifest of this model here; not named like the solution, but its columns and box accept it)"
            }
        }
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

/// A manifest found for a solution.
pub struct Found {
    /// Its path.
    pub path: PathBuf,
    /// Its content.
    pub manifest: Manifest,
    /// How it was chosen.
    pub source: ManifestSource,
}

/// The names a solution or manifest file shares with its MILP file: the
/// file name without `.gdmilp.json` (or the solution's extension), and that
/// name without `.mps`/`.lp` and `.gz`: `layer.v2.mps.gdmilp.json` gives
/// (`layer.v2.mps`, `layer.v2`), `layer.v2.sol` gives (`layer.v2`,
/// `layer.v2`), `layer.v2.mps.sol` gives (`layer.v2.mps`, `layer.v2`).
fn stems(path: &Path, is_manifest: bool) -> (String, String) {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let lower = name.to_ascii_lowercase();
    let full = if is_manifest {
        lower
            .strip_suffix(crate::formats::MANIFEST_SUFFIX)
            .map_or(lower.len(), str::len)
    } else {
        lower.rfind('.').filter(|&k| k > 0).unwrap_or(lower.len())
    };
    let mut end = full;
    for ext in [".gz", ".mps", ".lp"] {
        if lower[..end].ends_with(ext) && end > ext.len() {
            end -= ext.len();
        }
    }
    (name[..full].to_string(), name[..end].to_string())
}

/// Among the manifests in one folder, the one for `solution`: of the
/// model with hash `sha256`, named exactly like it, else named like it up
/// to the format (several such with one token are one export written in
/// several formats), else the only one of that model.
fn pick(
    all: Vec<(PathBuf, Manifest)>,
    solution: &Path,
    sha256: &str,
    other_model: impl Fn(&Path) -> Error,
) -> Result<Option<(PathBuf, Manifest, ManifestSource)>> {
    let (full, base) = stems(solution, false);
    let named = |exact: bool| -> Vec<&(PathBuf, Manifest)> {
        all.iter()
            .filter(|(c, _)| {
                let (f, b) = stems(c, true);
                if exact {
                    f == full
                } else {
                    b == base
                }
            })
            .collect()
    };
    let exact = named(true);
    let loose = if exact.is_empty() {
        named(false)
    } else {
        exact
    };
    let mine: Vec<&(PathBuf, Manifest)> = loose
        .iter()
        .copied()
        .filter(|(_, m)| m.model.sha256 == sha256)
        .collect();
    let all_mine: Vec<&(PathBuf, Manifest)> = all
        .iter()
        .filter(|(_, m)| m.model.sha256 == sha256)
        .collect();
    let one_export = |v: &[&(PathBuf, Manifest)]| v.iter().all(|(_, m)| m.token == v[0].1.token);
    let (found, source) = match (mine.len(), loose.len(), all_mine.len()) {
        (1.., _, _) if one_export(&mine) => (mine[0], ManifestSource::Named),
        (0, 1.., _) => return Err(other_model(&loose[0].0)),
        (0, 0, 1) => (all_mine[0], ManifestSource::Lone),
        (0, 0, 0) => return Ok(None),
        _ => {
            let several = if mine.is_empty() { all_mine } else { mine };
            let names: Vec<String> = several
                .iter()
                .map(|(c, _)| c.display().to_string())
                .collect();
            return Err(Error::usage(format!(
                "{} manifests of this model's exports are here ({}) and not exactly one is named like {}; give --manifest",
                names.len(),
                names.join(", "),
                solution.display()
            )));
        }
    };
    Ok(Some((found.0.clone(), found.1.clone(), source)))
}

/// Finds the manifest: `explicit`, else among the `*.gdmilp.json` beside
/// the solution (then in the working directory) whose model hash is
/// `sha256`, the one named like the solution, else the only one (see
/// [`pick`]). Any
/// candidate that cannot be read, or is of an older format, is an error
/// naming it; so is a manifest whose MILP file, still beside it, carries
/// another export's token.
pub fn find_manifest(
    explicit: Option<&Path>,
    solution: &Path,
    sha256: &str,
    model: &Path,
) -> Result<Option<Found>> {
    let other_model = |p: &Path| {
        Error::invalid(
            p,
            format!("was exported from a different model than {} (SHA-256 differs); the solution does not belong to this model", model.display()),
        )
    };
    if let Some(p) = explicit {
        let m = Manifest::load(p)?;
        if m.model.sha256 != sha256 {
            return Err(other_model(p));
        }
        m.check_file(p)?;
        return Ok(Some(Found {
            path: p.to_path_buf(),
            manifest: m,
            source: ManifestSource::Given,
        }));
    }
    let sol_dir = solution
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut dirs = vec![sol_dir.to_path_buf()];
    if std::fs::canonicalize(sol_dir).ok() != std::fs::canonicalize(".").ok() {
        dirs.push(PathBuf::from("."));
    }
    for dir in dirs {
        let Some((path, manifest, source)) =
            pick(manifests_in(&dir)?, solution, sha256, other_model)?
        else {
            continue;
        };
        manifest.check_file(&path)?;
        return Ok(Some(Found {
            path,
            manifest,
            source,
        }));
    }
    Ok(None)
}

/// Every `*.gdmilp.json` in `dir`, read; one that cannot be is an error.
fn manifests_in(dir: &Path) -> Result<Vec<(PathBuf, Manifest)>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut candidates: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .ends_with(crate::formats::MANIFEST_SUFFIX)
            })
        })
        .collect();
    candidates.sort();
    candidates
        .into_iter()
        .map(|c| match Manifest::load(&c) {
            Ok(m) => Ok((c, m)),
            Err(Error::Invalid { path, msg }) => Err(Error::invalid(
                path,
                format!("{msg} (apply met it looking for the solution's manifest: move it away or give --manifest)"),
            )),
            Err(e) => Err(e),
        })
        .collect()
}

/// The data file a manifest names (see [`crate::formats::manifest::recorded_file`]).
pub fn manifest_data(man_path: &Path, man: &Manifest) -> Result<PathBuf> {
    crate::formats::manifest::recorded_file(man_path, &man.data.path, &man.data.sha256, "data file")
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
/// [`ApplyPlan::write`] writes it or refuses; [`Applied::code`] is the exit
/// code. The caller only prints.
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
    /// The exit code: 0 written and verified, 3 written with a caveat.
    pub code: u8,
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
        let mut inputs = vec![request.solution.as_path()];
        inputs.extend(found.as_ref().map(|f| f.path.as_path()));
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
        let mut code = 0;
        match checked {
            None => code = 3,
            Some(c) => {
                let v = &c.verification;
                let worse = v.worse_than_incumbent();
                let lost = c.loses_protected();
                if (worse || lost) && !self.request.force {
                    return Err(Error::Rejected(refusal(c)));
                }
                if worse || lost || !v.matches_solver() {
                    code = 3;
                }
            }
        }
        let written = write(&self.model, &self.layer, &self.weights, &self.out)?;
        Ok(Applied {
            out: self.out,
            written,
            code,
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

#[cfg(test)]
mod tests {
    use super::stems;
    use std::path::Path;

    #[test]
    fn solutions_and_manifests_match_by_the_whole_name() {
        let s = |p: &str, m: bool| stems(Path::new(p), m);
        let v2 = ("layer.v2".to_string(), "layer.v2".to_string());
        assert_eq!(s("d/layer.v2.sol", false), v2);
        assert_eq!(
            s("layer.v2.mps.gdmilp.json", true),
            ("layer.v2.mps".into(), "layer.v2".into())
        );
        assert_eq!(
            s("layer.v2.mps.sol", false),
            ("layer.v2.mps".into(), "layer.v2".into())
        );
        assert_eq!(s("layer.mps.gz.gdmilp.json", true).1, "layer");
        assert_ne!(s("layer.gdmilp.json", true).1, v2.1);
        assert_eq!(s("sol", false).0, "sol");
    }
}

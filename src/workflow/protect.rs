//! `--protect FILE.npz` around the formulation's rows
//! ([`crate::formulation::protect`]): reading the protect file and running
//! the model on it, the embedded solve by row generation (solve without the
//! protected rows, add those the answer violates, solve again, until none
//! is), and the point-by-point check of a patched model in ONNX Runtime
//! that `apply` and `tune` make, against each point's promise (lowered by
//! what rounding to a float16 / bfloat16 layer can do, [`precision`]).
//! Knows no file format but the .npz.

use crate::data::{self, Dataset, Labels};
use crate::error::{Error, Result};
use crate::formats::manifest::{Manifest, ProtectRef};
use crate::formulation::protect::{Guard, Precision, Targets, MARGIN_RULE};
use crate::formulation::Weights;
use crate::formulation::{LayerData, Options};
use crate::inference::features;
use crate::onnx::dtype;
use crate::onnx::{float, Activation, FinalLayer, Model};
use ndarray::{Array2, ArrayView2};
use std::path::{Path, PathBuf};

/// The protect file, read, and the model's features on it (they do not
/// change while only the final layer does).
pub struct Protect {
    /// The points.
    pub data: Dataset,
    /// Their penultimate features, P×N.
    pub h: Array2<f64>,
    /// How finely the model holds and computes the layer.
    pub precision: Precision,
}

/// Unit roundoff and absolute floor of rounding to `t`: zero for float32
/// and float64, whose rounding the check's tolerance covers.
fn coarse(t: i32) -> (f64, f64) {
    match t {
        dtype::FLOAT16 | dtype::BFLOAT16 => (float::unit_roundoff(t), float::rounding_floor(t)),
        _ => (0.0, 0.0),
    }
}

/// What rounding `layer`'s weight and bias to the types the model stores
/// and reads them in, and the layer's arithmetic, can do (float16 and
/// bfloat16; the arithmetic when the layer computes in one of them).
pub fn precision(layer: &FinalLayer) -> Precision {
    let mut p = Precision::default();
    for param in std::iter::once(&layer.weight).chain(layer.bias.as_ref()) {
        // Rounded to the stored type, then to the one a Cast reads it as
        // (rounding twice to one type is rounding once).
        let (a, fa) = coarse(param.data_type);
        let (b, fb) = match param.compute_type {
            t if t == param.data_type => (0.0, 0.0),
            t => coarse(t),
        };
        p.weights = p.weights.max(a + b + a * b);
        p.weights_floor = p.weights_floor.max(fa * (1.0 + b) + fb);
        for t in [param.data_type, param.compute_type] {
            if t == dtype::BFLOAT16 || t == dtype::FLOAT16 && p.name.is_empty() {
                p.name = dtype::name(t);
            }
        }
    }
    (p.arithmetic, p.arithmetic_floor) = coarse(layer.weight.compute_type);
    p
}

/// Reads `path` with the data file's keys (its mask key too) and task and
/// runs the model on it (`data`, `model` and `layer` as loaded for the
/// export).
pub fn load(
    path: &Path,
    data: &Dataset,
    model: &Model,
    layer: &FinalLayer,
    batch: usize,
) -> Result<Protect> {
    let p = data::load(
        path,
        data::Keys {
            x: Some(&data.x_key),
            y: Some(&data.y_key),
            mask: data.mask_key.as_deref(),
            task: Some(data.y.task()),
            over_sequence: false,
        },
    )?;
    check_labels(&p, layer.n_out)?;
    crate::progress::begin(format_args!(
        "running {} on the {} protected points of {}…",
        model.path.display(),
        p.y.len(),
        path.display()
    ));
    let f = features::compute(model, layer, &p.x, &p.path, batch)?;
    Ok(Protect {
        data: p,
        h: f.h.into_owned(),
        precision: precision(layer),
    })
}

fn check_labels(p: &Dataset, m: usize) -> Result<()> {
    let bad = match &p.y {
        Labels::Classes(c) => c.iter().enumerate().find(|&(_, &l)| l >= m).map(|(k, l)| {
            format!(
                "label {l} of point {k} is out of range: the model has {m} classes (0..{})",
                m - 1
            )
        }),
        Labels::Targets(t) if t.ncols() != m => Some(format!(
            "targets '{}' have {} values per point but the model's layer has {m} outputs",
            p.y_key,
            t.ncols()
        )),
        Labels::Targets(_) => None,
    };
    bad.map_or(Ok(()), |msg| Err(Error::invalid(&p.path, msg)))
}

/// The protected rows of the points of `data` (features `h`).
fn build(
    data: &Dataset,
    h: ndarray::ArrayView2<'_, f64>,
    layer: &LayerData,
    relu: bool,
    opts: &Options,
    precision: Precision,
) -> Result<Guard> {
    let targets = match &data.y {
        Labels::Classes(c) => Targets::Classes(c),
        Labels::Targets(t) => Targets::Values(t.view()),
    };
    Guard::build(layer, h, targets, relu, opts, precision)
        .map_err(|m| Error::invalid(&data.path, m))
}

impl Protect {
    /// The protected rows for `layer` in the box of `opts`.
    pub fn guard(&self, layer: &LayerData, relu: bool, opts: &Options) -> Result<Guard> {
        build(&self.data, self.h.view(), layer, relu, opts, self.precision)
    }

    /// What the manifest records about `guard`.
    pub fn reference(&self, guard: &Guard, opts: &Options) -> ProtectRef {
        ProtectRef {
            path: self.data.path.clone(),
            sha256: self.data.sha256.clone(),
            x_key: self.data.x_key.clone(),
            y_key: self.data.y_key.clone(),
            mask_key: self.data.mask_key.clone(),
            rule: MARGIN_RULE.to_string(),
            margin: opts.margin,
            counts: guard.counts.clone(),
            indices: guard.protected.clone(),
        }
    }
}

/// `built` with every protected row of the file at `path` that presolve
/// leaves (an exported file holds them all), and what the manifest records;
/// also the line that says so.
pub fn add_all(
    loaded: &crate::workflow::pipeline::Loaded,
    mut built: crate::workflow::pipeline::Built,
    opts: &Options,
    path: &Path,
    batch: usize,
) -> Result<(crate::workflow::pipeline::Built, String)> {
    let pr = load(path, &loaded.data, &loaded.model, &loaded.layer, batch)?;
    let relu = loaded.layer.activation == Activation::Relu;
    let guard = pr.guard(&loaded.layer_data(), relu, opts)?;
    built.problem = guard.add_all(built.problem);
    built.protect = Some(pr.reference(&guard, opts));
    Ok((built, describe(path, &guard)))
}

/// One line for people: how many points are protected, and how many rows
/// presolve left (and, for a float16 / bfloat16 layer, that the rows allow
/// for rounding and how many points that leaves with a margin ≤ 0).
pub fn describe(path: &Path, guard: &Guard) -> String {
    let c = &guard.counts;
    let mut notes = Vec::new();
    if c.not_protected > 0 {
        notes.push(format!("{} wrong now, not protected", c.not_protected));
    }
    if c.within_rounding > 0 {
        notes.push(format!(
            "{} right now by less than rounding can move them, promised only that rounding costs them no more than that",
            c.within_rounding
        ));
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    let rounding = if guard.precision.is_exact() {
        String::new()
    } else {
        format!(
            "; the promise allows for rounding to the layer's {}",
            guard.precision.name
        )
    };
    format!(
        "{}: {} points, {} protected{notes}; {} rows remain after presolve ({} hold everywhere in the box){rounding}",
        path.display(),
        c.points,
        c.protected,
        c.rows,
        c.rows_dropped
    )
}

/// How row generation went.
#[cfg(feature = "highs")]
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Rounds {
    /// Solves after the first.
    pub rounds: usize,
    /// Protected rows the solves needed.
    pub rows: usize,
}

/// The method choice with protected rows `guard`: HiGHS while any row
/// remains (the structured methods see the objective's points alone).
#[cfg(feature = "highs")]
pub fn choice(
    guard: Option<&Guard>,
    asked: crate::solvers::strategy::Choice,
) -> crate::solvers::strategy::Choice {
    match guard {
        Some(g) if !g.is_empty() => crate::solvers::strategy::Choice::Highs,
        _ => asked,
    }
}

/// Solves `p` with `guard`'s rows by row generation: without them first,
/// then with every row an answer violates, until an answer violates none.
/// Methods that work on the objective's points alone cannot take the rows,
/// so HiGHS solves whenever a row remains. An answer that still violates a
/// row at the deadline is no answer (the weights stay).
#[cfg(feature = "highs")]
pub fn solve(
    p: &crate::formulation::Problem,
    guard: &Guard,
    opts: &Options,
    bias: &ndarray::Array1<f64>,
    settings: &crate::solvers::highs::Settings,
    deadline: Option<std::time::Instant>,
    choice: crate::solvers::strategy::Choice,
) -> Result<(crate::solvers::strategy::Answer, Rounds)> {
    let choice = self::choice(Some(guard), choice);
    let mut active = vec![false; guard.len()];
    let mut which: Vec<usize> = Vec::new();
    let mut rounds = Rounds::default();
    loop {
        let q = guard.add(p.clone(), &which);
        let mut answer =
            crate::solvers::strategy::solve(&q, opts, bias, settings, deadline, choice)?;
        let Some((w, b)) = &answer.weights else {
            return Ok((answer, rounds));
        };
        let violated = guard.violated(w, b, &active);
        if violated.is_empty() {
            return Ok((answer, rounds));
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            answer.weights = None;
            answer.status = format!(
                "{}; {} protected rows still violated at the time limit",
                answer.status,
                violated.len()
            );
            return Ok((answer, rounds));
        }
        for &r in &violated {
            active[r] = true;
        }
        which.extend(&violated);
        rounds.rounds += 1;
        rounds.rows = which.len();
        if !settings.quiet {
            crate::progress::note(format_args!(
                "protect  round {}: the answer violates {} protected rows; solving again with {} of {}",
                rounds.rounds,
                violated.len(),
                which.len(),
                guard.len()
            ));
        }
    }
}

/// Solves a model HiGHS read from a file by row generation over the
/// protected rows in it (found by name): they are taken out, and each
/// answer's violated rows go back in before HiGHS solves again. `start`
/// (the MIP start, which satisfies every protected row) is given to every
/// solve; `deadline` bounds them all, and an answer that still violates a
/// row at it is no answer.
#[cfg(feature = "highs")]
pub fn solve_file(
    h: &mut crate::solvers::highs::Highs,
    start: Option<&[f64]>,
    deadline: Option<std::time::Instant>,
) -> Result<(crate::solvers::highs::Outcome, Rounds)> {
    let held = h.take_rows(crate::formulation::protect::is_row_name)?;
    if let Some(d) = deadline.filter(|_| !held.is_empty()) {
        h.set_deadline(d);
    }
    if !held.is_empty() {
        crate::progress::note(format_args!(
            "protect  {} protected rows taken out of the file: added back as answers violate them",
            held.len()
        ));
    }
    let mut active = vec![false; held.len()];
    let mut rounds = Rounds::default();
    loop {
        if let Some(s) = start {
            h.set_start(s)?;
        }
        let mut out = h.run()?;
        let violated = held.violated(&out.values, &active);
        if !out.has_solution || violated.is_empty() {
            return Ok((out, rounds));
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            out.has_solution = false;
            out.optimal = false;
            out.status = format!(
                "{}; {} protected rows still violated at the time limit",
                out.status,
                violated.len()
            );
            return Ok((out, rounds));
        }
        h.add_rows(&held, &violated)?;
        for &k in &violated {
            active[k] = true;
        }
        rounds.rounds += 1;
        rounds.rows += violated.len();
        crate::progress::note(format_args!(
            "protect  round {}: the answer violates {} protected rows; solving again with {} of {}",
            rounds.rounds,
            violated.len(),
            rounds.rows,
            held.len()
        ));
    }
}

/// The protected points a patched model was checked on.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    /// The protect file.
    #[serde(with = "crate::formats::manifest::os_path")]
    pub path: PathBuf,
    /// Points protected.
    pub protected: usize,
    /// Protect-file indices of the points lost (ascending).
    pub lost: Vec<usize>,
    /// In a protect file of sequences, each lost point's [sequence,
    /// position].
    pub at: Option<Vec<[usize; 2]>>,
}

impl Check {
    /// The lost points of `data` among `indices`, as [`lost`] finds them.
    fn new(data: &Dataset, protected: usize, lost: Vec<usize>) -> Check {
        Check {
            path: data.path.clone(),
            protected,
            at: data.x.positions_of(&lost),
            lost,
        }
    }

    /// The first `k` lost indices, comma-separated (with their sequence
    /// and position in a file of sequences).
    pub fn first_lost(&self, k: usize) -> String {
        let v: Vec<String> = (0..self.lost.len().min(k))
            .map(|i| match &self.at {
                Some(at) => format!(
                    "{} (sequence {}, position {})",
                    self.lost[i], at[i][0], at[i][1]
                ),
                None => self.lost[i].to_string(),
            })
            .collect();
        v.join(", ")
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        if self.lost.is_empty() {
            format!(
                "{}: all {} protected points kept in ONNX Runtime",
                self.path.display(),
                self.protected
            )
        } else {
            format!(
                "{}: {} of {} protected points lost in ONNX Runtime (first: {})",
                self.path.display(),
                self.lost.len(),
                self.protected,
                self.first_lost(5)
            )
        }
    }
}

/// The points of `indices` that the patched layer output `after` (from
/// ONNX Runtime) no longer keeps as promised (`promised`, one a point, as
/// [`Guard::promised`]), against the exact output `before` (the current
/// weights times the features): classification, a margin below the
/// promised μ beyond float32's reach (1e-5 · (1 + |a_ℓ| + |a_j|), never
/// more than μ/2, so a point promised a positive margin is never kept at
/// zero); regression, an error above the error before plus its promised
/// growth by more than 1e-5 · (1 + |out| + |y|).
pub fn lost(
    indices: &[usize],
    promised: &[f64],
    relu: bool,
    before: &Array2<f64>,
    after: &Array2<f64>,
    y: &Labels,
) -> Vec<usize> {
    let kept = |k: usize, promise: f64| match y {
        Labels::Classes(c) => {
            let l = c[k];
            let a = after.row(k);
            let mut margins: Vec<(f64, f64)> = (0..a.len())
                .filter(|&j| j != l)
                .map(|j| (a[l] - a[j], a[j]))
                .collect();
            if relu {
                margins.push((a[l], 0.0));
            }
            margins.iter().all(|&(d, aj)| {
                let mut tol = 1e-5 * (1.0 + a[l].abs() + aj.abs());
                if promise > 0.0 {
                    tol = tol.min(promise / 2.0);
                }
                d >= promise - tol
            })
        }
        Labels::Targets(t) => (0..t.ncols()).all(|j| {
            let out = |v: f64| if relu { v.max(0.0) } else { v };
            let (o0, o1, yj) = (out(before[[k, j]]), out(after[[k, j]]), t[[k, j]]);
            (o1 - yj).abs() <= (o0 - yj).abs() + promise + 1e-5 * (1.0 + o1.abs() + yj.abs())
        }),
    };
    indices
        .iter()
        .zip(promised)
        .filter(|&(&k, &p)| !kept(k, p))
        .map(|(&k, _)| k)
        .collect()
}

/// The layer's output at the current weights, in exact arithmetic: what
/// the rows and the promises were computed from.
fn exact_output(h: ArrayView2<'_, f64>, layer: &FinalLayer) -> Array2<f64> {
    crate::num::product::times_t(h, layer.w.view()) + &layer.b
}

/// The protected points of `guard` checked in ONNX Runtime: the patched
/// model `after` (with its layer) run on the protect file, against the
/// promises `guard` made at the weights of `before` (`tune`'s check of a
/// sweep; ε is in the guard's promises already).
pub fn check_models(
    pr: &Protect,
    guard: &Guard,
    before: (&Model, &FinalLayer),
    after: (&Model, &FinalLayer),
    batch: usize,
) -> Result<Check> {
    let a0 = exact_output(pr.h.view(), before.1);
    let a1 = features::compute(after.0, after.1, &pr.data.x, &pr.data.path, batch)?;
    let relu = before.1.activation == Activation::Relu;
    let lost = lost(
        &guard.protected,
        &guard.promised,
        relu,
        &a0,
        &a1.a,
        &pr.data.y,
    );
    Ok(Check::new(&pr.data, guard.protected.len(), lost))
}

/// `apply`'s check of the export's protected points `pr` (manifest `man`
/// at `man_path`): the protect file re-read (refused if it changed), the
/// promises rebuilt as export made them (the manifest's box and margin,
/// the model's weights and types; a recorded point they no longer protect
/// must simply stay right), the patched model run with `wts`. `out` must
/// not be the protect file.
pub fn verify_file(
    man_path: &Path,
    man: &Manifest,
    pr: &ProtectRef,
    out: &Path,
    (model, layer): (&Model, &FinalLayer),
    wts: &Weights,
    batch: usize,
) -> Result<Check> {
    let path =
        crate::formats::manifest::recorded_file(man_path, &pr.path, &pr.sha256, "protect file")?;
    crate::formats::atomic::check_outputs(&[out], &[&path])?;
    // Compared before it is parsed: a file replaced by anything at all is
    // "changed", not "unreadable".
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, "read", e))?;
    if crate::digest::sha256_hex(&bytes) != pr.sha256 {
        return Err(Error::invalid(
            &path,
            format!(
                "has changed since the export recorded in {} (SHA-256 differs); the protected points cannot be checked: export again",
                man_path.display()
            ),
        ));
    }
    drop(bytes);
    let data = data::load(
        &path,
        data::Keys {
            x: Some(&pr.x_key),
            y: Some(&pr.y_key),
            mask: pr.mask_key.as_deref(),
            task: Some(man.task),
            over_sequence: false,
        },
    )?;
    if data.sha256 != pr.sha256 {
        return Err(Error::invalid(
            &path,
            format!(
                "has changed since the export recorded in {} (SHA-256 differs); the protected points cannot be checked: export again",
                man_path.display()
            ),
        ));
    }
    if let Some(&k) = pr.indices.iter().find(|&&k| k >= data.y.len()) {
        return Err(Error::invalid(
            man_path,
            format!(
                "protects point {k}, beyond the {} points of {}",
                data.y.len(),
                path.display()
            ),
        ));
    }
    let before = features::compute(model, layer, &data.x, &data.path, batch)?;
    let after = crate::workflow::patched::run_patched(model, layer, wts, &data, batch)?;
    let relu = layer.activation == Activation::Relu;
    let current = LayerData {
        w: layer.w.clone(),
        b: layer.b.clone(),
        bias_vars: layer.has_bias_vars(),
    };
    let guard = build(
        &data,
        before.h.view(),
        &current,
        relu,
        &man.options,
        precision(layer),
    )?;
    let promised: Vec<f64> = pr
        .indices
        .iter()
        .map(|&k| guard.promise(k).unwrap_or(0.0))
        .collect();
    let a0 = exact_output(before.h.view(), layer);
    let lost = lost(&pr.indices, &promised, relu, &a0, &after.a, &data.y);
    Ok(Check::new(&data, pr.indices.len(), lost))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn fixture_layer(name: &str) -> FinalLayer {
        let path = PathBuf::from(format!("fixtures/{name}/model.onnx"));
        crate::onnx::locate(&Model::load(&path).unwrap(), None).unwrap()
    }

    #[test]
    fn the_precision_follows_the_types_the_layer_is_stored_and_computed_in() {
        let half = precision(&fixture_layer("half_model"));
        assert_eq!(half.name, "float16");
        assert_eq!(
            (half.weights, half.arithmetic),
            (2f64.powi(-11), 2f64.powi(-11))
        );
        assert_eq!(half.weights_floor, 2f64.powi(-25));
        // Stored as bfloat16, Cast to float32 before the Gemm.
        let bf = precision(&fixture_layer("bfloat16_weights"));
        assert_eq!(bf.name, "bfloat16");
        assert_eq!((bf.weights, bf.arithmetic), (2f64.powi(-8), 0.0));
        assert!(precision(&fixture_layer("digits")).is_exact());
    }

    /// a = Σ h_i·w_i + b the way a float16 Gemm on ONNX Runtime's CPU
    /// computes it: float32 products and sums, the product rounded to
    /// float16, then the sum with the bias.
    fn half_gemm(h: &[f64], w: &[f64], b: f64) -> f64 {
        let t = dtype::FLOAT16;
        let s: f32 = h.iter().zip(w).map(|(&x, &v)| x as f32 * v as f32).sum();
        let s = float::round_to(t, s as f64);
        float::round_to(t, (s as f32 + b as f32) as f64)
    }

    #[test]
    fn rounding_any_weights_of_the_box_moves_an_activation_by_less_than_its_allowance() {
        let layer = fixture_layer("half_model");
        let prec = precision(&layer);
        let t = dtype::FLOAT16;
        let (r, rb) = (0.05, 0.05);
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut worst = 0.0f64;
        for _ in 0..2000 {
            let h: Vec<f64> = (0..layer.n_in)
                .map(|_| float::round_to(t, 8.0 * next() * next()))
                .collect();
            let j = (next() * layer.n_out as f64) as usize;
            // A weight anywhere in the box, often at its corners.
            let mut pick = |v: f64, r: f64| match (next() * 3.0) as usize {
                0 => v + r,
                1 => v - r,
                _ => v + r * (2.0 * next() - 1.0),
            };
            let w: Vec<f64> = layer.w.row(j).iter().map(|&v| pick(v, r)).collect();
            let b = pick(layer.b[j], rb);
            let exact: f64 = h.iter().zip(&w).map(|(x, v)| x * v).sum::<f64>() + b;
            let stored: Vec<f64> = w.iter().map(|&v| layer.weight.round(v)).collect();
            let computed = half_gemm(&h, &stored, float::round_to(t, b));
            let scale: f64 = h
                .iter()
                .zip(layer.w.row(j))
                .map(|(x, v)| x.abs() * (v.abs() + r))
                .sum::<f64>()
                + layer.b[j].abs()
                + rb;
            let l1: f64 = h.iter().map(|x| x.abs()).sum();
            let allow = prec.allowance(scale, l1);
            assert!(
                (computed - exact).abs() <= allow,
                "{computed} vs {exact}: allowance {allow}"
            );
            worst = worst.max((computed - exact).abs() / allow);
        }
        // Not vacuous: rounding uses a good part of it somewhere.
        assert!(worst > 0.2, "{worst}");
    }

    #[test]
    fn lost_points_of_a_file_of_sequences_are_named_by_sequence_and_position() {
        let check = |at| Check {
            path: PathBuf::from("p.npz"),
            protected: 9,
            lost: vec![3, 7],
            at,
        };
        assert_eq!(check(None).first_lost(5), "3, 7");
        let seq = check(Some(vec![[1, 0], [2, 4]]));
        assert_eq!(
            seq.first_lost(5),
            "3 (sequence 1, position 0), 7 (sequence 2, position 4)"
        );
        assert!(seq.describe().contains("2 of 9 protected points lost"));
        assert_eq!(seq.first_lost(1), "3 (sequence 1, position 0)");
    }

    #[test]
    fn a_point_is_lost_below_its_promised_margin_beyond_float32() {
        let before = array![[1.0, 0.0], [1.0, 0.9995], [0.0, 1.0]];
        // Point 0 keeps margin 0.5 ≥ ε; point 1 (margin 5e-4 < ε = 1e-3)
        // keeps 4.99e-4, within float32's reach of it.
        let after = array![[0.5, 0.0], [1.0, 0.999501], [0.0, 1.0]];
        let y = Labels::Classes(vec![0, 0, 0]);
        let mu = [1e-3, 5e-4];
        assert!(lost(&[0, 1], &mu, false, &before, &after, &y).is_empty());
        // Point 0 falls to 5e-4, half its promised ε: lost.
        let after = array![[0.0005, 0.0], [1.0, 0.9995], [0.0, 1.0]];
        assert_eq!(lost(&[0, 1], &mu, false, &before, &after, &y), vec![0]);
        // Promised a margin of −0.01 (within rounding's reach now), point 1
        // may fall to −0.01, not below.
        let after = array![[1.0, 0.0], [1.0, 1.009], [0.0, 1.0]];
        let mu = [1e-3, -0.01];
        assert!(lost(&[0, 1], &mu, false, &before, &after, &y).is_empty());
        let after = array![[1.0, 0.0], [1.0, 1.011], [0.0, 1.0]];
        assert_eq!(lost(&[0, 1], &mu, false, &before, &after, &y), vec![1]);
    }

    #[test]
    fn a_regression_point_is_lost_when_its_error_grows() {
        let before = array![[1.0], [-1.0]];
        let y = Labels::Targets(array![[1.5], [0.5]]);
        let after = array![[0.9], [-2.0]];
        // Point 1: after a ReLU its output stays 0 (error 0.5): kept.
        let exact = [0.0, 0.0];
        assert_eq!(
            lost(&[0, 1], &exact, false, &before, &after, &y),
            vec![0, 1]
        );
        assert_eq!(lost(&[0, 1], &exact, true, &before, &after, &y), vec![0]);
        // Point 0's error may grow by 0.1 (its rounding allowance): kept.
        assert!(lost(&[0], &[0.1], false, &before, &after, &y).is_empty());
    }
}

//! Protected points (`--protect`): hard rows on the layer's weights that
//! keep every point the model gets right now right, with a margin
//! (classification), or no worse (regression). The points are extra points
//! the rows read, never objective points. Numbers only: the caller gives the
//! protect file's features and labels; this module reads no file, runs no
//! model and knows no solver.
//!
//! Classification, label ℓ, margin now m⁰ = min_{j≠ℓ} (a⁰_ℓ − a⁰_j) (after
//! a ReLU also a⁰_ℓ: the ReLU's zero is one more class, j = M). A point is
//! right now when m⁰ > 0, and is then kept right by, for every j,
//!
//! `pm_k_j`:  a_ℓ − a_j ≥ μ = min(ε, m⁰),
//!
//! the formulation's margin ε, or the point's own margin when that is
//! smaller, so that the current weights stay feasible. Points wrong now are
//! not protected (counted). Regression, every point, per output j with
//! error now e⁰ = |out⁰_j − y_j|:
//!
//! `pu_k_j`:  a_j ≤ y_j + e⁰,   `pl_k_j`:  a_j ≥ y_j − e⁰;
//!
//! after a ReLU out = max(0, a), and `pl` is needed only where
//! y_j − e⁰ > 0 (max(0, a) ≥ 0 ≥ y_j − e⁰ otherwise): both stay linear.
//!
//! **Rounding** ([`Precision`]): a model that stores the layer in float16
//! or bfloat16 gets the solver's weights rounded to that type, and one
//! that computes it in that type rounds its output too. Both move an
//! activation a_j by at most its *allowance*
//!
//! A_j = (u_w + 2·u_c·(1 + u_w)) · (Σ_i |h_i|·(|w⁰_ji| + r) + |b⁰_j| + r_b)
//!       + η_w · (Σ_i |h_i| + 1) + 2·η_c
//!
//! over the box (u_w the weights' unit roundoff, 2⁻¹¹ float16, 2⁻⁸
//! bfloat16; u_c the arithmetic's, 0 when the layer computes in float32;
//! η half the smallest subnormal). The rows then ask for the allowance on
//! top: `pm_k_j`: a_ℓ − a_j ≥ μ + A_ℓ + A_j, so the margin the model
//! computes stays ≥ μ. To keep the current weights feasible, μ =
//! min(ε, min_j (m⁰_j − A_ℓ − A_j)): a point whose margin now is within its
//! allowance is promised less (μ ≤ 0: its margin may not shrink in exact
//! arithmetic, but rounding may cost it up to −μ; counted as
//! `within_rounding`). A regression row is tight at the current weights,
//! so its promise weakens instead: each output's error stays ≤ e⁰ plus
//! the point's largest allowance.
//! float32 and float64 layers have no allowance (the check's tolerance
//! covers their rounding).
//!
//! Presolve drops every row that holds for every weight in the box (the
//! interval bounds of [`super::bounds`], against the tightened bound);
//! what remains is the file's, and row generation ([`Guard::violated`])
//! adds them to an embedded solve as the answers need them.

use super::bounds::{Current, PointBounds};
use super::names::RowName;
use super::{LayerData, Options, Problem, Row, Sense};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// The protect file's labels.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a> {
    /// Class labels, one a point.
    Classes(&'a [usize]),
    /// Regression targets, points × M.
    Values(ArrayView2<'a, f64>),
}

/// How finely the model holds and computes the layer: what rounding can
/// do to an activation (zero for float32 and float64 layers).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Precision {
    /// The coarsest type the layer is rounded to ("float16", "bfloat16");
    /// empty when exact.
    pub name: &'static str,
    /// Unit roundoff of the stored weights and bias (2⁻¹¹ float16, 2⁻⁸
    /// bfloat16).
    pub weights: f64,
    /// The absolute error of rounding a weight below the normal range.
    pub weights_floor: f64,
    /// Unit roundoff of the layer's arithmetic in ONNX Runtime (its output
    /// is rounded to float16 / bfloat16 when it computes in that type).
    pub arithmetic: f64,
    /// The absolute error of rounding an output below the normal range.
    pub arithmetic_floor: f64,
}

impl Precision {
    /// Whether rounding needs no allowance.
    pub fn is_exact(&self) -> bool {
        *self == Precision::default()
    }

    /// The most rounding moves an activation whose Σ_i |h_i|·|w_i| + |b|
    /// is at most `scale` over the box, at features of Σ_i |h_i| = `l1`:
    /// the stored weights each move by u_w·|w| + η_w, the products are
    /// summed exactly enough (float32, as ONNX Runtime's CPU kernels do)
    /// and rounded to the arithmetic's type at most twice (the product,
    /// then the sum with the bias) on values of at most the rounded scale.
    pub fn allowance(&self, scale: f64, l1: f64) -> f64 {
        let (uw, uc) = (self.weights, self.arithmetic);
        (uw + 2.0 * uc * (1.0 + uw)) * scale
            + self.weights_floor * (l1 + 1.0)
            + 2.0 * self.arithmetic_floor
    }
}

/// What the protect file gave.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Points in the protect file.
    pub points: usize,
    /// Points protected (classification: right now).
    pub protected: usize,
    /// Points not protected because the model gets them wrong now.
    pub not_protected: usize,
    /// Rows that remain after presolve (the file holds them all).
    pub rows: usize,
    /// Rows presolve dropped: they hold for every weight in the box.
    pub rows_dropped: usize,
    /// Protected points whose margin now is within the rounding allowance
    /// of a float16 / bfloat16 layer: promised a margin ≤ 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub within_rounding: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One protected row in terms of the full activations a = W h + b.
#[derive(Debug, Clone)]
struct Cut {
    /// Position of its point among [`Guard`]'s features.
    pos: usize,
    name: RowName,
    sense: Sense,
    /// (output j, coefficient), ascending j.
    act: Vec<(usize, f64)>,
    /// The bound on Σ coefficient · a_j.
    bound: f64,
}

/// The protected rows of one layer and box, after presolve.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Features of the points with a remaining row.
    features: Array2<f64>,
    cuts: Vec<Cut>,
    /// Protect-file indices of the protected points (all of them, also
    /// those presolve left without a row).
    pub protected: Vec<usize>,
    /// What each protected point is promised in the model's own
    /// arithmetic: classification, the least margin μ; regression, how
    /// much each output's error may grow (the largest allowance).
    pub promised: Vec<f64>,
    /// The rounding the rows allow for.
    pub precision: Precision,
    /// The counts.
    pub counts: Counts,
}

/// The margin rule, in words (the manifest records it).
pub const MARGIN_RULE: &str = "classification: every point right now keeps a_label - a_j >= min(margin, its margin now) for every other class j (after a Relu also a_label >= that); regression: every output's |output - target| stays <= its value now; float16 / bfloat16 layers: the rows add the most rounding can move both activations, and a point's promise is lowered (regression: raised) by it where the current weights need that";

/// Whether `name` is a protected row's (`pm_k_j`, `pu_k_j`, `pl_k_j`).
pub fn is_row_name(name: &str) -> bool {
    let Some((prefix, rest)) = name.split_once('_') else {
        return false;
    };
    let number = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    matches!(prefix, "pm" | "pu" | "pl")
        && rest
            .split_once('_')
            .is_some_and(|(k, j)| number(k) && number(j))
}

impl Guard {
    /// The protected rows of the points with features `h` (P×N) and labels
    /// `targets`, for `layer` in the box of `opts`, tightened by what
    /// rounding at `precision` can do; `relu` when a ReLU follows the layer.
    pub fn build(
        layer: &LayerData,
        h: ArrayView2<'_, f64>,
        targets: Targets<'_>,
        relu: bool,
        opts: &Options,
        precision: Precision,
    ) -> Result<Guard, String> {
        let rb = opts.bias_reach(layer);
        let mut g = Guard {
            features: Array2::zeros((0, h.ncols())),
            cuts: Vec::new(),
            protected: Vec::new(),
            promised: Vec::new(),
            precision,
            counts: Counts {
                points: h.nrows(),
                ..Counts::default()
            },
        };
        let scale = Scale::new(layer, opts, precision);
        let mut keep = Vec::new();
        let mut current = Current::new(&layer.w, &layer.b, opts.radius, rb);
        for (k, hk) in h.rows().into_iter().enumerate() {
            let pb = current.at(h.view(), k);
            let allow = scale.allowances(hk);
            let planned = match targets {
                Targets::Classes(c) => margin_cuts(k, c[k], &pb, &allow, relu, opts.margin)?,
                Targets::Values(y) => Some(error_cuts(k, y.row(k).to_vec(), &pb, &allow, relu)),
            };
            let Some(Planned {
                cuts,
                dropped,
                promised,
            }) = planned
            else {
                g.counts.not_protected += 1;
                continue;
            };
            g.protected.push(k);
            g.promised.push(promised);
            g.counts.rows_dropped += dropped;
            if matches!(targets, Targets::Classes(_)) && promised <= 0.0 {
                g.counts.within_rounding += 1;
            }
            if !cuts.is_empty() {
                let pos = keep.len();
                keep.push(k);
                g.cuts.extend(cuts.into_iter().map(|c| Cut { pos, ..c }));
            }
        }
        g.counts.protected = g.protected.len();
        g.counts.rows = g.cuts.len();
        g.features = h.select(Axis(0), &keep);
        Ok(g)
    }

    /// What point `k` of the protect file is promised, when it is protected.
    pub fn promise(&self, k: usize) -> Option<f64> {
        let i = self.protected.binary_search(&k).ok()?;
        Some(self.promised[i])
    }

    /// Number of remaining rows.
    pub fn len(&self) -> usize {
        self.cuts.len()
    }

    /// No row remains.
    pub fn is_empty(&self) -> bool {
        self.cuts.is_empty()
    }

    /// `p` with every remaining row (what export writes).
    pub fn add_all(&self, p: Problem) -> Problem {
        let all: Vec<usize> = (0..self.cuts.len()).collect();
        self.add(p, &all)
    }

    /// `p` with the rows `which` (indices among the remaining rows), and the
    /// features of their points.
    pub fn add(&self, p: Problem, which: &[usize]) -> Problem {
        let mut pos_of = vec![usize::MAX; self.features.nrows()];
        let mut points = Vec::new();
        let mut rows = Vec::with_capacity(which.len());
        for &r in which {
            let c = &self.cuts[r];
            if pos_of[c.pos] == usize::MAX {
                pos_of[c.pos] = points.len();
                points.push(c.pos);
            }
            let shift: f64 = c.act.iter().map(|&(j, v)| v * p.bias_constant(j)).sum();
            rows.push(Row {
                name: c.name,
                sense: c.sense,
                rhs: c.bound - shift,
                point: Some(pos_of[c.pos]),
                act: c.act.clone(),
                aux: Vec::new(),
            });
        }
        let features = self.features.select(Axis(0), &points);
        p.with_extra_points(features, rows)
    }

    /// The remaining rows, not in `active`, that the layer (`w`, M×N, and
    /// the full bias `b`) violates by more than a solver's feasibility
    /// tolerance (1e-7, relative to the bound).
    pub fn violated(&self, w: &Array2<f64>, b: &Array1<f64>, active: &[bool]) -> Vec<usize> {
        let a = self.features.dot(&w.t()) + b;
        self.cuts
            .iter()
            .enumerate()
            .filter(|&(r, _)| !active.get(r).copied().unwrap_or(false))
            .filter(|(_, c)| {
                let lhs: f64 = c.act.iter().map(|&(j, v)| v * a[[c.pos, j]]).sum();
                let short = match c.sense {
                    Sense::Ge => c.bound - lhs,
                    Sense::Le => lhs - c.bound,
                    Sense::Eq => (lhs - c.bound).abs(),
                };
                short > 1e-7 * (1.0 + c.bound.abs())
            })
            .map(|(r, _)| r)
            .collect()
    }
}

/// What rounding can do at one point: the allowance of each activation.
struct Scale {
    /// |W⁰| + r, M×N.
    w: Array2<f64>,
    /// |b⁰| + r_b.
    b: Array1<f64>,
    precision: Precision,
}

impl Scale {
    fn new(layer: &LayerData, opts: &Options, precision: Precision) -> Scale {
        let (r, rb) = (opts.radius, opts.bias_reach(layer));
        Scale {
            w: layer.w.mapv(|v| v.abs() + r),
            b: layer.b.mapv(|v| v.abs() + rb),
            precision,
        }
    }

    /// A_j for every output j at features `h` (all zero when exact).
    fn allowances(&self, h: ArrayView1<'_, f64>) -> Vec<f64> {
        if self.precision.is_exact() {
            return vec![0.0; self.b.len()];
        }
        let abs = h.mapv(f64::abs);
        let l1 = abs.sum();
        let scale = self.w.dot(&abs) + &self.b;
        scale
            .iter()
            .map(|&s| self.precision.allowance(s, l1))
            .collect()
    }
}

/// The rows of one point, how many presolve dropped, and its promise.
struct Planned {
    cuts: Vec<Cut>,
    dropped: usize,
    promised: f64,
}

/// The margin rows of point `k` with label `l` (`allow`: each activation's
/// rounding allowance); `None` when the point is wrong now (not protected).
fn margin_cuts(
    k: usize,
    l: usize,
    pb: &PointBounds,
    allow: &[f64],
    relu: bool,
    eps: f64,
) -> Result<Option<Planned>, String> {
    let m = pb.a0.len();
    if l >= m {
        return Err(format!(
            "label {l} of point {k} is out of range: the layer has {m} outputs (classes 0..{})",
            m - 1
        ));
    }
    // (class j, margin now, its least value in the box, the pair's rounding
    // allowance); j = M: the ReLU's zero.
    let mut margins: Vec<(usize, f64, f64, f64)> = (0..m)
        .filter(|&j| j != l)
        .map(|j| {
            (
                j,
                pb.a0[l] - pb.a0[j],
                pb.margin(l, j).0,
                allow[l] + allow[j],
            )
        })
        .collect();
    if relu {
        margins.push((m, pb.a0[l], pb.activation(l).0, allow[l]));
    }
    let least =
        |f: fn(&(usize, f64, f64, f64)) -> f64| margins.iter().map(f).fold(f64::INFINITY, f64::min);
    if least(|x| x.1).partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Ok(None);
    }
    let mu = eps.min(least(|x| x.1 - x.3));
    let mut cuts = Vec::new();
    let mut dropped = 0;
    for (j, _, lo, a) in margins {
        if lo >= mu + a {
            dropped += 1;
            continue;
        }
        let mut act = vec![(l, 1.0)];
        if j < m {
            act.push((j, -1.0));
        }
        act.sort_by_key(|&(i, _)| i);
        cuts.push(Cut {
            pos: 0,
            name: RowName::ProtectMargin(k, j),
            sense: Sense::Ge,
            act,
            bound: mu + a,
        });
    }
    Ok(Some(Planned {
        cuts,
        dropped,
        promised: mu,
    }))
}

/// The error rows of regression point `k` with targets `y`, and how many
/// presolve dropped. The rows keep each error in exact arithmetic (they
/// are tight at the current weights, so no allowance fits in them); the
/// promise is that rounding adds at most the largest allowance.
fn error_cuts(k: usize, y: Vec<f64>, pb: &PointBounds, allow: &[f64], relu: bool) -> Planned {
    let mut cuts = Vec::new();
    let mut dropped = 0;
    for (j, &yj) in y.iter().enumerate() {
        let (lo, hi) = pb.activation(j);
        let out = if relu { pb.a0[j].max(0.0) } else { pb.a0[j] };
        let err = (out - yj).abs();
        let (upper, lower) = (yj + err, yj - err);
        let mut cut = |name, sense, bound| {
            cuts.push(Cut {
                pos: 0,
                name,
                sense,
                act: vec![(j, 1.0)],
                bound,
            })
        };
        if hi <= upper {
            dropped += 1;
        } else {
            cut(RowName::ProtectUpper(k, j), Sense::Le, upper);
        }
        if relu && lower <= 0.0 {
            continue;
        }
        if lo >= lower {
            dropped += 1;
        } else {
            cut(RowName::ProtectLower(k, j), Sense::Ge, lower);
        }
    }
    Planned {
        cuts,
        dropped,
        promised: allow.iter().copied().fold(0.0, f64::max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formulation::Task;
    use crate::formulation::{Cap, Form, Input, Loss, MseForm};
    use ndarray::array;

    const EXACT: Precision = Precision {
        name: "",
        weights: 0.0,
        weights_floor: 0.0,
        arithmetic: 0.0,
        arithmetic_floor: 0.0,
    };

    fn opts(task: Task, loss: Loss, radius: f64) -> Options {
        Options {
            task,
            loss,
            radius,
            bias_radius: radius,
            margin: 0.1,
            form: Form::Compact,
            keep_accuracy: false,
            cap: Cap::None,
            mse_form: MseForm::Segments,
        }
    }

    fn layer() -> LayerData {
        LayerData {
            w: array![[1.0, 0.0], [0.0, 1.0]],
            b: array![0.0, 0.0],
            bias_vars: true,
        }
    }

    #[test]
    fn the_allowance_adds_the_weights_rounding_and_two_roundings_of_the_output() {
        let (u, eta) = (2f64.powi(-11), 2f64.powi(-25));
        let half = Precision {
            name: "float16",
            weights: u,
            weights_floor: eta,
            arithmetic: u,
            arithmetic_floor: eta,
        };
        // Σ|h|·(|w⁰| + r) + |b⁰| + r_b = 3 at Σ|h| = 2.
        let want = (u + 2.0 * u * (1.0 + u)) * 3.0 + eta * 3.0 + 2.0 * eta;
        assert_eq!(half.allowance(3.0, 2.0), want);
        // bfloat16 weights read as float32: the weights alone.
        let b = 2f64.powi(-8);
        let cast = Precision {
            name: "bfloat16",
            weights: b,
            ..EXACT
        };
        assert_eq!(cast.allowance(3.0, 2.0), 3.0 * b);
        assert!(EXACT.is_exact() && !cast.is_exact());
        assert_eq!(EXACT.allowance(3.0, 2.0), 0.0);
    }

    #[test]
    fn a_rounded_layer_tightens_each_row_and_lowers_the_promise_the_current_weights_need() {
        let bf = Precision {
            name: "bfloat16",
            weights: 2f64.powi(-8),
            ..EXACT
        };
        // Point 0: margin 1, beyond the box and rounding; point 1: margin
        // 0.01 > its allowance; point 2: margin 0.001, within it.
        let h = array![[1.0, 0.0], [1.0, 0.99], [1.0, 0.999]];
        let o = opts(Task::Classification, Loss::ZeroOne, 0.01);
        let t = Targets::Classes(&[0, 0, 0]);
        let g = Guard::build(&layer(), h.view(), t, false, &o, bf).unwrap();
        assert_eq!(g.protected, vec![0, 1, 2]);
        assert_eq!((g.counts.rows, g.counts.rows_dropped), (2, 1));
        assert_eq!(g.counts.within_rounding, 1);
        // Point 1: A_0 + A_1 = u·(1·1.01 + 0.99·0.01 + 0.01 + 1·0.01 + 0.99·1.01 + 0.01).
        let allow = 2f64.powi(-8) * (1.0299 + 1.0199);
        let mu = 0.01 - allow;
        assert!((g.promise(1).unwrap() - mu).abs() < 1e-12);
        assert!((g.cuts[0].bound - (mu + allow)).abs() < 1e-12);
        assert!(g.promise(2).unwrap() < 0.0);
        assert_eq!(g.promise(0), Some(0.1));
        // The current weights stay feasible: each row is tight at most.
        let l = layer();
        assert!(g.violated(&l.w, &l.b, &[]).is_empty());
        // Exact weights: the rows ask min(ε, m⁰) and promise that.
        let g = Guard::build(&l, h.view(), t, false, &o, EXACT).unwrap();
        assert!((g.promise(1).unwrap() - 0.01).abs() < 1e-12);
        assert_eq!(g.counts.within_rounding, 0);
    }

    #[test]
    fn right_points_get_a_margin_row_wrong_ones_none_and_far_ones_are_dropped() {
        // Point 0: margin 0.05 (< ε = 0.1, so μ = 0.05); point 1 wrong;
        // point 2 right by 10, beyond any change the box allows.
        let h = array![[1.0, 0.95], [0.0, 1.0], [10.0, 0.0]];
        let o = opts(Task::Classification, Loss::ZeroOne, 0.01);
        let g = Guard::build(
            &layer(),
            h.view(),
            Targets::Classes(&[0, 0, 0]),
            false,
            &o,
            EXACT,
        )
        .unwrap();
        assert_eq!(g.protected, vec![0, 2]);
        assert_eq!(
            g.counts,
            Counts {
                points: 3,
                protected: 2,
                not_protected: 1,
                rows: 1,
                rows_dropped: 1,
                within_rounding: 0,
            }
        );
        assert_eq!(g.cuts[0].name.to_string(), "pm_0_1");
        assert!((g.cuts[0].bound - 0.05).abs() < 1e-12);
        // The current weights satisfy it; weights that swap the classes do not.
        let l = layer();
        assert!(g.violated(&l.w, &l.b, &[]).is_empty());
        let swapped = array![[0.0, 1.0], [1.0, 0.0]];
        assert_eq!(g.violated(&swapped, &l.b, &[]), vec![0]);
        assert!(g.violated(&swapped, &l.b, &[true]).is_empty());
    }

    #[test]
    fn the_rows_join_a_problem_and_hold_at_the_current_weights() {
        let l = layer();
        let o = opts(Task::Classification, Loss::ZeroOne, 0.5);
        let input = Input {
            layer: &l,
            features: array![[0.0, 1.0]].into_shared(),
            points: vec![4],
            relu: false,
            classes: Some(&[0]),
            targets: None,
        };
        let p = crate::formulation::build(input, &o).unwrap();
        let rows = p.num_rows();
        let h = array![[1.0, 0.5], [2.0, 0.0]];
        let g = Guard::build(&l, h.view(), Targets::Classes(&[0, 0]), true, &o, EXACT).unwrap();
        let q = g.add_all(p);
        assert_eq!(q.num_rows(), rows + g.len());
        assert_eq!(q.extra_points(), 2);
        assert!(q.max_violation(&q.start()) <= 1e-12);
        // The indexes, rebuilt, read the extra points' features both ways.
        crate::formulation::problem::tests::assert_rows_match_columns(&q);
        // pm_0_2: the ReLU's zero, a_0 ≥ min(ε, 0.5) = 0.1.
        let names: Vec<String> = (rows..q.num_rows())
            .map(|r| q.row_head(r).name.to_string())
            .collect();
        assert!(names.contains(&"pm_0_2".to_string()), "{names:?}");
        assert!(names.iter().all(|n| is_row_name(n)));
        for other in ["mg_0_2", "pm_0", "pm_0_2_1", "pu_x_1", "keep"] {
            assert!(!is_row_name(other), "{other}");
        }
    }

    #[test]
    fn regression_keeps_each_error_and_a_relu_needs_no_lower_row_below_zero() {
        let l = layer();
        let o = opts(Task::Regression, Loss::L1, 1.0);
        let h = array![[1.0, -1.0]];
        let y = array![[1.5, 0.2]];
        let g = Guard::build(&l, h.view(), Targets::Values(y.view()), false, &o, EXACT).unwrap();
        let names: Vec<String> = g.cuts.iter().map(|c| c.name.to_string()).collect();
        assert_eq!(names, ["pu_0_0", "pl_0_0", "pu_0_1", "pl_0_1"]);
        // After a ReLU output 1 is 0 now (error 0.2): 0 ≥ 0.2 − 0.2 always.
        let g = Guard::build(&l, h.view(), Targets::Values(y.view()), true, &o, EXACT).unwrap();
        let names: Vec<String> = g.cuts.iter().map(|c| c.name.to_string()).collect();
        assert_eq!(names, ["pu_0_0", "pl_0_0", "pu_0_1"]);
        assert!(g.violated(&l.w, &l.b, &[]).is_empty());
    }
}

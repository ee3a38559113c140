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
//! Presolve drops every row that holds for every weight in the box (the
//! interval bounds of [`super::bounds`]); what remains is the file's, and
//! row generation ([`Guard::violated`]) adds them to an embedded solve as
//! the answers need them.

use super::bounds::PointBounds;
use super::names::RowName;
use super::{LayerData, Options, Problem, Row, Sense};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// The protect file's labels.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a> {
    /// Class labels, one a point.
    Classes(&'a [usize]),
    /// Regression targets, points × M.
    Values(ArrayView2<'a, f64>),
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
    /// The counts.
    pub counts: Counts,
}

/// The margin rule, in words (the manifest records it).
pub const MARGIN_RULE: &str = "classification: every point right now keeps a_label - a_j >= min(margin, its margin now) for every other class j (after a Relu also a_label >= that); regression: every output's |output - target| stays <= its value now";

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
    /// `targets`, for `layer` in the box of `opts`; `relu` when a ReLU
    /// follows the layer.
    pub fn build(
        layer: &LayerData,
        h: ArrayView2<'_, f64>,
        targets: Targets<'_>,
        relu: bool,
        opts: &Options,
    ) -> Result<Guard, String> {
        let rb = opts.bias_reach(layer);
        let mut g = Guard {
            features: Array2::zeros((0, h.ncols())),
            cuts: Vec::new(),
            protected: Vec::new(),
            counts: Counts {
                points: h.nrows(),
                ..Counts::default()
            },
        };
        let mut keep = Vec::new();
        for (k, hk) in h.rows().into_iter().enumerate() {
            let pb = PointBounds::new(hk, &layer.w, &layer.b, opts.radius, rb);
            let cuts = match targets {
                Targets::Classes(c) => margin_cuts(k, c[k], &pb, relu, opts.margin)?,
                Targets::Values(y) => Some(error_cuts(k, y.row(k).to_vec(), &pb, relu)),
            };
            let Some((cuts, dropped)) = cuts else {
                g.counts.not_protected += 1;
                continue;
            };
            g.protected.push(k);
            g.counts.rows_dropped += dropped;
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

/// The margin rows of point `k` with label `l`, and how many presolve
/// dropped; `None` when the point is wrong now (not protected).
type Cuts = Option<(Vec<Cut>, usize)>;

fn margin_cuts(k: usize, l: usize, pb: &PointBounds, relu: bool, eps: f64) -> Result<Cuts, String> {
    let m = pb.a0.len();
    if l >= m {
        return Err(format!(
            "label {l} of point {k} is out of range: the layer has {m} outputs (classes 0..{})",
            m - 1
        ));
    }
    // (class j, margin now, its least value in the box); j = M: the ReLU's zero.
    let mut margins: Vec<(usize, f64, f64)> = (0..m)
        .filter(|&j| j != l)
        .map(|j| (j, pb.a0[l] - pb.a0[j], pb.margin(l, j).0))
        .collect();
    if relu {
        margins.push((m, pb.a0[l], pb.activation(l).0));
    }
    let now = margins.iter().map(|x| x.1).fold(f64::INFINITY, f64::min);
    if now.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Ok(None);
    }
    let mu = eps.min(now);
    let mut cuts = Vec::new();
    let mut dropped = 0;
    for (j, _, lo) in margins {
        if lo >= mu {
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
            bound: mu,
        });
    }
    Ok(Some((cuts, dropped)))
}

/// The error rows of regression point `k` with targets `y`, and how many
/// presolve dropped.
fn error_cuts(k: usize, y: Vec<f64>, pb: &PointBounds, relu: bool) -> (Vec<Cut>, usize) {
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
    (cuts, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formulation::Task;
    use crate::formulation::{Cap, Form, Input, Loss, MseForm};
    use ndarray::array;

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
    fn right_points_get_a_margin_row_wrong_ones_none_and_far_ones_are_dropped() {
        // Point 0: margin 0.05 (< ε = 0.1, so μ = 0.05); point 1 wrong;
        // point 2 right by 10, beyond any change the box allows.
        let h = array![[1.0, 0.95], [0.0, 1.0], [10.0, 0.0]];
        let o = opts(Task::Classification, Loss::ZeroOne, 0.01);
        let g = Guard::build(&layer(), h.view(), Targets::Classes(&[0, 0, 0]), false, &o).unwrap();
        assert_eq!(g.protected, vec![0, 2]);
        assert_eq!(
            g.counts,
            Counts {
                points: 3,
                protected: 2,
                not_protected: 1,
                rows: 1,
                rows_dropped: 1
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
            features: array![[0.0, 1.0]],
            points: vec![4],
            relu: false,
            classes: Some(&[0]),
            targets: None,
        };
        let p = crate::formulation::build(input, &o).unwrap();
        let rows = p.num_rows();
        let h = array![[1.0, 0.5], [2.0, 0.0]];
        let g = Guard::build(&l, h.view(), Targets::Classes(&[0, 0]), true, &o).unwrap();
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
        let g = Guard::build(&l, h.view(), Targets::Values(y.view()), false, &o).unwrap();
        let names: Vec<String> = g.cuts.iter().map(|c| c.name.to_string()).collect();
        assert_eq!(names, ["pu_0_0", "pl_0_0", "pu_0_1", "pl_0_1"]);
        // After a ReLU output 1 is 0 now (error 0.2): 0 ≥ 0.2 − 0.2 always.
        let g = Guard::build(&l, h.view(), Targets::Values(y.view()), true, &o).unwrap();
        let names: Vec<String> = g.cuts.iter().map(|c| c.name.to_string()).collect();
        assert_eq!(names, ["pu_0_0", "pl_0_0", "pu_0_1"]);
        assert!(g.violated(&l.w, &l.b, &[]).is_empty());
    }
}

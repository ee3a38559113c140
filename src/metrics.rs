//! Losses and accuracy, on model outputs or on a layer's activations.
//! Shared by `eval`, point selection, export's incumbent check and apply's
//! verification, so every number gdmilp reports is computed one way.

use crate::data::Labels;
use crate::formulation::{Loss, Options};
use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::Serialize;

/// Summary metrics of a model on a data set.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metrics {
    /// Points evaluated.
    pub points: usize,
    /// Classification: points whose argmax is the label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correct: Option<usize>,
    /// Classification: correct / points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Regression: mean absolute error over all outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    /// Regression: mean squared error over all outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mse: Option<f64>,
    /// Regression: the largest absolute error (the linf loss).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_abs_error: Option<f64>,
    /// Classification: mean multiclass hinge loss with margin 1, on the
    /// final layer's activations (before Softmax and the like).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hinge: Option<f64>,
}

impl Metrics {
    /// For people: `accuracy 0.9350 (374 of 400 correct), hinge 0.1895`, or
    /// `MAE …, MSE …, max error … over T points`.
    pub fn describe(&self) -> String {
        match (self.accuracy, self.mae, self.mse) {
            (Some(acc), _, _) => format!(
                "accuracy {:.4} ({} of {} correct), hinge {:.4}",
                acc,
                self.correct.unwrap_or(0),
                self.points,
                self.hinge.unwrap_or(0.0)
            ),
            (_, Some(mae), Some(mse)) => format!(
                "MAE {mae:.6}, MSE {mse:.6}, max error {:.6} over {} points",
                self.max_abs_error.unwrap_or(0.0),
                self.points
            ),
            _ => String::new(),
        }
    }
}

/// Σ_t max(0, max_{j ≠ ℓ_t} δ − (a_tℓ − a_tj)): the multiclass hinge loss
/// at activations `a` (points × M).
fn hinge_sum(a: ArrayView2<'_, f64>, classes: &[usize], delta: f64) -> f64 {
    a.rows()
        .into_iter()
        .zip(classes)
        .map(|(r, &l)| hinge(r, l, delta))
        .sum()
}

/// One point's multiclass hinge loss max(0, max_{j ≠ ℓ} δ − (a_ℓ − a_j)) at
/// its activations `row`, label `l`.
pub fn hinge(row: ArrayView1<'_, f64>, l: usize, delta: f64) -> f64 {
    row.iter()
        .enumerate()
        .filter(|&(j, _)| j != l)
        .map(|(_, &v)| delta - (row[l] - v))
        .fold(0.0, f64::max)
}

/// Index of the largest value (first on ties).
pub fn argmax(row: ArrayView1<'_, f64>) -> usize {
    let mut best = 0;
    for (k, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = k;
        }
    }
    best
}

/// Per point: misclassified (classification) and loss (L1 for regression,
/// 0/1 for classification).
pub fn per_point(out: &Array2<f64>, y: &Labels) -> (Option<Vec<bool>>, Vec<f64>) {
    match y {
        Labels::Classes(c) => {
            let wrong: Vec<bool> = out
                .rows()
                .into_iter()
                .zip(c)
                .map(|(r, &l)| argmax(r) != l)
                .collect();
            let loss = wrong.iter().map(|&w| w as u8 as f64).collect();
            (Some(wrong), loss)
        }
        Labels::Targets(t) => {
            let loss = out
                .rows()
                .into_iter()
                .zip(t.rows())
                .map(|(o, y)| o.iter().zip(y.iter()).map(|(a, b)| (a - b).abs()).sum())
                .collect();
            (None, loss)
        }
    }
}

/// Metrics of model outputs `out` (points × values) against `y`; the hinge
/// loss is taken on the layer's activations `a` (points × M), where the
/// formulation defines it.
pub fn metrics(out: &Array2<f64>, a: &Array2<f64>, y: &Labels) -> Metrics {
    let points = out.nrows();
    match y {
        Labels::Classes(c) => {
            let correct = out
                .rows()
                .into_iter()
                .zip(c)
                .filter(|(r, &l)| argmax(*r) == l)
                .count();
            let hinge = hinge_sum(a.view(), c, 1.0);
            Metrics {
                points,
                correct: Some(correct),
                accuracy: Some(correct as f64 / points.max(1) as f64),
                mae: None,
                mse: None,
                max_abs_error: None,
                hinge: Some(hinge / points.max(1) as f64),
            }
        }
        Labels::Targets(t) => {
            let n = (t.len()).max(1) as f64;
            let (mut l1, mut l2, mut linf) = (0.0, 0.0, 0.0f64);
            for (a, b) in out.iter().zip(t.iter()) {
                l1 += (a - b).abs();
                l2 += (a - b) * (a - b);
                linf = linf.max((a - b).abs());
            }
            Metrics {
                points,
                correct: None,
                accuracy: None,
                mae: Some(l1 / n),
                mse: Some(l2 / n),
                max_abs_error: Some(linf),
                hinge: None,
            }
        }
    }
}

/// How exactly [`formulation_loss`] checks classification margins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MarginCheck {
    /// Exactly (activations computed in f64 from the formulation's data).
    Exact,
    /// Activations from a float32 model: a margin counts when it is within
    /// 1e-5 · (1 + |a_ℓ| + |a_j|) of ε (float32 weights and arithmetic move
    /// a margin the solver left at exactly ε by about that much), but never
    /// less than ε/2, so a point is never counted at zero margin.
    Float32,
}

/// The formulation's loss (objective + offset) at layer activations `a`
/// (selected points × M), for the loss `opts` names: mse Σ(out − y)², l1
/// Σ|out − y| and linf max|out − y| with out = a or ReLU(a); zero-one
/// −#(points correct with margin ε, on the outputs: after a ReLU too);
/// hinge Σ_t max(0, max_j δ − (a_tℓ − a_tj)).
pub fn formulation_loss(
    a: ArrayView2<'_, f64>,
    relu: bool,
    opts: &Options,
    check: MarginCheck,
    y: &Labels,
) -> f64 {
    let margin = opts.margin;
    let out = |v: f64| if relu { v.max(0.0) } else { v };
    match (y, opts.loss) {
        (Labels::Targets(t), Loss::Linf) => a
            .iter()
            .zip(t.iter())
            .map(|(&v, &y)| (out(v) - y).abs())
            .fold(0.0, f64::max),
        (Labels::Targets(t), Loss::Mse) => a
            .iter()
            .zip(t.iter())
            .map(|(&v, &y)| (out(v) - y).powi(2))
            .sum(),
        (Labels::Targets(t), _) => a
            .iter()
            .zip(t.iter())
            .map(|(&v, &y)| (out(v) - y).abs())
            .sum(),
        (Labels::Classes(c), Loss::Hinge) => hinge_sum(a, c, margin),
        (Labels::Classes(c), _) => {
            let needed = |al: f64, aj: f64| match check {
                MarginCheck::Exact => margin,
                MarginCheck::Float32 => {
                    margin - (1e-5 * (1.0 + al.abs() + aj.abs())).min(margin / 2.0)
                }
            };
            -(a.rows()
                .into_iter()
                .zip(c)
                .filter(|(r, &l)| {
                    // After a ReLU the margins are the outputs' (see
                    // formulation::classification: the same condition).
                    let ol = out(r[l]);
                    r.iter()
                        .enumerate()
                        .all(|(j, &v)| j == l || ol - out(v) >= needed(ol, out(v)))
                })
                .count() as f64)
        }
    }
}

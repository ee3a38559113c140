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

/// Two models' outputs on the same points, compared point by point: is the
/// second better by more than chance?
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Paired {
    /// What is compared, point by point.
    pub measure: Measure,
    /// Points the second model does better on: right now and wrong before
    /// (`correct`), a smaller error (`error`).
    pub better: usize,
    /// Points it does worse on.
    pub worse: usize,
    /// One-sided p-value of "the second is no better": McNemar's exact sign
    /// test on the points whose class changed (`correct`), the paired t
    /// statistic's normal tail on each point's error (`error`).
    pub p: f64,
}

/// The per-point measure [`paired`] compares.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    /// Classification, whatever the loss: right or wrong (accuracy is
    /// what a user of the model gets; a paired test on the hinge loss let
    /// sweeps through that lowered test accuracy on the paper's digits
    /// loop, 2 of 50).
    Correct,
    /// Regression: the squared error (mse), absolute error (l1) or largest
    /// absolute error over the outputs (linf).
    Error,
}

impl Paired {
    /// For people: `fixes 12 points, breaks 3 (p = 0.018)`, or `lowers the
    /// error on 12 points, raises it on 3 (p = 0.018)`.
    pub fn describe(&self) -> String {
        let (up, down) = match self.measure {
            Measure::Correct => ("fixes", "breaks"),
            Measure::Error => ("lowers the error on", "raises it on"),
        };
        format!(
            "{up} {} point{}, {down} {} (p = {})",
            self.better,
            if self.better == 1 { "" } else { "s" },
            self.worse,
            fmt_p(self.p)
        )
    }
}

/// A p-value for people: three significant digits (`0.0946`), or two in
/// exponent form below 0.001 (`5.6e-72`: three digits of so small a number
/// print as float noise).
fn fmt_p(p: f64) -> String {
    if p >= 1e-3 || p == 0.0 {
        crate::num::fmt(crate::num::round3(p))
    } else {
        format!("{p:.1e}")
    }
}

/// Compares the outputs `after` with `before` (points × values) on labels
/// `y`, point by point: classes right or wrong, whatever the loss, or the
/// error `loss` charges (regression). `group` gives each point's group
/// (its sequence; non-decreasing): the counts are points, but the p-value
/// takes each group as one observation, since the points of a sequence are
/// not independent (30 points each repeated as a 40-position sequence
/// otherwise passed at p = 0.02 where the 30 alone gave 0.375).
pub fn paired(
    before: &Array2<f64>,
    after: &Array2<f64>,
    y: &Labels,
    loss: Loss,
    group: &[usize],
) -> Paired {
    match y {
        Labels::Classes(c) => {
            let right = |o: &Array2<f64>, t: usize| argmax(o.row(t)) == c[t];
            let change: Vec<f64> = (0..c.len())
                .map(|t| match (right(before, t), right(after, t)) {
                    (false, true) => 1.0,
                    (true, false) => -1.0,
                    _ => 0.0,
                })
                .collect();
            let count = |d: &[f64], s: f64| d.iter().filter(|&&v| v * s > 0.0).count();
            // McNemar's sign test on the groups that net fixed or broke.
            let net = group_sums(&change, group);
            Paired {
                measure: Measure::Correct,
                better: count(&change, 1.0),
                worse: count(&change, -1.0),
                p: sign_test(count(&net, 1.0), count(&net, -1.0)),
            }
        }
        Labels::Targets(y) => {
            let point = |o: &Array2<f64>, i: usize| {
                let e = o
                    .row(i)
                    .into_iter()
                    .zip(y.row(i))
                    .map(|(a, b)| (a - b).abs());
                match loss {
                    Loss::Mse => e.map(|v| v * v).sum(),
                    Loss::Linf => e.fold(0.0, f64::max),
                    _ => e.sum::<f64>(),
                }
            };
            let d: Vec<f64> = (0..y.nrows())
                .map(|i| point(before, i) - point(after, i))
                .collect();
            Paired {
                measure: Measure::Error,
                better: d.iter().filter(|&&v| v > 0.0).count(),
                worse: d.iter().filter(|&&v| v < 0.0).count(),
                p: paired_t(&group_sums(&d, group)),
            }
        }
    }
}

/// The sums of `v` over each run of equal `group` ids.
fn group_sums(v: &[f64], group: &[usize]) -> Vec<f64> {
    let mut sums: Vec<f64> = Vec::new();
    for (t, &x) in v.iter().enumerate() {
        match sums.last_mut() {
            Some(s) if t > 0 && group[t] == group[t - 1] => *s += x,
            _ => sums.push(x),
        }
    }
    sums
}

/// P(X ≥ better) for X ~ Binomial(better + worse, ½): the chance that a
/// change that helps and hurts alike fixes at least `better` of the points
/// it changes (1 when it changes none).
pub fn sign_test(better: usize, worse: usize) -> f64 {
    let n = better + worse;
    // log P(X = k), from k = 0 up, summed in log space (n may be large).
    let mut log_pk = -(n as f64) * std::f64::consts::LN_2;
    let mut tail = f64::NEG_INFINITY;
    for k in 0..=n {
        if k >= better {
            let m = tail.max(log_pk);
            tail = m + ((tail - m).exp() + (log_pk - m).exp()).ln();
        }
        log_pk += ((n - k) as f64 / (k + 1) as f64).ln();
    }
    tail.exp().min(1.0)
}

/// One-sided p-value of mean(d) ≤ 0 from the paired differences `d`: the
/// normal tail of mean / (sd / √n) (0 when every difference is the same
/// positive number, 1 when there is none or the mean is not positive).
pub fn paired_t(d: &[f64]) -> f64 {
    let n = d.len() as f64;
    let mean = d.iter().sum::<f64>() / n.max(1.0);
    if d.is_empty() || mean <= 0.0 {
        return 1.0;
    }
    let var = d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    if var == 0.0 {
        return 0.0;
    }
    upper_normal_tail(mean / (var / n).sqrt())
}

/// P(Z ≥ z) for a standard normal Z: erfc by Abramowitz and Stegun's
/// 7.1.26 (absolute error below 1.5e-7, ample for a 0.05 threshold).
fn upper_normal_tail(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 {
        erfc / 2.0
    } else {
        1.0 - erfc / 2.0
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
    /// Activations from a float16 or bfloat16 model: a margin counts when
    /// it is above 0, as the model's argmax counts it. ε (0.001 by default)
    /// is below the spacing of such numbers (float16 has 0.000977 between 1
    /// and 2), so a margin the solver left at ε comes out anywhere from 0 to
    /// a few spacings: what the model then computes is the count that means
    /// anything.
    Positive,
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
                MarginCheck::Positive => f64::MIN_POSITIVE,
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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// P(X ≥ b) for X ~ Binomial(n, ½) by exact integers.
    fn exact_tail(b: usize, n: usize) -> f64 {
        let choose = |k: usize| (0..k).fold(1u128, |c, i| c * (n - i) as u128 / (i + 1) as u128);
        (b..=n).map(choose).sum::<u128>() as f64 / 2f64.powi(n as i32)
    }

    #[test]
    fn the_sign_test_is_the_binomial_tail() {
        assert_eq!(sign_test(0, 0), 1.0);
        assert!((sign_test(5, 0) - 1.0 / 32.0).abs() < 1e-12);
        assert!((sign_test(3, 1) - 5.0 / 16.0).abs() < 1e-12);
        for (b, w) in [(1, 3), (17, 9), (40, 20), (30, 30)] {
            let (p, q) = (sign_test(b, w), exact_tail(b, b + w));
            assert!(
                (p - q).abs() < 1e-9 * q.max(1e-300) + 1e-12,
                "{b}/{w}: {p} vs {q}"
            );
        }
        // Thousands of changed points: no overflow, and the tail is tiny
        // or a half, as it should be.
        assert!(sign_test(1_100, 900) < 1e-5 && sign_test(1_100, 900) > 0.0);
        assert!((sign_test(1_000, 1_000) - 0.5).abs() < 0.01);
    }

    #[test]
    fn p_values_print_short() {
        assert_eq!(fmt_p(0.094_623_565), "0.0946");
        assert_eq!(fmt_p(1.0), "1");
        assert_eq!(fmt_p(5.62e-72), "5.6e-72");
        assert_eq!(fmt_p(0.0), "0");
    }

    #[test]
    fn the_normal_tail_and_the_paired_t_test() {
        assert!((upper_normal_tail(1.959_964) - 0.025).abs() < 1e-6);
        assert!((upper_normal_tail(-1.644_854) - 0.95).abs() < 1e-6);
        assert!((upper_normal_tail(0.0) - 0.5).abs() < 1e-7);
        assert_eq!(paired_t(&[]), 1.0);
        assert_eq!(paired_t(&[-1.0, 0.5, 0.4]), 1.0);
        assert_eq!(paired_t(&[0.2, 0.2]), 0.0);
        // mean 1, sd 2 over 4 points: t = 1 / (2 / 2) = 1.
        let d = [3.0, -1.0, 3.0, -1.0];
        let sd = (16.0f64 / 3.0).sqrt();
        assert!((paired_t(&d) - upper_normal_tail(1.0 / (sd / 2.0))).abs() < 1e-12);
    }

    #[test]
    fn paired_counts_points_fixed_and_broken_and_regression_errors() {
        let y = Labels::Classes(vec![0, 1, 1, 0]);
        let before = array![[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]];
        let after = array![[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]];
        let each = [0, 1, 2, 3];
        let p = paired(&before, &after, &y, Loss::ZeroOne, &each);
        assert_eq!((p.better, p.worse), (1, 2));
        assert!((p.p - sign_test(1, 2)).abs() < 1e-12);
        // Classes are compared whatever the loss.
        assert_eq!(paired(&before, &after, &y, Loss::Hinge, &each), p);
        let y = Labels::Targets(array![[0.0, 0.0], [1.0, 1.0]]);
        let before = array![[1.0, 1.0], [1.0, 1.0]];
        let after = array![[0.0, 1.5], [1.0, 3.0]];
        // mse: 2 → 2.25, 0 → 4 (both worse); l1: 2 → 1.5 (better), 0 → 2;
        // linf: 1 → 1.5, 0 → 2.
        let m = paired(&before, &after, &y, Loss::Mse, &each[..2]);
        assert_eq!((m.better, m.worse, m.p), (0, 2, 1.0));
        let l = paired(&before, &after, &y, Loss::L1, &each[..2]);
        assert_eq!((l.better, l.worse), (1, 1));
        let linf = paired(&before, &after, &y, Loss::Linf, &each[..2]);
        assert_eq!((linf.better, linf.worse), (0, 2));
    }

    #[test]
    fn a_sequence_is_one_observation_of_the_p_value_and_its_points_are_counted() {
        // Two sequences: the first nets two fixes, the second one break.
        let y = Labels::Classes(vec![1, 1, 0]);
        let before = array![[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]];
        let after = array![[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]];
        let p = paired(&before, &after, &y, Loss::ZeroOne, &[4, 4, 7]);
        assert_eq!((p.better, p.worse), (2, 1));
        assert_eq!(p.p, sign_test(1, 1));
        // Ten points, each repeated as a sequence of five positions: the
        // p-value of the ten, not of fifty.
        let d = [0.3, -0.1, 0.2, 0.25, -0.2, 0.1, 0.05, -0.15, 0.3, 0.1];
        let (y1, y5) = (
            Labels::Targets(ndarray::Array2::zeros((10, 1))),
            Labels::Targets(ndarray::Array2::zeros((50, 1))),
        );
        let err = |v: &[f64]| ndarray::Array2::from_shape_vec((v.len(), 1), v.to_vec()).unwrap();
        let before: Vec<f64> = d.iter().map(|v| 1.0 + v).collect();
        let after = vec![1.0; 10];
        let rep = |v: &[f64]| v.iter().flat_map(|&x| [x; 5]).collect::<Vec<f64>>();
        let one: Vec<usize> = (0..10).collect();
        let five: Vec<usize> = (0..50).map(|t| t / 5).collect();
        let alone = paired(&err(&before), &err(&after), &y1, Loss::L1, &one);
        let seqs = paired(
            &err(&rep(&before)),
            &err(&rep(&after)),
            &y5,
            Loss::L1,
            &five,
        );
        assert_eq!((seqs.better, seqs.worse), (35, 15));
        assert!(
            (seqs.p - alone.p).abs() < 1e-12,
            "{} vs {}",
            seqs.p,
            alone.p
        );
        assert!(alone.p > 0.05, "{}", alone.p);
    }
}

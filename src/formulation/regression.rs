//! Regression. The model's output out_tj is the activation a_tj or, after
//! a ReLU, o_tj = max(0, a_tj) with a binary z_tj only where the box leaves
//! the sign open. The losses:
//!
//! - l1: minimise Σ_tj dev_tj with dev_tj ≥ ±(out_tj − y_tj);
//! - linf: minimise maxdev with maxdev ≥ ±(out_tj − y_tj);
//! - mse: a residual column r_tj = out_tj − y_tj, and either the exact
//!   objective Σ r_tj² or Σ sq_tj with sq_tj above tangent lines of r²
//!   placed geometrically over r_tj's range (see [`tangent_points`]).
//!
//! Every form is feasible at the current weights; the paper's per-point cap
//! (constraint 6: no output's error may grow) is optional for l1 and mse.

use super::bounds::PointBounds;
use super::names::{RowName, Var};
use super::{
    Cap, Input, Loss, MseBound, MseForm, Options, Problem, Row, Sense, PWL_ABSOLUTE, PWL_RELATIVE,
};

/// Tangent points of r² over one side of a residual range, `[a, u]` with
/// 0 ≤ a ≤ u (mirror it for the negative side): the first at `a`, or at
/// `min(r_min, u)` when `a < r_min`, then each `q` times the last, the last
/// at `u`. Between consecutive points (ratio ≤ q) the tangents' gap to r²
/// is at most ((q−1)/(q+1))² · r²; below the first point (with the tangent
/// at 0, the column's lower bound) at most first²/4. Returns the points and
/// that absolute gap (0 when `a ≥ r_min`).
pub fn tangent_points(a: f64, u: f64, r_min: f64, q: f64) -> (Vec<f64>, f64) {
    if u <= 0.0 {
        return (Vec::new(), 0.0);
    }
    let (first, gap) = if a >= r_min {
        (a, 0.0)
    } else {
        let f = r_min.min(u);
        (f, f * f / 4.0)
    };
    let mut points = vec![first];
    let mut p = first;
    // (first > 0 whenever u > 0 and r_min > 0; the guard keeps a zero
    // r_min from looping.)
    while p < u && p > 0.0 {
        p = (p * q).min(u);
        points.push(p);
    }
    (points, gap)
}

/// Breakpoints of the segment form over the residual range [lower, upper]:
/// the range's ends, 0 when inside, the current residual `r0` (so the MIP
/// start's objective is exactly r0²) and the tangent points of both sides
/// (`points`, ascending), without near-duplicates. Extra breakpoints only
/// shrink the chords' gap to r², so [`tangent_points`]' bound holds.
pub fn segment_nodes(lower: f64, upper: f64, r0: f64, points: &[f64]) -> Vec<f64> {
    let mut nodes: Vec<f64> = points.to_vec();
    nodes.extend([lower, upper]);
    if lower < 0.0 && upper > 0.0 {
        nodes.push(0.0);
    }
    nodes.sort_by(|a, b| a.total_cmp(b));
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()));
    nodes.dedup_by(|b, a| close(*a, *b));
    // r0 replaces the node it is close to (ends stay ends: r0 is inside).
    match nodes.iter().position(|&v| close(v, r0)) {
        Some(k) if k != 0 && k != nodes.len() - 1 => nodes[k] = r0,
        Some(_) => {}
        None => {
            let k = nodes.partition_point(|&v| v < r0);
            nodes.insert(k, r0);
        }
    }
    if nodes.len() == 1 {
        // A fixed residual: one empty segment keeps the row well formed.
        nodes.push(nodes[0]);
    }
    nodes
}

/// The largest relative gap (r² below the chord) of a chord of r² over
/// [p, q·p]: (r − p)(qp − r)/r² peaks at r = 2qp/(1 + q) at (q − 1)²/(4q),
/// a hair above the tangents' ((q − 1)/(q + 1))².
pub fn chord_gap(q: f64) -> f64 {
    (q - 1.0).powi(2) / (4.0 * q)
}

/// The ratio q of consecutive tangent points for a per-term relative gap ε:
/// ((q−1)/(q+1))² = ε.
pub fn tangent_ratio(relative: f64) -> f64 {
    let s = relative.sqrt();
    (1.0 + s) / (1.0 - s)
}

/// What a point's output is in the model: the activation itself, or a
/// ReLU output column.
enum Out {
    Act,
    Col(usize),
}

pub(super) fn build(input: Input<'_>, opts: &Options) -> Result<Problem, String> {
    let targets = input
        .targets
        .ok_or("regression needs real-valued targets")?;
    let layer = input.layer;
    let m = layer.w.nrows();
    if targets.ncols() != m {
        return Err(format!(
            "the targets have {} values per point but the layer has {m} outputs",
            targets.ncols()
        ));
    }
    if opts.loss == Loss::Mse
        && opts.mse_form == MseForm::Quadratic
        && !input.relu
        && opts.cap == Cap::None
    {
        return Ok(least_squares(input, targets, opts));
    }
    let rb = opts.bias_reach(layer);
    let mut p = Problem::new(layer, input.features, input.points, opts);
    let t_count = p.points.len();
    p.presolve.points_in = t_count;
    p.presolve.points_kept = t_count;
    // linf: one column for every point's deviation; its bounds and start
    // are set once every point is seen.
    let maxdev = (opts.loss == Loss::Linf).then(|| p.add_column(Var::MaxDev, 0.0, 0.0, false, 0.0));
    let (mut max_lower, mut max_upper, mut max_start) = (0.0f64, 0.0f64, 0.0f64);
    let mse = (opts.loss == Loss::Mse).then(|| Mse::new(&p, input.relu, layer, targets, opts));
    let mut bound = MseBound {
        form: opts.mse_form,
        relative: match opts.mse_form {
            MseForm::Segments => chord_gap(tangent_ratio(PWL_RELATIVE)),
            _ => PWL_RELATIVE,
        },
        absolute: 0.0,
        pieces: 0,
    };
    for pos in 0..t_count {
        let t = p.points[pos];
        let pb = PointBounds::new(p.features.row(pos), &layer.w, &layer.b, opts.radius, rb);
        for j in 0..m {
            let y = targets[[pos, j]];
            let konst = if layer.bias_vars { 0.0 } else { layer.b[j] };
            let (lo, hi) = pb.activation(j);
            let a0 = pb.a0[j];
            let (out, out_lo, out_hi, out0) = if input.relu && hi <= 0.0 {
                // Dead for every weight in the box: the error is a constant
                // (added for l1; a floor on the largest deviation for linf).
                if maxdev.is_some() {
                    max_lower = max_lower.max(y.abs());
                    max_start = max_start.max(y.abs());
                } else if mse.is_some() {
                    p.objective_offset += y * y;
                } else {
                    p.objective_offset += y.abs();
                }
                p.presolve.relu_fixed += 1;
                continue;
            } else if input.relu && lo < 0.0 {
                let o = p.add_column(Var::O(t, j), 0.0, hi, false, a0.max(0.0));
                let z = p.add_column(
                    Var::Z(t, j),
                    0.0,
                    1.0,
                    true,
                    if a0 > 0.0 { 1.0 } else { 0.0 },
                );
                // o ≥ a
                p.rows.push(Row {
                    name: RowName::ReluLo(t, j),
                    sense: Sense::Ge,
                    rhs: konst,
                    point: Some(pos),
                    act: vec![(j, -1.0)],
                    aux: vec![(o, 1.0)],
                });
                // o ≤ a − L(1 − z)  ⇔  o − a − L z ≤ −L
                p.rows.push(Row {
                    name: RowName::ReluHi(t, j),
                    sense: Sense::Le,
                    rhs: -lo + konst,
                    point: Some(pos),
                    act: vec![(j, -1.0)],
                    aux: vec![(o, 1.0), (z, -lo)],
                });
                // o ≤ U z
                p.rows.push(Row {
                    name: RowName::ReluOn(t, j),
                    sense: Sense::Le,
                    rhs: 0.0,
                    point: None,
                    act: vec![],
                    aux: vec![(o, 1.0), (z, -hi)],
                });
                (Out::Col(o), 0.0, hi, a0.max(0.0))
            } else {
                if input.relu {
                    p.presolve.relu_fixed += 1;
                }
                (Out::Act, lo, hi, a0)
            };
            let (act, rhs_shift, out_aux) = match out {
                Out::Act => (vec![(j, 1.0)], konst, vec![]),
                Out::Col(o) => (vec![], 0.0, vec![(o, 1.0)]),
            };
            let point = (!act.is_empty()).then_some(pos);
            if let Some(mse) = &mse {
                // r = out − y, within the box's range, |r| ≤ √(loss now)
                // (any weights at least as good satisfy it), and with the
                // cap, |r| ≤ its current value.
                let r0 = out0 - y;
                let mut lower = (out_lo - y).max(-mse.reach);
                let mut upper = (out_hi - y).min(mse.reach);
                if opts.cap == Cap::Point {
                    lower = lower.max(-r0.abs());
                    upper = upper.min(r0.abs());
                }
                let (lower, upper) = (lower.min(r0), upper.max(r0));
                let (points, gap) = match opts.mse_form {
                    MseForm::Quadratic => (Vec::new(), 0.0),
                    _ => mse.points(lower, upper),
                };
                if opts.mse_form == MseForm::Segments {
                    // out − Σ_k s_k = y + p_0: the residual climbs the
                    // segments from the range's low end.
                    let nodes = segment_nodes(lower, upper, r0, &points);
                    let p0 = nodes[0];
                    p.objective_offset += p0 * p0;
                    let mut aux = out_aux;
                    let mut left = r0 - p0;
                    for (k, w) in nodes.windows(2).enumerate() {
                        let width = w[1] - w[0];
                        let start = left.clamp(0.0, width);
                        left -= start;
                        let c = p.add_column(Var::Seg(t, j, k), 0.0, width, false, start);
                        // Chord slope of r² over [p_k, p_k+1].
                        p.objective.push((c, w[0] + w[1]));
                        aux.push((c, -1.0));
                    }
                    bound.pieces += nodes.len() - 1;
                    bound.absolute += gap;
                    p.rows.push(Row {
                        name: RowName::Residual(t, j),
                        sense: Sense::Eq,
                        rhs: y - rhs_shift + p0,
                        point,
                        act,
                        aux,
                    });
                    continue;
                }
                let r = p.add_column(Var::R(t, j), lower, upper, false, r0);
                let mut aux = out_aux;
                aux.push((r, -1.0));
                p.rows.push(Row {
                    name: RowName::Residual(t, j),
                    sense: Sense::Eq,
                    rhs: y - rhs_shift,
                    point,
                    act,
                    aux,
                });
                if opts.mse_form == MseForm::Quadratic {
                    p.quadratic.push((r, r, 1.0));
                } else {
                    let top = lower.powi(2).max(upper.powi(2));
                    let sq = p.add_column(Var::Sq(t, j), 0.0, top, false, r0 * r0);
                    p.objective.push((sq, 1.0));
                    bound.absolute += gap;
                    bound.pieces += points.len();
                    // sq ≥ 2 p r − p², from the lowest point up.
                    p.add_tangents((t, j), r, sq, points);
                }
                continue;
            }
            let start = (out0 - y).abs();
            let dev_max = (out_hi - y).abs().max((out_lo - y).abs());
            let upper = match opts.cap {
                Cap::None => dev_max,
                Cap::Point => start,
            };
            let d = match maxdev {
                Some(m) => {
                    max_upper = max_upper.max(dev_max);
                    max_start = max_start.max(start);
                    m
                }
                None => {
                    let d = p.add_column(Var::Dev(t, j), 0.0, upper, false, start);
                    p.objective.push((d, 1.0));
                    d
                }
            };
            // dev ≥ out − y: can bind only if out can exceed y.
            if out_hi > y {
                let mut aux = out_aux.clone();
                aux.push((d, -1.0));
                p.rows.push(Row {
                    name: RowName::Pos(t, j),
                    sense: Sense::Le,
                    rhs: y - rhs_shift,
                    point,
                    act: act.clone(),
                    aux,
                });
            } else {
                p.presolve.rows_dropped += 1;
            }
            // dev ≥ y − out: can bind only if out can fall below y.
            if out_lo < y {
                let mut aux = out_aux;
                aux.push((d, 1.0));
                p.rows.push(Row {
                    name: RowName::Neg(t, j),
                    sense: Sense::Ge,
                    rhs: y - rhs_shift,
                    point,
                    act,
                    aux,
                });
            } else {
                p.presolve.rows_dropped += 1;
            }
        }
    }
    if let Some(m) = maxdev {
        let col = &mut p.columns[m];
        col.lower = max_lower;
        col.upper = max_upper.max(max_lower);
        col.start = max_start;
        p.objective.push((m, 1.0));
    }
    if opts.loss == Loss::Mse && opts.mse_form != MseForm::Quadratic {
        p.mse_bound = Some(bound);
    }
    Ok(p)
}

/// mse, exact, with a linear output: Σ_tj (w_j·h_t + b_j − y_tj)² written on
/// the weights alone, with no rows: for each output j, w_jᵀ G w_j + 2 b_j
/// sᵀw_j + T b_j² − 2 (Hᵀỹ_j)ᵀw_j − 2 b_j Σ ỹ_j + Σ ỹ_j², where G = HᵀH,
/// s = Σ_t h_t and ỹ = y minus the bias when it is a constant. The size is
/// M·N²/2, not T·M·N, and HiGHS's QP solver is reliable on it (on the
/// row-per-residual form it stopped with "Solve error" on a 1000-point set).
fn least_squares(input: Input<'_>, targets: &ndarray::Array2<f64>, opts: &Options) -> Problem {
    let layer = input.layer;
    let (m, n) = layer.w.dim();
    let mut p = Problem::new(layer, input.features, input.points, opts);
    let t_count = p.points.len();
    p.presolve.points_in = t_count;
    p.presolve.points_kept = t_count;
    let fixed = (!layer.bias_vars).then(|| layer.b.view());
    let normal = crate::lsq::Normal::new(p.features.view(), targets.view(), fixed);
    let col = |j: usize, a: usize| if a < n { j * n + a } else { m * n + j };
    for j in 0..m {
        let k = normal.g.nrows();
        for a in 0..k {
            for c in 0..=a {
                let g = normal.g[[a, c]];
                if g != 0.0 {
                    p.quadratic
                        .push((col(j, a), col(j, c), if a == c { g } else { 2.0 * g }));
                }
            }
            let q = normal.q[[a, j]];
            if q != 0.0 || a == n {
                p.objective.push((col(j, a), -2.0 * q));
            }
        }
        p.objective_offset += normal.yy[j];
    }
    p.normal = Some(normal);
    p
}

/// What the mse rows need from every term before the first is written.
struct Mse {
    /// √(Σ r² at the current weights): no residual of weights that are at
    /// least as good can be larger.
    reach: f64,
    /// The first tangent point, so that every term's small-residual gap
    /// (≤ r_min²/4) adds up to at most PWL_ABSOLUTE of the loss now.
    r_min: f64,
    /// The ratio of consecutive tangent points.
    q: f64,
}

impl Mse {
    /// The tangent points of both sides of [lower, upper], ascending, and
    /// the small-residual gap they leave (the larger side's: a residual is
    /// on one side only).
    fn points(&self, lower: f64, upper: f64) -> (Vec<f64>, f64) {
        let (pos, pos_gap) = tangent_points(lower.max(0.0), upper, self.r_min, self.q);
        let (neg, neg_gap) = tangent_points((-upper).max(0.0), -lower, self.r_min, self.q);
        let points = neg.iter().rev().map(|&v| -v).chain(pos).collect();
        (points, pos_gap.max(neg_gap))
    }

    fn new(
        p: &Problem,
        relu: bool,
        layer: &super::LayerData,
        targets: &ndarray::Array2<f64>,
        opts: &Options,
    ) -> Mse {
        let rb = opts.bias_reach(layer);
        let (mut loss, mut terms) = (0.0, 0usize);
        for pos in 0..p.points.len() {
            let pb = PointBounds::new(p.features.row(pos), &layer.w, &layer.b, opts.radius, rb);
            for j in 0..layer.w.nrows() {
                let a0 = pb.a0[j];
                if relu && pb.activation(j).1 <= 0.0 {
                    continue;
                }
                let out0 = if relu { a0.max(0.0) } else { a0 };
                loss += (out0 - targets[[pos, j]]).powi(2);
                terms += 1;
            }
        }
        Mse {
            // A hair above, so the current residuals stay inside after
            // rounding.
            reach: loss.sqrt() * (1.0 + 1e-9),
            r_min: 2.0 * (PWL_ABSOLUTE * loss / terms.max(1) as f64).sqrt(),
            q: tangent_ratio(PWL_RELATIVE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random features (t×n), targets (t×m) and a layer (m×n) from `seed`.
    fn random_problem(
        seed: u64,
        (t, n, m): (usize, usize, usize),
        bias_vars: bool,
    ) -> (
        ndarray::Array2<f64>,
        ndarray::Array2<f64>,
        crate::formulation::LayerData,
    ) {
        use ndarray::{Array1, Array2};
        let mut rng = crate::data::SplitMix(seed);
        let h = Array2::from_shape_fn((t, n), |_| rng.uniform() * 2.0 - 0.5);
        let y = Array2::from_shape_fn((t, m), |_| rng.uniform() * 3.0);
        let layer = crate::formulation::LayerData {
            w: Array2::from_shape_fn((m, n), |_| rng.uniform() - 0.5),
            b: Array1::from_shape_fn(m, |_| rng.uniform()),
            bias_vars,
        };
        (h, y, layer)
    }

    /// mse options with box radius `radius` for weights and biases.
    fn mse_options(radius: f64, mse_form: MseForm) -> Options {
        Options {
            task: crate::data::Task::Regression,
            loss: Loss::Mse,
            radius,
            bias_radius: radius,
            margin: 0.0,
            form: crate::formulation::Form::Compact,
            keep_accuracy: false,
            cap: Cap::None,
            mse_form,
        }
    }

    /// max over the tangents (and 0) of 2 p r − p² at r.
    fn below(points: &[f64], r: f64) -> f64 {
        points
            .iter()
            .map(|&p| 2.0 * p * r - p * p)
            .fold(0.0, f64::max)
    }

    #[test]
    fn tangents_stay_within_the_stated_gap_of_r_squared() {
        let eps = PWL_RELATIVE;
        let q = tangent_ratio(eps);
        for &(a, u, r_min) in &[
            (0.0, 1.0, 0.01),
            (0.3, 0.9, 0.01),
            (0.005, 2.0, 0.02),
            (0.0, 0.004, 0.01),
            (1.5, 1.5, 0.1),
            (0.0, 1e6, 1e-3),
        ] {
            let (pts, gap) = tangent_points(a, u, r_min, q);
            assert!(pts
                .windows(2)
                .all(|w| w[1] > w[0] && w[1] <= w[0] * q * (1.0 + 1e-12)));
            assert_eq!(
                *pts.last().unwrap(),
                u,
                "the last tangent is at the range's end"
            );
            for k in 0..=2000 {
                let r = a + (u - a) * k as f64 / 2000.0;
                let t = below(&pts, r);
                assert!(t <= r * r * (1.0 + 1e-12), "a tangent is above r² at {r}");
                assert!(
                    r * r - t <= eps * r * r + gap + 1e-12 * r * r,
                    "[{a}, {u}]: gap {} at {r} (allowed {})",
                    r * r - t,
                    eps * r * r + gap
                );
            }
        }
        // A range that cannot be positive needs none.
        assert!(tangent_points(0.0, -1.0, 0.1, q).0.is_empty());
    }

    #[test]
    fn segments_stay_within_the_stated_gap_above_r_squared() {
        let q = tangent_ratio(PWL_RELATIVE);
        let eps = chord_gap(q);
        for &(lower, upper, r0, r_min) in &[
            (-1.0, 2.0, 0.3, 0.01),
            (0.2, 0.9, 0.5, 0.05),
            (-3.0, -0.001, -1.0, 0.02),
            (-0.004, 0.004, 0.001, 0.01),
            (0.7, 0.7, 0.7, 0.1),
        ] {
            let (pos, pg) = tangent_points(f64::max(lower, 0.0), upper, r_min, q);
            let (neg, ng) = tangent_points(f64::max(-upper, 0.0), -lower, r_min, q);
            let points: Vec<f64> = neg.iter().rev().map(|&v| -v).chain(pos).collect();
            let nodes = segment_nodes(lower, upper, r0, &points);
            assert_eq!((nodes[0], *nodes.last().unwrap()), (lower, upper));
            assert!(nodes.contains(&r0) && nodes.windows(2).all(|w| w[0] <= w[1]));
            let gap = pg.max(ng);
            for k in 0..=1000 {
                let r = lower + (upper - lower) * k as f64 / 1000.0;
                // The LP fills the segments in order (their slopes rise).
                let (mut value, mut left) = (nodes[0] * nodes[0], r - nodes[0]);
                for w in nodes.windows(2) {
                    let d = left.clamp(0.0, w[1] - w[0]);
                    value += (w[0] + w[1]) * d;
                    left -= d;
                }
                assert!(value >= r * r * (1.0 - 1e-12) - 1e-15, "below r² at {r}");
                assert!(
                    value <= (1.0 + eps) * r * r + gap + 1e-12,
                    "[{lower}, {upper}]: {value} at {r}, allowed {}",
                    (1.0 + eps) * r * r + gap
                );
            }
        }
    }

    #[test]
    fn generated_tangent_rows_read_the_same_by_row_and_by_column() {
        let t = 6;
        let (h, y, layer) = random_problem(3, (t, 3, 2), true);
        for relu in [false, true] {
            let opts = mse_options(0.5, MseForm::Tangents);
            let input = Input {
                layer: &layer,
                features: h.clone(),
                points: (0..t).map(|k| 10 + k).collect(),
                relu,
                classes: None,
                targets: Some(&y),
            };
            let p = build(input, &opts).unwrap().finish();
            let bound = p.mse_bound.unwrap();
            assert_eq!(p.num_rows() - p.rows.len(), bound.pieces);
            let mut by_row = Vec::new();
            for r in 0..p.num_rows() {
                p.for_row(r, |c, v| by_row.push((r, c, v)));
            }
            let mut by_col = Vec::new();
            for c in 0..p.columns.len() {
                p.for_column(c, |r, v| by_col.push((r, c, v)));
            }
            by_row.sort_by(|a, b| a.partial_cmp(b).unwrap());
            by_col.sort_by(|a, b| a.partial_cmp(b).unwrap());
            assert_eq!(by_row, by_col);
            assert_eq!(by_row.len(), p.nonzeros());
            let names: std::collections::HashSet<String> = (0..p.num_rows())
                .map(|r| p.row_head(r).name.to_string())
                .collect();
            assert_eq!(names.len(), p.num_rows(), "row names are unique");
            assert!(
                p.max_violation(&p.start()) <= 1e-12,
                "feasible at the current weights"
            );
        }
    }

    #[test]
    fn the_weight_space_quadratic_is_the_sum_of_squared_errors_anywhere() {
        use crate::data::SplitMix;
        use ndarray::{Array1, Array2};
        let (t, n, m) = (9, 4, 3);
        let mut rng = SplitMix(7);
        for bias_vars in [true, false] {
            let (h, y, layer) = random_problem(7 + bias_vars as u64, (t, n, m), bias_vars);
            let opts = mse_options(1.0, MseForm::Quadratic);
            let input = Input {
                layer: &layer,
                features: h.clone(),
                points: (0..t).collect(),
                relu: false,
                classes: None,
                targets: Some(&y),
            };
            let p = build(input, &opts).unwrap();
            assert!(p.rows.is_empty() && p.columns.len() == p.first_aux());
            for _ in 0..5 {
                let x: Vec<f64> = (0..p.columns.len())
                    .map(|_| rng.uniform() * 4.0 - 2.0)
                    .collect();
                let w = Array2::from_shape_fn((m, n), |(j, i)| x[j * n + i]);
                let b =
                    Array1::from_shape_fn(m, |j| if bias_vars { x[m * n + j] } else { layer.b[j] });
                let direct = (h.dot(&w.t()) + &b - &y).mapv(|r| r * r).sum();
                let model = p.objective_at(&x) + p.objective_offset;
                assert!(
                    (model - direct).abs() <= 1e-9 * direct,
                    "{model} vs {direct}"
                );
            }
        }
    }
}

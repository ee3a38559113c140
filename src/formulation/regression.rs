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
use super::LayerData;
use super::{
    Builder, Cap, Input, Loss, MseBound, MseForm, Options, Row, Sense, PWL_ABSOLUTE, PWL_RELATIVE,
};
use ndarray::Array2;

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
    // r0 replaces the node it is close to (an end moves by at most 1e-12
    // relative, inward: r0 is inside), so it is always a breakpoint.
    match nodes.iter().position(|&v| close(v, r0)) {
        Some(k) => nodes[k] = r0,
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

/// One (point, output) term: the model's output there, as the loss rows
/// read it, with its range over the box and its current value.
struct Term {
    /// Data-file index of the point, and the output.
    t: usize,
    j: usize,
    /// The target.
    y: f64,
    /// The output's range over the box, and its value now.
    lo: f64,
    hi: f64,
    out0: f64,
    /// The activation a_tj read directly (with the point), or nothing.
    act: Vec<(usize, f64)>,
    point: Option<usize>,
    /// The constant part of a_tj moved to the right-hand side.
    shift: f64,
    /// The ReLU output column read instead of the activation, if any.
    out_aux: Vec<(usize, f64)>,
}

impl Term {
    /// The row `out + Σ extra (sense) y + rhs`.
    fn row(&self, name: RowName, sense: Sense, rhs: f64, extra: &[(usize, f64)]) -> Row {
        let mut aux = self.out_aux.clone();
        aux.extend_from_slice(extra);
        Row {
            name,
            sense,
            rhs: self.y - self.shift + rhs,
            point: self.point,
            act: self.act.clone(),
            aux,
        }
    }
}

/// The output of point `pos` (data-file index `t`), output j: the
/// activation, or after a ReLU a column o_tj with its binary z_tj and rows
/// where the box leaves the sign open; `None` when the ReLU is off for
/// every weight in the box (the error is then a constant).
fn output(
    b: &mut Builder,
    (pos, t, j): (usize, usize, usize),
    pb: &PointBounds,
    relu: bool,
    konst: f64,
    y: f64,
) -> Option<Term> {
    let (lo, hi) = pb.activation(j);
    let a0 = pb.a0[j];
    let direct = |lo: f64, out0: f64| Term {
        t,
        j,
        y,
        lo,
        hi,
        out0,
        act: vec![(j, 1.0)],
        point: Some(pos),
        shift: konst,
        out_aux: vec![],
    };
    if !relu {
        return Some(direct(lo, a0));
    }
    if hi <= 0.0 || lo >= 0.0 {
        // The box fixes the ReLU's sign.
        b.presolve().relu_fixed += 1;
        return (hi > 0.0).then(|| direct(lo, a0));
    }
    let o = b.add_column(Var::O(t, j), 0.0, hi, false, a0.max(0.0));
    let z = b.add_column(
        Var::Z(t, j),
        0.0,
        1.0,
        true,
        if a0 > 0.0 { 1.0 } else { 0.0 },
    );
    let relu_row = |name, sense, rhs, aux| Row {
        name,
        sense,
        rhs,
        point: Some(pos),
        act: vec![(j, -1.0)],
        aux,
    };
    // o ≥ a
    b.add_row(relu_row(
        RowName::ReluLo(t, j),
        Sense::Ge,
        konst,
        vec![(o, 1.0)],
    ));
    // o ≤ a − L(1 − z)  ⇔  o − a − L z ≤ −L
    b.add_row(relu_row(
        RowName::ReluHi(t, j),
        Sense::Le,
        -lo + konst,
        vec![(o, 1.0), (z, -lo)],
    ));
    // o ≤ U z
    b.add_row(Row {
        point: None,
        act: vec![],
        ..relu_row(
            RowName::ReluOn(t, j),
            Sense::Le,
            0.0,
            vec![(o, 1.0), (z, -hi)],
        )
    });
    Some(Term {
        t,
        j,
        y,
        lo: 0.0,
        hi,
        out0: a0.max(0.0),
        act: vec![],
        point: None,
        shift: 0.0,
        out_aux: vec![(o, 1.0)],
    })
}

/// The rows and columns one loss adds for each term.
enum Form {
    /// l1: dev_tj ≥ ±(out − y), Σ dev in the objective.
    L1,
    /// linf: maxdev ≥ ±(out − y) for every term; its bounds and start are
    /// set once every term is seen.
    Linf {
        col: usize,
        lower: f64,
        upper: f64,
        start: f64,
    },
    /// mse: residuals over segments, tangents, or squared exactly.
    Mse(Mse, MseBound),
}

impl Form {
    fn new(
        b: &mut Builder,
        layer: &LayerData,
        relu: bool,
        targets: &Array2<f64>,
        opts: &Options,
    ) -> Form {
        match opts.loss {
            Loss::Linf => Form::Linf {
                col: b.add_column(Var::MaxDev, 0.0, 0.0, false, 0.0),
                lower: 0.0,
                upper: 0.0,
                start: 0.0,
            },
            Loss::Mse => Form::Mse(
                Mse::new(b, relu, layer, targets, opts),
                MseBound {
                    form: opts.mse_form,
                    relative: match opts.mse_form {
                        MseForm::Segments => chord_gap(tangent_ratio(PWL_RELATIVE)),
                        _ => PWL_RELATIVE,
                    },
                    absolute: 0.0,
                    pieces: 0,
                },
            ),
            _ => Form::L1,
        }
    }

    /// A term whose ReLU is off everywhere in the box: its error |y| is a
    /// constant (a floor on the largest deviation for linf).
    fn dead(&mut self, b: &mut Builder, y: f64) {
        match self {
            Form::Linf { lower, start, .. } => {
                *lower = lower.max(y.abs());
                *start = start.max(y.abs());
            }
            Form::Mse(..) => b.add_offset(y * y),
            Form::L1 => b.add_offset(y.abs()),
        }
    }

    fn term(&mut self, b: &mut Builder, term: &Term, opts: &Options) {
        match self {
            Form::Mse(mse, bound) => match opts.mse_form {
                MseForm::Segments => segments(b, term, mse, bound, opts.cap),
                _ => residual(b, term, mse, bound, opts),
            },
            Form::L1 => {
                let (start, dev_max) = deviation(term);
                let upper = match opts.cap {
                    Cap::None => dev_max,
                    Cap::Point => start,
                };
                let d = b.add_column(Var::Dev(term.t, term.j), 0.0, upper, false, start);
                b.add_cost(d, 1.0);
                deviation_rows(b, term, d);
            }
            Form::Linf {
                col, upper, start, ..
            } => {
                let (now, dev_max) = deviation(term);
                *upper = upper.max(dev_max);
                *start = start.max(now);
                deviation_rows(b, term, *col);
            }
        }
    }

    fn finish(self, b: &mut Builder, opts: &Options) {
        match self {
            Form::Linf {
                col,
                lower,
                upper,
                start,
            } => {
                b.set_column(col, lower, upper.max(lower), start);
                b.add_cost(col, 1.0);
            }
            Form::Mse(_, bound) if opts.mse_form != MseForm::Quadratic => b.set_mse_bound(bound),
            _ => {}
        }
    }
}

/// |out − y| now, and its largest value over the box.
fn deviation(term: &Term) -> (f64, f64) {
    let now = (term.out0 - term.y).abs();
    (now, (term.hi - term.y).abs().max((term.lo - term.y).abs()))
}

/// dev ≥ out − y and dev ≥ y − out, each only where it can bind.
fn deviation_rows(b: &mut Builder, term: &Term, d: usize) {
    let (t, j) = (term.t, term.j);
    if term.hi > term.y {
        b.add_row(term.row(RowName::Pos(t, j), Sense::Le, 0.0, &[(d, -1.0)]));
    } else {
        b.presolve().rows_dropped += 1;
    }
    if term.lo < term.y {
        b.add_row(term.row(RowName::Neg(t, j), Sense::Ge, 0.0, &[(d, 1.0)]));
    } else {
        b.presolve().rows_dropped += 1;
    }
}

/// mse, segments: out − y = r⁰ + Σ_up s_k − Σ_down s_k with each segment
/// starting at 0 (see the problem's segment sets); r⁰² goes to the offset.
fn segments(b: &mut Builder, term: &Term, mse: &Mse, bound: &mut MseBound, cap: Cap) {
    let (r0, lower, upper) = mse.range(term, cap);
    let (points, gap) = mse.points(lower, upper);
    let nodes = segment_nodes(lower, upper, r0, &points);
    let anchor = nodes
        .iter()
        .position(|&v| v == r0)
        .expect("the current residual is a breakpoint");
    b.add_offset(r0 * r0);
    bound.pieces += nodes.len() - 1;
    bound.absolute += gap;
    let row = term.row(RowName::Residual(term.t, term.j), Sense::Eq, r0, &[]);
    b.add_segment_row(row, (term.t, term.j), &nodes, anchor);
}

/// mse, tangents or exact: a residual column r = out − y, with sq ≥ its
/// tangents or r² in the objective.
fn residual(b: &mut Builder, term: &Term, mse: &Mse, bound: &mut MseBound, opts: &Options) {
    let (t, j) = (term.t, term.j);
    let (r0, lower, upper) = mse.range(term, opts.cap);
    let r = b.add_column(Var::R(t, j), lower, upper, false, r0);
    b.add_row(term.row(RowName::Residual(t, j), Sense::Eq, 0.0, &[(r, -1.0)]));
    if opts.mse_form == MseForm::Quadratic {
        b.add_quadratic(r, r, 1.0);
        return;
    }
    let (points, gap) = mse.points(lower, upper);
    let top = lower.powi(2).max(upper.powi(2));
    let sq = b.add_column(Var::Sq(t, j), 0.0, top, false, r0 * r0);
    b.add_cost(sq, 1.0);
    bound.absolute += gap;
    bound.pieces += points.len();
    // sq ≥ 2 p r − p², from the lowest point up.
    b.add_tangents((t, j), r, sq, points);
}

pub(super) fn build(input: Input<'_>, opts: &Options) -> Result<Builder, String> {
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
    let relu = input.relu;
    let mut b = Builder::new(layer, input.features, input.points, opts);
    let mut form = Form::new(&mut b, layer, relu, targets, opts);
    for pos in 0..b.points().len() {
        let t = b.points()[pos];
        let pb = PointBounds::new(b.features().row(pos), &layer.w, &layer.b, opts.radius, rb);
        for j in 0..m {
            let y = targets[[pos, j]];
            let konst = if layer.bias_vars { 0.0 } else { layer.b[j] };
            match output(&mut b, (pos, t, j), &pb, relu, konst, y) {
                Some(term) => form.term(&mut b, &term, opts),
                None => form.dead(&mut b, y),
            }
        }
    }
    form.finish(&mut b, opts);
    Ok(b)
}

/// mse, exact, with a linear output: Σ_tj (w_j·h_t + b_j − y_tj)² written on
/// the weights alone, with no rows: for each output j, w_jᵀ G w_j + 2 b_j
/// sᵀw_j + T b_j² − 2 (Hᵀỹ_j)ᵀw_j − 2 b_j Σ ỹ_j + Σ ỹ_j², where G = HᵀH,
/// s = Σ_t h_t and ỹ = y minus the bias when it is a constant. The size is
/// M·N²/2, not T·M·N, and HiGHS's QP solver is reliable on it (on the
/// row-per-residual form it stopped with "Solve error" on a 1000-point set).
/// The Hessian is the normal equations' Gram matrix, generated when a writer
/// or HiGHS asks ([`super::Problem::for_quadratic`]), never stored.
fn least_squares(input: Input<'_>, targets: &Array2<f64>, opts: &Options) -> Builder {
    let layer = input.layer;
    let (m, n) = layer.w.dim();
    let mut b = Builder::new(layer, input.features, input.points, opts);
    let fixed = (!layer.bias_vars).then(|| layer.b.view());
    let normal = crate::lsq::Normal::new(b.features(), targets.view(), fixed);
    let col = |j: usize, a: usize| if a < n { j * n + a } else { m * n + j };
    let mut offset = 0.0;
    for j in 0..m {
        for a in 0..normal.g.nrows() {
            let q = normal.q[[a, j]];
            if q != 0.0 || a == n {
                b.add_cost(col(j, a), -2.0 * q);
            }
        }
        offset += normal.yy[j];
    }
    b.add_offset(offset);
    b.set_normal(normal, true);
    b
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

    /// The current residual r⁰ and its range: the box's range of out − y,
    /// within ±√(loss now) (any weights at least as good satisfy it) and,
    /// with the cap, |r| ≤ |r⁰|; r⁰ always inside.
    fn range(&self, term: &Term, cap: Cap) -> (f64, f64, f64) {
        let r0 = term.out0 - term.y;
        let mut lower = (term.lo - term.y).max(-self.reach);
        let mut upper = (term.hi - term.y).min(self.reach);
        if cap == Cap::Point {
            lower = lower.max(-r0.abs());
            upper = upper.min(r0.abs());
        }
        (r0, lower.min(r0), upper.max(r0))
    }

    fn new(
        p: &Builder,
        relu: bool,
        layer: &LayerData,
        targets: &Array2<f64>,
        opts: &Options,
    ) -> Mse {
        let rb = opts.bias_reach(layer);
        let (mut loss, mut terms) = (0.0, 0usize);
        for pos in 0..p.points().len() {
            let pb = PointBounds::new(p.features().row(pos), &layer.w, &layer.b, opts.radius, rb);
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

    use crate::formulation::names::Var;
    use crate::formulation::Problem;

    /// The mse problem in `form` of a random 6-point head (data-file
    /// indices 10..16, 3 inputs, 2 outputs), with its features, targets
    /// and layer.
    fn random_mse(
        seed: u64,
        form: MseForm,
        relu: bool,
    ) -> (
        Problem,
        ndarray::Array2<f64>,
        ndarray::Array2<f64>,
        crate::formulation::LayerData,
    ) {
        let t = 6;
        let (h, y, layer) = random_problem(seed, (t, 3, 2), true);
        let input = Input {
            layer: &layer,
            features: h.clone(),
            points: (0..t).map(|k| 10 + k).collect(),
            relu,
            classes: None,
            targets: Some(&y),
        };
        let p = build(input, &mse_options(0.5, form)).unwrap().finish();
        (p, h, y, layer)
    }

    #[test]
    fn generated_tangent_rows_read_the_same_by_row_and_by_column() {
        for relu in [false, true] {
            let (p, ..) = random_mse(3, MseForm::Tangents, relu);
            let bound = p.mse_bound().unwrap();
            assert_eq!(p.num_rows() - p.num_stored_rows(), bound.pieces);
            crate::formulation::problem::tests::assert_rows_match_columns(&p);
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
    fn generated_segment_columns_read_the_same_by_row_and_by_column() {
        for relu in [false, true] {
            let (p, h, y, layer) = random_mse(5, MseForm::Segments, relu);
            let bound = p.mse_bound().unwrap();
            let segments: Vec<usize> = (0..p.num_columns()).filter(|&c| p.is_segment(c)).collect();
            assert_eq!(segments.len(), bound.pieces);
            assert_eq!(p.num_stored_columns() + bound.pieces, p.num_columns());
            crate::formulation::problem::tests::assert_rows_match_columns(&p);
            // Names are unique, and each run of segments is sg_t_j_0, 1, …
            let names: std::collections::HashSet<String> =
                p.columns().map(|c| c.var.to_string()).collect();
            assert_eq!(names.len(), p.num_columns(), "column names are unique");
            for (first, t, j, count) in p.segment_runs() {
                for k in 0..count {
                    assert_eq!(p.column_var(first + k), Var::Seg(t, j, k));
                }
            }
            // Every segment starts at 0, and there the objective plus the
            // offset is the loss now.
            let x = p.start();
            assert!(segments.iter().all(|&c| x[c] == 0.0));
            assert!(
                p.max_violation(&x) <= 1e-12,
                "feasible at the current weights"
            );
            let (w, b) = (&layer.w, &layer.b);
            let a = h.dot(&w.t()) + b;
            let out = if relu { a.mapv(|v| v.max(0.0)) } else { a };
            let loss = (out - &y).mapv(|r| r * r).sum();
            let f = p.objective_at(&x) + p.objective_offset();
            assert!((f - loss).abs() <= 1e-12 * (1.0 + loss), "{f} vs {loss}");
        }
    }

    #[test]
    fn anchored_segments_filled_in_order_cost_the_chords_and_more_otherwise() {
        let q = tangent_ratio(PWL_RELATIVE);
        let (lower, upper, r0) = (-1.0, 2.0, 0.3);
        let (pos, _) = tangent_points(0.0, upper, 0.01, q);
        let (neg, _) = tangent_points(0.0, -lower, 0.01, q);
        let points: Vec<f64> = neg.iter().rev().map(|&v| -v).chain(pos).collect();
        let nodes = segment_nodes(lower, upper, r0, &points);
        let a = nodes.iter().position(|&v| v == r0).unwrap();
        // Filled in order from r0 towards r: the cost is the chord of r².
        let cost = |r: f64| {
            let mut f = r0 * r0;
            for (k, w) in nodes.windows(2).enumerate() {
                let (lo, hi) = (w[0], w[1]);
                if k >= a && r > lo {
                    f += (lo + hi) * (r.min(hi) - lo);
                } else if k < a && r < hi {
                    f -= (lo + hi) * (hi - r.max(lo));
                }
            }
            f
        };
        for k in 0..=300 {
            let r = lower + (upper - lower) * k as f64 / 300.0;
            let chord = cost(r);
            assert!(chord >= r * r - 1e-12, "below r² at {r}");
            assert!(
                chord <= (1.0 + chord_gap(q)) * r * r + 1e-4,
                "{chord} at {r}"
            );
        }
        // Moving up one segment and down another at once leaves r where
        // it was but costs more: the LP never does it.
        let (up, down) = (nodes[a] + nodes[a + 1], -(nodes[a - 1] + nodes[a]));
        assert!(up + down > 0.0);
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
            let p = build(input, &opts).unwrap().finish();
            assert!(p.num_rows() == 0 && p.num_columns() == p.first_aux());
            for _ in 0..5 {
                let x: Vec<f64> = (0..p.num_columns())
                    .map(|_| rng.uniform() * 4.0 - 2.0)
                    .collect();
                let w = Array2::from_shape_fn((m, n), |(j, i)| x[j * n + i]);
                let b =
                    Array1::from_shape_fn(m, |j| if bias_vars { x[m * n + j] } else { layer.b[j] });
                let direct = (h.dot(&w.t()) + &b - &y).mapv(|r| r * r).sum();
                let model = p.objective_at(&x) + p.objective_offset();
                assert!(
                    (model - direct).abs() <= 1e-9 * direct,
                    "{model} vs {direct}"
                );
            }
        }
    }
}

//! A fast, certified solver for the multiclass hinge LP of one layer
//! (`--loss hinge`): minimise f(W, b) = Σ_t max(0, max_{j≠ℓ_t} δ − m_tj)
//! with m_tj = (w_ℓ − w_j)·h_t + b_ℓ − b_j over the box |W − W⁰| ≤ r,
//! |b − b⁰| ≤ r_b (b fixed when the layer has no bias variables). It owns
//! the algorithm only: numbers in, weights and a proven bound out; it knows
//! nothing of files, ONNX or HiGHS.
//!
//! The LP is the saddle point min_{x∈box} max_{y∈Y} Σ_tj y_tj (δ − m_tj(x))
//! with Y = Π_t {y_t ≥ 0, Σ_j y_tj ≤ 1}, solved by restarted, adaptive
//! primal–dual hybrid gradient (PDHG, the PDLP recipe of Applegate et al.
//! 2021): Pock–Chambolle diagonal preconditioning (one dual step per point,
//! so the capped-simplex projection stays exact), adaptive step sizes, a
//! primal weight updated at restarts, and restarts to the average or the
//! last iterate when the duality gap has fallen enough. One iteration is two
//! products, A = H Wᵀ + b (T×N · N×M) and G = Y'ᵀ H (M×T · T×N), fused into
//! one pass over the feature rows (a point's dual step needs only its own
//! activations) that skips the zeros of the sparse dual; the activations
//! are computed four points by two classes at a time, and the features are
//! read as f32 when each is an f32 exactly (ONNX Runtime's are: half the
//! bytes, the same products).
//!
//! Every iterate is certified: f(x) is an upper bound, and for any y ∈ Y
//! D(y) = Σ y_tj (δ − m_tj(x⁰)) − r‖G(y)‖₁ − r_b‖g_b(y)‖₁ (the minimum of
//! the Lagrangian over the box, in closed form) is a lower bound. The solver
//! stops when (best f − best D) / max(1, best f) ≤ the requested gap.
//! Before it starts, points whose margins stay ≥ δ everywhere in the box
//! (interval bounds) are dropped: their loss is 0 for every feasible x.
//!
//! [`solve_from`] starts from a given primal and dual (a [`Solution`] of the
//! same points at a nearby radius, or a solve stopped early). Measured on
//! N = 512 heads (T = 1,000, r = 0.01), it saves steps only when the start
//! is close: from radius r to 1.01 r 30–40 % fewer, from r to 1.4 r
//! between none and 20 % (the tail to the 1e-4 gap, not the distance from
//! the start, sets the count).

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, CowArray, Ix2, Zip};
use std::time::{Duration, Instant};

/// The hinge LP of one layer. Labels must be < M and the shapes agree
/// (T×N features, M×N weights, M biases); [`solve`] panics otherwise.
#[derive(Debug, Clone)]
pub struct HingeLp<'a> {
    /// Features, T×N.
    pub h: ArrayView2<'a, f64>,
    /// Labels ℓ_t ∈ 0..M.
    pub labels: &'a [usize],
    /// Current weights W⁰, M×N (the box's centre).
    pub w0: ArrayView2<'a, f64>,
    /// Current bias b⁰, M.
    pub b0: ArrayView1<'a, f64>,
    /// Box radius r of the weights.
    pub radius: f64,
    /// Box radius r_b of the bias; `None`: b is fixed at b⁰.
    pub bias_radius: Option<f64>,
    /// The hinge margin δ.
    pub delta: f64,
}

/// When to stop.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Certified relative gap (P − D) / max(1, |P|) at which to stop.
    pub rel_gap: f64,
    /// Wall-clock limit, or none.
    pub time_limit: Option<Duration>,
    /// Most PDHG steps (each two dense products).
    pub max_iterations: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            rel_gap: 1e-4,
            time_limit: None,
            max_iterations: 100_000,
        }
    }
}

/// Why the solver stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The certified gap is within the requested one (on the loss tracked
    /// while solving, equal to the recomputed objective up to rounding).
    Converged,
    /// Stopped by the time limit.
    TimeLimit,
    /// Stopped by the iteration limit.
    IterationLimit,
}

/// The answer: weights in the box, their exact loss, and a proven bound.
#[derive(Debug, Clone)]
pub struct Solution {
    /// Weights, M×N, inside the box.
    pub w: Array2<f64>,
    /// Bias, M (b⁰ when it is fixed).
    pub b: Array1<f64>,
    /// The hinge loss f at (w, b), recomputed from them.
    pub objective: f64,
    /// A certified lower bound on the LP optimum.
    pub bound: f64,
    /// PDHG steps taken (rejected step sizes included).
    pub iterations: usize,
    /// Why it stopped.
    pub status: Status,
    /// Points left after presolve.
    pub points: usize,
    /// The dual whose bound is [`Solution::bound`], T×M (a row per point of
    /// the LP, 0 for the points presolve dropped and in each label's
    /// column): with `w` and `b`, a [`Start`] for a neighbouring LP.
    pub y: Array2<f64>,
    /// The step size and primal weight PDHG ended with, for [`Start::steps`].
    pub steps: (f64, f64),
}

/// Where [`solve_from`] starts: weights (clamped into the box) and, when
/// known, a dual (T×M, projected onto each point's capped simplex) — for
/// example the [`Solution`] of the same points at another radius.
#[derive(Debug, Clone)]
pub struct Start<'a> {
    /// Weights, M×N.
    pub w: ArrayView2<'a, f64>,
    /// Bias, M (ignored when b is fixed).
    pub b: ArrayView1<'a, f64>,
    /// Dual, T×M; `None`: each point's most violated class at (w, b).
    pub y: Option<ArrayView2<'a, f64>>,
    /// PDHG's step size and primal weight to begin with ([`Solution::steps`]);
    /// `None`: 1 and 1.
    pub steps: Option<(f64, f64)>,
}

impl Solution {
    /// The certified relative gap (objective − bound) / max(1, |objective|).
    pub fn rel_gap(&self) -> f64 {
        (self.objective - self.bound).max(0.0) / self.objective.abs().max(1.0)
    }
}

/// Solves the hinge LP to the gap, time or iteration limit in `s`,
/// starting from the current weights.
pub fn solve(lp: &HingeLp<'_>, s: &Settings) -> Solution {
    run(lp, s, None)
}

/// [`solve`] from a given primal and dual: the same certified optimum,
/// usually in fewer steps when the start is near it (a radius path).
/// Panics when the start's shapes differ from the LP's.
pub fn solve_from(lp: &HingeLp<'_>, s: &Settings, start: &Start<'_>) -> Solution {
    assert_eq!(start.w.dim(), lp.w0.dim(), "the start's weights match W⁰");
    assert_eq!(start.b.dim(), lp.b0.dim(), "the start's bias matches b⁰");
    if let Some(y) = start.y {
        assert_eq!(
            y.dim(),
            (lp.h.nrows(), lp.w0.nrows()),
            "the start's dual is T×M"
        );
    }
    run(lp, s, Some(start))
}

fn run(lp: &HingeLp<'_>, s: &Settings, start: Option<&Start<'_>>) -> Solution {
    let clock = Instant::now();
    let red = presolve(lp);
    let op = Op::new(lp, &red);
    let init = start.map(|st| Init {
        w: st.w.to_owned(),
        b: st.b.to_owned(),
        y: st.y.map(|y| y.select(Axis(0), &red.index)),
        steps: st.steps,
    });
    let mut pd = Pdhg::new(&op, init);
    let status = pd.run(s, clock);
    let (mut w, mut b) = pd.best_weights();
    let mut a = Array2::zeros((op.h.nrows(), op.m));
    op.act(&w.view(), &b.view(), &mut a);
    let mut objective = op.loss(&a);
    if objective > pd.loss0 {
        // Never worse than the current weights.
        (w, b, objective) = (lp.w0.to_owned(), lp.b0.to_owned(), pd.loss0);
    }
    let bound = pd.best_bound.max(0.0);
    let mut y = Array2::zeros((lp.h.nrows(), op.m));
    for (&t, row) in red.index.iter().zip(pd.best_y.rows()) {
        y.row_mut(t).assign(&row);
    }
    Solution {
        w,
        b,
        objective,
        bound,
        iterations: pd.steps,
        status: if gap_met(objective, bound, s.rel_gap) {
            Status::Converged
        } else {
            status
        },
        points: op.h.nrows(),
        y,
        steps: (pd.eta, pd.omega),
    }
}

/// A [`Start`] on the points presolve kept.
struct Init {
    w: Array2<f64>,
    b: Array1<f64>,
    y: Option<Array2<f64>>,
    steps: Option<(f64, f64)>,
}

fn gap_met(p: f64, d: f64, tol: f64) -> bool {
    p - d <= tol * p.abs().max(1.0)
}

/// The points presolve keeps: their features (borrowed when none leave and
/// they are in row-major order) and labels.
struct Reduced<'a> {
    h: CowArray<'a, f64, Ix2>,
    labels: Vec<usize>,
    /// Each kept point's row in the LP.
    index: Vec<usize>,
}

/// Drops every point whose margins stay ≥ δ over the whole box: a_tj moves
/// at most r‖h_t‖₁ + r_b, so a margin at most twice that.
fn presolve<'a>(lp: &HingeLp<'a>) -> Reduced<'a> {
    let rb = lp.bias_radius.unwrap_or(0.0);
    let a0 = activations(lp.h, lp.w0, lp.b0);
    let keep: Vec<usize> = (0..lp.h.nrows())
        .filter(|&t| {
            let l = lp.labels[t];
            let reach = 2.0 * (lp.radius * lp.h.row(t).map(|v| v.abs()).sum() + rb);
            let row = a0.row(t);
            (0..row.len()).any(|j| j != l && row[l] - row[j] - reach < lp.delta)
        })
        .collect();
    if keep.len() == lp.h.nrows() && lp.h.is_standard_layout() {
        return Reduced {
            h: CowArray::from(lp.h),
            labels: lp.labels.to_vec(),
            index: keep,
        };
    }
    Reduced {
        h: CowArray::from(lp.h.select(Axis(0), &keep)),
        labels: keep.iter().map(|&t| lp.labels[t]).collect(),
        index: keep,
    }
}

fn activations(h: ArrayView2<f64>, w: ArrayView2<f64>, b: ArrayView1<f64>) -> Array2<f64> {
    let mut a = Array2::zeros((h.nrows(), w.nrows()));
    general_mat_mul(1.0, &h, &w.t(), 0.0, &mut a);
    a += &b;
    a
}

/// The LP's linear operator K (x ↦ activations, y ↦ G(y)) and the numbers
/// that do not change while solving.
struct Op<'a> {
    h: ArrayView2<'a, f64>,
    labels: &'a [usize],
    m: usize,
    delta: f64,
    r: f64,
    rb: Option<f64>,
    w0: ArrayView2<'a, f64>,
    b0: ArrayView1<'a, f64>,
    /// Activations at the box's centre, T×M.
    a0: Array2<f64>,
}

impl<'a> Op<'a> {
    fn new<'l: 'a>(lp: &HingeLp<'l>, red: &'a Reduced<'_>) -> Op<'a> {
        let h = red.h.view();
        Op {
            a0: activations(h, lp.w0, lp.b0),
            h,
            labels: &red.labels,
            m: lp.w0.nrows(),
            delta: lp.delta,
            r: lp.radius,
            rb: lp.bias_radius,
            w0: lp.w0,
            b0: lp.b0,
        }
    }

    /// The features, T×N in row-major order.
    fn features(&self) -> &'a [f64] {
        self.h
            .to_slice()
            .expect("presolve keeps the features in standard layout")
    }

    /// The features as f32 when each is one exactly (ONNX Runtime's are).
    fn features_f32(&self) -> Option<Vec<f32>> {
        let h = self.features();
        h.iter()
            .all(|&v| v as f32 as f64 == v)
            .then(|| h.iter().map(|&v| v as f32).collect())
    }

    /// a = H wᵀ + b.
    fn act(&self, w: &ArrayView2<f64>, b: &ArrayView1<f64>, a: &mut Array2<f64>) {
        general_mat_mul(1.0, &self.h, &w.t(), 0.0, a);
        *a += b;
    }

    /// g = Y'ᵀ H and gb = column sums of Y', where Y' = −y except
    /// Y'_tℓ = Σ_j y_tj: the gradient of Σ y_tj m_tj in (W, b).
    fn adjoint(
        &self,
        y: &Array2<f64>,
        yp: &mut Array2<f64>,
        g: &mut Array2<f64>,
        gb: &mut Array1<f64>,
    ) {
        Zip::from(yp.rows_mut())
            .and(y.rows())
            .and(self.labels)
            .for_each(|mut ypr, yr, &l| {
                ypr.assign(&yr);
                ypr.mapv_inplace(|v| -v);
                ypr[l] = yr.sum();
            });
        general_mat_mul(1.0, &yp.t(), &self.h, 0.0, g);
        gb.assign(&yp.sum_axis(Axis(0)));
    }

    /// The hinge loss at activations a.
    fn loss(&self, a: &Array2<f64>) -> f64 {
        a.rows()
            .into_iter()
            .zip(self.labels)
            .map(|(row, &l)| {
                let worst = row
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != l)
                    .map(|(_, &v)| v)
                    .fold(f64::NEG_INFINITY, f64::max);
                (self.delta - row[l] + worst).max(0.0)
            })
            .sum()
    }

    /// D(y): the Lagrangian's minimum over the box, a lower bound on the
    /// LP optimum for any y ∈ Y (g, gb = K'y from [`Op::adjoint`]).
    fn bound(&self, y: &Array2<f64>, g: &Array2<f64>, gb: &Array1<f64>) -> f64 {
        let mut d = 0.0;
        for ((yr, ar), &l) in y.rows().into_iter().zip(self.a0.rows()).zip(self.labels) {
            let sum = yr.sum();
            d += (self.delta - ar[l]) * sum + yr.dot(&ar);
        }
        d -= self.r * g.iter().map(|v| v.abs()).sum::<f64>();
        if let Some(rb) = self.rb {
            d -= rb * gb.iter().map(|v| v.abs()).sum::<f64>();
        }
        d
    }
}

/// A primal–dual point with its images under K.
#[derive(Clone)]
struct Point {
    w: Array2<f64>,
    b: Array1<f64>,
    /// Activations H wᵀ + b, T×M.
    a: Array2<f64>,
    /// Dual, T×M, zero in each point's label column.
    y: Array2<f64>,
    /// K'y: the weight part (M×N) and the bias part (M).
    g: Array2<f64>,
    gb: Array1<f64>,
}

impl Point {
    /// The first iterate: `init` (its weights clamped into the box, its
    /// dual projected onto Y) or the current weights; without a dual, each
    /// point's best response, its most violated class.
    fn start(
        op: &Op<'_>,
        init: Option<Init>,
        [lo, hi]: [&Array2<f64>; 2],
        [blo, bhi]: [&Array1<f64>; 2],
    ) -> Point {
        let (t, m, n) = (op.h.nrows(), op.m, op.h.ncols());
        let (mut w, mut b, y) = match init {
            Some(i) => (i.w, i.b, i.y),
            None => (op.w0.to_owned(), op.b0.to_owned(), None),
        };
        Zip::from(&mut w)
            .and(lo)
            .and(hi)
            .for_each(|v, &l, &h| *v = v.clamp(l, h));
        Zip::from(&mut b)
            .and(blo)
            .and(bhi)
            .for_each(|v, &l, &h| *v = v.clamp(l, h));
        if op.rb.is_none() {
            b.assign(&op.b0);
        }
        let mut a = Array2::zeros((t, m));
        op.act(&w.view(), &b.view(), &mut a);
        let y = match y {
            Some(mut y) => {
                let mut buf = Vec::with_capacity(m);
                for (mut row, &l) in y.rows_mut().into_iter().zip(op.labels) {
                    project_capped(
                        row.as_slice_mut().expect("a fresh array is contiguous"),
                        l,
                        &mut buf,
                    );
                }
                y
            }
            None => {
                let mut y = Array2::zeros((t, m));
                for ((mut yr, ar), &l) in y.rows_mut().into_iter().zip(a.rows()).zip(op.labels) {
                    if let Some(j) = worst_class(&ar, l, op.delta) {
                        yr[j] = 1.0;
                    }
                }
                y
            }
        };
        let (mut g, mut gb) = (Array2::zeros((m, n)), Array1::zeros(m));
        op.adjoint(&y, &mut Array2::zeros((t, m)), &mut g, &mut gb);
        Point { w, b, a, y, g, gb }
    }

    fn assign(&mut self, o: &Point) {
        self.w.assign(&o.w);
        self.b.assign(&o.b);
        self.a.assign(&o.a);
        self.y.assign(&o.y);
        self.g.assign(&o.g);
        self.gb.assign(&o.gb);
    }

    /// self += f (o − self): the running average with o's share f.
    fn blend(&mut self, o: &Point, f: f64) {
        let mix = |s: &mut f64, &v: &f64| *s += f * (v - *s);
        Zip::from(&mut self.w).and(&o.w).for_each(mix);
        Zip::from(&mut self.b).and(&o.b).for_each(mix);
        Zip::from(&mut self.a).and(&o.a).for_each(mix);
        Zip::from(&mut self.y).and(&o.y).for_each(mix);
        Zip::from(&mut self.g).and(&o.g).for_each(mix);
        Zip::from(&mut self.gb).and(&o.gb).for_each(mix);
    }
}

/// Projects row (its entries j ≠ label) onto {y ≥ 0, Σ y ≤ 1}; the label's
/// entry is set to 0. `buf` is scratch space.
fn project_capped(row: &mut [f64], label: usize, buf: &mut Vec<f64>) {
    row[label] = 0.0;
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = v.max(0.0);
        sum += *v;
    }
    if sum <= 1.0 {
        return;
    }
    // Onto the simplex Σ y = 1: y = max(v − θ, 0) with θ > 0 from the
    // sorted positive entries.
    buf.clear();
    buf.extend(row.iter().copied().filter(|&v| v > 0.0));
    buf.sort_unstable_by(|a, b| b.total_cmp(a));
    let mut cum = 0.0;
    let mut theta = 0.0;
    for (k, &v) in buf.iter().enumerate() {
        cum += v;
        let th = (cum - 1.0) / (k + 1) as f64;
        if v - th > 0.0 {
            theta = th;
        } else {
            break;
        }
    }
    for v in row.iter_mut() {
        *v = (*v - theta).max(0.0);
    }
}

/// What one pass of [`sweep`] reads: features (T×N, row-major), the new
/// primal point (w⁺, b⁺) and the current activations and dual.
struct Sweep<'s, F> {
    h: &'s [F],
    n: usize,
    labels: &'s [usize],
    delta: f64,
    sigma: f64,
    sy: &'s [f64],
    w: &'s [f64],
    b: &'s [f64],
    a: &'s [f64],
    y: &'s [f64],
}

impl<'s> Sweep<'s, ()> {
    /// The pass over the features h.
    fn reading<F>(&self, h: &'s [F]) -> Sweep<'s, F> {
        Sweep {
            h,
            n: self.n,
            labels: self.labels,
            delta: self.delta,
            sigma: self.sigma,
            sy: self.sy,
            w: self.w,
            b: self.b,
            a: self.a,
            y: self.y,
        }
    }
}

/// What it writes: a⁺, y⁺ (T×M) and g⁺ (M×N), gb⁺ (M).
struct SweepOut<'s> {
    a: &'s mut [f64],
    y: &'s mut [f64],
    g: &'s mut [f64],
    gb: &'s mut [f64],
    buf: &'s mut Vec<f64>,
}

/// Whether the processor has AVX2 and FMA (tests can turn the vector
/// path off, to run the scalar one that ships to processors without).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn simd() -> bool {
    #[cfg(test)]
    if tests::SCALAR.with(|s| s.get()) {
        return false;
    }
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// The two products of a PDHG step fused into one pass over the points,
/// so each feature row is read from memory once: for a block of points,
/// their activations a⁺_t = W⁺ h_t + b⁺ ([`activations_block`]); then for
/// each point its dual step (which needs only a⁺_t) and its share
/// Y'⁺_t h_t of g⁺, skipping the classes where Y'⁺_t is 0 (most of them: a
/// point's dual is sparse). With AVX2 and FMA when the processor has them.
fn sweep<F: Feature>(p: &Sweep<'_, F>, out: SweepOut<'_>) {
    #[cfg(target_arch = "x86_64")]
    if simd() {
        // SAFETY: the processor has the features sweep_avx2 is compiled for
        // (simd() detects them).
        unsafe { sweep_avx2(p, out) };
        return;
    }
    sweep_body(p, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sweep_avx2<F: Feature>(p: &Sweep<'_, F>, out: SweepOut<'_>) {
    sweep_body(p, out);
}

#[inline(always)]
fn sweep_body<F: Feature>(p: &Sweep<'_, F>, out: SweepOut<'_>) {
    let (n, m) = (p.n, p.b.len());
    out.g.fill(0.0);
    out.gb.fill(0.0);
    let t_all = p.labels.len();
    let mut t0 = 0;
    while t0 < t_all {
        let nb = PB.min(t_all - t0);
        activations_block(p, t0, nb, &mut out.a[t0 * m..(t0 + nb) * m]);
        for t in t0..t0 + nb {
            let (l, ht) = (p.labels[t], &p.h[t * n..(t + 1) * n]);
            let (an, a) = (&out.a[t * m..(t + 1) * m], &p.a[t * m..(t + 1) * m]);
            let (ny, y) = (&mut out.y[t * m..(t + 1) * m], &p.y[t * m..(t + 1) * m]);
            let step = p.sigma * p.sy[t];
            let al = 2.0 * an[l] - a[l];
            for j in 0..m {
                ny[j] = y[j] + step * (p.delta - al + 2.0 * an[j] - a[j]);
            }
            project_capped(ny, l, out.buf);
            let total: f64 = ny.iter().sum();
            for (k, &v) in ny.iter().enumerate() {
                let c = if k == l { total } else { -v };
                if c != 0.0 {
                    axpy(c, ht, &mut out.g[k * n..(k + 1) * n]);
                    out.gb[k] += c;
                }
            }
        }
        t0 += nb;
    }
}

/// Points a block of [`activations_block`] computes together.
const PB: usize = 4;

/// a_t = W h_t + b for the points t0..t0 + nb (nb ≤ [`PB`]) into `a`
/// (nb×M): with a full block, two classes at a time against four points,
/// so that each load of a weight or a feature feeds several products.
#[inline(always)]
fn activations_block<F: Feature>(p: &Sweep<'_, F>, t0: usize, nb: usize, a: &mut [f64]) {
    let (n, m) = (p.n, p.b.len());
    let row = |t: usize| &p.h[t * n..(t + 1) * n];
    if nb < PB {
        for (i, ai) in a.chunks_exact_mut(m).enumerate() {
            for (k, v) in ai.iter_mut().enumerate() {
                *v = dot(row(t0 + i), &p.w[k * n..(k + 1) * n]) + p.b[k];
            }
        }
        return;
    }
    let hs = [row(t0), row(t0 + 1), row(t0 + 2), row(t0 + 3)];
    let mut k = 0;
    while k < m {
        let k2 = (k + 1).min(m - 1);
        let d = dots_4x2(hs, [&p.w[k * n..(k + 1) * n], &p.w[k2 * n..(k2 + 1) * n]]);
        for (i, di) in d.iter().enumerate() {
            a[i * m + k] = di[0] + p.b[k];
            a[i * m + k2] = di[1] + p.b[k2];
        }
        k += 2;
    }
}

/// The eight dot products of four feature rows with two weight rows.
#[inline(always)]
fn dots_4x2<F: Feature>(h: [&[F]; PB], w: [&[f64]; 2]) -> [[f64; 2]; PB] {
    #[cfg(target_arch = "x86_64")]
    if simd() {
        // SAFETY: the processor has the features dots_4x2_avx2 is compiled
        // for (simd() detects them).
        return unsafe { dots_4x2_avx2(h, w) };
    }
    let mut out = [[0.0; 2]; PB];
    for (o, hp) in out.iter_mut().zip(h) {
        *o = [dot(hp, w[0]), dot(hp, w[1])];
    }
    out
}

/// [`dots_4x2`] with AVX2 and FMA: eight accumulators of four lanes, six
/// loads for eight fused multiply-adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dots_4x2_avx2<F: Feature>(h: [&[F]; PB], w: [&[f64]; 2]) -> [[f64; 2]; PB] {
    use std::arch::x86_64::*;
    let n = w[0].len();
    assert!(h.iter().all(|r| r.len() == n) && w[1].len() == n);
    let whole = n - n % 4;
    let mut acc = [[_mm256_setzero_pd(); 2]; PB];
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 4 ≤ whole ≤ n, the length of every row (asserted).
        let wv = [
            _mm256_loadu_pd(w[0].as_ptr().add(i)),
            _mm256_loadu_pd(w[1].as_ptr().add(i)),
        ];
        for (acc_p, hp) in acc.iter_mut().zip(h) {
            let hv = F::load4(hp.as_ptr().add(i));
            acc_p[0] = _mm256_fmadd_pd(hv, wv[0], acc_p[0]);
            acc_p[1] = _mm256_fmadd_pd(hv, wv[1], acc_p[1]);
        }
        i += 4;
    }
    let mut out = [[0.0; 2]; PB];
    for ((o, acc_p), hp) in out.iter_mut().zip(&acc).zip(h) {
        for q in 0..2 {
            let mut lanes = [0.0; 4];
            _mm256_storeu_pd(lanes.as_mut_ptr(), acc_p[q]);
            let tail: f64 = (whole..n).map(|i| hp[i].into() * w[q][i]).sum();
            o[q] = lanes.iter().sum::<f64>() + tail;
        }
    }
    out
}

/// Σ a_i b_i with eight partial sums (so that it vectorises).
#[inline(always)]
fn dot<F: Feature>(a: &[F], b: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(&x, y)| x.into() * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l].into() * y[l];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// y += c x.
#[inline(always)]
fn axpy<F: Feature>(c: f64, x: &[F], y: &mut [f64]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += c * xi.into();
    }
}

/// How the features are stored for the PDHG pass: f64, or f32 when every
/// feature is an f32 exactly (ONNX Runtime's are), which halves the bytes
/// each step reads and changes no product.
trait Feature: Copy + Into<f64> {
    /// Four features from `p` as f64 lanes.
    ///
    /// # Safety
    /// `p` points at four readable values, and the processor has AVX.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load4(p: *const Self) -> std::arch::x86_64::__m256d;
}

impl Feature for f64 {
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load4(p: *const f64) -> std::arch::x86_64::__m256d {
        // SAFETY: as the caller promises.
        unsafe { std::arch::x86_64::_mm256_loadu_pd(p) }
    }
}

impl Feature for f32 {
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load4(p: *const f32) -> std::arch::x86_64::__m256d {
        use std::arch::x86_64::*;
        // SAFETY: as the caller promises.
        unsafe { _mm256_cvtps_pd(_mm_loadu_ps(p)) }
    }
}

/// Restart parameters (PDLP's defaults).
const SUFFICIENT: f64 = 0.2;
const NECESSARY: f64 = 0.8;
const ARTIFICIAL: f64 = 0.36;
/// Accepted steps between evaluations of the loss, the bound and the
/// restart test (each reads T×M numbers twice): every step cost ~15 % of
/// the time, and every fourth took 8–10 % fewer steps on N = 512 heads.
const EVALUATE_EVERY: usize = 4;

/// The restarted, adaptive PDHG state.
struct Pdhg<'o, 'a> {
    op: &'o Op<'a>,
    lo: Array2<f64>,
    hi: Array2<f64>,
    blo: Array1<f64>,
    bhi: Array1<f64>,
    /// Primal preconditioner: 1 / (column abs-sum of K), 0 for a column K
    /// never reads.
    tw: Array2<f64>,
    tb: Array1<f64>,
    /// Dual preconditioner: 1 / (row abs-sum of K), one per point.
    sy: Array1<f64>,
    cur: Point,
    next: Point,
    avg: Point,
    avg_weight: f64,
    last: Point,
    last_gap: f64,
    prev_candidate_gap: f64,
    since_restart: usize,
    accepted: usize,
    buf: Vec<f64>,
    eta: f64,
    omega: f64,
    steps: usize,
    loss0: f64,
    best_loss: f64,
    best_w: Array2<f64>,
    best_b: Array1<f64>,
    best_bound: f64,
    /// The dual of the best bound.
    best_y: Array2<f64>,
    /// The features as f32, when that is exact ([`Feature`]).
    h32: Option<Vec<f32>>,
}

impl<'o, 'a> Pdhg<'o, 'a> {
    fn new(op: &'o Op<'a>, init: Option<Init>) -> Pdhg<'o, 'a> {
        let (t, m) = (op.h.nrows(), op.m);
        let rb = op.rb.unwrap_or(0.0);
        let bias = op.rb.is_some() as usize as f64;
        // Column abs-sums: w_k reads |h_t| once per row of point t, that is
        // M − 1 times when ℓ_t = k and once otherwise.
        let mut cnt = Array2::<f64>::ones((m, t));
        for (i, &l) in op.labels.iter().enumerate() {
            cnt[[l, i]] = (m - 1) as f64;
        }
        let habs = op.h.mapv(f64::abs);
        let inv = |v: f64| if v > 0.0 { 1.0 / v } else { 0.0 };
        let tw = cnt.dot(&habs).mapv(inv);
        let tb = cnt.sum_axis(Axis(1)).mapv(|v| inv(v * bias));
        let sy = habs.sum_axis(Axis(1)).mapv(|v| {
            if v + bias > 0.0 {
                0.5 / (v + bias)
            } else {
                1.0
            }
        });
        drop(habs);
        let (lo, hi) = (op.w0.mapv(|v| v - op.r), op.w0.mapv(|v| v + op.r));
        let (blo, bhi) = (op.b0.mapv(|v| v - rb), op.b0.mapv(|v| v + rb));
        let (eta, omega) = init.as_ref().and_then(|i| i.steps).unwrap_or((1.0, 1.0));
        let start = Point::start(op, init, [&lo, &hi], [&blo, &bhi]);
        let loss0 = op.loss(&op.a0);
        let (loss_s, bound_s) = (op.loss(&start.a), op.bound(&start.y, &start.g, &start.gb));
        let best_is_start = loss_s < loss0;
        Pdhg {
            op,
            lo,
            hi,
            blo,
            bhi,
            tw,
            tb,
            sy,
            next: start.clone(),
            avg: start.clone(),
            avg_weight: 0.0,
            last: start.clone(),
            last_gap: loss_s - bound_s,
            prev_candidate_gap: f64::INFINITY,
            since_restart: 0,
            accepted: 0,
            buf: Vec::with_capacity(m),
            eta,
            omega,
            steps: 0,
            loss0,
            best_loss: loss0.min(loss_s),
            best_w: if best_is_start {
                start.w.clone()
            } else {
                op.w0.to_owned()
            },
            best_b: if best_is_start {
                start.b.clone()
            } else {
                op.b0.to_owned()
            },
            best_bound: bound_s.max(0.0),
            best_y: start.y.clone(),
            h32: op.features_f32(),
            cur: start,
        }
    }

    fn best_weights(&self) -> (Array2<f64>, Array1<f64>) {
        // Averages of points in the box are in it up to rounding: clamp.
        let mut w = self.best_w.clone();
        Zip::from(&mut w)
            .and(&self.lo)
            .and(&self.hi)
            .for_each(|v, &lo, &hi| *v = v.clamp(lo, hi));
        let mut b = self.best_b.clone();
        Zip::from(&mut b)
            .and(&self.blo)
            .and(&self.bhi)
            .for_each(|v, &lo, &hi| *v = v.clamp(lo, hi));
        (w, b)
    }

    fn run(&mut self, s: &Settings, clock: Instant) -> Status {
        loop {
            if gap_met(self.best_loss, self.best_bound, s.rel_gap) {
                return Status::Converged;
            }
            if self.steps >= s.max_iterations {
                return Status::IterationLimit;
            }
            if s.time_limit.is_some_and(|l| clock.elapsed() >= l) {
                return Status::TimeLimit;
            }
            self.iterate();
        }
    }

    /// One PDHG step from `cur` into `next`; kept when the step size passes
    /// the adaptive test, then averages, bounds and restarts are updated.
    fn iterate(&mut self) {
        self.steps += 1;
        let (tau, sigma) = (self.eta / self.omega, self.eta * self.omega);
        self.primal_step(tau);
        self.dual_step(sigma);
        let eta_max = self.step_limit();
        let k = (self.steps + 1) as f64;
        let eta_new = ((1.0 - k.powf(-0.3)) * eta_max).min((1.0 + k.powf(-0.6)) * self.eta);
        if self.eta > eta_max {
            self.eta = eta_new;
            return;
        }
        let used = self.eta;
        self.eta = eta_new;
        std::mem::swap(&mut self.cur, &mut self.next);
        self.accepted += 1;
        self.since_restart += 1;
        self.avg_weight += used;
        self.avg.blend(&self.cur, used / self.avg_weight);
        if !self.accepted.is_multiple_of(EVALUATE_EVERY) {
            return;
        }
        let gap_cur = self.evaluate(false);
        let gap_avg = self.evaluate(true);
        self.maybe_restart(gap_cur, gap_avg);
    }

    fn primal_step(&mut self, tau: f64) {
        let (cur, next) = (&self.cur, &mut self.next);
        Zip::from(&mut next.w)
            .and(&cur.w)
            .and(&cur.g)
            .and(&self.tw)
            .and(&self.lo)
            .and(&self.hi)
            .for_each(|n, &w, &g, &t, &lo, &hi| *n = (w + tau * t * g).clamp(lo, hi));
        if self.op.rb.is_some() {
            Zip::from(&mut next.b)
                .and(&cur.b)
                .and(&cur.gb)
                .and(&self.tb)
                .and(&self.blo)
                .and(&self.bhi)
                .for_each(|n, &b, &g, &t, &lo, &hi| *n = (b + tau * t * g).clamp(lo, hi));
        }
    }

    /// The rest of the step, in one pass over the points (see [`sweep`]):
    /// a⁺ = H w⁺ᵀ + b⁺, y⁺ = proj(y + σ_t (δ − margins at 2x⁺ − x)) and
    /// g⁺ = K'y⁺.
    fn dual_step(&mut self, sigma: f64) {
        let (op, cur, next) = (self.op, &self.cur, &mut self.next);
        let pass = Sweep {
            h: &[(); 0][..],
            n: op.h.ncols(),
            labels: op.labels,
            delta: op.delta,
            sigma,
            sy: self.sy.as_slice().expect("a fresh array is contiguous"),
            w: next.w.as_slice().expect("a fresh array is contiguous"),
            b: next.b.as_slice().expect("a fresh array is contiguous"),
            a: cur.a.as_slice().expect("a fresh array is contiguous"),
            y: cur.y.as_slice().expect("a fresh array is contiguous"),
        };
        let out = SweepOut {
            a: next.a.as_slice_mut().expect("a fresh array is contiguous"),
            y: next.y.as_slice_mut().expect("a fresh array is contiguous"),
            g: next.g.as_slice_mut().expect("a fresh array is contiguous"),
            gb: next.gb.as_slice_mut().expect("a fresh array is contiguous"),
            buf: &mut self.buf,
        };
        match &self.h32 {
            Some(h) => sweep(&pass.reading(h), out),
            None => sweep(&pass.reading(op.features()), out),
        }
    }

    /// The largest step size the adaptive rule allows for the step just
    /// taken: ‖Δz‖²_ω / (2 |⟨Δy, K Δx⟩|) in the preconditioned norms.
    fn step_limit(&self) -> f64 {
        let (cur, next, op) = (&self.cur, &self.next, self.op);
        let mut inter = 0.0;
        let mut ny = 0.0;
        for ((((y1, y0), a1), a0), (&l, &s)) in next
            .y
            .rows()
            .into_iter()
            .zip(cur.y.rows())
            .zip(next.a.rows())
            .zip(cur.a.rows())
            .zip(op.labels.iter().zip(&self.sy))
        {
            let dal = a1[l] - a0[l];
            let mut sq = 0.0;
            for j in 0..y1.len() {
                let dy = y1[j] - y0[j];
                inter += dy * (dal - (a1[j] - a0[j]));
                sq += dy * dy;
            }
            ny += sq / s;
        }
        let nx =
            precond_dist2(&next.w, &cur.w, &self.tw) + precond_dist2(&next.b, &cur.b, &self.tb);
        if inter.abs() <= 0.0 {
            return f64::INFINITY;
        }
        (self.omega * nx + ny / self.omega) / (2.0 * inter.abs())
    }

    /// Updates the best loss and bound from `cur` (or the average) and
    /// returns its duality gap.
    fn evaluate(&mut self, average: bool) -> f64 {
        let p = if average { &self.avg } else { &self.cur };
        let loss = self.op.loss(&p.a);
        let bound = self.op.bound(&p.y, &p.g, &p.gb);
        if loss < self.best_loss {
            self.best_loss = loss;
            self.best_w.assign(&p.w);
            self.best_b.assign(&p.b);
        }
        if bound > self.best_bound {
            self.best_bound = bound;
            self.best_y.assign(&p.y);
        }
        loss - bound
    }

    /// Restarts (to the average or the iterate, whichever has the smaller
    /// gap) when the gap fell enough since the last restart, and updates
    /// the primal weight from how far each side moved.
    fn maybe_restart(&mut self, gap_cur: f64, gap_avg: f64) {
        let to_avg = gap_avg < gap_cur;
        let gap = gap_cur.min(gap_avg);
        let restart = gap <= SUFFICIENT * self.last_gap
            || (gap <= NECESSARY * self.last_gap && gap > self.prev_candidate_gap)
            || self.since_restart as f64 >= ARTIFICIAL * self.accepted as f64;
        self.prev_candidate_gap = gap;
        if !restart {
            return;
        }
        if to_avg {
            self.cur.assign(&self.avg);
        }
        let dx = (precond_dist2(&self.cur.w, &self.last.w, &self.tw)
            + precond_dist2(&self.cur.b, &self.last.b, &self.tb))
        .sqrt();
        let dy = Zip::from(self.cur.y.rows())
            .and(self.last.y.rows())
            .and(&self.sy)
            .fold(0.0, |acc, a, b, &s| {
                acc + a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum::<f64>() / s
            })
            .sqrt();
        if dx > 1e-10 && dy > 1e-10 {
            self.omega = (0.5 * (dy / dx).ln() + 0.5 * self.omega.ln()).exp();
        }
        self.last.assign(&self.cur);
        self.last_gap = gap;
        self.avg_weight = 0.0;
        self.avg.assign(&self.cur);
        self.since_restart = 0;
        self.prev_candidate_gap = f64::INFINITY;
    }
}

/// Σ (u − v)² / t over the entries with t > 0.
fn precond_dist2<D: ndarray::Dimension>(
    u: &ndarray::Array<f64, D>,
    v: &ndarray::Array<f64, D>,
    t: &ndarray::Array<f64, D>,
) -> f64 {
    Zip::from(u).and(v).and(t).fold(0.0, |acc, &u, &v, &t| {
        if t > 0.0 {
            acc + (u - v) * (u - v) / t
        } else {
            acc
        }
    })
}

/// The class j ≠ l with the largest positive violation δ − (a_l − a_j).
fn worst_class(a: &ArrayView1<f64>, l: usize, delta: f64) -> Option<usize> {
    (0..a.len())
        .filter(|&j| j != l)
        .map(|j| (j, delta - a[l] + a[j]))
        .filter(|&(_, v)| v > 0.0)
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .map(|(j, _)| j)
}

#[cfg(all(test, feature = "highs"))]
mod tests;

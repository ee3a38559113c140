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
//! last iterate when the duality gap has fallen enough.
//!
//! **Only the pairs that can move.** Inside the box an activation a_tj moves
//! by at most r‖h_t‖₁ + r_b, so a margin by at most twice that (interval
//! bounds). A pair (t, j) whose margin stays ≥ δ over the whole box never
//! contributes to the loss (the hinge is max(0, ·)): it gets no dual
//! variable, no activation and no share of any product, and the LP over the
//! remaining pairs has the same objective at every point of the box — the
//! same optimum and the same certificate. A point with no such pair leaves
//! altogether. On a 1,000-class head in a 0.5x box about a third of the
//! pairs stay ([`Pairs`]): the state is O(pairs), never T×M.
//!
//! One iteration is two products: the activations H Wᵀ + b, a dense
//! (T×N)·(N×M) product done by blocks of points with the tuned GEMM
//! `ndarray` already uses (`matrixmultiply`), on every core, in f32 when
//! each feature is an f32 exactly (ONNX Runtime's are); and G = Y'ᵀ H,
//! accumulated in f64 from each point's few non-zero duals. Both are fused
//! into one pass over the points (a point's dual step needs only its own
//! activations) so each feature row is read once.
//!
//! Every iterate is certified: f(x) is an upper bound, and for any y ∈ Y
//! D(y) = Σ y_tj (δ − m_tj(x⁰)) − r‖G(y)‖₁ − r_b‖g_b(y)‖₁ (the minimum of
//! the Lagrangian over the box, in closed form) is a lower bound. The solver
//! stops when (best f − best D) / max(1, best f) ≤ the requested gap; both
//! are recomputed in f64 from the weights and the dual before it says so
//! (the f32 products only steer the iterations).
//!
//! [`solve_from`] starts from a given primal and dual (a [`Solution`] of the
//! same points at a nearby radius, or a solve stopped early). Measured on
//! N = 512 heads (T = 1,000, r = 0.01), it saves steps only when the start
//! is close: from radius r to 1.01 r 30–40 % fewer, from r to 1.4 r
//! between none and 20 % (the tail to the 1e-4 gap, not the distance from
//! the start, sets the count).

use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, LinalgScalar, Zip};
use std::ops::Range;
use std::time::{Duration, Instant};

#[cfg(all(test, feature = "highs"))]
mod tests;

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

/// When to stop, and how many threads.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Certified relative gap (P − D) / max(1, |P|) at which to stop.
    pub rel_gap: f64,
    /// Wall-clock limit, or none.
    pub time_limit: Option<Duration>,
    /// Most PDHG steps (each two products).
    pub max_iterations: usize,
    /// Threads for the products; 0: as many as the machine has.
    pub threads: usize,
    /// Report the steps and the gap as progress ([`crate::progress`]).
    pub report: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            rel_gap: 1e-4,
            time_limit: None,
            max_iterations: 100_000,
            threads: 0,
            report: false,
        }
    }
}

/// Why the solver stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The certified gap is within the requested one.
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
    /// The hinge loss f at (w, b), recomputed from them in f64.
    pub objective: f64,
    /// Each point's hinge loss at (w, b) (T; 0 for the points presolve
    /// dropped): the sum is `objective`.
    pub losses: Vec<f64>,
    /// A certified lower bound on the LP optimum.
    pub bound: f64,
    /// PDHG steps taken (rejected step sizes included).
    pub iterations: usize,
    /// Why it stopped.
    pub status: Status,
    /// Points left after presolve.
    pub points: usize,
    /// Point-class pairs left after presolve (the dual's size).
    pub pairs: usize,
    /// Dot products of kept pairs the steps skipped, over all steps: the
    /// pairs the screening settled by bounds (see `Screening`).
    pub skipped: usize,
    /// The dual whose bound is [`Solution::bound`], T×M (0 for the pairs
    /// presolve dropped and in each label's column): with `w` and `b`, a
    /// [`Start`] for a neighbouring LP.
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

/// The threads `asked` means (0: the machine's).
fn thread_count(asked: usize) -> usize {
    if asked > 0 {
        return asked;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn run(lp: &HingeLp<'_>, s: &Settings, start: Option<&Start<'_>>) -> Solution {
    let clock = Instant::now();
    let threads = thread_count(s.threads);
    let pairs = Pairs::new(lp, threads);
    let (t_all, m) = (lp.h.nrows(), lp.w0.nrows());
    let init = start.map(|st| Init {
        w: st.w.to_owned(),
        b: st.b.to_owned(),
        y: st.y.map(|y| pairs.gather(&y)),
        steps: st.steps,
    });
    let (w, b, kept_losses, bound, status, (steps, skipped), best_y, eta_omega) = match &pairs.feats
    {
        Feats::F32(h) => solve_pairs(lp, &pairs, h, s, init, threads, clock),
        Feats::F64(h) => solve_pairs(lp, &pairs, h, s, init, threads, clock),
    };
    let mut losses = vec![0.0; t_all];
    for (&t, &v) in pairs.index.iter().zip(&kept_losses) {
        losses[t] = v;
    }
    let objective = kept_losses.iter().sum();
    let mut y = Array2::zeros((t_all, m));
    for (i, &t) in pairs.index.iter().enumerate() {
        for q in pairs.rivals(i) {
            y[[t, pairs.cls[q] as usize]] = best_y[q];
        }
    }
    Solution {
        w,
        b,
        objective,
        losses,
        bound,
        iterations: steps,
        status: if gap_met(objective, bound, s.rel_gap) {
            Status::Converged
        } else {
            status
        },
        points: pairs.index.len(),
        pairs: pairs.cls.len() - pairs.index.len(),
        skipped,
        y,
        steps: eta_omega,
    }
}

type Answer = (
    Array2<f64>,
    Array1<f64>,
    Vec<f64>,
    f64,
    Status,
    (usize, usize),
    Vec<f64>,
    (f64, f64),
);

fn solve_pairs<F: Feature>(
    lp: &HingeLp<'_>,
    pairs: &Pairs,
    h: &Array2<F>,
    s: &Settings,
    init: Option<Init>,
    threads: usize,
    clock: Instant,
) -> Answer {
    let op = Op {
        pairs,
        h,
        n: lp.h.ncols(),
        m: lp.w0.nrows(),
        delta: lp.delta,
        r: lp.radius,
        rb: lp.bias_radius,
        w0: lp.w0,
        b0: lp.b0,
        threads,
        exact: lp.h,
        direct: lp.w0.nrows() < DIRECT_BELOW,
        sparse: (pairs.cls.len() as f64)
            < SPARSE_BELOW * (pairs.index.len() * lp.w0.nrows()) as f64,
    };
    let mut pd = Pdhg::new(&op, init);
    let status = pd.run(s, clock);
    let (mut w, mut b) = pd.best_weights();
    let mut losses = op.exact_losses(&w, &b);
    if losses.iter().sum::<f64>() > pd.loss0 {
        // Never worse than the current weights.
        (w, b, losses) = (lp.w0.to_owned(), lp.b0.to_owned(), op.losses(&pairs.a0));
    }
    // The bound, recomputed in f64 from the dual it belongs to.
    let (mut g, mut gb) = (Array2::zeros((op.m, op.n)), Array1::zeros(op.m));
    op.adjoint(&pd.best_y, &mut g, &mut gb);
    let bound = op.bound(&pd.best_y, &g, &gb).max(0.0);
    (
        w,
        b,
        losses,
        bound,
        status,
        (pd.steps, pd.anchor.as_ref().map_or(0, |a| a.skipped)),
        std::mem::take(&mut pd.best_y),
        (pd.eta, pd.omega),
    )
}

/// A [`Start`] on the pairs presolve kept.
struct Init {
    w: Array2<f64>,
    b: Array1<f64>,
    y: Option<Vec<f64>>,
    steps: Option<(f64, f64)>,
}

fn gap_met(p: f64, d: f64, tol: f64) -> bool {
    p - d <= tol * p.abs().max(1.0)
}

/// How the features are stored for the products: f32 when every feature is
/// an f32 exactly (ONNX Runtime's are: half the bytes, and the GEMM twice
/// as fast), else f64.
pub(crate) trait Feature: LinalgScalar + Send + Sync + Into<f64> {
    /// The nearest value of this type.
    fn from_f64(v: f64) -> Self;

    /// Four features from `p` as f64 lanes.
    ///
    /// # Safety
    /// `p` points at four readable values, and the processor has AVX.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load4(p: *const Self) -> std::arch::x86_64::__m256d;
}

impl Feature for f32 {
    fn from_f64(v: f64) -> f32 {
        v as f32
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load4(p: *const f32) -> std::arch::x86_64::__m256d {
        use std::arch::x86_64::*;
        // SAFETY: as the caller promises.
        unsafe { _mm256_cvtps_pd(_mm_loadu_ps(p)) }
    }
}

impl Feature for f64 {
    fn from_f64(v: f64) -> f64 {
        v
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load4(p: *const f64) -> std::arch::x86_64::__m256d {
        // SAFETY: as the caller promises.
        unsafe { std::arch::x86_64::_mm256_loadu_pd(p) }
    }
}

/// Below this many outputs the activations come from a direct kernel (four
/// points by two classes, f64 weights, [`direct_block`]): for a handful of
/// columns the GEMM's packing and tiles cost more than they save (measured
/// on N = 512, M = 10 heads: 8-28 % more time a step).
const DIRECT_BELOW: usize = 32;

/// a_t = W h_t (no bias) for the points t0..t0 + nb of the row-major
/// features h (N = n) into `out` (nb×M, row-major), from f64 weights `w`.
fn direct_block<F: Feature>(h: &[F], n: usize, t0: usize, nb: usize, w: &[f64], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if simd() {
        // SAFETY: the processor has the features direct_block_avx2 is
        // compiled for (simd() detects them).
        unsafe { direct_block_avx2(h, n, t0, nb, w, out) };
        return;
    }
    direct_block_body(h, n, t0, nb, w, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn direct_block_avx2<F: Feature>(
    h: &[F],
    n: usize,
    t0: usize,
    nb: usize,
    w: &[f64],
    out: &mut [f64],
) {
    direct_block_body(h, n, t0, nb, w, out);
}

#[inline(always)]
fn direct_block_body<F: Feature>(
    h: &[F],
    n: usize,
    t0: usize,
    nb: usize,
    w: &[f64],
    out: &mut [f64],
) {
    let m = w.len() / n.max(1);
    let row = |t: usize| &h[t * n..(t + 1) * n];
    let wrow = |k: usize| &w[k * n..(k + 1) * n];
    let mut i = 0;
    while i + PB <= nb {
        let hs = [
            row(t0 + i),
            row(t0 + i + 1),
            row(t0 + i + 2),
            row(t0 + i + 3),
        ];
        let mut k = 0;
        while k < m {
            let k2 = (k + 1).min(m - 1);
            let d = dots_4x2(hs, [wrow(k), wrow(k2)]);
            for (p, dp) in d.iter().enumerate() {
                out[(i + p) * m + k] = dp[0];
                out[(i + p) * m + k2] = dp[1];
            }
            k += 2;
        }
        i += PB;
    }
    for i in i..nb {
        for k in 0..m {
            out[i * m + k] = dot(row(t0 + i), wrow(k));
        }
    }
}

/// With fewer kept slots than this share of points × outputs, the
/// activations are dot products at the kept pairs ([`sparse_point`]): a dot
/// product runs at about half the GEMM's speed (two loads a multiply-add),
/// so it pays below ~45 % of the pairs. Measured on the xl head (N = 2,048,
/// M = 1,000, 0.5x box, 15 % of the pairs kept): the solver alone took
/// 36 CPU-s instead of 73 (180 steps, 2 threads).
const SPARSE_BELOW: f64 = 0.3;

/// out_q = w_{cls_q} · h (no bias) for one point's slots, from the weights
/// `w` (M×N, row-major) in the features' type.
fn sparse_point<F: Feature>(h: &[F], w: &[F], cls: &[u32], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if simd() {
        // SAFETY: the processor has the features sparse_point_avx2 is
        // compiled for (simd() detects them).
        unsafe { sparse_point_avx2(h, w, cls, out) };
        return;
    }
    sparse_point_body(h, w, cls, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sparse_point_avx2<F: Feature>(h: &[F], w: &[F], cls: &[u32], out: &mut [f64]) {
    sparse_point_body(h, w, cls, out);
}

#[inline(always)]
fn sparse_point_body<F: Feature>(h: &[F], w: &[F], cls: &[u32], out: &mut [f64]) {
    let n = h.len();
    for (o, &j) in out.iter_mut().zip(cls) {
        let wj = &w[j as usize * n..(j as usize + 1) * n];
        let mut acc = [F::zero(); 32];
        let (ch, cw) = (h.chunks_exact(32), wj.chunks_exact(32));
        let mut tail = F::zero();
        for (&x, &y) in ch.remainder().iter().zip(cw.remainder()) {
            tail = tail + x * y;
        }
        for (x, y) in ch.zip(cw) {
            for l in 0..32 {
                acc[l] = acc[l] + x[l] * y[l];
            }
        }
        *o = acc.iter().map(|&v| v.into()).sum::<f64>() + tail.into();
    }
}

/// Points [`direct_block`] takes together.
const PB: usize = 4;

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
        let wv = unsafe {
            [
                _mm256_loadu_pd(w[0].as_ptr().add(i)),
                _mm256_loadu_pd(w[1].as_ptr().add(i)),
            ]
        };
        for (acc_p, hp) in acc.iter_mut().zip(h) {
            // SAFETY: as above.
            let hv = unsafe { F::load4(hp.as_ptr().add(i)) };
            acc_p[0] = _mm256_fmadd_pd(hv, wv[0], acc_p[0]);
            acc_p[1] = _mm256_fmadd_pd(hv, wv[1], acc_p[1]);
        }
        i += 4;
    }
    let mut out = [[0.0; 2]; PB];
    for ((o, acc_p), hp) in out.iter_mut().zip(&acc).zip(h) {
        for q in 0..2 {
            let mut lanes = [0.0; 4];
            // SAFETY: lanes holds four f64s.
            unsafe { _mm256_storeu_pd(lanes.as_mut_ptr(), acc_p[q]) };
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

/// The kept points' features, in the type the products use.
enum Feats {
    F32(Array2<f32>),
    F64(Array2<f64>),
}

/// The point-class pairs presolve keeps: each kept point's label and the
/// rival classes whose margin can fall below δ somewhere in the box.
struct Pairs {
    /// Each kept point's row in the LP.
    index: Vec<usize>,
    /// Kept point i owns the slots start[i]..start[i + 1]: its label's
    /// first (the dual there stays 0), then its rivals.
    start: Vec<usize>,
    /// The class of each slot.
    cls: Vec<u32>,
    /// The activation at the box's centre, a⁰, of each slot (f64).
    a0: Vec<f64>,
    /// The kept points' features.
    feats: Feats,
}

/// Points a block of the GEMM computes at once.
const BLOCK: usize = 128;

/// Runs `f` on each job, each on its own thread when there are several,
/// and returns the results in order.
fn parallel<J: Send, T: Send>(jobs: Vec<J>, f: impl Fn(J) -> T + Sync) -> Vec<T> {
    if jobs.len() <= 1 {
        return jobs.into_iter().map(f).collect();
    }
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = jobs.into_iter().map(|j| s.spawn(move || f(j))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a worker thread"))
            .collect()
    })
}

/// Splits 0..n into `parts` contiguous ranges of nearly equal length.
fn ranges(n: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.clamp(1, n.max(1));
    (0..parts)
        .map(|p| p * n / parts..(p + 1) * n / parts)
        .collect()
}

impl Pairs {
    /// Presolve: a⁰ = H W⁰ᵀ + b⁰ block by block (f64), and for each point the
    /// rivals j with a⁰_ℓ − a⁰_j − 2(r‖h_t‖₁ + r_b) < δ (plus a rounding
    /// slack: a pair is dropped only when the bound clears δ for certain).
    fn new(lp: &HingeLp<'_>, threads: usize) -> Pairs {
        let (t_all, n, m) = (lp.h.nrows(), lp.h.ncols(), lp.w0.nrows());
        assert_eq!(lp.labels.len(), t_all, "a label per point");
        assert_eq!(lp.w0.ncols(), n, "W⁰ is M×N");
        assert_eq!(lp.b0.len(), m, "b⁰ has M entries");
        assert!(lp.labels.iter().all(|&l| l < m), "labels are below M");
        let rb = lp.bias_radius.unwrap_or(0.0);
        struct Part {
            index: Vec<usize>,
            counts: Vec<usize>,
            cls: Vec<u32>,
            a0: Vec<f64>,
        }
        let work = |range: Range<usize>| {
            let mut part = Part {
                index: Vec::new(),
                counts: Vec::new(),
                cls: Vec::new(),
                a0: Vec::new(),
            };
            let mut blk = Array2::<f64>::zeros((BLOCK, m));
            let mut t0 = range.start;
            while t0 < range.end {
                let nb = BLOCK.min(range.end - t0);
                let hb = lp.h.slice(ndarray::s![t0..t0 + nb, ..]);
                let mut ab = blk.slice_mut(ndarray::s![..nb, ..]);
                general_mat_mul(1.0, &hb, &lp.w0.t(), 0.0, &mut ab);
                for (i, row) in ab.rows().into_iter().enumerate() {
                    let t = t0 + i;
                    let l = lp.labels[t];
                    let reach = 2.0 * (lp.radius * hb.row(i).map(|v| v.abs()).sum() + rb);
                    let al = row[l] + lp.b0[l];
                    let before = part.cls.len();
                    for j in (0..m).filter(|&j| j != l) {
                        let aj = row[j] + lp.b0[j];
                        let slack = 1e-9 * (al.abs() + aj.abs() + reach + lp.delta.abs());
                        if al - aj - reach < lp.delta + slack {
                            if part.cls.len() == before {
                                part.cls.push(l as u32);
                                part.a0.push(al);
                            }
                            part.cls.push(j as u32);
                            part.a0.push(aj);
                        }
                    }
                    if part.cls.len() > before {
                        part.index.push(t);
                        part.counts.push(part.cls.len() - before);
                    }
                }
                t0 += nb;
            }
            part
        };
        let parts: Vec<Part> = parallel(ranges(t_all, threads), work);
        let mut pairs = Pairs {
            index: Vec::new(),
            start: vec![0],
            cls: Vec::new(),
            a0: Vec::new(),
            feats: Feats::F64(Array2::zeros((0, n))),
        };
        for p in parts {
            pairs.index.extend(p.index);
            for c in p.counts {
                pairs
                    .start
                    .push(pairs.start.last().copied().unwrap_or(0) + c);
            }
            pairs.cls.extend(p.cls);
            pairs.a0.extend(p.a0);
        }
        let exact_f32 = pairs
            .index
            .iter()
            .all(|&t| lp.h.row(t).iter().all(|&v| v as f32 as f64 == v));
        let rows = pairs.index.len();
        pairs.feats = if exact_f32 {
            Feats::F32(Array2::from_shape_fn((rows, n), |(i, k)| {
                lp.h[[pairs.index[i], k]] as f32
            }))
        } else {
            Feats::F64(Array2::from_shape_fn((rows, n), |(i, k)| {
                lp.h[[pairs.index[i], k]]
            }))
        };
        pairs
    }

    /// Kept point i's slots.
    fn slots(&self, i: usize) -> Range<usize> {
        self.start[i]..self.start[i + 1]
    }

    /// Kept point i's rival slots (its label's left out).
    fn rivals(&self, i: usize) -> Range<usize> {
        self.start[i] + 1..self.start[i + 1]
    }

    /// A T×M dual on the kept pairs (each point's entries elsewhere are
    /// dropped: those pairs cannot violate, so their dual is 0 at the
    /// optimum and projection makes up the rest).
    fn gather(&self, y: &ArrayView2<f64>) -> Vec<f64> {
        let mut out = vec![0.0; self.cls.len()];
        for (i, &t) in self.index.iter().enumerate() {
            for q in self.rivals(i) {
                out[q] = y[[t, self.cls[q] as usize]];
            }
        }
        out
    }
}

/// The LP's operator on the kept pairs and the numbers that do not change.
struct Op<'o, F> {
    pairs: &'o Pairs,
    h: &'o Array2<F>,
    n: usize,
    m: usize,
    delta: f64,
    r: f64,
    rb: Option<f64>,
    w0: ArrayView2<'o, f64>,
    b0: ArrayView1<'o, f64>,
    threads: usize,
    /// The features as given (f64), for the exact loss.
    exact: ArrayView2<'o, f64>,
    /// Activations by [`direct_block`] rather than the GEMM.
    direct: bool,
    /// (Unless `direct`) activations at the kept pairs only, by dot
    /// products ([`sparse_point`]), rather than the GEMM.
    sparse: bool,
}

impl<F: Feature> Op<'_, F> {
    /// Kept point i's hinge loss from the activations at its slots.
    fn point_loss(&self, a: &[f64], i: usize) -> f64 {
        let s = self.pairs.slots(i);
        let worst = a[s.start + 1..s.end]
            .iter()
            .fold(f64::NEG_INFINITY, |x, &v| x.max(v));
        (self.delta - a[s.start] + worst).max(0.0)
    }

    /// The hinge loss from the activations at the slots.
    fn loss(&self, a: &[f64]) -> f64 {
        (0..self.pairs.index.len())
            .map(|i| self.point_loss(a, i))
            .sum()
    }

    /// Each kept point's loss from the activations at the slots.
    fn losses(&self, a: &[f64]) -> Vec<f64> {
        (0..self.pairs.index.len())
            .map(|i| self.point_loss(a, i))
            .collect()
    }

    /// The loss at (w, b) from f64 products of the features as given.
    fn exact_loss(&self, w: &Array2<f64>, b: &Array1<f64>) -> f64 {
        self.exact_losses(w, b).iter().sum()
    }

    /// Each kept point's loss at (w, b) from f64 products of the features
    /// as given: what the answer reports.
    fn exact_losses(&self, w: &Array2<f64>, b: &Array1<f64>) -> Vec<f64> {
        let p = self.pairs;
        let parts = ranges(p.index.len(), self.threads);
        let work = |r: Range<usize>| {
            let mut hb = Array2::<f64>::zeros((BLOCK, self.n));
            let mut ab = Array2::<f64>::zeros((BLOCK, self.m));
            let mut out = Vec::with_capacity(r.len());
            let mut i0 = r.start;
            while i0 < r.end {
                let nb = BLOCK.min(r.end - i0);
                for k in 0..nb {
                    hb.row_mut(k).assign(&self.exact.row(p.index[i0 + k]));
                }
                let mut a = ab.slice_mut(ndarray::s![..nb, ..]);
                general_mat_mul(1.0, &hb.slice(ndarray::s![..nb, ..]), &w.t(), 0.0, &mut a);
                for k in 0..nb {
                    let sl = p.slots(i0 + k);
                    let act = |q: usize| {
                        let j = p.cls[q] as usize;
                        a[[k, j]] + b[j]
                    };
                    let worst = (sl.start + 1..sl.end)
                        .map(act)
                        .fold(f64::NEG_INFINITY, f64::max);
                    out.push((self.delta - act(sl.start) + worst).max(0.0));
                }
                i0 += nb;
            }
            out
        };
        parallel(parts, work).concat()
    }

    /// g = Y'ᵀ H and gb = column sums of Y' (Y' = −y except Y'_tℓ = Σ_j y_tj),
    /// in f64: the gradient of Σ y_tj m_tj in (W, b).
    fn adjoint(&self, y: &[f64], g: &mut Array2<f64>, gb: &mut Array1<f64>) {
        let p = self.pairs;
        g.fill(0.0);
        gb.fill(0.0);
        let gs = g.as_slice_mut().expect("a fresh array is contiguous");
        for i in 0..p.index.len() {
            let h = self.h.row(i);
            let h = h.as_slice().expect("a fresh array is contiguous");
            let s = p.slots(i);
            let total: f64 = y[s.clone()].iter().sum();
            for q in s.clone() {
                let k = p.cls[q] as usize;
                let c = if q == s.start { total } else { -y[q] };
                if c != 0.0 {
                    axpy(c, h, &mut gs[k * self.n..(k + 1) * self.n]);
                    gb[k] += c;
                }
            }
        }
    }

    /// D(y): the Lagrangian's minimum over the box, a lower bound on the
    /// LP optimum for any y ∈ Y (g, gb = K'y).
    fn bound(&self, y: &[f64], g: &Array2<f64>, gb: &Array1<f64>) -> f64 {
        let p = self.pairs;
        let mut d = 0.0;
        for i in 0..p.index.len() {
            let s = p.slots(i);
            let al = p.a0[s.start];
            for (&yq, &aq) in y[s.start + 1..s.end].iter().zip(&p.a0[s.start + 1..s.end]) {
                d += yq * (self.delta - al + aq);
            }
        }
        d -= self.r * g.iter().map(|v| v.abs()).sum::<f64>();
        if let Some(rb) = self.rb {
            d -= rb * gb.iter().map(|v| v.abs()).sum::<f64>();
        }
        d
    }

    /// The activations at (w, b) on the slots, and, with `dual`, the dual
    /// step and K'y⁺ ([`Pass`]); says which old activations it recomputed
    /// and how many rival dot products it took.
    fn pass(
        &self,
        w: &Array2<f64>,
        b: &Array1<f64>,
        dual: Option<Dual<'_>>,
        out: PassOut<'_>,
    ) -> Screened {
        let p = self.pairs;
        let wf = if self.direct {
            Array2::zeros((0, self.n))
        } else {
            w.mapv(F::from_f64)
        };
        let w64 = w.as_slice().expect("a fresh array is contiguous");
        let parts = ranges(p.index.len(), self.threads);
        let PassOut {
            a,
            exact,
            y,
            grad,
            spare,
        } = out;
        let b = b.as_slice().expect("a fresh array is contiguous");
        // Each thread gets its points' slots of a⁺ and y⁺, and a gradient.
        let mut a_rest = &mut a[..];
        let mut exact_rest = &mut exact[..];
        let mut y_rest = y.map(|y| &mut y[..]);
        let mut jobs = Vec::new();
        let mut offset = 0;
        let mut spare_iter = spare.iter_mut();
        let mut first_g = grad;
        for r in parts {
            let len = p.start[r.end] - p.start[r.start];
            let (a_mine, a_next) = std::mem::take(&mut a_rest).split_at_mut(len);
            a_rest = a_next;
            let (exact_mine, exact_next) = std::mem::take(&mut exact_rest).split_at_mut(len);
            exact_rest = exact_next;
            let y_mine = match y_rest.take() {
                Some(yr) => {
                    let (mine, next) = yr.split_at_mut(len);
                    y_rest = Some(next);
                    Some(mine)
                }
                None => None,
            };
            // Gradients only with a dual step.
            let grad = match (first_g.take(), y_mine.is_some()) {
                (_, false) => None,
                (Some((g, gb)), true) => Some((g, gb)),
                (None, true) => {
                    let (g, gb) = spare_iter.next().expect("a gradient per thread");
                    Some((g, gb))
                }
            };
            jobs.push((r, offset, (a_mine, exact_mine), y_mine, grad));
            offset += len;
        }
        let (wf, dual) = (&wf, &dual);
        let parts = parallel(jobs, |(r, off, (a_mine, exact_mine), y_mine, grad)| {
            let job = Job {
                points: r,
                offset: off,
                a: a_mine,
                exact: exact_mine,
                y: y_mine,
                grad: grad.map(|(g, gb)| {
                    (
                        g.as_slice_mut().expect("a fresh array is contiguous"),
                        gb.as_slice_mut().expect("a fresh array is contiguous"),
                    )
                }),
            };
            self.pass_part((wf, w64), b, dual.as_ref(), job)
        });
        let mut all = Screened::default();
        for part in parts {
            all.fixes.extend(part.fixes);
            all.dots += part.dots;
        }
        all
    }

    /// [`Op::pass`] on one range of points (one thread): block by block,
    /// the block's activations, then each point's bias and dual step.
    fn pass_part(
        &self,
        (wf, w64): (&Array2<F>, &[f64]),
        b: &[f64],
        dual: Option<&Dual<'_>>,
        job: Job<'_>,
    ) -> Screened {
        let direct = self.direct;
        let sparse = !direct && self.sparse;
        let mut part = Part {
            op: self,
            wf,
            w64,
            b,
            dual,
            screen: dual.and_then(|d| d.screen.as_ref()).filter(|_| sparse),
            blk: Array2::zeros((if direct || sparse { 0 } else { BLOCK }, self.m)),
            blk64: vec![0.0; if direct { BLOCK * self.m } else { 0 }],
            old: Vec::with_capacity(self.m),
            buf: Vec::with_capacity(self.m),
            todo: Todo::new(self.m),
            done: Screened::default(),
            job,
        };
        part.job.exact.fill(true);
        if let Some((g, gb)) = part.job.grad.as_mut() {
            g.fill(0.0);
            gb.fill(0.0);
        }
        let points = part.job.points.clone();
        let mut i0 = points.start;
        while i0 < points.end {
            let nb = BLOCK.min(points.end - i0);
            part.activations(i0, nb);
            for k in 0..nb {
                part.point(i0, k);
            }
            i0 += nb;
        }
        part.done
    }
}

/// One thread's share of a pass in progress ([`Op::pass_part`]): what it
/// reads, its outputs ([`Job`]) and its scratch space.
struct Part<'a, 'o, F> {
    op: &'a Op<'o, F>,
    /// The new weights in the features' type, and in f64 (the direct
    /// kernel's), and the new bias.
    wf: &'a Array2<F>,
    w64: &'a [f64],
    b: &'a [f64],
    dual: Option<&'a Dual<'a>>,
    /// Set when this pass screens (dot products at the kept pairs only).
    screen: Option<&'a Screening<'a>>,
    /// A block's activations from the GEMM, or from the direct kernel.
    blk: Array2<F>,
    blk64: Vec<f64>,
    /// A point's old activations; the projection's scratch; a screened
    /// point's dot products to take.
    old: Vec<f64>,
    buf: Vec<f64>,
    todo: Todo,
    done: Screened,
    job: Job<'a>,
}

impl<F: Feature> Part<'_, '_, F> {
    fn is_direct(&self) -> bool {
        self.op.direct
    }

    fn is_sparse(&self) -> bool {
        !self.op.direct && self.op.sparse
    }

    /// The activations of points i0..i0 + nb: into the block (GEMM, direct
    /// kernel) or straight into the slots (dot products; a screened pass
    /// adds the bias and says which are exact).
    fn activations(&mut self, i0: usize, nb: usize) {
        let (op, p) = (self.op, self.op.pairs);
        let hs = op.h.as_slice().expect("a fresh array is contiguous");
        if self.is_direct() {
            direct_block(hs, op.n, i0, nb, self.w64, &mut self.blk64[..nb * op.m]);
        } else if self.is_sparse() {
            let wfs = self.wf.as_slice().expect("a fresh array is contiguous");
            let offset = self.job.offset;
            for i in i0..i0 + nb {
                let s = p.slots(i);
                let (lo, hi) = (s.start - offset, s.end - offset);
                let h = &hs[i * op.n..(i + 1) * op.n];
                match (self.screen, self.dual) {
                    (Some(sc), Some(d)) => {
                        let ctx = PointSlots {
                            i,
                            s,
                            cls: &p.cls,
                            h,
                            wf: wfs,
                            b: self.b,
                            delta: op.delta,
                        };
                        let (a, exact) = (&mut self.job.a[lo..hi], &mut self.job.exact[lo..hi]);
                        self.done.dots += sc.point(&ctx, d, a, exact, &mut self.todo);
                    }
                    _ => {
                        sparse_point(h, wfs, &p.cls[s.clone()], &mut self.job.a[lo..hi]);
                        self.done.dots += s.len() - 1;
                    }
                }
            }
        } else {
            general_mat_mul(
                F::one(),
                &op.h.slice(ndarray::s![i0..i0 + nb, ..]),
                &self.wf.t(),
                F::zero(),
                &mut self.blk.slice_mut(ndarray::s![..nb, ..]),
            );
        }
    }

    /// Point i0 + k of the block: its activations plus the bias at its
    /// slots, and with a dual step its y⁺ and share of K'y⁺.
    fn point(&mut self, i0: usize, k: usize) {
        let (op, p) = (self.op, self.op.pairs);
        let i = i0 + k;
        let s = p.slots(i);
        let offset = self.job.offset;
        let (lo, hi) = (s.start - offset, s.end - offset);
        if self.screen.is_none() {
            // (a screened pass added the bias itself)
            let (direct, sparse) = (self.is_direct(), self.is_sparse());
            for (q, av) in (s.start..s.end).zip(&mut self.job.a[lo..hi]) {
                let j = p.cls[q] as usize;
                let v = if direct {
                    self.blk64[k * op.m + j]
                } else if sparse {
                    *av
                } else {
                    self.blk[[k, j]].into()
                };
                *av = v + self.b[j];
            }
        }
        let Some(d) = self.dual else { return };
        let (Some(yn), Some((g, gb))) = (self.job.y.as_deref_mut(), self.job.grad.as_mut()) else {
            return;
        };
        let h = op.h.row(i);
        let h = h.as_slice().expect("a fresh array is contiguous");
        // The old activations, exact wherever the new ones are.
        self.old.clear();
        self.old.extend_from_slice(&d.a[s.clone()]);
        for q in s.clone() {
            if self.job.exact[q - offset] && !d.exact[q] {
                let v = d.old_activation(h, p.cls[q] as usize, op.n);
                self.old[q - s.start] = v;
                self.done.fixes.push((q, v));
            }
        }
        let pt = PointStep {
            i,
            y: &d.y[s.clone()],
            a: &self.old,
            an: &self.job.a[lo..hi],
            exact: &self.job.exact[lo..hi],
            cls: &p.cls[s],
            h,
        };
        dual_point(d, &pt, &mut yn[lo..hi], (g, gb), op.n, &mut self.buf);
    }
}

/// What the dual step reads: the current activations and dual, the step.
struct Dual<'d> {
    a: &'d [f64],
    /// Which of `a` are exact (the others bound a screened pair's from
    /// above).
    exact: &'d [bool],
    y: &'d [f64],
    sigma: f64,
    sy: &'d [f64],
    delta: f64,
    /// The current weights and bias (row-major): an old activation that
    /// was only a bound is recomputed from them where the step needs it.
    w: &'d [f64],
    b: &'d [f64],
    /// The pairs a step may skip ([`Screening`]); `None`: every pair.
    screen: Option<Screening<'d>>,
}

impl Dual<'_> {
    /// The current activation of class j at features h, in f64.
    fn old_activation<F: Feature>(&self, h: &[F], j: usize, n: usize) -> f64 {
        dot(h, &self.w[j * n..(j + 1) * n]) + self.b[j]
    }
}

/// What a pass did beyond its outputs: the old activations it recomputed
/// (slot, value) and the rival dot products it took.
#[derive(Default)]
struct Screened {
    fixes: Vec<(usize, f64)>,
    dots: usize,
}

/// Safe screening of the rival pairs, so that a step skips most of its
/// dot products. An anchor is kept (weights Â, b̂ and every slot's
/// activation there, exact); at weights W class j's activation at point t
/// is within ρ_j(W, t) = min(‖W_j − Â_j‖₂‖h_t‖₂, ‖W_j − Â_j‖_∞‖h_t‖₁) +
/// |b_j − b̂_j| of the anchor's (Cauchy–Schwarz, Hölder). A rival whose
/// dual is 0 and whose margin stays ≥ δ by that bound both at the new
/// point and at the extrapolated one gets y⁺ = 0 whatever its activation
/// ([`dual_point`]): the step stores the bound instead of the dot product.
/// The bound cannot change the point's hinge loss (the pair's hinge term
/// is ≤ 0 either way), so the losses the steps track stay exact; an
/// average of bounds only overstates a loss. Measured on the xl head
/// (N = 2,048, M = 1,000, 0.5x box): 72 % of the kept rivals skipped at
/// the first step, 89 % from the 50th, against 0.3 % with a non-zero dual.
struct Screening<'s> {
    /// The anchor's activation at each slot.
    anchor: &'s [f64],
    /// ‖h_t‖₂ and ‖h_t‖₁ of each kept point.
    h2: &'s [f64],
    h1: &'s [f64],
    /// How far the new weights and the extrapolated ones are from Â.
    up: &'s Drift,
    ext: &'s Drift,
}

/// How far each class's weights and bias are from the anchor's: the
/// ℓ2 and ℓ∞ norms of w_j − Â_j, and |b_j − b̂_j|.
struct Drift {
    l2: Vec<f64>,
    linf: Vec<f64>,
    bias: Vec<f64>,
}

impl Drift {
    fn new(m: usize) -> Drift {
        Drift {
            l2: vec![0.0; m],
            linf: vec![0.0; m],
            bias: vec![0.0; m],
        }
    }

    /// ρ_j for a point with ‖h‖₂ = h2, ‖h‖₁ = h1.
    fn reach(&self, j: usize, h2: f64, h1: f64) -> f64 {
        (self.l2[j] * h2).min(self.linf[j] * h1) + self.bias[j]
    }
}

/// One kept point in a screened pass: its slots and what its activations
/// are made of.
struct PointSlots<'s, F> {
    i: usize,
    s: Range<usize>,
    /// The class of every slot.
    cls: &'s [u32],
    h: &'s [F],
    /// The new weights in the features' type, and the new bias.
    wf: &'s [F],
    b: &'s [f64],
    delta: f64,
}

/// A screened pass's lists for one point, reused.
struct Todo {
    cls: Vec<u32>,
    at: Vec<usize>,
    out: Vec<f64>,
}

impl Todo {
    fn new(m: usize) -> Todo {
        Todo {
            cls: Vec::with_capacity(m),
            at: Vec::with_capacity(m),
            out: Vec::with_capacity(m),
        }
    }
}

impl Screening<'_> {
    /// The point's new activations `a` (its slots): the label's and every
    /// rival's that the bound cannot settle by dot products, the others'
    /// bounds (`exact` says which); returns the rival dot products taken.
    fn point<F: Feature>(
        &self,
        pt: &PointSlots<'_, F>,
        d: &Dual<'_>,
        a: &mut [f64],
        exact: &mut [bool],
        todo: &mut Todo,
    ) -> usize {
        let s = pt.s.clone();
        let l = pt.cls[s.start] as usize;
        let mut label = [0.0];
        sparse_point(pt.h, pt.wf, &pt.cls[s.start..s.start + 1], &mut label);
        a[0] = label[0] + pt.b[l];
        exact[0] = true;
        let (al, ale) = (a[0], 2.0 * a[0] - d.a[s.start]);
        let (h2, h1) = (self.h2[pt.i], self.h1[pt.i]);
        todo.cls.clear();
        todo.at.clear();
        for q in s.start + 1..s.end {
            let j = pt.cls[q] as usize;
            let k = q - s.start;
            if d.y[q] == 0.0 {
                let up = self.anchor[q] + self.up.reach(j, h2, h1);
                let ue = self.anchor[q] + self.ext.reach(j, h2, h1);
                // (a rounding's worth of room: the bound must hold for sure)
                let room = 1e-9 * (1.0 + al.abs() + up.abs() + ale.abs() + ue.abs());
                if pt.delta - al + up <= -room && pt.delta - ale + ue <= -room {
                    a[k] = up;
                    exact[k] = false;
                    continue;
                }
            }
            todo.cls.push(j as u32);
            todo.at.push(k);
        }
        todo.out.clear();
        todo.out.resize(todo.cls.len(), 0.0);
        sparse_point(pt.h, pt.wf, &todo.cls, &mut todo.out);
        for ((&k, &j), &v) in todo.at.iter().zip(&todo.cls).zip(&todo.out) {
            a[k] = v + pt.b[j as usize];
            exact[k] = true;
        }
        todo.cls.len()
    }
}

/// What a pass writes: a⁺ at the slots (with which are exact), and with a
/// dual step y⁺ and K'y⁺ (`spare`: a gradient for each thread after the
/// first).
struct PassOut<'p> {
    a: &'p mut [f64],
    exact: &'p mut [bool],
    y: Option<&'p mut [f64]>,
    grad: Option<(&'p mut Array2<f64>, &'p mut Array1<f64>)>,
    spare: &'p mut [(Array2<f64>, Array1<f64>)],
}

/// One thread's share of a pass: its points, where their slots begin, and
/// its outputs.
struct Job<'j> {
    points: Range<usize>,
    offset: usize,
    a: &'j mut [f64],
    exact: &'j mut [bool],
    y: Option<&'j mut [f64]>,
    grad: Option<(&'j mut [f64], &'j mut [f64])>,
}

/// One kept point's share of a dual step: its current dual, its old
/// activations (exact wherever the new ones are) and its new ones.
struct PointStep<'s, F> {
    i: usize,
    y: &'s [f64],
    a: &'s [f64],
    an: &'s [f64],
    /// Which of `an` are exact (the others: screened pairs).
    exact: &'s [bool],
    cls: &'s [u32],
    h: &'s [F],
}

/// Point i's dual step y⁺ = proj(y + σ_i(δ − m̃)), m̃ the margins at the
/// extrapolated point 2x⁺ − x, and its share Y'⁺_i h_i of g⁺. A screened
/// pair (y = 0, its new activation only an upper bound) gets y⁺ = 0: its
/// value before the projection is at most 0 (what [`Screening`] checked),
/// and the projection onto {y ≥ 0, Σ y ≤ 1} keeps such an entry at 0.
#[inline(always)]
fn dual_point<F: Feature>(
    d: &Dual<'_>,
    pt: &PointStep<'_, F>,
    yn: &mut [f64],
    (g, gb): (&mut [f64], &mut [f64]),
    n: usize,
    buf: &mut Vec<f64>,
) {
    let (a, an, y) = (pt.a, pt.an, pt.y);
    let step = d.sigma * d.sy[pt.i];
    let al = 2.0 * an[0] - a[0];
    for q in 1..an.len() {
        yn[q] = if pt.exact[q] {
            y[q] + step * (d.delta - al + 2.0 * an[q] - a[q])
        } else {
            0.0
        };
    }
    project_capped(yn, 0, buf);
    let total: f64 = yn.iter().sum();
    for (q, &v) in yn.iter().enumerate() {
        let c = if q == 0 { total } else { -v };
        if c != 0.0 {
            let k = pt.cls[q] as usize;
            axpy(c, pt.h, &mut g[k * n..(k + 1) * n]);
            gb[k] += c;
        }
    }
}

/// y += c x, in f64.
#[inline(always)]
fn axpy<F: Feature>(c: f64, x: &[F], y: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if simd() {
        // SAFETY: the processor has the features axpy_avx2 is compiled for.
        unsafe { axpy_avx2(c, x, y) };
        return;
    }
    axpy_body(c, x, y);
}

#[inline(always)]
fn axpy_body<F: Feature>(c: f64, x: &[F], y: &mut [f64]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += c * xi.into();
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_avx2<F: Feature>(c: f64, x: &[F], y: &mut [f64]) {
    axpy_body(c, x, y);
}

/// Whether the processor has AVX2 and FMA (tests can turn the vector
/// path off, to run the scalar one that ships to processors without).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn simd() -> bool {
    #[cfg(all(test, feature = "highs"))]
    if tests::SCALAR.with(|s| s.get()) {
        return false;
    }
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Projects row (its entries but `label`'s) onto {y ≥ 0, Σ y ≤ 1}; the
/// label's entry is set to 0. `buf` is scratch space.
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

/// A primal–dual point with its images under K, on the kept pairs.
#[derive(Clone)]
struct Point {
    w: Array2<f64>,
    b: Array1<f64>,
    /// Activations at the slots.
    a: Vec<f64>,
    /// Which of `a` are exact: the others are upper bounds, stored by a
    /// screened step ([`Screening`]) or averaged from them.
    exact: Vec<bool>,
    /// Dual at the slots, 0 at each label's.
    y: Vec<f64>,
    /// K'y: the weight part (M×N) and the bias part (M).
    g: Array2<f64>,
    gb: Array1<f64>,
}

impl Point {
    fn assign(&mut self, o: &Point) {
        self.w.assign(&o.w);
        self.b.assign(&o.b);
        self.a.copy_from_slice(&o.a);
        self.exact.copy_from_slice(&o.exact);
        self.y.copy_from_slice(&o.y);
        self.g.assign(&o.g);
        self.gb.assign(&o.gb);
    }

    /// self += f (o − self): the running average with o's share f.
    fn blend(&mut self, o: &Point, f: f64) {
        let mix = |s: &mut f64, &v: &f64| *s += f * (v - *s);
        Zip::from(&mut self.w).and(&o.w).for_each(mix);
        Zip::from(&mut self.b).and(&o.b).for_each(mix);
        self.a.iter_mut().zip(&o.a).for_each(|(s, v)| mix(s, v));
        if f >= 1.0 {
            self.exact.copy_from_slice(&o.exact);
        } else {
            // (an average of values of which one is a bound is a bound)
            self.exact
                .iter_mut()
                .zip(&o.exact)
                .for_each(|(s, &v)| *s &= v);
        }
        self.y.iter_mut().zip(&o.y).for_each(|(s, v)| mix(s, v));
        Zip::from(&mut self.g).and(&o.g).for_each(mix);
        Zip::from(&mut self.gb).and(&o.gb).for_each(mix);
    }
}

/// Restart parameters (PDLP's defaults).
const SUFFICIENT: f64 = 0.2;
const NECESSARY: f64 = 0.8;
const ARTIFICIAL: f64 = 0.36;
/// Accepted steps between restart tests (the gap is checked every step:
/// on the kept pairs it costs a few per cent of a step).
const RESTART_EVERY: usize = 4;

/// The restarted, adaptive PDHG state.
struct Pdhg<'o, 'p, F> {
    op: &'o Op<'p, F>,
    lo: Array2<f64>,
    hi: Array2<f64>,
    blo: Array1<f64>,
    bhi: Array1<f64>,
    /// Primal preconditioner: 1 / (column abs-sum of K), 0 for a column K
    /// never reads.
    tw: Array2<f64>,
    tb: Array1<f64>,
    /// Dual preconditioner: 1 / (row abs-sum of K), one per point.
    sy: Vec<f64>,
    cur: Point,
    next: Point,
    avg: Point,
    avg_weight: f64,
    /// The last restart's point (no activations or gradient needed).
    last_w: Array2<f64>,
    last_b: Array1<f64>,
    last_y: Vec<f64>,
    last_gap: f64,
    prev_candidate_gap: f64,
    since_restart: usize,
    accepted: usize,
    eta: f64,
    omega: f64,
    steps: usize,
    loss0: f64,
    best_loss: f64,
    /// Whether best_loss was computed in f64 from the features as given.
    best_exact: bool,
    best_w: Array2<f64>,
    best_b: Array1<f64>,
    best_bound: f64,
    /// The dual of the best bound.
    best_y: Vec<f64>,
    /// A gradient for each thread after the first.
    spare: Vec<(Array2<f64>, Array1<f64>)>,
    /// The screening's anchor (when the activations are dot products at
    /// the kept pairs).
    anchor: Option<Anchor>,
    /// ‖w⁺ − w‖² in the preconditioned norm, from the last primal step.
    moved_w: f64,
}

/// What the primal step measured of one row (class) of w⁺: its share of
/// ‖w⁺ − w‖² in the preconditioned norm, and (ℓ2², ℓ∞) of its drift from
/// the anchor at w⁺ and at 2w⁺ − w.
#[derive(Default)]
struct RowStep {
    moved: f64,
    up: (f64, f64),
    ext: (f64, f64),
}

/// Where [`Screening`] measures from, and when it moves.
struct Anchor {
    w: Array2<f64>,
    b: Array1<f64>,
    /// The activation at each slot at (w, b).
    a: Vec<f64>,
    h2: Vec<f64>,
    h1: Vec<f64>,
    up: Drift,
    ext: Drift,
    /// Rival pairs in all.
    rivals: usize,
    /// The fewest dot products a step took since the anchor moved, and
    /// what the steps took beyond that.
    fewest: usize,
    extra: usize,
    /// The next step computes every pair and moves the anchor there.
    refresh: bool,
    /// Rival dot products skipped so far.
    skipped: usize,
}

impl Anchor {
    fn new<F: Feature>(op: &Op<'_, F>) -> Anchor {
        let p = op.pairs;
        let norms = |f: fn(f64) -> f64| -> Vec<f64> {
            (0..p.index.len())
                .map(|i| op.h.row(i).iter().map(|&v| f(v.into())).sum::<f64>())
                .collect()
        };
        Anchor {
            w: op.w0.to_owned(),
            b: op.b0.to_owned(),
            a: p.a0.clone(),
            h2: norms(|v| v * v).into_iter().map(f64::sqrt).collect(),
            h1: norms(f64::abs),
            up: Drift::new(op.m),
            ext: Drift::new(op.m),
            rivals: p.cls.len() - p.index.len(),
            fewest: usize::MAX,
            extra: 0,
            refresh: false,
            skipped: 0,
        }
    }

    /// Each class's drift from the anchor at the new point and at the
    /// extrapolated one 2·next − cur: the weights' from the primal step's
    /// rows, the bias's here.
    fn record(&mut self, rows: &[RowStep], cur_b: &Array1<f64>, next_b: &Array1<f64>) {
        for (j, r) in rows.iter().enumerate() {
            let (ab, cb, nb) = (self.b[j], cur_b[j], next_b[j]);
            self.up.l2[j] = r.up.0.sqrt();
            self.up.linf[j] = r.up.1;
            self.up.bias[j] = (nb - ab).abs();
            self.ext.l2[j] = r.ext.0.sqrt();
            self.ext.linf[j] = r.ext.1;
            self.ext.bias[j] = (2.0 * nb - cb - ab).abs();
        }
    }

    /// After a step that took `dots` rival dot products: a full one moves
    /// the anchor to its point; otherwise the anchor moves when the dot
    /// products the bounds have lost since it last moved (each step's
    /// beyond the fewest) add up to what a full step costs more than a
    /// screened one.
    fn after(&mut self, full: bool, next: &Point, dots: usize) {
        if full {
            self.w.assign(&next.w);
            self.b.assign(&next.b);
            self.a.copy_from_slice(&next.a);
            (self.fewest, self.extra, self.refresh) = (usize::MAX, 0, false);
            return;
        }
        self.skipped += self.rivals - dots;
        self.fewest = self.fewest.min(dots);
        self.extra += dots - self.fewest;
        self.refresh = self.extra > self.rivals.saturating_sub(self.fewest);
    }
}

impl<'o, 'p, F: Feature> Pdhg<'o, 'p, F> {
    fn new(op: &'o Op<'p, F>, init: Option<Init>) -> Pdhg<'o, 'p, F> {
        let p = op.pairs;
        let (m, n) = (op.m, op.n);
        let rb = op.rb.unwrap_or(0.0);
        let bias = op.rb.is_some() as usize as f64;
        // Column abs-sums: w_k reads |h_t| once per kept row of point t,
        // that is (its rivals) times when ℓ_t = k and once when k is one.
        let (mut cw, mut cb) = (Array2::<f64>::zeros((m, n)), Array1::<f64>::zeros(m));
        let mut sy = Vec::with_capacity(p.index.len());
        {
            let cws = cw.as_slice_mut().expect("a fresh array is contiguous");
            let mut habs = vec![0.0f64; n];
            for i in 0..p.index.len() {
                for (d, &v) in habs.iter_mut().zip(op.h.row(i)) {
                    *d = v.into().abs();
                }
                let l1: f64 = habs.iter().sum();
                sy.push(if l1 + bias > 0.0 {
                    0.5 / (l1 + bias)
                } else {
                    1.0
                });
                let s = p.slots(i);
                let rivals = (s.len() - 1) as f64;
                for q in s.clone() {
                    let k = p.cls[q] as usize;
                    let c = if q == s.start { rivals } else { 1.0 };
                    axpy(c, &habs, &mut cws[k * n..(k + 1) * n]);
                    cb[k] += c;
                }
            }
        }
        let inv = |v: f64| if v > 0.0 { 1.0 / v } else { 0.0 };
        let tw = cw.mapv(inv);
        let tb = cb.mapv(|v| inv(v * bias));
        drop(cw);
        let (lo, hi) = (op.w0.mapv(|v| v - op.r), op.w0.mapv(|v| v + op.r));
        let (blo, bhi) = (op.b0.mapv(|v| v - rb), op.b0.mapv(|v| v + rb));
        let (eta, omega) = init.as_ref().and_then(|i| i.steps).unwrap_or((1.0, 1.0));
        let spare = (1..op.threads.min(p.index.len().max(1)))
            .map(|_| (Array2::zeros((m, n)), Array1::zeros(m)))
            .collect();
        let mut pd = Pdhg {
            op,
            lo,
            hi,
            blo,
            bhi,
            tw,
            tb,
            sy,
            cur: Point::zero(op),
            next: Point::zero(op),
            avg: Point::zero(op),
            avg_weight: 0.0,
            last_w: Array2::zeros((0, 0)),
            last_b: Array1::zeros(0),
            last_y: Vec::new(),
            last_gap: 0.0,
            prev_candidate_gap: f64::INFINITY,
            since_restart: 0,
            accepted: 0,
            eta,
            omega,
            steps: 0,
            loss0: op.loss(&p.a0),
            best_loss: 0.0,
            best_exact: true,
            best_w: op.w0.to_owned(),
            best_b: op.b0.to_owned(),
            best_bound: 0.0,
            best_y: Vec::new(),
            spare,
            anchor: (op.sparse && !op.direct).then(|| Anchor::new(op)),
            moved_w: 0.0,
        };
        pd.start(init);
        pd
    }

    /// The first iterate: `init` (its weights clamped into the box, its
    /// dual projected onto Y) or the current weights; without a dual, each
    /// point's best response, its most violated class.
    fn start(&mut self, init: Option<Init>) {
        let op = self.op;
        let p = op.pairs;
        let (mut w, mut b, y) = match init {
            Some(i) => (i.w, i.b, i.y),
            None => (op.w0.to_owned(), op.b0.to_owned(), None),
        };
        Zip::from(&mut w)
            .and(&self.lo)
            .and(&self.hi)
            .for_each(|v, &l, &h| *v = v.clamp(l, h));
        Zip::from(&mut b)
            .and(&self.blo)
            .and(&self.bhi)
            .for_each(|v, &l, &h| *v = v.clamp(l, h));
        if op.rb.is_none() {
            b.assign(&op.b0);
        }
        let mut a = vec![0.0; p.cls.len()];
        let mut exact = vec![true; p.cls.len()];
        if w == op.w0 && b == op.b0 {
            a.copy_from_slice(&p.a0);
        } else {
            op.pass(
                &w,
                &b,
                None,
                PassOut {
                    a: &mut a,
                    exact: &mut exact,
                    y: None,
                    grad: None,
                    spare: &mut [],
                },
            );
        }
        let mut buf = Vec::new();
        let y = match y {
            Some(mut y) => {
                for i in 0..p.index.len() {
                    project_capped(&mut y[p.slots(i)], 0, &mut buf);
                }
                y
            }
            None => {
                let mut y = vec![0.0; p.cls.len()];
                for i in 0..p.index.len() {
                    let s = p.slots(i);
                    let al = a[s.start];
                    let worst = (s.start + 1..s.end)
                        .map(|q| (q, op.delta - al + a[q]))
                        .filter(|&(_, v)| v > 0.0)
                        .max_by(|x, y| x.1.total_cmp(&y.1));
                    if let Some((q, _)) = worst {
                        y[q] = 1.0;
                    }
                }
                y
            }
        };
        let (mut g, mut gb) = (Array2::zeros((op.m, op.n)), Array1::zeros(op.m));
        op.adjoint(&y, &mut g, &mut gb);
        if let Some(anc) = &mut self.anchor {
            anc.w.assign(&w);
            anc.b.assign(&b);
            anc.a.copy_from_slice(&a);
        }
        let start = Point {
            w,
            b,
            a,
            exact,
            y,
            g,
            gb,
        };
        let (loss_s, bound_s) = (op.loss(&start.a), op.bound(&start.y, &start.g, &start.gb));
        if loss_s < self.loss0 {
            self.best_w.assign(&start.w);
            self.best_b.assign(&start.b);
            self.best_exact = false;
        }
        self.best_loss = self.loss0.min(loss_s);
        self.best_bound = bound_s.max(0.0);
        self.best_y = start.y.clone();
        self.last_gap = loss_s - bound_s;
        self.last_w = start.w.clone();
        self.last_b = start.b.clone();
        self.last_y = start.y.clone();
        self.next = start.clone();
        self.avg = start.clone();
        self.cur = start;
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
        let mut ticker = s
            .report
            .then(|| crate::progress::Ticker::new("solve", None));
        let status = loop {
            if gap_met(self.best_loss, self.best_bound, s.rel_gap) && self.confirm(s.rel_gap) {
                break Status::Converged;
            }
            if self.steps >= s.max_iterations {
                break Status::IterationLimit;
            }
            if s.time_limit.is_some_and(|l| clock.elapsed() >= l) {
                break Status::TimeLimit;
            }
            self.iterate();
            if let Some(t) = &mut ticker {
                let (p, d) = (self.best_loss, self.best_bound);
                t.tick(self.steps as u64, || {
                    format!("PDHG steps, gap {:.1e}", (p - d) / p.abs().max(1.0))
                });
            }
        };
        if let Some(t) = &mut ticker {
            t.finish(self.steps as u64);
        }
        status
    }

    /// The gap is met on the numbers the iterations track: recomputes the
    /// best loss in f64 from the features as given (and the bound from its
    /// dual) and says whether it still is.
    fn confirm(&mut self, rel_gap: f64) -> bool {
        let op = self.op;
        if !self.best_exact {
            let (w, b) = self.best_weights();
            self.best_loss = op.exact_loss(&w, &b);
            self.best_exact = true;
        }
        let (mut g, mut gb) = (Array2::zeros((op.m, op.n)), Array1::zeros(op.m));
        op.adjoint(&self.best_y, &mut g, &mut gb);
        self.best_bound = op.bound(&self.best_y, &g, &gb).max(0.0);
        gap_met(self.best_loss, self.best_bound, rel_gap)
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
        let gap_cur = self.evaluate(false);
        let gap_avg = self.evaluate(true);
        if self.accepted.is_multiple_of(RESTART_EVERY) {
            self.maybe_restart(gap_cur, gap_avg);
        }
    }

    /// w⁺ = clamp(w + τ T g) in one pass over the rows on every core,
    /// which also measures what the step needs of w⁺ − w (its
    /// preconditioned square length) and, when screening, each class's
    /// drift from the anchor at w⁺ and at 2w⁺ − w: the weights are the
    /// largest arrays a step touches, so each is read once.
    fn primal_step(&mut self, tau: f64) {
        let (cur, next) = (&self.cur, &mut self.next);
        let n = self.op.n;
        let anchor = self
            .anchor
            .as_ref()
            .filter(|a| !a.refresh)
            .map(|a| a.w.as_slice().expect("a fresh array is contiguous"));
        fn whole(x: &Array2<f64>) -> &[f64] {
            x.as_slice().expect("a fresh array is contiguous")
        }
        let (w, g, tw, lo, hi) = (
            whole(&cur.w),
            whole(&cur.g),
            whole(&self.tw),
            whole(&self.lo),
            whole(&self.hi),
        );
        let rows_per = self.op.m.div_ceil(self.op.threads.max(1)).max(1);
        let next_w = next.w.as_slice_mut().expect("a fresh array is contiguous");
        let jobs: Vec<_> = next_w.chunks_mut(rows_per * n).enumerate().collect();
        let parts = parallel(jobs, |(k, out)| {
            let mut rows = Vec::with_capacity(out.len() / n);
            for (r, nrow) in out.chunks_exact_mut(n).enumerate() {
                let at = (k * rows_per + r) * n..(k * rows_per + r + 1) * n;
                let mut st = RowStep::default();
                for (i, nv) in at.clone().zip(nrow.iter_mut()) {
                    *nv = (w[i] + tau * tw[i] * g[i]).clamp(lo[i], hi[i]);
                    if tw[i] > 0.0 {
                        st.moved += (*nv - w[i]) * (*nv - w[i]) / tw[i];
                    }
                    if let Some(aw) = anchor {
                        let (du, de) = (*nv - aw[i], 2.0 * *nv - w[i] - aw[i]);
                        st.up.0 += du * du;
                        st.up.1 = st.up.1.max(du.abs());
                        st.ext.0 += de * de;
                        st.ext.1 = st.ext.1.max(de.abs());
                    }
                }
                rows.push(st);
            }
            rows
        });
        let rows: Vec<RowStep> = parts.into_iter().flatten().collect();
        self.moved_w = rows.iter().map(|r| r.moved).sum();
        if self.op.rb.is_some() {
            Zip::from(&mut next.b)
                .and(&cur.b)
                .and(&cur.gb)
                .and(&self.tb)
                .and(&self.blo)
                .and(&self.bhi)
                .for_each(|n, &b, &g, &t, &lo, &hi| *n = (b + tau * t * g).clamp(lo, hi));
        }
        if let Some(anc) = self.anchor.as_mut().filter(|a| !a.refresh) {
            anc.record(&rows, &self.cur.b, &self.next.b);
        }
    }

    /// The rest of the step, in one pass over the points ([`Op::pass`]):
    /// a⁺ = H w⁺ᵀ + b⁺, y⁺ = proj(y + σ_t (δ − margins at 2x⁺ − x)) and
    /// g⁺ = K'y⁺.
    fn dual_step(&mut self, sigma: f64) {
        let (op, cur, next) = (self.op, &mut self.cur, &mut self.next);
        let full = self.anchor.as_ref().is_none_or(|anc| anc.refresh);
        let screen = self.anchor.as_ref().filter(|_| !full).map(|anc| Screening {
            anchor: &anc.a,
            h2: &anc.h2,
            h1: &anc.h1,
            up: &anc.up,
            ext: &anc.ext,
        });
        let dual = Dual {
            a: &cur.a,
            exact: &cur.exact,
            y: &cur.y,
            sigma,
            sy: &self.sy,
            delta: op.delta,
            w: cur.w.as_slice().expect("a fresh array is contiguous"),
            b: cur.b.as_slice().expect("a fresh array is contiguous"),
            screen,
        };
        let Point {
            w,
            b,
            a,
            exact,
            y,
            g,
            gb,
        } = next;
        let done = op.pass(
            w,
            b,
            Some(dual),
            PassOut {
                a,
                exact,
                y: Some(y),
                grad: Some((&mut *g, &mut *gb)),
                spare: &mut self.spare,
            },
        );
        for (gs, gbs) in &self.spare {
            *g += gs;
            *gb += gbs;
        }
        for &(q, v) in &done.fixes {
            cur.a[q] = v;
            cur.exact[q] = true;
        }
        if let Some(anc) = &mut self.anchor {
            anc.after(full, next, done.dots);
        }
    }

    /// The largest step size the adaptive rule allows for the step just
    /// taken: ‖Δz‖²_ω / (2 |⟨Δy, K Δx⟩|) in the preconditioned norms.
    fn step_limit(&self) -> f64 {
        let (cur, next, p) = (&self.cur, &self.next, self.op.pairs);
        let mut inter = 0.0;
        let mut ny = 0.0;
        for (i, &s) in self.sy.iter().enumerate() {
            let sl = p.slots(i);
            let l = sl.start;
            let dal = next.a[l] - cur.a[l];
            let mut sq = 0.0;
            for q in l + 1..sl.end {
                let dy = next.y[q] - cur.y[q];
                inter += dy * (dal - (next.a[q] - cur.a[q]));
                sq += dy * dy;
            }
            ny += sq / s;
        }
        // (the weights' part measured by the primal step)
        let nx = self.moved_w + precond_dist2(&next.b, &cur.b, &self.tb);
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
            self.best_exact = false;
            self.best_w.assign(&p.w);
            self.best_b.assign(&p.b);
        }
        if bound > self.best_bound {
            self.best_bound = bound;
            self.best_y.copy_from_slice(&p.y);
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
        let dx = (precond_dist2(&self.cur.w, &self.last_w, &self.tw)
            + precond_dist2(&self.cur.b, &self.last_b, &self.tb))
        .sqrt();
        let p = self.op.pairs;
        let dy = (0..self.sy.len())
            .map(|i| {
                let s = p.slots(i);
                let d: f64 = self.cur.y[s.clone()]
                    .iter()
                    .zip(&self.last_y[s])
                    .map(|(u, v)| (u - v) * (u - v))
                    .sum();
                d / self.sy[i]
            })
            .sum::<f64>()
            .sqrt();
        if dx > 1e-10 && dy > 1e-10 {
            self.omega = (0.5 * (dy / dx).ln() + 0.5 * self.omega.ln()).exp();
        }
        self.last_w.assign(&self.cur.w);
        self.last_b.assign(&self.cur.b);
        self.last_y.copy_from_slice(&self.cur.y);
        self.last_gap = gap;
        self.avg_weight = 0.0;
        self.avg.assign(&self.cur);
        self.since_restart = 0;
        self.prev_candidate_gap = f64::INFINITY;
    }
}

impl Point {
    fn zero<F>(op: &Op<'_, F>) -> Point {
        let slots = op.pairs.cls.len();
        Point {
            w: Array2::zeros((0, 0)),
            b: Array1::zeros(0),
            a: vec![0.0; slots],
            exact: vec![true; slots],
            y: vec![0.0; slots],
            g: Array2::zeros((0, 0)),
            gb: Array1::zeros(0),
        }
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

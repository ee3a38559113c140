//! Box-constrained least squares for a linear final layer: the exact mse
//! sweep without a general QP solver.
//!
//! With a linear output, Σ_tj (w_j·h_t + b_j − y_tj)² splits into M
//! independent problems, one per output j, each over the N (+1 with a bias)
//! parameters of that output and all sharing the Gram matrix G = ĤᵀĤ of the
//! features Ĥ = [H 1]:
//!
//! ```text
//! minimise  xᵀ G x − 2 q_jᵀ x + y_jᵀ y_j   over  |x − x⁰_j| ≤ radius (bias: bias radius)
//! ```
//!
//! Each is solved by Mehrotra's predictor-corrector interior point (about
//! ten Cholesky factorisations of G plus a diagonal; an active-set method
//! needed ~80 iterations a output on ReLU features, whose Gram matrix is
//! close to singular). Variables the loss does not depend on (a feature that
//! is zero at every point) or that the box fixes (radius 0) keep their
//! current value. Every answer comes with a certified bound: for a convex f
//! and any x in the box, f* ≥ f(x) + Σ_i min(g_i (l_i − x_i), g_i (u_i − x_i)),
//! g = ∇f(x).
//!
//! This module knows matrices only: no files, ONNX or solver.

use crate::formulation::Normal;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// The box: current weights (its centre) and half-widths.
pub struct Box<'a> {
    /// Current weights, M×N.
    pub w0: ArrayView2<'a, f64>,
    /// Current bias, M.
    pub b0: ArrayView1<'a, f64>,
    /// Half-width of the weights' box.
    pub radius: f64,
    /// Half-width of the biases' box (used when the bias is a variable).
    pub bias_radius: f64,
}

/// The answer, with its certificate.
#[derive(Debug, Clone)]
pub struct LsqSolution {
    /// Weights, M×N, inside the box.
    pub w: Array2<f64>,
    /// Bias, M (`b0` when fixed).
    pub b: Array1<f64>,
    /// Σ r² at (w, b), from the normal equations.
    pub objective: f64,
    /// A proven lower bound on the optimum.
    pub bound: f64,
    /// Interior-point iterations, over all outputs.
    pub iterations: usize,
    /// The deadline stopped it before every output reached the gap.
    pub stopped: bool,
}

/// Minimises every output's loss over the box to a relative gap
/// (objective − bound) / objective of at most `rel_gap` where the
/// arithmetic allows, or until `deadline` (outputs not reached keep their
/// current weights; the bound stays a bound).
pub fn solve(
    normal: &Normal,
    bx: &Box<'_>,
    rel_gap: f64,
    deadline: Option<std::time::Instant>,
) -> LsqSolution {
    let (m, n) = bx.w0.dim();
    let mut w = Array2::zeros((m, n));
    let mut b = bx.b0.to_owned();
    let (mut objective, mut bound, mut iterations) = (0.0, 0.0, 0);
    let mut stopped = false;
    for j in 0..m {
        let mut centre = bx.w0.row(j).to_vec();
        let mut r = vec![bx.radius; n];
        if normal.with_bias {
            centre.push(bx.b0[j]);
            r.push(bx.bias_radius);
        }
        let lower: Vec<f64> = centre.iter().zip(&r).map(|(c, r)| c - r).collect();
        let upper: Vec<f64> = centre.iter().zip(&r).map(|(c, r)| c + r).collect();
        let one = Quadratic {
            g: normal.g.view(),
            q: normal.q.column(j),
            c: normal.yy[j],
            lower: &lower,
            upper: &upper,
        };
        let out = one.minimise(centre, rel_gap, deadline);
        stopped |= out.stopped;
        w.row_mut(j).assign(&ArrayView1::from(&out.x[..n]));
        if normal.with_bias {
            b[j] = out.x[n];
        }
        objective += out.value;
        bound += out.bound;
        iterations += out.iterations;
    }
    LsqSolution {
        w,
        b,
        objective,
        // A sum of squares is never negative.
        bound: bound.min(objective).max(0.0),
        iterations,
        stopped,
    }
}

/// f(x) = xᵀGx − 2qᵀx + c over the box [lower, upper].
struct Quadratic<'a> {
    g: ArrayView2<'a, f64>,
    q: ArrayView1<'a, f64>,
    c: f64,
    lower: &'a [f64],
    upper: &'a [f64],
}

struct Minimum {
    x: Vec<f64>,
    value: f64,
    bound: f64,
    iterations: usize,
    /// The deadline came first.
    stopped: bool,
}

impl Quadratic<'_> {
    /// ∇f / 2 = Gx − q.
    fn half_gradient(&self, x: &[f64]) -> Vec<f64> {
        let x = ArrayView1::from(x);
        (self.g.dot(&x) - self.q).to_vec()
    }

    fn value_with(&self, x: &[f64], half_grad: &[f64]) -> f64 {
        // xᵀGx − 2qᵀx = xᵀ(Gx − q) − qᵀx.
        let xg: f64 = x.iter().zip(half_grad).map(|(a, b)| a * b).sum();
        let qx: f64 = x.iter().zip(self.q.iter()).map(|(a, b)| a * b).sum();
        xg - qx + self.c
    }

    /// f(x) + min over the box of ∇f(x)·(z − x): a lower bound on f*.
    fn bound_at(&self, x: &[f64], value: f64, half_grad: &[f64]) -> f64 {
        let drop: f64 = (0..x.len())
            .map(|i| {
                let gi = 2.0 * half_grad[i];
                (gi * (self.lower[i] - x[i])).min(gi * (self.upper[i] - x[i]))
            })
            .sum();
        value + drop.min(0.0)
    }

    fn project(&self, x: &mut [f64]) {
        for (i, v) in x.iter_mut().enumerate() {
            *v = v.clamp(self.lower[i], self.upper[i]);
        }
    }

    /// Mehrotra's predictor-corrector interior point on v = x − x⁰ with
    /// |v_i| ≤ r_i: about ten iterations whatever the conditioning, one
    /// Cholesky factorisation each; the best certified point is kept.
    fn minimise(
        &self,
        centre: Vec<f64>,
        rel_gap: f64,
        deadline: Option<std::time::Instant>,
    ) -> Minimum {
        let mut ipm = Ipm::new(self, &centre);
        let mut best = self.finish(&centre, &ipm.v, 0);
        for it in 1..=60 {
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                best.stopped = true;
                break;
            }
            ipm.iterate(self);
            let now = self.finish(&centre, &ipm.v, it);
            if now.value - now.bound < best.value - best.bound {
                best = now;
            }
            if best.value - best.bound <= rel_gap * best.value.abs().max(1e-300)
                || best.value - best.bound <= 1e-14 * self.c.abs()
            {
                break;
            }
        }
        best
    }

    /// x = x⁰ + v in the box, with its value and certified bound.
    fn finish(&self, centre: &[f64], v: &[f64], iterations: usize) -> Minimum {
        let mut x: Vec<f64> = centre.iter().zip(v).map(|(a, b)| a + b).collect();
        self.project(&mut x);
        let hg = self.half_gradient(&x);
        let value = self.value_with(&x, &hg);
        Minimum {
            bound: self.bound_at(&x, value, &hg),
            x,
            value,
            iterations,
            stopped: false,
        }
    }
}

/// The interior point's state for one output: v = x − x⁰ in |v| ≤ r, the
/// slacks s1 = r + v, s2 = r − v, their duals z1, z2, and the Newton
/// matrix's Cholesky factor. The objective is ½vᵀQv + cᵀv with Q = 2G and
/// c = 2(Gx⁰ − q), that is f(x⁰ + v) − f(x⁰).
struct Ipm {
    k: usize,
    r: Vec<f64>,
    /// A variable the loss does not depend on (its feature is 0 at every
    /// point) or that the box fixes: it keeps v = 0, slacks of 1 (never 0:
    /// 0/0 is NaN) and its duals.
    idle: Vec<bool>,
    c: Vec<f64>,
    v: Vec<f64>,
    s1: Vec<f64>,
    s2: Vec<f64>,
    z1: Vec<f64>,
    z2: Vec<f64>,
    m: Vec<f64>,
}

/// A Newton direction: the move of v and of both duals.
struct Direction {
    dv: Vec<f64>,
    dz1: Vec<f64>,
    dz2: Vec<f64>,
}

impl Ipm {
    fn new(f: &Quadratic<'_>, centre: &[f64]) -> Ipm {
        let k = centre.len();
        let r: Vec<f64> = (0..k).map(|i| (f.upper[i] - f.lower[i]) / 2.0).collect();
        let idle: Vec<bool> = (0..k)
            .map(|i| r[i] <= 0.0 || (f.g.row(i).iter().all(|&v| v == 0.0) && f.q[i] == 0.0))
            .collect();
        let c: Vec<f64> = f.half_gradient(centre).iter().map(|g| 2.0 * g).collect();
        let s1: Vec<f64> = (0..k).map(|i| if idle[i] { 1.0 } else { r[i] }).collect();
        let z0 = c.iter().fold(0.0f64, |a, &b| a.max(b.abs())).max(1.0) / k as f64;
        Ipm {
            k,
            r,
            idle,
            c,
            v: vec![0.0; k],
            s2: s1.clone(),
            s1,
            z1: vec![z0; k],
            z2: vec![z0; k],
            m: vec![0.0; k * k],
        }
    }

    /// The mean complementarity s·z of the variables that move, after steps
    /// (ap, ad) along `d` (0, 0: now).
    fn mu(&self, d: Option<(&Direction, f64, f64)>) -> f64 {
        let moving = (0..self.k).filter(|&i| !self.idle[i]);
        let count = moving.clone().count().max(1);
        let sum: f64 = moving
            .map(|i| match d {
                None => self.s1[i] * self.z1[i] + self.s2[i] * self.z2[i],
                Some((d, ap, ad)) => {
                    (self.s1[i] + ap * d.dv[i]) * (self.z1[i] + ad * d.dz1[i])
                        + (self.s2[i] - ap * d.dv[i]) * (self.z2[i] + ad * d.dz2[i])
                }
            })
            .sum();
        sum / (2 * count) as f64
    }

    /// Factors Q + Z1/S1 + Z2/S2 (idle rows and columns: the identity).
    fn factor(&mut self, g: ArrayView2<'_, f64>) {
        let k = self.k;
        for a in 0..k {
            for b in 0..=a {
                self.m[a * k + b] = if self.idle[a] || self.idle[b] {
                    0.0
                } else {
                    2.0 * g[[a, b]]
                };
            }
            self.m[a * k + a] += if self.idle[a] {
                1.0
            } else {
                self.z1[a] / self.s1[a] + self.z2[a] / self.s2[a]
            };
        }
        cholesky_in_place(&mut self.m, k, 1e-300);
    }

    /// The direction for complementarity targets t1, t2, given the
    /// stationarity residual rd = Qv + c − z1 + z2.
    fn direction(&self, rd: &[f64], t1: &[f64], t2: &[f64]) -> Direction {
        let (k, idle) = (self.k, &self.idle);
        let (s1, s2, z1, z2) = (&self.s1, &self.s2, &self.z1, &self.z2);
        let mut dv: Vec<f64> = (0..k)
            .map(|i| {
                if idle[i] {
                    0.0
                } else {
                    -rd[i] + t1[i] / s1[i] - t2[i] / s2[i]
                }
            })
            .collect();
        cholesky_solve(&self.m, k, &mut dv);
        for (i, d) in dv.iter_mut().enumerate() {
            if idle[i] {
                *d = 0.0;
            }
        }
        let dz = |i: usize, d: f64| if idle[i] { 0.0 } else { d };
        let dz1 = (0..k)
            .map(|i| dz(i, (t1[i] - z1[i] * dv[i]) / s1[i]))
            .collect();
        let dz2 = (0..k)
            .map(|i| dz(i, (t2[i] + z2[i] * dv[i]) / s2[i]))
            .collect();
        Direction { dv, dz1, dz2 }
    }

    /// One predictor-corrector step.
    fn iterate(&mut self, f: &Quadratic<'_>) {
        let k = self.k;
        let qv: Vec<f64> =
            f.g.dot(&ArrayView1::from(&self.v))
                .iter()
                .map(|x| 2.0 * x)
                .collect();
        let rd: Vec<f64> = (0..k)
            .map(|i| qv[i] + self.c[i] - self.z1[i] + self.z2[i])
            .collect();
        let mu = self.mu(None);
        self.factor(f.g);
        // Predictor: aim at complementarity 0.
        let t1: Vec<f64> = (0..k).map(|i| -self.s1[i] * self.z1[i]).collect();
        let t2: Vec<f64> = (0..k).map(|i| -self.s2[i] * self.z2[i]).collect();
        let d = self.direction(&rd, &t1, &t2);
        let (ap, ad) = self.steps(&d, 1.0);
        let sigma = (self.mu(Some((&d, ap, ad))) / mu).powi(3).min(1.0);
        // Corrector: centred at σμ, with the predictor's second-order term.
        let t1: Vec<f64> = (0..k)
            .map(|i| sigma * mu - self.s1[i] * self.z1[i] - d.dv[i] * d.dz1[i])
            .collect();
        let t2: Vec<f64> = (0..k)
            .map(|i| sigma * mu - self.s2[i] * self.z2[i] + d.dv[i] * d.dz2[i])
            .collect();
        let d = self.direction(&rd, &t1, &t2);
        let (ap, ad) = self.steps(&d, 0.99);
        for i in (0..k).filter(|&i| !self.idle[i]) {
            self.v[i] += ap * d.dv[i];
            self.s1[i] = (self.r[i] + self.v[i]).max(0.0);
            self.s2[i] = (self.r[i] - self.v[i]).max(0.0);
            self.z1[i] += ad * d.dz1[i];
            self.z2[i] += ad * d.dz2[i];
        }
    }

    fn steps(&self, d: &Direction, frac: f64) -> (f64, f64) {
        steps(
            &self.s1, &self.s2, &self.z1, &self.z2, &d.dv, &d.dz1, &d.dz2, frac,
        )
    }
}

/// The largest steps in (0, 1] (times `frac`) that keep slacks and duals
/// positive.
#[allow(clippy::too_many_arguments)]
fn steps(
    s1: &[f64],
    s2: &[f64],
    z1: &[f64],
    z2: &[f64],
    dv: &[f64],
    dz1: &[f64],
    dz2: &[f64],
    frac: f64,
) -> (f64, f64) {
    let limit = |v: &[f64], d: &dyn Fn(usize) -> f64| {
        (0..v.len())
            .filter(|&i| d(i) < 0.0)
            .map(|i| -v[i] / d(i))
            .fold(1.0f64 / frac, f64::min)
    };
    let ap = limit(s1, &|i| dv[i]).min(limit(s2, &|i| -dv[i]));
    let ad = limit(z1, &|i| dz1[i]).min(limit(z2, &|i| dz2[i]));
    ((frac * ap).min(1.0), (frac * ad).min(1.0))
}

/// Solves L Lᵀ x = b in place, L the factor [`cholesky_in_place`] made.
fn cholesky_solve(l: &[f64], n: usize, b: &mut [f64]) {
    for a in 0..n {
        let s = dot(&l[a * n..a * n + a], &b[..a]);
        b[a] = (b[a] - s) / l[a * n + a];
    }
    for a in (0..n).rev() {
        let s: f64 = (a + 1..n).map(|c| l[c * n + a] * b[c]).sum();
        b[a] = (b[a] - s) / l[a * n + a];
    }
}

/// Σ aᵢbᵢ with four accumulators, so the compiler can use vector units.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc[0] + acc[1] + acc[2] + acc[3] + tail
}

/// Lower-triangular Cholesky factor of the symmetric matrix whose lower
/// triangle `l` (row-major, n×n) holds; a pivot that rounding made tiny is
/// raised to `floor`.
fn cholesky_in_place(l: &mut [f64], n: usize, floor: f64) {
    for a in 0..n {
        for b in 0..=a {
            let (ra, rb) = (a * n, b * n);
            let s = dot(&l[ra..ra + b], &l[rb..rb + b]);
            let v = l[ra + b] - s;
            l[ra + b] = if a == b {
                v.max(floor).sqrt()
            } else {
                v / l[rb + b]
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SplitMix;
    use ndarray::Axis;

    fn random(
        seed: u64,
        t: usize,
        n: usize,
        m: usize,
    ) -> (Array2<f64>, Array2<f64>, Array2<f64>, Array1<f64>) {
        let mut rng = SplitMix(seed);
        let h = Array2::from_shape_fn((t, n), |_| (rng.uniform() - 0.3).max(0.0));
        let y = Array2::from_shape_fn((t, m), |_| rng.uniform() * 4.0 - 1.0);
        let w0 = Array2::from_shape_fn((m, n), |_| rng.uniform() - 0.5);
        let b0 = Array1::from_shape_fn(m, |_| rng.uniform());
        (h, y, w0, b0)
    }

    fn run(
        h: &Array2<f64>,
        y: &Array2<f64>,
        w0: &Array2<f64>,
        b0: &Array1<f64>,
        radius: f64,
        bias_radius: Option<f64>,
        rel_gap: f64,
    ) -> LsqSolution {
        let normal = Normal::new(h.view(), y.view(), bias_radius.is_none().then(|| b0.view()));
        let bx = Box {
            w0: w0.view(),
            b0: b0.view(),
            radius,
            bias_radius: bias_radius.unwrap_or(0.0),
        };
        solve(&normal, &bx, rel_gap, None)
    }

    fn loss(h: &Array2<f64>, y: &Array2<f64>, w: &Array2<f64>, b: &Array1<f64>) -> f64 {
        (h.dot(&w.t()) + b - y).mapv(|r| r * r).sum()
    }

    #[test]
    fn reaches_the_unconstrained_optimum_when_the_box_is_wide() {
        // With a huge box the answer is ordinary least squares: the
        // residuals are orthogonal to every feature and to the constant.
        let (h, y, w0, b0) = random(1, 40, 6, 3);
        let s = run(&h, &y, &w0, &b0, 1e6, Some(1e6), 1e-12);
        let r = h.dot(&s.w.t()) + &s.b - &y;
        let normal = h.t().dot(&r);
        assert!(normal.iter().all(|v| v.abs() < 1e-8), "{normal}");
        assert!(r.sum_axis(Axis(0)).iter().all(|v| v.abs() < 1e-8));
        assert!((loss(&h, &y, &s.w, &s.b) - s.objective).abs() < 1e-8 * s.objective);
        // (The bound multiplies the gradient by the box's width: with a box
        // of 1e6 it only says that it is a bound.)
        assert!(s.bound <= s.objective);
    }

    #[test]
    fn small_boxes_are_respected_and_certified() {
        for (seed, bias) in [(2, true), (3, false)] {
            let (h, y, w0, b0) = random(seed, 60, 8, 2);
            let r = 0.05;
            let s = run(&h, &y, &w0, &b0, r, bias.then_some(0.1), 1e-10);
            assert!(s
                .w
                .iter()
                .zip(w0.iter())
                .all(|(a, b)| (a - b).abs() <= r + 1e-15));
            if !bias {
                assert_eq!(s.b, b0);
            }
            let exact = loss(&h, &y, &s.w, &s.b);
            assert!((exact - s.objective).abs() < 1e-9 * exact);
            assert!(s.objective <= loss(&h, &y, &w0, &b0));
            assert!(
                s.objective - s.bound <= 1e-9 * s.objective,
                "{} {}",
                s.objective,
                s.bound
            );
            // No box corner nearby does better (a crude independent check).
            let mut rng = SplitMix(seed + 100);
            for _ in 0..200 {
                let w = &s.w + &Array2::from_shape_fn(s.w.dim(), |_| (rng.uniform() - 0.5) * 0.01);
                let w = Array2::from_shape_fn(w.dim(), |(j, i)| {
                    w[[j, i]].clamp(w0[[j, i]] - r, w0[[j, i]] + r)
                });
                assert!(loss(&h, &y, &w, &s.b) >= s.objective * (1.0 - 1e-12));
            }
        }
    }

    #[test]
    fn a_box_of_width_zero_fixes_its_variables_and_the_rest_still_move() {
        // Regression: a zero radius made the interior point divide 0 by 0
        // and return the current weights.
        let (h, y, w0, b0) = random(5, 50, 6, 2);
        let fixed_bias = run(&h, &y, &w0, &b0, 0.05, None, 1e-12);
        let zero_bias = run(&h, &y, &w0, &b0, 0.05, Some(0.0), 1e-12);
        assert_eq!(zero_bias.b, b0);
        assert!((zero_bias.objective - fixed_bias.objective).abs() <= 1e-9 * fixed_bias.objective);
        assert!(zero_bias.objective < loss(&h, &y, &w0, &b0));
        let zero_weights = run(&h, &y, &w0, &b0, 0.0, Some(0.1), 1e-12);
        assert_eq!(zero_weights.w, w0);
        assert!(zero_weights.objective < loss(&h, &y, &w0, &b0));
    }

    #[test]
    fn the_blocked_gram_matrix_is_the_full_product() {
        let (h, _, _, _) = random(6, 70, 300, 1);
        let mut g = Array2::zeros((300, 300));
        crate::formulation::normal::gram_into(h.view(), g.view_mut());
        let full = h.t().dot(&h);
        assert!(g
            .iter()
            .zip(full.iter())
            .all(|(a, b)| (a - b).abs() <= 1e-12 * (1.0 + b.abs())));
    }

    #[test]
    fn a_dead_feature_keeps_its_weight() {
        let (mut h, y, w0, b0) = random(4, 30, 5, 2);
        h.column_mut(2).fill(0.0);
        let s = run(&h, &y, &w0, &b0, 0.5, Some(0.5), 1e-12);
        assert_eq!(s.w.column(2), w0.column(2));
    }
}

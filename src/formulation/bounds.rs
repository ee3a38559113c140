//! Interval bounds of the activations over the weight box. They are exact
//! for a box: `a_tj = w_j · h_t + b_j` with every `w_ji ∈ [w⁰_ji ± r]` and
//! `b_j ∈ [b⁰_j ± r_b]` ranges over `a⁰_tj ± (r Σ_i |h_ti| + r_b)`. Every
//! big-M in gdmilp is computed from these.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// Current activations and their box radius at one point.
#[derive(Debug, Clone)]
pub struct PointBounds {
    /// a⁰_tj for every output j.
    pub a0: Vec<f64>,
    /// r Σ_i |h_ti| + r_b: how far any a_tj can move.
    pub reach: f64,
}

impl PointBounds {
    /// Bounds at features `h` for weights `w` (M×N), bias `b`.
    pub fn new(
        h: ArrayView1<'_, f64>,
        w: &ndarray::Array2<f64>,
        b: &ndarray::Array1<f64>,
        radius: f64,
        bias_radius: f64,
    ) -> PointBounds {
        let a0 = w.dot(&h) + b;
        let l1: f64 = h.iter().map(|x| x.abs()).sum();
        PointBounds {
            a0: a0.to_vec(),
            reach: radius * l1 + bias_radius,
        }
    }

    /// [lower, upper] of a_tj.
    pub fn activation(&self, j: usize) -> (f64, f64) {
        (self.a0[j] - self.reach, self.a0[j] + self.reach)
    }

    /// [lower, upper] of the margin a_tℓ − a_tj (both move independently).
    pub fn margin(&self, l: usize, j: usize) -> (f64, f64) {
        let d0 = self.a0[l] - self.a0[j];
        (d0 - 2.0 * self.reach, d0 + 2.0 * self.reach)
    }
}

/// Points whose current activations [`Current`] computes at once.
const BLOCK: usize = 1024;

/// The [`PointBounds`] of a problem's points, for a walk over them in
/// order: the current activations H W⁰ᵀ + b⁰ come a block of points at a
/// time from one product on every core ([`crate::num::product`]), not
/// one matrix–vector product per point on one.
pub struct Current<'a> {
    w: &'a Array2<f64>,
    b: &'a Array1<f64>,
    radius: f64,
    bias_radius: f64,
    /// The activations of the points from..from + rows.
    block: Array2<f64>,
    from: usize,
}

impl<'a> Current<'a> {
    /// For weights `w` (M×N), bias `b` and the box's radii.
    pub fn new(w: &'a Array2<f64>, b: &'a Array1<f64>, radius: f64, bias_radius: f64) -> Self {
        Current {
            w,
            b,
            radius,
            bias_radius,
            block: Array2::zeros((0, w.nrows())),
            from: 0,
        }
    }

    /// The bounds of point `pos` of the features `h` (the same features at
    /// every call).
    pub fn at(&mut self, h: ArrayView2<'_, f64>, pos: usize) -> PointBounds {
        if pos < self.from || pos >= self.from + self.block.nrows() {
            let to = (pos + BLOCK).min(h.nrows());
            let rows = h.slice(ndarray::s![pos..to, ..]);
            self.block = crate::num::product::times_t(rows, self.w.view()) + self.b;
            self.from = pos;
        }
        let l1: f64 = h.row(pos).iter().map(|x| x.abs()).sum();
        PointBounds {
            a0: self.block.row(pos - self.from).to_vec(),
            reach: self.radius * l1 + self.bias_radius,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn bounds_are_attained_at_box_corners() {
        let w = array![[1.0, -2.0], [0.5, 0.0]];
        let b = array![0.1, -0.1];
        let h = array![2.0, -1.0];
        let pb = PointBounds::new(h.view(), &w, &b, 0.1, 0.05);
        assert!((pb.a0[0] - 4.1).abs() < 1e-12);
        // Corner w = w0 + r·sign(h), b = b0 + rb reaches the upper bound.
        let wc = array![[1.1, -2.1]];
        let upper = wc.dot(&h)[0] + 0.15;
        assert!((pb.activation(0).1 - upper).abs() < 1e-12);
        let (lo, hi) = pb.margin(0, 1);
        assert!((hi - lo - 4.0 * pb.reach).abs() < 1e-12);
    }

    #[test]
    fn the_walk_gives_each_point_s_bounds() {
        // More points than a block, visited in order and out of it.
        let (t, n, m) = (BLOCK + 5, 3, 4);
        let h = Array2::from_shape_fn((t, n), |(i, k)| ((i * n + k) as f64 * 0.3).sin());
        let w = Array2::from_shape_fn((m, n), |(j, k)| (j as f64 - k as f64) * 0.2);
        let b = Array1::from_shape_fn(m, |j| j as f64 * 0.1);
        let mut cur = Current::new(&w, &b, 0.01, 0.02);
        for pos in (0..t).chain([3, BLOCK + 2, 0]) {
            let got = cur.at(h.view(), pos);
            let want = PointBounds::new(h.row(pos), &w, &b, 0.01, 0.02);
            assert!((got.reach - want.reach).abs() < 1e-12);
            assert!(got
                .a0
                .iter()
                .zip(&want.a0)
                .all(|(x, y)| (x - y).abs() < 1e-12));
        }
    }
}

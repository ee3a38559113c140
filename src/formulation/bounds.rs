//! Interval bounds of the activations over the weight box. They are exact
//! for a box: `a_tj = w_j · h_t + b_j` with every `w_ji ∈ [w⁰_ji ± r]` and
//! `b_j ∈ [b⁰_j ± r_b]` ranges over `a⁰_tj ± (r Σ_i |h_ti| + r_b)`. Every
//! big-M in gdmilp is computed from these.

use ndarray::ArrayView1;

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
}

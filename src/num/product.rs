//! H·Wᵀ on every core: the product of all the points' features with a
//! layer's weights that inference (checking the layer), the formulation
//! (the current activations its big-Ms come from) and the pipeline (its
//! start check) each need once. ndarray's `dot` runs on one thread; here
//! the rows of H are split among the cores, each part one GEMM of
//! `matrixmultiply`. Measured on the xl head (10,000 points, N = 2,048,
//! M = 1,000, two cores): sizing, building and checking its hinge problem
//! took 6.4 s with a matrix–vector product per point and the start check
//! row by row, 1.5 s with this product and the check from it.

use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, Axis};

/// Rows below which a part is not worth a thread.
const MIN_ROWS: usize = 64;

/// h · wᵀ (T×N times M×N: T×M) on every core.
pub fn times_t(h: ArrayView2<'_, f64>, w: ArrayView2<'_, f64>) -> Array2<f64> {
    assert_eq!(
        h.ncols(),
        w.ncols(),
        "h and w have the same number of columns"
    );
    let (t, m) = (h.nrows(), w.nrows());
    let mut out = Array2::zeros((t, m));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = cores.min(t / MIN_ROWS).max(1);
    if parts == 1 {
        general_mat_mul(1.0, &h, &w.t(), 0.0, &mut out);
        return out;
    }
    let chunk = t.div_ceil(parts);
    std::thread::scope(|sc| {
        for (k, mut part) in out.axis_chunks_iter_mut(Axis(0), chunk).enumerate() {
            let rows = h.slice(s![k * chunk..k * chunk + part.nrows(), ..]);
            sc.spawn(move || general_mat_mul(1.0, &rows, &w.t(), 0.0, &mut part));
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_rows_give_the_one_thread_product() {
        // Sizes on both sides of a split, and a part shorter than the rest.
        for t in [1, 63, 64, 129, 1000] {
            let h = Array2::from_shape_fn((t, 7), |(i, k)| ((i * 7 + k) as f64 * 0.37).sin());
            let w = Array2::from_shape_fn((5, 7), |(j, k)| ((j * 3 + k) as f64 * 0.11).cos());
            let got = times_t(h.view(), w.view());
            let want = h.dot(&w.t());
            assert_eq!(got.dim(), (t, 5));
            assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() <= 1e-12));
        }
    }
}

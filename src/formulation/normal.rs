//! The normal equations of the least-squares loss: what an mse sweep with a
//! linear output needs of the features and targets (Gram matrix, products,
//! constants), built once and carried by the [`super::Problem`] for the
//! solvers. Matrices only.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

/// The normal equations of Σ_tj (w_j·h_t + b_j − y_tj)²: the Gram matrix
/// G = ĤᵀĤ of Ĥ = [H 1] (or H when the bias is fixed), Q = ĤᵀỸ and the
/// constants ỹ_jᵀỹ_j, with Ỹ = Y − b when the bias is fixed. Output j's
/// loss at x = (w_j, b_j) is xᵀGx − 2 Q_jᵀx + ỹ_jᵀỹ_j.
#[derive(Debug, Clone)]
pub struct Normal {
    /// G, k×k (k = N, or N + 1 with the bias last).
    pub g: Array2<f64>,
    /// Q, k×M.
    pub q: Array2<f64>,
    /// ỹ_jᵀỹ_j per output.
    pub yy: Array1<f64>,
    /// Whether the last row/column of G is the bias.
    pub with_bias: bool,
}

impl Normal {
    /// From features `h` (T×N) and targets `y` (T×M); `fixed_bias` is the
    /// bias when it is not a variable.
    pub fn new(
        h: ArrayView2<'_, f64>,
        y: ArrayView2<'_, f64>,
        fixed_bias: Option<ArrayView1<'_, f64>>,
    ) -> Normal {
        let (t, n) = h.dim();
        let m = y.ncols();
        let with_bias = fixed_bias.is_none();
        let k = n + with_bias as usize;
        let mut g = Array2::<f64>::zeros((k, k));
        gram_into(h, g.slice_mut(ndarray::s![..n, ..n]));
        if with_bias {
            let sums = h.sum_axis(Axis(0));
            g.slice_mut(ndarray::s![..n, n]).assign(&sums);
            g.slice_mut(ndarray::s![n, ..n]).assign(&sums);
            g[[n, n]] = t as f64;
        }
        // Ỹ = Y − b when the bias is fixed; Hᵀ Ỹ as one matrix product
        // (column by column, Hᵀ ỹ_j walks H against its layout: it took
        // half of a T = 60,000 sweep).
        let mut yt = y.to_owned();
        if let Some(b) = fixed_bias {
            yt -= &b;
        }
        let mut q = Array2::<f64>::zeros((k, m));
        q.slice_mut(ndarray::s![..n, ..]).assign(&h.t().dot(&yt));
        if with_bias {
            q.row_mut(n).assign(&yt.sum_axis(Axis(0)));
        }
        let yy = Array1::from_shape_fn(m, |j| yt.column(j).dot(&yt.column(j)));
        Normal {
            g,
            q,
            yy,
            with_bias,
        }
    }
}

/// HᵀH into `out` (N×N), block by block: the blocks on and below the
/// diagonal are products, those above are their mirror (the matrix is
/// symmetric): about 60 % of the full product's work.
pub(crate) fn gram_into(h: ArrayView2<'_, f64>, mut out: ndarray::ArrayViewMut2<'_, f64>) {
    const BLOCK: usize = 128;
    let n = h.ncols();
    for a in (0..n).step_by(BLOCK) {
        let ra = a..(a + BLOCK).min(n);
        let ha = h.slice(ndarray::s![.., ra.clone()]);
        for b in (0..=a).step_by(BLOCK) {
            let rb = b..(b + BLOCK).min(n);
            let hb = h.slice(ndarray::s![.., rb.clone()]);
            let block = ha.t().dot(&hb);
            out.slice_mut(ndarray::s![ra.clone(), rb.clone()])
                .assign(&block);
            if a != b {
                out.slice_mut(ndarray::s![rb, ra.clone()])
                    .assign(&block.t());
            }
        }
    }
}

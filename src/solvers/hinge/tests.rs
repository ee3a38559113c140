//! The hinge solver against HiGHS on the same LP, and its pieces one by one.

thread_local! {
    /// Runs the scalar loops even where AVX2 and FMA are there.
    pub(super) static SCALAR: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// [`pass_with`]'s activations by the direct kernel (else the GEMM).
    static DIRECT: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
    /// (Not direct) [`pass_with`]'s activations by dot products at the pairs.
    static SPARSE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}
use super::*;
use crate::data::{SplitMix, Task};
use crate::formulation::{self, Cap, Form, Input, LayerData, Loss, MseForm, Options};
use crate::solvers::highs::{self, Highs};

/// A random head: non-negative features t×n, labels in 0..m, a layer.
struct Head {
    h: Array2<f64>,
    labels: Vec<usize>,
    layer: LayerData,
}

fn head(seed: u64, (t, n, m): (usize, usize, usize), bias_vars: bool) -> Head {
    let mut rng = SplitMix(seed);
    Head {
        h: Array2::from_shape_fn((t, n), |_| (rng.uniform() * 2.0 - 0.5).max(0.0)),
        labels: (0..t)
            .map(|_| (rng.uniform() * m as f64) as usize)
            .collect(),
        layer: LayerData {
            w: Array2::from_shape_fn((m, n), |_| rng.uniform() - 0.5),
            b: Array1::from_shape_fn(m, |_| rng.uniform() - 0.5),
            bias_vars,
        },
    }
}

fn lp(hd: &Head, radius: f64, bias_radius: f64) -> HingeLp<'_> {
    HingeLp {
        h: hd.h.view(),
        labels: &hd.labels,
        w0: hd.layer.w.view(),
        b0: hd.layer.b.view(),
        radius,
        bias_radius: hd.layer.bias_vars.then_some(bias_radius),
        delta: 1.0,
    }
}

/// The optimum of gdmilp's own hinge LP for the head, by HiGHS.
fn highs_optimum(hd: &Head, radius: f64, bias_radius: f64) -> f64 {
    let opts = Options {
        task: Task::Classification,
        loss: Loss::Hinge,
        radius,
        bias_radius,
        margin: 1.0,
        form: Form::Compact,
        keep_accuracy: false,
        cap: Cap::None,
        mse_form: MseForm::Segments,
    };
    let input = Input {
        layer: &hd.layer,
        features: hd.h.clone().into_shared(),
        points: (0..hd.h.nrows()).collect(),
        relu: false,
        classes: Some(&hd.labels),
        targets: None,
    };
    let problem = formulation::build(input, &opts).expect("the hinge LP builds");
    let mut highs = Highs::new(&highs::Settings {
        quiet: true,
        threads: Some(1),
        ..Default::default()
    })
    .expect("HiGHS starts");
    highs.pass(&problem).expect("HiGHS takes the LP");
    let out = highs.run().expect("HiGHS solves");
    assert!(out.optimal, "HiGHS status {}", out.status);
    out.objective + problem.objective_offset()
}

fn loss_at(hd: &Head, w: &Array2<f64>, b: &Array1<f64>) -> f64 {
    let a = activations(hd.h.view(), w.view(), b.view());
    let mut total = 0.0;
    for (row, &l) in a.rows().into_iter().zip(&hd.labels) {
        let worst = (0..row.len())
            .filter(|&j| j != l)
            .map(|j| 1.0 - (row[l] - row[j]))
            .fold(0.0, f64::max);
        total += worst;
    }
    total
}

/// The solution is in the box, its objective is its loss, and the
/// bound, HiGHS's optimum and the objective are in order within the gap.
fn check_against_highs(hd: &Head, radius: f64, bias_radius: f64) -> Solution {
    let sol = solve(&lp(hd, radius, bias_radius), &Settings::default());
    check_solution(hd, radius, bias_radius, sol)
}

fn check_solution(hd: &Head, radius: f64, bias_radius: f64, sol: Solution) -> Solution {
    let opt = highs_optimum(hd, radius, bias_radius);
    assert_eq!(sol.status, Status::Converged);
    let tol = 1e-7 * opt.abs().max(1.0);
    assert!(
        sol.bound <= opt + tol,
        "bound {} above HiGHS {opt}",
        sol.bound
    );
    assert!(
        opt <= sol.objective + tol,
        "objective {} below HiGHS {opt}",
        sol.objective
    );
    assert!(sol.objective - opt <= 1e-4 * opt.abs().max(1.0) + tol);
    assert!(sol.rel_gap() <= 1e-4);
    for (w, w0) in sol.w.iter().zip(&hd.layer.w) {
        // The file's bounds, computed as the formulation does.
        assert!(
            w0 - radius <= *w && *w <= w0 + radius,
            "weight {w} outside {w0} ± {radius}"
        );
    }
    let rb = if hd.layer.bias_vars { bias_radius } else { 0.0 };
    for (b, b0) in sol.b.iter().zip(&hd.layer.b) {
        assert!(
            b0 - rb <= *b && *b <= b0 + rb,
            "bias {b} outside {b0} ± {rb}"
        );
    }
    let exact = loss_at(hd, &sol.w, &sol.b);
    assert!((sol.objective - exact).abs() <= 1e-9 * exact.max(1.0));
    sol
}

#[test]
fn agrees_with_highs_on_random_heads() {
    for seed in 0..6 {
        let hd = head(seed, (40, 7, 4), true);
        let radius = [0.05, 0.2, 1.0][seed as usize % 3];
        let sol = check_against_highs(&hd, radius, radius / 2.0);
        assert!(sol.objective < loss_at(&hd, &hd.layer.w, &hd.layer.b));
    }
}

fn start(sol: &Solution) -> Start<'_> {
    Start {
        w: sol.w.view(),
        b: sol.b.view(),
        y: Some(sol.y.view()),
        steps: Some(sol.steps),
    }
}

#[test]
fn a_warm_start_from_a_nearby_radius_takes_fewer_steps() {
    for (seed, bias) in [(70, true), (71, false)] {
        let hd = head(seed, (80, 9, 4), bias);
        let prev = check_against_highs(&hd, 0.2, 0.1);
        let cold = check_against_highs(&hd, 0.202, 0.101);
        let warm = solve_from(&lp(&hd, 0.202, 0.101), &Settings::default(), &start(&prev));
        let warm = check_solution(&hd, 0.202, 0.101, warm);
        assert!(
            warm.iterations < cold.iterations,
            "warm {} steps, cold {}",
            warm.iterations,
            cold.iterations
        );
    }
}

#[test]
fn a_warm_start_continues_a_coarse_solve_in_fewer_steps() {
    for seed in [74, 75] {
        let hd = head(seed, (80, 9, 4), true);
        let coarse = Settings {
            rel_gap: 1e-2,
            ..Settings::default()
        };
        let first = solve(&lp(&hd, 0.2, 0.2), &coarse);
        assert!(first.rel_gap() > 1e-4, "the coarse solve stops early");
        let cold = check_against_highs(&hd, 0.2, 0.2);
        let warm = solve_from(&lp(&hd, 0.2, 0.2), &Settings::default(), &start(&first));
        let warm = check_solution(&hd, 0.2, 0.2, warm);
        assert!(
            warm.iterations + first.iterations / 2 < cold.iterations,
            "warm {} steps after {}, cold {}",
            warm.iterations,
            first.iterations,
            cold.iterations
        );
    }
}

#[test]
fn a_warm_start_outside_a_smaller_box_is_clamped_into_it() {
    let hd = head(72, (60, 7, 3), true);
    let prev = check_against_highs(&hd, 0.5, 0.5);
    let sol = solve_from(&lp(&hd, 0.1, 0.1), &Settings::default(), &start(&prev));
    check_solution(&hd, 0.1, 0.1, sol);
}

#[test]
fn a_start_at_the_optimum_is_certified_without_a_step() {
    let hd = head(73, (60, 7, 3), true);
    let first = check_against_highs(&hd, 0.3, 0.3);
    let again = solve_from(&lp(&hd, 0.3, 0.3), &Settings::default(), &start(&first));
    assert_eq!((again.iterations, again.status), (0, Status::Converged));
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * y.abs().max(1.0);
    assert!(close(again.objective, first.objective) && close(again.bound, first.bound));
    // The dual comes back with a zero row for each point presolve drops.
    let small = solve(&lp(&hd, 0.01, 0.01), &Settings::default());
    let dropped = small
        .y
        .rows()
        .into_iter()
        .filter(|r| r.sum() == 0.0)
        .count();
    assert!(small.points < 60 && dropped >= 60 - small.points);
}

#[test]
fn a_layer_without_bias_keeps_its_bias() {
    for seed in 10..13 {
        let hd = head(seed, (30, 5, 3), false);
        let sol = check_against_highs(&hd, 0.3, 0.3);
        assert_eq!(sol.b, hd.layer.b);
    }
}

#[test]
fn two_classes() {
    for seed in 20..23 {
        check_against_highs(&head(seed, (50, 6, 2), true), 0.2, 0.2);
    }
}

#[test]
fn presolve_drops_points_the_box_cannot_hurt() {
    let hd = head(30, (60, 5, 3), true);
    let sol = check_against_highs(&hd, 0.01, 0.01);
    assert!(sol.points < 60, "all {} points kept", sol.points);
}

#[test]
fn a_box_that_separates_the_points_certifies_zero() {
    // Two classes, features (1, 0) or (0, 1) by class: W = I·10 gives
    // margins 10, and the box reaches it.
    let t = 20;
    let labels: Vec<usize> = (0..t).map(|i| i % 2).collect();
    let hd = Head {
        h: Array2::from_shape_fn((t, 2), |(i, k)| (labels[i] == k) as usize as f64),
        labels,
        layer: LayerData {
            w: Array2::zeros((2, 2)),
            b: Array1::zeros(2),
            bias_vars: true,
        },
    };
    let sol = check_against_highs(&hd, 1.0, 0.0);
    assert_eq!((sol.objective, sol.bound), (0.0, 0.0));
}

#[test]
fn all_points_presolved_away() {
    let labels = vec![0, 1, 0];
    let h = Array2::from_shape_vec((3, 2), vec![1.0, 0.0, 0.0, 1.0, 2.0, 0.0]).unwrap();
    let w = Array2::from_shape_vec((2, 2), vec![5.0, 0.0, 0.0, 5.0]).unwrap();
    let b = Array1::zeros(2);
    let lp = HingeLp {
        h: h.view(),
        labels: &labels,
        w0: w.view(),
        b0: b.view(),
        radius: 0.1,
        bias_radius: Some(0.1),
        delta: 1.0,
    };
    let sol = solve(&lp, &Settings::default());
    assert_eq!((sol.points, sol.objective, sol.bound), (0, 0.0, 0.0));
    assert_eq!(sol.status, Status::Converged);
}

#[test]
fn no_iterations_return_the_current_weights() {
    let hd = head(40, (30, 5, 3), true);
    let s = Settings {
        max_iterations: 0,
        ..Settings::default()
    };
    let sol = solve(&lp(&hd, 0.3, 0.3), &s);
    assert_eq!(sol.status, Status::IterationLimit);
    assert_eq!(sol.w, hd.layer.w);
    let loss0 = loss_at(&hd, &hd.layer.w, &hd.layer.b);
    assert!((sol.objective - loss0).abs() <= 1e-12 * loss0);
    assert!(sol.bound <= sol.objective);
}

/// H wᵀ + b, T×M, in f64.
fn activations(h: ArrayView2<f64>, w: ArrayView2<f64>, b: ArrayView1<f64>) -> Array2<f64> {
    h.dot(&w.t()) + b
}

/// A random point on the kept pairs of `hd`'s LP (features read as `f32s`
/// or f64) and one pass from it, by the vector or the scalar loops
/// (`scalar`), on `threads` threads: a⁺, y⁺, g⁺, gb⁺ at the slots, and
/// what the two products give for the same numbers, computed directly.
struct OnePass {
    got: (Vec<f64>, Vec<f64>, Array2<f64>, Array1<f64>),
    want_a: Vec<f64>,
    want_g: (Array2<f64>, Array1<f64>),
    /// Each kept point's slots and the pairs' classes.
    start: Vec<usize>,
}

fn one_pass(hd: &Head, f32s: bool, scalar: bool, threads: usize) -> OnePass {
    let lp = lp(hd, 0.1, 0.1);
    let pairs = Pairs::new(&lp, threads);
    let m = hd.layer.w.nrows();
    let mut rng = SplitMix(53);
    let w = hd.layer.w.mapv(|v| v + 0.1 * rng.uniform());
    let b = hd.layer.b.mapv(|v| v - 0.1 * rng.uniform());
    let slots = pairs.cls.len();
    let a: Vec<f64> = (0..slots).map(|_| rng.uniform()).collect();
    let y: Vec<f64> = (0..slots).map(|_| 0.3 * rng.uniform()).collect();
    let sy: Vec<f64> = (0..pairs.index.len()).map(|_| rng.uniform()).collect();
    let h32 = pairs
        .index
        .iter()
        .all(|&t| hd.h.row(t).iter().all(|&v| v as f32 as f64 == v));
    assert_eq!(matches!(pairs.feats, Feats::F32(_)), h32);
    let rows = hd.h.select(ndarray::Axis(0), &pairs.index);
    let f32_rows = rows.mapv(|v| v as f32);
    type Outs<'o> = (
        &'o mut Vec<f64>,
        &'o mut Vec<f64>,
        &'o mut Array2<f64>,
        &'o mut Array1<f64>,
    );
    let run = |op: &dyn Fn(Outs<'_>)| {
        let (mut an, mut yn) = (vec![0.0; slots], vec![0.0; slots]);
        let (mut g, mut gb) = (Array2::zeros((m, hd.h.ncols())), Array1::zeros(m));
        op((&mut an, &mut yn, &mut g, &mut gb));
        (an, yn, g, gb)
    };
    SCALAR.with(|s| s.set(scalar));
    let got = if f32s {
        run(&|(an, yn, g, gb)| {
            pass_with(
                &lp,
                &pairs,
                &f32_rows,
                threads,
                (&w, &b),
                (&a, &y, &sy),
                (an, yn, g, gb),
            )
        })
    } else {
        run(&|(an, yn, g, gb)| {
            pass_with(
                &lp,
                &pairs,
                &rows,
                threads,
                (&w, &b),
                (&a, &y, &sy),
                (an, yn, g, gb),
            )
        })
    };
    SCALAR.with(|s| s.set(false));
    let full = activations(hd.h.view(), w.view(), b.view());
    let mut want_a = vec![0.0; slots];
    for (i, &t) in pairs.index.iter().enumerate() {
        for q in pairs.slots(i) {
            want_a[q] = full[[t, pairs.cls[q] as usize]];
        }
    }
    let op = Op {
        pairs: &pairs,
        h: &rows,
        n: hd.h.ncols(),
        m,
        delta: 1.0,
        r: 0.1,
        rb: Some(0.1),
        w0: hd.layer.w.view(),
        b0: hd.layer.b.view(),
        threads: 1,
        exact: hd.h.view(),
        direct: true,
        sparse: false,
    };
    let (mut g, mut gb) = (Array2::zeros((m, hd.h.ncols())), Array1::zeros(m));
    op.adjoint(&got.1, &mut g, &mut gb);
    OnePass {
        got,
        want_a,
        want_g: (g, gb),
        start: pairs.start.clone(),
    }
}

/// One [`Op::pass`] with a dual step on features `h` (the kept rows).
#[allow(clippy::type_complexity)]
fn pass_with<F: Feature>(
    lp: &HingeLp<'_>,
    pairs: &Pairs,
    h: &Array2<F>,
    threads: usize,
    (w, b): (&Array2<f64>, &Array1<f64>),
    (a, y, sy): (&[f64], &[f64], &[f64]),
    (an, yn, g, gb): (
        &mut Vec<f64>,
        &mut Vec<f64>,
        &mut Array2<f64>,
        &mut Array1<f64>,
    ),
) {
    let op = Op {
        pairs,
        h,
        n: lp.h.ncols(),
        m: lp.w0.nrows(),
        delta: 1.0,
        r: lp.radius,
        rb: lp.bias_radius,
        w0: lp.w0,
        b0: lp.b0,
        threads,
        exact: lp.h,
        direct: DIRECT.with(|d| d.get()),
        sparse: SPARSE.with(|d| d.get()),
    };
    let mut spare: Vec<_> = (1..threads)
        .map(|_| (Array2::zeros(g.dim()), Array1::zeros(gb.len())))
        .collect();
    let exact = vec![true; a.len()];
    let dual = Dual {
        a,
        exact: &exact,
        y,
        sigma: 0.7,
        sy,
        delta: 1.0,
        w: w.as_slice().expect("a fresh array is contiguous"),
        b: b.as_slice().expect("a fresh array is contiguous"),
        screen: None,
    };
    let mut exact_out = vec![true; an.len()];
    op.pass(
        w,
        b,
        Some(dual),
        PassOut {
            a: an,
            exact: &mut exact_out,
            y: Some(yn),
            grad: Some((&mut *g, &mut *gb)),
            spare: &mut spare,
        },
    );
    for (gs, gbs) in &spare {
        *g += gs;
        *gb += gbs;
    }
}

fn close_all<'x>(
    x: impl IntoIterator<Item = &'x f64>,
    y: impl IntoIterator<Item = &'x f64>,
    tol: f64,
) -> bool {
    x.into_iter()
        .zip(y)
        .all(|(a, b)| (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs())))
}

#[test]
fn the_fused_pass_matches_the_two_products() {
    // f64 features: the activations at the slots are H wᵀ + b, the
    // gradient is K'y⁺, and each point's dual is in its capped simplex,
    // 0 at its label — on one thread and split over three.
    let hd = head(50, (25, 13, 5), true);
    for threads in [1, 3] {
        let p = one_pass(&hd, false, false, threads);
        assert!(close_all(&p.got.0, &p.want_a, 1e-12), "a⁺");
        assert!(close_all(&p.got.2, &p.want_g.0, 1e-12), "g⁺");
        assert!(close_all(&p.got.3, &p.want_g.1, 1e-12), "gb⁺");
        for w in p.start.windows(2) {
            let row = &p.got.1[w[0]..w[1]];
            assert!(row[0] == 0.0 && row.iter().all(|&v| v >= 0.0));
            assert!(row.iter().sum::<f64>() <= 1.0 + 1e-12);
        }
        assert!(p.got.0.iter().any(|&x| x != 0.0), "a pass that computes");
    }
}

#[test]
fn the_gemm_gives_the_direct_kernel_s_pass() {
    // Many outputs take the GEMM (or dot products at the kept pairs when
    // few are kept), a handful the direct kernel: the same pass, for f64 features (to rounding) and f32 ones (to f32's), on one
    // thread and on two.
    let mut hd = head(56, (37, 21, 40), true);
    for f32s in [false, true] {
        if f32s {
            hd.h.mapv_inplace(|v| v as f32 as f64);
        }
        let tol = if f32s { 1e-5 } else { 1e-12 };
        for threads in [1, 2] {
            let direct = one_pass(&hd, f32s, false, threads);
            DIRECT.with(|d| d.set(false));
            let gemm = one_pass(&hd, f32s, false, threads);
            DIRECT.with(|d| d.set(true));
            assert!(close_all(&direct.got.0, &gemm.got.0, tol), "a⁺");
            assert!(close_all(&gemm.got.0, &gemm.want_a, tol), "a⁺ of the GEMM");
            assert!(
                close_all(&gemm.got.2, &gemm.want_g.0, 1e-12),
                "g⁺ of the GEMM"
            );
        }
    }
}

#[test]
fn many_classes_take_the_gemm_and_agree_with_highs() {
    // 40 classes (the GEMM path), f32 features, a small box: HiGHS's
    // optimum on the full LP.
    let mut hd = head(83, (50, 10, 40), true);
    hd.h.mapv_inplace(|v| v as f32 as f64);
    let sol = check_against_highs(&hd, 0.05, 0.05);
    assert!(sol.pairs < sol.points * 39, "{} pairs", sol.pairs);
}

#[test]
fn the_scalar_path_gives_the_vector_path_s_pass() {
    // Processors without AVX2 and FMA run the scalar loops: the same
    // numbers up to the rounding of fused multiply-adds, for f64 and f32
    // features.
    let mut hd = head(52, (23, 13, 5), true);
    hd.h.mapv_inplace(|v| v as f32 as f64);
    for f32s in [false, true] {
        let (v, s) = (one_pass(&hd, f32s, false, 2), one_pass(&hd, f32s, true, 2));
        assert!(close_all(&v.got.0, &s.got.0, 1e-12), "a⁺");
        assert!(close_all(&v.got.1, &s.got.1, 1e-12), "y⁺");
        assert!(close_all(&v.got.2, &s.got.2, 1e-12), "g⁺");
        assert!(close_all(&v.got.3, &s.got.3, 1e-12), "gb⁺");
    }
}

#[test]
fn features_that_are_f32_are_multiplied_in_f32_to_f32_s_precision() {
    // Features that are f32 exactly go through the f32 GEMM (weights
    // rounded to f32): activations within f32 rounding of the f64
    // products, and the gradient, accumulated in f64, exact.
    let mut hd = head(52, (23, 13, 5), true);
    hd.h.mapv_inplace(|v| v as f32 as f64);
    let p = one_pass(&hd, true, false, 1);
    assert!(close_all(&p.got.0, &p.want_a, 1e-5), "a⁺ to f32 precision");
    assert!(close_all(&p.got.2, &p.want_g.0, 1e-12), "g⁺ exact");
    let plain = head(52, (23, 13, 5), true);
    let lp0 = lp(&plain, 0.1, 0.1);
    assert!(
        matches!(Pairs::new(&lp0, 1).feats, Feats::F64(_)),
        "0.1-like f64s stay f64"
    );
}

#[test]
fn presolve_keeps_exactly_the_pairs_that_can_violate() {
    // A pair leaves only when its margin stays ≥ δ everywhere in the box
    // (a⁰_ℓ − a⁰_j − 2(r‖h‖₁ + r_b) ≥ δ), and every pair that can reach δ
    // stays; a point with none leaves.
    let hd = head(54, (40, 6, 12), true);
    let (r, rb) = (0.05, 0.02);
    let lp = lp(&hd, r, rb);
    let pairs = Pairs::new(&lp, 2);
    let a0 = activations(hd.h.view(), hd.layer.w.view(), hd.layer.b.view());
    let mut kept = 0;
    for t in 0..40 {
        let l = hd.labels[t];
        let reach = 2.0 * (r * hd.h.row(t).map(|v| v.abs()).sum() + rb);
        let can: Vec<usize> = (0..12)
            .filter(|&j| j != l && a0[[t, l]] - a0[[t, j]] - reach < 1.0)
            .collect();
        match pairs.index.iter().position(|&i| i == t) {
            Some(i) => {
                let s = pairs.slots(i);
                assert_eq!(pairs.cls[s.start] as usize, l);
                let got: Vec<usize> = pairs.cls[s.start + 1..s.end]
                    .iter()
                    .map(|&j| j as usize)
                    .collect();
                assert_eq!(got, can, "point {t}");
                kept += can.len();
            }
            None => assert!(
                can.is_empty(),
                "point {t} dropped with pairs that can violate"
            ),
        }
    }
    assert!(kept < 40 * 11, "some pairs leave");
    assert!(kept > 0, "some stay");
}

#[test]
fn many_classes_in_a_small_box_agree_with_highs() {
    // Most rivals of each point cannot reach its margin in a small box:
    // the LP over the pairs that can has HiGHS's optimum on the full file.
    for (seed, radius) in [(80, 0.02), (81, 0.05)] {
        let hd = head(seed, (60, 8, 15), true);
        let sol = check_against_highs(&hd, radius, radius);
        assert!(
            sol.pairs < sol.points * 14,
            "{} pairs of {} points",
            sol.pairs,
            sol.points
        );
    }
}

#[test]
fn screened_steps_skip_pairs_and_agree_with_highs() {
    // Many classes in a small box take the dot products at the kept pairs,
    // where the steps skip the rivals whose bounds settle their dual at 0:
    // HiGHS's optimum on the full file all the same, on one thread and on
    // two, f32 features and f64 ones.
    for (seed, f32s, threads) in [(84, true, 1), (85, true, 2), (86, false, 2)] {
        // A model that is right about most points, by wide margins over
        // most rivals: few pairs kept, as on a trained head.
        let mut hd = head(seed, (150, 12, 64), true);
        hd.layer.w.mapv_inplace(|v| 4.0 * v);
        if f32s {
            hd.h.mapv_inplace(|v| v as f32 as f64);
        }
        let a = activations(hd.h.view(), hd.layer.w.view(), hd.layer.b.view());
        for (l, row) in hd.labels.iter_mut().zip(a.rows()) {
            *l = (0..64)
                .max_by(|&x, &y| row[x].total_cmp(&row[y]))
                .unwrap_or(0);
        }
        let settings = Settings {
            threads,
            ..Settings::default()
        };
        let sol = solve(&lp(&hd, 0.01, 0.01), &settings);
        assert!(
            sol.iterations > 1 && sol.objective > 0.0,
            "seed {seed}: a solve"
        );
        assert!(
            sol.skipped > 0,
            "seed {seed}: no pair skipped ({} pairs of {} points)",
            sol.pairs,
            sol.points
        );
        check_solution(&hd, 0.01, 0.01, sol);
    }
}

#[test]
fn threads_split_the_points_and_agree() {
    // f32 features (the GEMM path) on one thread and on three: the same
    // certified optimum.
    let mut hd = head(82, (70, 9, 6), true);
    hd.h.mapv_inplace(|v| v as f32 as f64);
    let lp = lp(&hd, 0.2, 0.2);
    let one = solve(
        &lp,
        &Settings {
            threads: 1,
            ..Settings::default()
        },
    );
    let three = solve(
        &lp,
        &Settings {
            threads: 3,
            ..Settings::default()
        },
    );
    for sol in [&one, &three] {
        check_solution(&hd, 0.2, 0.2, sol.clone());
    }
    assert!((one.objective - three.objective).abs() <= 2e-4 * one.objective.max(1.0));
}

#[test]
fn features_in_column_major_order_give_the_same_answer() {
    let hd = head(60, (30, 6, 3), true);
    let h_cols = hd.h.t().as_standard_layout().into_owned().reversed_axes();
    assert!(!h_cols.is_standard_layout());
    let standard = solve(&lp(&hd, 0.2, 0.2), &Settings::default());
    let other = solve(
        &HingeLp {
            h: h_cols.view(),
            ..lp(&hd, 0.2, 0.2)
        },
        &Settings::default(),
    );
    assert_eq!(
        (standard.objective, standard.bound),
        (other.objective, other.bound)
    );
}

#[test]
fn capped_simplex_projection() {
    let mut buf = Vec::new();
    // Inside: only clamped; the label's entry is zeroed.
    let mut v = [0.2, -1.0, 0.3, 5.0];
    project_capped(&mut v, 3, &mut buf);
    assert_eq!(v, [0.2, 0.0, 0.3, 0.0]);
    // Outside: onto Σ = 1, θ = 0.5 here.
    let mut v = [1.0, 0.7, -0.2, 0.1];
    project_capped(&mut v, 2, &mut buf);
    let want = [0.65, 0.35, 0.0, 0.0];
    for (a, b) in v.iter().zip(want) {
        assert!((a - b).abs() < 1e-12, "{v:?}");
    }
}

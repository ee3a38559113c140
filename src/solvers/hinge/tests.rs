//! The hinge solver against HiGHS on the same LP, and its pieces one by one.

thread_local! {
    /// Runs the scalar loops even where AVX2 and FMA are there.
    pub(super) static SCALAR: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
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
        features: hd.h.clone(),
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

#[test]
fn the_fused_pass_matches_the_two_products() {
    let hd = head(50, (25, 13, 5), true);
    let lp = lp(&hd, 0.1, 0.1);
    let red = presolve(&lp);
    let op = Op::new(&lp, &red);
    let mut rng = SplitMix(51);
    let (t, m) = (op.h.nrows(), op.m);
    let w = hd.layer.w.mapv(|v| v + 0.1 * rng.uniform());
    let b = hd.layer.b.mapv(|v| v - 0.1 * rng.uniform());
    let a = Array2::from_shape_fn((t, m), |_| rng.uniform());
    let y = Array2::from_shape_fn((t, m), |_| 0.3 * rng.uniform());
    let sy = Array1::from_shape_fn(t, |_| rng.uniform());
    let pass = Sweep {
        h: op.h.as_slice().unwrap(),
        n: 13,
        labels: op.labels,
        delta: 1.0,
        sigma: 0.7,
        sy: sy.as_slice().unwrap(),
        w: w.as_slice().unwrap(),
        b: b.as_slice().unwrap(),
        a: a.as_slice().unwrap(),
        y: y.as_slice().unwrap(),
    };
    let (an, yn, g, gb) = run(&pass, (t, m));
    let mut want_a = Array2::zeros((t, m));
    op.act(&w.view(), &b.view(), &mut want_a);
    let (mut want_g, mut want_gb) = (Array2::zeros((m, 13)), Array1::zeros(m));
    op.adjoint(&yn, &mut Array2::zeros((t, m)), &mut want_g, &mut want_gb);
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * (1.0 + y.abs());
    assert!(an.iter().zip(&want_a).all(|(&x, &y)| close(x, y)));
    assert!(g.iter().zip(&want_g).all(|(&x, &y)| close(x, y)));
    assert!(gb.iter().zip(&want_gb).all(|(&x, &y)| close(x, y)));
    // Each point's dual is in its capped simplex, 0 at its label.
    for (row, &l) in yn.rows().into_iter().zip(op.labels) {
        assert!(row[l] == 0.0 && row.iter().all(|&v| v >= 0.0) && row.sum() <= 1.0 + 1e-12);
    }
}

/// One pass of the PDHG from a seeded random point on a head whose
/// features are exactly f32, read as f64 or as f32 (`f32s`), by the
/// vector or the scalar loops (`scalar`): a⁺, y⁺ and the gradients.
fn one_pass(f32s: bool, scalar: bool) -> (Array2<f64>, Array2<f64>, Array2<f64>, Array1<f64>) {
    let mut hd = head(52, (23, 13, 5), true);
    hd.h.mapv_inplace(|v| v as f32 as f64);
    let lp = lp(&hd, 0.1, 0.1);
    let red = presolve(&lp);
    let op = Op::new(&lp, &red);
    let h32 = op.features_f32().expect("f32 features are read as f32");
    let (t, m) = (op.h.nrows(), op.m);
    let mut rng = SplitMix(53);
    let w = hd.layer.w.mapv(|v| v + 0.1 * rng.uniform());
    let a = Array2::from_shape_fn((t, m), |_| rng.uniform());
    let y = Array2::from_shape_fn((t, m), |_| 0.3 * rng.uniform());
    let sy = Array1::from_shape_fn(t, |_| rng.uniform());
    let pass = Sweep {
        h: &[(); 0][..],
        n: 13,
        labels: op.labels,
        delta: 1.0,
        sigma: 0.7,
        sy: sy.as_slice().unwrap(),
        w: w.as_slice().unwrap(),
        b: hd.layer.b.as_slice().unwrap(),
        a: a.as_slice().unwrap(),
        y: y.as_slice().unwrap(),
    };
    SCALAR.with(|s| s.set(scalar));
    let got = if f32s {
        run(&pass.reading(&h32), (t, m))
    } else {
        run(&pass.reading(op.features()), (t, m))
    };
    SCALAR.with(|s| s.set(false));
    got
}

/// One fused pass `p` over t points and m outputs: a⁺, y⁺ and the
/// gradients of W and b.
fn run<F: Feature>(
    p: &Sweep<'_, F>,
    (t, m): (usize, usize),
) -> (Array2<f64>, Array2<f64>, Array2<f64>, Array1<f64>) {
    let (mut an, mut yn) = (Array2::zeros((t, m)), Array2::zeros((t, m)));
    let (mut g, mut gb) = (Array2::zeros((m, p.n)), Array1::zeros(m));
    sweep(
        p,
        SweepOut {
            a: an.as_slice_mut().unwrap(),
            y: yn.as_slice_mut().unwrap(),
            g: g.as_slice_mut().unwrap(),
            gb: gb.as_slice_mut().unwrap(),
            buf: &mut Vec::new(),
        },
    );
    (an, yn, g, gb)
}

#[test]
fn the_scalar_path_gives_the_vector_path_s_pass() {
    // Processors without AVX2 and FMA run the scalar loops: the same
    // numbers up to the rounding of fused multiply-adds, for f64 and
    // f32 features, whole blocks of four points and the rest.
    for f32s in [false, true] {
        let (v, s) = (one_pass(f32s, false), one_pass(f32s, true));
        let close = |x: &[f64], y: &[f64]| {
            x.iter()
                .zip(y)
                .all(|(a, b)| (a - b).abs() <= 1e-12 * (1.0 + a.abs()))
        };
        let pairs = [
            (v.0.as_slice(), s.0.as_slice(), "a⁺"),
            (v.1.as_slice(), s.1.as_slice(), "y⁺"),
            (v.2.as_slice(), s.2.as_slice(), "g⁺"),
            (v.3.as_slice(), s.3.as_slice(), "gb⁺"),
        ];
        for (x, y, what) in pairs {
            assert!(close(x.unwrap(), y.unwrap()), "{what}");
        }
        assert!(v.0.iter().any(|&x| x != 0.0), "a pass that computes");
    }
}

#[test]
fn features_that_are_f32_give_the_same_pass_read_as_f32() {
    let hd = head(52, (23, 13, 5), true);
    let lp0 = lp(&hd, 0.1, 0.1);
    let red = presolve(&lp0);
    assert!(
        Op::new(&lp0, &red).features_f32().is_none(),
        "0.1-like f64s stay f64"
    );
    assert_eq!(one_pass(true, false), one_pass(false, false));
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

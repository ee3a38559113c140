//! The embedded path solves a sweep its own way (`tune --method`); it must
//! reach the optimum of the file `export` writes for the same sweep, as
//! HiGHS finds it on that file. And a solver failure is exit 1 with the
//! solver's reason.

use crate::util::*;

/// The box of both sides of each comparison (the paper's absolute one).
const BOX: &str = "0.05";

/// `export` then `gdmilp solve` (HiGHS on the file): the loss at the file's
/// optimum (objective + the manifest's offset).
fn file_optimum(dir: &Dir, case: &str, extra: &[&str]) -> f64 {
    file_optimum_in(dir, case, BOX, extra)
}

/// [`file_optimum`] in the box `radius`.
fn file_optimum_in(dir: &Dir, case: &str, radius: &str, extra: &[&str]) -> f64 {
    let (m, d) = (model(case), data(case));
    let file = dir.p("layer.mps");
    let mut args = vec!["export", m.as_str(), d.as_str(), "-o", file.as_str()];
    args.extend(["--radius", radius]);
    args.extend(extra);
    dir.run(&args).ok();
    let sol = dir.p("highs.sol");
    let r = dir.run(&["solve", &file, "-o", &sol, "-q", "--json"]).ok();
    let objective = r.json()["objective"].as_f64().unwrap();
    let man = read_json(&dir.path.join("layer.mps.gdmilp.json"));
    objective + man["objective_offset"].as_f64().unwrap()
}

fn tune_sweep(dir: &Dir, case: &str, extra: &[&str]) -> serde_json::Value {
    tune_sweep_in(dir, case, BOX, extra)
}

/// [`tune_sweep`] in the box `radius`.
fn tune_sweep_in(dir: &Dir, case: &str, radius: &str, extra: &[&str]) -> serde_json::Value {
    let (m, d) = (model(case), data(case));
    let (out, rep) = (dir.p("tuned.onnx"), dir.p("report.json"));
    let mut args = vec![
        "tune",
        "-q",
        m.as_str(),
        d.as_str(),
        "-o",
        &out,
        "--report",
        &rep,
        "--radius",
        radius,
    ];
    args.extend(extra);
    dir.run(&args).ok();
    read_json(std::path::Path::new(&rep))["sweeps"][0].clone()
}

#[test]
fn the_hinge_first_order_method_reaches_the_files_optimum_within_its_certified_gap() {
    let dir = Dir::new("strategy-hinge");
    let opt = file_optimum(&dir, "digits", &["--loss", "hinge"]);
    let s = tune_sweep(
        &dir,
        "digits",
        &["--loss", "hinge", "--method", "structured"],
    );
    check_hinge_sweep(&s, opt);
}

#[test]
fn the_hinge_method_on_the_pairs_that_can_move_reaches_the_files_optimum() {
    // Small boxes: most rival classes of a point cannot reach its margin
    // inside them, and the method keeps no dual variable for them (the file
    // keeps every row HiGHS may need); its products run in f32 (ONNX
    // Runtime's features are f32s), on one thread or split over two.
    for (radius, threads) in [("0.01", "2"), ("0.002", "1")] {
        let dir = Dir::new(&format!("strategy-hinge-pairs-{radius}"));
        let opt = file_optimum_in(&dir, "digits", radius, &["--loss", "hinge"]);
        let s = tune_sweep_in(
            &dir,
            "digits",
            radius,
            &[
                "--loss",
                "hinge",
                "--method",
                "structured",
                "--threads",
                threads,
            ],
        );
        check_hinge_sweep(&s, opt);
    }
}

/// The sweep `s` was the hinge method's, its loss is the file's optimum
/// `opt` within its certified gap, and the patched model scores it.
fn check_hinge_sweep(s: &serde_json::Value, opt: f64) {
    assert_eq!(s["method"], "hinge-pdhg", "{s}");
    let (solver, bound, after) = (
        s["loss_solver"].as_f64().unwrap(),
        s["loss_bound"].as_f64().unwrap(),
        s["loss_after"].as_f64().unwrap(),
    );
    let tol = 1e-4 * opt.abs().max(1.0);
    assert!(
        bound <= opt + 1e-6 * opt.abs().max(1.0),
        "bound {bound} above the optimum {opt}"
    );
    assert!(
        solver >= opt - 1e-6 * opt.abs().max(1.0),
        "{solver} below the optimum {opt}"
    );
    assert!(
        solver - bound <= tol,
        "certified gap {} > {tol}",
        solver - bound
    );
    // Re-run in ONNX Runtime (float32 weights), the loss is the solver's.
    assert!(
        close(after, solver, 1e-4),
        "patched model {after} vs solver {solver}"
    );
}

#[test]
fn least_squares_per_output_reaches_the_quadratic_files_optimum() {
    let dir = Dir::new("strategy-lsq");
    let opt = file_optimum(&dir, "regression", &["--mse-form", "quadratic"]);
    let s = tune_sweep(&dir, "regression", &["--method", "structured"]);
    assert_eq!(s["method"], "least-squares", "{s}");
    let solver = s["loss_solver"].as_f64().unwrap();
    assert!(
        close(solver, opt, 1e-6),
        "least squares {solver} vs HiGHS on the file {opt}"
    );
    // And HiGHS inside tune (--method highs) finds the same.
    let h = tune_sweep(&dir, "regression", &["--method", "highs"]);
    assert_eq!(h["method"], "highs-qp", "{h}");
    assert!(close(h["loss_solver"].as_f64().unwrap(), opt, 1e-6));
}

#[test]
fn a_solver_failure_is_exit_1_with_the_solvers_reason() {
    let dir = Dir::new("strategy-failure");
    // A non-convex quadratic objective: HiGHS refuses to solve it.
    let mps = dir.path.join("nonconvex.mps");
    std::fs::write(
        &mps,
        "NAME bad\nROWS\n N obj\n L c1\nCOLUMNS\n    x obj 1 c1 1\n    y obj 1 c1 1\nRHS\n    rhs c1 4\n\
         BOUNDS\n UP bnd x 10\n UP bnd y 10\nQUADOBJ\n    x x -2\n    y y 1\nENDATA\n",
    )
    .unwrap();
    let sol = dir.p("sol.txt");
    let r = dir
        .run(&["solve", mps.to_str().unwrap(), "-o", &sol, "-q"])
        .code_is(1);
    let err = r.stderr();
    r.check(
        err.lines().count() == 1 && err.contains("nonconvex.mps") && err.contains("non-convex"),
        "one line naming the file and HiGHS's reason",
    );
    r.check(!std::path::Path::new(&sol).exists(), "no solution file");
}

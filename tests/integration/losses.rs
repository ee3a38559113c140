//! The losses besides the defaults: hinge (classification, an LP) and linf
//! (regression). CBC, GLPK and the embedded HiGHS must agree on the optimum,
//! and the patched model must compute it.

use crate::util::*;

/// Exports `case` with `loss` in the paper's box (where each of these files
/// can improve on the current weights), solves it with CBC, GLPK and HiGHS,
/// and applies each solution.
fn agree_and_verify(case: &str, loss: &str, extra: &[&str]) {
    let dir = Dir::new(&format!("loss-{case}-{loss}"));
    let mps = dir.p("layer.mps");
    let (m, d) = (model(case), data(case));
    let mut args = vec![
        "export",
        m.as_str(),
        d.as_str(),
        "-o",
        mps.as_str(),
        "--loss",
        loss,
        "--radius",
        "0.05",
    ];
    args.extend(extra);
    dir.run(&args).ok();
    dir.tool("cbc", &[&mps, "solve", "solution", "cbc.sol"])
        .ok();
    dir.tool("glpsol", &["--freemps", &mps, "-w", "glpk.sol"])
        .ok();
    dir.run(&["solve", &mps, "-o", &dir.p("highs.sol"), "-q"])
        .ok();
    let mut optima = Vec::new();
    for s in ["cbc", "glpk", "highs"] {
        let r = dir
            .run(&[
                "apply",
                &dir.p(&format!("{s}.sol")),
                &m,
                "-o",
                &dir.p(&format!("{s}.onnx")),
                "--json",
            ])
            .code_is(0);
        let v = &r.json()["verification"];
        let (solver, recomputed, before) = (
            v["solver_loss"].as_f64().unwrap(),
            v["recomputed_loss"].as_f64().unwrap(),
            v["incumbent_loss"].as_f64().unwrap(),
        );
        r.check(
            close(recomputed, solver, 1e-6),
            &format!("{case}/{loss}/{s}: patched {recomputed} vs solver {solver}"),
        );
        r.check(solver <= before, "no worse than the current weights");
        optima.push(solver);
    }
    assert!(
        close(optima[0], optima[1], 1e-6) && close(optima[0], optima[2], 1e-6),
        "{case}/{loss}: solvers disagree: {optima:?}"
    );
}

#[test]
fn hinge_is_an_lp_that_every_solver_solves_alike() {
    if !have(&["cbc", "glpsol"]) {
        return;
    }
    agree_and_verify("digits", "hinge", &[]);
    agree_and_verify("torch_export", "hinge", &["--margin", "0.5"]);
    let dir = Dir::new("hinge-is-lp");
    dir.run(&[
        "export",
        &model("digits"),
        &data("digits"),
        "-o",
        &dir.p("l.lp"),
        "--loss",
        "hinge",
    ])
    .ok();
    let man = read_json(&dir.path.join("l.lp.gdmilp.json"));
    assert_eq!(man["counts"]["binaries"], 0);
    assert_eq!(man["options"]["loss"], "hinge");
    assert_eq!(man["options"]["margin"], 1.0, "hinge's default margin");
}

#[test]
fn linf_minimises_the_largest_error() {
    if !have(&["cbc", "glpsol"]) {
        return;
    }
    agree_and_verify("regression", "linf", &[]);
    agree_and_verify("relu_output", "linf", &[]);
}

#[test]
fn tune_with_hinge_lowers_the_hinge_loss_and_eval_reports_it() {
    let dir = Dir::new("tune-hinge");
    let out = dir.p("t.onnx");
    let rep = dir.p("r.json");
    dir.run(&[
        "tune",
        &model("digits"),
        &data("digits"),
        "-o",
        &out,
        "--loss",
        "hinge",
        "--sweeps",
        "2",
        "-q",
        "--report",
        &rep,
    ])
    .ok();
    let r = read_json(std::path::Path::new(&rep));
    let (before, after) = (
        r["train_before"]["hinge"].as_f64().unwrap(),
        r["train_after"]["hinge"].as_f64().unwrap(),
    );
    assert!(after < before, "hinge {before} → {after}");
    let e = dir.run(&["eval", &out, &data("digits"), "--json"]).ok();
    assert_eq!(e.json()["hinge"], r["train_after"]["hinge"]);
}

/// Writes the first or last 150 digits points to `name` in `dir`.
fn digits_half(dir: &Dir, name: &str, first: bool) -> String {
    use ndarray::{s, Array1, Array2};
    let mut r =
        ndarray_npy::NpzReader::new(std::fs::File::open(root().join(data("digits"))).unwrap())
            .unwrap();
    let x: Array2<f32> = r.by_name("x").unwrap();
    let y: Array1<i64> = r.by_name("y").unwrap();
    let (x, y) = if first {
        (
            x.slice(s![..150, ..]).to_owned(),
            y.slice(s![..150]).to_owned(),
        )
    } else {
        (
            x.slice(s![150.., ..]).to_owned(),
            y.slice(s![150..]).to_owned(),
        )
    };
    write_xy(&dir.path.join(name), &x, &y)
}

/// The first 150 digits points as train.npz, the rest as val.npz.
fn digits_halves(dir: &Dir) -> (String, String) {
    (
        digits_half(dir, "train.npz", true),
        digits_half(dir, "val.npz", false),
    )
}

#[test]
fn validation_gating_rejects_the_sweep_that_hurts_held_out_data() {
    let dir = Dir::new("val-gate");
    let (train, val) = digits_halves(&dir);
    let m = model("digits");
    // The paper's setting: its absolute radius (with --val tune would
    // otherwise try the auto path).
    let sweeps = [
        "--select",
        "misclassified",
        "--points",
        "32",
        "--sweeps",
        "3",
        "--radius",
        "0.05",
        "-q",
    ];
    let acc = |r: &Run| r.json()["accuracy"].as_f64().unwrap();
    let before = acc(&dir.run(&["eval", &m, &val, "--json"]).ok());
    // Ungated: the paper's small batches, three sweeps.
    let mut ungated = vec!["tune", m.as_str(), train.as_str(), "-o"];
    let u = dir.p("ungated.onnx");
    ungated.push(&u);
    ungated.extend(sweeps);
    dir.run(&ungated).ok();
    let after_ungated = acc(&dir.run(&["eval", &u, &val, "--json"]).ok());
    // Gated on the same held-out half.
    let g = dir.p("gated.onnx");
    let rep = dir.p("gated.json");
    let mut gated = vec![
        "tune",
        m.as_str(),
        train.as_str(),
        "-o",
        g.as_str(),
        "--val",
        val.as_str(),
        "--report",
        rep.as_str(),
    ];
    gated.extend(sweeps);
    dir.run(&gated).ok();
    let report = read_json(std::path::Path::new(&rep));
    let after_gated = acc(&dir.run(&["eval", &g, &val, "--json"]).ok());
    let rejected: Vec<&serde_json::Value> = report["sweeps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["rejected_by_validation"] == true)
        .collect();
    assert_eq!(rejected.len(), 1, "one sweep rejected: {report}");
    assert!(
        report["stopped"].as_str().unwrap().contains("validation"),
        "{report}"
    );
    assert!(
        after_gated >= before,
        "gated: validation accuracy {before} → {after_gated}"
    );
    assert!(
        after_ungated < after_gated,
        "the rejected sweep would have hurt: ungated {after_ungated} vs gated {after_gated}"
    );
    assert_eq!(
        report["val_after"]["accuracy"].as_f64().unwrap(),
        after_gated
    );
}

#[test]
fn val_split_holds_out_part_of_the_data() {
    let dir = Dir::new("val-split");
    let rep = dir.p("r.json");
    dir.run(&[
        "tune",
        &model("digits"),
        &data("digits"),
        "-o",
        &dir.p("t.onnx"),
        "--val-split",
        "0.5",
        "-q",
        "--report",
        &rep,
    ])
    .ok();
    let r = read_json(std::path::Path::new(&rep));
    assert_eq!(r["train_before"]["points"], 150);
    assert_eq!(r["val_before"]["points"], 150);
    let bad = dir
        .run(&[
            "tune",
            &model("digits"),
            &data("digits"),
            "-o",
            &dir.p("u.onnx"),
            "--val-split",
            "1.5",
        ])
        .code_is(2);
    bad.check(
        bad.stderr().contains("--val-split"),
        "a bad fraction is named",
    );
}

/// The box-constrained least-squares optimum of `case`'s final layer at
/// radius 0.1, from tests/interop/lsq_reference.py (ONNX Runtime + SciPy,
/// no gdmilp), with the patched model's loss and distance to it.
fn least_squares(dir: &Dir, case: &str, patched: &str) -> serde_json::Value {
    let script = root().join("tests/interop/lsq_reference.py");
    let (m, d) = (root().join(model(case)), root().join(data(case)));
    let (m, d) = (m.to_str().unwrap(), d.to_str().unwrap());
    let args = [script.to_str().unwrap(), m, d, "0.1", "--against", patched];
    dir.tool(&python(), &args).ok().json()
}

/// The patched model reached the reference optimum: its loss within 0.1 %,
/// and (least squares is strongly convex in the outputs) its outputs no
/// farther from the optimum's than that loss gap allows.
fn at_the_optimum(r: &serde_json::Value, what: &str) {
    let f = |k: &str| r[k].as_f64().unwrap();
    let (best, now, got, dist) = (f("loss"), f("loss_now"), f("loss_patched"), f("distance"));
    assert!(
        best < now * 0.995,
        "{what}: the box allows an improvement ({now} → {best})"
    );
    assert!(close(got, best, 1e-3), "{what}: loss {got}, optimum {best}");
    assert!(
        dist <= (got - best) + 1e-9 * best,
        "{what}: outputs {dist} from the optimum's, loss gap {}",
        got - best
    );
}

#[test]
fn mse_reaches_the_least_squares_optimum_in_tune_and_through_cbc() {
    if !have(&["cbc", "python"]) {
        return;
    }
    let dir = Dir::new("mse-least-squares");
    let (m, d) = (model("regression"), data("regression"));
    // tune: mse is the default; a linear output → HiGHS solves the exact QP.
    let tuned = dir.p("tuned.onnx");
    let r = dir.run(&["tune", &m, &d, "-o", &tuned, "--radius", "0.1", "-q"]);
    let r = r.ok();
    r.check(
        r.stdout().contains("optimal"),
        "the QP is solved to optimality",
    );
    at_the_optimum(&least_squares(&dir, "regression", &tuned), "tune");

    // export writes segments by default, or tangents: LPs CBC solves.
    for form in ["segments", "tangents"] {
        let mps = dir.p(&format!("{form}.mps"));
        let args = [
            "export",
            &m,
            &d,
            "-o",
            &mps,
            "--radius",
            "0.1",
            "--mse-form",
            form,
        ];
        dir.run(&args).ok();
        let man = read_json(&dir.path.join(format!("{form}.mps.gdmilp.json")));
        assert_eq!(man["options"]["loss"], "mse");
        assert_eq!(man["mse_bound"]["form"], form);
        assert_eq!(man["counts"]["binaries"], 0);
        assert!(man["mse_bound"]["pieces"].as_u64().unwrap() > 0);
        let sol = dir.p(&format!("{form}.sol"));
        dir.tool("cbc", &[&mps, "solve", "solution", &sol]).ok();
        let patched = dir.p(&format!("{form}.onnx"));
        let a = dir.run(&["apply", &sol, &m, "-o", &patched, "--json"]);
        let a = a.code_is(0);
        a.check(a.json()["verified"] == true, "apply verifies the bound");
        let reference = least_squares(&dir, "regression", &patched);
        at_the_optimum(&reference, &format!("CBC on the {form}"));
        // The tangent LP's optimum is below the least-squares optimum; the
        // segment LP's objective is above the loss of its own solution.
        let value = a.json()["verification"]["solver_loss"].as_f64().unwrap();
        let (best, got) = (
            reference["loss"].as_f64().unwrap(),
            reference["loss_patched"].as_f64().unwrap(),
        );
        match form {
            "tangents" => assert!(value <= best * (1.0 + 1e-9), "{value} > optimum {best}"),
            _ => assert!(value >= got * (1.0 - 1e-9), "{value} < its own loss {got}"),
        }
    }
}

#[test]
fn mse_after_a_relu_uses_segments_in_tune_and_the_quadratic_file_is_exact() {
    if !have(&["python"]) {
        return;
    }
    let dir = Dir::new("mse-relu");
    let (m, d) = (model("relu_output"), data("relu_output"));
    let out = dir.p("t.onnx");
    let r = dir.run(&[
        "tune",
        &m,
        &d,
        "-o",
        &out,
        "-q",
        "--report",
        &dir.p("r.json"),
    ]);
    let r = r.ok();
    r.check(
        r.stderr().contains("using segments"),
        "tune says why it uses segments",
    );
    let rep = read_json(&dir.path.join("r.json"));
    let (x, y) = (
        rep["train_before"]["mse"].as_f64().unwrap(),
        rep["train_after"]["mse"].as_f64().unwrap(),
    );
    assert!(y < x, "MSE {x} → {y}");
    // HiGHS cannot solve the MIQP: asked for it, tune refuses before work.
    let q = ["tune", &m, &d, "-o", &out, "--mse-form", "quadratic"];
    let e = dir.run(&q).code_is(2);
    e.check(
        e.stderr().contains("--mse-form segments"),
        "names the way out",
    );

    // Linear output: the quadratic file solved by highspy gives tune's QP
    // optimum.
    let (m, d) = (model("regression"), data("regression"));
    let lp = dir.p("q.lp");
    // In the box of the tune run below.
    let export = ["export", &m, &d, "-o", &lp, "--radius", "0.05"];
    dir.run(&[&export[..], &["--mse-form", "quadratic"]].concat())
        .ok();
    let man = read_json(&dir.path.join("q.lp.gdmilp.json"));
    assert!(man["mse_bound"].is_null());
    // The file's objective leaves out the constant Σ y², the manifest has it.
    let offset = man["objective_offset"].as_f64().unwrap();
    let optimum = highspy(&lp, &dir.p("q.lp.mst"), true) + offset;
    dir.run(&[
        "tune",
        &m,
        &d,
        "-o",
        &out,
        "--radius",
        "0.05",
        "-q",
        "--report",
        &dir.p("q.json"),
    ])
    .ok();
    let rep = read_json(&dir.path.join("q.json"));
    let tuned = rep["sweeps"][0]["loss_solver"].as_f64().unwrap();
    assert!(
        close(optimum, tuned, 1e-7),
        "highspy {optimum}, tune {tuned}"
    );
}

#[test]
fn a_hinge_solution_is_the_zero_one_mip_start_when_it_is_better() {
    if !have(&["python"]) {
        return;
    }
    let dir = Dir::new("warm-start-hinge");
    let (m, d) = (model("digits"), data("digits"));
    let mps = dir.p("layer.mps");
    let sel = ["--select", "misclassified", "--points", "32"];
    let mut args = vec!["export", &m, &d, "-o", &mps, "--warm-start", "hinge"];
    args.extend(sel);
    let r = dir.run(&args).ok();
    let line = r
        .stderr()
        .lines()
        .find(|l| l.starts_with("start"))
        .map(String::from);
    let line = line.unwrap_or_default();
    r.check(
        line.contains("starting from the hinge weights"),
        "hinge start used",
    );
    // "its weights have N correct": the MST must score exactly that.
    let n = number_after(&line, "have ");
    assert!(n > 0.0, "the hinge weights fix some of the 32 wrong points");
    let man = read_json(&dir.path.join("layer.mps.gdmilp.json"));
    let offset = man["objective_offset"].as_f64().unwrap();
    let fixed = highspy(&mps, &dir.p("layer.mps.mst"), false) + offset;
    assert!(
        close(fixed, -n, 1e-9),
        "start scores {fixed}, said {n} correct"
    );
    assert_eq!(
        man["incumbent_objective"], 0.0,
        "the current weights stay the incumbent"
    );

    // tune records it per sweep, and the sweep ends at least as good.
    let (rep, tuned) = (dir.p("r.json"), dir.p("t.onnx"));
    // The box of the exported file (export's default; tune's is relative).
    let mut args = vec![
        "tune",
        &m,
        &d,
        "-o",
        &tuned,
        "-q",
        "--warm-start",
        "hinge",
        "--radius",
        "0.05",
    ];
    args.extend(sel);
    args.extend(["--report", &rep]);
    dir.run(&args).ok();
    let s = &read_json(std::path::Path::new(&rep))["sweeps"][0];
    assert_eq!(s["warm_start"]["used"], true);
    assert!(s["loss_after"].as_f64().unwrap() <= -n);

    // Only zero-one takes it.
    let e = dir.run(&[
        "export",
        &m,
        &d,
        "-o",
        &mps,
        "--loss",
        "hinge",
        "--warm-start",
        "hinge",
    ]);
    let e = e.code_is(2);
    e.check(e.stderr().contains("goes with --loss zero-one"), "says why");
}

#[test]
fn shrink_retries_a_rejected_sweep_in_a_smaller_box() {
    let dir = Dir::new("val-shrink");
    let (train, val) = digits_halves(&dir);
    let m = model("digits");
    let (out, rep) = (dir.p("s.onnx"), dir.p("s.json"));
    let acc = |r: &Run| r.json()["accuracy"].as_f64().unwrap();
    let before = acc(&dir.run(&["eval", &m, &val, "--json"]).ok());
    let args = [
        "tune",
        &m,
        &train,
        "-o",
        &out,
        "--val",
        &val,
        "--report",
        &rep,
        "--select",
        "misclassified",
        "--points",
        "32",
        "--sweeps",
        "5",
        "--shrink",
        "0.5",
        "--radius",
        "0.05",
        "-q",
    ];
    dir.run(&args).ok();
    let report = read_json(std::path::Path::new(&rep));
    let sweeps = report["sweeps"].as_array().unwrap();
    // The same data as the gating test: its third sweep is rejected; here
    // the fourth runs in a box half as wide instead of the tune stopping.
    let first = sweeps
        .iter()
        .position(|s| s["rejected_by_validation"] == true)
        .expect("a sweep is rejected");
    assert!(
        sweeps.len() > first + 1,
        "a sweep follows the rejection: {report}"
    );
    let r = |k: usize| sweeps[k]["radius"].as_f64().unwrap();
    assert_eq!(r(0), 0.05);
    assert_eq!(r(first + 1), r(first) / 2.0, "{report}");
    // Whatever was kept, validation never got worse.
    let mut best = before;
    for s in sweeps.iter().filter(|s| s["kept"] == true) {
        let a = s["val"]["accuracy"].as_f64().unwrap();
        assert!(
            a >= best,
            "a kept sweep lowered validation accuracy: {report}"
        );
        best = a;
    }
    assert!(acc(&dir.run(&["eval", &out, &val, "--json"]).ok()) >= before);
    // --shrink needs validation data and a factor in (0, 1).
    let e = dir
        .run(&["tune", &m, &train, "-o", &out, "--shrink", "0.5"])
        .code_is(2);
    e.check(e.stderr().contains("--val"), "names --val");
    let e = dir.run(&[
        "tune", &m, &train, "-o", &out, "--val", &val, "--shrink", "2",
    ]);
    e.code_is(2);
}

#[test]
fn tune_with_cap_point_writes_mse_as_segments_and_keeps_the_cap() {
    let dir = Dir::new("mse-cap");
    let (m, d) = (model("regression"), data("regression"));
    let keep = dir.p("keep");
    let args = [
        "tune",
        &m,
        &d,
        "-o",
        &dir.p("t.onnx"),
        "--cap",
        "point",
        "--keep",
        &keep,
        "--radius",
        "0.5x",
        "-q",
    ];
    dir.run(&args).ok();
    let man = read_json(&dir.path.join("keep/sweep1.mps.gdmilp.json"));
    assert_eq!(man["options"]["mse_form"], "segments");
    assert_eq!(man["options"]["cap"], "point");
    // No residual may grow: the patched model's error on each point and
    // output is at most the current one (float32 noise aside).
    let before = dir.run(&["eval", &m, &d, "--json"]).ok().json();
    let after = dir
        .run(&["eval", &dir.p("t.onnx"), &d, "--json"])
        .ok()
        .json();
    let (b, a) = (
        before["max_abs_error"].as_f64().unwrap(),
        after["max_abs_error"].as_f64().unwrap(),
    );
    assert!(a <= b + 1e-6, "largest error {b} → {a}");
    assert!(after["mse"].as_f64().unwrap() <= before["mse"].as_f64().unwrap());
}

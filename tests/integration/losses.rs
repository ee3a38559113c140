//! The losses besides the defaults: hinge (classification, an LP) and linf
//! (regression). CBC, GLPK and the embedded HiGHS must agree on the optimum,
//! and the patched model must compute it.

use crate::util::*;

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
    let man = read_json(&dir.path.join("l.gdmilp.json"));
    assert_eq!(man["counts"]["binaries"], 0);
    assert_eq!(man["options"]["loss"], "hinge");
    assert_eq!(man["options"]["margin"], 1.0, "hinge's default margin");
}

#[test]
fn linf_minimises_the_largest_error() {
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

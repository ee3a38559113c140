//! `--protect` on layers stored in float16 or bfloat16: the rows allow for
//! what rounding the solver's weights to the model's type (and a float16
//! Gemm's own arithmetic) can do, so apply and tune find no protected point
//! lost in ONNX Runtime, and apply still refuses an answer that loses one.

use crate::util::*;

/// Exports `case` (`select`, 32 points) to `NAME.mps`, with `--protect
/// protect` when given, and solves it with the embedded HiGHS; the
/// solution's and the manifest's paths.
fn export_solve(
    dir: &Dir,
    case: &str,
    name: &str,
    select: &str,
    protect: Option<&str>,
) -> (String, String) {
    let (m, d, mps) = (model(case), data(case), dir.p(&format!("{name}.mps")));
    let mut args = vec!["export", &m, &d, "--select", select];
    args.extend(["--points", "32", "-o", &mps]);
    args.extend(protect.iter().flat_map(|p| ["--protect", p]));
    dir.run(&args).ok();
    let sol = dir.p(&format!("{name}.sol"));
    dir.run(&["solve", &mps, "-o", &sol, "-q"]).ok();
    (sol, format!("{mps}.gdmilp.json"))
}

/// Applies `sol` to `case`'s model under the manifest `man`: the run.
fn apply(dir: &Dir, case: &str, sol: &str, man: &str, out: &str) -> Run {
    let m = model(case);
    dir.run(&["apply", sol, &m, "-o", out, "--manifest", man, "--json"])
}

/// The protected answer is accepted with no point lost; the unconstrained
/// one, held to the same promise, is refused and nothing is written.
fn kept_and_refused(dir: &Dir, case: &str, select: &str, protect: &str) -> serde_json::Value {
    let (kept, man) = export_solve(dir, case, "kept", select, Some(protect));
    let r = apply(dir, case, &kept, &man, &dir.p("kept.onnx")).code_is(0);
    let j = r.json();
    r.check(
        j["protect"]["lost"] == serde_json::json!([]),
        "no protected point lost in ONNX Runtime",
    );
    let (free, _) = export_solve(dir, case, "free", select, None);
    let out = dir.p("free.onnx");
    let r = apply(dir, case, &free, &man, &out).code_is(1);
    r.check(
        r.stderr().contains("protected points of"),
        "the unconstrained answer loses protected points",
    );
    r.check(!std::path::Path::new(&out).exists(), "nothing written");
    j
}

#[test]
fn a_float16_model_patched_with_its_data_protected_keeps_every_point() {
    let dir = Dir::new("protect_half_float16");
    let d = data("half_model");
    let j = kept_and_refused(&dir, "half_model", "misclassified", &d);
    assert_eq!(j["protect"]["protected"], 243, "{j}");
    // The patch still fixes points: the allowance leaves the solver room.
    let before = j["verification"]["before"]["accuracy"].as_f64().unwrap();
    let after = j["verification"]["after"]["accuracy"].as_f64().unwrap();
    assert!(after > before + 0.05, "{before} → {after}");
    let man = read_json(&dir.path.join("kept.mps.gdmilp.json"));
    let within = man["protect"]["counts"]["within_rounding"].as_u64();
    assert!(within.is_some_and(|n| n < 10), "{}", man["protect"]);
}

#[test]
fn tune_keeps_a_float16_sweep_with_its_protected_points() {
    let dir = Dir::new("protect_half_tune");
    let (m, d) = (model("half_model"), data("half_model"));
    let (out, report) = (dir.p("tuned.onnx"), dir.p("report.json"));
    // A radius given: the sweep runs as asked (the check's folds sweep
    // unprotected, and on these 300 points they find no gain beyond chance).
    let args = [
        "tune",
        &m,
        &d,
        "--protect",
        &d,
        "-o",
        &out,
        "--radius",
        "0.5x",
    ];
    let r = dir.run(&[&args[..], &["--report", &report]].concat()).ok();
    r.check(
        r.stderr()
            .contains("allows for rounding to the layer's float16"),
        "the protect line says the rows allow for float16",
    );
    let rep = read_json(std::path::Path::new(&report));
    let s = &rep["sweeps"][0];
    r.check(s["kept"] == true, "the sweep is kept");
    r.check(s["protect"]["lost"] == 0, "no protected point lost");
}

#[test]
fn a_bfloat16_regression_error_grows_by_no_more_than_rounding() {
    let dir = Dir::new("protect_half_bfloat16");
    let case = "bfloat16_weights";
    // The protect file: the fixture's inputs, with targets 0.02 off the
    // model's own outputs (alternately above and below), so that the
    // protected rows bind and rounding the weights to bfloat16 matters.
    let near = dir.p("near.npz");
    let code = r#"
import sys, numpy as np, onnxruntime as ort
m, d, out = sys.argv[1:]
x = np.load(d)["x"]
s = ort.InferenceSession(m, providers=["CPUExecutionProvider"])
a = s.run(None, {s.get_inputs()[0].name: x})[0].astype(np.float64)
sign = np.where(np.arange(a.size).reshape(a.shape) % 2 == 0, 1.0, -1.0)
np.savez(out, x=x, y=(a + 0.02 * sign).astype(np.float32))
"#;
    let (m, d) = (root().join(model(case)), root().join(data(case)));
    let args = [code, m.to_str().unwrap(), d.to_str().unwrap(), &near];
    dir.tool(&python(), &[&["-c"][..], &args[..]].concat()).ok();
    let j = kept_and_refused(&dir, case, "worst", &near);
    assert_eq!(j["protect"]["protected"], 150, "{j}");
    // With the data as protect file the residuals are far from the box's
    // reach: nothing to lose either.
    let dir = Dir::new("protect_half_bfloat16_data");
    let (kept, man) = export_solve(&dir, case, "kept", "worst", Some(&data(case)));
    let r = apply(&dir, case, &kept, &man, &dir.p("kept.onnx")).code_is(0);
    r.check(
        r.json()["protect"]["lost"] == serde_json::json!([]),
        "no protected point lost",
    );
}

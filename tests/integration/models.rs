//! The final layers real exporters write (issue #14): each fixture of
//! scripts/make_exporter_fixtures.py goes export → a real solver → apply,
//! verified in ONNX Runtime twice (apply re-runs the patched model in
//! memory; `eval` then loads the written file and its data files from
//! disk); the incumbent's own weights give back the input byte for byte;
//! apply never writes a file the input model reads.

use crate::apply::solution_from_start;
use crate::util::*;

const FORMS: &[&str] = &[
    "constant_weights",
    "sk_multi_regressor",
    "external_files",
    "gemm_trans_a",
    "half_cast",
    "half_model",
    "bfloat16_weights",
    "argmax_only",
];

fn export(dir: &Dir, model: &str, data: &str, extra: &[&str]) -> String {
    let out = dir.p("layer.mps");
    let mut args = vec![
        "export", model, data, "-o", &out, "--radius", "0.05", "--select", "first", "--points",
        "40",
    ];
    args.extend(extra);
    dir.run(&args).ok();
    out
}

/// `gdmilp apply` with the export's manifest; its JSON report.
fn apply(dir: &Dir, sol: &str, model: &str, out: &str) -> (Run, serde_json::Value) {
    let man = dir.p("layer.mps.gdmilp.json");
    let r = dir.run(&["apply", sol, model, "-o", out, "--manifest", &man, "--json"]);
    let j = r.json();
    (r, j)
}

/// `gdmilp eval` of a model file on `data`, as JSON metrics.
fn eval(dir: &Dir, model: &str, data: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["eval", model, data, "--json"];
    args.extend(extra);
    dir.run(&args).ok().json()
}

#[test]
fn every_exporter_form_goes_through_a_solver_and_verifies_in_onnx_runtime() {
    if !have(&["cbc"]) {
        return;
    }
    for (k, case) in FORMS.iter().enumerate() {
        let dir = Dir::new(&format!("models-{case}"));
        let mps = export(&dir, &model(case), &data(case), &[]);
        // CBC and the embedded HiGHS, taken in turn.
        let sol = dir.p("layer.sol");
        if k % 2 == 0 {
            dir.run(&["solve", &mps, "-o", &sol]).ok();
        } else {
            dir.tool("cbc", &[&mps, "solve", "solution", &sol]).ok();
        }
        let out = dir.p("patched.onnx");
        let (r, j) = apply(&dir, &sol, &model(case), &out);
        let r = r.code_is(0);
        let v = &j["verification"];
        let (before, after) = (
            v["incumbent_loss"].as_f64().unwrap(),
            v["recomputed_loss"].as_f64().unwrap(),
        );
        r.check(j["verified"] == true, &format!("{case}: verified"));
        r.check(after < before, &format!("{case}: loss {before} → {after}"));
        // The written file, loaded from disk with its data files, computes
        // what apply's in-memory run did on the whole data.
        let on_disk = eval(&dir, &out, &data(case), &[]);
        for key in ["correct", "mse", "mae"] {
            let (a, b) = (&v["after"][key], &on_disk[key]);
            r.check(
                a.is_null() == b.is_null()
                    && (a.is_null() || close(a.as_f64().unwrap(), b.as_f64().unwrap(), 1e-9)),
                &format!("{case}: eval of the written model gives {key} {b}, apply said {a}"),
            );
        }
    }
}

#[test]
fn float16_and_bfloat16_weights_are_rounded_and_the_rounding_is_reported() {
    for case in ["half_cast", "half_model", "bfloat16_weights"] {
        let dir = Dir::new(&format!("models-round-{case}"));
        let mps = export(&dir, &model(case), &data(case), &[]);
        dir.run(&["solve", &mps, "-o", &dir.p("layer.sol")]).ok();
        let (r, j) = apply(&dir, &dir.p("layer.sol"), &model(case), &dir.p("p.onnx"));
        let rounding = &j["verification"]["rounding"];
        let dtype = if case == "bfloat16_weights" {
            "bfloat16"
        } else {
            "float16"
        };
        r.check(rounding["dtype"] == dtype, "the rounding names the type");
        let (exact, stored) = (
            rounding["solver_weights_loss"].as_f64().unwrap(),
            rounding["stored_weights_loss"].as_f64().unwrap(),
        );
        let recomputed = j["verification"]["recomputed_loss"].as_f64().unwrap();
        // ONNX Runtime computes what the rounded weights give in f64 (to
        // the precision of the layer's arithmetic), not the solver's loss.
        r.check(
            close(recomputed, stored, 1e-3),
            &format!("{case}: ONNX Runtime {recomputed} vs rounded weights {stored}"),
        );
        if case == "bfloat16_weights" {
            r.check(
                stored > exact,
                "bfloat16 rounding loses part of an mse gain",
            );
            let text = dir
                .run(&[
                    "apply",
                    &dir.p("layer.sol"),
                    &model(case),
                    "-o",
                    &dir.p("q.onnx"),
                    "--manifest",
                    &dir.p("layer.mps.gdmilp.json"),
                ])
                .code_is(0);
            text.check(
                text.stdout().contains("rounding loses part of the gain"),
                "apply says so",
            );
        }
    }
}

#[test]
fn the_incumbents_own_weights_give_back_each_form_byte_for_byte() {
    for case in [
        "constant_weights",
        "half_cast",
        "half_model",
        "bfloat16_weights",
        "sk_multi_regressor",
        "gemm_trans_a",
    ] {
        let dir = Dir::new(&format!("models-same-{case}"));
        export(&dir, &model(case), &data(case), &[]);
        let same = solution_from_start(&dir, |n, v| Some((n.into(), v)));
        std::fs::write(dir.path.join("same.sol"), same).unwrap();
        let out = dir.p("same.onnx");
        dir.run(&["apply", &dir.p("same.sol"), &model(case), "-o", &out])
            .ok();
        let a = std::fs::read(root().join(model(case))).unwrap();
        assert!(
            a == std::fs::read(&out).unwrap(),
            "{case}: patched with its own weights, the model is not byte-identical"
        );
    }
}

#[test]
fn several_data_files_are_each_copied_and_patched_in_place() {
    if !have(&["python"]) {
        return;
    }
    let dir = Dir::new("models-data-files");
    let case = "external_files";
    export(&dir, &model(case), &data(case), &[]);
    let same = solution_from_start(&dir, |n, v| Some((n.into(), v)));
    std::fs::write(dir.path.join("same.sol"), same).unwrap();
    let r = dir
        .run(&[
            "apply",
            &dir.p("same.sol"),
            &model(case),
            "-o",
            &dir.p("p.onnx"),
        ])
        .ok();
    for (input, copy) in [
        ("weights.bin", "p.onnx.weights.bin"),
        ("bias.bin", "p.onnx.bias.bin"),
    ] {
        let a = std::fs::read(root().join(format!("fixtures/{case}/{input}"))).unwrap();
        let b = std::fs::read(dir.path.join(copy)).unwrap();
        r.check(a == b, &format!("{copy} is {input} byte for byte"));
    }
    // The model differs from the input only in its data files' names.
    let py = r#"
import sys, onnx
a = onnx.load(sys.argv[1], load_external_data=False)
b = onnx.load(sys.argv[2], load_external_data=False)
for t in b.graph.initializer:
    for e in t.external_data:
        if e.key == "location":
            e.value = e.value[len("p.onnx."):]
assert a == b, "models differ beyond the data file names"
"#;
    dir.tool(
        &python(),
        &[
            "-c",
            py,
            &root().join(model(case)).to_string_lossy(),
            &dir.p("p.onnx"),
        ],
    )
    .ok();
}

#[test]
fn apply_never_writes_a_data_file_the_input_model_reads() {
    // Issue #12, case 1: `mv model.onnx backup.onnx; apply … backup.onnx -o
    // model.onnx` on a torch export whose weights are in model.onnx.data.
    let dir = Dir::new("models-alias");
    for f in ["model.onnx", "model.onnx.data", "data.npz"] {
        std::fs::copy(
            root().join(format!("fixtures/torch_export/{f}")),
            dir.path.join(f),
        )
        .unwrap();
    }
    let data_before = std::fs::read(dir.path.join("model.onnx.data")).unwrap();
    let (model_p, data_p) = (dir.p("model.onnx"), dir.p("data.npz"));
    let mps = export(&dir, &model_p, &data_p, &[]);
    dir.run(&["solve", &mps, "-o", &dir.p("layer.sol")]).ok();
    let before = eval(&dir, &model_p, &data_p, &[]);
    std::fs::rename(dir.path.join("model.onnx"), dir.path.join("backup.onnx")).unwrap();
    let (r, j) = apply(&dir, &dir.p("layer.sol"), &dir.p("backup.onnx"), &model_p);
    let r = r.code_is(0);
    r.check(
        std::fs::read(dir.path.join("model.onnx.data")).unwrap() == data_before,
        "backup.onnx's data file is untouched",
    );
    r.check(
        j["data_file"]
            .as_str()
            .unwrap()
            .ends_with("model.onnx.1.data"),
        "the patched weights go to another file",
    );
    r.check(
        r.stderr().contains("is a file the input model reads"),
        "apply says why",
    );
    // Nor may the patched model itself be written over a data file.
    let r = dir
        .run(&[
            "apply",
            &dir.p("layer.sol"),
            &dir.p("backup.onnx"),
            "-o",
            &dir.p("model.onnx.data"),
        ])
        .code_is(2);
    r.check(
        r.stderr().contains("is the external data file"),
        "refused, saying why",
    );
    r.check(
        std::fs::read(dir.path.join("model.onnx.data")).unwrap() == data_before,
        "the data file is untouched",
    );
    let backup = eval(&dir, &dir.p("backup.onnx"), &data_p, &[]);
    r.check(backup == before, "backup.onnx still scores what it did");
    let patched = eval(&dir, &model_p, &data_p, &[]);
    r.check(
        patched == j["verification"]["after"],
        "the new model.onnx computes what apply verified",
    );
}

#[test]
fn output_names_any_tensor_and_argmax_outputs_lead_to_their_scores() {
    let dir = Dir::new("models-output");
    let case = "argmax_only";
    let r = dir.run(&["inspect", &model(case)]).ok();
    r.check(
        r.stdout().contains("after layer  ArgMax") && r.stdout().contains("output       'y'"),
        "the ArgMax output is followed to its scores",
    );
    export(&dir, &model(case), &data(case), &["--output", "logits"]);
    let man = read_json(&dir.path.join("layer.mps.gdmilp.json"));
    assert_eq!(man["layer"]["model_output"], "logits");
    let same = solution_from_start(&dir, |n, v| Some((n.into(), v)));
    std::fs::write(dir.path.join("same.sol"), same).unwrap();
    let (r, j) = apply(&dir, &dir.p("same.sol"), &model(case), &dir.p("p.onnx"));
    r.code_is(0);
    assert_eq!(j["verified"], true);
    let r = dir
        .run(&["inspect", &model(case), "--output", "nowhere"])
        .code_is(2);
    r.check(
        r.stderr()
            .contains("no output or computed tensor 'nowhere'"),
        "an unknown name is refused",
    );
}

#[test]
fn a_tail_that_mixes_points_is_refused_by_what_it_computes() {
    // Transpose → Softmax(axis=1) → Transpose: the Softmax runs across
    // points. With as many points as outputs the shapes fit, and only the
    // values show it; with more, the shapes do.
    let dir = Dir::new("models-mixing");
    for (points, needle) in [
        (4, "do not keep each point's 4 values"),
        (6, "has shape [4, 6]"),
    ] {
        let x = ndarray::Array2::<f32>::from_shape_fn((points, 3), |(i, j)| {
            ((i * 3 + j) as f32 * 0.37).sin()
        });
        let y = ndarray::Array1::<i64>::from_shape_fn(points, |i| (i % 4) as i64);
        let d = write_xy(&dir.path.join(format!("d{points}.npz")), &x, &y);
        let r = dir
            .run(&[
                "export",
                "fixtures/bad/mixing_tail.onnx",
                &d,
                "-o",
                &dir.p("l.mps"),
            ])
            .code_is(2);
        r.check(
            r.stderr().contains(needle) && r.stderr().contains("mixing_tail.onnx"),
            "refused, naming the model",
        );
        r.check(!dir.path.join("l.mps").exists(), "nothing written");
    }
}

#[test]
fn a_classifier_with_a_relu_after_its_final_layer_is_tuned_through_the_relu() {
    if !have(&["cbc"]) {
        return;
    }
    // 13 of its 300 points (9 of the first 150) have every output clipped at 0 (a tie that ONNX
    // Runtime's ArgMax gives to class 0): the margin ε keeps such points out
    // of the count of correct ones, in the file and in verification alike.
    let case = "relu_classifier";
    let dir = Dir::new("models-relu-classifier");
    let mps = dir.p("layer.mps");
    dir.run(&["export", &model(case), &data(case), "-o", &mps])
        .ok();
    let sol = dir.p("cbc.sol");
    dir.tool("cbc", &[&mps, "solve", "solution", &sol]).ok();
    let out = dir.p("patched.onnx");
    let (r, j) = apply(&dir, &sol, &model(case), &out);
    let r = r.code_is(0);
    r.check(
        j["verified"] == true,
        "the patched model computes CBC's objective",
    );
    let v = &j["verification"];
    let (before, after) = (
        v["before"]["accuracy"].as_f64().unwrap(),
        v["after"]["accuracy"].as_f64().unwrap(),
    );
    r.check(after > before, &format!("accuracy {before} → {after}"));
    // The written model, loaded from disk, scores what apply said.
    let e = eval(&dir, &out, &data(case), &[]);
    assert_eq!(e["accuracy"].as_f64(), Some(after));
    // The hinge loss is not modelled through a ReLU: one clear line.
    let r = dir
        .run(&[
            "export",
            &model(case),
            &data(case),
            "-o",
            &mps,
            "--loss",
            "hinge",
        ])
        .code_is(2);
    r.check(
        r.stderr().contains("hinge loss after a Relu"),
        "the refusal names the loss and the ReLU",
    );
}

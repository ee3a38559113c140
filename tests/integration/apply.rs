//! apply end to end: export → a real solver → apply, on several fixtures;
//! the patched model must compute the solver's objective; plus round-trip
//! fidelity of the ONNX bytes, manifest discovery and refusals.

use crate::util::*;

/// A Gurobi-style solution holding every column at its MIP-start value
/// (the current weights), with `edit` applied to (name, value) pairs.
pub fn solution_from_start(dir: &Dir, edit: impl Fn(&str, f64) -> Option<(String, f64)>) -> String {
    let start = std::fs::read_to_string(dir.path.join("layer.mps.mst")).unwrap();
    let man = read_json(&dir.path.join("layer.mps.gdmilp.json"));
    let mut out = format!(
        "# Solution for model gdmilp\n# Objective value = {}\n",
        man["incumbent_objective"]
    );
    for line in start.lines().filter(|l| !l.starts_with('#')) {
        let (n, v) = line.split_once(' ').unwrap();
        if let Some((n, v)) = edit(n, v.parse().unwrap()) {
            out.push_str(&format!("{n} {v:?}\n"));
        }
    }
    out
}

fn export(dir: &Dir, case: &str, ext: &str, extra: &[&str]) -> String {
    let out = dir.p(&format!("layer.{ext}"));
    let mut args = vec!["export", "--radius", "0.05"];
    let (m, d) = (model(case), data(case));
    args.extend([m.as_str(), d.as_str(), "-o", out.as_str()]);
    args.extend(extra);
    dir.run(&args).ok();
    out
}

fn apply_verified(dir: &Dir, case: &str, sol: &str, solver: &str) {
    let out = dir.p(&format!("{solver}.onnx"));
    // The export in `dir` was to layer.mps or layer.lp.
    let manifest = ["layer.mps.gdmilp.json", "layer.lp.gdmilp.json"]
        .into_iter()
        .map(|m| dir.p(m))
        .find(|m| std::path::Path::new(m).is_file())
        .expect("an export's manifest in the test directory");
    let r = dir
        .run(&[
            "apply",
            sol,
            &model(case),
            "-o",
            &out,
            "--manifest",
            &manifest,
            "--json",
        ])
        .code_is(0);
    let j = r.json();
    let v = &j["verification"];
    let (solver_loss, recomputed, before) = (
        v["solver_loss"].as_f64().unwrap(),
        v["recomputed_loss"].as_f64().unwrap(),
        v["incumbent_loss"].as_f64().unwrap(),
    );
    r.check(j["verified"] == true, &format!("{case}/{solver}: verified"));
    r.check(
        agrees(solver_loss, recomputed, &v["mse_bound"], 1e-6),
        &format!("{case}/{solver}: recomputed {recomputed} vs solver {solver_loss}"),
    );
    r.check(
        recomputed <= before,
        &format!("{case}/{solver}: no worse than before"),
    );
    let (b, a) = (&v["before"], &v["after"]);
    if let (Some(x), Some(y)) = (b["accuracy"].as_f64(), a["accuracy"].as_f64()) {
        r.check(
            y >= x,
            &format!("{case}/{solver}: training accuracy {x} → {y}"),
        );
    } else {
        // The export's loss on all points: mse (the default) or l1.
        let man = read_json(std::path::Path::new(&manifest));
        let metric = match man["options"]["loss"].as_str().unwrap() {
            "mse" => "mse",
            _ => "mae",
        };
        let (x, y) = (b[metric].as_f64().unwrap(), a[metric].as_f64().unwrap());
        r.check(
            y <= x + 1e-7,
            &format!("{case}/{solver}: training {metric} {x} → {y}"),
        );
    }
    r.check(
        std::path::Path::new(&out).is_file(),
        "patched model written",
    );
}

fn scip(dir: &Dir, file: &str, sol: &str) {
    let code = format!(
        "from pyscipopt import Model\nm=Model()\nm.hideOutput()\nm.readProblem({file:?})\nm.optimize()\nm.writeBestSol({sol:?})\n"
    );
    dir.tool(&python(), &["-c", &code]).ok();
}

#[test]
fn cbc_glpk_scip_and_highs_solutions_verify_on_every_layer_form() {
    if !have(&["cbc", "glpsol", "python"]) {
        return;
    }
    for (case, extra) in [
        ("regression", &[][..]),
        ("relu_output", &[][..]),
        ("digits", &["--select", "first", "--points", "120"][..]),
        ("torch_export", &[][..]),
        ("gemm_alpha_beta", &[][..]),
        ("matmul_add", &[][..]),
        ("no_bias", &[][..]),
    ] {
        let dir = Dir::new(&format!("apply-{case}"));
        let mps = export(&dir, case, "mps", extra);
        dir.tool("cbc", &[&mps, "solve", "solution", "cbc.sol"])
            .ok();
        apply_verified(&dir, case, &dir.p("cbc.sol"), "cbc");
        dir.tool("glpsol", &["--freemps", &mps, "-w", "glpk.sol"])
            .ok();
        apply_verified(&dir, case, &dir.p("glpk.sol"), "glpk");
        dir.run(&["solve", &mps, "-o", &dir.p("highs.sol"), "-q"])
            .ok();
        apply_verified(&dir, case, &dir.p("highs.sol"), "highs");
        scip(&dir, &mps, &dir.p("scip.sol"));
        apply_verified(&dir, case, &dir.p("scip.sol"), "scip");
        // GLPK numbers LP columns by first appearance: the objective lists
        // every column so the manifest's order holds for .lp files too.
        let lp = export(&dir, case, "lp", extra);
        dir.tool("glpsol", &["--lp", &lp, "-w", "glpk_lp.sol"]).ok();
        apply_verified(&dir, case, &dir.p("glpk_lp.sol"), "glpk_lp");
    }
}

/// `flag` for glpsol reading `file`: `--lp` or `--freemps`.
fn glpsol_flag(file: &str) -> &'static str {
    if file.ends_with(".lp") {
        "--lp"
    } else {
        "--freemps"
    }
}

#[test]
fn glpk_reports_verify_for_a_milp_and_an_lp_from_mps_and_lp_files() {
    if !have(&["glpsol"]) {
        return;
    }
    // The -o report prints values to 6 digits: apply still verifies
    // (classification margins and the segments' bound hold).
    for (case, extra) in [
        ("digits", &["--select", "first", "--points", "40"][..]),
        ("regression", &[][..]),
    ] {
        for ext in ["mps", "lp"] {
            let dir = Dir::new(&format!("glpk-report-{case}-{ext}"));
            let file = export(&dir, case, ext, extra);
            dir.tool("glpsol", &[glpsol_flag(&file), &file, "-o", "report.txt"])
                .ok();
            apply_verified(&dir, case, &dir.p("report.txt"), "glpk_report");
        }
    }
}

#[test]
fn gurobi_json_solutions_verify() {
    if !have(&["python"]) {
        return;
    }
    // The size-limited licence takes the tiny fixtures (and 40 digits).
    for (case, ext, extra) in [
        ("tiny_classification", "mps", &[][..]),
        ("tiny_regression", "lp", &[][..]),
        ("tiny_regression", "mps", &["--loss", "l1"][..]),
        ("digits", "lp", &["--select", "first", "--points", "40"][..]),
    ] {
        let dir = Dir::new(&format!("gurobi-json-{case}-{ext}"));
        let file = export(&dir, case, ext, extra);
        let code = format!(
            "import gurobipy as gp\ng = gp.read({file:?})\ng.Params.OutputFlag = 0\ng.Params.ResultFile = 'gurobi.json'\ng.optimize()\n"
        );
        dir.tool(&python(), &["-c", &code]).ok();
        apply_verified(&dir, case, &dir.p("gurobi.json"), "gurobi_json");
    }
}

#[test]
fn cbc_accepts_the_cbc_start_and_its_solution_verifies() {
    if !have(&["cbc"]) {
        return;
    }
    for ext in ["mps", "lp"] {
        let dir = Dir::new(&format!("cbc-start-{ext}"));
        let file = export(
            &dir,
            "digits",
            ext,
            &["--select", "first", "--points", "40"],
        );
        let start = format!("{file}.cbc.mst");
        let r = dir
            .tool(
                "cbc",
                &[&file, "mips", &start, "solve", "solution", "cbc.sol"],
            )
            .ok();
        let log = r.stdout();
        r.check(
            log.contains("MIPStart values read for 207 variables")
                && log.contains("MIPStart provided solution with cost")
                && !log.contains("Warning"),
            "CBC reads every column of the start and uses it",
        );
        apply_verified(&dir, "digits", &dir.p("cbc.sol"), "cbc_start");
    }
}

#[test]
fn the_incumbents_own_values_give_back_the_input_byte_for_byte() {
    for case in [
        "regression",
        "matmul_add",
        "gemm_alpha_beta",
        "sk_classifier",
        "convnet",
    ] {
        let dir = Dir::new(&format!("fidelity-{case}"));
        export(&dir, case, "mps", &["--select", "first", "--points", "10"]);
        std::fs::write(
            dir.path.join("same.sol"),
            solution_from_start(&dir, |n, v| Some((n.into(), v))),
        )
        .unwrap();
        let out = dir.p("same.onnx");
        dir.run(&["apply", &dir.p("same.sol"), &model(case), "-o", &out])
            .ok();
        let a = std::fs::read(root().join(model(case))).unwrap();
        let b = std::fs::read(&out).unwrap();
        assert!(
            a == b,
            "{case}: patched with its own weights, the model is not byte-identical"
        );
    }
    // External data: the data file is byte-identical and the model differs
    // only in the data file's name (same length here, so bytes line up).
    let dir = Dir::new("fidelity-external");
    export(
        &dir,
        "torch_export",
        "mps",
        &["--select", "first", "--points", "10"],
    );
    std::fs::write(
        dir.path.join("same.sol"),
        solution_from_start(&dir, |n, v| Some((n.into(), v))),
    )
    .unwrap();
    let out = dir.p("mode2.onnx");
    dir.run(&[
        "apply",
        &dir.p("same.sol"),
        &model("torch_export"),
        "-o",
        &out,
    ])
    .ok();
    let input = std::fs::read(root().join("fixtures/torch_export/model.onnx")).unwrap();
    let output = std::fs::read(&out).unwrap();
    let renamed: Vec<u8> = String::from_utf8_lossy(&input)
        .replace("model.onnx.data", "mode2.onnx.data")
        .into_bytes();
    assert_eq!(input.len(), output.len());
    assert!(
        renamed == output || String::from_utf8_lossy(&output) == String::from_utf8_lossy(&renamed),
        "model differs beyond the data file name"
    );
    assert_eq!(
        std::fs::read(root().join("fixtures/torch_export/model.onnx.data")).unwrap(),
        std::fs::read(dir.path.join("mode2.onnx.data")).unwrap()
    );
}

#[test]
fn manifest_is_found_beside_the_solution_and_its_absence_is_reported() {
    if !have(&["cbc"]) {
        return;
    }
    let dir = Dir::new("apply-discovery");
    let mps = export(&dir, "regression", "mps", &[]);
    dir.tool("cbc", &[&mps, "solve", "solution", "cbc.sol"])
        .ok();
    let r = dir
        .run(&[
            "apply",
            &dir.p("cbc.sol"),
            &model("regression"),
            "-o",
            &dir.p("p.onnx"),
        ])
        .code_is(0);
    r.check(
        r.stdout().contains("verified"),
        "found the manifest beside the solution",
    );
    r.check(
        r.stdout().contains("manifest   ") && r.stdout().contains("the only manifest"),
        "says which manifest it used, and why",
    );
    std::fs::remove_file(dir.path.join("layer.mps.gdmilp.json")).unwrap();
    // CBC leaves out zeros: without the manifest only --force patches.
    let (sol, m, q) = (dir.p("cbc.sol"), model("regression"), dir.p("q.onnx"));
    let r = dir.run(&["apply", &sol, &m, "-o", &q]).code_is(2);
    r.check(r.stderr().contains("--manifest"), "asks for the manifest");
    let forced = ["apply", &sol, &m, "-o", &q, "--force"];
    let r = dir.run(&forced).code_is(3);
    r.check(
        r.stdout().contains("verification skipped"),
        "says verification was skipped",
    );
    r.check(dir.path.join("q.onnx").is_file(), "still patched by name");
}

#[test]
fn a_solution_worse_than_the_incumbent_is_refused_unless_forced() {
    let dir = Dir::new("apply-worse");
    export(&dir, "regression", "mps", &[]);
    // Every weight at the top of its box: feasible, and much worse.
    let sol = solution_from_start(&dir, |n, v| {
        Some((
            n.into(),
            if n.starts_with("w_") || n.starts_with("b_") {
                v + 0.05
            } else {
                v
            },
        ))
    });
    std::fs::write(dir.path.join("worse.sol"), sol).unwrap();
    let out = dir.p("worse.onnx");
    let r = dir
        .run(&[
            "apply",
            &dir.p("worse.sol"),
            &model("regression"),
            "-o",
            &out,
        ])
        .code_is(1);
    r.check(
        r.stderr().contains("worse than the current weights")
            && !std::path::Path::new(&out).exists(),
        "refused, nothing written",
    );
    dir.run(&[
        "apply",
        &dir.p("worse.sol"),
        &model("regression"),
        "-o",
        &out,
        "--force",
    ])
    .code_is(3);
    assert!(std::path::Path::new(&out).is_file());
}

#[test]
fn committed_solver_samples_parse_and_verify() {
    // fixtures/solutions/<solver>/: real files from each solver on one
    // export (fixtures/solutions/README.md has the commands).
    let base = root().join("fixtures/solutions");
    let man = base.join("layer.mps.gdmilp.json");
    let mut seen = 0;
    for entry in std::fs::read_dir(&base).unwrap() {
        let p = entry.unwrap().path();
        if !p.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&p).unwrap() {
            let f = f.unwrap().path();
            // layer.sol, layer.json, layer.txt: the samples of the export
            // above; other files test the readers (unit tests).
            if f.file_stem().is_some_and(|e| e == "layer") {
                let dir = Dir::new(&format!(
                    "sample-{}-{}",
                    p.file_name().unwrap().to_string_lossy(),
                    f.file_name().unwrap().to_string_lossy()
                ));
                let r = dir
                    .run(&[
                        "apply",
                        f.to_str().unwrap(),
                        "fixtures/digits/model.onnx",
                        "--manifest",
                        man.to_str().unwrap(),
                        "-o",
                        &dir.p("p.onnx"),
                        "--json",
                    ])
                    .code_is(0);
                r.check(r.json()["verified"] == true, "sample verifies");
                seen += 1;
            }
        }
    }
    assert!(
        seen >= 9,
        "expected samples from at least nine solver formats, found {seen}"
    );
}

#[test]
fn a_closed_stdout_does_not_stop_apply_from_writing() {
    // `gdmilp apply … | head -1`: the reader goes away before the report
    // ends. The model is still written and the exit code is apply's.
    let dir = Dir::new("apply-closed-stdout");
    let mps = export(&dir, "regression", "mps", &[]);
    let sol = dir.p("highs.sol");
    dir.run(&["solve", &mps, "-o", &sol, "-q"]).ok();
    let out = dir.p("p.onnx");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gdmilp"))
        .args(["apply", &sol, &model("regression"), "-o", &out])
        .current_dir(root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "exit {:?}: {stderr}", done.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(std::path::Path::new(&out).is_file(), "the model is written");
}

//! The embedded HiGHS: `solve` agrees with CBC and highspy, `tune` never
//! makes the training objective worse and improves it, and a time limit
//! still yields a verified incumbent.

use crate::util::*;

fn highs_objective(sol: &std::path::Path) -> f64 {
    let text = std::fs::read_to_string(sol).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("Objective "))
        .expect("objective line");
    line[10..].trim().parse().unwrap()
}

#[test]
fn solve_finds_the_same_optimum_as_cbc_and_highspy() {
    if !have(&["cbc", "python"]) {
        return;
    }
    let dir = Dir::new("solve-agrees");
    for (case, extra) in [
        ("digits", &["--points", "80"][..]),
        ("regression", &[][..]),
        ("relu_output", &[][..]),
    ] {
        let mps = dir.p(&format!("{case}.mps"));
        let mut args = vec!["export", "--select", "first"];
        let (m, d) = (model(case), data(case));
        args.extend([m.as_str(), d.as_str(), "-o", mps.as_str()]);
        args.extend(extra);
        dir.run(&args).ok();
        let sol = dir.p(&format!("{case}.sol"));
        dir.run(&["solve", &mps, "-o", &sol, "-q"]).ok();
        let ours = highs_objective(std::path::Path::new(&sol));
        let cbc = dir
            .tool("cbc", &[&mps, "solve", "solution", "cbc.sol"])
            .ok();
        let first = std::fs::read_to_string(dir.path.join("cbc.sol")).unwrap();
        let cbc_obj: f64 = first
            .lines()
            .next()
            .unwrap()
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        cbc.check(
            close(ours, cbc_obj, 1e-6),
            &format!("{case}: HiGHS {ours} vs CBC {cbc_obj}"),
        );
        let code = format!("import highspy\nh=highspy.Highs()\nh.setOptionValue('output_flag',False)\nh.readModel({mps:?})\nh.run()\nprint(h.getInfo().objective_function_value)");
        let py = dir.tool(&python(), &["-c", &code]).ok();
        let hp: f64 = py.stdout().trim().lines().last().unwrap().parse().unwrap();
        py.check(
            close(ours, hp, 1e-6),
            &format!("{case}: embedded {ours} vs highspy {hp}"),
        );
    }
}

#[test]
fn solve_reads_gzip_and_lp_and_uses_the_mip_start() {
    let dir = Dir::new("solve-formats");
    for ext in ["lp", "mps.gz", "lp.gz"] {
        let f = dir.p(&format!("l.{ext}"));
        dir.run(&[
            "export",
            &model("digits"),
            &data("digits"),
            "-o",
            &f,
            "--points",
            "50",
        ])
        .ok();
        let r = dir.run(&["solve", &f, "-o", &dir.p("s.sol")]).ok();
        r.check(
            r.stderr().contains("MIP start from"),
            "the start beside the model is used",
        );
        r.check(r.stderr().contains("Optimal"), "solved");
    }
}

fn tune_report(dir: &Dir, case: &str, extra: &[&str]) -> serde_json::Value {
    let rep = dir.p(&format!("{case}.json"));
    let out = dir.p(&format!("{case}.onnx"));
    let mut args = vec!["tune", "-q"];
    let (m, d) = (model(case), data(case));
    args.extend([
        m.as_str(),
        d.as_str(),
        "-o",
        out.as_str(),
        "--report",
        rep.as_str(),
    ]);
    args.extend(extra);
    dir.run(&args).ok();
    read_json(std::path::Path::new(&rep))
}

#[test]
fn tune_never_makes_the_training_objective_worse_and_improves_it() {
    let dir = Dir::new("tune");
    // A radius given: each sweep runs as asked, without tune's
    // cross-validated check (tests/integration/box.rs tests that).
    for (case, extra) in [
        ("regression", &["--sweeps", "3", "--radius", "0.5x"][..]),
        ("relu_output", &["--sweeps", "2", "--radius", "0.5x"][..]),
        (
            "digits",
            &["--sweeps", "2", "--time-limit", "30", "--radius", "0.5x"][..],
        ),
        (
            "torch_export",
            &["--sweeps", "2", "--time-limit", "30", "--radius", "0.5x"][..],
        ),
    ] {
        let rep = tune_report(&dir, case, extra);
        let sweeps = rep["sweeps"].as_array().unwrap();
        for s in sweeps {
            let (b, a) = (
                s["loss_before"].as_f64().unwrap(),
                s["loss_after"].as_f64().unwrap(),
            );
            assert!(
                a <= b || s["kept"] == false,
                "{case}: sweep made it worse: {s}"
            );
        }
        let first = &sweeps[0];
        assert!(
            first["kept"] == true,
            "{case}: the first sweep improves: {first}"
        );
        assert!(first["loss_after"].as_f64().unwrap() < first["loss_before"].as_f64().unwrap());
        let (tb, ta) = (&rep["train_before"], &rep["train_after"]);
        match (tb["accuracy"].as_f64(), ta["accuracy"].as_f64()) {
            (Some(x), Some(y)) => assert!(y > x, "{case}: accuracy {x} → {y}"),
            _ => assert!(
                ta["mae"].as_f64().unwrap() < tb["mae"].as_f64().unwrap(),
                "{case}: MAE falls"
            ),
        }
        // The written model is what the report says.
        let r = dir
            .run(&[
                "eval",
                &dir.p(&format!("{case}.onnx")),
                &data(case),
                "--json",
            ])
            .ok();
        r.check(
            r.json() == *ta,
            "eval of the tuned model matches the report",
        );
    }
}

#[test]
fn a_time_limit_still_yields_a_verified_incumbent() {
    let dir = Dir::new("tune-time-limit");
    // A large box on all 300 digits: far from solved in 0.2 s.
    let rep = tune_report(&dir, "digits", &["--radius", "1", "--time-limit", "0.2"]);
    let s = &rep["sweeps"][0];
    assert_eq!(s["status"], "Time limit reached", "{s}");
    assert!(
        s["loss_after"].as_f64().unwrap() <= s["loss_before"].as_f64().unwrap(),
        "{s}"
    );
    // And the solve command writes that incumbent, which apply verifies.
    let f = dir.p("l.mps");
    dir.run(&[
        "export",
        &model("digits"),
        &data("digits"),
        "-o",
        &f,
        "--radius",
        "1",
    ])
    .ok();
    dir.run(&[
        "solve",
        &f,
        "-o",
        &dir.p("s.sol"),
        "--time-limit",
        "0.2",
        "-q",
    ])
    .ok();
    let r = dir.run(&[
        "apply",
        &dir.p("s.sol"),
        &model("digits"),
        "-o",
        &dir.p("p.onnx"),
        "--json",
    ]);
    let j = r.json();
    r.check(
        j["status"].as_str().unwrap().contains("Time limit"),
        "status says time limit",
    );
    r.check(r.code() == 0 || r.code() == 3, "written");
    r.check(
        j["verification"]["recomputed_loss"].as_f64()
            <= j["verification"]["incumbent_loss"].as_f64(),
        "no worse",
    );
}

#[test]
fn tune_keep_leaves_each_sweeps_files_and_the_first_applies_to_the_input() {
    let dir = Dir::new("tune-keep");
    let keep = dir.p("kept");
    tune_report(
        &dir,
        "regression",
        &["--sweeps", "2", "--keep", &keep, "--radius", "0.5x"],
    );
    let mut files: Vec<String> = std::fs::read_dir(&keep)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "sweep1.mps",
            "sweep1.mps.cbc.mst",
            "sweep1.mps.gdmilp.json",
            "sweep1.mps.mst",
            "sweep1.sol",
            "sweep2.mps",
            "sweep2.mps.cbc.mst",
            "sweep2.mps.gdmilp.json",
            "sweep2.mps.mst",
            "sweep2.sol"
        ]
    );
    // Sweep 1 was exported from the input model, so its solution applies to it.
    let r = dir
        .run(&[
            "apply",
            &format!("{keep}/sweep1.sol"),
            &model("regression"),
            "--manifest",
            &format!("{keep}/sweep1.mps.gdmilp.json"),
            "-o",
            &dir.p("p.onnx"),
            "--json",
        ])
        .code_is(0);
    r.check(r.json()["verified"] == true, "kept sweep verifies");
}

#[test]
fn tune_defaults_on_a_relu_classifier_start_from_the_current_weights() {
    // tune's zero-one start is the hinge LP's weights, which is not
    // modelled after a ReLU: the default must fall back, not refuse.
    let dir = Dir::new("tune-relu-default");
    let out = dir.p("t.onnx");
    let r = dir
        .run(&[
            "tune",
            &model("relu_classifier"),
            &data("relu_classifier"),
            "-o",
            &out,
        ])
        .ok();
    r.check(
        r.stderr()
            .contains("after a ReLU there is no hinge LP to start from"),
        "the fallback is said",
    );
    assert!(std::path::Path::new(&out).is_file());
}

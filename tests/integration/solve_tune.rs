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
    // A large box on all 300 digits: not solved in 0.45 s (about 0.5 s
    // here), of which loading and what is kept for the end take some. The
    // limit bounds the whole command: on a loaded machine loading alone
    // may spend it, and then the weights stay and the stop says so.
    let rep = tune_report(&dir, "digits", &["--radius", "1", "--time-limit", "0.45"]);
    match rep["sweeps"].as_array().unwrap().first() {
        Some(s) => {
            assert!(
                s["loss_after"].as_f64().unwrap() <= s["loss_before"].as_f64().unwrap(),
                "{s}"
            );
        }
        None => assert!(
            rep["stopped"].as_str().unwrap().contains("time limit"),
            "{rep}"
        ),
    }
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

/// Seconds a command may run past its --time-limit here: the budget is the
/// user's wall clock, but steps no clock interrupts (ONNX Runtime's pass,
/// building a problem, HiGHS's setup) end when they end, and this machine
/// may be shared. Generous on purpose: this is no speed test, only that the
/// limit bounds the whole command (before it did, this run took one limit
/// per fold of every radius of the path: tens of seconds).
const SLACK: f64 = 20.0;

#[test]
fn a_tiny_time_limit_bounds_the_whole_command_and_a_model_is_written() {
    let dir = Dir::new("tune-tiny-limit");
    let (m, d) = (model("digits"), data("digits"));
    let (out, rep) = (dir.p("t.onnx"), dir.p("t.json"));
    // zero-one auto: up to nine radii of five fold MILPs, one at a time.
    let clock = std::time::Instant::now();
    let r = dir.run(&[
        "tune",
        &m,
        &d,
        "-o",
        &out,
        "--report",
        &rep,
        "--loss",
        "zero-one",
        "--radius",
        "auto",
        "--threads",
        "1",
        "--time-limit",
        "1",
        "-q",
    ]);
    let wall = clock.elapsed().as_secs_f64();
    r.check(r.code() == 0, "exit 0: a model is written at the deadline");
    r.check(wall < 1.0 + SLACK, &format!("{wall} s for --time-limit 1"));
    r.check(
        r.stderr().contains("budget   time limit 1 s"),
        "the split is printed",
    );
    let j = read_json(std::path::Path::new(&rep));
    assert_eq!(j["budget"]["limit"].as_f64(), Some(1.0), "{j}");
    // The model written is a valid one: the tuned one, or the current
    // weights kept.
    let e = dir.run(&["eval", &out, &d]).ok();
    e.check(e.stdout().contains("accuracy"), "the written model runs");
    // solve: the incumbent at the deadline is written (exit 0).
    let f = dir.p("l.mps");
    dir.run(&["export", &m, &d, "-o", &f, "--radius", "1"]).ok();
    let clock = std::time::Instant::now();
    let s = dir.run(&[
        "solve",
        &f,
        "-o",
        &dir.p("s.sol"),
        "--time-limit",
        "0.5",
        "-q",
    ]);
    let wall = clock.elapsed().as_secs_f64();
    s.check(s.code() == 0, "exit 0 with the incumbent");
    s.check(
        wall < 0.5 + SLACK,
        &format!("{wall} s for --time-limit 0.5"),
    );
    assert!(dir.listing().iter().any(|f| f == "s.sol"));
}

#[test]
fn no_time_limit_is_the_documented_default() {
    let dir = Dir::new("tune-default-limit");
    let r = dir.run(&["tune", "--help"]).ok();
    r.check(
        r.stdout().contains("default: 300"),
        "--help states the default",
    );
    let (m, d) = (model("digits"), data("digits"));
    let rep = dir.p("t.json");
    dir.run(&[
        "tune",
        &m,
        &d,
        "-o",
        &dir.p("t.onnx"),
        "--report",
        &rep,
        "-q",
    ])
    .ok();
    let j = read_json(std::path::Path::new(&rep));
    assert_eq!(j["budget"]["limit"].as_f64(), Some(300.0), "{j}");
}

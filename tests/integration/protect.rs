//! `--protect`: the rows keep every protected point right, apply checks
//! each point in ONNX Runtime (and refuses a model that loses one), tune's
//! row generation reaches the optimum of the file that holds every row,
//! and bad protect files fail cleanly.

use crate::util::*;

const PROTECT: &str = "fixtures/digits/protect.npz";

/// Exports the digits fixture's 32 misclassified points to `NAME.mps`
/// in the paper's box, 0.05 (with `extra` flags), and solves it with the
/// embedded HiGHS; the solution's path.
fn export_solve(dir: &Dir, name: &str, extra: &[&str]) -> String {
    let (m, d) = (model("digits"), data("digits"));
    let mps = dir.p(&format!("{name}.mps"));
    let mut args = vec!["export", &m, &d, "--select", "misclassified"];
    args.extend(["--points", "32", "--radius", "0.05", "-o", &mps]);
    args.extend(extra);
    dir.run(&args).ok();
    let sol = dir.p(&format!("{name}.sol"));
    dir.run(&["solve", &mps, "-o", &sol, "-q"]).ok();
    sol
}

/// Point `k` of the protect file alone, as a new .npz in `dir`.
fn one_point(dir: &Dir, k: usize) -> String {
    let mut npz =
        ndarray_npy::NpzReader::new(std::fs::File::open(root().join(PROTECT)).unwrap()).unwrap();
    let x: ndarray::Array2<f32> = npz.by_name("x").unwrap();
    let y: ndarray::Array1<i64> = npz.by_name("y").unwrap();
    let s = ndarray::s![k..k + 1];
    write_xy(
        &dir.path.join(format!("point{k}.npz")),
        &x.slice(ndarray::s![k..k + 1, ..]).to_owned(),
        &y.slice(s).to_owned(),
    )
}

fn accuracy(dir: &Dir, model: &str, data: &str) -> f64 {
    let r = dir.run(&["eval", model, data, "--json"]).ok();
    r.json()["accuracy"].as_f64().unwrap()
}

#[test]
fn a_point_the_unconstrained_sweep_breaks_stays_right_with_protect() {
    let dir = Dir::new("protect_keeps_points");
    let free = export_solve(&dir, "free", &[]);
    let kept = export_solve(&dir, "kept", &["--protect", PROTECT]);
    let man = dir.p("kept.mps.gdmilp.json");
    let m = model("digits");
    // The unconstrained answer, held to the protected export's promise:
    // refused, with the count and the first points it loses.
    let free_onnx = dir.p("free.onnx");
    let args = ["apply", &free, &m, "-o", &free_onnx, "--manifest", &man];
    let r = dir.run(&args).code_is(1);
    let err = r.stderr();
    r.check(
        err.contains("protected points of"),
        "the refusal names the protected points",
    );
    r.check(
        !std::path::Path::new(&free_onnx).exists(),
        "nothing written",
    );
    let first: usize = err
        .split("(first: ")
        .nth(1)
        .and_then(|rest| rest.split([',', ')']).next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no first lost point in {err}"));
    // Forced, it is written with the caveat exit code.
    let forced = [&args[..], &["--force"]].concat();
    dir.run(&forced).code_is(3);
    // The protected answer keeps every protected point in ONNX Runtime.
    let kept_onnx = dir.p("kept.onnx");
    let r = dir
        .run(&[
            "apply",
            &kept,
            &m,
            "-o",
            &kept_onnx,
            "--manifest",
            &man,
            "--json",
        ])
        .code_is(0);
    let j = r.json();
    r.check(
        j["protect"]["lost"] == serde_json::json!([]),
        "no point lost",
    );
    r.check(
        j["protect"]["protected"].as_u64().unwrap() > 500,
        "most points are protected",
    );
    // The point the unconstrained sweep broke: right now and with the
    // protected answer, wrong with the unconstrained one.
    let point = one_point(&dir, first);
    assert_eq!(
        accuracy(&dir, &m, &point),
        1.0,
        "point {first} is right now"
    );
    assert_eq!(
        accuracy(&dir, &free_onnx, &point),
        0.0,
        "the free sweep breaks {first}"
    );
    assert_eq!(
        accuracy(&dir, &kept_onnx, &point),
        1.0,
        "--protect keeps {first}"
    );
    // The manifest records the promise.
    let pr = &read_json(&dir.path.join("kept.mps.gdmilp.json"))["protect"];
    assert_eq!(pr["counts"]["points"], 1000);
    assert_eq!(
        pr["counts"]["protected"].as_u64().unwrap()
            + pr["counts"]["not_protected"].as_u64().unwrap(),
        1000
    );
    assert_eq!(
        pr["indices"].as_array().unwrap().len() as u64,
        pr["counts"]["protected"].as_u64().unwrap()
    );
}

#[test]
fn solve_and_tune_by_row_generation_reach_the_optimum_of_the_file_with_every_row() {
    let dir = Dir::new("protect_tune");
    let sol = export_solve(&dir, "all", &["--protect", PROTECT]);
    // highspy solves the whole file, every protected row in it.
    let (mps, start) = (dir.p("all.mps"), dir.p("all.mps.mst"));
    let file_optimum = highspy(&mps, &start, true);
    let text = std::fs::read_to_string(&sol).unwrap();
    let solved = text
        .lines()
        .find_map(|l| l.strip_prefix("Objective "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no objective in {sol}"));
    assert!(
        close(solved, file_optimum, 1e-9),
        "solve: {solved} vs {file_optimum}"
    );
    let r = dir.run(&["solve", &mps, "-o", &dir.p("again.sol")]).ok();
    r.check(
        r.stderr().contains("protect  round 1"),
        "solve reports its rounds",
    );
    let (m, d) = (model("digits"), data("digits"));
    let (out, report) = (dir.p("tuned.onnx"), dir.p("report.json"));
    let args = [
        "tune",
        &m,
        &d,
        "--select",
        "misclassified",
        "--points",
        "32",
    ];
    let r = dir
        .run(
            &[
                &args[..],
                // export_solve's box
                &["--radius", "0.05", "--protect", PROTECT, "-o", &out],
                // (-q would leave the rounds out with the solver's log)
                &["--report", &report],
            ]
            .concat(),
        )
        .ok();
    let rep = read_json(std::path::Path::new(&report));
    let s = &rep["sweeps"][0];
    r.check(s["optimal"] == true, "the sweep is optimal");
    r.check(
        close(s["loss_solver"].as_f64().unwrap(), file_optimum, 1e-9),
        "row generation reaches the optimum of the file with every protected row",
    );
    r.check(s["protect"]["lost"] == 0, "no protected point lost");
    r.check(
        s["protect"]["rounds"]["rows"].as_u64().unwrap() < s["protect"]["rows"].as_u64().unwrap(),
        "row generation needed fewer rows than the file holds",
    );
    // -q leaves out each round's line; the sweep's line counts them.
    r.check(
        r.stdout().contains(" rounds, 0 lost"),
        "the rounds are reported",
    );
}

/// Runs `export --protect FILE`: exit 2, one line naming the file and
/// `needle`, and no output file.
fn refused(dir: &Dir, protect: &str, needle: &str) {
    let (m, d) = (model("digits"), data("digits"));
    let out = dir.p("bad.mps");
    let r = dir
        .run(&["export", &m, &d, "--protect", protect, "-o", &out])
        .code_is(2);
    let err = r.stderr();
    r.check(err.lines().count() == 1, "one line");
    r.check(err.contains(protect) && err.contains(needle), needle);
    r.check(
        !r.listing.iter().any(|f| f.starts_with("bad.mps")),
        "nothing written",
    );
}

#[test]
fn a_protect_file_of_the_wrong_width_or_without_a_key_is_refused() {
    let dir = Dir::new("protect_bad_files");
    let wide = write_xy(
        &dir.path.join("wide.npz"),
        &ndarray::Array2::<f32>::zeros((3, 65)),
        &ndarray::Array1::<i64>::zeros(3),
    );
    refused(&dir, &wide, "expects input");
    let mut w =
        ndarray_npy::NpzWriter::new(std::fs::File::create(dir.path.join("nox.npz")).unwrap());
    w.add_array("inputs_x", &ndarray::Array2::<f32>::zeros((3, 64)))
        .unwrap();
    w.add_array("y", &ndarray::Array1::<i64>::zeros(3)).unwrap();
    w.finish().unwrap();
    refused(&dir, &dir.p("nox.npz"), "no array 'x'");
    let label = write_xy(
        &dir.path.join("label.npz"),
        &ndarray::Array2::<f32>::zeros((3, 64)),
        &ndarray::Array1::<i64>::from(vec![0, 1, 12]),
    );
    refused(&dir, &label, "label 12 of point 2 is out of range");
}

#[test]
fn a_protect_file_changed_after_export_is_refused_by_apply() {
    let dir = Dir::new("protect_changed");
    let mine = dir.p("mine.npz");
    std::fs::copy(root().join(PROTECT), &mine).unwrap();
    let sol = export_solve(&dir, "layer", &["--protect", &mine]);
    let mut npz = ndarray_npy::NpzReader::new(std::fs::File::open(&mine).unwrap()).unwrap();
    let x: ndarray::Array2<f32> = npz.by_name("x").unwrap();
    let mut y: ndarray::Array1<i64> = npz.by_name("y").unwrap();
    y[0] = (y[0] + 1) % 10;
    write_xy(std::path::Path::new(&mine), &x, &y);
    let out = dir.p("out.onnx");
    let r = dir
        .run(&["apply", &sol, &model("digits"), "-o", &out])
        .code_is(2);
    let err = r.stderr();
    r.check(err.lines().count() == 1, "one line");
    r.check(
        err.contains("mine.npz: has changed since the export"),
        "names the file and why",
    );
    r.check(!std::path::Path::new(&out).exists(), "nothing written");
}

#[test]
fn regression_and_relu_heads_keep_every_protected_point() {
    let dir = Dir::new("protect_heads");
    // (case, loss): a linear regression output, a ReLU regression output
    // (the lower row only where it can bind), a ReLU classifier (the zero
    // class is one more margin). Each protects its own data.
    for (case, loss) in [
        ("regression", "l1"),
        ("relu_output", "l1"),
        ("relu_classifier", "zero-one"),
    ] {
        let (m, d) = (model(case), data(case));
        let mps = dir.p(&format!("{case}.mps"));
        let args = [
            "export",
            &m,
            &d,
            "--loss",
            loss,
            "--protect",
            &d,
            "-o",
            &mps,
            "--select",
            "first",
            "--points",
            "40",
        ];
        let r = dir.run(&args).ok();
        r.check(
            r.stderr().contains("rows remain after presolve"),
            "protect counts",
        );
        let sol = dir.p(&format!("{case}.sol"));
        dir.run(&["solve", &mps, "-o", &sol, "-q"]).ok();
        let out = dir.p(&format!("{case}.onnx"));
        let r = dir
            .run(&["apply", &sol, &m, "-o", &out, "--json"])
            .code_is(0);
        let j = r.json();
        r.check(
            j["protect"]["lost"] == serde_json::json!([]),
            "no point lost",
        );
        let protected = j["protect"]["protected"].as_u64().unwrap();
        r.check(protected > 0, "points are protected");
    }
}

/// apply looks for the data and protect files beside the manifest first:
/// same-named other files where apply runs (the paths export recorded,
/// relative to its own directory) must not make it say "has changed".
#[test]
fn apply_takes_the_files_beside_the_manifest_over_same_named_ones_where_it_runs() {
    let dir = Dir::new("protect_beside");
    let bin = env!("CARGO_BIN_EXE_gdmilp");
    let (run, other) = (dir.path.join("run"), dir.path.join("other/run"));
    std::fs::create_dir_all(&run).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    let copy = |from: &str, to: &std::path::Path| std::fs::copy(root().join(from), to).unwrap();
    copy(&model("digits"), &run.join("model.onnx"));
    copy(&data("digits"), &run.join("data.npz"));
    copy(PROTECT, &run.join("keep.npz"));
    // Decoys under the same relative names, where apply runs.
    copy(&data("tiny_classification"), &other.join("data.npz"));
    copy(&data("tiny_classification"), &other.join("keep.npz"));
    let export = [
        "export",
        "run/model.onnx",
        "run/data.npz",
        "--select",
        "misclassified",
        "--points",
        "32",
        "-o",
        "run/l.mps",
        "--protect",
        "run/keep.npz",
    ];
    dir.tool(bin, &export).ok();
    dir.tool(bin, &["solve", "run/l.mps", "-o", "run/l.sol", "-q"])
        .ok();
    let abs = |rel: &str| dir.p(rel);
    let out = std::process::Command::new(bin)
        .args(["apply", &abs("run/l.sol"), &abs("run/model.onnx")])
        .args(["-o", &abs("run/patched.onnx")])
        .current_dir(dir.path.join("other"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "apply from other/: {err}");
    assert!(dir.path.join("run/patched.onnx").is_file());
}

/// `--warm-start hinge` with `--protect`: the hinge LP holds no protected
/// row, so its weights usually give no feasible start; export says why.
#[test]
fn a_hinge_warm_start_that_breaks_protected_rows_says_so() {
    let dir = Dir::new("protect_warm_start");
    let (m, d, mps) = (model("digits"), data("digits"), dir.p("w.mps"));
    let mut args = vec!["export", &m, &d, "--select", "misclassified"];
    args.extend(["--points", "32", "-o", &mps, "--protect", PROTECT]);
    args.extend(["--warm-start", "hinge"]);
    let r = dir.run(&args).ok();
    let all = r.stdout() + &r.stderr();
    r.check(
        all.contains("gave no feasible start (its weights may break the protected rows"),
        "says why the hinge start is not used",
    );
}

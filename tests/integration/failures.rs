//! The failure paths of issue #12, one test (or more) per numbered case:
//! nothing lost (a failed run leaves the previous files exactly as they
//! were, and no temporary file), nothing mixed (an export's files appear
//! together; a manifest belongs to its file), nothing falsely verified
//! (apply uses the manifest of the solution's export, and says which).
//! A small tmpfs stands in for a full disk; where it cannot be mounted
//! (not root), those tests say so and skip. Case 1 (apply and the input's
//! external data file) is tested with the ONNX code.

use crate::apply::solution_from_start;
use crate::util::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

/// Every file under `dir` (hidden ones too) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = if p.is_file() {
            std::fs::read(&p).unwrap()
        } else {
            b"<dir>".to_vec()
        };
        m.insert(name, bytes);
    }
    m
}

/// A small tmpfs mounted in `dir`, unmounted when dropped.
struct Tmpfs {
    path: std::path::PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Dir, size: &str) -> Option<Tmpfs> {
        let path = dir.path.join("full");
        std::fs::create_dir_all(&path).unwrap();
        let opt = format!("size={size}");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opt, "tmpfs"])
            .arg(&path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a {size} tmpfs here (needs root) to fill a disk");
            return None;
        }
        Some(Tmpfs { path })
    }

    fn p(&self, name: &str) -> String {
        self.path.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

/// Exports tiny_regression to `out` with `extra` options.
fn export(dir: &Dir, out: &str, extra: &[&str]) -> Run {
    export_case(dir, "tiny_regression", out, extra)
}

/// Exports fixture `case` to `out` with `extra` options.
fn export_case(dir: &Dir, case: &str, out: &str, extra: &[&str]) -> Run {
    let (m, d) = (model(case), data(case));
    let mut args = vec!["export", &m, &d, "-o", out];
    args.extend(extra);
    dir.run(&args)
}

/// A failed command: exit 2, one error line containing every needle.
fn fails(r: &Run, needles: &[&str]) {
    let err = r.stderr();
    r.check(r.code() == 2, "exit code 2");
    r.check(
        err.lines().count() == 1 && err.starts_with("gdmilp: "),
        "one error line",
    );
    r.check(!err.contains("panicked"), "no panic");
    for n in needles {
        r.check(err.contains(n), &format!("the error says {n:?}"));
    }
}

/// Runs gdmilp with stdout going to /dev/full.
fn run_into_full_stdout(args: &[&str]) -> std::process::Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_gdmilp"))
        .args(args)
        .current_dir(root())
        .stdout(full)
        .output()
        .unwrap()
}

// Case 2: solve on a full disk exits 2 and leaves no (truncated) file.
#[test]
fn solve_on_a_full_disk_fails_and_leaves_nothing() {
    let dir = Dir::new("fail-solve-full");
    let mps = dir.p("layer.mps");
    export(&dir, &mps, &[]).ok();
    let Some(full) = Tmpfs::mount(&dir, "4k") else {
        return;
    };
    let r = dir.run(&[
        "solve",
        &mps,
        "-o",
        &full.p("layer.sol"),
        "-q",
        "--no-start",
    ]);
    fails(&r, &["layer.sol", "cannot write", "No space left"]);
    assert!(
        snapshot(&full.path).is_empty(),
        "nothing left on the full disk"
    );
}

// Case 3: a corrupt or old-format manifest beside the solution is an error
// naming it, not a silent skip.
#[test]
fn an_unreadable_manifest_candidate_is_an_error_naming_it() {
    let dir = Dir::new("fail-manifest-corrupt");
    let mps = dir.p("layer.mps");
    export(&dir, &mps, &[]).ok();
    dir.run(&["solve", &mps, "-o", &dir.p("layer.sol"), "-q"])
        .ok();
    let apply = |out: &str| {
        let (sol, m, o) = (dir.p("layer.sol"), model("tiny_regression"), dir.p(out));
        dir.run(&["apply", &sol, &m, "-o", &o])
    };
    std::fs::write(dir.path.join("junk.mps.gdmilp.json"), "{ not json").unwrap();
    fails(
        &apply("a.onnx"),
        &[
            "junk.mps.gdmilp.json",
            "not a gdmilp manifest",
            "--manifest",
        ],
    );
    let man = std::fs::read_to_string(dir.path.join("layer.mps.gdmilp.json")).unwrap();
    let old = man.replace("\"format_version\": 4", "\"format_version\": 3");
    std::fs::write(dir.path.join("junk.mps.gdmilp.json"), old).unwrap();
    fails(
        &apply("b.onnx"),
        &["junk.mps.gdmilp.json", "format 3", "export again"],
    );
    std::fs::remove_file(dir.path.join("junk.mps.gdmilp.json")).unwrap();
    let r = apply("c.onnx").code_is(0);
    r.check(
        r.stdout()
            .contains(&format!("manifest   {}", dir.p("layer.mps.gdmilp.json"))),
        "prints the manifest it used",
    );
}

// Case 3: layer.v2.sol belongs to layer.v2.mps, not to layer.mps (the old
// lookup compared names up to the first dot and took layer's manifest,
// whose box is smaller).
#[test]
fn a_solution_is_matched_to_the_manifest_named_exactly_like_it() {
    let dir = Dir::new("fail-manifest-names");
    export(&dir, &dir.p("layer.mps"), &["--radius", "0.001"]).ok();
    let v2 = dir.p("layer.v2.mps");
    export(&dir, &v2, &["--radius", "0.2"]).ok();
    let sol = dir.p("layer.v2.sol");
    dir.run(&["solve", &v2, "-o", &sol, "-q"]).ok();
    let r = dir
        .run(&[
            "apply",
            &sol,
            &model("tiny_regression"),
            "-o",
            &dir.p("p.onnx"),
        ])
        .code_is(0);
    let used = format!("manifest   {}.gdmilp.json (named like the solution)", v2);
    r.check(r.stdout().contains(&used), "used layer.v2's manifest");
    r.check(r.stdout().contains("verified"), "and verified against it");
}

// Case 3: a lone manifest not named like the solution is used only when its
// columns and box accept the solution.
#[test]
fn a_lone_manifest_that_does_not_accept_the_solution_is_refused() {
    let dir = Dir::new("fail-manifest-lone");
    let other = Dir::new("fail-manifest-lone-other");
    let wide = other.p("wide.mps");
    export(&other, &wide, &["--radius", "0.2", "--loss", "l1"]).ok();
    dir.run(&["solve", &wide, "-o", &dir.p("sol.txt"), "-q"])
        .ok();
    export(
        &dir,
        &dir.p("narrow.mps"),
        &["--radius", "0.001", "--loss", "l1"],
    )
    .ok();
    let r = dir.run(&[
        "apply",
        &dir.p("sol.txt"),
        &model("tiny_regression"),
        "-o",
        &dir.p("p.onnx"),
    ]);
    fails(
        &r,
        &[
            "sol.txt",
            "narrow.mps.gdmilp.json",
            "does not accept",
            "outside the box",
        ],
    );
    assert!(!dir.path.join("p.onnx").exists());
}

// Case 3: a manifest whose MILP file (still beside it) carries another
// export's token does not describe that file.
#[test]
fn a_manifest_whose_file_was_rewritten_by_another_export_is_refused() {
    let dir = Dir::new("fail-manifest-token");
    let mps = dir.p("layer.mps");
    export(&dir, &mps, &["--radius", "0.01"]).ok();
    let man = dir.path.join("layer.mps.gdmilp.json");
    let stale = std::fs::read(&man).unwrap();
    export(&dir, &mps, &["--radius", "0.02"]).ok();
    dir.run(&["solve", &mps, "-o", &dir.p("layer.sol"), "-q"])
        .ok();
    std::fs::write(&man, stale).unwrap();
    let r = dir.run(&[
        "apply",
        &dir.p("layer.sol"),
        &model("tiny_regression"),
        "-o",
        &dir.p("p.onnx"),
    ]);
    fails(
        &r,
        &["layer.mps.gdmilp.json", "does not describe", "export again"],
    );
}

/// Exports once (small, l1), then runs `spoil` and a second export that
/// must fail naming `needle`; the folder must be exactly as before.
fn failed_reexport_keeps_the_previous_files(name: &str, spoil: fn(&Dir) -> bool, needles: &[&str]) {
    let dir = Dir::new(name);
    let mps = dir.p("layer.mps");
    export(&dir, &mps, &["--loss", "l1"]).ok();
    if !spoil(&dir) {
        return;
    }
    let before = snapshot(&dir.path);
    let r = export(&dir, &mps, &["--loss", "l1", "--radius", "0.2"]);
    let after = snapshot(&dir.path);
    let _ = Command::new("chattr")
        .arg("-i")
        .arg(dir.path.join("layer.mps.mst"))
        .status();
    fails(&r, needles);
    r.check(
        before == after,
        "the previous files are exactly as they were",
    );
}

// Case 4: a sidecar that cannot be written is found before the work, and the
// previous export stays whole.
#[test]
fn a_reexport_whose_manifest_is_a_directory_keeps_the_previous_files() {
    failed_reexport_keeps_the_previous_files(
        "fail-reexport-dir",
        |d| {
            std::fs::remove_file(d.path.join("layer.mps.gdmilp.json")).unwrap();
            std::fs::create_dir(d.path.join("layer.mps.gdmilp.json")).unwrap();
            true
        },
        &["layer.mps.gdmilp.json", "is a directory"],
    );
}

#[test]
fn a_reexport_whose_start_is_immutable_keeps_the_previous_files() {
    failed_reexport_keeps_the_previous_files(
        "fail-reexport-immutable",
        |d| {
            let ok = Command::new("chattr")
                .arg("+i")
                .arg(d.path.join("layer.mps.mst"))
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("skipped: chattr +i is not available here (needs root)");
            }
            ok
        },
        &["layer.mps.mst", "cannot replace"],
    );
}

// Cases 4 and 5: the disk fills during a re-export: the previous files stay,
// and no temporary file is left behind.
#[test]
fn a_reexport_that_fills_the_disk_keeps_the_previous_files_and_no_temporary() {
    let dir = Dir::new("fail-reexport-full");
    let Some(full) = Tmpfs::mount(&dir, "64k") else {
        return;
    };
    let mps = full.p("layer.mps");
    export(&dir, &mps, &["--loss", "l1"]).ok();
    let before = snapshot(&full.path);
    assert_eq!(before.len(), 4, "{:?}", before.keys());
    // The regression fixture's segment files are about a megabyte.
    let r = export_case(&dir, "regression", &mps, &[]);
    fails(&r, &["layer.mps", "No space left"]);
    r.check(
        before == snapshot(&full.path),
        "previous files kept, no temporary",
    );
    for ext in ["lp", "mps.gz"] {
        let r = export_case(&dir, "regression", &full.p(&format!("big.{ext}")), &[]);
        fails(&r, &["big", "No space left"]);
        r.check(before == snapshot(&full.path), "nothing of the failed run");
    }
}

// Case 6: tune checks --report before the work: with -o naming the input,
// the input is untouched when the report cannot be written.
#[test]
fn tune_checks_its_report_path_before_replacing_the_model() {
    let dir = Dir::new("fail-tune-report");
    let m = dir.p("model.onnx");
    std::fs::copy(root().join(model("tiny_regression")), &m).unwrap();
    let before = snapshot(&dir.path);
    let d = data("tiny_regression");
    let r = dir.run(&["tune", &m, &d, "-o", &m, "--report", &dir.p("nope/r.json")]);
    fails(&r, &["nope/r.json", "cannot create"]);
    let r = dir.run(&["tune", &m, &d, "-o", &dir.p("t.onnx"), "--report", &m]);
    fails(&r, &["model.onnx", "is also an input"]);
    let r = dir.run(&["tune", &m, &d, "-o", &dir.p("t.onnx"), "--report", &d]);
    fails(&r, &["data.npz", "is also an input"]);
    assert_eq!(before, snapshot(&dir.path), "the model is untouched");
}

// Case 7: a stdout that cannot be written is exit 2 with one line, never a
// panic (exit 101); the command's file is still written.
#[test]
fn a_full_stdout_is_one_error_line_not_a_panic() {
    let dir = Dir::new("fail-stdout");
    let mps = dir.p("layer.mps");
    export(&dir, &mps, &[]).ok();
    let (sol, m, d) = (
        dir.p("layer.sol"),
        model("tiny_regression"),
        data("tiny_regression"),
    );
    let (p, t) = (dir.p("p.onnx"), dir.p("t.onnx"));
    let commands: Vec<Vec<&str>> = vec![
        vec!["inspect", &m],
        vec!["solve", &mps, "-o", &sol, "-q", "--json"],
        vec!["apply", &sol, &m, "-o", &p, "--json"],
        vec!["tune", &m, &d, "-o", &t, "-q", "--radius", "0.5x"],
    ];
    for args in commands {
        let out = run_into_full_stdout(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or_default();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            last.starts_with("gdmilp: stdout: cannot write"),
            "{args:?}: {err}"
        );
    }
    assert!(
        Path::new(&p).is_file() && Path::new(&t).is_file(),
        "files written"
    );
}

// Case 8: a CBC solution (zeros left out) without a manifest would turn
// every missing weight into 0: refused unless --manifest or --force.
#[test]
fn a_cbc_solution_without_a_manifest_is_refused_unless_forced() {
    let dir = Dir::new("fail-cbc-no-manifest");
    let sol = dir.p("cut.sol");
    std::fs::write(
        &sol,
        "Optimal - objective value 1.5\n      0 w_0_0            0.25            0\n",
    )
    .unwrap();
    let (m, out) = (model("tiny_regression"), dir.p("p.onnx"));
    let r = dir.run(&["apply", &sol, &m, "-o", &out]);
    fails(
        &r,
        &["cut.sol", "CBC", "cannot be told from a zero", "--manifest"],
    );
    assert!(!Path::new(&out).exists());
    let r = dir
        .run(&["apply", &sol, &m, "-o", &out, "--force"])
        .code_is(3);
    r.check(
        r.stdout().contains("verification skipped"),
        "forced, unverified",
    );
}

// Case 9: exports of one name in three formats keep their own sidecars, each
// manifest carrying its own file's token.
#[test]
fn exports_to_mps_lp_and_gz_of_one_name_share_no_sidecar() {
    let dir = Dir::new("fail-sidecars");
    let exts = [("mps", "0.01"), ("lp", "0.02"), ("mps.gz", "0.03")];
    for (ext, radius) in exts {
        export(&dir, &dir.p(&format!("out.{ext}")), &["--radius", radius]).ok();
    }
    assert_eq!(dir.listing().len(), 12, "{:?}", dir.listing());
    for (ext, radius) in exts {
        let file = dir.path.join(format!("out.{ext}"));
        let man = read_json(&dir.path.join(format!("out.{ext}.gdmilp.json")));
        assert_eq!(man["options"]["radius"].as_f64(), radius.parse().ok());
        let token = gdmilp::formats::tag::read(&file).unwrap();
        assert_eq!(token.as_deref(), man["token"].as_str(), "{ext}");
        let start = std::fs::read_to_string(dir.path.join(format!("out.{ext}.mst"))).unwrap();
        assert!(start.contains("w_0_0"));
    }
}

// Case 10: a second run on an output another run is writing fails at once,
// with a line saying so, and writes nothing; the lock goes with the run.
#[test]
fn a_second_export_to_a_locked_output_fails_and_writes_nothing() {
    let dir = Dir::new("fail-lock");
    let lock_path = dir.path.join(".layer.mps.gdmilp-lock");
    let lock = std::fs::File::create(&lock_path).unwrap();
    lock.try_lock().unwrap();
    let mps = dir.p("layer.mps");
    let r = export(&dir, &mps, &[]);
    fails(&r, &["layer.mps", "another gdmilp run is writing"]);
    assert_eq!(dir.listing(), [".layer.mps.gdmilp-lock"]);
    drop(lock);
    std::fs::remove_file(&lock_path).unwrap();
    export(&dir, &mps, &[]).ok();
    assert_eq!(
        dir.listing(),
        [
            "layer.mps",
            "layer.mps.cbc.mst",
            "layer.mps.gdmilp.json",
            "layer.mps.mst"
        ],
        "no lock file left"
    );
}

// Case 10: two exports started together on one output: each finishes or is
// refused by the lock, and the files left are one export's, whole.
#[test]
fn two_exports_at_once_leave_one_exports_files() {
    let dir = Dir::new("fail-race");
    let mps = dir.p("layer.mps");
    let (m, d) = (model("regression"), data("regression"));
    let spawn = |radius: &str| {
        Command::new(env!("CARGO_BIN_EXE_gdmilp"))
            .args(["export", &m, &d, "-o", &mps, "--radius", radius])
            .current_dir(root())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let runs = [("0.01", spawn("0.01")), ("0.02", spawn("0.02"))];
    let mut finished = Vec::new();
    for (radius, child) in runs {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => finished.push(radius.parse::<f64>().unwrap()),
            Some(2) => assert!(err.contains("another gdmilp run is writing"), "{err}"),
            other => panic!("exit {other:?}: {err}"),
        }
    }
    assert!(!finished.is_empty());
    let man = read_json(&dir.path.join("layer.mps.gdmilp.json"));
    let token = gdmilp::formats::tag::read(Path::new(&mps)).unwrap();
    assert_eq!(
        token.as_deref(),
        man["token"].as_str(),
        "manifest and file of one run"
    );
    assert!(finished.contains(&man["options"]["radius"].as_f64().unwrap()));
    assert_eq!(dir.listing().len(), 4, "{:?}", dir.listing());
}

// Case 11: a symlinked -o is written through: the link stays, its target
// gets the new content.
#[test]
fn a_symlinked_output_is_written_through_and_stays_a_link() {
    let dir = Dir::new("fail-symlink");
    let real = dir.path.join("real.mps");
    std::fs::write(&real, "old").unwrap();
    std::os::unix::fs::symlink("real.mps", dir.path.join("link.mps")).unwrap();
    export(&dir, &dir.p("link.mps"), &[]).ok();
    let meta = std::fs::symlink_metadata(dir.path.join("link.mps")).unwrap();
    assert!(meta.file_type().is_symlink(), "the link stays a link");
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(
        text.starts_with("NAME gdmilp-"),
        "its target holds the export"
    );
    // A link to an input is refused: writing through it would destroy it.
    let m = dir.path.join("model.onnx");
    std::fs::copy(root().join(model("tiny_regression")), &m).unwrap();
    std::os::unix::fs::symlink("model.onnx", dir.path.join("m.mps")).unwrap();
    let (d, out) = (data("tiny_regression"), dir.p("m.mps"));
    let r = dir.run(&["export", m.to_str().unwrap(), &d, "-o", &out]);
    fails(&r, &["m.mps", "is also an input"]);
}

// Case 11: arrays saved in Fortran order (numpy.asfortranarray) are read as
// the same points.
#[test]
fn a_fortran_ordered_npz_gives_the_same_result_as_c_order() {
    let dir = Dir::new("fail-fortran");
    let mut npz =
        ndarray_npy::NpzReader::new(std::fs::File::open(root().join(data("digits"))).unwrap())
            .unwrap();
    let x: ndarray::Array2<f32> = npz.by_name("x").unwrap();
    let y: ndarray::Array1<i64> = npz.by_name("y").unwrap();
    let mut f = ndarray::Array2::<f32>::zeros(ndarray::ShapeBuilder::f(x.raw_dim()));
    f.assign(&x);
    assert!(!f.is_standard_layout());
    let p = write_xy(&dir.path.join("f.npz"), &f, &y);
    let eval = |d: &str| {
        dir.run(&["eval", &model("digits"), d, "--json"])
            .ok()
            .json()
    };
    let (a, b) = (eval(&p), eval(&data("digits")));
    assert_eq!(a["accuracy"], b["accuracy"]);
    assert_eq!(a["hinge"], b["hinge"]);
}

// The lone manifest of the solution_from_start helper's folder is accepted
// when the solution fits its box (and the line says how it was chosen).
#[test]
fn a_lone_manifest_that_accepts_the_solution_is_used_and_named() {
    let dir = Dir::new("fail-manifest-lone-ok");
    export(&dir, &dir.p("layer.mps"), &[]).ok();
    let sol = solution_from_start(&dir, |n, v| Some((n.into(), v)));
    std::fs::write(dir.path.join("answer.sol"), sol).unwrap();
    let r = dir
        .run(&[
            "apply",
            &dir.p("answer.sol"),
            &model("tiny_regression"),
            "-o",
            &dir.p("p.onnx"),
        ])
        .code_is(0);
    r.check(
        r.stdout().contains("the only manifest of this model here"),
        "says so",
    );
}

#[test]
fn a_model_that_fails_in_onnx_runtime_is_one_error_line() {
    if !have(&["python"]) {
        return;
    }
    let dir = Dir::new("failures-ort-line");
    // A Reshape to a fixed [2, 3] fails in ONNX Runtime for 5 points.
    let code = "import onnx, numpy as np, sys\n\
                from onnx import helper as h, numpy_helper as nh, TensorProto as T\n\
                W = nh.from_array(np.ones((3, 2), np.float32), 'W')\n\
                B = nh.from_array(np.zeros(2, np.float32), 'B')\n\
                S = nh.from_array(np.array([2, 3], np.int64), 'S')\n\
                g = h.make_graph([h.make_node('Reshape', ['x', 'S'], ['r']),\n\
                \x20   h.make_node('MatMul', ['r', 'W'], ['m']), h.make_node('Add', ['m', 'B'], ['y'])],\n\
                \x20   'g', [h.make_tensor_value_info('x', T.FLOAT, ['N', 3])],\n\
                \x20   [h.make_tensor_value_info('y', T.FLOAT, ['N', 2])], [W, B, S])\n\
                m = h.make_model(g, opset_imports=[h.make_opsetid('', 17)])\n\
                m.ir_version = 8\n\
                onnx.save(m, sys.argv[1])\n\
                np.savez(sys.argv[2], x=np.zeros((5, 3), np.float32), y=np.zeros(5, np.int64))\n";
    dir.tool(
        &python(),
        &["-c", code, &dir.p("rs.onnx"), &dir.p("rs.npz")],
    )
    .ok();
    let r = dir
        .run(&["eval", &dir.p("rs.onnx"), &dir.p("rs.npz")])
        .code_is(2);
    let err = r.stderr();
    r.check(
        err.lines().count() == 1 && err.starts_with("gdmilp: ") && err.contains("rs.onnx"),
        "one line, gdmilp's, naming the model (not also ONNX Runtime's own log line)",
    );
    r.check(err.contains("Reshape"), "says which node failed");
}

/// With `--progress json` every stderr line is a JSON object, the failure
/// last as an `error` event: argument errors (which clap meets before the
/// flag is read), a missing file, and a run that succeeds.
#[test]
fn progress_json_keeps_every_stderr_line_json_errors_included() {
    let dir = Dir::new("progress-json");
    let events = |r: &Run| -> Vec<serde_json::Value> {
        r.stderr()
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {l}{}", r.context()))
            })
            .collect()
    };
    for args in [
        vec![
            "--progress",
            "json",
            "tune",
            "m.onnx",
            "d.npz",
            "-o",
            "t.onnx",
            "--bogus",
        ],
        vec!["--progress=json", "frobnicate"],
        vec![
            "--progress",
            "json",
            "eval",
            "m.onnx",
            "d.npz",
            "--batch-size",
            "0",
        ],
    ] {
        let r = dir.run(&args).code_is(2);
        let ev = events(&r);
        r.check(
            ev.len() == 1 && ev[0]["event"] == "error" && ev[0]["code"] == 2,
            "one error event",
        );
    }
    let missing = dir.p("missing.npz");
    let r = dir
        .run(&["--progress", "json", "eval", &model("digits"), &missing])
        .code_is(2);
    let ev = events(&r);
    let last = ev.last().unwrap();
    r.check(
        last["event"] == "error" && last["text"].as_str().unwrap().contains("missing.npz"),
        "the error names the file",
    );
    let mps = dir.p("l.mps");
    let r = dir
        .run(&[
            "--progress",
            "json",
            "export",
            &model("digits"),
            &data("digits"),
            "-o",
            &mps,
        ])
        .ok();
    let ev = events(&r);
    r.check(
        ev.iter()
            .any(|e| e["event"] == "note" && e["text"].as_str().unwrap().starts_with("wrote")),
        "export's own summary lines are note events",
    );
}

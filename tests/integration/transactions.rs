//! Outputs as a transaction (issue #23): paths that are not UTF-8, signals
//! that end a run, and `--help` / `--version` that cannot be written. The
//! fault-injection harness (tests/crash/run.py) fails or kills every system
//! call of a run; these are the cases a test of its own shows best.

use crate::util::*;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

fn gdmilp(args: &[&OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gdmilp"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// What runs leave only while they run.
fn leftovers(dir: &Dir) -> Vec<String> {
    dir.listing()
        .into_iter()
        .filter(|n| n.contains(".gdmilp-"))
        .collect()
}

#[test]
fn paths_that_are_not_utf8_are_written_read_back_and_applied() {
    let dir = Dir::new("tx-not-utf8");
    let odd = |name: &[u8]| dir.path.join(OsStr::from_bytes(name)).into_os_string();
    let (m, d, p) = (odd(b"m\xff.onnx"), odd(b"d\xff.npz"), odd(b"p\xff.npz"));
    std::fs::copy(root().join(model("regression")), &m).unwrap();
    std::fs::copy(root().join(data("regression")), &d).unwrap();
    std::fs::copy(root().join(data("regression")), &p).unwrap();
    let mps = odd(b"lay\xffer.mps");
    let o = gdmilp(&[
        "export".as_ref(),
        &m,
        &d,
        "-o".as_ref(),
        &mps,
        "--protect".as_ref(),
        &p,
    ]);
    assert!(o.status.success(), "export: {}", text(&o));
    let mut man = mps.clone();
    man.push(".gdmilp.json");
    let json = read_json(std::path::Path::new(&man));
    assert_eq!(
        json["files"]["milp"]["bytes"].as_array().map(Vec::len),
        Some(dir.path.join(&mps).as_os_str().len()),
        "{json}"
    );
    let mut sol = OsString::from(&mps);
    sol.push(".sol");
    let o = gdmilp(&["solve".as_ref(), &mps, "-o".as_ref(), &sol]);
    assert!(o.status.success(), "solve: {}", text(&o));
    let out = odd(b"out\xff.onnx");
    let o = gdmilp(&["apply".as_ref(), &sol, &m, "-o".as_ref(), &out]);
    assert!(o.status.success(), "apply: {}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("verified"),
        "{}",
        text(&o)
    );
    // --json names such a path by its bytes (it panicked after writing).
    let o = gdmilp(&[
        "apply".as_ref(),
        &sol,
        &m,
        "-o".as_ref(),
        &out,
        "--json".as_ref(),
    ]);
    assert!(o.status.success(), "apply --json: {}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["written"]["bytes"].is_array(), "{j}");
    let keep = odd(b"k\xffd");
    let tuned = odd(b"t\xff.onnx");
    let o = gdmilp(&[
        "tune".as_ref(),
        &m,
        &d,
        "-o".as_ref(),
        &tuned,
        "--radius".as_ref(),
        "0.1".as_ref(),
        "--keep".as_ref(),
        &keep,
    ]);
    assert!(o.status.success(), "tune --keep: {}", text(&o));
    assert!(std::path::Path::new(&keep)
        .join("sweep1.mps.gdmilp.json")
        .is_file());
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

/// A run waiting on its input (a MIP start that is a named pipe nobody
/// writes) holds its lock; each signal ends it, by that signal, with the
/// lock file gone.
#[test]
fn signals_remove_the_runs_own_files_before_it_ends() {
    use std::os::unix::process::ExitStatusExt;
    let dir = Dir::new("tx-signals");
    dir.run(&[
        "export",
        &model("tiny_regression"),
        &data("tiny_regression"),
        "-o",
        &dir.p("layer.mps"),
    ])
    .ok();
    let fifo = dir.p("start.mst");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let before = dir.listing();
    for (name, number) in [("TERM", 15), ("INT", 2), ("HUP", 1)] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gdmilp"))
            .args(["solve", &dir.p("layer.mps"), "-o", &dir.p("s.sol")])
            .args(["--start", &fifo])
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lock = dir.path.join(".s.sol.gdmilp-lock");
        let t0 = std::time::Instant::now();
        while !lock.exists() {
            assert!(t0.elapsed().as_secs() < 30, "no lock file after 30 s");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // Then it blocks opening the pipe.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let sent = Command::new("kill")
            .args([format!("-{name}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(number), "SIG{name}: {status:?}");
        assert_eq!(dir.listing(), before, "SIG{name} left files");
    }
}

#[test]
fn help_and_version_that_cannot_be_written_fail() {
    for flag in ["--help", "--version"] {
        let o = Command::new(env!("CARGO_BIN_EXE_gdmilp"))
            .arg(flag)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(2), "{flag}: {err}");
        assert!(
            err.lines().count() == 1 && err.starts_with("gdmilp: stdout: cannot write"),
            "{flag}: {err}"
        );
        // And to a closed pipe, as `gdmilp --help | head -0`: not an error.
        let o = Command::new(env!("CARGO_BIN_EXE_gdmilp"))
            .arg(flag)
            .output()
            .unwrap();
        assert!(o.status.success() && !o.stdout.is_empty(), "{flag}");
    }
}

//! The harness: every test gets a fresh directory, runs the real `gdmilp`
//! binary from the repository root (so `fixtures/...` paths work), and a
//! failure prints the command, its stdout and stderr, and the directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty directory for one test.
pub struct Dir {
    pub path: PathBuf,
}

impl Dir {
    pub fn new(name: &str) -> Dir {
        let path = root().join("target").join("it").join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir { path }
    }

    /// A path inside the directory, as a String for argument lists.
    pub fn p(&self, rel: &str) -> String {
        self.path.join(rel).to_string_lossy().into_owned()
    }

    /// File names in the directory, sorted.
    pub fn listing(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Runs gdmilp with `args` from the repository root.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_gdmilp"))
            .args(args)
            .current_dir(root())
            .output()
            .expect("gdmilp runs");
        Run {
            cmd: format!("gdmilp {}", args.join(" ")),
            out,
            listing: self.listing(),
        }
    }

    /// Runs any program (a solver) in the test directory.
    pub fn tool(&self, program: &str, args: &[&str]) -> Run {
        let out = Command::new(program)
            .args(args)
            .current_dir(&self.path)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} (scripts/setup installs it): {e}"));
        Run {
            cmd: format!("{program} {}", args.join(" ")),
            out,
            listing: self.listing(),
        }
    }
}

/// A finished command.
pub struct Run {
    pub cmd: String,
    pub out: Output,
    pub listing: Vec<String>,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }

    pub fn context(&self) -> String {
        format!(
            "\ncommand: {}\nexit: {:?}\n--- stdout\n{}\n--- stderr\n{}\n--- dir\n{:?}\n",
            self.cmd,
            self.out.status.code(),
            self.stdout(),
            self.stderr(),
            self.listing
        )
    }

    /// Asserts exit code 0.
    pub fn ok(self) -> Run {
        assert!(
            self.out.status.success(),
            "expected success{}",
            self.context()
        );
        self
    }

    /// Asserts the exit code.
    pub fn code_is(self, code: i32) -> Run {
        assert_eq!(self.code(), code, "unexpected exit code{}", self.context());
        self
    }

    /// Asserts a condition with the command's context on failure.
    pub fn check(&self, cond: bool, what: &str) {
        assert!(cond, "{what}{}", self.context());
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout().trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}){}", self.context()))
    }
}

/// Whether every program a test needs is here: a solver on PATH (`cbc`,
/// `glpsol`), or `python`, the project's .venv with its solver packages.
/// A missing one skips the calling test with its reason on stderr, except
/// under CI (the environment variable `CI` set), where every solver must be
/// installed and a missing one fails the test.
pub fn have(programs: &[&str]) -> bool {
    let found = |p: &str| {
        if p == "python" {
            return root().join(".venv/bin/python").is_file();
        }
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(p).is_file()))
    };
    let missing: Vec<&str> = programs.iter().copied().filter(|p| !found(p)).collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "skipped: {} not installed here (scripts/setup installs it)",
        missing.join(", ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}; CI must have every solver");
    }
    eprintln!("{msg}");
    false
}

/// The Python of the project's .venv (made by scripts/setup).
pub fn python() -> String {
    let p = root().join(".venv/bin/python");
    assert!(p.is_file(), "{} is missing: run scripts/setup", p.display());
    p.to_string_lossy().into_owned()
}

/// Every fixture case (a folder with model.onnx and data.npz).
pub fn fixtures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("model.onnx").is_file() && p.join("data.npz").is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

pub fn model(case: &str) -> String {
    format!("fixtures/{case}/model.onnx")
}

pub fn data(case: &str) -> String {
    format!("fixtures/{case}/data.npz")
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The number that follows `word` in `line` ("… have 26 correct" → 26).
pub fn number_after(line: &str, word: &str) -> f64 {
    line.split(word)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {word:?} in {line:?}"))
}

/// Relative closeness.
pub fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

/// Whether `estimate` (a file's objective plus the manifest's offset, at
/// some weights with the auxiliary columns optimal) agrees with `exact`
/// (the loss recomputed at those weights): equal to `rel`, or for mse in a
/// piecewise-linear form (`bound` is the manifest's `mse_bound`) within the
/// stated bound on the stated side.
pub fn agrees(estimate: f64, exact: f64, bound: &serde_json::Value, rel: f64) -> bool {
    if bound.is_null() {
        return close(estimate, exact, rel);
    }
    let (eps, delta) = (
        bound["relative"].as_f64().unwrap(),
        bound["absolute"].as_f64().unwrap(),
    );
    let tol = rel * exact.abs().max(1.0);
    let (f, g) = (exact, estimate);
    match bound["form"].as_str().unwrap() {
        // Tangents: g ≤ f ≤ (g + δ) / (1 − ε).
        "tangents" => g <= f + tol && f <= (g + delta) / (1.0 - eps) + tol,
        // Segments: f ≤ g ≤ (1 + ε) f + δ.
        _ => f <= g + tol && g <= (1.0 + eps) * f + delta + tol,
    }
}

/// Writes `x` and `y` as the arrays `x` and `y` of a new .npz at `path`.
pub fn write_xy<
    X: ndarray_npy::WritableElement,
    Y: ndarray_npy::WritableElement,
    D: ndarray::Dimension,
    E: ndarray::Dimension,
>(
    path: &Path,
    x: &ndarray::Array<X, D>,
    y: &ndarray::Array<Y, E>,
) -> String {
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(path).unwrap());
    w.add_array("x", x).unwrap();
    w.add_array("y", y).unwrap();
    w.finish().unwrap();
    path.to_string_lossy().into_owned()
}

/// Solves `file` with highspy (tests/interop/highspy_check.py), the weights
/// fixed at the MIP start `start` unless `free`; the objective.
pub fn highspy(file: &str, start: &str, free: bool) -> f64 {
    let script = root().join("tests/interop/highspy_check.py");
    let mut args = vec![script.to_str().unwrap(), file, start];
    if free {
        args.push("--free");
    }
    let out = std::process::Command::new(python())
        .args(&args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "highspy failed on {file}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .rfind(|l| l.starts_with("objective "))
        .unwrap_or_else(|| panic!("no objective in {text}"));
    let toks: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(toks[3], "Optimal", "{file}: {line}");
    toks[1].parse().unwrap()
}

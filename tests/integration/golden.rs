//! Golden files: the whole MPS and LP text of tiny problems, checked by hand
//! against the formulation (tests/golden/README.md shows the working).
//! `BLESS=1 cargo test golden` rewrites them after a deliberate change.

use crate::util::*;

/// Exports fixture `case` with `extra` options and compares the file with
/// tests/golden/`name`.`ext`.
fn golden(case: &str, name: &str, ext: &str, extra: &[&str]) {
    let dir = Dir::new(&format!("golden-{name}-{ext}"));
    let out = dir.p(&format!("layer.{ext}"));
    let (m, d) = (model(case), data(case));
    let mut args = vec!["export", &m, &d, "-o", &out, "--radius", "0.05"];
    args.extend(extra);
    dir.run(&args).ok();
    let got = std::fs::read_to_string(&out).unwrap();
    let path = root().join("tests/golden").join(format!("{name}.{ext}"));
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with BLESS=1", path.display()));
    if got != want {
        let diff: Vec<String> = want
            .lines()
            .zip(got.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(10)
            .map(|(i, (a, b))| format!("line {}:\n  want: {a}\n  got:  {b}", i + 1))
            .collect();
        panic!(
            "{} differs from the golden file ({} vs {} lines):\n{}",
            out,
            got.lines().count(),
            want.lines().count(),
            diff.join("\n")
        );
    }
}

#[test]
fn tiny_regression_l1_mps() {
    golden(
        "tiny_regression",
        "tiny_regression",
        "mps",
        &["--loss", "l1"],
    );
}

#[test]
fn tiny_regression_l1_lp() {
    golden(
        "tiny_regression",
        "tiny_regression",
        "lp",
        &["--loss", "l1"],
    );
}

#[test]
fn tiny_regression_mse_quadratic_mps() {
    let q = ["--mse-form", "quadratic"];
    golden("tiny_regression", "tiny_regression_quadratic", "mps", &q);
}

#[test]
fn tiny_regression_mse_quadratic_lp() {
    let q = ["--mse-form", "quadratic"];
    golden("tiny_regression", "tiny_regression_quadratic", "lp", &q);
}

#[test]
fn tiny_regression_mse_segments_lp() {
    golden("tiny_regression", "tiny_regression_segments", "lp", &[]);
}

#[test]
fn tiny_regression_mse_tangents_lp() {
    let t = ["--mse-form", "tangents"];
    golden("tiny_regression", "tiny_regression_tangents", "lp", &t);
}

#[test]
fn tiny_classification_mps() {
    golden("tiny_classification", "tiny_classification", "mps", &[]);
}

#[test]
fn tiny_classification_lp() {
    golden("tiny_classification", "tiny_classification", "lp", &[]);
}

//! Golden files: the whole MPS and LP text of two tiny problems, checked by
//! hand against the formulation (tests/golden/README.md shows the working).
//! `BLESS=1 cargo test golden` rewrites them after a deliberate change.

use crate::util::*;

fn golden(case: &str, ext: &str) {
    let dir = Dir::new(&format!("golden-{case}-{ext}"));
    let out = dir.p(&format!("layer.{ext}"));
    dir.run(&[
        "export",
        &model(case),
        &data(case),
        "-o",
        &out,
        "--radius",
        "0.05",
    ])
    .ok();
    let got = std::fs::read_to_string(&out).unwrap();
    let path = root().join("tests/golden").join(format!("{case}.{ext}"));
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
fn tiny_regression_mps() {
    golden("tiny_regression", "mps");
}

#[test]
fn tiny_regression_lp() {
    golden("tiny_regression", "lp");
}

#[test]
fn tiny_classification_mps() {
    golden("tiny_classification", "mps");
}

#[test]
fn tiny_classification_lp() {
    golden("tiny_classification", "lp");
}

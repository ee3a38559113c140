//! Real inputs the third hostile pass found refused (issue #23): a model
//! exported whole in half precision with its data saved as float16, and
//! fixed-length sequences with no mask array.

use crate::util::*;
use ndarray::ArrayD;
use ndarray_npy::NpzReader;

/// `model.half()` with its data saved as float16: read, fed to the float16
/// input, exported, solved and applied.
#[test]
fn float16_data_for_a_half_precision_model() {
    let dir = Dir::new("refused-float16-data");
    let d16 = dir.p("d16.npz");
    let made = std::process::Command::new(python())
        .args([
            "-c",
            "import numpy as np, sys; d = np.load(sys.argv[1]); \
             np.savez(sys.argv[2], x=d['x'].astype(np.float16), y=d['y'])",
            &root().join(data("half_model")).to_string_lossy(),
            &d16,
        ])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let ev16 = dir.run(&["eval", &model("half_model"), &d16]).ok();
    // The same values as float32 give the same loss and accuracy (the
    // float16 inputs are exactly float32 numbers too).
    let d32 = dir.p("d32.npz");
    let made = std::process::Command::new(python())
        .args([
            "-c",
            "import numpy as np, sys; d = np.load(sys.argv[1]); \
             np.savez(sys.argv[2], x=d['x'].astype(np.float32), y=d['y'])",
            &d16,
            &d32,
        ])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let ev32 = dir.run(&["eval", &model("half_model"), &d32]).ok();
    let metrics = |r: &Run| r.stdout().split_once(": ").map(|(_, m)| m.to_string());
    ev16.check(
        metrics(&ev16).is_some() && metrics(&ev16) == metrics(&ev32),
        &format!("float16 and float32 data differ: {}", ev32.stdout()),
    );
    dir.run(&[
        "export",
        &model("half_model"),
        &d16,
        "-o",
        &dir.p("layer.mps"),
        "--points",
        "32",
    ])
    .ok();
    dir.run(&["solve", &dir.p("layer.mps"), "-o", &dir.p("layer.sol")])
        .ok();
    let r = dir.run(&[
        "apply",
        &dir.p("layer.sol"),
        &model("half_model"),
        "-o",
        &dir.p("p.onnx"),
    ]);
    r.check(matches!(r.code(), 0 | 3), "apply writes the patched model");
}

/// Fixed-length sequences without padding: no mask array, every position
/// a point (said on stderr), recorded so that apply reads them alike.
#[test]
fn sequences_without_a_mask_count_every_position() {
    let dir = Dir::new("refused-no-mask");
    let file = std::fs::File::open(root().join(data("sequence_regressor"))).unwrap();
    let mut npz = NpzReader::new(file).unwrap();
    let x: ArrayD<f32> = npz.by_name("x").unwrap();
    let y: ArrayD<f32> = npz.by_name("y").unwrap();
    let (sequences, positions) = (x.shape()[0], x.shape()[1]);
    let d = write_xy(&dir.path.join("d.npz"), &x, &y);
    let r = dir
        .run(&[
            "export",
            &model("sequence_regressor"),
            &d,
            "-o",
            &dir.p("layer.mps"),
            "--select",
            "all",
        ])
        .ok();
    r.check(
        r.stderr().contains("no mask array") && r.stderr().contains("every position"),
        "a note says every position counts",
    );
    let man = read_json(&dir.path.join("layer.mps.gdmilp.json"));
    assert_eq!(man["data"]["mask_key"], "*", "{}", man["data"]);
    assert_eq!(
        man["selection"]["indices"].as_array().unwrap().len(),
        sequences * positions
    );
    dir.run(&["solve", &dir.p("layer.mps"), "-o", &dir.p("layer.sol")])
        .ok();
    let r = dir
        .run(&[
            "apply",
            &dir.p("layer.sol"),
            &model("sequence_regressor"),
            "-o",
            &dir.p("p.onnx"),
        ])
        .ok();
    r.check(r.stdout().contains("verified"), "apply verifies");
}

/// A float16 classifier's "patched model" objective is what ONNX Runtime
/// computes: the float16 model's own count of correct points (ε = 0.001 is
/// below float16's spacing, so margins the solver left at ε come out
/// anywhere near it), and "verified" only when that is the solver's.
#[test]
fn a_float16_model_is_verified_on_what_it_computes() {
    let dir = Dir::new("float16-verified");
    dir.run(&[
        "export",
        &model("half_model"),
        &data("half_model"),
        "-o",
        &dir.p("layer.mps"),
        "--select",
        "all",
    ])
    .ok();
    dir.run(&["solve", &dir.p("layer.mps"), "-o", &dir.p("layer.sol")])
        .ok();
    let r = dir.run(&[
        "apply",
        &dir.p("layer.sol"),
        &model("half_model"),
        "-o",
        &dir.p("p.onnx"),
    ]);
    let out = r.stdout();
    let objective = out.lines().find(|l| l.starts_with("objective")).unwrap();
    let (solver, patched) = (
        number_after(objective, "solver"),
        number_after(objective, "patched model"),
    );
    let data_line = out.lines().find(|l| l.starts_with("data")).unwrap();
    let after = data_line.split("after accuracy").nth(1).unwrap();
    let correct = number_after(after, "(");
    r.check(
        patched == -correct,
        "the patched model's objective is its own count of correct points",
    );
    let verified = out.lines().any(|l| l.starts_with("verified"));
    r.check(
        verified == (patched == solver) && r.code() == if verified { 0 } else { 3 },
        "verified (exit 0) exactly when the model computes the solver's count, else exit 3",
    );
}

/// A bfloat16 model input: numpy has no bfloat16, so its data come as the
/// bits in uint16 (or an int16 view, as `x.view(torch.int16)` gives). Both
/// read as the bfloat16 values they hold: the same metrics as those values
/// saved as float32, and a tune that runs (issue #23, case 9).
#[test]
fn bfloat16_inputs_saved_as_their_bits() {
    let dir = Dir::new("bfloat16-bits");
    let (d16, d32) = (dir.p("i16.npz"), dir.p("f32.npz"));
    let made = std::process::Command::new(python())
        .args([
            "-c",
            "import numpy as np, sys; d = np.load(sys.argv[1]); b = d['x']; \
             assert b.dtype == np.uint16; \
             np.savez(sys.argv[2], x=b.view(np.int16), y=d['y']); \
             np.savez(sys.argv[3], x=(b.astype(np.uint32) << 16).view(np.float32), y=d['y'])",
            &root().join(data("bfloat16_input")).to_string_lossy(),
            &d16,
            &d32,
        ])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let m = model("bfloat16_input");
    let metrics = |r: &Run| r.json();
    let bits = dir
        .run(&["eval", &m, &data("bfloat16_input"), "--json"])
        .ok();
    let int16 = dir.run(&["eval", &m, &d16, "--json"]).ok();
    let f32 = dir.run(&["eval", &m, &d32, "--json"]).ok();
    bits.check(
        metrics(&bits) == metrics(&f32),
        "uint16 bits read as their bfloat16 values",
    );
    int16.check(
        metrics(&int16) == metrics(&f32),
        "an int16 view reads the same",
    );
    bits.check(
        metrics(&bits)["correct"] == 193,
        "the fixture's count, as ONNX Runtime computes it",
    );
    let out = dir.p("t.onnx");
    dir.run(&[
        "tune",
        &m,
        &data("bfloat16_input"),
        "-o",
        &out,
        "--radius",
        "0.05",
        "-q",
    ])
    .ok();
}

//! Sequence heads (issue #14): a final layer over [batch, seq, N], each
//! (sequence, position) the mask keeps a point. The two fixtures of
//! scripts/make_exporter_fixtures.py (a token tagger fed int64 ids and an
//! attention mask; a per-position regressor whose Gemm sits between two
//! Reshapes) go export → a real solver → apply, verified in ONNX Runtime
//! per position; padding never counts; what mixes positions is refused.

use crate::util::*;
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{NpzReader, NpzWriter};

const TAGGER: &str = "sequence_tagger";
const REGRESSOR: &str = "sequence_regressor";

/// The tagger's arrays: input_ids, attention_mask, labels.
fn tagger_arrays() -> [ArrayD<i64>; 3] {
    let f = std::fs::File::open(root().join(data(TAGGER))).unwrap();
    let mut npz = NpzReader::new(f).unwrap();
    ["input_ids", "attention_mask", "labels"]
        .map(|k| npz.by_name::<ndarray::OwnedRepr<i64>, IxDyn>(k).unwrap())
}

/// Writes int64 arrays as a new .npz in `dir`.
fn write_npz(dir: &Dir, name: &str, arrays: &[(&str, &ArrayD<i64>)]) -> String {
    let path = dir.path.join(name);
    let mut w = NpzWriter::new(std::fs::File::create(&path).unwrap());
    for (k, a) in arrays {
        w.add_array(*k, *a).unwrap();
    }
    w.finish().unwrap();
    path.to_string_lossy().into_owned()
}

fn eval(dir: &Dir, model: &str, data: &str) -> serde_json::Value {
    dir.run(&["eval", model, data, "--json"]).ok().json()
}

/// export (all points) → `solver` → apply; the apply report.
fn round_trip(dir: &Dir, case: &str, solver: &str) -> (Run, serde_json::Value) {
    let mps = dir.p("layer.mps");
    dir.run(&[
        "export",
        &model(case),
        &data(case),
        "-o",
        &mps,
        "--radius",
        "0.05",
    ])
    .ok();
    let sol = dir.p("layer.sol");
    match solver {
        "cbc" => dir.tool("cbc", &[&mps, "solve", "solution", &sol]).ok(),
        _ => dir.run(&["solve", &mps, "-o", &sol]).ok(),
    };
    let out = dir.p("patched.onnx");
    let r = dir.run(&["apply", &sol, &model(case), "-o", &out, "--json"]);
    let j = r.json();
    (r.code_is(0), j)
}

#[test]
fn sequence_heads_go_through_a_solver_and_verify_per_position() {
    for (case, solver, key) in [
        (TAGGER, "highs", "correct"),
        (TAGGER, "cbc", "correct"),
        (REGRESSOR, "cbc", "mse"),
    ] {
        // Without CBC its cases are skipped (saying so; CI fails), not
        // the embedded HiGHS one.
        if solver == "cbc" && !have(&["cbc"]) {
            continue;
        }
        let dir = Dir::new(&format!("sequence-{case}-{solver}"));
        let (r, j) = round_trip(&dir, case, solver);
        let v = &j["verification"];
        r.check(j["verified"] == true, &format!("{case}/{solver}: verified"));
        let (before, after) = (
            v["incumbent_loss"].as_f64().unwrap(),
            v["recomputed_loss"].as_f64().unwrap(),
        );
        r.check(after < before, &format!("{case}: loss {before} → {after}"));
        // The written model, loaded from disk, scores what apply computed.
        let on_disk = eval(&dir, &dir.p("patched.onnx"), &data(case));
        let (a, b) = (v["after"][key].as_f64().unwrap(), on_disk[key].as_f64());
        r.check(
            close(a, b.unwrap(), 1e-9),
            &format!("{case}: {key} {a} on disk {b:?}"),
        );
    }
}

#[test]
fn a_padded_position_is_never_a_point() {
    let dir = Dir::new("sequence-padding");
    let [ids, mask, labels] = tagger_arrays();
    let real = mask.iter().filter(|&&m| m == 1).count();
    let before = eval(&dir, &model(TAGGER), &data(TAGGER));
    assert_eq!(before["points"].as_u64(), Some(real as u64), "{before}");
    // Sequences split over ONNX Runtime calls give the same points.
    let args = [
        "eval",
        &model(TAGGER),
        &data(TAGGER),
        "--json",
        "--batch-size",
        "7",
    ];
    assert_eq!(dir.run(&args).ok().json(), before);
    // The export names each selected point's [sequence, position]: all real.
    let mps = dir.p("layer.mps");
    dir.run(&["export", &model(TAGGER), &data(TAGGER), "-o", &mps])
        .ok();
    let man = read_json(&dir.path.join("layer.mps.gdmilp.json"));
    let positions = man["selection"]["positions"].as_array().unwrap();
    assert_eq!(positions.len(), real);
    for p in positions {
        let (b, s) = (p[0].as_u64().unwrap(), p[1].as_u64().unwrap());
        assert_eq!(
            mask[[b as usize, s as usize]],
            1,
            "padded position {p} exported"
        );
    }
    // A label out of range under the padding changes nothing; -100 on a
    // real position (Hugging Face's "no label") takes it out.
    let (pb, ps) = (0..mask.len())
        .map(|i| (i / mask.shape()[1], i % mask.shape()[1]))
        .find(|&(b, s)| mask[[b, s]] == 0)
        .expect("the fixture has padding");
    let mut odd = labels.clone();
    odd[[pb, ps]] = 99;
    odd[[0, 0]] = -100;
    let p = write_npz(
        &dir,
        "odd.npz",
        &[
            ("input_ids", &ids),
            ("attention_mask", &mask),
            ("labels", &odd),
        ],
    );
    let after = eval(&dir, &model(TAGGER), &p);
    assert_eq!(after["points"].as_u64(), Some(real as u64 - 1), "{after}");
}

#[test]
fn labels_or_a_mask_of_the_wrong_shape_and_heads_that_mix_positions_are_refused() {
    let dir = Dir::new("sequence-bad");
    let [ids, mask, labels] = tagger_arrays();
    let flat_labels = labels.index_axis(ndarray::Axis(1), 0).to_owned();
    let short_mask = mask.slice(ndarray::s![.., ..3]).to_owned().into_dyn();
    let cases: Vec<(String, String, &[&str])> = vec![
        (
            model(TAGGER),
            write_npz(
                &dir,
                "flat_labels.npz",
                &[
                    ("input_ids", &ids),
                    ("attention_mask", &mask),
                    ("labels", &flat_labels),
                ],
            ),
            &[
                "flat_labels.npz",
                "labels 'labels' have shape [40]",
                "[40, 9]",
            ],
        ),
        (
            model(TAGGER),
            write_npz(
                &dir,
                "short_mask.npz",
                &[
                    ("input_ids", &ids),
                    ("mask", &short_mask),
                    ("attention_mask", &mask),
                    ("labels", &labels),
                ],
            ),
            &["short_mask.npz", "mask 'mask' has shape [40, 3]"],
        ),
        (
            "fixtures/bad/seq_mean.onnx".to_string(),
            data(TAGGER),
            &["seq_mean.onnx", "ReduceMean", "after the last dense layer"],
        ),
        (
            "fixtures/bad/seq_softmax.onnx".to_string(),
            data(TAGGER),
            &[
                "seq_softmax.onnx",
                "do not keep each point's 4 values in place",
                "(sequence 0, position 0)",
            ],
        ),
        (
            model(TAGGER),
            write_npz(
                &dir,
                "no_mask.npz",
                &[
                    ("input_ids", &ids),
                    ("attention_mask_in", &mask),
                    ("labels", &labels),
                ],
            ),
            &["no_mask.npz", "not one-hot", "--mask-key"],
        ),
        (
            model(TAGGER),
            write_npz(
                &dir,
                "no_model_mask.npz",
                &[("input_ids", &ids), ("mask", &mask), ("labels", &labels)],
            ),
            &[
                "no_model_mask.npz",
                "no array 'attention_mask' (a model input)",
            ],
        ),
    ];
    for (model, data, needles) in cases {
        let out = dir.p("layer.mps");
        let r = dir.run(&["export", &model, &data, "-o", &out]).code_is(2);
        let err = r.stderr();
        for n in needles {
            r.check(err.contains(n), &format!("error names {n:?}"));
        }
        r.check(err.lines().count() == 1, "one line");
        r.check(!dir.path.join("layer.mps").exists(), "nothing written");
    }
}

/// A head whose layer runs seq-first (a Transpose to [seq, batch, …] before
/// it, one back after) gives rows that are not in [batch, seq] order: read
/// batch-major, its features would meet other positions' targets and still
/// "verify". Refused, at any batch size, including one with as many
/// sequences as positions (where [seq, batch] and [batch, seq] look alike).
#[test]
fn a_layer_that_runs_seq_first_is_refused_not_read_in_the_wrong_order() {
    let dir = Dir::new("sequence-seq-first");
    let cases: [(&str, &[&str], &str); 4] = [
        ("seq_first_gemm", &[], "move positions"),
        ("seq_first_gemm", &["--batch-size", "7"], "move positions"),
        ("seq_first_matmul", &[], "[30, 7, …] or [210, …]"),
        ("seq_first_matmul", &["--batch-size", "7"], "[6, 7, …]"),
    ];
    for (name, extra, needle) in cases {
        let m = format!("fixtures/bad/{name}.onnx");
        let out = dir.p("layer.mps");
        let d = data(REGRESSOR);
        let mut args = vec!["export", &m, &d, "-o", &out];
        args.extend(extra);
        let r = dir.run(&args).code_is(2);
        let err = r.stderr();
        r.check(
            err.contains(needle),
            &format!("{name} {extra:?}: error says {needle:?}"),
        );
        r.check(err.contains(&format!("{name}.onnx")), "names the model");
        r.check(err.lines().count() == 1, "one line");
        r.check(!dir.path.join("layer.mps").exists(), "nothing written");
        dir.run(&["eval", &m, &d]).code_is(2);
    }
}

#[test]
fn int32_token_ids_feed_an_int32_model_as_int64_ones_feed_int64() {
    if !have(&["python"]) {
        return;
    }
    let dir = Dir::new("sequence-int32");
    let (m32, d32) = (dir.p("int32.onnx"), dir.p("int32.npz"));
    let script = "import sys, onnx, numpy as np\n\
        m = onnx.load(sys.argv[1])\n\
        for i in m.graph.input: i.type.tensor_type.elem_type = onnx.TensorProto.INT32\n\
        del m.graph.value_info[:]\n\
        onnx.save(m, sys.argv[3])\n\
        d = np.load(sys.argv[2])\n\
        np.savez(sys.argv[4], **{k: d[k].astype(np.int32) for k in d.files})\n";
    let (m, d) = (model(TAGGER), data(TAGGER));
    dir.tool(
        &python(),
        &[
            "-c",
            script,
            &root().join(&m).to_string_lossy(),
            &root().join(&d).to_string_lossy(),
            &m32,
            &d32,
        ],
    )
    .ok();
    let want = eval(&dir, &m, &d);
    for (model, data) in [(&m32, &d32), (&m32, &d), (&m, &d32)] {
        assert_eq!(eval(&dir, model, data), want, "{model} on {data}");
    }
}

#[test]
fn the_current_weights_give_back_each_sequence_model_byte_for_byte() {
    for case in [TAGGER, REGRESSOR] {
        let dir = Dir::new(&format!("sequence-same-{case}"));
        let mps = dir.p("layer.mps");
        dir.run(&["export", &model(case), &data(case), "-o", &mps])
            .ok();
        let same = crate::apply::solution_from_start(&dir, |n, v| Some((n.into(), v)));
        std::fs::write(dir.path.join("same.sol"), same).unwrap();
        // Named like the input, so that the tagger's external data file
        // (torch.onnx's model.onnx.data) is named the same too.
        let out = dir.p("model.onnx");
        dir.run(&["apply", &dir.p("same.sol"), &model(case), "-o", &out])
            .ok();
        let input = root().join(model(case));
        let mut files = vec![(input.clone(), dir.path.join("model.onnx"))];
        if case == TAGGER {
            let data_file = input.with_extension("onnx.data");
            files.push((data_file, dir.path.join("model.onnx.data")));
        }
        for (a, b) in files {
            let same = std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap();
            assert!(same, "{case}: {} is not {}", b.display(), a.display());
        }
    }
}

/// The tagger's arrays with a mask "pad" that also leaves out each
/// sequence's first position (fewer points than the model's
/// attention_mask, which the defaults would pick), written to pad.npz; its
/// path and the number of points it masks in.
fn padded_tagger_data(dir: &Dir) -> (String, u64) {
    let [ids, mask, labels] = tagger_arrays();
    let mut pad = mask.clone();
    pad.index_axis_mut(ndarray::Axis(1), 0).fill(0);
    let arrays = [
        ("input_ids", &ids),
        ("attention_mask", &mask),
        ("pad", &pad),
        ("labels", &labels),
    ];
    let points = pad.iter().filter(|&&m| m == 1).count() as u64;
    (write_npz(dir, "pad.npz", &arrays), points)
}

#[test]
fn mask_key_names_the_mask_and_apply_reads_it_from_the_manifest() {
    let dir = Dir::new("sequence-mask-key");
    let (p, points) = padded_tagger_data(&dir);
    let m = model(TAGGER);
    let j = dir
        .run(&["eval", &m, &p, "--mask-key", "pad", "--json"])
        .ok()
        .json();
    assert_eq!(j["points"].as_u64(), Some(points), "{j}");
    let mps = dir.p("layer.mps");
    dir.run(&["export", &m, &p, "-o", &mps, "--mask-key", "pad"])
        .ok();
    let man = read_json(&dir.path.join("layer.mps.gdmilp.json"));
    assert_eq!(man["data"]["mask_key"], "pad");
    assert_eq!(man["data"]["points"].as_u64(), Some(points));
    let sol = dir.p("layer.sol");
    dir.run(&["solve", &mps, "-o", &sol]).ok();
    let r = dir.run(&["apply", &sol, &m, "-o", &dir.p("p.onnx"), "--json"]);
    let j = r.json();
    r.code_is(0).check(
        j["verified"] == true && j["verification"]["after"]["points"].as_u64() == Some(points),
        "apply verified on the manifest's mask",
    );
    let e = dir.run(&["eval", &m, &p, "--mask-key", "nope"]).code_is(2);
    e.check(
        e.stderr().contains("no array 'nope' (mask)") && e.stderr().contains("pad"),
        "an unknown mask key lists the arrays",
    );
}

/// `--protect` reads the protect file on the data's mask key, the manifest
/// records it, and apply checks the protected points on it.
#[test]
fn protect_reads_the_protect_file_on_the_data_mask_key() {
    let dir = Dir::new("sequence-protect-mask-key");
    let (p, points) = padded_tagger_data(&dir);
    let (m, mps) = (model(TAGGER), dir.p("layer.mps"));
    let args = ["export", &m, &p, "-o", &mps, "--mask-key", "pad"];
    dir.run(&[&args[..], &["--protect", &p]].concat()).ok();
    let man = read_json(&dir.path.join("layer.mps.gdmilp.json"));
    assert_eq!(man["protect"]["mask_key"], "pad", "{}", man["protect"]);
    assert_eq!(man["protect"]["counts"]["points"].as_u64(), Some(points));
    let sol = dir.p("layer.sol");
    dir.run(&["solve", &mps, "-o", &sol]).ok();
    let r = dir.run(&["apply", &sol, &m, "-o", &dir.p("p.onnx"), "--json"]);
    r.code_is(0);
    // A protect file without the data's mask is refused, naming the key.
    let [ids, mask, labels] = tagger_arrays();
    let no_pad = write_npz(
        &dir,
        "no_pad.npz",
        &[
            ("input_ids", &ids),
            ("attention_mask", &mask),
            ("labels", &labels),
        ],
    );
    let e = dir
        .run(&[&args[..], &["--protect", &no_pad]].concat())
        .code_is(2);
    e.check(
        e.stderr().contains("no_pad.npz") && e.stderr().contains("no array 'pad' (mask)"),
        "names the protect file and the mask key",
    );
}

#[test]
fn inspect_shows_the_sequence_shape_and_that_a_point_is_a_position() {
    let dir = Dir::new("sequence-inspect");
    let r = dir.run(&["inspect", &model(TAGGER)]).ok();
    let out = r.stdout();
    r.check(
        out.contains("output       'logits' [batch, seq, 4]"),
        "declared shape",
    );
    r.check(out.contains("one per (sequence, position)"), "points line");
    let j = dir
        .run(&["inspect", &model(REGRESSOR), "--json"])
        .ok()
        .json();
    assert_eq!(j["output_shape"], serde_json::json!(["batch", "seq", "2"]));
    assert_eq!(j["after"], serde_json::json!(["Reshape"]));
    let flat = dir.run(&["inspect", &model("digits")]).ok();
    flat.check(!flat.stdout().contains("per (sequence"), "a flat head");
}

/// A flat head (logits [batch, 3]) whose data holds an `attention_mask`
/// (a model input) or a stray `mask` array: one point a sentence, the mask
/// fed to the model input of its name, as before sequence heads; only a
/// model over a sequence reads such an array as the mask of its points.
#[test]
fn a_flat_head_reads_attention_mask_as_an_input_not_as_a_mask_of_points() {
    let dir = Dir::new("sequence-flat-mask");
    let case = "sentence_classifier";
    let j = eval(&dir, &model(case), &data(case));
    assert_eq!(j["points"], 60, "{j}");
    let f = std::fs::File::open(root().join(data(case))).unwrap();
    let mut npz = NpzReader::new(f).unwrap();
    let [ids, mask, labels] = ["input_ids", "attention_mask", "labels"]
        .map(|k| npz.by_name::<ndarray::OwnedRepr<i64>, IxDyn>(k).unwrap());
    let stray = [
        ("input_ids", &ids),
        ("attention_mask", &mask),
        ("mask", &mask),
        ("labels", &labels),
    ];
    let with_mask = write_npz(&dir, "with_mask.npz", &stray);
    assert_eq!(eval(&dir, &model(case), &with_mask), j);
    let mps = dir.p("layer.mps");
    dir.run(&["export", &model(case), &data(case), "-o", &mps])
        .ok();
    let sol = dir.p("layer.sol");
    dir.run(&["solve", &mps, "-o", &sol]).ok();
    let out = dir.p("patched.onnx");
    let r = dir.run(&["apply", &sol, &model(case), "-o", &out, "--json"]);
    let a = r.code_is(0).json();
    assert_eq!(a["verified"], true, "{a}");
}

//! Fuzzing, bounded so it runs in every CI run: every solution reader and
//! the ONNX reader get mutated copies of real inputs (the committed solver
//! samples, the fixture models) and random bytes. Errors are fine; a panic
//! fails the test. Cases per target: GDMILP_FUZZ_CASES (default 1500).

use crate::util::*;
use gdmilp::formats::solution::{self, SolutionFormat};
use gdmilp::onnx::{self, Model};
use proptest::prelude::*;
use std::path::Path;

const FORMATS: [SolutionFormat; 9] = [
    SolutionFormat::Highs,
    SolutionFormat::HighsPretty,
    SolutionFormat::Gurobi,
    SolutionFormat::GurobiJson,
    SolutionFormat::Cplex,
    SolutionFormat::Cbc,
    SolutionFormat::Scip,
    SolutionFormat::Glpk,
    SolutionFormat::GlpkReport,
];

fn samples() -> Vec<Vec<u8>> {
    let base = root().join("fixtures/solutions");
    let mut v = Vec::new();
    for d in std::fs::read_dir(&base).unwrap() {
        let d = d.unwrap().path();
        if !d.is_dir() {
            continue;
        }
        // Every solver file: each layout and status of each format.
        let mut files: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|f| f.unwrap().path())
            .filter(|p| p.extension().is_none_or(|e| e != "lp"))
            .collect();
        files.sort();
        for p in files {
            // The first 4 KiB keep each case fast while covering the headers.
            let b = std::fs::read(p).unwrap();
            v.push(b[..b.len().min(4096)].to_vec());
        }
    }
    v.sort();
    v
}

fn models() -> Vec<Vec<u8>> {
    [
        "regression",
        "matmul_add",
        "torch_export",
        "sk_classifier",
        "convnet",
        "constant_weights",
        "half_model",
        "bfloat16_weights",
    ]
    .iter()
    .map(|c| std::fs::read(root().join(model(c))).unwrap())
    .collect()
}

/// Applies edits: (position, byte, kind) with kind 0 = overwrite,
/// 1 = insert, 2 = delete; then cuts at `cut` (if shorter).
fn mutate(mut b: Vec<u8>, edits: &[(u32, u8, u8)], cut: u32) -> Vec<u8> {
    for &(pos, byte, kind) in edits {
        if b.is_empty() {
            b.push(byte);
            continue;
        }
        let i = pos as usize % b.len();
        match kind {
            0 => b[i] = byte,
            1 => b.insert(i, byte),
            _ => {
                b.remove(i);
            }
        }
    }
    let cut = cut as usize;
    if cut < b.len() {
        b.truncate(cut);
    }
    b
}

fn cases() -> u32 {
    std::env::var("GDMILP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn solution_readers_never_panic(
        which in 0usize..64,
        edits in proptest::collection::vec((any::<u32>(), any::<u8>(), 0u8..3), 0..12),
        cut in any::<u32>(),
    ) {
        let all = samples();
        let bytes = mutate(all[which % all.len()].clone(), &edits, cut);
        let text = String::from_utf8_lossy(&bytes);
        let path = Path::new("fuzz.sol");
        let _ = solution::parse(path, &text, None);
        for f in FORMATS {
            let _ = solution::parse(path, &text, Some(f));
        }
    }

    #[test]
    fn solution_readers_never_panic_on_noise(text in "[ -~\n\t]{0,300}") {
        let path = Path::new("fuzz.sol");
        let _ = solution::parse(path, &text, None);
        for f in FORMATS {
            let _ = solution::parse(path, &text, Some(f));
        }
    }

    #[test]
    fn onnx_reader_never_panics(
        which in 0usize..8,
        edits in proptest::collection::vec((any::<u32>(), any::<u8>(), 0u8..3), 0..8),
        cut in any::<u32>(),
    ) {
        let all = models();
        let bytes = mutate(all[which].clone(), &edits, cut);
        // A path inside the fixture folder so external data resolves.
        let path = root().join("fixtures/torch_export/model.onnx");
        if let Ok(m) = Model::from_bytes(&path, bytes) {
            if let Ok(layer) = onnx::locate(&m, None) {
                let _ = onnx::edit::with_outputs(&m, &[(layer.input.as_str(), 1)]);
                let _ = onnx::edit::patch(&m, &layer, &layer.w, &layer.b, "fuzz.data");
            }
        }
    }

    #[test]
    fn onnx_reader_never_panics_on_noise(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(m) = Model::from_bytes(Path::new("fuzz.onnx"), bytes) {
            let _ = onnx::locate(&m, None);
        }
    }
}

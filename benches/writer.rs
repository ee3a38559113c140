//! Writer throughput, features already in memory: the compact
//! classification problem with T = 1,000 points, N = 128, M = 10
//! (≈ 2.33 M non-zeros), written as MPS and LP to a file and to a sink,
//! against a plain copy of the same bytes. `cargo bench --bench writer`
//! prints a table (medians of 5 runs); pass `T N M` to change the size.

#[path = "common.rs"]
mod common;

use std::io::Write;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (t, n, m) = match args.as_slice() {
        [t, n, m] => (*t, *n, *m),
        _ => (1000, 128, 10),
    };
    let t_build = time(5, || {
        common::problem(t, n, m);
    });
    let p = common::problem(t, n, m);
    let nnz = p.nonzeros() as f64;
    let dir = std::env::temp_dir().join(format!("gdmilp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mps = dir.join("layer.mps");
    let lp = dir.join("layer.lp");
    let copy = dir.join("copy.mps");
    let t_mps = time(5, || {
        gdmilp::formats::write_problem(&p, &mps).unwrap();
    });
    let t_lp = time(5, || {
        gdmilp::formats::write_problem(&p, &lp).unwrap();
    });
    let t_sink = time(5, || {
        gdmilp::formats::mps::write(&p, std::io::sink()).unwrap();
    });
    let t_copy = time(5, || {
        std::fs::copy(&mps, &copy).unwrap();
    });
    let bytes = std::fs::metadata(&mps).unwrap().len() as f64;
    let lp_bytes = std::fs::metadata(&lp).unwrap().len() as f64;
    let mut out = std::io::stdout().lock();
    writeln!(out, "compact classification, T = {t}, N = {n}, M = {m}: {:.2} M non-zeros, MPS {:.1} MB, LP {:.1} MB", nnz / 1e6, bytes / 1e6, lp_bytes / 1e6).unwrap();
    writeln!(out, "| stage | median s | M non-zeros/s | × plain copy |").unwrap();
    writeln!(out, "| --- | --- | --- | --- |").unwrap();
    let row = |out: &mut std::io::StdoutLock, name: &str, s: f64| {
        writeln!(
            out,
            "| {name} | {s:.3} | {:.1} | {:.1} |",
            nnz / s / 1e6,
            s / t_copy
        )
        .unwrap();
    };
    row(
        &mut out,
        "build formulation (features copied, no non-zeros stored)",
        t_build,
    );
    row(&mut out, "write MPS to file", t_mps);
    row(&mut out, "write MPS to a sink (formatting only)", t_sink);
    row(&mut out, "write LP to file", t_lp);
    row(&mut out, "plain copy of the MPS bytes", t_copy);
    std::fs::remove_dir_all(&dir).ok();
}

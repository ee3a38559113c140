//! The hinge LP solver (`gdmilp::hinge`) on synthetic heads.
//! `cargo bench --bench hinge -- FILE.npz R [R …]` solves the head in FILE
//! (arrays h, y, w0, b0, and lr_seconds from `benches/hinge_data.py`) for
//! each radius r (r_b = r, δ = 1) and prints one table row per radius.

use gdmilp::hinge::{self, HingeLp, Settings};
use ndarray::{Array0, Array1, Array2};
use ndarray_npy::NpzReader;
use std::fs::File;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some((file, radii)) = args.split_first() else {
        eprintln!("usage: hinge FILE.npz R [R …]");
        std::process::exit(2);
    };
    let mut npz = NpzReader::new(File::open(file).expect("open the npz")).expect("an npz file");
    let h: Array2<f64> = npz.by_name("h").expect("h");
    let y: Array1<i64> = npz.by_name("y").expect("y");
    let w0: Array2<f64> = npz.by_name("w0").expect("w0");
    let b0: Array1<f64> = npz.by_name("b0").expect("b0");
    let lr: f64 = npz
        .by_name::<ndarray::OwnedRepr<f64>, ndarray::Ix0>("lr_seconds")
        .map(|a: Array0<f64>| a.into_scalar())
        .unwrap_or(f64::NAN);
    let labels: Vec<usize> = y.iter().map(|&v| v as usize).collect();
    let limit = std::env::var("HINGE_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600.0);
    println!("| T | M | r | points kept | iterations | seconds | certified gap | LR seconds | ratio | status |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in radii {
        let r: f64 = r.parse().expect("a radius");
        let lp = HingeLp {
            h: h.view(),
            labels: &labels,
            w0: w0.view(),
            b0: b0.view(),
            radius: r,
            bias_radius: Some(r),
            delta: 1.0,
        };
        let s = Settings {
            time_limit: Some(Duration::from_secs_f64(limit)),
            ..Settings::default()
        };
        let clock = Instant::now();
        let sol = hinge::solve(&lp, &s);
        let sec = clock.elapsed().as_secs_f64();
        println!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.1e} | {:.2} | {:.1} | {:?} (P {:.6}, D {:.6}) |",
            h.nrows(),
            w0.nrows(),
            r,
            sol.points,
            sol.iterations,
            sec,
            sol.rel_gap(),
            lr,
            sec / lr,
            sol.status,
            sol.objective,
            sol.bound
        );
    }
}

//! The hinge LP solver (`gdmilp::solvers::hinge`) on synthetic heads (issue #15).
//!
//! ```text
//! .venv/bin/python benches/hinge_data.py 1000 10 head.npz   # a head + LogisticRegression's time
//! cargo bench --bench hinge -- head.npz 0.05 0.01 0.002      # one row per radius r (r_b = r, δ = 1)
//! ```
//!
//! Prints a table: points and point-class pairs kept by presolve, PDHG
//! iterations, seconds (wall and this thread's CPU), the certified gap, and the ratio to
//! LogisticRegression's fit time measured by the script (CPU seconds, so
//! that a loaded machine does not skew it). `HINGE_LIMIT` (seconds, default
//! 600) and `HINGE_ITERS` bound each solve; `HINGE_THREADS` sets the
//! solver's threads (default: every core; the CPU column counts only the
//! calling thread's). `HINGE_WARM=y` solves the radii
//! as a path, each from the last one's solution (`hinge::solve_from`), with
//! `,scale` (the displacement W − W⁰ scaled to the new radius), `,noy` (no
//! dual) or `,nosteps` (PDHG's step sizes not carried over).

use gdmilp::solvers::hinge::{self, HingeLp, Settings, Solution, Start};
use ndarray::{Array0, Array1, Array2};
use ndarray_npy::NpzReader;
use std::fs::File;
use std::time::{Duration, Instant};

/// CPU seconds this thread has run (Linux), or NaN.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns * 1e-9)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn scalar(npz: &mut NpzReader<File>, name: &str) -> f64 {
    npz.by_name::<ndarray::OwnedRepr<f64>, ndarray::Ix0>(name)
        .map(Array0::into_scalar)
        .unwrap_or(f64::NAN)
}

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
    let (lr_wall, lr_cpu) = (scalar(&mut npz, "lr_seconds"), scalar(&mut npz, "lr_cpu"));
    let labels: Vec<usize> = y.iter().map(|&v| v as usize).collect();
    let s = Settings {
        time_limit: Some(Duration::from_secs_f64(env_or("HINGE_LIMIT", 600.0))),
        max_iterations: env_or("HINGE_ITERS", 100_000),
        threads: env_or("HINGE_THREADS", 0),
        ..Settings::default()
    };
    println!("| T | M | r | points kept | pairs kept | iterations | wall s | CPU s | certified gap | LR wall s | LR CPU s | CPU ratio | status | objective | bound |");
    println!(
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    let warm = std::env::var("HINGE_WARM").unwrap_or_default();
    let mut prev: Option<(f64, Solution)> = None;
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
        let (clock, cpu) = (Instant::now(), cpu_seconds());
        let sol = match &prev {
            Some((r1, p)) if !warm.is_empty() => {
                // The displacement scaled to the new box keeps its pattern
                // of weights at their bounds.
                let f = if warm.contains("scale") { r / r1 } else { 1.0 };
                let w = &w0 + &((&p.w - &w0) * f);
                let b = &b0 + &((&p.b - &b0) * f);
                let start = Start {
                    w: w.view(),
                    b: b.view(),
                    y: (!warm.contains("noy")).then(|| p.y.view()),
                    steps: (!warm.contains("nosteps")).then_some(p.steps),
                };
                hinge::solve_from(&lp, &s, &start)
            }
            _ => hinge::solve(&lp, &s),
        };
        let (wall, cpu) = (clock.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        println!(
            "| {} | {} | {r} | {} | {} | {} | {wall:.2} | {cpu:.2} | {:.1e} | {lr_wall:.2} | {lr_cpu:.2} | {:.1} | {:?} | {:.6} | {:.6} |",
            h.nrows(),
            w0.nrows(),
            sol.points,
            sol.pairs,
            sol.iterations,
            sol.rel_gap(),
            cpu / lr_cpu,
            sol.status,
            sol.objective,
            sol.bound
        );
        prev = Some((r, sol));
    }
}

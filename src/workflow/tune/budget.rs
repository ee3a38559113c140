//! How `tune` splits its time limit. The clock starts when the plan runs;
//! loading and the first ONNX Runtime pass come out of it first (measured,
//! not guessed), and what the end needs is kept aside: the patched model's
//! re-run on the training (and validation, and protected) points, each
//! estimated from the first pass by its share of the points, and writing.
//! The rest is split in units, each the time of one round of fold solves
//! side by side or of one sweep: a check is `rounds × radii` units (the
//! auto path's radii, plus its best again on other folds), a sweep one.
//! Each stage gets its units' share of what is left when it begins, so time
//! a stage does not use (a hinge LP that converges early) goes to the
//! stages after it; inside a check each radius, and each round of folds,
//! gets its share the same way. A stage whose share is spent before it
//! begins does not run: the weights stay as the last finished sweep left
//! them, and the report says why.

use crate::workflow::solve::{after, secs_until, Budget};
use serde::Serialize;
use std::time::Instant;

/// The clock of one `tune` run and what it keeps for the end.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The whole command's budget.
    pub budget: Budget,
    /// Seconds kept for the end: re-running the patched model and writing.
    pub reserve: f64,
    /// Seconds one re-run of the patched model takes (training points,
    /// with validation and protected points), estimated from the first pass.
    pub rerun: f64,
    /// Fold solves side by side.
    pub workers: usize,
}

/// The split, as planned when the sweeps begin (the report's `budget`).
#[derive(Debug, Clone, Serialize)]
pub struct Split {
    /// The time limit, seconds.
    pub limit: f64,
    /// Seconds spent loading and running the model before the sweeps.
    pub loading: f64,
    /// Seconds planned for each sweep's check (its cross-validation), if
    /// the sweeps are checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<f64>,
    /// Seconds planned for each sweep.
    pub sweep: f64,
    /// Seconds kept for re-running the patched model and writing.
    pub reserve: f64,
    /// Fold solves side by side.
    pub side_by_side: usize,
    /// Rounds of fold solves in one radius's cross-validation.
    pub rounds: usize,
    /// Radii a check may cross-validate (the auto path's, plus its best
    /// again on other folds; 1 for tune's default box).
    pub radii: usize,
}

impl Split {
    /// One line for people.
    pub fn describe(&self, sweeps: usize) -> String {
        let check = self.check.map_or(String::new(), |c| {
            format!(
                "the check {:.1} s ({} radi{} × {} round{} of folds, {} side by side), ",
                c,
                self.radii,
                if self.radii == 1 { "us" } else { "i at most" },
                self.rounds,
                if self.rounds == 1 { "" } else { "s" },
                self.side_by_side
            )
        });
        format!(
            "time limit {} s: {:.1} s loading and running the model; {}{} {:.1} s{}; {:.1} s kept for re-running the patched model and writing (time a step does not use goes to the next)",
            crate::num::fmt(self.limit),
            self.loading,
            check,
            if sweeps == 1 { "the sweep" } else { "each sweep" },
            self.sweep,
            if sweeps == 1 {
                String::new()
            } else {
                format!(" (up to {sweeps})")
            },
            self.reserve
        )
    }
}

impl Clock {
    /// Seconds left for work: until the deadline, less the reserve.
    pub fn available(&self) -> f64 {
        (self.budget.left() - self.reserve).max(0.0)
    }

    /// Rounds of fold solves for `folds` folds.
    pub fn rounds(&self, folds: usize) -> usize {
        folds.div_ceil(self.workers.max(1))
    }

    /// The end of a stage of `units` units when `total` units (this one's
    /// included) are left: its share of the time available now.
    pub fn share(&self, units: f64, total: f64) -> Instant {
        let part = if total > 0.0 { units / total } else { 1.0 };
        after(self.available() * part.clamp(0.0, 1.0))
    }

    /// The split planned now, for `sweeps` sweeps, each checked with
    /// `radii` radii of `folds` folds (`radii` 0: unchecked).
    pub fn split(&self, loading: f64, sweeps: usize, radii: usize, folds: usize) -> Split {
        let rounds = self.rounds(folds);
        let check = (radii * rounds) as f64;
        let per_sweep = self.available() / sweeps.max(1) as f64;
        Split {
            limit: self.budget.limit(),
            loading,
            check: (radii > 0).then(|| per_sweep * check / (check + 1.0)),
            sweep: per_sweep / (check + 1.0),
            reserve: self.reserve,
            side_by_side: self.workers,
            rounds,
            radii,
        }
    }
}

/// Fold solves side by side: `threads` (`--threads`), else one a core.
pub fn side_by_side(threads: Option<u32>) -> usize {
    match threads {
        Some(t) => t as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
    .max(1)
}

/// The end of one of `left` equal parts of the time until `until`.
pub fn part_of(until: Instant, left: usize) -> Instant {
    after(secs_until(until) / left.max(1) as f64)
}

/// Whether `until` has passed.
pub fn spent(until: Instant) -> bool {
    Instant::now() >= until
}

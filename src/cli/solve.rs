//! `gdmilp solve layer.mps -o sol.txt`: the embedded HiGHS. Uses the MIP
//! start export wrote beside the model when it is there, writes HiGHS's own
//! solution file (which `apply` reads). Exit 1 when there is no solution.

use crate::error::{Error, Result};
use crate::solvers::highs::Settings;
use crate::workflow::solve::{SolvePlan, StartFile, TimeLimit};
use clap::Args;
use std::path::PathBuf;

/// Solver options shared by solve and tune.
#[derive(Debug, Args, Clone)]
pub struct SolverArgs {
    /// The whole command's wall clock, in seconds (default: 300, five
    /// minutes; at most a year, 3.2e7). Reading, ONNX Runtime's passes,
    /// tune's check and --radius auto's path, every solve and writing come
    /// out of it: tune splits it and prints the split. At the deadline the
    /// command answers with the best it has (a solver's incumbent; for
    /// tune, the weights it started from when no sweep finished), exit 0.
    #[arg(long, value_name = "SECONDS")]
    pub time_limit: Option<f64>,
    /// Threads HiGHS may use (default: HiGHS's choice); tune's
    /// cross-validation solves this many folds side by side, one thread
    /// each (default: one a core).
    #[arg(long, value_name = "N")]
    pub threads: Option<u32>,
    /// Stop when the relative MIP gap is at most this (default: HiGHS's 1e-4).
    #[arg(long, value_name = "GAP")]
    pub gap: Option<f64>,
    /// No solver log on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The most threads `--threads` takes: HiGHS starts them all at once (a
/// hundred thousand hung it for a minute).
const MAX_THREADS: u32 = 1024;

impl SolverArgs {
    /// Checks the values before any work is done.
    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(t) = self.threads.filter(|t| !(1..=MAX_THREADS).contains(t)) {
            return Err(Error::usage(format!(
                "--threads must be between 1 and {MAX_THREADS}, not {t}"
            )));
        }
        TimeLimit::new(self.time_limit)?;
        if let Some(g) = self.gap.filter(|g| !(g.is_finite() && *g >= 0.0)) {
            return Err(Error::usage(format!(
                "--gap must be a number ≥ 0, not {}",
                crate::num::shown(g)
            )));
        }
        Ok(())
    }

    pub(crate) fn settings(&self) -> Settings {
        Settings {
            time_limit: None,
            threads: self.threads,
            gap: self.gap,
            quiet: self.quiet,
        }
    }
}

/// Arguments of `solve`.
#[derive(Debug, Args)]
pub struct SolveArgs {
    /// The MILP file (.mps, .lp, optionally .gz), as export wrote it.
    pub model: PathBuf,
    /// The solution file to write (HiGHS's raw format).
    #[arg(short, long, value_name = "FILE")]
    pub output_file: PathBuf,
    /// MIP start (default: MODEL.mst beside the model, e.g. layer.mps.mst,
    /// if present).
    #[arg(long, value_name = "FILE")]
    pub start: Option<PathBuf>,
    /// Do not use a MIP start.
    #[arg(long, conflicts_with = "start")]
    pub no_start: bool,
    #[command(flatten)]
    pub solver: SolverArgs,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(a: SolveArgs) -> Result<u8> {
    let plan = SolvePlan {
        model: &a.model,
        output: &a.output_file,
        start: match (&a.start, a.no_start) {
            (_, true) => StartFile::Without,
            (Some(p), _) => StartFile::Given(p.clone()),
            (None, _) => StartFile::Beside,
        },
        settings: a.solver.settings(),
        time_limit: a.solver.time_limit,
    };
    let _lock = plan.check()?;
    a.solver.validate()?;
    let out = plan.run()?;
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "status": out.status, "optimal": out.optimal, "objective": out.objective,
                "bound": out.bound, "solution": crate::formats::manifest::path_json(&out.solution),
                "protect_rounds": out.protect_rounds,
            })
        );
    }
    errln!(
        "{}: objective {} (bound {}); wrote {}",
        out.status,
        crate::num::fmt(out.objective),
        out.bound.map_or("none proven".to_string(), crate::num::fmt),
        out.solution.display()
    );
    Ok(0)
}

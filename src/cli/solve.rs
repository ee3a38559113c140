//! `gdmilp solve layer.mps -o sol.txt`: the embedded HiGHS. Uses the MIP
//! start export wrote beside the model when it is there, writes HiGHS's own
//! solution file (which `apply` reads). Exit 1 when there is no solution.

use crate::error::{Error, Result};
use crate::formats::{self, mip_start, FileKind};
use crate::solvers::highs::{Highs, Settings};
use clap::Args;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Solver options shared by solve and tune.
#[derive(Debug, Args, Clone)]
pub struct SolverArgs {
    /// Stop after this many seconds (per sweep for tune, and per fold of
    /// the cross-validation tune runs before a sweep without --radius)
    /// and use the best solution found (default: no limit).
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
        // A year: beyond it a limit means none, and a Duration cannot hold
        // much more than that reliably on every platform.
        if let Some(t) = self
            .time_limit
            .filter(|t| !(t.is_finite() && *t > 0.0 && *t <= 3.2e7))
        {
            return Err(Error::usage(format!(
                "--time-limit must be a positive number of seconds (at most a year, 3.2e7), not {}",
                crate::num::shown(t)
            )));
        }
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
            time_limit: self.time_limit,
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

/// A decompressed copy of a .gz model, removed when dropped.
struct TempModel(PathBuf);

impl Drop for TempModel {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn gunzip(path: &Path) -> Result<TempModel> {
    let dir = std::env::temp_dir().join(format!("gdmilp-solve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "create", e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let target = dir.join(name.trim_end_matches(".gz").trim_end_matches(".GZ"));
    let guard = TempModel(target.clone());
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(f)
        .read_to_end(&mut text)
        .map_err(|e| Error::invalid(path, format!("is not valid gzip: {e}")))?;
    std::fs::write(&target, text).map_err(|e| Error::io(&target, "write", e))?;
    Ok(guard)
}

pub(super) fn run(a: SolveArgs) -> Result<u8> {
    let kind = FileKind::from_path(&a.model)?;
    if !a.model.is_file() {
        return Err(Error::io(
            &a.model,
            "read",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    a.solver.validate()?;
    let start_path = match (&a.start, a.no_start) {
        (_, true) => None,
        (Some(p), _) => Some(p.clone()),
        (None, _) => Some(formats::sidecars(&a.model).start).filter(|p| p.is_file()),
    };
    let _lock = crate::formats::atomic::Lock::take(&a.output_file)?;
    let mut inputs = vec![a.model.as_path()];
    inputs.extend(start_path.as_deref());
    crate::formats::atomic::check_outputs(&[&a.output_file], &inputs)?;
    let unzipped = if kind.gz {
        Some(gunzip(&a.model)?)
    } else {
        None
    };
    let read_path = unzipped
        .as_ref()
        .map_or(a.model.as_path(), |t| t.0.as_path());
    let mut highs = Highs::new(&a.solver.settings())?;
    highs.read(read_path).map_err(|e| match e {
        Error::Invalid { msg, .. } => Error::invalid(&a.model, msg),
        other => other,
    })?;
    let mut start = None;
    if let Some(sp) = &start_path {
        let text =
            std::fs::read_to_string(sp).map_err(|e| Error::io(sp, "read the MIP start", e))?;
        let by_name = mip_start::read(sp, &text)?;
        let names = highs.col_names();
        let values: Vec<f64> = names
            .iter()
            .map(|n| {
                by_name
                    .get(n)
                    .copied()
                    .or_else(|| mip_start::unlisted(n))
                    .ok_or_else(|| {
                        Error::invalid(
                            sp,
                            format!(
                                "has no value for column '{n}'; it does not belong to {}",
                                a.model.display()
                            ),
                        )
                    })
            })
            .collect::<Result<_>>()?;
        start = Some(values);
        errln!("MIP start from {}", sp.display());
    }
    // (--time-limit is checked to be at most a year: a Duration holds it.)
    let deadline = a
        .solver
        .time_limit
        .and_then(|t| std::time::Instant::now().checked_add(std::time::Duration::from_secs_f64(t)));
    let solved = crate::workflow::protect::solve_file(&mut highs, start.as_deref(), deadline);
    let (out, rounds) = solved.map_err(|e| match e {
        Error::Rejected(m) => Error::Rejected(format!("{}: {m}", a.model.display())),
        other => other,
    })?;
    if !out.has_solution {
        return Err(Error::Rejected(format!(
            "{}: HiGHS ended with '{}' and no solution; nothing written",
            a.model.display(),
            out.status
        )));
    }
    highs.write_solution(&a.output_file)?;
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "status": out.status, "optimal": out.optimal, "objective": out.objective,
                "bound": out.bound, "solution": crate::formats::manifest::path_json(&a.output_file),
                "protect_rounds": rounds.rounds,
            })
        );
    }
    errln!(
        "{}: objective {} (bound {}); wrote {}",
        out.status,
        formats::num::fmt(out.objective),
        out.bound
            .map_or("none proven".to_string(), formats::num::fmt),
        a.output_file.display()
    );
    Ok(0)
}

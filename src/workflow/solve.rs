//! `solve` as a library call ([`SolvePlan`]: read an exported file, map its
//! MIP start, run HiGHS with row generation over protected rows, write
//! HiGHS's solution file), and the one rule for a time limit that `solve`
//! and `tune` share ([`TimeLimit`], [`Budget`]).
//!
//! A time limit bounds the whole command, not one solve: its clock starts
//! when the plan runs, and reading, ONNX Runtime's passes, every solve and
//! writing come out of it. With none given a command still ends: `solve`
//! and `tune` default to [`DEFAULT_TIME_LIMIT`]. At the deadline a command
//! answers with the best it has: a solver's incumbent (a MIP start is
//! always one), or, in `tune`, the weights it started from.

use crate::error::{Error, Result};
use crate::formats::{self, mip_start, FileKind};
use crate::solvers::highs::{Highs, Settings};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The time limit of `solve` and `tune` when none is given: five minutes.
pub const DEFAULT_TIME_LIMIT: f64 = 300.0;

/// The longest time limit: a year (beyond it a limit means none, and a
/// `Duration` past an `Instant` cannot hold much more on every platform).
pub const MAX_TIME_LIMIT: f64 = 3.2e7;

/// A time limit checked by the one rule: a finite number of seconds above
/// 0 and at most [`MAX_TIME_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeLimit(f64);

impl TimeLimit {
    /// `seconds`, or the default when none is given; refused by the rule.
    pub fn new(seconds: Option<f64>) -> Result<TimeLimit> {
        let t = seconds.unwrap_or(DEFAULT_TIME_LIMIT);
        if t.is_finite() && t > 0.0 && t <= MAX_TIME_LIMIT {
            Ok(TimeLimit(t))
        } else {
            Err(Error::usage(format!(
                "--time-limit must be a positive number of seconds (at most a year, {MAX_TIME_LIMIT:e}), not {}",
                crate::num::shown(t)
            )))
        }
    }

    /// The seconds.
    pub fn seconds(self) -> f64 {
        self.0
    }
}

/// A command's wall clock: started once, ending at a deadline that every
/// step of the command shares.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    start: Instant,
    deadline: Instant,
    limit: f64,
}

impl Budget {
    /// Starts the clock of `limit` now.
    pub fn start(limit: TimeLimit) -> Budget {
        let start = Instant::now();
        let deadline = start
            .checked_add(Duration::from_secs_f64(limit.seconds()))
            .unwrap_or(start + Duration::from_secs(MAX_TIME_LIMIT as u64 / 2));
        Budget {
            start,
            deadline,
            limit: limit.seconds(),
        }
    }

    /// When the command must end.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The limit, in seconds.
    pub fn limit(&self) -> f64 {
        self.limit
    }

    /// Seconds since the clock started.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Seconds left (0 past the deadline).
    pub fn left(&self) -> f64 {
        secs_until(self.deadline)
    }
}

/// Seconds from now until `t` (0 when it has passed).
pub fn secs_until(t: Instant) -> f64 {
    t.saturating_duration_since(Instant::now()).as_secs_f64()
}

/// `now + seconds` (saturating far in the future).
pub fn after(seconds: f64) -> Instant {
    let now = Instant::now();
    Duration::try_from_secs_f64(seconds.max(0.0))
        .ok()
        .and_then(|d| now.checked_add(d))
        .unwrap_or(now + Duration::from_secs(MAX_TIME_LIMIT as u64))
}

/// Which MIP start `solve` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartFile {
    /// The one export wrote beside the model (`MODEL.mst`), when it is there.
    Beside,
    /// This file.
    Given(PathBuf),
    /// None.
    Without,
}

/// Everything one `solve` needs, checked before HiGHS reads anything.
#[derive(Debug, Clone)]
pub struct SolvePlan<'a> {
    /// The MILP file (.mps, .lp, optionally .gz), as export wrote it.
    pub model: &'a Path,
    /// The solution file to write (HiGHS's raw format).
    pub output: &'a Path,
    /// The MIP start.
    pub start: StartFile,
    /// Threads, gap, log.
    pub settings: Settings,
    /// The whole command's time limit in seconds (`None`: the default),
    /// checked by [`TimeLimit::new`].
    pub time_limit: Option<f64>,
}

/// What `solve` did.
#[derive(Debug, Clone)]
pub struct Solved {
    /// HiGHS's status.
    pub status: String,
    /// Proven optimal.
    pub optimal: bool,
    /// The objective of the solution written.
    pub objective: f64,
    /// The proven bound, when HiGHS proved one.
    pub bound: Option<f64>,
    /// Rounds of row generation over protected rows.
    pub protect_rounds: usize,
    /// The MIP start used, if any.
    pub start: Option<PathBuf>,
    /// The solution file written.
    pub solution: PathBuf,
}

impl SolvePlan<'_> {
    /// The MIP start file the plan uses, if any.
    fn start_path(&self) -> Option<PathBuf> {
        match &self.start {
            StartFile::Without => None,
            StartFile::Given(p) => Some(p.clone()),
            StartFile::Beside => Some(formats::sidecars(self.model).start).filter(|p| p.is_file()),
        }
    }

    /// Checks the files before any work: the model's format and presence,
    /// the output against the inputs (taking its lock).
    pub fn check(&self) -> Result<formats::atomic::Lock> {
        FileKind::from_path(self.model)?;
        // The system's own reason ("No such file or directory (os error
        // 2)"), as every other command words a missing file.
        match std::fs::metadata(self.model) {
            Err(e) => return Err(Error::io(self.model, "read", e)),
            Ok(m) if !m.is_file() => {
                return Err(Error::invalid(
                    self.model,
                    "is not a file (a MILP file to solve)",
                ))
            }
            Ok(_) => {}
        }
        TimeLimit::new(self.time_limit)?;
        let lock = formats::atomic::Lock::take(self.output)?;
        let start = self.start_path();
        let mut inputs = vec![self.model];
        inputs.extend(start.as_deref());
        formats::atomic::check_outputs(&[self.output], &inputs)?;
        Ok(lock)
    }

    /// Reads, solves until the time limit's deadline (counted from the
    /// call: reading the file comes out of it) and writes the solution.
    /// No solution at the deadline is a refused result (exit 1).
    pub fn run(&self) -> Result<Solved> {
        let budget = Budget::start(TimeLimit::new(self.time_limit)?);
        let kind = FileKind::from_path(self.model)?;
        let unzipped = if kind.gz {
            Some(gunzip(self.model)?)
        } else {
            None
        };
        let read_path = unzipped.as_ref().map_or(self.model, |t| t.0.as_path());
        let settings = Settings {
            time_limit: None,
            ..self.settings.clone()
        };
        let mut highs = Highs::new(&settings)?;
        highs.read(read_path).map_err(|e| match e {
            Error::Invalid { msg, .. } => Error::invalid(self.model, msg),
            other => other,
        })?;
        let start_path = self.start_path();
        let start = match &start_path {
            Some(sp) => Some(self.start_values(&highs, sp)?),
            None => None,
        };
        // What reading left of the limit, by HiGHS's own clock (row
        // generation over protected rows runs several solves: it stops at
        // the deadline itself).
        highs.set_time_limit(budget.left());
        let solved = crate::workflow::protect::solve_file(
            &mut highs,
            start.as_deref(),
            Some(budget.deadline()),
        );
        let (out, rounds) = solved.map_err(|e| match e {
            Error::Rejected(m) => Error::Rejected(format!("{}: {m}", self.model.display())),
            other => other,
        })?;
        if !out.has_solution {
            return Err(Error::Rejected(format!(
                "{}: HiGHS ended with '{}' and no solution; nothing written",
                self.model.display(),
                out.status
            )));
        }
        highs.write_solution(self.output)?;
        Ok(Solved {
            status: out.status,
            optimal: out.optimal,
            objective: out.objective,
            bound: out.bound,
            protect_rounds: rounds.rounds,
            start: start_path,
            solution: self.output.to_path_buf(),
        })
    }

    /// The MIP start at `sp`, one value per column of the model HiGHS read.
    fn start_values(&self, highs: &Highs, sp: &Path) -> Result<Vec<f64>> {
        let text =
            std::fs::read_to_string(sp).map_err(|e| Error::io(sp, "read the MIP start", e))?;
        let by_name = mip_start::read(sp, &text)?;
        let values = highs
            .col_names()
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
                                self.model.display()
                            ),
                        )
                    })
            })
            .collect::<Result<_>>()?;
        crate::progress::note(format_args!("MIP start from {}", sp.display()));
        Ok(values)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_the_time_limit() {
        assert_eq!(TimeLimit::new(None).unwrap().seconds(), DEFAULT_TIME_LIMIT);
        assert_eq!(TimeLimit::new(Some(0.5)).unwrap().seconds(), 0.5);
        assert_eq!(
            TimeLimit::new(Some(MAX_TIME_LIMIT)).unwrap().seconds(),
            MAX_TIME_LIMIT
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 4e7] {
            assert!(TimeLimit::new(Some(bad)).is_err(), "{bad}");
        }
        let b = Budget::start(TimeLimit::new(Some(MAX_TIME_LIMIT)).unwrap());
        assert!(b.left() > 1e7);
    }
}

//! `tune` as a library call, like `export` and `apply`: a [`TunePlan`]
//! (what to read, the box, the sweeps, the time limit) checked before any
//! slow work, then run into a [`Tuned`] — the validation data split off or
//! read, the default box chosen, the folds checked, the protect file
//! loaded, the time limit split ([`super::budget`]), the sweeps run and the
//! outputs committed as one group. The CLI turns flags into the plan and
//! the result into lines.

use super::budget::{self, Clock};
use super::{Plan, Report};
use crate::data::{self, Task};
use crate::error::{Error, Result};
use crate::formats::atomic;
use crate::formulation::radius::Radius;
use crate::formulation::{MseForm, Options};
use crate::onnx::Activation;
use crate::solvers::highs::Settings;
use crate::solvers::strategy;
use crate::workflow::apply::{self, PatchedFiles};
use crate::workflow::pipeline::{self, DataSpec, SelectSpec, WarmStart};
use crate::workflow::solve::{Budget, TimeLimit};
use std::path::Path;
use std::time::Instant;

/// Everything one `tune` needs, before anything is read.
#[derive(Debug, Clone)]
pub struct TunePlan<'a> {
    /// The ONNX model.
    pub model: &'a Path,
    /// The training data and how to read it.
    pub data: DataSpec,
    /// The model output to follow, if not the only float one.
    pub output: Option<&'a str>,
    /// The tuned model to write.
    pub tuned: &'a Path,
    /// The JSON report to write, if any.
    pub report: Option<&'a Path>,
    /// Keep each sweep's files in this folder.
    pub keep: Option<&'a Path>,
    /// Validation data (same keys as the training data).
    pub val: Option<&'a Path>,
    /// Hold out this share of the training data as validation data instead.
    pub val_split: Option<f64>,
    /// The box given, if any (`None`: tune's default, checked).
    pub radius: Option<Radius>,
    /// A fixed bias radius.
    pub bias_radius: Option<f64>,
    /// Point selection (and the seed of splits and folds).
    pub selection: SelectSpec,
    /// Folds of the check.
    pub folds: usize,
    /// Most sweeps.
    pub sweeps: usize,
    /// After validation rejects a sweep, retry in a box this much smaller.
    pub shrink: Option<f64>,
    /// How each sweep is solved.
    pub method: strategy::Choice,
    /// Points that must not get worse (a data file).
    pub protect: Option<&'a Path>,
    /// zero-one's MIP start (`None`: tune's default).
    pub warm_start: Option<WarmStart>,
    /// mse's form (`None`: by the layer).
    pub mse_form: Option<MseForm>,
    /// Threads, gap, log.
    pub settings: Settings,
    /// The whole command's time limit in seconds (`None`: the default).
    pub time_limit: Option<f64>,
}

/// What a tune produced.
pub struct Tuned {
    /// The sweeps, the check and the metrics.
    pub report: Report,
    /// The files written.
    pub written: PatchedFiles,
    /// The validation data is a held-out part of the training data.
    pub held_out: bool,
}

impl TunePlan<'_> {
    /// Checks the numbers, the combinations and the files before anything
    /// is read (taking the output's lock).
    pub fn check(&self) -> Result<atomic::Lock> {
        if let Some(f) = self.val_split {
            if !(0.0..1.0).contains(&f) {
                return Err(Error::usage(format!(
                    "--val-split must be at least 0 and below 1 (a fraction of the data), not {}",
                    crate::num::shown(f)
                )));
            }
        }
        if self.sweeps == 0 {
            return Err(Error::usage("--sweeps must be at least 1"));
        }
        let split = super::val_split(self.val_split);
        if let Some(f) = self.shrink {
            if !(f > 0.0 && f < 1.0) {
                return Err(Error::usage(format!(
                    "--shrink must be between 0 and 1, not {}",
                    crate::num::shown(f)
                )));
            }
            if self.val.is_none() && split.is_none() {
                return Err(Error::usage(
                    "--shrink acts when validation rejects a sweep: give --val or --val-split",
                ));
            }
        }
        if self.keep.is_some() && self.val.is_none() && split.is_some() {
            return Err(Error::usage(
                "--keep writes files that apply checks against the data file, but with --val-split a sweep's points are a shuffled part of it: give the validation data as --val FILE",
            ));
        }
        if self.folds < 2 {
            return Err(Error::usage(format!(
                "--folds must be at least 2, not {}",
                self.folds
            )));
        }
        TimeLimit::new(self.time_limit)?;
        // Every output checked before the slow work (the model is written
        // before the report: a bad report path must not find it replaced).
        let lock = atomic::Lock::take(self.tuned)?;
        self.check_files()?;
        Ok(lock)
    }

    /// The outputs (and the keep folder) against the inputs.
    fn check_files(&self) -> Result<()> {
        let outputs: Vec<&Path> = std::iter::once(self.tuned).chain(self.report).collect();
        let inputs: Vec<&Path> = std::iter::once(self.data.path.as_path())
            .chain(self.val)
            .chain(self.protect)
            .collect();
        atomic::check_outputs(&outputs, &inputs)?;
        if let Some(r) = self.report {
            atomic::check_outputs(&[r], &[self.model])?;
        }
        if let Some(dir) = self.keep {
            if dir.exists() && !dir.is_dir() {
                return Err(Error::invalid(
                    dir,
                    "is not a directory: --keep names a folder for the sweeps' files (made when missing)",
                ));
            }
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create", e))?;
            atomic::check_outputs(&[&dir.join("sweep1.mps")], &[])?;
            for out in outputs {
                if keeps(dir, out) {
                    return Err(Error::invalid(
                        out,
                        format!(
                            "is a name --keep {} writes (sweepK.mps, its manifest and starts, sweepK.sol): the two would be one file; choose another name",
                            dir.display()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Loads, splits, checks the folds, runs the sweeps within the time
    /// limit (its clock starts here) and commits the tuned model and the
    /// report together. `options_for` gives the formulation's options once
    /// the data has said the task (the caller's defaults and checks).
    pub fn run(&self, options_for: impl FnOnce(Task) -> Result<Options>) -> Result<Tuned> {
        let budget = Budget::start(TimeLimit::new(self.time_limit)?);
        let (model, layer, data) = pipeline::load_parts(self.model, self.output, &self.data)?;
        let split = super::val_split(self.val_split);
        let (train, val) = match (self.val, split) {
            (Some(p), _) => {
                let task = Some(data.y.task());
                let (x, y, mask) = (&data.x_key, &data.y_key, data.mask_key.as_deref());
                let v = data::load(
                    p,
                    data::Keys {
                        x: Some(x),
                        y: Some(y),
                        mask,
                        task,
                        over_sequence: false,
                    },
                )?;
                (data, Some(v))
            }
            (None, Some(f)) => {
                let (t, v) = data.split(f, self.selection.seed)?;
                (t, Some(v))
            }
            (None, None) => (data, None),
        };
        let radius = self.radius.unwrap_or(super::default_radius(val.is_some()));
        let checked = super::checked(self.radius);
        if checked {
            // Enough points for the folds, before the model runs.
            train.folds(self.folds, self.selection.seed)?;
        }
        let pass = Instant::now();
        let loaded = pipeline::Loaded::from_parts(model, layer, train, self.data.batch_size)?;
        let pass = pass.elapsed().as_secs_f64();
        let protect = match self.protect {
            Some(p) => Some(crate::workflow::protect::load(
                p,
                &loaded.data,
                &loaded.model,
                &loaded.layer,
                self.data.batch_size,
            )?),
            None => None,
        };
        let mut options = options_for(loaded.data.y.task())?;
        let relu = loaded.layer.activation == Activation::Relu;
        let (form, note) = super::mse_form(&options, self.mse_form, relu)?;
        options.mse_form = form;
        if let Some(n) = note {
            crate::progress::note(format_args!("note     {n}"));
        }
        // The end: the patched model re-run on every point it is judged on
        // (an ONNX Runtime pass costs in proportion to its points), and
        // writing it.
        let points = loaded.data.y.len().max(1) as f64;
        let others =
            val.as_ref().map_or(0, |v| v.y.len()) + protect.as_ref().map_or(0, |p| p.data.y.len());
        let rerun = pass * (1.0 + others as f64 / points);
        let bytes = std::fs::metadata(self.model).map_or(0, |m| m.len()) as f64;
        let clock = Clock {
            budget,
            reserve: 1.2 * rerun + bytes / 100e6 + 0.1,
            rerun,
            workers: budget::side_by_side(self.settings.threads).min(self.folds),
        };
        let original = loaded.model.clone();
        let layer = loaded.layer.clone();
        let plan = Plan {
            selection: self.selection.clone(),
            options,
            radius,
            checked,
            folds: self.folds,
            bias_radius: self.bias_radius,
            settings: self.settings.clone(),
            clock,
            sweeps: self.sweeps,
            keep: self.keep,
            batch_size: self.data.batch_size,
            val: val.as_ref(),
            warm_start: self.warm_start.unwrap_or(super::DEFAULT_WARM_START),
            shrink: self.shrink,
            method: self.method,
            protect: protect.as_ref(),
        };
        let (wts, report) = super::tune(loaded, &plan)?;
        // The tuned model, its data files and the report appear together.
        let (written, mut files) = apply::finish(&original, &layer, &wts, self.tuned)?;
        if let Some(r) = self.report {
            files.push(super::finish_report(&report, r)?);
        }
        atomic::commit_all(files)?;
        Ok(Tuned {
            report,
            written,
            held_out: split.is_some() && self.val.is_none(),
        })
    }
}

/// Whether `out` is a file `--keep dir` may write: `sweepK.mps…` or
/// `sweepK.sol` in that folder.
fn keeps(dir: &Path, out: &Path) -> bool {
    let folder = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let same = match (std::fs::canonicalize(folder), std::fs::canonicalize(dir)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let name = out.file_name().unwrap_or_default().to_string_lossy();
    let Some(rest) = name.strip_prefix("sweep") else {
        return false;
    };
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let tail = &rest[digits..];
    same && digits > 0 && (tail.starts_with(".mps") || tail == ".sol")
}

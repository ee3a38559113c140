//! The command line: clap structs, one file per subcommand. Each file turns
//! its arguments into library calls and prints; no logic lives here that a
//! library caller would need.

/// `println!` for command output: once stdout is closed (`gdmilp … | head`)
/// the rest is dropped quietly and the command still finishes its work
/// (files are written, the exit code is the command's); `println!` would
/// panic there.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::out_line(format_args!($($arg)*))
    };
}

/// A line for people on stderr, through the progress sink (a redrawn step
/// line is cleared first; `--progress json` makes it a `note` event); a
/// stderr that cannot be written drops it instead of panicking.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::progress::line(format_args!($($arg)*))
    };
}

mod apply;
mod eval;
mod export;
mod inspect;
pub mod progress;
#[cfg(feature = "highs")]
mod solve;
#[cfg(feature = "highs")]
mod tune;
mod values;

use crate::data::{Select, Task};
use crate::error::Result;
use crate::formulation::radius::Radius;
use crate::formulation::{BadOption, Cap, Field, Form, Loss, MseForm, Options};
use crate::workflow::pipeline::{DataSpec, SelectSpec, WarmStart};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Compile the final layer of a trained network into a MILP any solver can
/// run, and put the solver's answer back into the network.
#[derive(Debug, Parser)]
#[command(name = "gdmilp", version, about, long_about = None)]
pub struct Cli {
    /// ONNX Runtime library (libonnxruntime.so). Default: ORT_DYLIB_PATH,
    /// then a .venv made by scripts/setup, then python3's onnxruntime.
    #[arg(long, global = true, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
    /// How progress is shown on stderr: auto (a redrawn line on a terminal,
    /// a line every few seconds in a log), or json (one object a line, for
    /// programs). --quiet hides the solver's log and the steps.
    #[arg(long, global = true, value_enum, default_value_t = progress::Mode::Auto)]
    pub progress: progress::Mode,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the final dense layer gdmilp would re-optimise.
    Inspect(inspect::InspectArgs),
    /// Loss / accuracy of a model on data.
    Eval(eval::EvalArgs),
    /// Write the final layer's MILP (.mps, .lp, .gz), a manifest and a MIP start.
    Export(export::ExportArgs),
    /// Patch the model with a solver's solution, re-run it and report before/after.
    Apply(apply::ApplyArgs),
    /// Solve an exported MILP with the embedded HiGHS.
    #[cfg(feature = "highs")]
    Solve(solve::SolveArgs),
    /// Export → embedded HiGHS → apply in one step, for one or more sweeps.
    #[cfg(feature = "highs")]
    Tune(tune::TuneArgs),
}

/// Runs a parsed command line; returns the exit code on success.
pub fn run(cli: Cli) -> Result<u8> {
    crate::inference::runtime::set_library(cli.ort_lib);
    let quiet = match &cli.command {
        #[cfg(feature = "highs")]
        Command::Solve(a) => a.solver.quiet,
        #[cfg(feature = "highs")]
        Command::Tune(a) => a.solver.quiet,
        _ => false,
    };
    progress::install(cli.progress, quiet);
    // A group of files a run stopped while renaming is completed before
    // anything reads it (see formats::atomic).
    crate::formats::atomic::settle(&cli.command.files())?;
    match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Export(a) => export::run(a),
        Command::Apply(a) => apply::run(a),
        #[cfg(feature = "highs")]
        Command::Solve(a) => solve::run(a),
        #[cfg(feature = "highs")]
        Command::Tune(a) => tune::run(a),
    }
}

impl Command {
    /// The files the command reads and writes (apply also looks for
    /// manifests in the working directory).
    fn files(&self) -> Vec<&std::path::Path> {
        let cwd = std::path::Path::new("");
        match self {
            Command::Inspect(a) => vec![&a.model],
            Command::Eval(a) => vec![&a.model, &a.data],
            Command::Export(a) => vec![&a.model, &a.data, &a.output_file],
            Command::Apply(a) => [&a.solution, &a.model]
                .into_iter()
                .map(|p| p.as_path())
                .chain(a.manifest.as_deref())
                .chain(a.output_file.as_deref())
                .chain([cwd])
                .collect(),
            #[cfg(feature = "highs")]
            Command::Solve(a) => vec![&a.model, &a.output_file],
            #[cfg(feature = "highs")]
            Command::Tune(a) => vec![&a.model, &a.data, &a.output_file],
        }
    }
}

/// Model and data options shared by eval, export and tune.
#[derive(Debug, Args, Clone)]
pub struct DataArgs {
    /// Model output, or any tensor a node computes, to follow (default: the
    /// first float output, else the scores an ArgMax/TopK output picks from).
    #[arg(long, value_name = "NAME")]
    pub output: Option<String>,
    /// Key of the inputs in the .npz (default: x, X, inputs, features or data).
    #[arg(long, value_name = "KEY")]
    pub x_key: Option<String>,
    /// Key of the labels in the .npz (default: y, Y, labels, label, targets or target).
    #[arg(long, value_name = "KEY")]
    pub y_key: Option<String>,
    /// Key of the mask of a data set of sequences, [sequences, positions]
    /// with 1 for a real position and 0 for padding (default, for a head
    /// whose output has a sequence axis: mask or attention_mask when
    /// present; a mask makes each position a point).
    #[arg(long, value_name = "KEY")]
    pub mask_key: Option<String>,
    /// Task (default: classification for integer labels, regression for float targets).
    #[arg(long, value_enum)]
    pub task: Option<Task>,
    /// Points (or sequences, with a mask) per ONNX Runtime call (a fixed
    /// batch dimension in the model wins).
    #[arg(long, default_value_t = 1024, value_name = "N", value_parser = at_least_one)]
    pub batch_size: usize,
}

/// A count of at least 1 (clap's own range parser words 0 as "not in
/// 1..18446744073709551615").
fn at_least_one(text: &str) -> std::result::Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e} (a whole number of at least 1)")),
    }
}

impl DataArgs {
    pub(crate) fn spec(&self, data: PathBuf) -> DataSpec {
        DataSpec {
            path: data,
            x_key: self.x_key.clone(),
            y_key: self.y_key.clone(),
            mask_key: self.mask_key.clone(),
            task: self.task,
            batch_size: self.batch_size,
        }
    }
}

/// Formulation and selection options shared by export and tune.
#[derive(Debug, Args, Clone)]
pub struct FormArgs {
    /// Which points go to the solver: all, misclassified (a seeded sample of
    /// wrong points), random, first, or worst (largest current loss).
    #[arg(long, value_enum, default_value_t = Select::All)]
    pub select: Select,
    /// How many points to select (default: all that the rule picks).
    #[arg(long, value_name = "N")]
    pub points: Option<usize>,
    /// Seed for --select random / misclassified.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The box: every weight may move by at most r from its current value.
    /// A number is r itself (0.05, the paper's setting); Fx (e.g. 0.5x)
    /// picks r so that the median reach of an activation, r·‖h‖₁ + r_b, is F
    /// times the median |margin| (classification) or |residual|
    /// (regression) now, the same box at any layer size or scale; auto
    /// (tune) cross-validates relative radii 0.125x to 32x on DATA (--folds)
    /// and sweeps all of DATA at the one that scored best. Default: 0.5x for
    /// export; for tune 0.5x, cross-validated before each sweep (the sweep
    /// runs only when its out-of-fold predictions beat the current model's
    /// by more than chance, p ≤ 0.05), or auto with --val or --val-split
    /// (which then judge the sweep). A radius given is swept as given,
    /// unchecked.
    #[arg(long, value_name = "R", allow_hyphen_values = true)]
    pub radius: Option<String>,
    /// Box radius of the biases, absolute (default: the same as the
    /// weights' r).
    #[arg(long, value_name = "R")]
    pub bias_radius: Option<f64>,
    /// The loss the solver minimises. Regression: mse (default), l1, linf.
    /// Classification: zero-one (default; the paper's MILP, exact, slow) or
    /// hinge (an LP: fast, often as good on unseen data). l1, linf, hinge
    /// and mse (as segments or tangents) are LPs that every solver reads
    /// (HiGHS, CBC, GLPK, SCIP, Gurobi, CPLEX, …); after a ReLU they are
    /// MILPs.
    #[arg(long, value_enum)]
    pub loss: Option<Loss>,
    /// Classification margin: zero-one counts a point correct when its
    /// label's output beats every other by at least this (default 1e-3);
    /// hinge charges max(0, margin − difference) (default 1).
    #[arg(long, value_name = "M")]
    pub margin: Option<f64>,
    /// Classification model: compact (margins on the weights) or paper
    /// (explicit activation variables a_t_j).
    #[arg(long, value_enum, default_value_t = Form::Compact)]
    pub formulation: Form,
    /// Classification: require at least as many correct points as now
    /// (the paper's lower bound).
    #[arg(long)]
    pub keep_accuracy: bool,
    /// Regression: `point` caps each point's error at its current value
    /// (the paper's constraint 6; pins the weights when points ≫ features).
    #[arg(long, value_enum, default_value_t = Cap::None)]
    pub cap: Cap,
    /// How mse is written. segments: r² piecewise linear over segments of
    /// each residual's range, an LP every solver reads whose optimum is
    /// within 0.03 % + a stated small amount of the least-squares optimum.
    /// tangents: the same accuracy from tangent lines (~90 rows a residual:
    /// far slower to solve; its optimum is a lower bound on the exact one).
    /// quadratic: the exact objective, a convex QP for HiGHS, SCIP, Gurobi,
    /// CPLEX (not CBC, which ignores it, or GLPK); a MIQP after a ReLU,
    /// which HiGHS cannot solve. Default: segments for export; for tune,
    /// quadratic unless a ReLU follows the layer or --cap point is given.
    #[arg(long, value_enum, value_name = "FORM")]
    pub mse_form: Option<MseForm>,
    /// zero-one: the MIP start. current (the current weights) or hinge:
    /// first solve the hinge LP on the same points and box with the
    /// embedded HiGHS, and start from its weights when they have more
    /// points correct. Default: export current, tune hinge.
    #[arg(long, value_enum)]
    pub warm_start: Option<WarmStart>,
    /// Points that must not get worse (.npz, the data file's keys): every
    /// point the model gets right now stays right with the margin (the
    /// smaller of --margin and its margin now), every regression output's
    /// error stays at most what it is now. Hard rows on the weights; apply
    /// checks each point in ONNX Runtime.
    #[arg(long, value_name = "FILE")]
    pub protect: Option<PathBuf>,
}

impl FormArgs {
    /// The options; a relative radius (or auto) leaves r = r_b = 0 here,
    /// resolved per sweep from the data.
    pub(crate) fn options(&self, task: Task) -> Options {
        let loss = self.loss.unwrap_or(Loss::default_for(task));
        let r = match self.radius() {
            Ok(Some(Radius::Absolute(r))) => r,
            _ => 0.0,
        };
        Options {
            task,
            loss,
            radius: r,
            bias_radius: self.bias_radius.unwrap_or(r),
            margin: self.margin.unwrap_or(loss.default_margin()),
            form: self.formulation,
            keep_accuracy: self.keep_accuracy,
            cap: self.cap,
            mse_form: self.mse_form.unwrap_or(MseForm::Segments),
        }
    }

    pub(crate) fn selection(&self) -> SelectSpec {
        SelectSpec {
            select: self.select,
            points: self.points,
            seed: self.seed,
        }
    }

    /// Checks the options that depend on the task (known once the data,
    /// `data`, is read).
    pub(crate) fn check_for(&self, opts: &Options, data: &std::path::Path) -> Result<()> {
        if let Err(e) = opts.validate() {
            let msg = flag_message(&e, opts);
            return Err(match e.field {
                Field::Loss => crate::Error::invalid(data, msg),
                _ => crate::Error::usage(msg),
            });
        }
        if self.warm_start == Some(WarmStart::Hinge) && opts.loss != Loss::ZeroOne {
            return Err(crate::Error::usage(format!(
                "--warm-start hinge goes with --loss zero-one, not {}",
                opts.loss.name()
            )));
        }
        Ok(())
    }

    /// `--radius` as given, read.
    pub(crate) fn radius(&self) -> Result<Option<Radius>> {
        self.radius
            .as_deref()
            .map(Radius::parse)
            .transpose()
            .map_err(|m| crate::Error::usage(format!("--radius: {m}")))
    }

    /// Checks values before any work is done.
    pub(crate) fn validate(&self) -> Result<()> {
        self.radius()?;
        // The data (and so the task) is not read yet: check the numbers, and
        // the flags against the loss's own task.
        let task = self.loss.map_or(Task::Regression, Loss::task);
        let opts = self.options(task);
        opts.validate()
            .map_err(|e| crate::Error::usage(flag_message(&e, &opts)))?;
        if self.points == Some(0) {
            return Err(crate::Error::usage("--points must be at least 1"));
        }
        Ok(())
    }
}

/// A refused option in the command line's words.
fn flag_message(e: &BadOption, opts: &Options) -> String {
    let flag = match e.field {
        Field::Radius => "--radius".to_string(),
        Field::BiasRadius => "--bias-radius".to_string(),
        Field::Margin => "--margin".to_string(),
        Field::Loss => format!("--loss {}", opts.loss.name()),
        Field::Cap => "--cap point".to_string(),
        Field::KeepAccuracy => "--keep-accuracy or --formulation paper".to_string(),
    };
    format!("{flag} {}", e.msg)
}

/// The first stdout error other than a closed pipe (a full disk, an I/O
/// error), kept for [`stdout_error`].
static STDOUT_FAILED: std::sync::OnceLock<std::io::Error> = std::sync::OnceLock::new();

/// Writes one line of command output (see `outln!`). Never panics: once a
/// write fails, later lines are dropped; a closed pipe is not an error, any
/// other failure is reported by [`stdout_error`] when the command ends.
pub(crate) fn out_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    static CLOSED: AtomicBool = AtomicBool::new(false);
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = writeln!(std::io::stdout().lock(), "{line}") {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let _ = STDOUT_FAILED.set(e);
        }
    }
}

/// The error to report when command output could not be written (anything
/// but a closed pipe): exit 2, one line.
pub fn stdout_error() -> Option<crate::Error> {
    use std::io::Write;
    let flushed = std::io::stdout().flush();
    let e = match (STDOUT_FAILED.get(), flushed) {
        (Some(e), _) => std::io::Error::new(e.kind(), e.to_string()),
        (None, Err(e)) if e.kind() != std::io::ErrorKind::BrokenPipe => e,
        _ => return None,
    };
    Some(crate::Error::io("stdout", "write the command's output", e))
}

/// The metrics for people (see [`crate::formulation::metrics::Metrics::describe`]).
pub(crate) fn describe(m: &crate::formulation::metrics::Metrics) -> String {
    m.describe()
}

/// ` (weights in FILE, …)` when the patched model keeps external data.
pub(crate) fn weights_in(w: &crate::workflow::apply::PatchedFiles) -> String {
    if w.data_files.is_empty() {
        return String::new();
    }
    let files: Vec<String> = w
        .data_files
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    format!(" (weights in {})", files.join(", "))
}

/// Says on stderr why a data file was named otherwise.
pub(crate) fn print_notes(w: &crate::workflow::apply::PatchedFiles) {
    for n in &w.notes {
        errln!("note: {n}");
    }
}

//! The MILP for one final layer, built from numbers only (features,
//! current weights, labels): it never touches files or ONNX. The options
//! and losses live here; the frozen [`Problem`] and its builder in
//! `problem`, each loss's rows in [`regression`] and [`classification`].

pub mod bounds;
pub mod classification;
pub mod metrics;
pub mod names;
pub mod normal;
mod problem;
pub mod protect;
pub mod radius;
pub mod regression;

pub use crate::data::Task;
use ndarray::{ArcArray2, Array1, Array2};
pub use normal::Normal;
pub(crate) use problem::Builder;
pub use problem::{into_box, Column, Problem, Row, RowHead, Sense};
use serde::{Deserialize, Serialize};

/// New effective parameters of the layer.
#[derive(Debug, Clone)]
pub struct Weights {
    /// W, M×N.
    pub w: Array2<f64>,
    /// b, M (the current bias when it is not a variable).
    pub b: Array1<f64>,
}

/// Which classification model to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    /// Margins written directly on the weights (fewer columns).
    Compact,
    /// The paper's explicit activation variables `a_t_j`.
    Paper,
}

/// The per-point cap on regression errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cap {
    /// No cap (default).
    None,
    /// The paper's constraint (6): no point's error may grow.
    Point,
}

/// The loss the solver minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Regression: Σ (output − target)², the loss regressors train with
    /// (tangent lines: an LP; or the exact quadratic objective: a QP; a MILP
    /// or MIQP after a ReLU).
    Mse,
    /// Regression: Σ |output − target| (an LP; a MILP after a ReLU).
    L1,
    /// Regression: max |output − target| (an LP; a MILP after a ReLU).
    Linf,
    /// Classification: maximise the number of points correct with margin
    /// ε (a MILP; the paper's).
    ZeroOne,
    /// Classification: Σ_t max(0, max_j δ − (a_tℓ − a_tj)), the multiclass
    /// hinge with δ = the margin (an LP: fast, read by every solver).
    Hinge,
}

impl Loss {
    /// The default loss of a task.
    pub fn default_for(task: Task) -> Loss {
        match task {
            Task::Regression => Loss::Mse,
            Task::Classification => Loss::ZeroOne,
        }
    }

    /// The task the loss belongs to.
    pub fn task(self) -> Task {
        match self {
            Loss::Mse | Loss::L1 | Loss::Linf => Task::Regression,
            Loss::ZeroOne | Loss::Hinge => Task::Classification,
        }
    }

    /// The default margin: ε = 1e-3 for zero-one, δ = 1 for hinge.
    pub fn default_margin(self) -> f64 {
        match self {
            Loss::Hinge => 1.0,
            _ => 1e-3,
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::L1 => "l1",
            Loss::Linf => "linf",
            Loss::ZeroOne => "zero-one",
            Loss::Hinge => "hinge",
        }
    }
}

/// How the mse loss is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MseForm {
    /// r² as a piecewise-linear function over segments of the residual's
    /// range (chords of r², an LP with few rows: a MILP after a ReLU) that
    /// every solver reads; its objective is never below Σ r².
    Segments,
    /// Tangent lines of r² (an LP with ~90 rows a residual, slow to solve
    /// beyond a few hundred points); its optimum is a lower bound on the
    /// least-squares optimum.
    Tangents,
    /// The exact quadratic objective Σ r²: a convex QP (MIQP after a ReLU),
    /// for solvers that take one.
    Quadratic,
}

/// Per-term relative accuracy of the piecewise-linear forms: wherever |r|
/// is not tiny, chords and tangents are within this fraction of r².
pub const PWL_RELATIVE: f64 = 3e-4;

/// The absolute part of the piecewise-linear forms' error, as a fraction of
/// the loss at the current weights: residuals smaller than the first
/// breakpoint may be misjudged by up to this much in total.
pub const PWL_ABSOLUTE: f64 = 2e-4;

/// What a piecewise-linear mse form guarantees, with f the file's
/// objective plus the manifest's offset at a feasible point:
/// - segments: Σ r² ≤ f, and at an optimum f ≤ (1 + ε) Σ r² + δ, so an
///   optimum of the file has Σ r² ≤ (1 + ε) f* + δ, f* the least-squares
///   optimum;
/// - tangents: f ≤ Σ r² ≤ (f + δ) / (1 − ε), so an optimum has Σ r² ≤
///   (f* + δ) / (1 − ε) and its value is a lower bound on f*.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MseBound {
    /// Segments or tangents.
    pub form: MseForm,
    /// ε: the per-term relative gap.
    pub relative: f64,
    /// δ: the total absolute gap of small residuals.
    pub absolute: f64,
    /// Segment columns or tangent rows written.
    pub pieces: usize,
}

impl MseBound {
    /// The largest Σ r² a feasible point whose objective plus offset is
    /// `value` can have. (For tangents the offset holds only exact
    /// constants, so applying the bound to the total is safe.)
    pub fn most(&self, value: f64) -> f64 {
        match self.form {
            MseForm::Tangents => (value + self.absolute) / (1.0 - self.relative),
            _ => value,
        }
    }

    /// The file's optimum compared with the least-squares optimum f*, in
    /// words with numbers.
    pub fn describe(&self) -> String {
        let (e, d) = (
            crate::num::fmt(self.relative),
            crate::num::fmt(self.absolute),
        );
        match self.form {
            MseForm::Tangents => format!(
                "{} tangent rows: an optimum x of this file has Σ r² ≤ (f* + {d}) / (1 − {e}), f* the least-squares optimum, and its value is a lower bound on f*",
                self.pieces
            ),
            _ => format!(
                "{} segments: an optimum x of this file has Σ r² ≤ its objective ≤ (1 + {e}) f* + {d}, f* the least-squares optimum",
                self.pieces
            ),
        }
    }
}

/// Everything that shapes the formulation besides the numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Options {
    /// Regression or classification.
    pub task: Task,
    /// The loss minimised.
    pub loss: Loss,
    /// Box radius r of the weights.
    pub radius: f64,
    /// Box radius r_b of the biases.
    pub bias_radius: f64,
    /// Classification margin ε.
    pub margin: f64,
    /// Classification: compact or paper form.
    pub form: Form,
    /// Classification: Σ c_t ≥ the current count.
    pub keep_accuracy: bool,
    /// Regression: per-point cap.
    pub cap: Cap,
    /// mse: tangent lines or the exact quadratic objective.
    pub mse_form: MseForm,
}

/// An option of [`Options`] that a formulation cannot be built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `radius`.
    Radius,
    /// `bias_radius`.
    BiasRadius,
    /// `margin`.
    Margin,
    /// `loss`, against the task.
    Loss,
    /// `cap`, against the loss.
    Cap,
    /// `keep_accuracy` or `form`, against the loss.
    KeepAccuracy,
}

/// Why [`Options::validate`] refused: the field, and what is wrong with its
/// value in words that name no command-line flag (the CLI maps the field to
/// its flag).
#[derive(Debug, Clone, PartialEq)]
pub struct BadOption {
    /// The field.
    pub field: Field,
    /// What is wrong, starting with the value ("0.5 must be …").
    pub msg: String,
}

impl std::fmt::Display for BadOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.field, self.msg)
    }
}

impl Options {
    /// Checks the numbers (radii and margin finite and ≥ 0) and that loss,
    /// task, cap and form go together.
    pub fn validate(&self) -> Result<(), BadOption> {
        let bad = |field, msg: String| Err(BadOption { field, msg });
        for (field, v) in [
            (Field::Radius, self.radius),
            (Field::BiasRadius, self.bias_radius),
            (Field::Margin, self.margin),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(
                    field,
                    format!("must be a finite number ≥ 0, not {}", crate::num::shown(v)),
                );
            }
        }
        let task = |t: Task| {
            serde_json::to_value(t)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        };
        if self.loss.task() != self.task {
            let (l, t) = (task(self.loss.task()), task(self.task));
            return bad(Field::Loss, format!("is for {l}, but the task is {t}"));
        }
        if self.cap == Cap::Point && !matches!(self.loss, Loss::L1 | Loss::Mse) {
            return bad(Field::Cap, "goes with the losses mse and l1".into());
        }
        if self.loss == Loss::ZeroOne && self.margin == 0.0 {
            // The MILP would count a tie as correct; ONNX Runtime's argmax
            // picks one class of a tie, so the patched model would not.
            return bad(
                Field::Margin,
                "must be above 0 for the loss zero-one (with 0 a tie would count as correct, but the model's argmax picks one of the tied classes); the default is 0.001".into(),
            );
        }
        if self.loss == Loss::Hinge && (self.keep_accuracy || self.form == Form::Paper) {
            return bad(Field::KeepAccuracy, "goes with the loss zero-one".into());
        }
        Ok(())
    }

    /// How far the bias may move: r_b when the bias is a variable, else 0.
    pub fn bias_reach(&self, layer: &LayerData) -> f64 {
        if layer.bias_vars {
            self.bias_radius
        } else {
            0.0
        }
    }
}

/// What presolve removed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Presolve {
    /// Points handed to the formulation.
    pub points_in: usize,
    /// Points left in the model.
    pub points_kept: usize,
    /// Points correct for every weight in the box (fixed c_t = 1).
    pub fixed_correct: usize,
    /// Points wrong for every weight in the box (fixed c_t = 0).
    pub fixed_wrong: usize,
    /// Rows that can never bind.
    pub rows_dropped: usize,
    /// ReLUs whose sign the box fixes (no binary needed).
    pub relu_fixed: usize,
}

/// The layer being re-optimised: current W (M×N), b (M), and whether the
/// bias is a variable.
#[derive(Debug, Clone)]
pub struct LayerData {
    /// Current effective weights, M×N.
    pub w: Array2<f64>,
    /// Current effective bias, M.
    pub b: Array1<f64>,
    /// True when `b_j` are variables; otherwise `b` is a constant.
    pub bias_vars: bool,
}

/// The problem's task-specific data for building it.
pub struct Input<'a> {
    /// The layer.
    pub layer: &'a LayerData,
    /// Features of the selected points, T×N (shared with the caller's
    /// when they are all its points).
    pub features: ArcArray2<f64>,
    /// Data-file indices of the selected points.
    pub points: Vec<usize>,
    /// The model's activation after the layer.
    pub relu: bool,
    /// Classification labels of the selected points.
    pub classes: Option<&'a [usize]>,
    /// Regression targets of the selected points, T×M.
    pub targets: Option<&'a Array2<f64>>,
}

/// Builds the formulation `opts` asks for.
pub fn build(input: Input<'_>, opts: &Options) -> Result<Problem, String> {
    opts.validate().map_err(|e| e.to_string())?;
    let p = match opts.task {
        Task::Regression => regression::build(input, opts)?,
        Task::Classification => classification::build(input, opts)?,
    };
    Ok(p.finish())
}

//! The MILP for one final layer, built from numbers only (features,
//! current weights, labels): it never touches files or ONNX.
//!
//! A [`Problem`] stores columns and rows, but not the non-zeros: a row says
//! which layer activations `a_tj = w_j · h_t + b_j` it reads (with their
//! coefficients) and which auxiliary columns. Its non-zeros are generated
//! from the features on demand, row-wise ([`Problem::for_row`]) or
//! column-wise ([`Problem::for_column`]), so memory is O(T·N) for the
//! features, never O(non-zeros).

pub mod bounds;
pub mod classification;
pub mod names;
pub mod radius;
pub mod regression;

use crate::data::Task;
use names::{RowName, Var};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

/// Row sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sense {
    /// ≤
    Le,
    /// ≥
    Ge,
    /// =
    Eq,
}

/// A column (variable).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its name.
    pub var: Var,
    /// Lower bound (may be −∞).
    pub lower: f64,
    /// Upper bound (may be +∞).
    pub upper: f64,
    /// Integer (all of gdmilp's integers are binaries).
    pub integer: bool,
    /// Value at the current weights (the MIP start).
    pub start: f64,
}

/// A row: `Σ_j coef_j · a_tj + Σ aux  (sense)  rhs`.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Its name.
    pub name: RowName,
    /// Sense.
    pub sense: Sense,
    /// Right-hand side (constants of the activations already moved here).
    pub rhs: f64,
    /// Position of the point among the selected points, if the row reads
    /// activations.
    pub point: Option<usize>,
    /// (output j, coefficient) of the activations read, ascending j.
    pub act: Vec<(usize, f64)>,
    /// (column, coefficient) of auxiliary columns.
    pub aux: Vec<(usize, f64)>,
}

/// A row's name, sense and right-hand side, whether stored or generated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowHead {
    /// Its name.
    pub name: RowName,
    /// Sense.
    pub sense: Sense,
    /// Right-hand side.
    pub rhs: f64,
}

/// The mse tangent rows of one (point, output), generated on demand, not
/// stored (there are ~90 per term): `tg_t_j_k: sq − 2 p_k r ≥ −p_k²` for
/// the points p_k in `tangent_points[start..end]`. They follow the stored
/// rows, in the order they were added.
#[derive(Debug, Clone)]
struct TangentSet {
    t: usize,
    j: usize,
    r: usize,
    sq: usize,
    start: usize,
    end: usize,
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
                return bad(field, format!("must be a finite number ≥ 0, not {v}"));
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

/// A MILP over one layer, minimised.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Features of the selected points, T×N.
    pub features: Array2<f64>,
    /// Data-file index of each selected point.
    pub points: Vec<usize>,
    /// M.
    pub n_out: usize,
    /// N.
    pub n_in: usize,
    /// Whether `b_j` columns exist (right after the weights).
    pub bias_vars: bool,
    /// All columns: M·N weights (j-major), M biases if any, then auxiliaries.
    pub columns: Vec<Column>,
    /// All rows.
    pub rows: Vec<Row>,
    /// Objective coefficients (column, coefficient), ascending column.
    pub objective: Vec<(usize, f64)>,
    /// Constant added to the objective to get the loss (not in the file).
    pub objective_offset: f64,
    /// Quadratic objective terms (a, b, q) with a ≥ b: the objective adds
    /// Σ q·x_a·x_b (q·x_a² when a = b). Sorted by column b, then a: the
    /// lower triangle column by column.
    pub quadratic: Vec<(usize, usize, f64)>,
    /// The accuracy of a piecewise-linear mse form.
    pub mse_bound: Option<MseBound>,
    /// What presolve removed.
    pub presolve: Presolve,
    /// mse, exact, linear output: the normal equations the quadratic
    /// objective was written from (one problem per output on a shared Gram
    /// matrix), for a solver that uses that structure.
    pub normal: Option<crate::lsq::Normal>,
    /// Classification: the label of each selected point (for solvers that
    /// work on the hinge loss's own structure).
    pub labels: Option<Vec<usize>>,
    /// The layer's weights and bias when the problem was built: the box's
    /// centre (the columns' `start` may later hold another MIP start).
    centre: (Array2<f64>, Array1<f64>),
    tangents: Vec<TangentSet>,
    tangent_points: Vec<f64>,
    /// Per auxiliary column: the tangent set it belongs to, or u32::MAX.
    aux_tangent: Vec<u32>,
    /// Per output j: (row, point, coefficient) of the rows reading a_tj.
    by_output: Vec<Vec<(u32, u32, f64)>>,
    by_aux: Vec<Vec<(u32, f64)>>,
    nnz: usize,
}

impl Problem {
    /// Starts a problem with the layer's weight (and bias) columns.
    pub(crate) fn new(
        layer: &LayerData,
        features: Array2<f64>,
        points: Vec<usize>,
        opts: &Options,
    ) -> Problem {
        let (m, n) = layer.w.dim();
        let mut columns = Vec::with_capacity(m * n + m);
        for j in 0..m {
            for i in 0..n {
                let w = layer.w[[j, i]];
                columns.push(Column {
                    var: Var::W(j, i),
                    lower: w - opts.radius,
                    upper: w + opts.radius,
                    integer: false,
                    start: w,
                });
            }
        }
        if layer.bias_vars {
            for j in 0..m {
                let b = layer.b[j];
                columns.push(Column {
                    var: Var::B(j),
                    lower: b - opts.bias_radius,
                    upper: b + opts.bias_radius,
                    integer: false,
                    start: b,
                });
            }
        }
        Problem {
            features: features.as_standard_layout().into_owned(),
            points,
            n_out: m,
            n_in: n,
            bias_vars: layer.bias_vars,
            columns,
            rows: Vec::new(),
            objective: Vec::new(),
            objective_offset: 0.0,
            quadratic: Vec::new(),
            mse_bound: None,
            presolve: Presolve::default(),
            normal: None,
            labels: None,
            centre: (layer.w.clone(), layer.b.clone()),
            tangents: Vec::new(),
            tangent_points: Vec::new(),
            aux_tangent: Vec::new(),
            by_output: Vec::new(),
            by_aux: Vec::new(),
            nnz: 0,
        }
    }

    /// Adds an auxiliary column and returns its index.
    pub(crate) fn add_column(
        &mut self,
        var: Var,
        lower: f64,
        upper: f64,
        integer: bool,
        start: f64,
    ) -> usize {
        self.columns.push(Column {
            var,
            lower,
            upper,
            integer,
            start,
        });
        self.columns.len() - 1
    }

    /// Adds the tangent rows `sq ≥ 2 p r − p²` for each of `points`, after
    /// every stored row.
    pub(crate) fn add_tangents(
        &mut self,
        (t, j): (usize, usize),
        r: usize,
        sq: usize,
        points: impl IntoIterator<Item = f64>,
    ) {
        let start = self.tangent_points.len();
        self.tangent_points.extend(points);
        let end = self.tangent_points.len();
        if end > start {
            self.tangents.push(TangentSet {
                t,
                j,
                r,
                sq,
                start,
                end,
            });
        }
    }

    /// Number of rows, stored and generated.
    pub fn num_rows(&self) -> usize {
        self.rows.len() + self.tangent_points.len()
    }

    /// The tangent set and point of generated row `r` (≥ the stored rows).
    fn tangent(&self, r: usize) -> (&TangentSet, usize, f64) {
        let g = r - self.rows.len();
        let set = &self.tangents[self.tangents.partition_point(|s| s.end <= g)];
        (set, g - set.start, self.tangent_points[g])
    }

    /// Name, sense and right-hand side of row `r`.
    pub fn row_head(&self, r: usize) -> RowHead {
        if let Some(row) = self.rows.get(r) {
            return RowHead {
                name: row.name,
                sense: row.sense,
                rhs: row.rhs,
            };
        }
        let (set, k, p) = self.tangent(r);
        RowHead {
            name: RowName::Tangent(set.t, set.j, k),
            sense: Sense::Ge,
            rhs: -p * p,
        }
    }

    /// Builds the column-wise index; call once after the last row.
    pub(crate) fn finish(mut self) -> Problem {
        self.objective.sort_by_key(|&(c, _)| c);
        self.quadratic.sort_by_key(|&(a, b, _)| (b, a));
        let mut by_output = vec![Vec::new(); self.n_out];
        let mut by_aux = vec![Vec::new(); self.columns.len() - self.first_aux()];
        let first_aux = self.first_aux();
        for (r, row) in self.rows.iter().enumerate() {
            for &(j, c) in &row.act {
                let point = row.point.expect("activation rows have a point");
                by_output[j].push((r as u32, point as u32, c));
            }
            for &(col, c) in &row.aux {
                by_aux[col - first_aux].push((r as u32, c));
            }
        }
        self.by_output = by_output;
        self.by_aux = by_aux;
        self.aux_tangent = vec![u32::MAX; self.columns.len() - first_aux];
        for (k, set) in self.tangents.iter().enumerate() {
            self.aux_tangent[set.r - first_aux] = k as u32;
            self.aux_tangent[set.sq - first_aux] = k as u32;
        }
        self.nnz = (0..self.columns.len())
            .map(|c| {
                let mut k = 0;
                self.for_column(c, |_, _| k += 1);
                k
            })
            .sum();
        self
    }

    /// Index of the first auxiliary column.
    pub fn first_aux(&self) -> usize {
        self.n_out * self.n_in + if self.bias_vars { self.n_out } else { 0 }
    }

    /// What column `col` is, for the weights and biases: `W(j, i)`, `B(j)`.
    pub fn column_var(&self, col: usize) -> Var {
        self.columns[col].var
    }

    /// Calls `f(column, coefficient)` for every non-zero of row `r`.
    pub fn for_row(&self, r: usize, mut f: impl FnMut(usize, f64)) {
        if r >= self.rows.len() {
            let (set, _, p) = self.tangent(r);
            f(set.r, -2.0 * p);
            f(set.sq, 1.0);
            return;
        }
        let row = &self.rows[r];
        if let Some(p) = row.point {
            let h = self.features.row(p);
            for &(j, c) in &row.act {
                let base = j * self.n_in;
                for (i, &hv) in h.iter().enumerate() {
                    if hv != 0.0 {
                        f(base + i, c * hv);
                    }
                }
                if self.bias_vars {
                    f(self.n_out * self.n_in + j, c);
                }
            }
        }
        for &(col, c) in &row.aux {
            f(col, c);
        }
    }

    /// Calls `f(row, coefficient)` for every non-zero of column `col`
    /// (objective excluded).
    pub fn for_column(&self, col: usize, mut f: impl FnMut(usize, f64)) {
        let wn = self.n_out * self.n_in;
        if col < wn {
            let (j, i) = (col / self.n_in, col % self.n_in);
            let h = self
                .features
                .as_slice()
                .expect("features are stored row-major");
            for &(r, p, c) in &self.by_output[j] {
                let hv = h[p as usize * self.n_in + i];
                if hv != 0.0 {
                    f(r as usize, c * hv);
                }
            }
        } else if col < self.first_aux() {
            for &(r, _, c) in &self.by_output[col - wn] {
                f(r as usize, c);
            }
        } else {
            let aux = col - self.first_aux();
            for &(r, c) in &self.by_aux[aux] {
                f(r as usize, c);
            }
            if let Some(set) = self.tangents.get(self.aux_tangent[aux] as usize) {
                for g in set.start..set.end {
                    let p = self.tangent_points[g];
                    f(
                        self.rows.len() + g,
                        if col == set.r { -2.0 * p } else { 1.0 },
                    );
                }
            }
        }
    }

    /// Number of structural non-zeros (objective excluded).
    pub fn nonzeros(&self) -> usize {
        self.nnz
    }

    /// Number of integer columns.
    pub fn binaries(&self) -> usize {
        self.columns.iter().filter(|c| c.integer).count()
    }

    /// Objective coefficient of every column (dense, in column order).
    pub fn costs(&self) -> Vec<f64> {
        let mut cost = vec![0.0; self.columns.len()];
        for &(c, v) in &self.objective {
            cost[c] += v;
        }
        cost
    }

    /// Objective value (as the file states it, without the offset) at `x`.
    pub fn objective_at(&self, x: &[f64]) -> f64 {
        let linear: f64 = self.objective.iter().map(|&(c, v)| v * x[c]).sum();
        let quadratic: f64 = self
            .quadratic
            .iter()
            .map(|&(a, b, q)| q * x[a] * x[b])
            .sum();
        linear + quadratic
    }

    /// The largest violation of any row or bound at `x`.
    pub fn max_violation(&self, x: &[f64]) -> f64 {
        let mut worst: f64 = 0.0;
        for (c, col) in self.columns.iter().enumerate() {
            worst = worst.max(col.lower - x[c]).max(x[c] - col.upper);
        }
        for r in 0..self.num_rows() {
            let row = self.row_head(r);
            let mut lhs = 0.0;
            self.for_row(r, |c, v| lhs += v * x[c]);
            let v = match row.sense {
                Sense::Le => lhs - row.rhs,
                Sense::Ge => row.rhs - lhs,
                Sense::Eq => (lhs - row.rhs).abs(),
            };
            worst = worst.max(v);
        }
        worst
    }

    /// The layer's weights W⁰ (M×N) when the problem was built, the centre
    /// of the box.
    pub fn current_weights(&self) -> Array2<f64> {
        self.centre.0.clone()
    }

    /// The bias b⁰ when the problem was built, when it is a variable.
    pub fn current_bias(&self) -> Option<Array1<f64>> {
        self.bias_vars.then(|| self.centre.1.clone())
    }

    /// The weights and bias a solution's column values give, by the one rule
    /// for values outside the box ([`into_box`]); `bias` stands when the
    /// bias is not a variable.
    pub fn parameters_at(
        &self,
        values: &[f64],
        bias: &Array1<f64>,
    ) -> Result<(Array2<f64>, Array1<f64>), String> {
        let mut w = Array2::zeros((self.n_out, self.n_in));
        let mut b = bias.clone();
        for (c, col) in self.columns.iter().enumerate().take(self.first_aux()) {
            let v = into_box(values[c], col.lower, col.upper, 0.0).ok_or_else(|| {
                format!(
                    "{} = {} lies outside its box [{}, {}]",
                    col.var, values[c], col.lower, col.upper
                )
            })?;
            match col.var {
                Var::W(j, i) => w[[j, i]] = v,
                Var::B(j) => b[j] = v,
                _ => unreachable!("the first columns are the layer's parameters"),
            }
        }
        Ok((w, b))
    }

    /// The MIP start: every column's value at the current weights.
    pub fn start(&self) -> Vec<f64> {
        self.columns.iter().map(|c| c.start).collect()
    }

    /// A classification problem's columns at other weights `w` (M×N) and
    /// bias `b` inside the box: `a_t_j` computed, each `c_t` 1 when its
    /// margin rows hold with it (else 0). `None` when the weights leave the
    /// box, the problem has other auxiliary columns, or a row is violated
    /// (`--keep-accuracy` can be).
    pub fn start_at(&self, w: &Array2<f64>, b: &Array1<f64>) -> Option<Vec<f64>> {
        let mut x = vec![0.0; self.columns.len()];
        for (c, col) in self.columns.iter().enumerate() {
            x[c] = match col.var {
                Var::W(j, i) => w[[j, i]],
                Var::B(j) => b[j],
                Var::C(_) => 1.0,
                Var::A(..) => 0.0,
                _ => return None,
            };
        }
        let pos: std::collections::HashMap<usize, usize> = self
            .points
            .iter()
            .enumerate()
            .map(|(k, &t)| (t, k))
            .collect();
        for (c, col) in self.columns.iter().enumerate() {
            if let Var::A(t, j) = col.var {
                let h = self.features.row(pos[&t]);
                x[c] = w.row(j).dot(&h) + b[j];
            }
        }
        let tol = 1e-9;
        for (r, row) in self.rows.iter().enumerate() {
            let mut lhs = 0.0;
            self.for_row(r, |c, v| lhs += v * x[c]);
            let short = match row.sense {
                Sense::Ge => row.rhs - lhs,
                Sense::Le => lhs - row.rhs,
                Sense::Eq => (lhs - row.rhs).abs(),
            };
            if short > tol * (1.0 + row.rhs.abs()) {
                // A margin row that fails with c_t = 1 holds with c_t = 0.
                for &(c, _) in &row.aux {
                    if matches!(self.columns[c].var, Var::C(_)) {
                        x[c] = 0.0;
                    }
                }
            }
        }
        (self.max_violation(&x) <= tol).then_some(x)
    }
}

/// The one rule for a solver's value of a weight or bias with box
/// [lower, upper]: solvers may overstep a bound by their feasibility
/// tolerance (and by the digits they print), so a value within 1e-6
/// (relative to the centre and radius) is clamped into the box; anything
/// farther is refused (`None`). `printed` widens the tolerance by that
/// fraction of |v| for a solution file that rounds what it prints (HiGHS's
/// pretty style, GLPK's report); 0 for exact values.
pub fn into_box(v: f64, lower: f64, upper: f64, printed: f64) -> Option<f64> {
    let (centre, r) = ((lower + upper) / 2.0, (upper - lower) / 2.0);
    let tol = 1e-6 * (1.0 + centre.abs() + r) + printed * v.abs();
    (v.is_finite() && v >= lower - tol && v <= upper + tol).then(|| v.clamp(lower, upper))
}

/// The problem's task-specific data for building it.
pub struct Input<'a> {
    /// The layer.
    pub layer: &'a LayerData,
    /// Features of the selected points, T×N.
    pub features: Array2<f64>,
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

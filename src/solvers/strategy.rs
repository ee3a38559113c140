//! How the one-command path (`tune`) solves a sweep: the method that fits
//! the problem's shape, named in every report.
//!
//! `export` always writes the complete standard model; this module may solve
//! that model another way, provided it reaches the same optimum (the tests
//! compare each method with an independent solver on the exported file) and
//! reports a proven bound where it stops early:
//!
//! - mse with a linear output: one box-constrained least-squares problem per
//!   output on the shared Gram matrix ([`crate::solvers::lsq`]), never one QP over all
//!   M·(N+1) weights;
//! - large hinge LPs: restarted PDHG with a certified gap ([`crate::solvers::hinge`]);
//! - other LPs: HiGHS, by dual simplex from the current weights when small,
//!   by interior point without crossover when large (a start basis makes
//!   HiGHS skip presolve and crawl on dense rows);
//! - MILPs: HiGHS branch and cut from the MIP start, without presolve when
//!   large, and not at all beyond a memory budget (the start stands).
//!
//! Every method stops at the sweep's deadline. It knows problems, weights
//! and solvers; not files or ONNX.

use crate::error::Result;
use crate::formulation::{Loss, MseForm, Options, Problem};
use crate::solvers::highs::{Highs, LpMethod, Settings};
use ndarray::{Array1, Array2};
use std::time::Instant;

/// An LP with more non-zeros than this is solved by interior point.
pub const LARGE_LP: usize = 200_000;

/// A MILP with more non-zeros than this skips HiGHS's presolve, which
/// cannot be interrupted and alone took 12–23 s of a 20 s limit on 23 M
/// non-zeros (zero-one, T = 5,000, N = 512, M = 10): the search starts from
/// the MIP start at once and stops at the deadline.
pub const LARGE_MIP: usize = 2_000_000;

/// A MILP with more non-zeros than this is not handed to HiGHS at all: its
/// branch and cut needed about 170 bytes a non-zero (4 GB on 23 M) and did
/// not finish its root LP in 150 s. The sweep keeps its MIP start (for zero-one,
/// the better of the current weights and the hinge LP's: `tune` computes
/// the hinge start itself above [`LARGE_MIP`]).
pub const MIP_BUDGET: usize = 20_000_000;

/// What the user asked for (`tune --method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choice {
    /// By the problem's shape and size: least squares for mse with a linear
    /// output (any size), the first-order hinge method and the MILP budget
    /// for large problems, HiGHS otherwise.
    #[default]
    Auto,
    /// HiGHS for every problem: what solving the exported file gives.
    Highs,
    /// The structured method wherever one applies (mse with a linear
    /// output, hinge), whatever the size.
    Structured,
}

/// The method a sweep used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Interior point per output on the Gram matrix (mse, linear output).
    LeastSquares,
    /// Restarted PDHG on the hinge LP's saddle point, with a certified gap
    /// (large hinge LPs).
    HingePdhg,
    /// HiGHS's dual simplex (small LPs).
    HighsSimplex,
    /// HiGHS's interior point without crossover (large LPs).
    HighsIpm,
    /// HiGHS's QP solver.
    HighsQp,
    /// HiGHS's branch and cut (MILPs).
    HighsMip,
    /// No search: the MILP is beyond [`MIP_BUDGET`]; its MIP start stands.
    MipStart,
}

impl Method {
    /// Picks the method for `p`, built with `opts`, as `choice` asks.
    pub fn choose(p: &Problem, opts: &Options, choice: Choice) -> Method {
        // Rows that read protected points (`--protect`) are beyond the
        // structured methods, which see the objective's points alone.
        let structured = choice != Choice::Highs && p.extra_points() == 0;
        let large = choice == Choice::Structured || p.nonzeros() > LARGE_LP;
        if structured
            && opts.loss == Loss::Mse
            && opts.mse_form == MseForm::Quadratic
            && p.normal().is_some()
        {
            Method::LeastSquares
        } else if structured && large && opts.loss == Loss::Hinge && p.labels().is_some() {
            Method::HingePdhg
        } else if structured && p.binaries() > 0 && p.nonzeros() > MIP_BUDGET {
            Method::MipStart
        } else if p.binaries() > 0 {
            Method::HighsMip
        } else if p.has_quadratic() {
            Method::HighsQp
        } else if p.nonzeros() > LARGE_LP {
            Method::HighsIpm
        } else {
            Method::HighsSimplex
        }
    }

    /// For people.
    pub fn describe(self) -> &'static str {
        match self {
            Method::LeastSquares => "box-constrained least squares per output (interior point)",
            Method::HingePdhg => "hinge LP by restarted PDHG (certified gap)",
            Method::HighsSimplex => "HiGHS dual simplex",
            Method::HighsIpm => "HiGHS interior point (no crossover)",
            Method::HighsQp => "HiGHS QP",
            Method::HighsMip => "HiGHS branch and cut",
            Method::MipStart => "the MIP start (the MILP is too large to search)",
        }
    }
}

/// What a method found.
pub struct Answer {
    /// How.
    pub method: Method,
    /// The solver's status, as text.
    pub status: String,
    /// Proven optimal (within the solver's default gap).
    pub optimal: bool,
    /// The weights found (in the box), or none.
    pub weights: Option<(Array2<f64>, Array1<f64>)>,
    /// The file's objective at the answer (add the offset for the loss).
    pub objective: f64,
    /// A proven lower bound on the file's optimum, when the method has one.
    pub bound: Option<f64>,
    /// HiGHS, for writing its own solution file (`tune --keep`).
    pub highs: Option<Highs>,
    /// Every column's value, when the method found them without HiGHS.
    pub values: Option<Vec<f64>>,
}

/// How far an answer may be from optimal, as solvers state a MIP gap:
/// (loss − bound) / max(1, |loss|), losses with the objective's offset.
pub fn rel_gap(loss: f64, bound: f64) -> f64 {
    (loss - bound).max(0.0) / loss.abs().max(1.0)
}

impl Answer {
    /// Writes the answer as a solution file `apply` reads: HiGHS's own
    /// when HiGHS solved it, else the same raw format from the values.
    pub fn write_solution(&self, p: &Problem, path: &std::path::Path) -> Result<()> {
        if let Some(h) = &self.highs {
            return h.write_solution(path);
        }
        let Some(values) = &self.values else {
            return Ok(());
        };
        let names: Vec<String> = p.columns().map(|c| c.var.to_string()).collect();
        let mut f = crate::formats::atomic::AtomicFile::create(path)?;
        crate::formats::solution::highs::write_raw(
            f.writer(),
            &self.status,
            self.objective,
            &names,
            values,
        )
        .map_err(|e| crate::Error::io(path, "write", e))?;
        f.commit()
    }

    /// (objective − bound) / max(1, |loss|): how far from optimal the answer
    /// may be, as the solvers state a MIP gap.
    pub fn gap(&self, offset: f64) -> Option<f64> {
        self.bound
            .map(|b| rel_gap(self.objective + offset, b + offset))
    }
}

/// Solves `p` (built with `opts`; `bias` is the layer's bias, used when it
/// is not a variable) by the method that fits it (as `choice` asks),
/// stopping at `deadline`.
pub fn solve(
    p: &Problem,
    opts: &Options,
    bias: &Array1<f64>,
    settings: &Settings,
    deadline: Option<Instant>,
    choice: Choice,
) -> Result<Answer> {
    let method = Method::choose(p, opts, choice);
    match method {
        Method::LeastSquares => Ok(least_squares(p, opts, bias, deadline)),
        Method::HingePdhg => Ok(hinge(p, opts, bias, settings, deadline)),
        Method::MipStart => start_stands(
            p,
            bias,
            format!(
                "Not searched: {} non-zeros is beyond the {} HiGHS's branch and cut handles in memory here",
                p.nonzeros(),
                MIP_BUDGET
            ),
        ),
        _ => highs(p, method, bias, settings, deadline),
    }
}

/// The answer when the MIP start stands without a search, saying why.
fn start_stands(p: &Problem, bias: &Array1<f64>, status: String) -> Result<Answer> {
    let x = p.start();
    Ok(Answer {
        method: Method::MipStart,
        status,
        optimal: false,
        weights: Some(p.parameters_at(&x, bias).map_err(crate::Error::Rejected)?),
        objective: p.objective_at(&x),
        bound: None,
        highs: None,
        values: Some(x),
    })
}

fn least_squares(
    p: &Problem,
    opts: &Options,
    bias: &Array1<f64>,
    deadline: Option<Instant>,
) -> Answer {
    let normal = p.normal().expect("chosen only with normal equations");
    let w0 = p.current_weights();
    let b0 = p.current_bias().unwrap_or_else(|| bias.clone());
    let bx = crate::solvers::lsq::Box {
        w0: w0.view(),
        b0: b0.view(),
        radius: opts.radius,
        bias_radius: opts.bias_radius,
    };
    let s = crate::solvers::lsq::solve(normal, &bx, 1e-9, deadline);
    let offset = p.objective_offset();
    let gap = rel_gap(s.objective, s.bound);
    let optimal = gap <= LSQ_GAP;
    let status = match (optimal, s.stopped) {
        (true, _) => "Optimal".to_string(),
        (false, true) => "Time limit reached".to_string(),
        (false, false) => format!("Stopped at a relative gap of {gap:.1e}"),
    };
    // The problem has no columns but the layer's: its solution is (w, b).
    let mut values: Vec<f64> = s.w.iter().copied().collect();
    if p.bias_vars() {
        values.extend(s.b.iter());
    }
    Answer {
        method: Method::LeastSquares,
        status,
        optimal,
        weights: Some((s.w, s.b)),
        objective: s.objective - offset,
        bound: Some(s.bound - offset),
        highs: None,
        values: Some(values),
    }
}

/// The relative gap ([`rel_gap`]) the hinge method stops at: the solvers'
/// own default MIP gap.
pub const REL_GAP: f64 = 1e-4;

/// The relative gap at which least squares counts as optimal (it runs on to
/// 1e-9 a output where the arithmetic allows).
pub const LSQ_GAP: f64 = 1e-6;

fn hinge(
    p: &Problem,
    opts: &Options,
    bias: &Array1<f64>,
    highs: &Settings,
    deadline: Option<Instant>,
) -> Answer {
    let labels = p.labels().expect("chosen only with labels");
    let w0 = p.current_weights();
    let b0 = p.current_bias().unwrap_or_else(|| bias.clone());
    let lp = crate::solvers::hinge::HingeLp {
        h: p.features(),
        labels,
        w0: w0.view(),
        b0: b0.view(),
        radius: opts.radius,
        bias_radius: p.bias_vars().then_some(opts.bias_radius),
        delta: opts.margin,
    };
    let settings = crate::solvers::hinge::Settings {
        rel_gap: REL_GAP,
        time_limit: deadline.map(|d| d.saturating_duration_since(Instant::now())),
        // `--threads` as HiGHS reads it; none given: every core.
        threads: highs.threads.map_or(0, |t| t as usize),
        report: !highs.quiet,
        ..Default::default()
    };
    let s = crate::solvers::hinge::solve(&lp, &settings);
    let status = match s.status {
        crate::solvers::hinge::Status::Converged => "Optimal".to_string(),
        crate::solvers::hinge::Status::TimeLimit => "Time limit reached".to_string(),
        crate::solvers::hinge::Status::IterationLimit => "Iteration limit reached".to_string(),
    };
    let values = hinge_values(p, &s.losses, &s.w, &s.b);
    let offset = p.objective_offset();
    Answer {
        method: Method::HingePdhg,
        optimal: s.status == crate::solvers::hinge::Status::Converged,
        status,
        objective: s.objective - offset,
        bound: Some(s.bound - offset),
        weights: Some((s.w, s.b)),
        highs: None,
        values: Some(values),
    }
}

/// Every column of the hinge problem at weights (w, b): the layer's
/// parameters, and ξ_t, each kept point's hinge loss there (`losses`, by
/// the problem's points, as the solver computed them).
fn hinge_values(p: &Problem, losses: &[f64], w: &Array2<f64>, b: &Array1<f64>) -> Vec<f64> {
    let pos: std::collections::HashMap<usize, usize> = p
        .points()
        .iter()
        .enumerate()
        .map(|(k, &t)| (t, k))
        .collect();
    p.columns()
        .map(|c| match c.var {
            crate::formulation::names::Var::W(j, i) => w[[j, i]],
            crate::formulation::names::Var::B(j) => b[j],
            crate::formulation::names::Var::Xi(t) => losses[pos[&t]].min(c.upper),
            _ => c.start,
        })
        .collect()
}

fn highs(
    p: &Problem,
    method: Method,
    bias: &Array1<f64>,
    settings: &Settings,
    deadline: Option<Instant>,
) -> Result<Answer> {
    let mut h = Highs::new(settings)?;
    if let Some(d) = deadline {
        h.set_deadline(d);
    }
    h.pass(p)?;
    // Loading a large model takes time too: past the deadline, the start
    // stands without HiGHS's setup (which no callback interrupts).
    if method == Method::HighsMip && deadline.is_some_and(|d| Instant::now() >= d) {
        return start_stands(p, bias, "Time limit reached before the search".into());
    }
    if method == Method::HighsMip && p.nonzeros() > LARGE_MIP {
        h.no_presolve()?;
    }
    match method {
        Method::HighsIpm => h.set_lp_method(LpMethod::Ipm)?,
        // A start makes HiGHS treat an LP as warm (no presolve): only where
        // the LP is small; a MIP always gets it.
        _ => h.set_start(&p.start())?,
    }
    let out = h.run()?;
    let weights = if out.has_solution {
        Some(
            p.parameters_at(&out.values, bias)
                .map_err(crate::Error::Rejected)?,
        )
    } else {
        None
    };
    Ok(Answer {
        method,
        status: out.status.clone(),
        optimal: out.optimal,
        weights,
        objective: out.objective,
        bound: out.bound,
        highs: Some(h),
        values: None,
    })
}

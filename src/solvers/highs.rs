//! The embedded solver: HiGHS, compiled from source by `highs-sys`, used
//! through its C API (the safe `highs` crate cannot read a model file,
//! write HiGHS's solution file or forward the log, all of which `solve`
//! needs). Reads MPS/LP files or takes a [`Problem`] directly, uses a MIP
//! start, honours time limit / threads / gap, and reports its log as
//! progress events ([`crate::progress`]).

use crate::error::{Error, IoContext, Result};
use crate::formulation::{Problem, Sense};
use highs_sys as hs;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;
use std::time::Instant;

/// A MIP with more non-zeros than this, solved under a time limit, skips
/// the phases of HiGHS that no deadline interrupts
/// ([`Highs::skip_uninterruptible`]).
pub const UNINTERRUPTIBLE_NNZ: usize = 200_000;

/// Solver settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Seconds, or none (checked by the plan that made the settings:
    /// `workflow::solve::TimeLimit`).
    pub time_limit: Option<f64>,
    /// Threads, or HiGHS's default.
    pub threads: Option<u32>,
    /// Relative MIP gap at which to stop.
    pub gap: Option<f64>,
    /// No log.
    pub quiet: bool,
}

/// How HiGHS solves an LP, when not by its default dual simplex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpMethod {
    /// Interior point without crossover: far faster on large, dense LPs.
    Ipm,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// HiGHS's model status, as text.
    pub status: String,
    /// Proven optimal.
    pub optimal: bool,
    /// A feasible primal solution is available.
    pub has_solution: bool,
    /// Objective of that solution.
    pub objective: f64,
    /// The proven dual bound of a MIP, or an optimal LP's objective; none
    /// when HiGHS proved none (a MIP stopped before its root finished).
    pub bound: Option<f64>,
    /// Column values.
    pub values: Vec<f64>,
}

/// A HiGHS instance.
pub struct Highs {
    ptr: *mut c_void,
    log: Box<LogState>,
    /// Set just before solving: HiGHS applies `time_limit` to reading a
    /// file too, and a large model can take longer to read than that.
    time_limit: Option<f64>,
}

/// Where HiGHS's log goes: to the progress sink when `echo`, and its ERROR lines are
/// kept so a failure can be reported in gdmilp's one error line.
struct LogState {
    echo: std::cell::Cell<bool>,
    errors: std::cell::RefCell<Vec<String>>,
    /// When set, HiGHS is interrupted at its next check after this instant
    /// (simplex, interior point, MIP and QP loops all call back).
    deadline: std::cell::Cell<Option<Instant>>,
}

const INTERRUPTS: [hs::HighsInt; 4] = [
    hs::kHighsCallbackSimplexInterrupt,
    hs::kHighsCallbackIpmInterrupt,
    hs::kHighsCallbackMipInterrupt,
    hs::kHighsCallbackQpInterrupt,
];

unsafe extern "C" fn log_callback(
    kind: c_int,
    message: *const c_char,
    _out: *const hs::HighsCallbackDataOut,
    data_in: *mut hs::HighsCallbackDataIn,
    user: *mut c_void,
) {
    if user.is_null() {
        return;
    }
    // SAFETY: `user` is the LogState boxed in `Highs`, alive as long as the
    // instance; HiGHS calls back on the thread that called into it.
    let state = unsafe { &*(user as *const LogState) };
    if INTERRUPTS.contains(&(kind as hs::HighsInt)) {
        let late = state.deadline.get().is_some_and(|d| Instant::now() >= d);
        if late && !data_in.is_null() {
            // SAFETY: HiGHS passes a valid input struct to interrupt callbacks.
            unsafe { (*data_in).user_interrupt = 1 };
        }
        return;
    }
    if kind != hs::kHighsCallbackLogging as c_int || message.is_null() {
        return;
    }
    // SAFETY: HiGHS passes a NUL-terminated message valid for the call.
    let msg = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    if let Some(e) = msg.trim().strip_prefix("ERROR:") {
        state.errors.borrow_mut().push(e.trim().to_string());
    }
    if state.echo.get() {
        crate::progress::emit(crate::progress::Event::Solver(&msg));
    }
}

fn status_text(s: hs::HighsInt) -> &'static str {
    match s {
        hs::kHighsModelStatusOptimal => "Optimal",
        hs::kHighsModelStatusInfeasible => "Infeasible",
        hs::kHighsModelStatusUnboundedOrInfeasible => "Primal infeasible or unbounded",
        hs::kHighsModelStatusUnbounded => "Unbounded",
        hs::kHighsModelStatusTimeLimit => "Time limit reached",
        hs::kHighsModelStatusIterationLimit => "Iteration limit reached",
        hs::kHighsModelStatusSolutionLimit => "Solution limit reached",
        hs::kHighsModelStatusInterrupt | hs::kHighsModelStatusHighsInterrupt => "Interrupted",
        hs::kHighsModelStatusModelEmpty => "Empty",
        hs::kHighsModelStatusMemoryLimit => "Memory limit reached",
        _ => "Unknown",
    }
}

impl Highs {
    /// A new instance with `settings` applied.
    pub fn new(settings: &Settings) -> Result<Highs> {
        // SAFETY: Highs_create returns a fresh instance owned by `Highs`.
        let ptr = unsafe { hs::Highs_create() };
        if ptr.is_null() {
            return Err(Error::usage("HiGHS could not be created"));
        }
        let log = Box::new(LogState {
            echo: std::cell::Cell::new(!settings.quiet),
            errors: std::cell::RefCell::new(Vec::new()),
            deadline: std::cell::Cell::new(None),
        });
        let mut h = Highs {
            ptr,
            log,
            time_limit: settings.time_limit,
        };
        h.set_bool("log_to_console", false)?;
        let user = &*h.log as *const LogState as *mut c_void;
        // SAFETY: the callback reads `user` as the LogState, which lives
        // (boxed, never moved) as long as the instance.
        unsafe {
            hs::Highs_setCallback(h.ptr, Some(log_callback), user);
            hs::Highs_startCallback(h.ptr, hs::kHighsCallbackLogging as c_int);
            for kind in INTERRUPTS {
                hs::Highs_startCallback(h.ptr, kind as c_int);
            }
        }
        if let Some(t) = settings.threads {
            h.set_int("threads", t as i32)?;
        }
        if let Some(g) = settings.gap {
            if !(g.is_finite() && g >= 0.0) {
                return Err(Error::usage(format!(
                    "--gap must be a number ≥ 0, not {}",
                    crate::num::shown(g)
                )));
            }
            h.set_double("mip_rel_gap", g)?;
        }
        Ok(h)
    }

    fn check(&self, status: hs::HighsInt, what: &str) -> Result<()> {
        if status == hs::kHighsStatusError {
            Err(Error::usage(format!("HiGHS: {what} failed")))
        } else {
            Ok(())
        }
    }

    fn set_bool(&mut self, name: &str, v: bool) -> Result<()> {
        let n = CString::new(name).expect("option names have no NUL");
        // SAFETY: valid instance and NUL-terminated name.
        let s = unsafe { hs::Highs_setBoolOptionValue(self.ptr, n.as_ptr(), v as hs::HighsInt) };
        self.check(s, name)
    }

    fn set_int(&mut self, name: &str, v: i32) -> Result<()> {
        let n = CString::new(name).expect("option names have no NUL");
        // SAFETY: as above.
        let s = unsafe { hs::Highs_setIntOptionValue(self.ptr, n.as_ptr(), v as hs::HighsInt) };
        self.check(s, name)
    }

    fn set_double(&mut self, name: &str, v: f64) -> Result<()> {
        let n = CString::new(name).expect("option names have no NUL");
        // SAFETY: as above.
        let s = unsafe { hs::Highs_setDoubleOptionValue(self.ptr, n.as_ptr(), v) };
        self.check(s, name)
    }

    /// Reads an MPS or LP file (HiGHS picks the reader from the extension).
    pub fn read(&mut self, path: &Path) -> Result<()> {
        // The path's own bytes: a name that is not UTF-8 is still a name.
        #[cfg(unix)]
        let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec();
        #[cfg(not(unix))]
        let bytes = path.to_string_lossy().as_bytes().to_vec();
        let c = CString::new(bytes)
            .map_err(|_| Error::invalid(path, "the path contains a NUL byte"))?;
        let echo = self.log.echo.replace(false);
        self.log.errors.borrow_mut().clear();
        // SAFETY: valid instance and NUL-terminated path.
        let s = unsafe { hs::Highs_readModel(self.ptr, c.as_ptr()) };
        self.log.echo.set(echo);
        if s == hs::kHighsStatusError {
            let first = self
                .log
                .errors
                .borrow()
                .first()
                .cloned()
                .unwrap_or_default();
            let why = first.replace(&*path.to_string_lossy(), "");
            let why = why.trim();
            let why = if why.is_empty() {
                String::new()
            } else {
                format!(" ({why})")
            };
            return Err(Error::invalid(
                path,
                format!("HiGHS cannot read this file as an MPS or LP model{why}"),
            ));
        }
        Ok(())
    }

    /// Loads `p` directly (column-wise), with its names: the LP, then the
    /// binaries, the Hessian and the names, one step each.
    pub fn pass(&mut self, p: &Problem) -> Result<()> {
        if p.binaries() > 0 && p.has_quadratic() {
            return Err(Error::usage(
                "HiGHS cannot solve a mixed-integer QP (mse with a quadratic objective \
                 after a ReLU); use --mse-form segments",
            ));
        }
        self.pass_lp(p)?;
        // Integrality only when there are binaries: HiGHS treats any
        // integrality vector as a MIP, and a QP must stay a QP.
        if p.binaries() > 0 {
            self.pass_integrality(p)?;
        }
        if p.has_quadratic() {
            self.pass_hessian(p)?;
        }
        self.pass_names(p);
        Ok(())
    }

    /// The linear part: costs, bounds, row bounds and the matrix by column.
    fn pass_lp(&mut self, p: &Problem) -> Result<()> {
        let nc = p.num_columns();
        let cost = p.costs();
        let (lower, upper): (Vec<f64>, Vec<f64>) = p.columns().map(|c| (c.lower, c.upper)).unzip();
        let (rl, ru): (Vec<f64>, Vec<f64>) = (0..p.num_rows())
            .map(|r| p.row_head(r))
            .map(|r| match r.sense {
                Sense::Le => (f64::NEG_INFINITY, r.rhs),
                Sense::Ge => (r.rhs, f64::INFINITY),
                Sense::Eq => (r.rhs, r.rhs),
            })
            .unzip();
        let mut start = Vec::with_capacity(nc + 1);
        let mut index = Vec::with_capacity(p.nonzeros());
        let mut value = Vec::with_capacity(p.nonzeros());
        for c in 0..nc {
            start.push(index.len() as hs::HighsInt);
            p.for_column(c, |r, v| {
                index.push(r as hs::HighsInt);
                value.push(v);
            });
        }
        // SAFETY: every array has the length HiGHS expects for these counts.
        let s = unsafe {
            hs::Highs_passLp(
                self.ptr,
                nc as hs::HighsInt,
                p.num_rows() as hs::HighsInt,
                index.len() as hs::HighsInt,
                hs::kHighsMatrixFormatColwise,
                hs::kHighsObjSenseMinimize,
                0.0,
                cost.as_ptr(),
                lower.as_ptr(),
                upper.as_ptr(),
                rl.as_ptr(),
                ru.as_ptr(),
                start.as_ptr(),
                index.as_ptr(),
                value.as_ptr(),
            )
        };
        self.check(s, "passing the model")
    }

    /// Marks the binary columns.
    fn pass_integrality(&mut self, p: &Problem) -> Result<()> {
        let integrality: Vec<hs::HighsInt> = p
            .columns()
            .map(|c| {
                if c.integer {
                    hs::kHighsVarTypeInteger
                } else {
                    0
                }
            })
            .collect();
        // SAFETY: integrality has one entry per column in the range.
        let s = unsafe {
            hs::Highs_changeColsIntegralityByRange(
                self.ptr,
                0,
                integrality.len() as hs::HighsInt - 1,
                integrality.as_ptr(),
            )
        };
        self.check(s, "marking the binary columns")
    }

    /// The quadratic objective: its lower triangle, column-wise (the order
    /// [`Problem::for_quadratic`] gives). HiGHS minimises cᵀx + ½ xᵀQx, so
    /// q·x² is Q = 2q and q·x_a·x_b (a > b) is Q_ab = q.
    fn pass_hessian(&mut self, p: &Problem) -> Result<()> {
        let nc = p.num_columns();
        let mut q_start = Vec::with_capacity(nc);
        let (mut q_index, mut q_value) = (
            Vec::with_capacity(p.quadratic_len()),
            Vec::with_capacity(p.quadratic_len()),
        );
        p.for_quadratic(|a, b, q| {
            while q_start.len() <= b {
                q_start.push(q_index.len() as hs::HighsInt);
            }
            q_index.push(a as hs::HighsInt);
            q_value.push(if a == b { 2.0 * q } else { q });
        });
        while q_start.len() < nc {
            q_start.push(q_index.len() as hs::HighsInt);
        }
        // SAFETY: q_start has nc entries, q_index/q_value q_value.len().
        let s = unsafe {
            hs::Highs_passHessian(
                self.ptr,
                nc as hs::HighsInt,
                q_value.len() as hs::HighsInt,
                hs::kHighsHessianFormatTriangular,
                q_start.as_ptr(),
                q_index.as_ptr(),
                q_value.as_ptr(),
            )
        };
        self.check(s, "passing the quadratic objective")
    }

    /// Column and row names.
    fn pass_names(&mut self, p: &Problem) {
        for (c, col) in p.columns().enumerate() {
            let n = CString::new(col.var.to_string()).expect("names have no NUL");
            // SAFETY: valid column index and NUL-terminated name.
            unsafe { hs::Highs_passColName(self.ptr, c as hs::HighsInt, n.as_ptr()) };
        }
        for r in 0..p.num_rows() {
            let n = CString::new(p.row_head(r).name.to_string()).expect("names have no NUL");
            // SAFETY: valid row index and NUL-terminated name.
            unsafe { hs::Highs_passRowName(self.ptr, r as hs::HighsInt, n.as_ptr()) };
        }
    }

    /// Number of columns.
    pub fn num_cols(&self) -> usize {
        // SAFETY: valid instance.
        unsafe { hs::Highs_getNumCol(self.ptr) as usize }
    }

    /// Column names.
    pub fn col_names(&self) -> Vec<String> {
        (0..self.num_cols())
            .map(|c| {
                let mut buf = vec![0 as c_char; 1024];
                // SAFETY: the buffer is larger than HiGHS's maximum name length.
                unsafe { hs::Highs_getColName(self.ptr, c as hs::HighsInt, buf.as_mut_ptr()) };
                // SAFETY: HiGHS wrote a NUL-terminated string into buf.
                unsafe { CStr::from_ptr(buf.as_ptr()) }
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    /// Gives HiGHS a starting solution (one value per column).
    pub fn set_start(&mut self, values: &[f64]) -> Result<()> {
        if values.len() != self.num_cols() {
            return Err(Error::usage("internal: start has the wrong length"));
        }
        // SAFETY: col_value has num_cols entries; the others may be null.
        let s = unsafe {
            hs::Highs_setSolution(
                self.ptr,
                values.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        self.check(s, "setting the MIP start")
    }

    /// Stops the next [`Highs::run`] at `deadline`, whatever it is doing
    /// (reading and building the model before it counts against the time
    /// too: the caller sets the deadline when its own clock starts).
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.log.deadline.set(Some(deadline));
    }

    /// Stops the next [`Highs::run`] by HiGHS's own clock after `seconds`
    /// (HiGHS then reports its own status, "Time limit reached", in the
    /// solution file it writes; [`Highs::set_deadline`] interrupts it
    /// instead, wherever it is).
    pub fn set_time_limit(&mut self, seconds: f64) {
        self.time_limit = Some(seconds.max(1e-3));
    }

    /// Chooses how HiGHS solves an LP (its default is dual simplex).
    pub fn set_lp_method(&mut self, method: LpMethod) -> Result<()> {
        match method {
            LpMethod::Ipm => {
                self.set_string("solver", "ipm")?;
                self.set_string("run_crossover", "off")
            }
        }
    }

    /// Under a time limit, a MIP with more non-zeros than
    /// [`UNINTERRUPTIBLE_NNZ`] skips the two phases of HiGHS's branch and
    /// cut that check no clock and call no interrupt: the feasibility jump
    /// heuristic and symmetry detection. On the zero-one sweep of the
    /// N = 512, T = 5,000 head (3.5 M non-zeros) they took 25 s before the
    /// search began, whatever the limit (a 5 s limit ended after 28 s;
    /// without them, after 5.4 s). The MIP start stands for the first.
    fn skip_uninterruptible(&mut self) -> Result<()> {
        // SAFETY: valid instance.
        let (nnz, integer) = unsafe {
            let nnz = hs::Highs_getNumNz(self.ptr) as usize;
            let mut integer = 0;
            let n = hs::Highs_getNumCol(self.ptr);
            let mut kind: hs::HighsInt = 0;
            for c in 0..n {
                if hs::Highs_getColIntegrality(self.ptr, c, &mut kind) == hs::kHighsStatusOk
                    && kind != 0
                {
                    integer += 1;
                    break;
                }
            }
            (nnz, integer)
        };
        if integer == 0 || nnz <= UNINTERRUPTIBLE_NNZ {
            return Ok(());
        }
        self.set_bool("mip_heuristic_run_feasibility_jump", false)?;
        self.set_bool("mip_detect_symmetry", false)
    }

    /// Turns HiGHS's presolve off.
    pub fn no_presolve(&mut self) -> Result<()> {
        self.set_string("presolve", "off")
    }

    fn set_string(&mut self, name: &str, v: &str) -> Result<()> {
        let n = CString::new(name).expect("option names have no NUL");
        let v = CString::new(v).expect("option values have no NUL");
        // SAFETY: valid instance and NUL-terminated strings.
        let s = unsafe { hs::Highs_setStringOptionValue(self.ptr, n.as_ptr(), v.as_ptr()) };
        self.check(s, name)
    }

    /// Solves. A failure of the solver itself (not of its input) is a
    /// refused result (exit 1) with HiGHS's own reason.
    pub fn run(&mut self) -> Result<Outcome> {
        let mut limit = self.time_limit;
        if let Some(d) = self.log.deadline.get() {
            let left = d.saturating_duration_since(Instant::now()).as_secs_f64();
            limit = Some(limit.map_or(left, |t| t.min(left)).max(1e-3));
        }
        if let Some(t) = limit {
            self.set_double("time_limit", t)?;
            self.skip_uninterruptible()?;
        }
        self.log.errors.borrow_mut().clear();
        // SAFETY: valid instance.
        let s = unsafe { hs::Highs_run(self.ptr) };
        if s == hs::kHighsStatusError {
            let why = self.log.errors.borrow().last().cloned();
            return Err(Error::Rejected(format!(
                "HiGHS failed{}; no solution",
                why.map(|w| format!(": {w}")).unwrap_or_default()
            )));
        }
        // SAFETY: valid instance; info names are NUL-terminated literals.
        let (status, primal, objective, bound, nodes) = unsafe {
            let status = hs::Highs_getModelStatus(self.ptr);
            let mut primal: hs::HighsInt = 0;
            hs::Highs_getIntInfoValue(self.ptr, c"primal_solution_status".as_ptr(), &mut primal);
            let objective = hs::Highs_getObjectiveValue(self.ptr);
            // An LP has no MIP bound (its node count is -1): the bound is
            // the objective.
            let mut nodes: i64 = -1;
            hs::Highs_getInt64InfoValue(self.ptr, c"mip_node_count".as_ptr(), &mut nodes);
            let mut bound = objective;
            if nodes >= 0 {
                hs::Highs_getDoubleInfoValue(self.ptr, c"mip_dual_bound".as_ptr(), &mut bound);
            }
            (status, primal, objective, bound, nodes)
        };
        let has_solution = primal == hs::kHighsSolutionStatusFeasible;
        let mut values = vec![0.0; self.num_cols()];
        if has_solution {
            // SAFETY: col_value has num_cols entries; the others may be null.
            unsafe {
                hs::Highs_getSolution(
                    self.ptr,
                    values.as_mut_ptr(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
        }
        let late = self.log.deadline.get().is_some_and(|d| Instant::now() >= d);
        let status = if late && status == hs::kHighsModelStatusInterrupt {
            hs::kHighsModelStatusTimeLimit
        } else {
            status
        };
        Ok(Outcome {
            status: status_text(status).to_string(),
            optimal: status == hs::kHighsModelStatusOptimal,
            has_solution,
            objective,
            bound: if nodes >= 0 {
                bound.is_finite().then_some(bound)
            } else {
                (status == hs::kHighsModelStatusOptimal).then_some(objective)
            },
            values,
        })
    }

    /// Writes HiGHS's own (raw) solution file, atomically. HiGHS does not
    /// report a failed write (a full disk gives a short file and success),
    /// so it writes into a pipe that gdmilp reads, and gdmilp writes the
    /// file with every write checked.
    pub fn write_solution(&self, path: &Path) -> Result<()> {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let (mut reader, writer) = std::io::pipe().at(path, "write")?;
        let fd = CString::new(format!("/dev/fd/{}", writer.as_raw_fd())).expect("no NUL");
        // HiGHS would log the pipe's name.
        let echo = self.log.echo.replace(false);
        let (status, text) = std::thread::scope(|scope| {
            let drain = scope.spawn(move || {
                let mut text = Vec::new();
                reader.read_to_end(&mut text).map(|_| text)
            });
            // SAFETY: valid instance and NUL-terminated path.
            let status = unsafe { hs::Highs_writeSolution(self.ptr, fd.as_ptr()) };
            drop(writer);
            (status, drain.join().expect("the reader does not panic"))
        });
        self.log.echo.set(echo);
        let text = text.at(path, "write")?;
        if status == hs::kHighsStatusError || text.is_empty() {
            return Err(Error::invalid(path, "HiGHS could not write the solution"));
        }
        // Nor a write into the pipe that failed: a short or gapped text.
        if !raw_solution_complete(&text) {
            return Err(Error::invalid(
                path,
                "HiGHS wrote an incomplete solution (a write failed); nothing written",
            ));
        }
        crate::formats::atomic::write_all(path, &text)
    }
}

/// Whether `text` is a whole HiGHS raw solution: its three parts (primal
/// values, dual values, basis) in order, each either absent by its own word
/// (`None`, `Invalid`) or with a `# Columns N` and a `# Rows N` section of
/// exactly N lines, and no value outside a section.
fn raw_solution_complete(text: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(text) else {
        return false;
    };
    if !text.starts_with("Model status") || !text.ends_with('\n') {
        return false;
    }
    const PARTS: [&str; 3] = [
        "# Primal solution values",
        "# Dual solution values",
        "# Basis",
    ];
    // Per part: whether it says it has values, and the sections it has.
    let mut part: Option<usize> = None;
    let mut has = [false; 3];
    let mut said = [false; 3];
    let mut sections = [0usize; 3];
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some(k) = PARTS.iter().position(|p| *p == l) {
            if part.map_or(k != 0, |p| k != p + 1) {
                return false;
            }
            part = Some(k);
            continue;
        }
        let count = l
            .strip_prefix("# Columns ")
            .or_else(|| l.strip_prefix("# Rows "));
        if let Some(n) = count {
            let (Some(p), Ok(n)) = (part, n.trim().parse::<usize>()) else {
                return false;
            };
            sections[p] += 1;
            for _ in 0..n {
                match lines.next() {
                    Some(v) if !v.starts_with('#') && v.split_whitespace().count() >= 2 => {}
                    _ => return false,
                }
            }
            continue;
        }
        if let Some(p) = part {
            if matches!(l, "Feasible" | "Infeasible" | "None" | "Valid" | "Invalid") {
                said[p] = true;
                has[p] = matches!(l, "Feasible" | "Infeasible" | "Valid");
            }
        }
        if let [name, value] = l.split_whitespace().collect::<Vec<_>>()[..] {
            // A value outside any section: the section's head was lost.
            let keyword = matches!(name, "Objective" | "Objective_bound" | "MIP_rel_gap");
            if !keyword && value.parse::<f64>().is_ok() {
                return false;
            }
        }
    }
    part == Some(2) && (0..3).all(|p| said[p] && sections[p] == if has[p] { 2 } else { 0 })
}

/// Rows taken out of a model read from a file, to be added back as
/// answers need them (row generation over `--protect`'s rows, which carry
/// names of their own).
#[derive(Debug, Default)]
pub struct HeldRows {
    names: Vec<CString>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    /// Row k's non-zeros are `entries[start[k]..start[k + 1]]`.
    start: Vec<usize>,
    entries: Vec<(hs::HighsInt, f64)>,
}

impl HeldRows {
    /// Number of rows held.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// No row is held.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The held rows, not `active`, that the column values `x` violate by
    /// more than 1e-7 (relative to the bound).
    pub fn violated(&self, x: &[f64], active: &[bool]) -> Vec<usize> {
        (0..self.len())
            .filter(|&k| !active[k])
            .filter(|&k| {
                let lhs: f64 = self.entries[self.start[k]..self.start[k + 1]]
                    .iter()
                    .map(|&(c, v)| v * x[c as usize])
                    .sum();
                let (lo, hi) = (self.lower[k], self.upper[k]);
                lo - lhs > 1e-7 * (1.0 + lo.abs()) || lhs - hi > 1e-7 * (1.0 + hi.abs())
            })
            .collect()
    }
}

impl Highs {
    /// Number of rows.
    pub fn num_rows(&self) -> usize {
        // SAFETY: valid instance.
        unsafe { hs::Highs_getNumRow(self.ptr) as usize }
    }

    fn row_name(&self, r: usize) -> String {
        let mut buf = vec![0 as c_char; 1024];
        // SAFETY: the buffer is larger than HiGHS's maximum name length.
        unsafe { hs::Highs_getRowName(self.ptr, r as hs::HighsInt, buf.as_mut_ptr()) };
        // SAFETY: HiGHS wrote a NUL-terminated string into buf.
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    /// Takes every row whose name `pick` accepts out of the model and
    /// returns them.
    pub fn take_rows(&mut self, pick: impl Fn(&str) -> bool) -> Result<HeldRows> {
        let set: Vec<hs::HighsInt> = (0..self.num_rows())
            .filter(|&r| pick(&self.row_name(r)))
            .map(|r| r as hs::HighsInt)
            .collect();
        let mut held = HeldRows {
            names: set
                .iter()
                .map(|&r| CString::new(self.row_name(r as usize)).expect("no NUL"))
                .collect(),
            start: vec![0],
            ..HeldRows::default()
        };
        // A row has at most one entry a column: fetch in chunks of rows
        // whose worst case fits a few million entries.
        let cols = self.num_cols().max(1);
        for chunk in set.chunks((4_000_000 / cols).max(1)) {
            self.fetch_rows(chunk, &mut held)?;
        }
        if !set.is_empty() {
            // SAFETY: `set` is ascending, of valid row indices.
            let s = unsafe {
                hs::Highs_deleteRowsBySet(self.ptr, set.len() as hs::HighsInt, set.as_ptr())
            };
            self.check(s, "taking rows out")?;
        }
        Ok(held)
    }

    fn fetch_rows(&self, rows: &[hs::HighsInt], held: &mut HeldRows) -> Result<()> {
        let n = rows.len();
        let cap = n * self.num_cols().max(1);
        let (mut lower, mut upper) = (vec![0.0; n], vec![0.0; n]);
        let mut start = vec![0 as hs::HighsInt; n];
        let (mut index, mut value) = (vec![0 as hs::HighsInt; cap], vec![0.0; cap]);
        let (mut got, mut nz): (hs::HighsInt, hs::HighsInt) = (0, 0);
        // SAFETY: every array has room for `n` rows of at most one entry a
        // column; `rows` is ascending, of valid row indices.
        let s = unsafe {
            hs::Highs_getRowsBySet(
                self.ptr,
                n as hs::HighsInt,
                rows.as_ptr(),
                &mut got,
                lower.as_mut_ptr(),
                upper.as_mut_ptr(),
                &mut nz,
                start.as_mut_ptr(),
                index.as_mut_ptr(),
                value.as_mut_ptr(),
            )
        };
        self.check(s, "reading rows")?;
        let base = held.entries.len();
        held.entries
            .extend(index.into_iter().zip(value).take(nz as usize));
        for k in 0..n {
            let end = if k + 1 < n { start[k + 1] } else { nz };
            held.start.push(base + end as usize);
        }
        held.lower.extend(lower);
        held.upper.extend(upper);
        Ok(())
    }

    /// Adds the held rows `which` back to the model, with their names.
    pub fn add_rows(&mut self, held: &HeldRows, which: &[usize]) -> Result<()> {
        let first = self.num_rows();
        let (mut lower, mut upper, mut start) = (Vec::new(), Vec::new(), Vec::new());
        let (mut index, mut value) = (Vec::new(), Vec::new());
        for &k in which {
            lower.push(held.lower[k]);
            upper.push(held.upper[k]);
            start.push(index.len() as hs::HighsInt);
            for &(c, v) in &held.entries[held.start[k]..held.start[k + 1]] {
                index.push(c);
                value.push(v);
            }
        }
        // SAFETY: the arrays describe `which.len()` rows row-wise.
        let s = unsafe {
            hs::Highs_addRows(
                self.ptr,
                which.len() as hs::HighsInt,
                lower.as_ptr(),
                upper.as_ptr(),
                index.len() as hs::HighsInt,
                start.as_ptr(),
                index.as_ptr(),
                value.as_ptr(),
            )
        };
        self.check(s, "adding rows")?;
        for (r, &k) in which.iter().enumerate() {
            // SAFETY: valid row index and NUL-terminated name.
            unsafe {
                hs::Highs_passRowName(
                    self.ptr,
                    (first + r) as hs::HighsInt,
                    held.names[k].as_ptr(),
                )
            };
        }
        Ok(())
    }
}

impl Drop for Highs {
    fn drop(&mut self) {
        // SAFETY: the instance was created by Highs_create and is dropped once.
        unsafe { hs::Highs_destroy(self.ptr) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_solution_with_a_gap_or_a_short_end_is_incomplete() {
        let mip = "Model status\nOptimal\n\n# Primal solution values\nFeasible\nObjective -1\n# Columns 2\nw_0_0 0\nb_0 1\n# Rows 1\nr 0\n\n# Dual solution values\nNone\n\n# Basis\nHiGHS_basis_file v2\nNone\n";
        assert!(raw_solution_complete(mip.as_bytes()));
        let lp = mip.replace(
            "HiGHS_basis_file v2\nNone\n",
            "HiGHS_basis_file v2\nValid\n# Columns 2\nw_0_0 1\nb_0 1\n# Rows 1\nr 1\n",
        );
        assert!(raw_solution_complete(lp.as_bytes()));
        for cut in [mip.len() - 1, mip.len() - 5, 60, 90] {
            assert!(!raw_solution_complete(&mip.as_bytes()[..cut]), "{cut}");
        }
        assert!(!raw_solution_complete(&lp.as_bytes()[..lp.len() - 4]));
        assert!(!raw_solution_complete(&lp.as_bytes()[..lp.len() - 4 - 4]));
        let gap = mip.replace("b_0 1\n", "");
        assert!(!raw_solution_complete(gap.as_bytes()));
        // A lost block that took a section's head with it.
        let headless = lp.replace("# Rows 1\nr 0\n\n# Dual solution values\nNone\n", "");
        assert!(!raw_solution_complete(headless.as_bytes()));
        let headless = lp.replace("Objective -1\n# Columns 2\nw_0_0 0\n", "");
        assert!(!raw_solution_complete(headless.as_bytes()));
    }
}

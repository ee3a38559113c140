//! `--warm-start hinge`: before a zero-one sweep, the multiclass hinge LP
//! on the same points and box is solved by the embedded HiGHS; its weights,
//! with c_t = 1 for every point they classify correctly with the margin,
//! are a feasible MIP start. It replaces the current weights' start only
//! when it has more points correct.

use crate::error::Result;
use crate::formulation::{Form, Loss, Options};
use crate::solvers::highs::Settings;
use crate::workflow::pipeline::{self, Built, Loaded, SelectSpec};
use serde::Serialize;
use std::time::Instant;

/// What the hinge warm start did.
#[derive(Debug, Clone, Serialize)]
pub struct HingeStart {
    /// Zero-one loss (−#correct on the sweep's points) at the current
    /// weights.
    pub current: f64,
    /// Zero-one loss at the hinge LP's weights, if they gave a feasible
    /// start.
    pub hinge: Option<f64>,
    /// The hinge start replaced the current one.
    pub used: bool,
    /// Why the hinge LP's weights gave no feasible start, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Seconds spent building and solving the LP.
    pub seconds: f64,
}

/// Solves the hinge LP on `built`'s points (stopping at `deadline` with the
/// best weights so far) and, when its weights score better, makes them
/// `built.problem`'s MIP start.
pub fn hinge_start(
    loaded: &Loaded,
    built: &mut Built,
    sel: &SelectSpec,
    opts: &Options,
    settings: &Settings,
    deadline: Option<Instant>,
    choice: crate::solvers::strategy::Choice,
) -> Result<HingeStart> {
    let clock = Instant::now();
    let hinge_opts = Options {
        loss: Loss::Hinge,
        margin: Loss::Hinge.default_margin(),
        keep_accuracy: false,
        form: Form::Compact,
        ..opts.clone()
    };
    let lp = pipeline::build(loaded, built.indices.clone(), sel, &hinge_opts)?;
    let quiet = Settings {
        quiet: true,
        ..settings.clone()
    };
    let answer = crate::solvers::strategy::solve(
        &lp.problem,
        &hinge_opts,
        &loaded.layer.b,
        &quiet,
        deadline,
        choice,
    )?;
    let offset = built.problem.objective_offset();
    let current = built.incumbent + offset;
    let mut report = HingeStart {
        current,
        hinge: None,
        used: false,
        why: None,
        seconds: 0.0,
    };
    if let Some((w, b)) = answer.weights {
        if let Some(x) = built.problem.start_at(&w, &b) {
            let value = built.problem.objective_at(&x) + offset;
            report.hinge = Some(value);
            if value < current {
                built.problem.set_start(&x);
                report.used = true;
            }
        } else {
            report.why = unheld_rows(built.protect.is_some(), opts.keep_accuracy);
        }
    }
    report.seconds = clock.elapsed().as_secs_f64();
    Ok(report)
}

/// The rows of the sweep the hinge LP is solved without (so its weights
/// may break them), in words.
fn unheld_rows(protect: bool, keep_accuracy: bool) -> Option<String> {
    let rows = match (protect, keep_accuracy) {
        (true, true) => "protected rows or the --keep-accuracy row",
        (true, false) => "protected rows",
        (false, true) => "the --keep-accuracy row",
        (false, false) => return None,
    };
    Some(format!(
        "its weights may break the {rows}, which the hinge LP does not hold"
    ))
}

impl HingeStart {
    /// One line for people: what each start scores and which is used.
    pub fn describe(&self) -> String {
        // (the zero-one loss is −#correct: −0 is 0 correct, not "-0")
        let correct = |v: f64| format!("{} correct", 0.0 - v);
        match self.hinge {
            Some(h) => format!(
                "hinge LP ({:.2} s): its weights have {}, the current ones {}: {}",
                self.seconds,
                correct(h),
                correct(self.current),
                if self.used {
                    "starting from the hinge weights"
                } else {
                    "starting from the current weights"
                }
            ),
            None => {
                format!(
                "hinge LP ({:.2} s) gave no feasible start{}: starting from the current weights",
                self.seconds,
                self.why.as_ref().map_or(String::new(), |w| format!(" ({w})"))
            )
            }
        }
    }
}

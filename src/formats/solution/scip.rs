//! SCIP solutions: optional `solution status: ...`, `objective value: v`,
//! then `name value (obj:c)` for non-zero columns only (zeros omitted).
//! With no solution SCIP writes `no solution available`.
//!
//! SCIP moves a quadratic objective into a constraint on a variable of its
//! own, `quadobjvar` (LP reader) or `qmatrixvar` (MPS reader), and writes it
//! in the solution: those two names are dropped here.

/// SCIP's own variable for a quadratic objective.
const OBJECTIVE_VARS: [&str; 2] = ["quadobjvar", "qmatrixvar"];

use super::{name_value, number, Solution, SolutionFormat, Status, Values};
use crate::error::Result;
use std::path::Path;

pub(super) fn detect(first: &str) -> bool {
    first.starts_with("solution status:") || first.starts_with("objective value:")
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Solution> {
    let mut status_text = None;
    let mut objective = None;
    let mut values = Vec::new();
    let mut none = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(s) = t.strip_prefix("solution status:") {
            status_text = Some(s.trim().to_string());
        } else if let Some(v) = t.strip_prefix("objective value:") {
            objective = Some(number(path, i + 1, line, v.trim())?);
        } else if t == "no solution available" {
            none = true;
        } else if !t.is_empty() {
            let (n, v) = name_value(path, i + 1, line)?;
            if !OBJECTIVE_VARS.contains(&n.as_str()) {
                values.push((n, v, i + 1));
            }
        }
    }
    let status = match (none || objective.is_none(), status_text) {
        (true, s) => Status::NoSolution(s.unwrap_or_else(|| "no solution available".into())),
        (false, Some(s)) if s.starts_with("optimal") => Status::Optimal,
        (false, Some(s)) => Status::Feasible(s),
        (false, None) => Status::Feasible("SCIP solution (status not recorded in the file)".into()),
    };
    Ok(Solution {
        format: SolutionFormat::Scip,
        status,
        objective,
        values: Values::ByName(values),
    })
}

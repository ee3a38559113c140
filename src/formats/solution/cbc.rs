//! CBC `solve solution FILE`: a status line
//! `Optimal - objective value v` (or `Stopped on time - ...`,
//! `Infeasible - ...`), then `index name value reduced-cost` for the
//! non-zero columns only. A leading `**` marks a value CBC thinks
//! infeasible. With `printingOptions all` rows come too; they are skipped
//! by name.

use super::{number, Solution, SolutionFormat, Status, Values};
use crate::error::{Error, Result};
use std::path::Path;

const STATUSES: &[&str] = &[
    "Optimal",
    "Infeasible",
    "Integer infeasible",
    "Unbounded",
    "Stopped on",
    "Status unknown",
    "Problem proven infeasible",
];

pub(super) fn detect(first: &str) -> bool {
    STATUSES.iter().any(|s| first.starts_with(s)) && first.contains("objective value")
}

fn is_row_name(name: &str) -> bool {
    ["pos_", "neg_", "mg_", "rlo_", "rhi_", "ron_", "act_"]
        .iter()
        .any(|p| name.starts_with(p))
        || name == "keep"
        || name == "norows"
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Solution> {
    let mut lines = text.lines().enumerate();
    let (_, first) = lines
        .next()
        .ok_or_else(|| Error::invalid(path, "is empty"))?;
    let (head, obj) = first
        .split_once("objective value")
        .ok_or_else(|| Error::parse(path, 1, first, "expected `<status> - objective value <v>`"))?;
    let head = head.trim().trim_end_matches('-').trim();
    let objective = number(path, 1, first, obj.trim())?;
    // CBC reports 1e50 when it has no solution at all.
    let status = if head.starts_with("Optimal") {
        Status::Optimal
    } else if head.contains("nfeasible") || head.starts_with("Unbounded") || objective.abs() >= 1e49
    {
        Status::NoSolution(head.to_string())
    } else {
        Status::Feasible(head.to_string())
    };
    let mut values = Vec::new();
    for (i, line) in lines {
        let t = line.trim().trim_start_matches("**").trim();
        if t.is_empty() {
            continue;
        }
        let toks: Vec<&str> = t.split_whitespace().collect();
        if toks.len() < 3 {
            return Err(Error::parse(
                path,
                i + 1,
                line,
                "expected `index name value [reduced cost]`",
            ));
        }
        if is_row_name(toks[1]) {
            continue;
        }
        values.push((
            toks[1].to_string(),
            number(path, i + 1, line, toks[2])?,
            i + 1,
        ));
    }
    Ok(Solution {
        format: SolutionFormat::Cbc,
        status,
        objective: Some(objective),
        values: Values::ByName(values),
    })
}

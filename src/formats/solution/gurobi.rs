//! Gurobi `.sol`: `# Solution for model NAME`, `# Objective value = v`,
//! then `name value` for every column. Gurobi writes the file only when it
//! has a solution, so its presence means feasible; optimality is not
//! recorded (reported as "feasible, optimality not recorded").

use super::{name_value, number, Solution, SolutionFormat, Status, Values};
use crate::error::Result;
use std::path::Path;

pub(super) fn detect(first: &str) -> bool {
    first.starts_with("# Solution for model") || first.starts_with("# Objective value =")
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Solution> {
    let mut objective = None;
    let mut values = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("# Objective value =") {
            objective = Some(number(path, i + 1, line, v.trim())?);
        } else if t.is_empty() || t.starts_with('#') {
            continue;
        } else {
            let (n, v) = name_value(path, i + 1, line)?;
            values.push((n, v, i + 1));
        }
    }
    Ok(Solution {
        format: SolutionFormat::Gurobi,
        status: Status::Feasible("Gurobi .sol (optimality not recorded in the file)".into()),
        objective,
        values: Values::ByName(values),
    })
}

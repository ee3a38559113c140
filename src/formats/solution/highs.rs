//! HiGHS solution files (`writeSolution`), raw style:
//! `Model status` / status line, `# Primal solution values`, `Feasible` or
//! `None`, `Objective v`, ..., `# Columns n`, then `name value` lines until
//! `# Rows`. Pretty style: a `Columns` table (values to 6 digits), a `Rows`
//! table, then `Model status: ...` and `Objective value: v`.

use super::{name_value, number, Solution, SolutionFormat, Status, Values};
use crate::error::{Error, Result};
use std::path::Path;

/// Writes a solution in HiGHS's raw style (what `gdmilp solve` and HiGHS
/// write), for answers found without HiGHS: `names` and `values` of every
/// column, in column order.
pub fn write_raw<W: std::io::Write>(
    mut w: W,
    status: &str,
    objective: f64,
    names: &[String],
    values: &[f64],
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(32 * names.len() + 128);
    buf.extend_from_slice(b"Model status\n");
    buf.extend_from_slice(status.as_bytes());
    buf.extend_from_slice(b"\n\n# Primal solution values\nFeasible\nObjective ");
    crate::num::push(&mut buf, objective);
    buf.extend_from_slice(format!("\n# Columns {}\n", names.len()).as_bytes());
    for (n, &v) in names.iter().zip(values) {
        buf.extend_from_slice(n.as_bytes());
        buf.push(b' ');
        crate::num::push(&mut buf, v);
        buf.push(b'\n');
    }
    buf.extend_from_slice(b"# Rows 0\n");
    w.write_all(&buf)?;
    w.flush()
}

pub(super) fn detect_raw(text: &str) -> bool {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    lines.next() == Some("Model status") && text.contains("# Primal solution values")
}

pub(super) fn detect_pretty(text: &str) -> bool {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    first == "Columns"
        && text
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("Primal") && l.contains("Name"))
}

/// Maps a HiGHS model status string to a [`Status`], given whether a
/// feasible primal solution is present.
fn status(model_status: &str, has_solution: bool) -> Status {
    let s = model_status.trim();
    if !has_solution {
        return Status::NoSolution(if s.is_empty() {
            "no solution".into()
        } else {
            s.to_string()
        });
    }
    if s.eq_ignore_ascii_case("optimal") {
        Status::Optimal
    } else {
        Status::Feasible(s.to_string())
    }
}

pub(super) fn parse_raw(path: &Path, text: &str) -> Result<Solution> {
    let lines: Vec<&str> = text.lines().collect();
    let mut model_status = String::new();
    let mut feasible = false;
    let mut objective = None;
    let mut values = Vec::new();
    let mut k = 0;
    let mut in_columns = false;
    let mut expected = None;
    while k < lines.len() {
        let line = lines[k];
        let t = line.trim();
        let no = k + 1;
        k += 1;
        if t == "Model status" {
            model_status = lines
                .get(k)
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            k += 1;
        } else if t == "# Primal solution values" {
            feasible = lines.get(k).map(|s| s.trim()) == Some("Feasible");
            k += 1;
        } else if let Some(v) = t.strip_prefix("Objective ") {
            objective = Some(number(path, no, line, v.trim())?);
        } else if let Some(n) = t.strip_prefix("# Columns ") {
            in_columns = true;
            expected = Some(
                n.trim()
                    .parse::<usize>()
                    .map_err(|_| Error::parse(path, no, line, "expected a column count"))?,
            );
        } else if t.starts_with('#') {
            if in_columns {
                break;
            }
        } else if in_columns && !t.is_empty() {
            let (n, v) = name_value(path, no, line)?;
            values.push((n, v, no));
        }
    }
    if model_status.is_empty() {
        return Err(Error::invalid(path, "HiGHS solution has no model status"));
    }
    let st = status(&model_status, feasible);
    if let (Some(n), Status::Optimal | Status::Feasible(_)) = (expected, &st) {
        if values.len() != n {
            return Err(Error::invalid(
                path,
                format!(
                    "HiGHS solution announces {n} columns but lists {} (truncated file?)",
                    values.len()
                ),
            ));
        }
    }
    Ok(Solution {
        format: SolutionFormat::Highs,
        status: st,
        objective,
        values: Values::ByName(values),
    })
}

pub(super) fn parse_pretty(path: &Path, text: &str) -> Result<Solution> {
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .get(1)
        .ok_or_else(|| Error::invalid(path, "HiGHS pretty solution has no Columns header"))?;
    // Values are right-aligned under their headers: the primal value ends
    // where the word "Primal" ends.
    let primal_end = header
        .find("Primal")
        .map(|p| p + "Primal".len())
        .ok_or_else(|| Error::parse(path, 2, header, "expected a `Primal` column"))?;
    let mut values = Vec::new();
    let mut k = 2;
    while k < lines.len() {
        let line = lines[k];
        let t = line.trim();
        if t.is_empty() || t == "Rows" {
            break;
        }
        let name = t.split_whitespace().last().unwrap_or("");
        let field = line.get(..primal_end.min(line.len())).unwrap_or("");
        let tok = field
            .split_whitespace()
            .last()
            .ok_or_else(|| Error::parse(path, k + 1, line, "no primal value"))?;
        values.push((name.to_string(), number(path, k + 1, line, tok)?, k + 1));
        k += 1;
    }
    let mut model_status = String::new();
    let mut objective = None;
    for (i, line) in lines.iter().enumerate().skip(k) {
        if let Some(s) = line.trim().strip_prefix("Model status:") {
            model_status = s.trim().to_string();
        } else if let Some(v) = line.trim().strip_prefix("Objective value:") {
            objective = Some(number(path, i + 1, line, v.trim())?);
        }
    }
    let has = objective.is_some() && !values.is_empty();
    Ok(Solution {
        format: SolutionFormat::HighsPretty,
        status: status(&model_status, has),
        objective,
        values: Values::ByName(values),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_with_no_solution_is_reported_as_such() {
        let text = "Model status\nInfeasible\n\n# Primal solution values\nNone\n# Dual solution values\nNone\n";
        let s = parse_raw(Path::new("x.sol"), text).unwrap();
        assert_eq!(s.status, Status::NoSolution("Infeasible".into()));
    }

    #[test]
    fn raw_time_limit_incumbent_is_feasible() {
        let text = "Model status\nTime limit reached\n\n# Primal solution values\nFeasible\nObjective -3\n# Columns 2\nw_0_0 1e-3\nc_1 1\n# Rows 0\n";
        let s = parse_raw(Path::new("x.sol"), text).unwrap();
        assert_eq!(s.status, Status::Feasible("Time limit reached".into()));
        assert_eq!(s.objective, Some(-3.0));
        assert_eq!(
            s.values,
            Values::ByName(vec![("w_0_0".into(), 1e-3, 8), ("c_1".into(), 1.0, 9)])
        );
    }

    #[test]
    fn raw_truncated_is_an_error() {
        let text = "Model status\nOptimal\n\n# Primal solution values\nFeasible\nObjective -3\n# Columns 3\nw_0_0 1\n";
        assert!(parse_raw(Path::new("x.sol"), text).is_err());
    }
}

//! GLPK's printable solution (`glpsol … -o FILE`): a header (`Problem:`,
//! `Rows:`, `Columns:`, `Non-zeros:`, `Status:`, `Objective:  obj = v
//! (MINimum)`), a table of rows, a table of columns, the optimality
//! conditions, `End of output`. Three layouts of the column table: MIP
//! (`No. Column name Activity Lower bound Upper bound`, a `*` before the
//! activity of an integer column), simplex (a status column `St`: B, NL,
//! NU, NF or NS, before the activity, and a `Marginal` column) and interior
//! point (`Marginal`, no `St`). A name longer than 12 characters stands
//! alone on its line and the values follow on the next. Values are printed
//! to 6 significant digits (`%13.6g`), the objective to 10.

use super::{number, Solution, SolutionFormat, Status, Values};
use crate::error::{Error, Result};
use std::path::Path;

pub(super) fn detect(text: &str) -> bool {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    first.is_some_and(|l| l.starts_with("Problem:"))
        && text.lines().any(|l| l.starts_with("Status:"))
        && text
            .lines()
            .any(|l| l.trim_start().starts_with("No. Column name"))
}

/// The column table's layout.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    Mip,
    Simplex,
    Interior,
}

/// What the header says.
#[derive(Default)]
struct Header {
    columns: Option<usize>,
    status: Option<String>,
    objective: Option<f64>,
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Solution> {
    let lines: Vec<&str> = text.lines().collect();
    let mut head = Header::default();
    let mut k = 0;
    while k < lines.len() && !lines[k].trim_start().starts_with("No. Column name") {
        header_line(path, k + 1, lines[k], &mut head)?;
        k += 1;
    }
    let table = k;
    let layout = match lines.get(table) {
        Some(l) if l.contains(" St ") => Layout::Simplex,
        Some(l) if l.contains("Marginal") => Layout::Interior,
        Some(_) => Layout::Mip,
        None => {
            return Err(Error::invalid(
                path,
                "GLPK report has no column table (`No. Column name …`)",
            ))
        }
    };
    let (Some(status_text), Some(columns)) = (head.status, head.columns) else {
        return Err(Error::invalid(
            path,
            "GLPK report has no `Status:` or no `Columns:` line before its column table",
        ));
    };
    if !lines
        .get(table + 1)
        .is_some_and(|l| l.starts_with("------"))
    {
        let l = lines.get(table + 1).copied().unwrap_or("");
        return Err(Error::parse(
            path,
            table + 2,
            l,
            "expected the `------` line under the column header",
        ));
    }
    let values = column_table(path, &lines, table + 2, layout)?;
    if !lines.iter().any(|l| l.trim() == "End of output") {
        return Err(Error::invalid(
            path,
            "GLPK report has no `End of output` line (truncated file?)",
        ));
    }
    if values.len() != columns {
        return Err(Error::invalid(
            path,
            format!(
                "GLPK report announces {columns} columns but lists {}",
                values.len()
            ),
        ));
    }
    let status = match status_text.as_str() {
        "OPTIMAL" | "INTEGER OPTIMAL" => Status::Optimal,
        "FEASIBLE" | "INTEGER NON-OPTIMAL" => {
            Status::Feasible(format!("GLPK status {status_text}"))
        }
        _ => Status::NoSolution(format!("GLPK status {status_text}")),
    };
    Ok(Solution {
        format: SolutionFormat::GlpkReport,
        status,
        objective: head.objective,
        values: Values::ByName(values),
    })
}

/// Reads one header line (1-based `no`) into `head`; other lines (the row
/// table) pass.
fn header_line(path: &Path, no: usize, line: &str, head: &mut Header) -> Result<()> {
    if let Some(rest) = line.strip_prefix("Columns:") {
        let n = rest.split_whitespace().next().and_then(|t| t.parse().ok());
        head.columns =
            Some(n.ok_or_else(|| Error::parse(path, no, line, "expected `Columns: <count>`"))?);
    } else if let Some(rest) = line.strip_prefix("Status:") {
        head.status = Some(rest.trim().to_string());
    } else if let Some(rest) = line.strip_prefix("Objective:") {
        // `obj = -36 (MINimum)`; the name may be missing.
        let value = rest.rsplit_once('=').map_or(rest, |(_, v)| v);
        let tok = value.split_whitespace().next().unwrap_or("");
        head.objective = Some(number(path, no, line, tok)?);
    }
    Ok(())
}

/// The column entries from line index `from` to the first blank line.
fn column_table(
    path: &Path,
    lines: &[&str],
    from: usize,
    layout: Layout,
) -> Result<Vec<(String, f64, usize)>> {
    let mut out = Vec::new();
    let mut k = from;
    while k < lines.len() && !lines[k].trim().is_empty() {
        let (no, line) = (k + 1, lines[k]);
        let toks: Vec<&str> = line.split_whitespace().collect();
        let expect = out.len() + 1;
        if toks.len() < 2 || toks[0].parse::<usize>() != Ok(expect) {
            return Err(Error::parse(
                path,
                no,
                line,
                format!("expected column {expect}: `{expect} <name> <values>`"),
            ));
        }
        // A long name stands alone; its values are on the next line.
        let (vline, vno, rest) = if toks.len() == 2 {
            k += 1;
            let next = lines.get(k).copied().unwrap_or("");
            (next, k + 1, next.split_whitespace().collect::<Vec<_>>())
        } else {
            (line, no, toks[2..].to_vec())
        };
        let value = activity(path, vno, vline, layout, &rest)?;
        out.push((toks[1].to_string(), value, vno));
        k += 1;
    }
    Ok(out)
}

/// The activity among a column's values: after the `*` of an integer
/// column (MIP) or the status (simplex).
fn activity(path: &Path, no: usize, line: &str, layout: Layout, rest: &[&str]) -> Result<f64> {
    let skip = match layout {
        Layout::Mip => usize::from(rest.first() == Some(&"*")),
        Layout::Simplex => {
            if !rest
                .first()
                .is_some_and(|s| ["B", "NL", "NU", "NF", "NS"].contains(s))
            {
                return Err(Error::parse(
                    path,
                    no,
                    line,
                    "expected a column status (B, NL, NU, NF or NS) before the activity",
                ));
            }
            1
        }
        Layout::Interior => 0,
    };
    let tok = rest
        .get(skip)
        .ok_or_else(|| Error::parse(path, no, line, "the column has no activity value"))?;
    number(path, no, line, tok)
}

#[cfg(test)]
mod tests {
    use super::super::tests::named;
    use super::*;

    fn read(text: &str) -> Result<Solution> {
        parse(Path::new("r.txt"), text)
    }

    #[test]
    fn reads_glpsol_mip_report() {
        let s = read(include_str!(
            "../../../fixtures/solutions/glpk-report/layer.txt"
        ))
        .unwrap();
        assert_eq!(
            (s.status.clone(), s.objective),
            (Status::Optimal, Some(-36.0))
        );
        let v = named(&s);
        assert_eq!(v.len(), 207);
        assert_eq!(v[0].0, "w_0_0");
        assert_eq!(v.last().unwrap().0, "c_39");
        assert_eq!(v.last().unwrap().1, 1.0);
    }

    #[test]
    fn reads_simplex_and_interior_reports_with_wrapped_names() {
        let simplex =
            include_str!("../../../fixtures/solutions/glpk-report/long_names_simplex.txt");
        let interior =
            include_str!("../../../fixtures/solutions/glpk-report/long_names_interior.txt");
        for (text, want) in [
            (simplex, [1.0, 0.5, 2.5]),
            (interior, [0.383283, 1.11672, 3.11672]),
        ] {
            let s = read(text).unwrap();
            assert_eq!(s.status, Status::Optimal);
            let v: Vec<(&str, f64)> = named(&s).iter().map(|(n, x, _)| (n.as_str(), *x)).collect();
            assert_eq!(
                v,
                [
                    ("a_very_long_column_name", want[0]),
                    ("y", want[1]),
                    ("zz", want[2])
                ]
            );
        }
    }

    #[test]
    fn reads_the_lp_and_mps_variants_of_a_continuous_gdmilp_file() {
        // The l1 golden problem (tests/golden/tiny_regression.{lp,mps}):
        // the same solution, only the `Problem:` line differs.
        for text in [
            include_str!("../../../fixtures/solutions/glpk-report/tiny_regression_lp.txt"),
            include_str!("../../../fixtures/solutions/glpk-report/tiny_regression_mps.txt"),
        ] {
            let s = read(text).unwrap();
            assert_eq!(
                (s.status.clone(), s.objective),
                (Status::Optimal, Some(1.4875))
            );
            let v: Vec<(&str, f64)> = named(&s).iter().map(|(n, x, _)| (n.as_str(), *x)).collect();
            assert_eq!(
                v,
                [
                    ("w_0_0", 0.45),
                    ("w_0_1", -0.26875),
                    ("b_0", 0.075),
                    ("dev_0_0", 1.0125),
                    ("dev_1_0", 0.475),
                    ("dev_2_0", 0.0)
                ]
            );
        }
    }

    #[test]
    fn a_mip_stopped_at_its_gap_is_feasible() {
        let s = read(include_str!(
            "../../../fixtures/solutions/glpk-report/mip_gap.txt"
        ))
        .unwrap();
        assert_eq!(
            (s.status.clone(), s.objective),
            (
                Status::Feasible("GLPK status INTEGER NON-OPTIMAL".into()),
                Some(-33.0)
            )
        );
        assert_eq!(named(&s).len(), 207);
    }

    #[test]
    fn a_mip_without_an_integer_solution_has_no_solution() {
        let s = read(include_str!(
            "../../../fixtures/solutions/glpk-report/time_limit.txt"
        ))
        .unwrap();
        assert_eq!(
            s.status,
            Status::NoSolution("GLPK status INTEGER UNDEFINED".into())
        );
    }

    #[test]
    fn malformed_reports_name_the_line_and_what_is_wrong() {
        let good = include_str!("../../../fixtures/solutions/glpk-report/long_names_simplex.txt");
        let edit = |from: &str, to: &str| {
            assert!(good.contains(from), "{from}");
            good.replacen(from, to, 1)
        };
        for (text, needle) in [
            (
                edit("     2 y            B ", "     3 y            B "),
                "r.txt:18: expected column 2",
            ),
            (
                edit("     2 y            B ", "     2 y            X "),
                "r.txt:18: expected a column status",
            ),
            (
                edit("B            0.5 ", "B            0.x5 "),
                "r.txt:18: '0.x5' is not a number",
            ),
            (
                edit(
                    "                    NU             1",
                    "                    NX             1",
                ),
                "r.txt:17: expected a column status",
            ),
            (
                edit("obj = -0.5", "obj = zero"),
                "r.txt:6: 'zero' is not a number",
            ),
            (
                edit("Columns:    3", "Columns:    4"),
                "announces 4 columns but lists 3",
            ),
            (edit("End of output", ""), "truncated file?"),
            (
                good.split("   No. Column").next().unwrap().to_string(),
                "no column table",
            ),
        ] {
            let e = read(&text).unwrap_err().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }
}

//! Solution files, one module per solver's format, detected from content.
//! Each reader returns a [`Solution`]: status, the objective the solver
//! reported, and values by column name (or, for GLPK's `-w`, by column
//! number, mapped through the manifest's column order). Readers know the
//! solvers' files, nothing about models or manifests.

pub mod cbc;
pub mod cplex;
pub mod glpk;
pub mod glpk_report;
pub mod gurobi;
pub mod gurobi_json;
pub mod highs;
pub mod scip;

use crate::error::{Error, Result};
use std::path::Path;

/// A supported solution format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolutionFormat {
    /// HiGHS `writeSolution`, raw style (also what `gdmilp solve` writes).
    Highs,
    /// HiGHS `writeSolution`, pretty style (6 significant digits).
    HighsPretty,
    /// Gurobi `.sol` (`ResultFile=x.sol`).
    Gurobi,
    /// Gurobi's JSON solution (`ResultFile=x.json`).
    GurobiJson,
    /// CPLEX XML `.sol`.
    Cplex,
    /// CBC `solve solution FILE`.
    Cbc,
    /// SCIP `write solution FILE` / `writeBestSol`.
    Scip,
    /// GLPK `glpsol -w FILE` (columns by number).
    Glpk,
    /// GLPK's printable report `glpsol -o FILE` (6 significant digits).
    GlpkReport,
}

impl SolutionFormat {
    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            SolutionFormat::Highs => "HiGHS",
            SolutionFormat::HighsPretty => "HiGHS (pretty)",
            SolutionFormat::Gurobi => "Gurobi",
            SolutionFormat::GurobiJson => "Gurobi JSON",
            SolutionFormat::Cplex => "CPLEX XML",
            SolutionFormat::Cbc => "CBC",
            SolutionFormat::Scip => "SCIP",
            SolutionFormat::Glpk => "GLPK",
            SolutionFormat::GlpkReport => "GLPK report",
        }
    }

    /// True when the format lists every column (a missing one is an
    /// error); false when it leaves out zeros (a missing one is 0).
    pub fn lists_every_column(self) -> bool {
        !matches!(
            self,
            SolutionFormat::Cbc | SolutionFormat::Scip | SolutionFormat::GurobiJson
        )
    }

    /// The relative error of the values as printed: half a unit in the
    /// last digit for formats that round (6 significant digits), else 0.
    pub fn printed_precision(self) -> f64 {
        match self {
            SolutionFormat::HighsPretty | SolutionFormat::GlpkReport => 5e-6,
            _ => 0.0,
        }
    }

    /// A note for formats that print values rounded (the exact value is
    /// lost, so the patched model may differ a little from the solver's).
    pub fn rounding_note(self) -> Option<&'static str> {
        match self {
            SolutionFormat::HighsPretty => {
                Some("HiGHS's pretty style rounds values to 6 digits; the raw style is exact")
            }
            SolutionFormat::GlpkReport => Some(
                "GLPK's -o report rounds values to 6 digits; its -w file (glpsol -w FILE) is exact",
            ),
            _ => None,
        }
    }
}

/// What the solver says about its answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Proven optimal.
    Optimal,
    /// A feasible solution, not proven optimal (time limit, gap, ...).
    Feasible(String),
    /// No usable solution (infeasible, unbounded, nothing found).
    NoSolution(String),
}

/// Values as the file gives them.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// (name, value, 1-based line).
    ByName(Vec<(String, f64, usize)>),
    /// (0-based column number, value, 1-based line).
    ByIndex(Vec<(usize, f64, usize)>),
}

/// A parsed solution file.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Its format.
    pub format: SolutionFormat,
    /// Status.
    pub status: Status,
    /// Objective as the solver reported it.
    pub objective: Option<f64>,
    /// Column values.
    pub values: Values,
}

/// Detects the format of `text`.
pub fn detect(text: &str) -> Option<SolutionFormat> {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if cplex::detect(text) {
        Some(SolutionFormat::Cplex)
    } else if highs::detect_raw(text) {
        Some(SolutionFormat::Highs)
    } else if highs::detect_pretty(text) {
        Some(SolutionFormat::HighsPretty)
    } else if glpk::detect(text) {
        Some(SolutionFormat::Glpk)
    } else if glpk_report::detect(text) {
        Some(SolutionFormat::GlpkReport)
    } else if gurobi_json::detect(text) {
        Some(SolutionFormat::GurobiJson)
    } else if scip::detect(first) {
        Some(SolutionFormat::Scip)
    } else if gurobi::detect(first) {
        Some(SolutionFormat::Gurobi)
    } else if cbc::detect(first) {
        Some(SolutionFormat::Cbc)
    } else {
        None
    }
}

/// Reads a solution file: `format` forces a format, else it is detected.
pub fn read(path: &Path, format: Option<SolutionFormat>) -> Result<Solution> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read the solution", e))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::invalid(
            path,
            "is not a text file; expected a solver's solution file",
        )
    })?;
    if text.trim().is_empty() {
        return Err(Error::invalid(
            path,
            "is empty; the solver wrote no solution",
        ));
    }
    parse(path, &text, format)
}

/// Parses solution `text` (named `path` in errors): `format` forces a
/// format, else it is detected.
pub fn parse(path: &Path, text: &str, format: Option<SolutionFormat>) -> Result<Solution> {
    let format = match format.or_else(|| detect(text)) {
        Some(f) => f,
        None => {
            return Err(Error::invalid(
                path,
                "is not a solution file gdmilp recognises (HiGHS, Gurobi .sol or JSON, CPLEX XML, CBC, SCIP, GLPK -w or -o); force one with --solution-format",
            ))
        }
    };
    match format {
        SolutionFormat::Highs => highs::parse_raw(path, text),
        SolutionFormat::HighsPretty => highs::parse_pretty(path, text),
        SolutionFormat::Gurobi => gurobi::parse(path, text),
        SolutionFormat::GurobiJson => gurobi_json::parse(path, text),
        SolutionFormat::Cplex => cplex::parse(path, text),
        SolutionFormat::Cbc => cbc::parse(path, text),
        SolutionFormat::Scip => scip::parse(path, text),
        SolutionFormat::Glpk => glpk::parse(path, text),
        SolutionFormat::GlpkReport => glpk_report::parse(path, text),
    }
}

/// Parses a number token of line `k` (1-based).
pub(crate) fn number(path: &Path, k: usize, line: &str, tok: &str) -> Result<f64> {
    tok.parse::<f64>()
        .map_err(|_| Error::parse(path, k, line, format!("'{tok}' is not a number")))
}

/// Parses `name value [ignored...]` lines, skipping `skip` prefixes.
pub(crate) fn name_value(path: &Path, k: usize, line: &str) -> Result<(String, f64)> {
    let mut it = line.split_whitespace();
    match (it.next(), it.next()) {
        (Some(n), Some(v)) => Ok((n.to_string(), number(path, k, line, v)?)),
        _ => Err(Error::parse(path, k, line, "expected `name value`")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The values of a solution read by name (readers' tests).
    pub(crate) fn named(s: &Solution) -> &[(String, f64, usize)] {
        match &s.values {
            Values::ByName(v) => v,
            Values::ByIndex(_) => panic!("by name"),
        }
    }

    #[test]
    fn detection_tells_every_format_apart() {
        let cases = [
            ("Model status\nOptimal\n\n# Primal solution values\nFeasible\nObjective 1\n# Columns 1\nx 1\n", SolutionFormat::Highs),
            ("Columns\n    Index Status        Lower        Upper       Primal         Dual  Type        Name\n", SolutionFormat::HighsPretty),
            ("# Solution for model m\n# Objective value = 1\nx 1\n", SolutionFormat::Gurobi),
            ("<?xml version = \"1.0\"?>\n<CPLEXSolution version=\"1.2\">\n", SolutionFormat::Cplex),
            ("Optimal - objective value -56.00000000\n      0 w_0_0  1  0\n", SolutionFormat::Cbc),
            ("solution status: optimal solution found\nobjective value: 1\n", SolutionFormat::Scip),
            ("objective value:                 -56\nc_1  1 \t(obj:-1)\n", SolutionFormat::Scip),
            ("c Problem: x\nc\ns mip 1 1 o 1\nj 1 1\ne o f\n", SolutionFormat::Glpk),
            ("Problem:    gdmilp\nRows:       1\nColumns:    1\nStatus:     OPTIMAL\n\n   No. Column name  St   Activity\n", SolutionFormat::GlpkReport),
            ("{ \"SolutionInfo\": { \"Status\": 2, \"ObjVal\": -36}, \"Vars\": []}", SolutionFormat::GurobiJson),
        ];
        for (text, f) in cases {
            assert_eq!(detect(text), Some(f), "{text}");
        }
        assert_eq!(detect("hello world\n"), None);
    }
}

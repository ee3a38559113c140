//! Gurobi's JSON solution (`ResultFile=x.json`, or `model.write("x.json")`
//! in gurobipy): one JSON object with `SolutionInfo` (`Status`, Gurobi's
//! status code; `ObjVal`; `SolCount` for a MIP) and `Vars`, a list of
//! `{"VarName": name, "X": value}`. With the default `JSONSolDetail=0`,
//! columns at 0 are left out (so a missing column is 0); without a solution
//! there is no `Vars` and `ObjVal` is 1e100. Gurobi writes the whole object
//! on one line; errors name the line and show the text around the column.

use super::{Solution, SolutionFormat, Status, Values};
use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::path::Path;

/// Gurobi's optimisation status codes (its reference manual, "Optimization
/// status codes").
const STATUS: &[(i64, &str)] = &[
    (1, "LOADED"),
    (2, "OPTIMAL"),
    (3, "INFEASIBLE"),
    (4, "INF_OR_UNBD"),
    (5, "UNBOUNDED"),
    (6, "CUTOFF"),
    (7, "ITERATION_LIMIT"),
    (8, "NODE_LIMIT"),
    (9, "TIME_LIMIT"),
    (10, "SOLUTION_LIMIT"),
    (11, "INTERRUPTED"),
    (12, "NUMERIC"),
    (13, "SUBOPTIMAL"),
    (14, "INPROGRESS"),
    (15, "USER_OBJ_LIMIT"),
    (16, "WORK_LIMIT"),
    (17, "MEM_LIMIT"),
];

pub(super) fn detect(text: &str) -> bool {
    text.trim_start().starts_with('{') && text.contains("\"SolutionInfo\"")
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Solution> {
    let root: Value = serde_json::from_str(text).map_err(|e| json_error(path, text, &e))?;
    let info = root
        .get("SolutionInfo")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            at(
                path,
                text,
                "SolutionInfo",
                "expected a `SolutionInfo` object",
            )
        })?;
    let code = info.get("Status").and_then(Value::as_i64).ok_or_else(|| {
        at(
            path,
            text,
            "Status",
            "expected `\"Status\": <Gurobi status code>`",
        )
    })?;
    let name = STATUS
        .iter()
        .find(|s| s.0 == code)
        .map_or_else(|| format!("status {code}"), |s| s.1.to_string());
    let vars = match root.get("Vars") {
        None => None,
        Some(v) => Some(
            v.as_array()
                .ok_or_else(|| at(path, text, "Vars", "expected `\"Vars\": [ … ]`"))?,
        ),
    };
    let status = status(code, name, info, vars.is_some());
    let objective = match info.get("ObjVal") {
        Some(v) => Some(
            v.as_f64()
                .ok_or_else(|| at(path, text, "ObjVal", "`ObjVal` is not a number"))?,
        ),
        None => None,
    };
    let values = match vars {
        Some(vars) if !matches!(status, Status::NoSolution(_)) => values(path, text, vars)?,
        _ => Vec::new(),
    };
    // Without a solution Gurobi writes 1e100: not an objective.
    Ok(Solution {
        format: SolutionFormat::GurobiJson,
        objective: objective.filter(|_| !matches!(status, Status::NoSolution(_))),
        status,
        values: Values::ByName(values),
    })
}

/// OPTIMAL is optimal; any other status with a solution (`SolCount` > 0,
/// or, where an LP has no `SolCount`, a `Vars` list) is feasible.
fn status(code: i64, name: String, info: &Map<String, Value>, has_vars: bool) -> Status {
    let has_solution = match info.get("SolCount").and_then(Value::as_i64) {
        Some(n) => n > 0,
        None => has_vars && !(3..=6).contains(&code),
    };
    match code {
        2 if has_solution || has_vars => Status::Optimal,
        _ if has_solution => Status::Feasible(format!("Gurobi status {name}")),
        _ => Status::NoSolution(format!("Gurobi status {name}, no solution")),
    }
}

/// (name, value, line) of each entry of `Vars`.
fn values(path: &Path, text: &str, vars: &[Value]) -> Result<Vec<(String, f64, usize)>> {
    // serde_json keeps no positions: the k-th `"VarName"` in the text is
    // the k-th entry's (entries without one are an error anyway).
    // One pass over the text: counting from the start for each entry made
    // a file of a million columns quadratic.
    let (mut line, mut from) = (1, 0);
    let lines: Vec<usize> = text
        .match_indices("\"VarName\"")
        .map(|(at, _)| {
            line += text.as_bytes()[from..at]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            from = at;
            line
        })
        .collect();
    let vars_line = text.find("\"Vars\"").map_or(1, |at| line_of(text, at));
    let mut out = Vec::with_capacity(vars.len());
    for (k, v) in vars.iter().enumerate() {
        let line = lines.get(k).copied().unwrap_or(vars_line);
        let name = v.get("VarName").and_then(Value::as_str);
        let x = v.get("X").and_then(Value::as_f64);
        let (Some(name), Some(x)) = (name, x) else {
            let shown = serde_json::to_string(v).unwrap_or_default();
            return Err(Error::parse(
                path,
                line,
                &shown,
                format!(
                    "entry {} of `Vars` needs `\"VarName\": string` and `\"X\": number`",
                    k + 1
                ),
            ));
        };
        out.push((name.to_string(), x, line));
    }
    Ok(out)
}

fn line_of(text: &str, byte: usize) -> usize {
    text.as_bytes()[..byte]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A parse error at the first occurrence of `"key"` (or line 1).
fn at(path: &Path, text: &str, key: &str, msg: &str) -> Error {
    let quoted = format!("\"{key}\"");
    let (line, col) = match text.find(&quoted) {
        Some(at) => {
            let line = line_of(text, at);
            let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
            (line, at - start + 1)
        }
        None => (1, 1),
    };
    Error::parse(
        path,
        line,
        &excerpt(text, line, col),
        format!("Gurobi JSON solution: {msg}"),
    )
}

fn json_error(path: &Path, text: &str, e: &serde_json::Error) -> Error {
    let what = e.to_string();
    let what = what.split(" at line ").next().unwrap_or(&what);
    let (line, col) = (e.line().max(1), e.column());
    Error::parse(
        path,
        line,
        &excerpt(text, line, col),
        format!("not valid JSON at column {col}: {what}"),
    )
}

/// Up to 40 characters either side of 1-based `col` of `line`.
fn excerpt(text: &str, line: usize, col: usize) -> String {
    let l = text.lines().nth(line - 1).unwrap_or("");
    let chars: Vec<char> = l.chars().collect();
    let at = col.saturating_sub(1).min(chars.len());
    let from = at.saturating_sub(40);
    let to = (at + 40).min(chars.len());
    chars[from..to].iter().collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::named;
    use super::*;

    fn read(text: &str) -> Result<Solution> {
        parse(Path::new("x.json"), text)
    }

    #[test]
    fn reads_the_gurobipy_sample_optimal() {
        let text = include_str!("../../../fixtures/solutions/gurobi-json/layer.json");
        let s = read(text).unwrap();
        assert_eq!(s.status, Status::Optimal);
        assert_eq!(s.objective, Some(-36.0));
        let v = named(&s);
        // The text Gurobi printed, read to the same f64.
        let first: f64 = "-9.2116634547710421e-02".parse().unwrap();
        assert_eq!(v[0], ("w_0_0".into(), first, 1));
        // JSONSolDetail=0 leaves out the columns at 0 (here c_5).
        assert!(v.iter().all(|(n, x, _)| n != "c_5" && *x != 0.0));
    }

    #[test]
    fn reads_a_solution_limit_as_feasible_and_a_time_limit_without_one_as_none() {
        let s = read(include_str!(
            "../../../fixtures/solutions/gurobi-json/solution_limit.json"
        ))
        .unwrap();
        assert_eq!(
            s.status,
            Status::Feasible("Gurobi status SOLUTION_LIMIT".into())
        );
        assert!(!named(&s).is_empty());
        let s = read(include_str!(
            "../../../fixtures/solutions/gurobi-json/time_limit.json"
        ))
        .unwrap();
        assert_eq!(
            s.status,
            Status::NoSolution("Gurobi status TIME_LIMIT, no solution".into())
        );
        assert_eq!(s.objective, None, "1e100 is not an objective");
        assert!(named(&s).is_empty());
    }

    #[test]
    fn reads_an_lp_without_solcount_and_pretty_printed_lines() {
        let text = "{\n \"SolutionInfo\": {\"Status\": 2, \"ObjVal\": 1.5},\n \"Vars\": [\n  {\"VarName\": \"w_0_0\", \"X\": 0.5, \"RC\": 1},\n  {\"VarName\": \"b_0\", \"X\": -1e-3}\n ]\n}\n";
        let s = read(text).unwrap();
        assert_eq!(
            (s.status.clone(), s.objective),
            (Status::Optimal, Some(1.5))
        );
        assert_eq!(
            named(&s),
            [("w_0_0".into(), 0.5, 4), ("b_0".into(), -1e-3, 5)]
        );
        let infeasible = "{\"SolutionInfo\": {\"Status\": 3}}";
        assert!(
            matches!(read(infeasible).unwrap().status, Status::NoSolution(m) if m.contains("INFEASIBLE"))
        );
    }

    #[test]
    fn malformed_files_name_the_line_and_what_is_wrong() {
        for (text, line, needle) in [
            ("{\"SolutionInfo\": {\"Status\": 2},\n \"Vars\": [ {\"VarName\": \"w\", \"X\": 1,} ]}", 2, "not valid JSON at column"),
            ("{\"SolutionInfo\": 3}", 1, "SolutionInfo"),
            ("{\"SolutionInfo\": {\"Status\": \"2\"}}", 1, "Status"),
            ("{\"SolutionInfo\": {\"Status\": 2},\n\"Vars\": {}}", 2, "Vars"),
            ("{\"SolutionInfo\": {\"Status\": 2},\n\"Vars\": [\n{\"VarName\": \"w\", \"X\": 1},\n{\"VarName\": \"v\", \"X\": \"a\"}]}", 4, "entry 2"),
            ("{\"SolutionInfo\": {\"Status\": 2, \"ObjVal\": null}}", 1, "ObjVal"),
        ] {
            let e = read(text).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("x.json:{line}: ")) && e.contains(needle),
                "{text}: {e}"
            );
        }
    }
}

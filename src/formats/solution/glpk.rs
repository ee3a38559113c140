//! GLPK `glpsol -w FILE` (GLPK's plain solution format): `c` comment lines,
//! one `s` line (`s mip ROWS COLS STATUS OBJ`, `s bas ROWS COLS PST DST OBJ`
//! or `s ipt ROWS COLS STATUS OBJ`), `i` lines for rows and `j` lines for
//! columns by number (1-based, in the order the file declared them), `e`.

use super::{number, Solution, SolutionFormat, Status, Values};
use crate::error::{Error, Result};
use std::path::Path;

pub(super) fn detect(text: &str) -> bool {
    text.lines()
        .any(|l| l.starts_with("s mip ") || l.starts_with("s bas ") || l.starts_with("s ipt "))
        && text
            .lines()
            .all(|l| l.is_empty() || matches!(l.as_bytes()[0], b'c' | b's' | b'i' | b'j' | b'e'))
}

/// What the `s` line says.
struct Head {
    /// `mip`, `bas` or `ipt`.
    kind: String,
    status: Status,
    cols: usize,
    objective: f64,
}

pub(super) fn parse(path: &Path, text: &str) -> Result<Solution> {
    let mut head: Option<Head> = None;
    let mut values = Vec::new();
    let mut ended = false;
    for (i, line) in text.lines().enumerate() {
        let no = i + 1;
        let toks: Vec<&str> = line.split_whitespace().collect();
        let bad = |msg: &str| Error::parse(path, no, line, msg);
        match toks.first().copied() {
            None | Some("c") | Some("i") => {}
            Some("s") => head = Some(s_line(&toks, &bad, |t| number(path, no, line, t))?),
            Some("j") => {
                let kind = head.as_ref().map(|h| h.kind.as_str());
                let (idx, v) = j_line(&toks, kind, &bad)?;
                values.push((idx, number(path, no, line, v)?, no));
            }
            Some("e") => ended = true,
            Some(_) => return Err(bad("not a GLPK solution line")),
        }
    }
    if !ended {
        return Err(Error::invalid(
            path,
            "GLPK solution has no `e` end line (truncated file?)",
        ));
    }
    let (status, objective) = match head {
        Some(h) => {
            if matches!(h.status, Status::Optimal | Status::Feasible(_)) && h.cols != values.len() {
                return Err(Error::invalid(
                    path,
                    format!(
                        "GLPK solution announces {} columns but lists {}",
                        h.cols,
                        values.len()
                    ),
                ));
            }
            (h.status, Some(h.objective))
        }
        None => (Status::NoSolution("no `s` line".into()), None),
    };
    Ok(Solution {
        format: SolutionFormat::Glpk,
        status,
        objective,
        values: Values::ByIndex(values),
    })
}

/// `s mip ROWS COLS STATUS OBJ`, `s bas ROWS COLS PST DST OBJ` or
/// `s ipt ROWS COLS STATUS OBJ`.
fn s_line(
    toks: &[&str],
    bad: &dyn Fn(&str) -> Error,
    num: impl Fn(&str) -> Result<f64>,
) -> Result<Head> {
    let k = *toks.get(1).ok_or_else(|| bad("incomplete `s` line"))?;
    let (st, obj) = match (k, toks.len()) {
        ("mip", 6) | ("ipt", 6) => (toks[4].to_string(), toks[5]),
        ("bas", 7) => (format!("{}{}", toks[4], toks[5]), toks[6]),
        _ => return Err(bad("expected `s mip|bas|ipt ROWS COLS STATUS... OBJ`")),
    };
    let cols = toks[3]
        .parse::<usize>()
        .map_err(|_| bad("bad column count"))?;
    Ok(Head {
        kind: k.to_string(),
        status: status(k, &st),
        cols,
        objective: num(obj)?,
    })
}

/// The status letters of an `s` line (`bas` has primal and dual letters).
fn status(kind: &str, st: &str) -> Status {
    match (kind, st) {
        ("mip", "o") | ("ipt", "o") | ("bas", "ff") => Status::Optimal,
        ("mip", "f") => Status::Feasible("integer feasible, not proven optimal".into()),
        ("bas", s) if s.starts_with('f') => {
            Status::Feasible("primal feasible, not proven optimal".into())
        }
        (_, s) => Status::NoSolution(
            match s.chars().next() {
                Some('n') => "no feasible solution",
                Some('i') => "infeasible",
                _ => "undefined",
            }
            .into(),
        ),
    }
}

/// A column line: its 0-based index and its value's text (mip: `j k value`;
/// bas: `j k st prim dual`; ipt: `j k prim dual`).
fn j_line<'t>(
    toks: &[&'t str],
    kind: Option<&str>,
    bad: &dyn Fn(&str) -> Error,
) -> Result<(usize, &'t str)> {
    let idx: usize = toks
        .get(1)
        .and_then(|t| t.parse().ok())
        .filter(|&n: &usize| n >= 1)
        .ok_or_else(|| bad("expected `j NUMBER ...`"))?;
    let v = match kind {
        Some("mip") | Some("ipt") => toks.get(2),
        Some("bas") => toks.get(3),
        _ => return Err(bad("column line before the `s` line")),
    }
    .ok_or_else(|| bad("column line without a value"))?;
    Ok((idx - 1, v))
}

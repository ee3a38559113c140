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

pub(super) fn parse(path: &Path, text: &str) -> Result<Solution> {
    let mut kind = None;
    let mut status = Status::NoSolution("no `s` line".into());
    let mut objective = None;
    let mut cols = None;
    let mut values = Vec::new();
    let mut ended = false;
    for (i, line) in text.lines().enumerate() {
        let no = i + 1;
        let toks: Vec<&str> = line.split_whitespace().collect();
        match toks.first().copied() {
            None | Some("c") => {}
            Some("s") => {
                let k = *toks
                    .get(1)
                    .ok_or_else(|| Error::parse(path, no, line, "incomplete `s` line"))?;
                let (st, obj) = match (k, toks.len()) {
                    ("mip", 6) | ("ipt", 6) => (toks[4].to_string(), toks[5]),
                    ("bas", 7) => (format!("{}{}", toks[4], toks[5]), toks[6]),
                    _ => {
                        return Err(Error::parse(
                            path,
                            no,
                            line,
                            "expected `s mip|bas|ipt ROWS COLS STATUS... OBJ`",
                        ))
                    }
                };
                cols = Some(
                    toks[3]
                        .parse::<usize>()
                        .map_err(|_| Error::parse(path, no, line, "bad column count"))?,
                );
                objective = Some(number(path, no, line, obj)?);
                status = match (k, st.as_str()) {
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
                };
                kind = Some(k.to_string());
            }
            Some("i") => {}
            Some("j") => {
                let idx: usize = toks
                    .get(1)
                    .and_then(|t| t.parse().ok())
                    .filter(|&n: &usize| n >= 1)
                    .ok_or_else(|| Error::parse(path, no, line, "expected `j NUMBER ...`"))?;
                // mip: j k value; bas: j k st prim dual; ipt: j k prim dual
                let v = match kind.as_deref() {
                    Some("mip") => toks.get(2),
                    Some("bas") => toks.get(3),
                    Some("ipt") => toks.get(2),
                    _ => {
                        return Err(Error::parse(
                            path,
                            no,
                            line,
                            "column line before the `s` line",
                        ))
                    }
                }
                .ok_or_else(|| Error::parse(path, no, line, "column line without a value"))?;
                values.push((idx - 1, number(path, no, line, v)?, no));
            }
            Some("e") => ended = true,
            Some(_) => return Err(Error::parse(path, no, line, "not a GLPK solution line")),
        }
    }
    if !ended {
        return Err(Error::invalid(
            path,
            "GLPK solution has no `e` end line (truncated file?)",
        ));
    }
    if matches!(status, Status::Optimal | Status::Feasible(_)) && cols != Some(values.len()) {
        return Err(Error::invalid(
            path,
            format!(
                "GLPK solution announces {} columns but lists {}",
                cols.unwrap_or(0),
                values.len()
            ),
        ));
    }
    Ok(Solution {
        format: SolutionFormat::Glpk,
        status,
        objective,
        values: Values::ByIndex(values),
    })
}

//! The MIP start: every column's value at the current weights, in the
//! Gurobi MST text form (`# comment`, then `name value` lines), which
//! Gurobi, SCIP and `gdmilp solve` read.

use super::{num, Names};
use crate::error::{Error, Result};
use crate::formulation::Problem;
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

/// Writes the start of `p` (its columns' `start` values).
pub fn write<W: Write>(p: &Problem, mut w: W) -> io::Result<()> {
    let names = Names::of(p);
    let mut buf = Vec::with_capacity(64 * p.columns.len() + 64);
    buf.extend_from_slice(b"# MIP start written by gdmilp: the current weights\n");
    for (c, col) in p.columns.iter().enumerate() {
        buf.extend_from_slice(names.cols[c].as_bytes());
        buf.push(b' ');
        num::push(&mut buf, col.start);
        buf.push(b'\n');
    }
    w.write_all(&buf)?;
    w.flush()
}

/// Reads a start file back: name → value.
pub fn read(path: &Path, text: &str) -> Result<HashMap<String, f64>> {
    let mut out = HashMap::new();
    for (k, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let mut it = l.split_whitespace();
        let (Some(name), Some(v), None) = (it.next(), it.next(), it.next()) else {
            return Err(Error::parse(path, k + 1, line, "expected `name value`"));
        };
        let v: f64 = v
            .parse()
            .map_err(|_| Error::parse(path, k + 1, line, "the value is not a number"))?;
        out.insert(name.to_string(), v);
    }
    Ok(out)
}

//! The MIP start: every column's value at the current weights, in two
//! forms, except the mse segment columns: they are anchored at the current
//! residual, so each starts at 0, and they are left out (a start must not
//! grow with ~90 of them a residual). Every reader takes a start without
//! them: CBC solves the LP left once the listed columns are fixed, Gurobi
//! and SCIP complete a partial start, and `gdmilp solve` reads them as 0
//! ([`unlisted`]). The Gurobi MST text form (`# comment`, then `name value` lines),
//! which Gurobi, SCIP and `gdmilp solve` read; and CBC's `mips` form
//! (`index name value` lines, written beside the model as
//! `<model file>.cbc.mst`). It knows nothing about where the values came
//! from.
//!
//! What CBC 2.10.8 accepts (read from its `mips` reader and checked with
//! `cbc layer.mps mips layer.mps.cbc.mst solve`): a line is used when its
//! first field starts with a digit and it has at least three fields; the
//! first and third must consist of digits, `.`, `-`, `+` and lower-case
//! `e` only (so no `E`, `inf` or `nan`), and lines are read 255 bytes at a
//! time. The index is not checked: the name finds the column. Any other
//! line (such as the `#` header here) is ignored. CBC fixes every named
//! column at its value, solves the LP that is left and logs
//! `MIPStart provided solution with cost …` when the start is feasible.

use super::Names;
use crate::error::{Error, Result};
use crate::formulation::names::Var;
use crate::formulation::Problem;
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes the start of `p` (its columns' `start` values) as `name value`.
pub fn write<W: Write>(p: &Problem, w: W) -> io::Result<()> {
    write_lines(
        p,
        "# MIP start written by gdmilp: the current weights\n",
        false,
        w,
    )
}

/// Writes the start of `p` in CBC's `mips` form: `index name value`, the
/// index 0-based in the written model's column order.
pub fn write_cbc<W: Write>(p: &Problem, w: W) -> io::Result<()> {
    write_lines(
        p,
        "# MIP start written by gdmilp for CBC: cbc MODEL mips THIS_FILE solve\n",
        true,
        w,
    )
}

fn write_lines<W: Write>(p: &Problem, header: &str, indexed: bool, mut w: W) -> io::Result<()> {
    let mut names = Names::of(p);
    let mut buf = Vec::with_capacity(72 * p.num_stored_columns() + header.len() + 80);
    buf.extend_from_slice(header.as_bytes());
    if p.num_stored_columns() < p.num_columns() {
        buf.extend_from_slice(SEGMENTS_NOTE.as_bytes());
    }
    for (c, col) in p.columns().enumerate() {
        if p.is_segment(c) {
            // Anchored at the current residual: always 0, left out.
            continue;
        }
        if indexed {
            buf.extend_from_slice(c.to_string().as_bytes());
            buf.push(b' ');
        }
        buf.extend_from_slice(names.col(p, c).as_bytes());
        buf.push(b' ');
        crate::num::push(&mut buf, col.start);
        buf.push(b'\n');
    }
    w.write_all(&buf)?;
    w.flush()
}

/// The second header line of a start with segment columns, which it
/// leaves out: each starts at 0 (segments are anchored at the current
/// residual), which every reader completes on its own.
pub const SEGMENTS_NOTE: &str =
    "# the mse segment columns sg_t_j_k are 0 and not listed (missing columns are 0)\n";

/// The value a start gives column `name` when it does not list it: 0 for
/// the mse segment columns (left out, see [`SEGMENTS_NOTE`]); `None` for
/// any other, which a start must list.
pub fn unlisted(name: &str) -> Option<f64> {
    matches!(Var::parse(name), Some(Var::Seg(..))).then_some(0.0)
}

/// The CBC start beside a MILP file: `layer.mps` → `layer.mps.cbc.mst`.
pub fn cbc_path(model_file: &Path) -> PathBuf {
    let mut name = model_file.as_os_str().to_owned();
    name.push(".cbc.mst");
    PathBuf::from(name)
}

/// Reads a start file back, in either form (`name value`, or CBC's
/// `index name value`): name → value.
pub fn read(path: &Path, text: &str) -> Result<HashMap<String, f64>> {
    let mut out = HashMap::new();
    for (k, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        let (name, v) = match f[..] {
            [name, v] => (name, v),
            [index, name, v] if index.parse::<usize>().is_ok() => (name, v),
            _ => {
                let msg = "expected `name value` (or CBC's `index name value`)";
                return Err(Error::parse(path, k + 1, line, msg));
            }
        };
        let v: f64 = v
            .parse()
            .map_err(|_| Error::parse(path, k + 1, line, "the value is not a number"))?;
        if !v.is_finite() {
            // HiGHS would take it and report a "feasible" start at 1e308.
            return Err(Error::parse(
                path,
                k + 1,
                line,
                "the value is NaN or infinite; a MIP start needs finite values",
            ));
        }
        out.insert(name.to_string(), v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::tiny;

    #[test]
    fn both_forms_list_every_column_at_its_start_in_file_order() {
        let p = tiny::classification();
        let mst = tiny::text(&p, "mst");
        let cbc = tiny::text(&p, "cbc");
        let body: Vec<&str> = cbc.lines().skip(1).collect();
        assert_eq!(
            body,
            [
                "0 w_0_0 1",
                "1 w_0_1 0",
                "2 w_1_0 0",
                "3 w_1_1 1",
                "4 w_2_0 0.5",
                "5 w_2_1 0.5",
                "6 b_0 0",
                "7 b_1 0",
                "8 b_2 0.25",
                "9 c_2 1",
            ]
        );
        let names: Vec<String> = body
            .iter()
            .map(|l| l.split_once(' ').unwrap().1.into())
            .collect();
        assert_eq!(mst.lines().skip(1).collect::<Vec<_>>(), names);
        assert!(mst.starts_with('#') && cbc.starts_with('#'));
    }

    #[test]
    fn cbc_lines_are_ones_its_reader_uses() {
        // CBC uses a line whose first field starts with a digit, with the
        // first and third fields made of digits . - + e, under 255 bytes.
        let mut p = tiny::regression(
            crate::formulation::Loss::L1,
            crate::formulation::MseForm::Segments,
        );
        p.column_mut(0).start = -1.5e-300;
        p.column_mut(1).start = 1.0 / 3.0;
        p.column_mut(2).start = 2.5e20;
        let numeric = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_digit() || b"+-.e".contains(&b))
        };
        let text = tiny::text(&p, "cbc");
        let (header, body) = text.split_once('\n').unwrap();
        assert!(
            !header.as_bytes()[0].is_ascii_digit(),
            "the header is skipped"
        );
        for (k, line) in body.lines().enumerate() {
            let f: Vec<&str> = line.split(' ').collect();
            assert_eq!((f.len(), f[0]), (3, k.to_string().as_str()), "{line}");
            assert!(numeric(f[2]) && line.len() < 255, "{line}");
            assert_eq!(
                f[2].parse::<f64>().unwrap(),
                p.column(k).start,
                "round trip"
            );
        }
    }

    #[test]
    fn the_cbc_start_sits_beside_the_model_under_its_full_name() {
        for (model, start) in [
            ("layer.mps", "layer.mps.cbc.mst"),
            ("out/layer.lp.gz", "out/layer.lp.gz.cbc.mst"),
        ] {
            assert_eq!(cbc_path(Path::new(model)), PathBuf::from(start));
        }
    }

    #[test]
    fn a_start_value_that_is_not_finite_is_refused() {
        for v in ["nan", "NaN", "inf", "-inf"] {
            let e = read(Path::new("s.mst"), &format!("w_0_0 0.5\nw_0_1 {v}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("s.mst:2") && e.contains("NaN or infinite"),
                "{e}"
            );
        }
    }

    #[test]
    fn read_gives_back_what_either_writer_wrote() {
        let p = tiny::regression(
            crate::formulation::Loss::Mse,
            crate::formulation::MseForm::Segments,
        );
        for form in ["mst", "cbc"] {
            let text = tiny::text(&p, form);
            let back = read(Path::new("s.mst"), &text).unwrap();
            // The weights and bias; the segment columns are left out.
            assert_eq!(back.len(), p.first_aux());
            assert!(text.contains(SEGMENTS_NOTE));
            for c in p.columns() {
                let name = c.var.to_string();
                let value = back.get(&name).copied().or_else(|| unlisted(&name));
                assert_eq!(value, Some(c.start), "{name}");
            }
        }
        let l1 = tiny::regression(
            crate::formulation::Loss::L1,
            crate::formulation::MseForm::Segments,
        );
        let text = tiny::text(&l1, "mst");
        assert!(!text.contains(SEGMENTS_NOTE));
        assert_eq!(
            read(Path::new("s.mst"), &text).unwrap().len(),
            l1.num_columns()
        );
        assert_eq!(
            (unlisted("sg_3_0_12"), unlisted("w_0_0")),
            (Some(0.0), None)
        );
        let e = read(Path::new("s.mst"), "# x\nw_0_0 1 2\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "s.mst:2: expected `name value` (or CBC's `index name value`) (line: `w_0_0 1 2`)"
        );
    }
}

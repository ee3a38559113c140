//! Free-format MPS, minimisation. One function per section, called in file
//! order. Integer columns sit between `MARKER INTORG/INTEND` and every
//! column's bounds are written explicitly (readers differ on the default
//! bounds of integer columns). No objective constant is written: the
//! manifest carries it.
//!
//! Bound types used: LO lower, UP upper, FX fixed, MI lower = −∞, FR free.
//!
//! A quadratic objective (mse, exact form) goes in a `QUADOBJ` section:
//! the objective is cᵀx + ½ xᵀQx and each line gives one entry of Q's lower
//! triangle: `r_t_j r_t_j 2` for r_t_j², `b_0 w_0_1 3` for 3·b_0·w_0_1.

use super::{pipelined, Names, Sink};
use crate::formulation::names::OBJECTIVE;
use crate::formulation::{Problem, Sense};
use std::io::{self, Write};

/// Streams `p` as free MPS into `w`.
pub fn write<W: Write + Send>(p: &Problem, w: W) -> io::Result<()> {
    write_named(p, "gdmilp", w)
}

/// Streams `p` as free MPS into `w`, with `name` (no spaces) on the NAME
/// line (export's tag, see [`super::tag`]).
pub fn write_named<W: Write + Send>(p: &Problem, name: &str, w: W) -> io::Result<()> {
    let names = Names::of(p);
    pipelined(w, |s| {
        s.s("NAME ");
        s.s(name);
        s.s("\n");
        write_rows(p, &names, s)?;
        write_columns(p, &names, s)?;
        write_rhs(p, &names, s)?;
        write_bounds(p, &names, s)?;
        write_quadobj(p, &names, s)?;
        s.s("ENDATA\n");
        Ok(())
    })
}

fn write_rows(p: &Problem, names: &Names, s: &mut Sink) -> io::Result<()> {
    s.s("ROWS\n N ");
    s.s(OBJECTIVE);
    s.s("\n");
    for r in 0..p.num_rows() {
        s.s(match p.row_head(r).sense {
            Sense::Le => " L ",
            Sense::Ge => " G ",
            Sense::Eq => " E ",
        });
        names.put_row(s, p, r);
        s.s("\n");
        s.maybe_flush()?;
    }
    Ok(())
}

/// One COLUMNS line holds up to two (row, value) entries of a column.
struct Entries<'a> {
    name: &'a str,
    open: bool,
    any: bool,
}

impl Entries<'_> {
    /// An entry in row `r` of `p`.
    fn push(&mut self, s: &mut Sink, names: &Names, p: &Problem, r: usize, v: f64) {
        self.entry(s, |s| names.put_row(s, p, r), v);
    }

    /// An entry in the row named `row` (the objective).
    fn push_named(&mut self, s: &mut Sink, row: &str, v: f64) {
        self.entry(s, |s| s.s(row), v);
    }

    fn entry(&mut self, s: &mut Sink, row: impl FnOnce(&mut Sink), v: f64) {
        if self.open {
            s.s("   ");
        } else {
            s.s("    ");
            s.s(self.name);
            s.s(" ");
        }
        row(s);
        s.s(" ");
        s.num(v);
        if self.open {
            s.s("\n");
        }
        self.open = !self.open;
        self.any = true;
    }

    fn end(self, s: &mut Sink) {
        if self.open {
            s.s("\n");
        } else if !self.any {
            // A column with no entries would not exist for the reader.
            s.s("    ");
            s.s(self.name);
            s.s(" ");
            s.s(OBJECTIVE);
            s.s(" 0\n");
        }
    }
}

fn write_columns(p: &Problem, names: &Names, s: &mut Sink) -> io::Result<()> {
    s.s("COLUMNS\n");
    let costs = p.costs();
    let mut in_int = false;
    for (c, col) in p.columns.iter().enumerate() {
        if col.integer != in_int {
            s.s(if col.integer {
                "    MARKER 'MARKER' 'INTORG'\n"
            } else {
                "    MARKER 'MARKER' 'INTEND'\n"
            });
            in_int = col.integer;
        }
        let mut e = Entries {
            name: &names.cols[c],
            open: false,
            any: false,
        };
        let cost = costs[c];
        if cost != 0.0 {
            e.push_named(s, OBJECTIVE, cost);
        }
        p.for_column(c, |r, v| e.push(s, names, p, r, v));
        e.end(s);
        s.maybe_flush()?;
    }
    if in_int {
        s.s("    MARKER 'MARKER' 'INTEND'\n");
    }
    Ok(())
}

fn write_rhs(p: &Problem, names: &Names, s: &mut Sink) -> io::Result<()> {
    s.s("RHS\n");
    for r in 0..p.num_rows() {
        let row = p.row_head(r);
        if row.rhs != 0.0 {
            s.s("    rhs ");
            names.put_row(s, p, r);
            s.s(" ");
            s.num(row.rhs);
            s.s("\n");
            s.maybe_flush()?;
        }
    }
    Ok(())
}

fn write_bounds(p: &Problem, names: &Names, s: &mut Sink) -> io::Result<()> {
    s.s("BOUNDS\n");
    for (c, col) in p.columns.iter().enumerate() {
        let name = &names.cols[c];
        let line = |s: &mut Sink, kind: &str, v: Option<f64>| {
            s.s(kind);
            s.s(" bnd ");
            s.s(name);
            if let Some(v) = v {
                s.s(" ");
                s.num(v);
            }
            s.s("\n");
        };
        let (lo, up) = (col.lower, col.upper);
        if lo == up {
            line(s, " FX", Some(lo));
        } else if lo == f64::NEG_INFINITY && up == f64::INFINITY {
            line(s, " FR", None);
        } else {
            if lo == f64::NEG_INFINITY {
                line(s, " MI", None);
            } else if lo != 0.0 || col.integer {
                line(s, " LO", Some(lo));
            }
            if up != f64::INFINITY {
                line(s, " UP", Some(up));
            }
        }
        s.maybe_flush()?;
    }
    Ok(())
}

fn write_quadobj(p: &Problem, names: &Names, s: &mut Sink) -> io::Result<()> {
    if p.quadratic.is_empty() {
        return Ok(());
    }
    s.s("QUADOBJ\n");
    for &(a, b, q) in &p.quadratic {
        s.s("    ");
        s.s(&names.cols[a]);
        s.s(" ");
        s.s(&names.cols[b]);
        s.s(" ");
        s.num(if a == b { 2.0 * q } else { q });
        s.s("\n");
        s.maybe_flush()?;
    }
    Ok(())
}

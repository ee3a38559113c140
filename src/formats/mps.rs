//! Free-format MPS, minimisation. One function per section, called in file
//! order. Integer columns sit between `MARKER INTORG/INTEND` and every
//! column's bounds are written explicitly (readers differ on the default
//! bounds of integer columns). No objective constant is written: the
//! manifest carries it.
//!
//! Bound types used: LO lower, UP upper, FX fixed, MI lower = −∞, FR free.

use super::{Names, Sink};
use crate::formulation::names::OBJECTIVE;
use crate::formulation::{Problem, Sense};
use std::io::{self, Write};

/// Streams `p` as free MPS into `w`.
pub fn write<W: Write>(p: &Problem, w: W) -> io::Result<()> {
    let names = Names::of(p);
    let mut s = Sink::new(w);
    s.s("NAME gdmilp\n");
    write_rows(p, &names, &mut s)?;
    write_columns(p, &names, &mut s)?;
    write_rhs(p, &names, &mut s)?;
    write_bounds(p, &names, &mut s)?;
    s.s("ENDATA\n");
    s.finish()?;
    Ok(())
}

fn write_rows<W: Write>(p: &Problem, names: &Names, s: &mut Sink<W>) -> io::Result<()> {
    s.s("ROWS\n N ");
    s.s(OBJECTIVE);
    s.s("\n");
    for (r, row) in p.rows.iter().enumerate() {
        s.s(match row.sense {
            Sense::Le => " L ",
            Sense::Ge => " G ",
            Sense::Eq => " E ",
        });
        s.s(&names.rows[r]);
        s.s("\n");
        s.maybe_flush()?;
    }
    Ok(())
}

fn write_columns<W: Write>(p: &Problem, names: &Names, s: &mut Sink<W>) -> io::Result<()> {
    s.s("COLUMNS\n");
    let mut obj = p.objective.iter().peekable();
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
        let name = &names.cols[c];
        let mut any = false;
        while let Some(&&(oc, v)) = obj.peek() {
            if oc > c {
                break;
            }
            obj.next();
            if oc == c && v != 0.0 {
                s.s("    ");
                s.s(name);
                s.s(" ");
                s.s(OBJECTIVE);
                s.s(" ");
                s.num(v);
                s.s("\n");
                any = true;
            }
        }
        p.for_column(c, |r, v| {
            s.s("    ");
            s.s(name);
            s.s(" ");
            s.s(&names.rows[r]);
            s.s(" ");
            s.num(v);
            s.s("\n");
            any = true;
        });
        if !any {
            // A column with no entries would not exist for the reader.
            s.s("    ");
            s.s(name);
            s.s(" ");
            s.s(OBJECTIVE);
            s.s(" 0\n");
        }
        s.maybe_flush()?;
    }
    if in_int {
        s.s("    MARKER 'MARKER' 'INTEND'\n");
    }
    Ok(())
}

fn write_rhs<W: Write>(p: &Problem, names: &Names, s: &mut Sink<W>) -> io::Result<()> {
    s.s("RHS\n");
    for (r, row) in p.rows.iter().enumerate() {
        if row.rhs != 0.0 {
            s.s("    rhs ");
            s.s(&names.rows[r]);
            s.s(" ");
            s.num(row.rhs);
            s.s("\n");
            s.maybe_flush()?;
        }
    }
    Ok(())
}

fn write_bounds<W: Write>(p: &Problem, names: &Names, s: &mut Sink<W>) -> io::Result<()> {
    s.s("BOUNDS\n");
    for (c, col) in p.columns.iter().enumerate() {
        let name = &names.cols[c];
        let line = |s: &mut Sink<W>, kind: &str, v: Option<f64>| {
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

//! CPLEX LP format: `Minimize`, `Subject To`, `Bounds`, `Binaries`, `End`.
//! Long expressions are wrapped. Coefficients are written as
//! `+ 0.5 w_0_1` / `- 0.5 w_0_1`; a row with no terms gets a single zero
//! term so every reader accepts it. The objective names every column; a
//! quadratic objective (mse, exact form) follows the linear terms as
//! `+ [ 2 r_0_0^2 + 6 b_0 * w_0_1 + … ] / 2` (SCIP refuses `x ^ 2` with
//! spaces).

use super::{pipelined, Names, Sink};
use crate::formulation::names::OBJECTIVE;
use crate::formulation::{Problem, Sense};
use std::io::{self, Write};

const WRAP: usize = 100;

/// Streams `p` as CPLEX LP into `w`.
pub fn write<W: Write + Send>(p: &Problem, w: W) -> io::Result<()> {
    write_named(p, "gdmilp", w)
}

/// Streams `p` as CPLEX LP into `w`, with `name` in the `\Problem name:`
/// comment (export's tag, see [`super::tag`]).
pub fn write_named<W: Write + Send>(p: &Problem, name: &str, w: W) -> io::Result<()> {
    let names = Names::of(p);
    pipelined(w, |s| {
        s.s("\\ written by gdmilp: see the .gdmilp.json manifest beside this file\n\\Problem name: ");
        s.s(name);
        s.s("\nMinimize\n");
        write_objective(p, &names, s)?;
        s.s("Subject To\n");
        write_rows(p, &names, s)?;
        s.s("Bounds\n");
        write_bounds(p, &names, s)?;
        write_binaries(p, &names, s)?;
        s.s("End\n");
        Ok(())
    })
}

/// Writes ` + c name` terms with wrapping; returns how many were written.
struct Terms {
    line_start: usize,
    count: usize,
}

impl Terms {
    fn new(s: &Sink) -> Terms {
        Terms {
            line_start: s.buf.len(),
            count: 0,
        }
    }

    fn term(&mut self, s: &mut Sink, v: f64, name: &str) {
        self.signed_term(s, v, name, true);
    }

    /// A term; `sign` false writes a non-negative `v` without its `+` (the
    /// first term inside `[ ]`, where SCIP refuses a sign).
    fn signed_term(&mut self, s: &mut Sink, v: f64, name: &str, sign: bool) {
        if s.buf.len() - self.line_start > WRAP {
            s.s("\n   ");
            self.line_start = s.buf.len();
        }
        s.s(match (sign, v < 0.0) {
            (_, true) => " - ",
            (true, false) => " + ",
            (false, false) => " ",
        });
        s.num(v.abs());
        s.s(" ");
        s.s(name);
        self.count += 1;
    }

    fn end(&self, s: &mut Sink, first: &str) {
        if self.count == 0 {
            s.s(" 0 ");
            s.s(first);
        }
    }
}

fn write_objective(p: &Problem, names: &Names, s: &mut Sink) -> io::Result<()> {
    s.s(" ");
    s.s(OBJECTIVE);
    s.s(":");
    // Every column appears here, in file order (zero coefficients too):
    // readers that number columns by first appearance (GLPK's `-w`) then
    // number them as the manifest does.
    let mut terms = Terms::new(s);
    let costs = p.costs();
    for (name, &v) in names.cols.iter().zip(&costs) {
        terms.term(s, v, name);
        s.maybe_flush_keep(&mut terms)?;
    }
    terms.end(s, &names.cols[0]);
    if !p.quadratic.is_empty() {
        s.s(" + [");
        for (k, &(a, b, q)) in p.quadratic.iter().enumerate() {
            terms.signed_term(s, 2.0 * q, &names.cols[a], k > 0);
            if a == b {
                s.s("^2");
            } else {
                s.s(" * ");
                s.s(&names.cols[b]);
            }
            s.maybe_flush_keep(&mut terms)?;
        }
        s.s(" ] / 2");
    }
    s.s("\n");
    Ok(())
}

fn write_rows(p: &Problem, names: &Names, s: &mut Sink) -> io::Result<()> {
    if p.num_rows() == 0 {
        // Presolve decided every point. `Subject To` must hold a
        // constraint for LP readers (GLPK), so an always-true one stands in.
        s.s(" norows: 0 ");
        s.s(&names.cols[0]);
        s.s(" >= 0\n");
    }
    for r in 0..p.num_rows() {
        let row = p.row_head(r);
        s.s(" ");
        names.put_row(s, p, r);
        s.s(":");
        let mut terms = Terms::new(s);
        p.for_row(r, |c, v| terms.term(s, v, &names.cols[c]));
        terms.end(s, &names.cols[0]);
        s.s(match row.sense {
            Sense::Le => " <= ",
            Sense::Ge => " >= ",
            Sense::Eq => " = ",
        });
        s.num(row.rhs);
        s.s("\n");
        s.maybe_flush()?;
    }
    Ok(())
}

fn write_bounds(p: &Problem, names: &Names, s: &mut Sink) -> io::Result<()> {
    for (c, col) in p.columns.iter().enumerate() {
        if col.integer && col.lower == 0.0 && col.upper == 1.0 {
            // `Binaries` gives [0, 1]; writing it here too makes readers
            // (GLPK) warn that the bounds are redefined.
            continue;
        }
        let name = &names.cols[c];
        let (lo, up) = (col.lower, col.upper);
        s.s(" ");
        if lo == up {
            s.s(name);
            s.s(" = ");
            s.num(lo);
        } else if lo == f64::NEG_INFINITY && up == f64::INFINITY {
            s.s(name);
            s.s(" free");
        } else {
            if lo == f64::NEG_INFINITY {
                s.s("-inf");
            } else {
                s.num(lo);
            }
            s.s(" <= ");
            s.s(name);
            if up != f64::INFINITY {
                s.s(" <= ");
                s.num(up);
            }
        }
        s.s("\n");
        s.maybe_flush()?;
    }
    Ok(())
}

fn write_binaries(p: &Problem, names: &Names, s: &mut Sink) -> io::Result<()> {
    if !p.columns.iter().any(|c| c.integer) {
        return Ok(());
    }
    s.s("Binaries\n");
    let mut terms = 0;
    for (c, col) in p.columns.iter().enumerate() {
        if col.integer {
            s.s(" ");
            s.s(&names.cols[c]);
            terms += 1;
            if terms % 10 == 0 {
                s.s("\n");
                s.maybe_flush()?;
            }
        }
    }
    if terms % 10 != 0 {
        s.s("\n");
    }
    Ok(())
}

impl Sink {
    /// Flushes mid-expression, keeping the wrap position consistent.
    fn maybe_flush_keep(&mut self, terms: &mut Terms) -> io::Result<()> {
        if self.buf.len() >= 1 << 16 {
            let col = self.buf.len() - terms.line_start;
            self.maybe_flush()?;
            terms.line_start = self.buf.len().saturating_sub(col);
        }
        Ok(())
    }
}

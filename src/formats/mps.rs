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
    let mut names = Names::of(p);
    pipelined(w, |s| {
        s.s("NAME ");
        s.s(name);
        s.s("\n");
        write_rows(p, &names, s)?;
        write_columns(p, &mut names, s)?;
        write_rhs(p, &names, s)?;
        write_bounds(p, &mut names, s)?;
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

fn write_columns(p: &Problem, names: &mut Names, s: &mut Sink) -> io::Result<()> {
    s.s("COLUMNS\n");
    let mut in_int = false;
    let mut name = String::new();
    for (c, col) in p.columns().enumerate() {
        if col.integer != in_int {
            s.s(if col.integer {
                "    MARKER 'MARKER' 'INTORG'\n"
            } else {
                "    MARKER 'MARKER' 'INTEND'\n"
            });
            in_int = col.integer;
        }
        name.clear();
        name.push_str(names.col(p, c));
        let mut e = Entries {
            name: &name,
            open: false,
            any: false,
        };
        let cost = p.cost(c);
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

fn write_bounds(p: &Problem, names: &mut Names, s: &mut Sink) -> io::Result<()> {
    s.s("BOUNDS\n");
    for (c, col) in p.columns().enumerate() {
        let name = names.col(p, c);
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
    if !p.has_quadratic() {
        return Ok(());
    }
    s.s("QUADOBJ\n");
    let mut result = Ok(());
    p.for_quadratic(|a, b, q| {
        if result.is_err() {
            return;
        }
        s.s("    ");
        names.put_col(s, p, a);
        s.s(" ");
        names.put_col(s, p, b);
        s.s(" ");
        s.num(if a == b { 2.0 * q } else { q });
        s.s("\n");
        result = s.maybe_flush();
    });
    result
}

#[cfg(test)]
mod tests {
    //! One golden snippet per section, from tiny problems built by the real
    //! formulation (tests/golden/README.md has the working of each number).

    use crate::formats::tiny::{self, section};
    use crate::formulation::{Loss, MseForm};

    const SECTIONS: &[&str] = &["ROWS", "COLUMNS", "RHS", "BOUNDS", "QUADOBJ", "ENDATA"];

    #[test]
    fn rows_name_the_objective_first_then_each_row_with_its_sense() {
        let l1 = tiny::text(&tiny::regression(Loss::L1, MseForm::Segments), "mps");
        assert_eq!(
            section(&l1, "ROWS", SECTIONS),
            [
                "ROWS",
                " N obj",
                " G neg_0_0",
                " L pos_1_0",
                " L pos_2_0",
                " G neg_2_0"
            ]
        );
        let seg = tiny::text(&tiny::regression(Loss::Mse, MseForm::Segments), "mps");
        assert_eq!(
            section(&seg, "ROWS", SECTIONS),
            ["ROWS", " N obj", " E res_0_0", " E res_1_0", " E res_2_0"]
        );
    }

    #[test]
    fn columns_pair_entries_and_fence_binaries_with_markers() {
        let text = tiny::text(&tiny::classification(), "mps");
        assert_eq!(
            section(&text, "COLUMNS", SECTIONS),
            [
                "COLUMNS",
                "    w_0_0 mg_2_0 -1",
                "    w_0_1 mg_2_0 -1",
                "    w_1_0 mg_2_1 -1",
                "    w_1_1 mg_2_1 -1",
                "    w_2_0 mg_2_0 1   mg_2_1 1",
                "    w_2_1 mg_2_0 1   mg_2_1 1",
                "    b_0 mg_2_0 -1",
                "    b_1 mg_2_1 -1",
                "    b_2 mg_2_0 1   mg_2_1 1",
                "    MARKER 'MARKER' 'INTORG'",
                "    c_2 obj -1   mg_2_0 -0.051000000000000045",
                "    c_2 mg_2_1 -0.051000000000000045",
                "    MARKER 'MARKER' 'INTEND'",
            ]
        );
    }

    #[test]
    fn a_column_in_no_row_and_not_in_the_objective_still_appears() {
        // The quadratic form has no rows and b_0 has a linear cost; with a
        // zero cost a column would vanish for the reader without its
        // `obj 0` entry.
        let mut p = tiny::regression(Loss::Mse, MseForm::Quadratic);
        p.drop_cost(2);
        let text = tiny::text(&p, "mps");
        assert_eq!(
            section(&text, "COLUMNS", SECTIONS),
            [
                "COLUMNS",
                "    w_0_0 obj -4",
                "    w_0_1 obj 4",
                "    b_0 obj 0"
            ]
        );
    }

    #[test]
    fn rhs_lists_the_non_zero_right_hand_sides() {
        let text = tiny::text(&tiny::classification(), "mps");
        assert_eq!(
            section(&text, "RHS", SECTIONS),
            [
                "RHS",
                "    rhs mg_2_0 -0.050000000000000044",
                "    rhs mg_2_1 -0.050000000000000044",
            ]
        );
        let l1 = tiny::text(&tiny::regression(Loss::L1, MseForm::Segments), "mps");
        assert_eq!(
            section(&l1, "RHS", SECTIONS),
            [
                "RHS",
                "    rhs neg_0_0 1",
                "    rhs pos_1_0 0.5",
                "    rhs pos_2_0 -1",
                "    rhs neg_2_0 -1",
            ]
        );
    }

    #[test]
    fn bounds_write_every_bound_with_fx_mi_and_fr() {
        let p = tiny::with_odd_bounds(tiny::classification());
        let text = tiny::text(&p, "mps");
        assert_eq!(
            section(&text, "BOUNDS", SECTIONS),
            [
                "BOUNDS",
                " MI bnd w_0_0",
                " UP bnd w_0_0 1.05",
                " FR bnd w_0_1",
                " LO bnd w_1_0 -0.05",
                " UP bnd w_1_0 0.05",
                " LO bnd w_1_1 0.95",
                " UP bnd w_1_1 1.05",
                " LO bnd w_2_0 0.45",
                " UP bnd w_2_0 0.55",
                " LO bnd w_2_1 0.45",
                " UP bnd w_2_1 0.55",
                " FX bnd b_0 0",
                " FX bnd b_1 0",
                " FX bnd b_2 0.25",
                " LO bnd c_2 0",
                " UP bnd c_2 1",
            ]
        );
    }

    #[test]
    fn bounds_leave_a_zero_lower_bound_of_a_continuous_column_implicit() {
        let text = tiny::text(&tiny::regression(Loss::L1, MseForm::Segments), "mps");
        let bounds = section(&text, "BOUNDS", SECTIONS);
        assert_eq!(
            bounds[7..],
            [
                " UP bnd dev_0_0 1.075",
                " UP bnd dev_1_0 0.7749999999999999",
                " UP bnd dev_2_0 0.375",
            ]
        );
    }

    #[test]
    fn quadobj_holds_the_lower_triangle_of_q_column_by_column() {
        let text = tiny::text(&tiny::regression(Loss::Mse, MseForm::Quadratic), "mps");
        assert_eq!(
            section(&text, "QUADOBJ", SECTIONS),
            [
                "QUADOBJ",
                "    w_0_0 w_0_0 10",
                "    w_0_1 w_0_0 4",
                "    b_0 w_0_0 6",
                "    w_0_1 w_0_1 40",
                "    b_0 w_0_1 12",
                "    b_0 b_0 6",
            ]
        );
        assert!(text.ends_with("    b_0 b_0 6\nENDATA\n"));
        let linear = tiny::text(&tiny::regression(Loss::L1, MseForm::Segments), "mps");
        assert!(!linear.contains("QUADOBJ"), "no section without terms");
        assert!(linear.starts_with("NAME gdmilp\nROWS\n") && linear.ends_with("\nENDATA\n"));
    }

    #[test]
    fn segment_columns_are_written_in_place_descending_below_the_current_residual() {
        let text = tiny::text(&tiny::regression(Loss::Mse, MseForm::Segments), "mps");
        let columns = section(&text, "COLUMNS", SECTIONS);
        // r⁰ = −0.875 lies between segments 6 and 7 of point 0: below it the
        // residual descends (cost −(p_k + p_k+1), +1 in the row), above it
        // climbs (the chord's slope, −1).
        let line = |name: &str| {
            columns
                .iter()
                .find(|l| l.split_whitespace().next() == Some(name))
                .unwrap_or_else(|| panic!("no {name} in {columns:?}"))
                .to_string()
        };
        assert_eq!(
            line("sg_0_0_6"),
            "    sg_0_0_6 obj 1.7655760832565806   res_0_0 1"
        );
        assert_eq!(
            line("sg_0_0_7"),
            "    sg_0_0_7 obj -1.7352508708586933   res_0_0 -1"
        );
        // They follow the bias, before point 1's.
        let at = |name: &str| columns.iter().position(|l| l.contains(name)).unwrap();
        assert!(at("b_0 ") < at("sg_0_0_0 ") && at("sg_0_0_14 ") < at("sg_1_0_0 "));
        // res_0_0 = y + r⁰ = 1 − 0.875.
        assert!(section(&text, "RHS", SECTIONS).contains(&"    rhs res_0_0 0.125"));
    }
}

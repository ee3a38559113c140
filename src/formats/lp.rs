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
    let mut names = Names::of(p);
    pipelined(w, |s| {
        s.s("\\ written by gdmilp: see the .gdmilp.json manifest beside this file\n\\Problem name: ");
        s.s(name);
        s.s("\nMinimize\n");
        write_objective(p, &mut names, s)?;
        s.s("Subject To\n");
        write_rows(p, &mut names, s)?;
        s.s("Bounds\n");
        write_bounds(p, &mut names, s)?;
        write_binaries(p, &mut names, s)?;
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

    fn term(&mut self, s: &mut Sink, v: f64, name: impl FnOnce(&mut Sink)) {
        self.signed_term(s, v, name, true);
    }

    /// A term; `sign` false writes a non-negative `v` without its `+` (the
    /// first term inside `[ ]`, where SCIP refuses a sign).
    fn signed_term(&mut self, s: &mut Sink, v: f64, name: impl FnOnce(&mut Sink), sign: bool) {
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
        name(s);
        self.count += 1;
    }

    fn end(&self, s: &mut Sink, first: &str) {
        if self.count == 0 {
            s.s(" 0 ");
            s.s(first);
        }
    }
}

fn write_objective(p: &Problem, names: &mut Names, s: &mut Sink) -> io::Result<()> {
    s.s(" ");
    s.s(OBJECTIVE);
    s.s(":");
    // Every column appears here, in file order (zero coefficients too):
    // readers that number columns by first appearance (GLPK's `-w`) then
    // number them as the manifest does.
    let mut terms = Terms::new(s);
    for c in 0..p.num_columns() {
        terms.term(s, p.cost(c), |s| names.put_col(s, p, c));
        s.maybe_flush_keep(&mut terms)?;
    }
    terms.end(s, names.col(p, 0));
    if p.has_quadratic() {
        s.s(" + [");
        let (mut k, mut result) = (0, Ok(()));
        p.for_quadratic(|a, b, q| {
            if result.is_err() {
                return;
            }
            terms.signed_term(s, 2.0 * q, |s| names.put_col(s, p, a), k > 0);
            k += 1;
            if a == b {
                s.s("^2");
            } else {
                s.s(" * ");
                names.put_col(s, p, b);
            }
            result = s.maybe_flush_keep(&mut terms);
        });
        result?;
        s.s(" ] / 2");
    }
    s.s("\n");
    Ok(())
}

fn write_rows(p: &Problem, names: &mut Names, s: &mut Sink) -> io::Result<()> {
    if p.num_rows() == 0 {
        // Presolve decided every point. `Subject To` must hold a
        // constraint for LP readers (GLPK), so an always-true one stands in.
        s.s(" norows: 0 ");
        names.put_col(s, p, 0);
        s.s(" >= 0\n");
    }
    for r in 0..p.num_rows() {
        let row = p.row_head(r);
        s.s(" ");
        names.put_row(s, p, r);
        s.s(":");
        let mut terms = Terms::new(s);
        p.for_row(r, |c, v| terms.term(s, v, |s| names.put_col(s, p, c)));
        terms.end(s, names.col(p, 0));
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

fn write_bounds(p: &Problem, names: &mut Names, s: &mut Sink) -> io::Result<()> {
    for (c, col) in p.columns().enumerate() {
        if col.integer && col.lower == 0.0 && col.upper == 1.0 {
            // `Binaries` gives [0, 1]; writing it here too makes readers
            // (GLPK) warn that the bounds are redefined.
            continue;
        }
        let name = names.col(p, c);
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

fn write_binaries(p: &Problem, names: &mut Names, s: &mut Sink) -> io::Result<()> {
    if p.binaries() == 0 {
        return Ok(());
    }
    s.s("Binaries\n");
    let mut terms = 0;
    for (c, col) in p.columns().enumerate() {
        if col.integer {
            s.s(" ");
            names.put_col(s, p, c);
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

#[cfg(test)]
mod tests {
    //! One golden snippet per section, from tiny problems built by the real
    //! formulation (tests/golden/README.md has the working of each number).

    use crate::formats::tiny::{self, section};
    use crate::formulation::{Loss, MseForm};

    const SECTIONS: &[&str] = &["Minimize", "Subject To", "Bounds", "Binaries", "End"];

    #[test]
    fn objective_names_every_column_and_wraps_long_lines() {
        let text = tiny::text(&tiny::classification(), "lp");
        assert_eq!(
            section(&text, "Minimize", SECTIONS),
            [
                "Minimize",
                " obj: + 0 w_0_0 + 0 w_0_1 + 0 w_1_0 + 0 w_1_1 + 0 w_2_0 + 0 w_2_1 + 0 b_0 + 0 b_1 + 0 b_2 - 1 c_2",
            ]
        );
        let seg = tiny::text(&tiny::regression(Loss::Mse, MseForm::Segments), "lp");
        let objective = section(&seg, "Minimize", SECTIONS);
        assert_eq!(
            objective[1..4],
            [
                " obj: + 0 w_0_0 + 0 w_0_1 + 0 b_0 + 2.1340112219306198 sg_0_0_0 + 2.0819618075601185 sg_0_0_1 + 2.0110684440333553 sg_0_0_2",
                "    + 1.9425890868413322 sg_0_0_3 + 1.8764415360954527 sg_0_0_4 + 1.8125463909145574 sg_0_0_5 + 1.7655760832565806 sg_0_0_6",
                "    - 1.7352508708586933 sg_0_0_7 - 1.6912091401477785 sg_0_0_8 - 1.6336213861664564 sg_0_0_9 - 1.5779945661287167 sg_0_0_10",
            ]
        );
        // Below the current residual (sg_0_0_0 to 6) the residual descends
        // from it, so the chord slopes change sign; above, it climbs.
        // A line is cut after the term that passes 100 characters.
        assert!(
            objective.iter().all(|l| l.len() < 100 + 40),
            "{objective:?}"
        );
    }

    #[test]
    fn subject_to_writes_each_row_with_its_sense_and_right_hand_side() {
        let l1 = tiny::text(&tiny::regression(Loss::L1, MseForm::Segments), "lp");
        assert_eq!(
            section(&l1, "Subject To", SECTIONS),
            [
                "Subject To",
                " neg_0_0: + 1 w_0_0 + 2 w_0_1 + 1 b_0 + 1 dev_0_0 >= 1",
                " pos_1_0: + 2 w_0_0 + 1 b_0 - 1 dev_1_0 <= 0.5",
                " pos_2_0: + 4 w_0_1 + 1 b_0 - 1 dev_2_0 <= -1",
                " neg_2_0: + 4 w_0_1 + 1 b_0 + 1 dev_2_0 >= -1",
            ]
        );
        let seg = tiny::text(&tiny::regression(Loss::Mse, MseForm::Segments), "lp");
        let rows = section(&seg, "Subject To", SECTIONS);
        assert!(
            rows[1].starts_with(" res_0_0: + 1 w_0_0 + 2 w_0_1 + 1 b_0 + 1 sg_0_0_0 + 1 sg_0_0_1"),
            "{}",
            rows[1]
        );
    }

    #[test]
    fn subject_to_holds_one_always_true_row_when_presolve_left_none() {
        let text = tiny::text(&tiny::regression(Loss::Mse, MseForm::Quadratic), "lp");
        assert_eq!(
            section(&text, "Subject To", SECTIONS),
            ["Subject To", " norows: 0 w_0_0 >= 0"]
        );
    }

    #[test]
    fn bounds_write_ranges_fixed_free_and_minus_infinity_and_leave_binaries_out() {
        let p = tiny::with_odd_bounds(tiny::classification());
        let text = tiny::text(&p, "lp");
        assert_eq!(
            section(&text, "Bounds", SECTIONS),
            [
                "Bounds",
                " -inf <= w_0_0 <= 1.05",
                " w_0_1 free",
                " -0.05 <= w_1_0 <= 0.05",
                " 0.95 <= w_1_1 <= 1.05",
                " 0.45 <= w_2_0 <= 0.55",
                " 0.45 <= w_2_1 <= 0.55",
                " b_0 = 0",
                " b_1 = 0",
                " b_2 = 0.25",
            ]
        );
    }

    #[test]
    fn binaries_list_the_integer_columns_ten_a_line() {
        let text = tiny::text(&tiny::classification(), "lp");
        assert_eq!(section(&text, "Binaries", SECTIONS), ["Binaries", " c_2"]);
        assert!(text.ends_with(" c_2\nEnd\n"));
        let mut p = tiny::classification();
        for c in 0..9 {
            let c = p.column_mut(c);
            (c.integer, c.lower, c.upper) = (true, 0.0, 1.0);
        }
        let text = tiny::text(&p, "lp");
        assert_eq!(
            section(&text, "Binaries", SECTIONS),
            [
                "Binaries",
                " w_0_0 w_0_1 w_1_0 w_1_1 w_2_0 w_2_1 b_0 b_1 b_2 c_2",
            ]
        );
        let l1 = tiny::text(&tiny::regression(Loss::L1, MseForm::Segments), "lp");
        assert!(!l1.contains("Binaries") && l1.ends_with("Bounds\n 0.45 <= w_0_0 <= 0.55\n -0.3 <= w_0_1 <= -0.2\n 0.075 <= b_0 <= 0.175\n 0 <= dev_0_0 <= 1.075\n 0 <= dev_1_0 <= 0.7749999999999999\n 0 <= dev_2_0 <= 0.375\nEnd\n"));
    }

    #[test]
    fn a_quadratic_objective_follows_the_linear_terms_in_brackets_over_two() {
        let text = tiny::text(&tiny::regression(Loss::Mse, MseForm::Quadratic), "lp");
        assert_eq!(
            section(&text, "Minimize", SECTIONS),
            [
                "Minimize",
                " obj: - 4 w_0_0 + 4 w_0_1 - 1 b_0 + [ 10 w_0_0^2 + 8 w_0_1 * w_0_0 + 12 b_0 * w_0_0 + 40 w_0_1^2 + 24 b_0 * w_0_1",
                "    + 6 b_0^2 ] / 2",
            ]
        );
    }
}

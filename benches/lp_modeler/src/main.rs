//! `lp_modeler_bench gdmilp|lp-modeler [T N M]`: builds the benchmark problem
//! and writes it as an LP file with gdmilp's writer or with lp-modeler, so
//! that time and peak memory of each can be measured as a whole process.

#[path = "../../common.rs"]
mod common;

use lp_modeler::dsl::*;
use lp_modeler::format::lp_format::LpFileFormat;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("gdmilp");
    let dims: Vec<usize> = args.iter().skip(2).filter_map(|a| a.parse().ok()).collect();
    let (t, n, m) = match dims.as_slice() {
        [t, n, m] => (*t, *n, *m),
        _ => (1000, 128, 10),
    };
    let p = common::problem(t, n, m);
    let out = std::env::temp_dir().join(format!("lp-bench-{}-{mode}.lp", std::process::id()));
    let clock = Instant::now();
    match mode {
        "gdmilp" => {
            gdmilp::formats::write_problem(&p, &out).unwrap();
        }
        "lp-modeler" => {
            let mut lp = LpProblem::new("bench", LpObjective::Minimize);
            let cols: Vec<LpExpression> = p
                .columns
                .iter()
                .map(|c| {
                    let name = c.var.to_string();
                    if c.integer {
                        LpExpression::from(LpBinary::new(&name))
                    } else {
                        LpExpression::from(LpContinuous::new(&name).lower_bound(c.lower as f32).upper_bound(c.upper as f32))
                    }
                })
                .collect();
            let obj: Vec<LpExpression> = p.objective.iter().map(|&(c, v)| v as f32 * cols[c].clone()).collect();
            lp += lp_sum(&obj);
            for (r, row) in p.rows.iter().enumerate() {
                let mut terms = Vec::new();
                p.for_row(r, |c, v| terms.push(v as f32 * cols[c].clone()));
                let e = lp_sum(&terms);
                let rhs = row.rhs as f32;
                lp += match row.sense {
                    gdmilp::formulation::Sense::Le => e.le(rhs),
                    gdmilp::formulation::Sense::Ge => e.ge(rhs),
                    gdmilp::formulation::Sense::Eq => e.equal(rhs),
                };
            }
            lp.write_lp(out.to_str().unwrap()).unwrap();
        }
        other => panic!("unknown mode {other}"),
    }
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!("{mode}: {:.2} M non-zeros written as LP in {:.2} s, {:.1} MB", p.nonzeros() as f64 / 1e6, clock.elapsed().as_secs_f64(), size as f64 / 1e6);
    std::fs::remove_file(&out).ok();
}

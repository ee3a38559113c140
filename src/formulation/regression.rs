//! Regression: minimise Σ_tj dev_tj with dev_tj ≥ ±(out_tj − y_tj), where
//! out is the activation a_tj or, after a ReLU, o_tj = max(0, a_tj) with a
//! binary z_tj only where the box leaves the sign open. Feasible at the
//! current weights; the paper's per-point cap (constraint 6) is optional.

use super::bounds::PointBounds;
use super::names::{RowName, Var};
use super::{Cap, Input, Loss, Options, Problem, Row, Sense};

/// What a point's output is in the model: the activation itself, or a
/// ReLU output column.
enum Out {
    Act,
    Col(usize),
}

pub(super) fn build(input: Input<'_>, opts: &Options) -> Result<Problem, String> {
    let targets = input
        .targets
        .ok_or("regression needs real-valued targets")?;
    let layer = input.layer;
    let m = layer.w.nrows();
    if targets.ncols() != m {
        return Err(format!(
            "the targets have {} values per point but the layer has {m} outputs",
            targets.ncols()
        ));
    }
    let rb = opts.bias_reach(layer);
    let mut p = Problem::new(layer, input.features, input.points, opts);
    let t_count = p.points.len();
    p.presolve.points_in = t_count;
    p.presolve.points_kept = t_count;
    // linf: one column for every point's deviation; its bounds and start
    // are set once every point is seen.
    let maxdev = (opts.loss == Loss::Linf).then(|| p.add_column(Var::MaxDev, 0.0, 0.0, false, 0.0));
    let (mut max_lower, mut max_upper, mut max_start) = (0.0f64, 0.0f64, 0.0f64);
    for pos in 0..t_count {
        let t = p.points[pos];
        let pb = PointBounds::new(p.features.row(pos), &layer.w, &layer.b, opts.radius, rb);
        for j in 0..m {
            let y = targets[[pos, j]];
            let konst = if layer.bias_vars { 0.0 } else { layer.b[j] };
            let (lo, hi) = pb.activation(j);
            let a0 = pb.a0[j];
            let (out, out_lo, out_hi, out0) = if input.relu && hi <= 0.0 {
                // Dead for every weight in the box: the error is a constant
                // (added for l1; a floor on the largest deviation for linf).
                if maxdev.is_some() {
                    max_lower = max_lower.max(y.abs());
                    max_start = max_start.max(y.abs());
                } else {
                    p.objective_offset += y.abs();
                }
                p.presolve.relu_fixed += 1;
                continue;
            } else if input.relu && lo < 0.0 {
                let o = p.add_column(Var::O(t, j), 0.0, hi, false, a0.max(0.0));
                let z = p.add_column(
                    Var::Z(t, j),
                    0.0,
                    1.0,
                    true,
                    if a0 > 0.0 { 1.0 } else { 0.0 },
                );
                // o ≥ a
                p.rows.push(Row {
                    name: RowName::ReluLo(t, j),
                    sense: Sense::Ge,
                    rhs: konst,
                    point: Some(pos),
                    act: vec![(j, -1.0)],
                    aux: vec![(o, 1.0)],
                });
                // o ≤ a − L(1 − z)  ⇔  o − a − L z ≤ −L
                p.rows.push(Row {
                    name: RowName::ReluHi(t, j),
                    sense: Sense::Le,
                    rhs: -lo + konst,
                    point: Some(pos),
                    act: vec![(j, -1.0)],
                    aux: vec![(o, 1.0), (z, -lo)],
                });
                // o ≤ U z
                p.rows.push(Row {
                    name: RowName::ReluOn(t, j),
                    sense: Sense::Le,
                    rhs: 0.0,
                    point: None,
                    act: vec![],
                    aux: vec![(o, 1.0), (z, -hi)],
                });
                (Out::Col(o), 0.0, hi, a0.max(0.0))
            } else {
                if input.relu {
                    p.presolve.relu_fixed += 1;
                }
                (Out::Act, lo, hi, a0)
            };
            let start = (out0 - y).abs();
            let dev_max = (out_hi - y).abs().max((out_lo - y).abs());
            let upper = match opts.cap {
                Cap::None => dev_max,
                Cap::Point => start,
            };
            let d = match maxdev {
                Some(m) => {
                    max_upper = max_upper.max(dev_max);
                    max_start = max_start.max(start);
                    m
                }
                None => {
                    let d = p.add_column(Var::Dev(t, j), 0.0, upper, false, start);
                    p.objective.push((d, 1.0));
                    d
                }
            };
            let (act, rhs_shift, out_aux) = match out {
                Out::Act => (vec![(j, 1.0)], konst, vec![]),
                Out::Col(o) => (vec![], 0.0, vec![(o, 1.0)]),
            };
            let point = (!act.is_empty()).then_some(pos);
            // dev ≥ out − y: can bind only if out can exceed y.
            if out_hi > y {
                let mut aux = out_aux.clone();
                aux.push((d, -1.0));
                p.rows.push(Row {
                    name: RowName::Pos(t, j),
                    sense: Sense::Le,
                    rhs: y - rhs_shift,
                    point,
                    act: act.clone(),
                    aux,
                });
            } else {
                p.presolve.rows_dropped += 1;
            }
            // dev ≥ y − out: can bind only if out can fall below y.
            if out_lo < y {
                let mut aux = out_aux;
                aux.push((d, 1.0));
                p.rows.push(Row {
                    name: RowName::Neg(t, j),
                    sense: Sense::Ge,
                    rhs: y - rhs_shift,
                    point,
                    act,
                    aux,
                });
            } else {
                p.presolve.rows_dropped += 1;
            }
        }
    }
    if let Some(m) = maxdev {
        let col = &mut p.columns[m];
        col.lower = max_lower;
        col.upper = max_upper.max(max_lower);
        col.start = max_start;
        p.objective.push((m, 1.0));
    }
    Ok(p)
}

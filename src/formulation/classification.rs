//! Classification: binary c_t = point t correctly classified with margin ε.
//! For every class j ≠ the label ℓ:
//!   compact: (w_ℓ − w_j)·h_t + b_ℓ − b_j ≥ ε − M_tj (1 − c_t)
//!   paper:   a_tℓ − a_tj ≥ ε − M_tj (1 − c_t), with a_tj = w_j·h_t + b_j
//! where M_tj = ε − min(a_tℓ − a_tj) over the box. Minimise −Σ c_t.
//! Presolve drops points the box cannot change and rows that cannot bind.
//!
//! After a ReLU the model's outputs are o_j = max(0, a_j), and with M ≥ 2
//! o_ℓ − o_j ≥ ε for every j ≠ ℓ holds exactly when a_ℓ − a_j ≥ ε for every
//! j and a_ℓ ≥ ε: the ReLU's zero is one more class (row `mg_t_M`, j = M)
//! whose activation is 0. A margin ε > 0 excludes ties (ONNX Runtime's
//! ArgMax takes the first of equal outputs, so an all-zero row would count
//! for class 0 alone). The hinge loss is not modelled after a ReLU.

use super::bounds::PointBounds;
use super::names::{RowName, Var};
use super::{Form, Input, Loss, Options, Problem, Row, Sense};

pub(super) fn build(input: Input<'_>, opts: &Options) -> Result<Problem, String> {
    let classes = input.classes.ok_or("classification needs class labels")?;
    let layer = input.layer;
    let m = layer.w.nrows();
    if m < 2 {
        return Err(format!(
            "classification needs at least 2 outputs; the layer has {m}"
        ));
    }
    if input.relu && opts.loss == Loss::Hinge {
        return Err("--loss hinge after a Relu is not modelled (the hinge of max(0, a) is not linear in the weights); use --loss zero-one".into());
    }
    let eps = opts.margin;
    let rb = opts.bias_reach(layer);
    let mut p = Problem::new(layer, input.features, input.points, opts);
    p.labels = Some(classes[..p.points.len().min(classes.len())].to_vec());
    let t_count = p.points.len();
    p.presolve.points_in = t_count;
    let mut kept_correct = 0usize;
    let mut cs = Vec::new();
    for (pos, &l) in classes.iter().enumerate().take(t_count) {
        let t = p.points[pos];
        if l >= m {
            return Err(format!(
                "label {l} of point {t} is out of range: the layer has {m} outputs (classes 0..{})",
                m - 1
            ));
        }
        let pb = PointBounds::new(p.features.row(pos), &layer.w, &layer.b, opts.radius, rb);
        let mut margins: Vec<(usize, f64, f64)> = (0..m)
            .filter(|&j| j != l)
            .map(|j| {
                let (lo, hi) = pb.margin(l, j);
                (j, lo, hi)
            })
            .collect();
        if input.relu {
            // The ReLU's zero: a_ℓ − 0 ≥ ε.
            let (lo, hi) = pb.activation(l);
            margins.push((m, lo, hi));
        }
        if margins.iter().all(|&(_, lo, _)| lo >= eps) {
            // Correct with margin (zero-one), or zero hinge loss, everywhere
            // in the box.
            p.presolve.fixed_correct += 1;
            continue;
        }
        // The constant part of a_j (the bias when it is not a variable; the
        // ReLU's zero class, j = M, is 0).
        let konst = |j: usize| {
            if layer.bias_vars || j == m {
                0.0
            } else {
                layer.b[j]
            }
        };
        if opts.loss == Loss::Hinge {
            // ξ_t ≥ δ − (a_tℓ − a_tj) for every j whose margin can fall
            // below δ; ξ_t ≥ 0 by its bound.
            let upper = margins
                .iter()
                .map(|&(_, lo, _)| eps - lo)
                .fold(0.0, f64::max);
            let start = margins
                .iter()
                .map(|&(j, _, _)| eps - (pb.a0[l] - pb.a0[j]))
                .fold(0.0, f64::max);
            let xi = p.add_column(Var::Xi(t), 0.0, upper, false, start);
            p.objective.push((xi, 1.0));
            cs.push(xi);
            for &(j, lo, _) in &margins {
                if lo >= eps {
                    p.presolve.rows_dropped += 1;
                    continue;
                }
                let mut act = vec![(l, 1.0), (j, -1.0)];
                act.sort_by_key(|&(k, _)| k);
                p.rows.push(Row {
                    name: RowName::Hinge(t, j),
                    sense: Sense::Ge,
                    rhs: eps - (konst(l) - konst(j)),
                    point: Some(pos),
                    act,
                    aux: vec![(xi, 1.0)],
                });
            }
            continue;
        }
        if margins.iter().any(|&(_, _, hi)| hi < eps) {
            p.presolve.fixed_wrong += 1;
            continue;
        }
        let current = margins.iter().all(|&(j, _, _)| {
            let a0j = if j == m { 0.0 } else { pb.a0[j] };
            pb.a0[l] - a0j >= eps
        });
        kept_correct += current as usize;
        let c = p.add_column(Var::C(t), 0.0, 1.0, true, if current { 1.0 } else { 0.0 });
        p.objective.push((c, -1.0));
        cs.push(c);
        let a_cols: Vec<usize> = match opts.form {
            Form::Compact => Vec::new(),
            Form::Paper => (0..m)
                .map(|j| {
                    let (lo, hi) = pb.activation(j);
                    let a = p.add_column(Var::A(t, j), lo, hi, false, pb.a0[j]);
                    // a_tj − w_j·h_t − b_j = 0
                    p.rows.push(Row {
                        name: RowName::Act(t, j),
                        sense: Sense::Eq,
                        rhs: konst(j),
                        point: Some(pos),
                        act: vec![(j, -1.0)],
                        aux: vec![(a, 1.0)],
                    });
                    a
                })
                .collect(),
        };
        for &(j, lo, _) in &margins {
            if lo >= eps {
                p.presolve.rows_dropped += 1;
                continue;
            }
            let big_m = eps - lo;
            let row = match opts.form {
                Form::Compact => {
                    let mut act = vec![(l, 1.0)];
                    if j < m {
                        act.push((j, -1.0));
                    }
                    act.sort_by_key(|&(k, _)| k);
                    Row {
                        name: RowName::Margin(t, j),
                        sense: Sense::Ge,
                        rhs: eps - big_m - (konst(l) - konst(j)),
                        point: Some(pos),
                        act,
                        aux: vec![(c, -big_m)],
                    }
                }
                Form::Paper => {
                    let mut aux = vec![(a_cols[l], 1.0)];
                    if j < m {
                        aux.push((a_cols[j], -1.0));
                    }
                    aux.push((c, -big_m));
                    Row {
                        name: RowName::Margin(t, j),
                        sense: Sense::Ge,
                        rhs: eps - big_m,
                        point: None,
                        act: vec![],
                        aux,
                    }
                }
            };
            p.rows.push(row);
        }
    }
    p.presolve.points_kept = cs.len();
    if opts.keep_accuracy && !cs.is_empty() {
        p.rows.push(Row {
            name: RowName::Keep,
            sense: Sense::Ge,
            rhs: kept_correct as f64,
            point: None,
            act: vec![],
            aux: cs.iter().map(|&c| (c, 1.0)).collect(),
        });
    }
    // Correct points fixed by presolve count toward the zero-one loss:
    // −#correct. (Their hinge loss is 0.)
    if opts.loss == Loss::ZeroOne {
        p.objective_offset = -(p.presolve.fixed_correct as f64);
    }
    Ok(p)
}

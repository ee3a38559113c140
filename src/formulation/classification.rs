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

use super::bounds::{Current, PointBounds};
use super::names::{RowName, Var};
use super::problem::HingeRows;
use super::{Builder, Form, Input, LayerData, Loss, Options, Row, Sense};

/// One point that presolve could not decide: its margins to every other
/// class (and the ReLU's zero, j = M) over the box.
struct Point<'a> {
    /// Position among the selected points, data-file index, label.
    pos: usize,
    t: usize,
    l: usize,
    pb: PointBounds,
    /// (class j, lowest and highest margin a_ℓ − a_j over the box).
    margins: Vec<(usize, f64, f64)>,
    layer: &'a LayerData,
}

impl Point<'_> {
    /// The constant part of a_j (the bias when it is not a variable; the
    /// ReLU's zero class, j = M, is 0).
    fn konst(&self, j: usize) -> f64 {
        let m = self.layer.w.nrows();
        if self.layer.bias_vars || j == m {
            0.0
        } else {
            self.layer.b[j]
        }
    }

    /// The activations a_ℓ − a_j a margin row reads (a_ℓ alone for the
    /// ReLU's zero), ascending.
    fn act(&self, j: usize) -> Vec<(usize, f64)> {
        let mut act = vec![(self.l, 1.0)];
        if j < self.layer.w.nrows() {
            act.push((j, -1.0));
        }
        act.sort_by_key(|&(k, _)| k);
        act
    }
}

pub(super) fn build(input: Input<'_>, opts: &Options) -> Result<Builder, String> {
    let classes = input.classes.ok_or("classification needs class labels")?;
    let layer = input.layer;
    let m = layer.w.nrows();
    if m < 2 {
        return Err(format!(
            "classification needs at least 2 outputs; the layer has {m}"
        ));
    }
    if input.relu && opts.loss == Loss::Hinge {
        return Err("the hinge loss after a Relu is not modelled (the hinge of max(0, a) is not linear in the weights); use the zero-one loss".into());
    }
    let rb = opts.bias_reach(layer);
    let relu = input.relu;
    let mut b = Builder::new(layer, input.features, input.points, opts);
    let t_count = b.points().len();
    b.set_labels(classes[..t_count.min(classes.len())].to_vec());
    let mut zero_one = ZeroOne::default();
    let mut kept = 0;
    let mut current = Current::new(&layer.w, &layer.b, opts.radius, rb);
    for (pos, &l) in classes.iter().enumerate().take(t_count) {
        let t = b.points()[pos];
        if l >= m {
            return Err(format!(
                "label {l} of point {t} is out of range: the layer has {m} outputs (classes 0..{})",
                m - 1
            ));
        }
        let pb = current.at(b.features(), pos);
        let mut margins: Vec<(usize, f64, f64)> = (0..m)
            .filter(|&j| j != l)
            .map(|j| {
                let (lo, hi) = pb.margin(l, j);
                (j, lo, hi)
            })
            .collect();
        if relu {
            // The ReLU's zero: a_ℓ − 0 ≥ ε.
            let (lo, hi) = pb.activation(l);
            margins.push((m, lo, hi));
        }
        if margins.iter().all(|&(_, lo, _)| lo >= opts.margin) {
            // Correct with margin (zero-one), or zero hinge loss, everywhere
            // in the box.
            b.presolve().fixed_correct += 1;
            continue;
        }
        let point = Point {
            pos,
            t,
            l,
            pb,
            margins,
            layer,
        };
        kept += match opts.loss {
            Loss::Hinge => hinge(&mut b, &point, opts) as usize,
            _ => zero_one.point(&mut b, &point, opts) as usize,
        };
    }
    b.presolve().points_kept = kept;
    if opts.loss == Loss::ZeroOne {
        zero_one.finish(&mut b, opts);
    }
    Ok(b)
}

/// Hinge: ξ_t ≥ δ − (a_tℓ − a_tj) for every j whose margin can fall below
/// δ; ξ_t ≥ 0 by its bound. Returns true (the point is kept).
fn hinge(b: &mut Builder, p: &Point<'_>, opts: &Options) -> bool {
    let eps = opts.margin;
    let upper = p
        .margins
        .iter()
        .map(|&(_, lo, _)| eps - lo)
        .fold(0.0, f64::max);
    let start = p
        .margins
        .iter()
        .map(|&(j, _, _)| eps - (p.pb.a0[p.l] - p.pb.a0[j]))
        .fold(0.0, f64::max);
    let xi = b.add_column(Var::Xi(p.t), 0.0, upper, false, start);
    b.add_cost(xi, 1.0);
    let mut rivals = Vec::with_capacity(p.margins.len());
    for &(j, lo, _) in &p.margins {
        if lo >= eps {
            b.presolve().rows_dropped += 1;
            continue;
        }
        rivals.push(u32::try_from(j).expect("fewer than 2^32 classes"));
    }
    b.add_hinge_rows(HingeRows {
        pos: p.pos,
        t: p.t,
        l: p.l,
        xi,
        rivals: &rivals,
        delta: eps,
    });
    true
}

/// Zero-one: what the `keep` row and the offset need once every point is
/// seen.
#[derive(Default)]
struct ZeroOne {
    /// The c_t columns.
    cs: Vec<usize>,
    /// Kept points correct now.
    correct: usize,
}

impl ZeroOne {
    /// A binary c_t and its margin rows (compact or paper form); false when
    /// the point is wrong for every weight in the box (fixed c_t = 0).
    fn point(&mut self, b: &mut Builder, p: &Point<'_>, opts: &Options) -> bool {
        let (eps, m) = (opts.margin, p.layer.w.nrows());
        if p.margins.iter().any(|&(_, _, hi)| hi < eps) {
            b.presolve().fixed_wrong += 1;
            return false;
        }
        let current = p.margins.iter().all(|&(j, _, _)| {
            let a0j = if j == m { 0.0 } else { p.pb.a0[j] };
            p.pb.a0[p.l] - a0j >= eps
        });
        self.correct += current as usize;
        let c = b.add_column(Var::C(p.t), 0.0, 1.0, true, if current { 1.0 } else { 0.0 });
        b.add_cost(c, -1.0);
        self.cs.push(c);
        let a_cols = match opts.form {
            Form::Compact => Vec::new(),
            Form::Paper => activation_columns(b, p),
        };
        for &(j, lo, _) in &p.margins {
            if lo >= eps {
                b.presolve().rows_dropped += 1;
                continue;
            }
            let big_m = eps - lo;
            let row = match opts.form {
                Form::Compact => Row {
                    name: RowName::Margin(p.t, j),
                    sense: Sense::Ge,
                    rhs: eps - big_m - (p.konst(p.l) - p.konst(j)),
                    point: Some(p.pos),
                    act: p.act(j),
                    aux: vec![(c, -big_m)],
                },
                Form::Paper => {
                    let mut aux = vec![(a_cols[p.l], 1.0)];
                    if j < m {
                        aux.push((a_cols[j], -1.0));
                    }
                    aux.push((c, -big_m));
                    Row {
                        name: RowName::Margin(p.t, j),
                        sense: Sense::Ge,
                        rhs: eps - big_m,
                        point: None,
                        act: vec![],
                        aux,
                    }
                }
            };
            b.add_row(row);
        }
        true
    }

    /// `keep: Σ c_t ≥ the number correct now` (`--keep-accuracy`), and the
    /// offset: correct points fixed by presolve count −1 each.
    fn finish(self, b: &mut Builder, opts: &Options) {
        if opts.keep_accuracy && !self.cs.is_empty() {
            b.add_row(Row {
                name: RowName::Keep,
                sense: Sense::Ge,
                rhs: self.correct as f64,
                point: None,
                act: vec![],
                aux: self.cs.iter().map(|&c| (c, 1.0)).collect(),
            });
        }
        let fixed = b.presolve().fixed_correct;
        b.set_offset(-(fixed as f64));
    }
}

/// The paper form's explicit activations: a_t_j with
/// `act_t_j: a_tj − w_j·h_t − b_j = 0` for every output.
fn activation_columns(b: &mut Builder, p: &Point<'_>) -> Vec<usize> {
    (0..p.layer.w.nrows())
        .map(|j| {
            let (lo, hi) = p.pb.activation(j);
            let a = b.add_column(Var::A(p.t, j), lo, hi, false, p.pb.a0[j]);
            b.add_row(Row {
                name: RowName::Act(p.t, j),
                sense: Sense::Eq,
                rhs: p.konst(j),
                point: Some(p.pos),
                act: vec![(j, -1.0)],
                aux: vec![(a, 1.0)],
            });
            a
        })
        .collect()
}

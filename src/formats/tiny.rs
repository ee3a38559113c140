//! Tiny problems for the writers' unit tests, built by the real
//! formulation from hand-chosen numbers (the same ones as the golden files:
//! tests/golden/README.md shows the working). Test-only; no files, no ONNX.

use super::{lp, mip_start, mps};
use crate::data::Task;
use crate::formulation::{self, Cap, Form, Input, LayerData, Loss, MseForm, Options, Problem};
use ndarray::{array, Array2};

fn options(task: Task, loss: Loss, bias_radius: f64, mse_form: MseForm) -> Options {
    Options {
        task,
        loss,
        radius: 0.05,
        bias_radius,
        margin: 1e-3,
        form: Form::Compact,
        keep_accuracy: false,
        cap: Cap::None,
        mse_form,
    }
}

/// tiny_classification: W = [[1, 0], [0, 1], [0.5, 0.5]], b = [0, 0, 0.25],
/// four points of which one (c_2) is kept.
pub fn classification() -> Problem {
    let layer = LayerData {
        w: array![[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]],
        b: array![0.0, 0.0, 0.25],
        bias_vars: true,
    };
    let input = Input {
        layer: &layer,
        features: array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]].into_shared(),
        points: vec![0, 1, 2, 3],
        relu: false,
        classes: Some(&[0, 2, 2, 1]),
        targets: None,
    };
    let opts = options(Task::Classification, Loss::ZeroOne, 0.05, MseForm::Segments);
    formulation::build(input, &opts).expect("a valid tiny problem")
}

/// `p` with the bounds the formulation never writes but a writer must:
/// w_0_0 without a lower bound, w_0_1 free, the biases fixed at their
/// current values.
pub fn with_odd_bounds(mut p: Problem) -> Problem {
    p.column_mut(0).lower = f64::NEG_INFINITY;
    let free = p.column_mut(1);
    (free.lower, free.upper) = (f64::NEG_INFINITY, f64::INFINITY);
    for c in 6..9 {
        let c = p.column_mut(c);
        (c.lower, c.upper) = (c.start, c.start);
    }
    p
}

/// tiny_regression: W = [0.5, −0.25], b = 0.125, three points; `loss` and
/// `mse_form` as given.
pub fn regression(loss: Loss, mse_form: MseForm) -> Problem {
    let layer = LayerData {
        w: array![[0.5, -0.25]],
        b: array![0.125],
        bias_vars: true,
    };
    let targets: Array2<f64> = array![[1.0], [0.5], [-1.0]];
    let input = Input {
        layer: &layer,
        features: array![[1.0, 2.0], [2.0, 0.0], [0.0, 4.0]].into_shared(),
        points: vec![0, 1, 2],
        relu: false,
        classes: None,
        targets: Some(&targets),
    };
    let opts = options(Task::Regression, loss, 0.05, mse_form);
    formulation::build(input, &opts).expect("a valid tiny problem")
}

/// The text a writer makes of `p`.
pub fn text(p: &Problem, which: &str) -> String {
    let mut out = Vec::new();
    match which {
        "mps" => mps::write(p, &mut out),
        "lp" => lp::write(p, &mut out),
        "mst" => mip_start::write(p, &mut out),
        "cbc" => mip_start::write_cbc(p, &mut out),
        _ => unreachable!("a writer's name"),
    }
    .expect("writing to memory");
    String::from_utf8(out).expect("writers write ASCII")
}

/// The lines of `text` from the one starting with `from` up to (not
/// including) the next one starting with a line in `until`.
pub fn section<'a>(text: &'a str, from: &str, until: &[&str]) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with(from));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no `{from}` in:\n{text}"));
    std::iter::once(first)
        .chain(lines.take_while(|l| !until.iter().any(|u| l.starts_with(u))))
        .collect()
}

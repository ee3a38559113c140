//! The synthetic problem the benchmarks share: compact classification with
//! dense positive features and a random layer, radius large enough that
//! presolve keeps every point and row (T = 1,000, N = 128, M = 10 gives
//! ≈ 2.33 M non-zeros).

use gdmilp::data::{SplitMix, Task};
use gdmilp::formulation::{self, Cap, Form, Input, LayerData, Loss, MseForm, Options, Problem};
use ndarray::{Array1, Array2};

/// Builds the problem.
pub fn problem(t: usize, n: usize, m: usize) -> Problem {
    let mut rng = SplitMix(1);
    let h = Array2::from_shape_fn((t, n), |_| 0.01 + rng.uniform());
    let w = Array2::from_shape_fn((m, n), |_| rng.uniform() - 0.5);
    let b = Array1::from_shape_fn(m, |_| rng.uniform() - 0.5);
    let labels: Vec<usize> = (0..t).map(|i| i % m).collect();
    let layer = LayerData {
        w,
        b,
        bias_vars: true,
    };
    let opts = Options {
        task: Task::Classification,
        loss: Loss::ZeroOne,
        radius: 10.0,
        bias_radius: 10.0,
        margin: 1e-3,
        form: Form::Compact,
        keep_accuracy: false,
        cap: Cap::None,
        mse_form: MseForm::Tangents,
    };
    let input = Input {
        layer: &layer,
        features: h.into_shared(),
        points: (0..t).collect(),
        relu: false,
        classes: Some(&labels),
        targets: None,
    };
    formulation::build(input, &opts).expect("builds")
}

//! `export` as a library call: an [`ExportPlan`] (what to read, which box,
//! which points, which extras) checked before any slow work, then run into
//! an [`Exported`] (the loaded model and data, the problem, the files
//! written). The CLI turns flags into the plan and the result into lines;
//! the order of the steps and their rules live here.

use crate::error::{Error, Result};
use crate::formulation::radius::{Radius, DEFAULT_RELATIVE};
use crate::formulation::{Options, Task};
use crate::workflow::pipeline::{
    self, Built, DataSpec, Loaded, Outputs, SelectSpec, WarmStart, Written,
};
use std::path::Path;

/// `export`'s default box: relative, the same as `tune`'s without
/// validation data, so that the README's main command means the same box at
/// any layer size (issue #13). The paper's setting is `--radius 0.05`.
pub const DEFAULT_RADIUS: Radius = Radius::Relative(DEFAULT_RELATIVE);

/// Everything one export needs, before anything is read.
#[derive(Debug, Clone)]
pub struct ExportPlan<'a> {
    /// The ONNX model.
    pub model: &'a Path,
    /// The training data and how to read it.
    pub data: DataSpec,
    /// The model output to follow (`--output`), if not the only float one.
    pub output: Option<&'a str>,
    /// The MILP file; its sidecars go beside it.
    pub milp: &'a Path,
    /// The box: absolute or relative (never `auto`, which needs validation).
    pub radius: Radius,
    /// r_b when it differs from r.
    pub bias_radius: Option<f64>,
    /// Which points the MILP holds.
    pub selection: SelectSpec,
    /// Points whose predictions must not get worse (`--protect`).
    pub protect: Option<&'a Path>,
    /// The MIP start: the current weights, or the hinge LP's answer.
    pub warm_start: WarmStart,
}

/// What an export produced.
pub struct Exported {
    /// The model, its layer, the data and the features.
    pub loaded: Loaded,
    /// The formulation's options, with the box resolved.
    pub options: Options,
    /// The problem and its points.
    pub built: Built,
    /// The files written.
    pub written: Written,
    /// The protected points, in one line, with `protect`.
    pub protected: Option<String>,
    /// The hinge start, in one line, with `WarmStart::Hinge`.
    pub warm: Option<String>,
}

impl ExportPlan<'_> {
    /// Checks what can be checked before reading: the box and the output
    /// files against the inputs (taking their lock).
    pub fn check(&self) -> Result<Outputs> {
        if self.radius == Radius::Auto {
            return Err(Error::usage(
                "--radius auto judges sweeps on validation data: it is for tune; give export a number (0.05) or a fraction of the margins (0.5x)",
            ));
        }
        let mut inputs = vec![self.model, self.data.path.as_path()];
        inputs.extend(self.protect);
        Outputs::check(self.milp, &inputs)
    }

    /// Loads, builds, adds the protected rows and the start, and writes the
    /// files as one group. `options_for` gives the formulation's options
    /// once the data has said the task (the caller's defaults and checks).
    pub fn run(
        &self,
        outputs: Outputs,
        options_for: impl FnOnce(Task) -> Result<Options>,
    ) -> Result<Exported> {
        let loaded = pipeline::load(self.model, self.output, &self.data)?;
        outputs.check_inputs(&loaded)?;
        let opts = options_for(loaded.data.y.task())?;
        let sel = &self.selection;
        let rule = pipeline::BoxRule {
            radius: self.radius,
            bias_radius: self.bias_radius,
        };
        let indices = pipeline::select(&loaded, sel)?;
        let (options, built) = pipeline::build_sized(&loaded, indices, sel, &opts, rule)?;
        let (mut built, protected) = match self.protect {
            Some(path) => {
                let (b, line) = crate::workflow::protect::add_all(
                    &loaded,
                    built,
                    &options,
                    path,
                    self.data.batch_size,
                )?;
                (b, Some(line))
            }
            None => (built, None),
        };
        let warm = match self.warm_start {
            WarmStart::Current => None,
            WarmStart::Hinge => Some(hinge_start(&loaded, &mut built, sel, &options)?),
        };
        let written = outputs.write(&loaded, sel, &options, &built)?;
        Ok(Exported {
            loaded,
            options,
            built,
            written,
            protected,
            warm,
        })
    }
}

/// The hinge warm start, described in one line.
#[cfg(feature = "highs")]
fn hinge_start(
    loaded: &Loaded,
    built: &mut Built,
    sel: &SelectSpec,
    opts: &Options,
) -> Result<String> {
    let settings = crate::solvers::highs::Settings::default();
    let h = crate::workflow::warm::hinge_start(
        loaded,
        built,
        sel,
        opts,
        &settings,
        None,
        crate::solvers::strategy::Choice::Auto,
    )?;
    Ok(h.describe())
}

#[cfg(not(feature = "highs"))]
fn hinge_start(_: &Loaded, _: &mut Built, _: &SelectSpec, _: &Options) -> Result<String> {
    Err(Error::usage(
        "--warm-start hinge solves an LP with the embedded HiGHS, and this gdmilp was built without it",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One default box for the README's two commands: `export` and `tune`
    /// without validation data.
    #[cfg(feature = "highs")]
    #[test]
    fn export_defaults_to_tunes_box() {
        assert_eq!(DEFAULT_RADIUS, crate::workflow::tune::default_radius(false));
    }
}

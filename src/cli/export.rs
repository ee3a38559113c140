//! `gdmilp export MODEL DATA -o layer.mps`: the MILP, its manifest and MIP
//! start, and a short summary.

use super::{DataArgs, FormArgs};
use crate::error::Result;
use crate::formats::FileKind;
use crate::formulation::radius::Radius;
use crate::pipeline::{self, WarmStart};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// The training data (.npz).
    pub data: PathBuf,
    /// The MILP file to write; its extension picks the format: .mps, .lp,
    /// .mps.gz or .lp.gz. The manifest (FILE.gdmilp.json) and MIP start
    /// (FILE.mst) go beside it; the three appear together or not at all.
    #[arg(short, long, value_name = "FILE")]
    pub output_file: PathBuf,
    #[command(flatten)]
    pub data_args: DataArgs,
    #[command(flatten)]
    pub form: FormArgs,
}

pub(super) fn run(a: ExportArgs) -> Result<u8> {
    FileKind::from_path(&a.output_file)?;
    a.form.validate()?;
    let mut inputs = vec![a.model.as_path(), a.data.as_path()];
    inputs.extend(a.form.protect.as_deref());
    let outputs = pipeline::Outputs::check(&a.output_file, &inputs)?;
    let loaded = pipeline::load(
        &a.model,
        a.data_args.output.as_deref(),
        &a.data_args.spec(a.data.clone()),
    )?;
    outputs.check_inputs(&loaded)?;
    let task = loaded.data.y.task();
    let opts = a.form.options(task);
    a.form.check_for(&opts, &a.data)?;
    let sel = a.form.selection();
    let radius = match a.form.radius()?.unwrap_or(super::EXPORT_RADIUS) {
        Radius::Auto => return Err(crate::Error::usage(
            "--radius auto judges sweeps on validation data: it is for tune; give export a number (0.05) or a fraction of the margins (0.5x)",
        )),
        r => r,
    };
    let (opts, built) = pipeline::build_sized(&loaded, &sel, &opts, radius, a.form.bias_radius)?;
    let (built, protected) = match &a.form.protect {
        Some(path) => {
            let batch = a.data_args.batch_size;
            let (b, line) = crate::protect::add_all(&loaded, built, &opts, path, batch)?;
            (b, Some(line))
        }
        None => (built, None),
    };
    let mut built = built;
    let warm = match a.form.warm_start {
        WarmStart::Current => None,
        WarmStart::Hinge => Some(hinge_start(&loaded, &mut built, &sel, &opts)?),
    };
    let written = outputs.write(&loaded, &sel, &opts, &built)?;
    let p = &built.problem;
    let pre = p.presolve();
    errln!(
        "layer    {} {}×{} ({} after), task {}",
        loaded.layer.op_summary(),
        loaded.layer.n_out,
        loaded.layer.n_in,
        loaded.layer.activation.name(),
        serde_json::to_value(task)
            .expect("json")
            .as_str()
            .unwrap_or("")
    );
    errln!("model    {}", super::describe(&loaded.metrics()));
    errln!(
        "points   {} selected, {} kept, {} fixed correct, {} fixed wrong; {} rows dropped by presolve",
        pre.points_in, pre.points_kept, pre.fixed_correct, pre.fixed_wrong, pre.rows_dropped
    );
    if let Some(line) = protected {
        errln!("protect  {line}");
    }
    errln!(
        "model    {} columns ({} binary), {} rows, {} non-zeros{}",
        p.num_columns(),
        p.binaries(),
        p.num_rows(),
        p.nonzeros(),
        if !p.has_quadratic() {
            String::new()
        } else {
            format!(" + {} Hessian entries (lower triangle)", p.quadratic_len())
        }
    );
    errln!(
        "incumbent objective {} (loss on the selected points {})",
        crate::num::fmt(built.incumbent),
        crate::num::fmt(built.incumbent + p.objective_offset())
    );
    errln!(
        "box      {}: {}",
        pipeline::BoxReach::radius_line(&opts, built.box_size.as_ref()),
        pipeline::BoxReach::of(&loaded, &built, &opts).describe()
    );
    if let Some(b) = p.mse_bound() {
        errln!("mse      {}", b.describe());
    }
    if let Some(w) = warm {
        errln!("start    {w}");
    }
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    errln!(
        "wrote    {} ({} bytes{}), {}, {}, {}",
        a.output_file.display(),
        size(&a.output_file),
        if written.milp_bytes != size(&a.output_file) {
            format!(", {} uncompressed", written.milp_bytes)
        } else {
            String::new()
        },
        written.start.display(),
        written.cbc_start.display(),
        written.manifest.display()
    );
    Ok(0)
}

/// The hinge warm start, described in one line.
#[cfg(feature = "highs")]
fn hinge_start(
    loaded: &pipeline::Loaded,
    built: &mut pipeline::Built,
    sel: &pipeline::SelectSpec,
    opts: &crate::formulation::Options,
) -> Result<String> {
    let settings = crate::solve::Settings::default();
    let h = crate::warm::hinge_start(
        loaded,
        built,
        sel,
        opts,
        &settings,
        None,
        crate::strategy::Choice::Auto,
    )?;
    Ok(h.describe())
}

#[cfg(not(feature = "highs"))]
fn hinge_start(
    _: &pipeline::Loaded,
    _: &mut pipeline::Built,
    _: &pipeline::SelectSpec,
    _: &crate::formulation::Options,
) -> Result<String> {
    Err(crate::Error::usage(
        "--warm-start hinge solves an LP with the embedded HiGHS, and this gdmilp was built without it",
    ))
}

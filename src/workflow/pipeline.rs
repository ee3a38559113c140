//! The export pipeline as library calls, shared by `export` and `tune`:
//! model + data → features → point selection → formulation → files.

use crate::data::{self, Dataset, Labels, Select, Task};
use crate::error::{Error, Result};
use crate::formats;
use crate::formats::manifest::{self, Counts, DataRef, LayerRef, Manifest, ModelRef, Selection};
use crate::formulation::metrics::{self, Metrics};
use crate::formulation::radius::{self, BoxSize, Radius, Scales};
use crate::formulation::{self, names, Input, LayerData, Options, Problem};
use crate::inference::features::{self, Features};
use crate::onnx::{Activation, FinalLayer, Model};
use std::path::{Path, PathBuf};

/// Where the data comes from and how to read it.
#[derive(Debug, Clone)]
pub struct DataSpec {
    /// The .npz file.
    pub path: PathBuf,
    /// `--x-key`.
    pub x_key: Option<String>,
    /// `--y-key`.
    pub y_key: Option<String>,
    /// `--mask-key`.
    pub mask_key: Option<String>,
    /// `--task`.
    pub task: Option<Task>,
    /// `--batch-size`.
    pub batch_size: usize,
}

/// A model and data, loaded and run once.
pub struct Loaded {
    /// The model.
    pub model: Model,
    /// Its final layer.
    pub layer: FinalLayer,
    /// The data.
    pub data: Dataset,
    /// The model run on all the data.
    pub features: Features,
}

/// Loads model and data, locates the layer and runs the model.
pub fn load(model_path: &Path, output: Option<&str>, spec: &DataSpec) -> Result<Loaded> {
    let (model, layer, data) = load_parts(model_path, output, spec)?;
    Loaded::from_parts(model, layer, data, spec.batch_size)
}

/// Loads the model and the data and locates the layer, without running
/// the model (for callers that split the data first).
pub fn load_parts(
    model_path: &Path,
    output: Option<&str>,
    spec: &DataSpec,
) -> Result<(Model, FinalLayer, Dataset)> {
    let model = Model::load(model_path)?;
    let layer = crate::onnx::locate(&model, output)?;
    let data = data::load(
        &spec.path,
        data::Keys {
            x: spec.x_key.as_deref(),
            y: spec.y_key.as_deref(),
            mask: spec.mask_key.as_deref(),
            task: spec.task,
            over_sequence: layer.over_sequence(),
        },
    )?;
    Ok((model, layer, data))
}

/// Float labels that are all whole numbers 0, 1, …: class labels saved as
/// floats, most likely; the largest.
fn whole_number_labels(y: &Labels) -> Option<f64> {
    let Labels::Targets(t) = y else { return None };
    let whole = t.ncols() == 1 && t.iter().all(|v| *v >= 0.0 && v.fract() == 0.0);
    whole.then(|| t.iter().copied().fold(0.0, f64::max))
}

fn check_task(model: &Model, layer: &FinalLayer, data: &Dataset) -> Result<()> {
    let classifier_head = matches!(
        layer.activation,
        Activation::Softmax | Activation::LogSoftmax | Activation::Monotone(_)
    );
    if let (true, Some(max)) = (classifier_head, whole_number_labels(&data.y)) {
        return Err(Error::invalid(
            &data.path,
            format!(
                "labels '{}' are floats holding whole numbers (0 to {max}), read as regression targets, but the model ends in {} (a classifier): if they are class labels, give --task classification (or save them as integers)",
                data.y_key,
                layer.activation.name()
            ),
        ));
    }
    match (data.y.task(), &layer.activation) {
        (Task::Regression, Activation::Softmax | Activation::LogSoftmax | Activation::Monotone(_)) => Err(Error::invalid(
            &model.path,
            format!(
                "the last layer is followed by {}, which a regression formulation cannot model (it is not piecewise linear); use float targets only with an identity or Relu output, or --task classification",
                layer.activation.name()
            ),
        )),
        _ => Ok(()),
    }
}

fn check_labels(layer: &FinalLayer, data: &Dataset, f: &Features) -> Result<()> {
    let m = layer.n_out;
    match &data.y {
        Labels::Classes(c) => {
            if let Some((t, &l)) = c.iter().enumerate().find(|(_, &l)| l >= m) {
                return Err(Error::invalid(
                    &data.path,
                    format!(
                        "label {l} of {} is out of range: the model has {m} classes (0..{})",
                        data.x.point_name(t),
                        m - 1
                    ),
                ));
            }
        }
        Labels::Targets(t) => {
            if t.ncols() != m || f.out.ncols() != m {
                return Err(Error::invalid(
                    &data.path,
                    format!(
                        "targets '{}' have {} values per point but the model's layer has {m} outputs",
                        data.y_key,
                        t.ncols()
                    ),
                ));
            }
        }
    }
    Ok(())
}

impl Loaded {
    /// Checks that model and data fit, then runs the model on the data.
    pub fn from_parts(
        model: Model,
        layer: FinalLayer,
        data: Dataset,
        batch_size: usize,
    ) -> Result<Loaded> {
        Loaded::run(model, layer, data, batch_size, None)
    }

    /// `model`, a copy of this one's with its layer patched (`layer`), run
    /// on the same data: its features, which come before the layer, are
    /// this one's while ONNX Runtime repeats them, shared, not copied.
    pub fn patched(&self, model: Model, layer: FinalLayer, batch_size: usize) -> Result<Loaded> {
        let h = Some(&self.features.h);
        Loaded::run(model, layer, self.data.clone(), batch_size, h)
    }

    fn run(
        model: Model,
        layer: FinalLayer,
        data: Dataset,
        batch_size: usize,
        h: Option<&ndarray::ArcArray2<f64>>,
    ) -> Result<Loaded> {
        check_task(&model, &layer, &data)?;
        crate::progress::begin(format_args!(
            "running {} on {} points of {}…",
            model.path.display(),
            data.y.len(),
            data.path.display()
        ));
        let features =
            features::compute_sharing(&model, &layer, &data.x, &data.path, batch_size, h)?;
        check_labels(&layer, &data, &features)?;
        Ok(Loaded {
            model,
            layer,
            data,
            features,
        })
    }

    /// Metrics of the model on all the data.
    pub fn metrics(&self) -> Metrics {
        metrics::metrics(&self.features.out, &self.features.a, &self.data.y)
    }

    /// The layer's current parameters for the formulation.
    pub fn layer_data(&self) -> LayerData {
        LayerData {
            w: self.layer.w.clone(),
            b: self.layer.b.clone(),
            bias_vars: self.layer.has_bias_vars(),
        }
    }
}

/// Which MIP start a zero-one problem gets (`--warm-start`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WarmStart {
    /// The current weights (always feasible).
    Current,
    /// The multiclass hinge LP's weights, solved first by the embedded
    /// HiGHS, when they have more points correct.
    Hinge,
}

/// Point selection options.
#[derive(Debug, Clone)]
pub struct SelectSpec {
    /// The rule.
    pub select: Select,
    /// How many.
    pub points: Option<usize>,
    /// Seed for random rules.
    pub seed: u64,
}

/// A built formulation with what export records about it.
pub struct Built {
    /// The problem.
    pub problem: Problem,
    /// Selected data-file indices.
    pub indices: Vec<usize>,
    /// Objective at the current weights.
    pub incumbent: f64,
    /// `--protect`: what the manifest records (the rows are in `problem`).
    pub protect: Option<manifest::ProtectRef>,
    /// The box as asked for and resolved, when it was relative.
    pub box_size: Option<BoxSize>,
}

/// How far the box lets the layer's outputs move, against how far they are
/// from changing now: the box's size in the units that decide whether a
/// sweep can fit its points at the expense of data it does not see.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BoxReach {
    /// Median over the sweep's points of r·‖h_t‖₁ + r_b: the most any
    /// activation of the point can move.
    pub reach: f64,
    /// Median |margin| now (classification: a_ℓ − max_{j≠ℓ} a_j) or
    /// |residual| (regression).
    pub scale: f64,
    /// Classification (margins) or regression (residuals).
    pub classification: bool,
}

impl BoxReach {
    /// Of `built`'s points, with the box of `opts`.
    pub fn of(loaded: &Loaded, built: &Built, opts: &Options) -> BoxReach {
        // A relative box measured these medians already.
        let s = match &built.box_size {
            Some(b) => b.scales,
            None => scales(loaded, &built.indices),
        };
        BoxReach {
            reach: opts.radius * s.l1 + opts.bias_reach(&loaded.layer_data()),
            scale: s.scale,
            classification: matches!(loaded.data.y, Labels::Classes(_)),
        }
    }

    /// `radius 0.05` or `radius 0.5x = 0.0123 (bias 0.0123)`: the box as
    /// asked for and the numbers it resolved to.
    pub fn radius_line(opts: &Options, size: Option<&BoxSize>) -> String {
        let fmt = |v: f64| crate::num::fmt(crate::num::round3(v));
        let bias = if opts.bias_radius == opts.radius {
            String::new()
        } else {
            format!(", bias {}", fmt(opts.bias_radius))
        };
        let empty = size
            .and_then(BoxSize::empty_because)
            .map_or(String::new(), |why| format!(" (empty: {why})"));
        match size.and_then(|s| s.relative) {
            Some(f) => format!(
                "radius {}x = {}{bias}{empty}",
                crate::num::fmt(f),
                fmt(opts.radius)
            ),
            None => format!("radius {}{bias}", crate::num::fmt(opts.radius)),
        }
    }

    /// One line for people; with `advise`, it advises when the box dwarfs
    /// the margins (not when held-out data chose the box).
    pub fn describe(&self, advise: bool) -> String {
        let what = if self.classification {
            "margin"
        } else {
            "residual"
        };
        let ratio = self.reach / self.scale.max(1e-300);
        let mut line = format!(
            "an activation may move by up to {} (median over the points), {ratio:.1}× the median |{what}| now ({})",
            crate::num::fmt(crate::num::round3(self.reach)),
            crate::num::fmt(crate::num::round3(self.scale))
        );
        if advise && ratio > WIDE_BOX {
            line.push_str(
                "; a box this wide let sweeps fit their points and lose accuracy on unseen data (docs/real-heads.md): let held-out data judge it (tune --radius auto), or give a box relative to the margins (--radius 0.5x)",
            );
        }
        line
    }
}

/// Above this ratio of the box's reach to the median margin or residual,
/// export and tune advise validation or a smaller box: on the N = 512
/// benchmark heads a hinge sweep at 14.7× lost 7.7 points of held-out
/// accuracy, one at 2.9× gained 2.6.
pub const WIDE_BOX: f64 = 5.0;

/// The data-file indices of the points `sel` picks.
pub fn select(loaded: &Loaded, sel: &SelectSpec) -> Result<Vec<usize>> {
    let (wrong, loss) = metrics::per_point(&loaded.features.out, &loaded.data.y);
    data::select(sel.select, sel.points, sel.seed, wrong.as_deref(), &loss)
}

/// The data-file indices of the points `sel` picks among `pool` (ascending;
/// a cross-validation fold's training points), ascending.
pub fn select_in(loaded: &Loaded, sel: &SelectSpec, pool: &[usize]) -> Result<Vec<usize>> {
    let out = loaded.features.out.select(ndarray::Axis(0), pool);
    let (wrong, loss) = metrics::per_point(&out, &loaded.data.y.subset(pool));
    let local = data::select(sel.select, sel.points, sel.seed, wrong.as_deref(), &loss)?;
    Ok(local.into_iter().map(|i| pool[i]).collect())
}

/// The box a sweep asks for: a radius (absolute, or relative to the
/// margins on the points) and a fixed bias radius r_b, if any.
#[derive(Debug, Clone, Copy)]
pub struct BoxRule {
    /// The weights' radius; `Radius::Auto` is the caller's to resolve (it
    /// needs cross-validation).
    pub radius: Radius,
    /// r_b, when given (else as the radius rule says).
    pub bias_radius: Option<f64>,
}

/// Sizes the box `rule` asks for on the points `indices` (chosen by `sel`;
/// `opts` holds the rest) and builds the formulation there ([`build`]).
pub fn build_sized(
    loaded: &Loaded,
    indices: Vec<usize>,
    sel: &SelectSpec,
    opts: &Options,
    rule: BoxRule,
) -> Result<(Options, Built)> {
    let size = size_box(loaded, &indices, opts, rule.radius, rule.bias_radius);
    let opts = Options {
        radius: size.radius,
        bias_radius: size.bias_radius,
        ..opts.clone()
    };
    let mut built = build(loaded, indices, sel, &opts)?;
    built.box_size = size.relative.map(|_| size);
    Ok((opts, built))
}

/// The box `radius` means on the points `indices` of `loaded`.
pub fn size_box(
    loaded: &Loaded,
    indices: &[usize],
    opts: &Options,
    radius: Radius,
    bias_radius: Option<f64>,
) -> BoxSize {
    let s = scales(loaded, indices);
    match radius {
        Radius::Relative(f) => radius::relative(f, s, bias_radius, loaded.layer.has_bias_vars()),
        Radius::Absolute(r) => BoxSize {
            relative: None,
            radius: r,
            bias_radius: bias_radius.unwrap_or(r),
            scales: s,
        },
        Radius::Auto => BoxSize {
            relative: None,
            radius: opts.radius,
            bias_radius: opts.bias_radius,
            scales: s,
        },
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Median ‖h_t‖₁ and median |margin| (classification: a_ℓ − max_{j≠ℓ}
/// a_j) or |residual| (regression) over the points `indices`.
pub fn scales(loaded: &Loaded, indices: &[usize]) -> Scales {
    let h = &loaded.features.h;
    let l1 = median(
        indices
            .iter()
            .map(|&t| h.row(t).iter().map(|x| x.abs()).sum::<f64>())
            .collect(),
    );
    let a = &loaded.features.a;
    let scale = match &loaded.data.y {
        Labels::Classes(c) => median(
            indices
                .iter()
                .map(|&t| {
                    let row = a.row(t);
                    let other = (0..row.len())
                        .filter(|&j| j != c[t])
                        .map(|j| row[j])
                        .fold(f64::NEG_INFINITY, f64::max);
                    (row[c[t]] - other).abs()
                })
                .collect(),
        ),
        Labels::Targets(y) => median(
            indices
                .iter()
                .flat_map(|&t| (0..y.ncols()).map(move |j| (t, j)))
                .map(|(t, j)| (loaded.features.out[[t, j]] - y[[t, j]]).abs())
                .collect(),
        ),
    };
    Scales { l1, scale }
}

/// The most an activation may move inside the box, r·Σ|h| + r_b: the
/// big-M coefficients are about twice it, and solvers stop computing
/// before that (HiGHS refuses matrix values from 1e15 and reads bounds
/// from 1e20 as infinite).
const MAX_REACH: f64 = 1e12;

/// Refuses a box so large that the file's numbers would leave what
/// solvers compute with.
fn check_reach(h: ndarray::ArrayView2<'_, f64>, opts: &Options) -> Result<()> {
    let widest = h
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|v| v.abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let reach = opts.radius * widest + opts.bias_radius;
    if reach < MAX_REACH && opts.radius.max(opts.bias_radius) < MAX_REACH {
        return Ok(());
    }
    let fmt = crate::num::fmt;
    Err(Error::usage(format!(
        "the box (radius {}, bias radius {}) lets an activation move by up to {} (r·Σ|h| + r_b); solvers cannot work with numbers that large: keep the reach below {MAX_REACH:e}",
        fmt(opts.radius),
        fmt(opts.bias_radius),
        fmt(reach),
    )))
}

/// The error when `sel` chose no points of `loaded`'s data.
pub fn no_points(loaded: &Loaded, sel: &SelectSpec) -> Error {
    Error::invalid(
        &loaded.data.path,
        match sel.select {
            Select::Misclassified => {
                "--select misclassified chose no points: the model gets every point right".into()
            }
            other => format!("--select {other:?} chose no points").to_lowercase(),
        },
    )
}

/// Builds the formulation on the points `indices` in the box `opts` holds
/// (chosen by `sel`, which only words the error when there are none).
pub fn build(
    loaded: &Loaded,
    indices: Vec<usize>,
    sel: &SelectSpec,
    opts: &Options,
) -> Result<Built> {
    if indices.is_empty() {
        return Err(no_points(loaded, sel));
    }
    // All the points in order (the default) share the loaded features.
    let every = indices.len() == loaded.features.h.nrows()
        && indices.iter().enumerate().all(|(k, &t)| k == t);
    let features = if every {
        loaded.features.h.clone()
    } else {
        loaded
            .features
            .h
            .select(ndarray::Axis(0), &indices)
            .into_shared()
    };
    check_reach(features.view(), opts)?;
    let labels = loaded.data.y.subset(&indices);
    let layer_data = loaded.layer_data();
    let (classes, targets) = match &labels {
        Labels::Classes(c) => (Some(c.as_slice()), None),
        Labels::Targets(t) => (None, Some(t)),
    };
    let input = Input {
        layer: &layer_data,
        features,
        points: indices.clone(),
        relu: loaded.layer.activation == Activation::Relu,
        classes,
        targets,
    };
    let problem =
        formulation::build(input, opts).map_err(|m| Error::invalid(&loaded.data.path, m))?;
    let start = problem.start();
    let incumbent = problem.objective_at(&start);
    // The current weights must be feasible and score what the model scores:
    // the rows from the products h·Wᵀ the start's weights give (one product
    // on every core), and the loss, independently of the formulation's
    // code, in f64 from the same products (features::compute checked
    // h·Wᵀ + b against ONNX Runtime's output).
    let wh = crate::num::product::times_t(problem.features(), loaded.layer.w.view());
    let violation = problem.max_violation_given(&start, wh.view());
    let a_sel = wh + &loaded.layer.b;
    let recomputed = metrics::formulation_loss(
        a_sel.view(),
        loaded.layer.activation == Activation::Relu,
        opts,
        metrics::MarginCheck::Exact,
        &labels,
    );
    let total = incumbent + problem.objective_offset();
    let scale = 1.0 + total.abs();
    if violation > 1e-6 * scale || (recomputed - total).abs() > 1e-4 * scale {
        return Err(Error::invalid(
            &loaded.model.path,
            format!(
                "internal check failed: at the current weights the formulation has violation {violation:e} and loss {total} where the model gives {recomputed}; please report this with the model"
            ),
        ));
    }
    Ok(Built {
        problem,
        indices,
        incumbent,
        protect: None,
        box_size: None,
    })
}

/// Builds the manifest for `built`.
pub fn manifest(
    loaded: &Loaded,
    sel: &SelectSpec,
    opts: &Options,
    built: &Built,
    milp: &Path,
    start: &Path,
) -> Manifest {
    let p = &built.problem;
    Manifest {
        tool: format!("gdmilp {}", env!("CARGO_PKG_VERSION")),
        format_version: manifest::FORMAT_VERSION,
        token: String::new(),
        model: ModelRef {
            path: loaded.model.path.clone(),
            sha256: loaded.model.sha256.clone(),
        },
        layer: layer_ref(&loaded.layer),
        data: DataRef {
            path: loaded.data.path.clone(),
            x_key: loaded.data.x_key.clone(),
            y_key: loaded.data.y_key.clone(),
            mask_key: loaded.data.mask_key.clone(),
            points: loaded.data.y.len(),
            sha256: loaded.data.sha256.clone(),
        },
        task: opts.task,
        options: opts.clone(),
        box_size: built.box_size,
        selection: Selection {
            select: sel.select,
            points: sel.points,
            seed: sel.seed,
            indices: built.indices.clone(),
            positions: loaded.data.x.positions_of(&built.indices),
        },
        incumbent_objective: built.incumbent,
        objective_offset: p.objective_offset(),
        mse_bound: p.mse_bound(),
        presolve: p.presolve().clone(),
        counts: Counts {
            columns: p.num_columns(),
            binaries: p.binaries(),
            rows: p.num_rows(),
            nonzeros: p.nonzeros(),
            hessian: p.quadratic_len(),
        },
        columns: p
            .stored_columns()
            .iter()
            .map(|c| c.var.to_string())
            .collect(),
        segments: p
            .segment_runs()
            .map(|(first, t, j, count)| manifest::SegmentRun { first, t, j, count })
            .collect(),
        files: manifest::Files {
            milp: milp.to_path_buf(),
            start: start.to_path_buf(),
        },
        naming: names::scheme()
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        protect: built.protect.clone(),
    }
}

/// Sizes of the files written by [`Outputs::write`].
pub struct Written {
    /// MILP bytes (uncompressed).
    pub milp_bytes: u64,
    /// Manifest path.
    pub manifest: PathBuf,
    /// Start path.
    pub start: PathBuf,
    /// CBC's start path (`<model file>.cbc.mst`).
    pub cbc_start: PathBuf,
}

/// The files of one export (MILP, MIP start, manifest), checked and locked
/// before the slow work; they appear together or not at all.
pub struct Outputs {
    milp: PathBuf,
    sidecars: formats::Sidecars,
    _lock: crate::formats::atomic::Lock,
}

impl Outputs {
    /// Takes the lock on `milp` and checks it and its sidecars (see
    /// [`crate::formats::atomic::check_outputs`]) against the files read, `inputs`.
    pub fn check(milp: &Path, inputs: &[&Path]) -> Result<Outputs> {
        formats::FileKind::from_path(milp)?;
        let lock = crate::formats::atomic::Lock::take(milp)?;
        let sidecars = formats::sidecars(milp);
        let outs = [
            milp,
            sidecars.manifest.as_path(),
            sidecars.start.as_path(),
            sidecars.cbc_start.as_path(),
        ];
        crate::formats::atomic::check_outputs(&outs, inputs)?;
        Ok(Outputs {
            milp: milp.to_path_buf(),
            sidecars,
            _lock: lock,
        })
    }

    /// Checks again against every file `loaded` was read from (the model's
    /// external data files are known once the model is read).
    pub fn check_inputs(&self, loaded: &Loaded) -> Result<()> {
        let inputs = input_files(loaded);
        let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        let s = &self.sidecars;
        let outs = [self.milp.as_path(), &s.manifest, &s.start, &s.cbc_start];
        crate::formats::atomic::check_outputs(&outs, &inputs)
    }

    /// Writes the MILP (tagged with the manifest's token), the MIP start
    /// and the manifest to temporary files, then renames all three into
    /// place; on any failure none appears and the previous files stay.
    pub fn write(
        self,
        loaded: &Loaded,
        sel: &SelectSpec,
        opts: &Options,
        built: &Built,
    ) -> Result<Written> {
        let mut m = manifest(loaded, sel, opts, built, &self.milp, &self.sidecars.start);
        m.token = m.content_token();
        let mut start_text = Vec::new();
        formats::mip_start::write(&built.problem, &mut start_text).expect("writing to memory");
        let mut cbc_text = Vec::new();
        formats::mip_start::write_cbc(&built.problem, &mut cbc_text).expect("writing to memory");
        crate::progress::begin(format_args!(
            "writing {} ({} non-zeros)…",
            self.milp.display(),
            built.problem.nonzeros()
        ));
        let tag = formats::tag::name(&m.token);
        let (milp_bytes, milp) = formats::write_problem_named(&built.problem, &self.milp, &tag)?;
        let start = crate::formats::atomic::finished(&self.sidecars.start, &start_text)?;
        let cbc = crate::formats::atomic::finished(&self.sidecars.cbc_start, &cbc_text)?;
        let manifest =
            crate::formats::atomic::finished(&self.sidecars.manifest, m.to_json().as_bytes())?;
        crate::formats::atomic::commit_all(vec![milp, start, cbc, manifest])?;
        Ok(Written {
            milp_bytes,
            manifest: self.sidecars.manifest.clone(),
            start: self.sidecars.start.clone(),
            cbc_start: self.sidecars.cbc_start.clone(),
        })
    }
}

/// Every file `loaded` was read from: the model, its external data files
/// and the data.
pub fn input_files(loaded: &Loaded) -> Vec<PathBuf> {
    let model = &loaded.model;
    let mut files = vec![model.path.clone(), loaded.data.path.clone()];
    for t in &model.graph.initializers {
        if let crate::onnx::model::Storage::External { location, .. } = &t.storage {
            if let Ok(p) = model.external_path(location) {
                if !files.contains(&p) {
                    files.push(p);
                }
            }
        }
    }
    files
}

/// Checks the outputs, then writes MILP, MIP start and manifest together
/// (see [`Outputs`]).
pub fn write_files(
    loaded: &Loaded,
    sel: &SelectSpec,
    opts: &Options,
    built: &Built,
    milp: &Path,
) -> Result<Written> {
    let inputs = input_files(loaded);
    let inputs: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
    Outputs::check(milp, &inputs)?.write(loaded, sel, opts, built)
}

/// The manifest's description of a located layer.
fn layer_ref(l: &FinalLayer) -> LayerRef {
    LayerRef {
        op: l.op_summary(),
        weight: l.weight.name.clone(),
        bias: l.bias.as_ref().map(|b| b.name.clone()),
        bias_kind: serde_json::to_value(l.bias_kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        n_in: l.n_in,
        n_out: l.n_out,
        activation: l.activation.name().to_string(),
        input: l.input.clone(),
        model_output: l.model_output.clone(),
    }
}

//! ONNX Runtime: finding the shared library and running a model in batches.
//!
//! The library is loaded at run time (`ort`'s `load-dynamic`), searched in
//! this order: `--ort-lib`, `ORT_DYLIB_PATH`, the Python environment the
//! executable is installed in (the wheel's), the project's own set-up
//! location (a `.venv` beside the executable's or the working directory's
//! ancestors, as `scripts/setup` makes it), then an `onnxruntime` Python
//! package importable by `python3`. This module knows nothing about layers
//! or formulations: it feeds arrays in and returns named outputs.

use crate::data::Array;
use crate::error::{Error, Result};
use crate::onnx::dtype;
use crate::onnx::model::{Dim, ValueInfo};
use ndarray::{s, ArcArray2, Array2, ArrayD, Axis, IxDyn};
use ort::session::Session;
use ort::value::{DynValue, Tensor};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static ENV: OnceLock<std::result::Result<ort::environment::Environment, String>> = OnceLock::new();
static LIB_PATH: OnceLock<Option<PathBuf>> = OnceLock::new();

const INSTALL_HINT: &str = "install it with `pip install onnxruntime==1.31.1` (or run scripts/setup), or point --ort-lib / ORT_DYLIB_PATH at libonnxruntime.so";

/// Sets the library path given on the command line (call before first use).
pub fn set_library(path: Option<PathBuf>) {
    let _ = LIB_PATH.set(path);
}

fn lib_in_site_packages(site: &Path) -> Option<PathBuf> {
    let capi = site.join("onnxruntime").join("capi");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&capi)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("libonnxruntime.so")
                    || n.starts_with("libonnxruntime.") && n.ends_with(".dylib")
                    || n == "onnxruntime.dll"
            })
        })
        .collect();
    // Prefer the fully versioned name (libonnxruntime.so.1.31.1).
    found.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    found.into_iter().next()
}

fn lib_in_venv(venv: &Path) -> Option<PathBuf> {
    let lib = venv.join("lib");
    for e in std::fs::read_dir(&lib).ok()?.flatten() {
        if e.file_name().to_string_lossy().starts_with("python") {
            if let Some(p) = lib_in_site_packages(&e.path().join("site-packages")) {
                return Some(p);
            }
        }
    }
    None
}

fn from_python() -> Option<PathBuf> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import onnxruntime, os; print(os.path.dirname(os.path.dirname(onnxruntime.__file__)))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let site = String::from_utf8(out.stdout).ok()?;
    lib_in_site_packages(Path::new(site.trim()))
}

/// Finds libonnxruntime, in the documented order.
pub fn find_library() -> Result<PathBuf> {
    if let Some(Some(p)) = LIB_PATH.get() {
        return if p.is_file() {
            Ok(p.clone())
        } else {
            Err(Error::Runtime(format!(
                "{}: --ort-lib names no file; {INSTALL_HINT}",
                p.display()
            )))
        };
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::Runtime(format!(
                "{}: ORT_DYLIB_PATH names no file; {INSTALL_HINT}",
                p.display()
            )))
        };
    }
    let mut roots = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // The Python environment the executable was installed into (a
        // wheel puts it in PREFIX/bin beside PREFIX/lib/pythonX.Y/
        // site-packages; a symbolic link to it, as pipx makes, resolves).
        let exe = exe.canonicalize().unwrap_or(exe);
        if let Some(p) = exe.parent().and_then(Path::parent).and_then(lib_in_venv) {
            return Ok(p);
        }
        roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    for root in roots {
        if let Some(p) = lib_in_venv(&root.join(".venv")) {
            return Ok(p);
        }
    }
    from_python()
        .ok_or_else(|| Error::Runtime(format!("ONNX Runtime was not found; {INSTALL_HINT}")))
}

/// The process-wide ONNX Runtime environment.
pub fn environment() -> Result<&'static ort::environment::Environment> {
    let env = ENV.get_or_init(|| {
        let lib = find_library().map_err(|e| e.to_string())?;
        let builder = ort::init_from(&lib).map_err(|e| {
            format!(
                "{}: cannot load ONNX Runtime ({e}); gdmilp needs onnxruntime 1.31 or newer: {INSTALL_HINT}",
                lib.display()
            )
        })?;
        builder
            .with_name("gdmilp")
            .build()
            .map_err(|e| format!("{}: cannot start ONNX Runtime: {e}", lib.display()))
    });
    env.as_ref().map_err(|e| Error::Runtime(e.clone()))
}

/// A model input and the array fed to it (rows along axis 0).
pub struct Feed<'a> {
    /// The input as the model declares it.
    pub input: ValueInfo,
    /// Its values.
    pub array: &'a Array,
}

/// Runs `model_bytes` on `feeds` (rows along axis 0, the same number in
/// each) in batches and returns the named outputs, each flattened to
/// (points × values per point), where a row holds `per_row` points (the
/// positions of a sequence; 1 otherwise). `outputs` pairs each graph
/// output with the tensor it shows, the name messages use.
///
/// Over sequences no batch holds as many sequences as positions, so a
/// [`Fetch::whole`] tensor's [batch, seq, …] axes are never ambiguous.
pub fn run(
    model_path: &Path,
    model_bytes: &[u8],
    feeds: &[Feed<'_>],
    outputs: &[Fetch],
    batch_size: usize,
    per_row: usize,
) -> Result<Vec<ArcArray2<f64>>> {
    let mut session = session(model_path, model_bytes)?;
    let rows = feeds.first().map_or(0, |f| f.array.shape()[0]);
    let job = Job {
        model_path,
        feeds,
        outputs,
        per_row,
        fixed: feeds.iter().find_map(|f| fixed_batch(&f.input)),
    };
    if per_row > 1 && job.fixed == Some(per_row) {
        return Err(Error::invalid(
            model_path,
            format!("the model's fixed batch of {per_row} sequences equals the {per_row} positions per sequence, so gdmilp cannot tell which axis of its output is the sequence; give the data more or fewer positions"),
        ));
    }
    let mut parts: Vec<Gathered> = outputs
        .iter()
        .map(|o| Gathered {
            known: o.known.clone(),
            ..Gathered::default()
        })
        .collect();
    let ranges = batches(rows, job.fixed.unwrap_or(batch_size.max(1)), per_row);
    let mut ticker = crate::progress::Ticker::new("onnxruntime", Some(rows as u64));
    for range in ranges {
        let (end, fed) = (range.end, range.len());
        let got = job.batch(&mut session, range)?;
        ticker.tick(end as u64, || format!("rows of {}", model_path.display()));
        for (part, g) in parts.iter_mut().zip(got) {
            part.push(model_path, &g, fed, rows)?;
        }
    }
    Ok(parts.into_iter().map(Gathered::finish).collect())
}

/// One output's rows as the batches arrive, in one buffer sized from the
/// first batch (collecting the batches and concatenating them at the end
/// held every output twice: 1.6 GB of features at 50,000 × 2,048).
#[derive(Default)]
struct Gathered {
    width: Option<usize>,
    rows: usize,
    data: Vec<f64>,
    /// [`Fetch::known`], while every batch so far has repeated it.
    known: Option<ArcArray2<f64>>,
}

impl Gathered {
    /// Appends batch `g`, which came from `fed` of the `total` rows fed.
    fn push(&mut self, model_path: &Path, g: &Array2<f64>, fed: usize, total: usize) -> Result<()> {
        if let Some(k) = &self.known {
            let to = self.rows + g.nrows();
            if to <= k.nrows() && g.ncols() == k.ncols() && k.slice(s![self.rows..to, ..]) == g {
                self.width = Some(g.ncols());
                self.rows = to;
                return Ok(());
            }
            // It differs: store from here on, the rows so far being the
            // known ones.
            let k = self.known.take().expect("checked above");
            let width = self.width.take().unwrap_or(k.ncols());
            if width != g.ncols() {
                return Err(widths_differ(model_path, width, g.ncols()));
            }
            self.data.reserve_exact(total.max(self.rows + fed) * width);
            self.data.extend(k.slice(s![..self.rows, ..]).iter());
            self.width = Some(width);
        }
        match self.width {
            None => {
                self.width = Some(g.ncols());
                let per_fed = g.nrows().div_ceil(fed.max(1));
                self.data.reserve_exact(per_fed * total * g.ncols());
            }
            Some(w) if w != g.ncols() => {
                return Err(widths_differ(model_path, w, g.ncols()));
            }
            Some(_) => {}
        }
        self.data.extend(g.iter());
        self.rows += g.nrows();
        Ok(())
    }

    fn finish(self) -> ArcArray2<f64> {
        match self.known {
            Some(k) if self.rows == k.nrows() => k,
            Some(k) => k.slice(s![..self.rows, ..]).to_owned().into_shared(),
            None => {
                let width = self.width.unwrap_or(0);
                Array2::from_shape_vec((self.rows, width), self.data)
                    .expect("rows of the same width")
                    .into_shared()
            }
        }
    }
}

fn widths_differ(model_path: &Path, before: usize, now: usize) -> Error {
    Error::invalid(
        model_path,
        format!("outputs of different widths across batches: {before} values a row, then {now}"),
    )
}

/// A tensor [`run`] returns.
#[derive(Debug, Clone)]
pub struct Fetch {
    /// The graph output that holds it.
    pub name: String,
    /// The tensor it shows, the name messages use.
    pub shown: String,
    /// Over sequences, it must be [batch, seq, …] (not flattened): its
    /// axes then say which value belongs to which (sequence, position).
    pub whole: bool,
    /// The values it is expected to repeat, row for row (the features
    /// before a layer that was patched after them): while it does, the
    /// batches are compared and not stored, and the run returns this
    /// array itself.
    pub known: Option<ArcArray2<f64>>,
}

/// Consecutive row ranges of at most `batch` rows; over sequences
/// (`per_row` > 1) none has exactly `per_row` rows.
fn batches(rows: usize, batch: usize, per_row: usize) -> Vec<Range<usize>> {
    let batch = if per_row > 1 && batch == per_row {
        batch - 1
    } else {
        batch
    };
    let mut out: Vec<Range<usize>> = (0..rows)
        .step_by(batch)
        .map(|s| s..(s + batch).min(rows))
        .collect();
    if let Some(last) = out.pop() {
        if per_row > 1 && last.len() == per_row {
            out.push(last.start..last.end - 1);
            out.push(last.end - 1..last.end);
        } else {
            out.push(last);
        }
    }
    out
}

/// What every batch of one [`run`] shares.
struct Job<'a> {
    model_path: &'a Path,
    feeds: &'a [Feed<'a>],
    outputs: &'a [Fetch],
    per_row: usize,
    /// The batch size a fixed batch dimension imposes.
    fixed: Option<usize>,
}

impl Job<'_> {
    /// Runs rows `range` (padded to a fixed batch) and returns each output,
    /// one row per point of those rows.
    fn batch(&self, session: &mut Session, range: Range<usize>) -> Result<Vec<Array2<f64>>> {
        let n = range.len();
        let padded = self.fixed.map_or(n, |b| b.max(n));
        // The input buffers must outlive the outputs: when an output is a
        // graph input itself (a layer reading the model's input directly),
        // ONNX Runtime returns that very buffer, not a copy.
        let values = self
            .feeds
            .iter()
            .map(|f| tensor(self.model_path, f, range.clone(), padded))
            .collect::<Result<Vec<_>>>()?;
        let named: Vec<(&str, &DynValue)> = self
            .feeds
            .iter()
            .map(|f| f.input.name.as_str())
            .zip(&values)
            .collect();
        let out = session
            .run(named)
            .map_err(|e| ort_error(self.model_path, e))?;
        let kept = (0..n * self.per_row).into();
        self.outputs
            .iter()
            .map(|f| {
                let shown = f.shown.as_str();
                let v = out.get(f.name.as_str()).ok_or_else(|| {
                    let msg = format!("ONNX Runtime returned no output '{shown}'");
                    Error::invalid(self.model_path, msg)
                })?;
                let arr = extract(self.model_path, v, shown)?;
                let shape = (padded, self.per_row);
                let flat = per_point(self.model_path, arr, shape, f.whole, shown)?;
                Ok(flat.slice_axis(Axis(0), kept).to_owned())
            })
            .collect()
    }
}

/// ONNX Runtime's message as one line naming the model (its messages may
/// end in, or hold, line breaks).
fn ort_error(model_path: &Path, e: impl std::fmt::Display) -> Error {
    let msg = e.to_string();
    let one: Vec<&str> = msg.split_whitespace().collect();
    Error::invalid(model_path, format!("ONNX Runtime: {}", one.join(" ")))
}

/// A session on `model_bytes`, two threads. ONNX Runtime's own log is
/// off (below fatal): its errors reach the user once, as gdmilp's line
/// naming the model, not also as ONNX Runtime's coloured log line. Asked
/// for with `GDMILP_ORT_LOG=verbose|info|warning|error`, it comes back.
fn session(model_path: &Path, model_bytes: &[u8]) -> Result<Session> {
    let rt = |e: ort::Error| ort_error(model_path, e);
    let mut builder = Session::builder(environment()?)
        .map_err(rt)?
        .with_log_level(log_level(std::env::var("GDMILP_ORT_LOG").ok().as_deref()))
        .map_err(|e| ort_error(model_path, e))?
        .with_intra_threads(2)
        .map_err(|e| ort_error(model_path, e))?;
    builder.commit_from_memory(model_bytes).map_err(rt)
}

/// ONNX Runtime's log level for `GDMILP_ORT_LOG` (unset or unknown: fatal
/// only).
fn log_level(asked: Option<&str>) -> ort::logging::LogLevel {
    use ort::logging::LogLevel;
    match asked.map(str::to_ascii_lowercase).as_deref() {
        Some("verbose") => LogLevel::Verbose,
        Some("info") => LogLevel::Info,
        Some("warning") => LogLevel::Warning,
        Some("error") => LogLevel::Error,
        _ => LogLevel::Fatal,
    }
}

/// The input's batch size when its first dimension is fixed.
fn fixed_batch(input: &ValueInfo) -> Option<usize> {
    match input.shape.as_ref()?.first() {
        Some(Dim::Fixed(b)) if *b > 0 => Some(*b as usize),
        _ => None,
    }
}

/// Rows `range` of the feed, padded with zeros to `padded` rows (a fixed
/// batch dimension), in the input's element type.
fn tensor(
    model_path: &Path,
    feed: &Feed<'_>,
    range: Range<usize>,
    padded: usize,
) -> Result<DynValue> {
    fn rows<T: Clone + Default>(
        a: &ndarray::ArcArray<T, IxDyn>,
        range: Range<usize>,
        padded: usize,
    ) -> ArrayD<T> {
        let chunk = a.slice_axis(Axis(0), range.into()).to_owned();
        if chunk.shape()[0] == padded {
            return chunk;
        }
        let mut dims = chunk.shape().to_vec();
        dims[0] = padded - dims[0];
        let pad = ArrayD::<T>::from_elem(IxDyn(&dims), T::default());
        ndarray::concatenate(Axis(0), &[chunk.view(), pad.view()]).expect("same trailing shape")
    }
    let rt = |e: ort::Error| ort_error(model_path, e);
    let value = match (feed.array, feed.input.elem_type) {
        (Array::Float(a), Some(dtype::DOUBLE)) => Tensor::from_array(rows(a, range, padded))
            .map_err(rt)?
            .into_dyn(),
        (Array::Float(a), _) => Tensor::from_array(rows(a, range, padded).mapv(|v| v as f32))
            .map_err(rt)?
            .into_dyn(),
        (Array::Int(a), Some(dtype::INT32)) => {
            Tensor::from_array(rows(a, range, padded).mapv(|v| v as i32))
                .map_err(rt)?
                .into_dyn()
        }
        (Array::Int(a), _) => Tensor::from_array(rows(a, range, padded))
            .map_err(rt)?
            .into_dyn(),
    };
    Ok(value)
}

/// An output's values as f64.
fn extract(model_path: &Path, v: &DynValue, shown: &str) -> Result<ArrayD<f64>> {
    if let Ok(a) = v.try_extract_array::<f32>() {
        Ok(a.mapv(|x| x as f64))
    } else if let Ok(a) = v.try_extract_array::<f64>() {
        Ok(a.to_owned())
    } else if let Ok(a) = v.try_extract_array::<i64>() {
        Ok(a.mapv(|x| x as f64))
    } else {
        Err(Error::invalid(
            model_path,
            format!("tensor '{shown}' is not a float or integer tensor"),
        ))
    }
}

/// One row per point: a tensor of a batch of `rows` rows of `per_row`
/// points each is [rows·per_row, …], or [rows, per_row, …] (a sequence;
/// only this form when `whole`).
fn per_point(
    model_path: &Path,
    arr: ArrayD<f64>,
    (rows, per_row): (usize, usize),
    whole: bool,
    shown: &str,
) -> Result<Array2<f64>> {
    let points = rows * per_row;
    let shape = arr.shape().to_vec();
    let seq = per_row > 1 && shape.len() >= 2 && shape[..2] == [rows, per_row];
    let fits = seq || shape.first() == Some(&points) && !(whole && per_row > 1);
    if !fits {
        let expected = if whole && per_row > 1 {
            format!("[{rows}, {per_row}, …] for a batch of {rows} sequences of {per_row} positions, batch first")
        } else if per_row > 1 {
            format!("[{rows}, {per_row}, …] or [{points}, …] for a batch of {rows} sequences of {per_row} positions")
        } else {
            format!("one row per point along its first axis for a batch of {rows} points")
        };
        return Err(Error::invalid(
            model_path,
            format!(
                "tensor '{shown}' has shape {shape:?}; gdmilp expects {expected} (do the ops after the layer mix points? --output can name the layer's scores)"
            ),
        ));
    }
    let per = arr.len() / points.max(1);
    arr.into_shape_with_order((points, per))
        .map_err(|e| Error::invalid(model_path, format!("tensor '{shown}': {e}")))
}

/// Checks that array `key` of the data fits the model input's declared
/// shape and type.
pub fn check_input(model_path: &Path, data_path: &Path, key: &str, feed: &Feed<'_>) -> Result<()> {
    let input = &feed.input;
    let x_shape = feed.array.shape();
    check_type(model_path, data_path, key, feed)?;
    let Some(shape) = &input.shape else {
        return Ok(());
    };
    let declared: Vec<String> = shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Param(p) => p.clone(),
            Dim::Unknown => "?".into(),
        })
        .collect();
    let fits = shape.len() == x_shape.len()
        && shape.iter().zip(x_shape).skip(1).all(|(d, &n)| match d {
            Dim::Fixed(k) => *k as usize == n,
            _ => true,
        });
    if !fits {
        return Err(Error::invalid(
            data_path,
            format!(
                "'{key}' has shape {:?} but model {} expects input '{}' of shape [{}]",
                x_shape,
                model_path.display(),
                input.name,
                declared.join(", ")
            ),
        ));
    }
    Ok(())
}

/// Float arrays feed float inputs, integer arrays integer inputs.
fn check_type(model_path: &Path, data_path: &Path, key: &str, feed: &Feed<'_>) -> Result<()> {
    let Some(t) = feed.input.elem_type else {
        return Ok(());
    };
    let name = &feed.input.name;
    let int_input = matches!(t, dtype::INT64 | dtype::INT32);
    if !dtype::is_float(t) && !int_input {
        return Err(Error::invalid(
            model_path,
            format!(
                "input '{name}' is {}; gdmilp feeds float32, float64, float16, bfloat16, int64 or int32 inputs",
                dtype::name(t)
            ),
        ));
    }
    match (feed.array, int_input) {
        (Array::Int(_), false) => Err(Error::invalid(
            data_path,
            format!(
                "inputs '{key}' are integers but model input '{name}' is {}; save them as float32 or float64",
                dtype::name(t)
            ),
        )),
        (Array::Float(_), true) => Err(Error::invalid(
            data_path,
            format!(
                "inputs '{key}' are floats but model input '{name}' is {} (token ids?); save them as integers",
                dtype::name(t)
            ),
        )),
        (Array::Int(a), true) if t == dtype::INT32 && a.iter().any(|v| i32::try_from(*v).is_err()) => {
            Err(Error::invalid(
                data_path,
                format!("inputs '{key}' hold values outside int32, the type of model input '{name}'"),
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_that_repeat_the_known_array_return_it_and_one_that_differs_is_kept() {
        let p = Path::new("m.onnx");
        let known = Array2::from_shape_fn((3, 2), |(i, j)| (i * 2 + j) as f64).into_shared();
        let batch = |rows: std::ops::Range<usize>| known.slice(s![rows, ..]).to_owned();
        // Every batch the same: the known array itself, not a copy.
        let mut g = Gathered {
            known: Some(known.clone()),
            ..Gathered::default()
        };
        g.push(p, &batch(0..2), 2, 3).unwrap();
        g.push(p, &batch(2..3), 1, 3).unwrap();
        let all = g.finish();
        assert_eq!(all, known);
        assert_eq!(all.as_ptr(), known.as_ptr(), "shared");
        // The second batch differs: the first batch's rows come from the
        // known array, the second's as computed.
        let mut g = Gathered {
            known: Some(known.clone()),
            ..Gathered::default()
        };
        g.push(p, &batch(0..2), 2, 3).unwrap();
        g.push(p, &Array2::from_elem((1, 2), 9.0), 1, 3).unwrap();
        let all = g.finish();
        assert_eq!(all.slice(s![..2, ..]), known.slice(s![..2, ..]));
        assert_eq!(all.row(2).to_vec(), vec![9.0, 9.0]);
        assert_ne!(all.as_ptr(), known.as_ptr());
    }

    #[test]
    fn batches_gather_in_order_and_a_change_of_width_names_the_model() {
        let p = Path::new("m.onnx");
        let mut g = Gathered::default();
        let first = Array2::from_shape_fn((2, 3), |(i, j)| (i * 3 + j) as f64);
        let second = Array2::from_shape_fn((1, 3), |(_, j)| 10.0 + j as f64);
        g.push(p, &first, 2, 3).unwrap();
        g.push(p, &second, 1, 3).unwrap();
        let all = g.finish();
        assert_eq!(all.dim(), (3, 3));
        assert_eq!(all.row(2).to_vec(), vec![10.0, 11.0, 12.0]);
        assert_eq!(all.row(1).to_vec(), vec![3.0, 4.0, 5.0]);
        let mut g = Gathered::default();
        g.push(p, &first, 2, 3).unwrap();
        let e = g
            .push(p, &Array2::zeros((1, 4)), 1, 3)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("m.onnx") && e.contains("3 values a row, then 4"),
            "{e}"
        );
        assert_eq!(Gathered::default().finish().dim(), (0, 0));
    }

    #[test]
    fn a_sequence_tensor_gives_one_row_per_position() {
        let p = Path::new("m.onnx");
        let seq = ArrayD::from_shape_vec(IxDyn(&[2, 3, 4]), (0..24).map(f64::from).collect());
        let flat = per_point(p, seq.unwrap(), (2, 3), true, "a").unwrap();
        assert_eq!(flat.dim(), (6, 4));
        assert_eq!(flat.row(4).to_vec(), vec![16.0, 17.0, 18.0, 19.0]);
        // Gemm after a Reshape: [batch·seq, M] is already one row a point.
        let gemm = ArrayD::<f64>::zeros(IxDyn(&[6, 4]));
        assert_eq!(
            per_point(p, gemm.clone(), (2, 3), false, "a")
                .unwrap()
                .dim(),
            (6, 4)
        );
        // ... but a tensor that must show the sequence axes cannot be flat.
        let e = per_point(p, gemm, (2, 3), true, "a")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[2, 3, …] for a batch"), "{e}");
        // Positions along the first axis (a Transpose) do not fit.
        let moved = ArrayD::<f64>::zeros(IxDyn(&[3, 2, 4]));
        let e = per_point(p, moved, (2, 3), false, "a")
            .unwrap_err()
            .to_string();
        assert!(e.contains("[2, 3, …] or [6, …]"), "{e}");
        let points = ArrayD::<f64>::zeros(IxDyn(&[5, 4]));
        assert_eq!(
            per_point(p, points, (5, 1), true, "a").unwrap().dim(),
            (5, 4)
        );
    }

    #[test]
    fn no_batch_of_sequences_has_as_many_sequences_as_positions() {
        let lens = |r: usize, b: usize, s: usize| -> Vec<usize> {
            batches(r, b, s).iter().map(|r| r.len()).collect()
        };
        assert_eq!(lens(28, 7, 7), vec![6, 6, 6, 6, 4]);
        assert_eq!(lens(20, 13, 7), vec![13, 6, 1]);
        assert_eq!(lens(7, 64, 7), vec![6, 1]);
        assert_eq!(lens(16, 7, 9), vec![7, 7, 2]);
        // Flat points: batches as asked.
        assert_eq!(lens(7, 7, 1), vec![7]);
        assert!(batches(0, 5, 3).is_empty());
    }
}

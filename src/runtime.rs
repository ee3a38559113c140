//! ONNX Runtime: finding the shared library and running a model in batches.
//!
//! The library is loaded at run time (`ort`'s `load-dynamic`), searched in
//! this order: `--ort-lib`, `ORT_DYLIB_PATH`, the project's own set-up
//! location (a `.venv` beside the executable's or the working directory's
//! ancestors, as `scripts/setup` makes it), then an `onnxruntime` Python
//! package importable by `python3`. This module knows nothing about layers
//! or formulations: it feeds arrays in and returns named outputs.

use crate::error::{Error, Result};
use crate::onnx::model::{dtype, Dim, ValueInfo};
use ndarray::{Array2, ArrayD, Axis, IxDyn};
use ort::session::Session;
use ort::value::TensorRef;
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

/// Runs `model_bytes` on `x` (points along axis 0) in batches and returns
/// the named outputs, each flattened to (points × values per point).
/// `outputs` pairs each graph output with the tensor it shows, the name
/// messages use.
pub fn run(
    model_path: &Path,
    model_bytes: &[u8],
    input: &ValueInfo,
    x: &ArrayD<f64>,
    outputs: &[(String, String)],
    batch_size: usize,
) -> Result<Vec<Array2<f64>>> {
    let env = environment()?;
    let rt = |e: ort::Error| Error::invalid(model_path, format!("ONNX Runtime: {e}"));
    let builder = Session::builder(env).map_err(rt)?;
    let mut builder = builder
        .with_intra_threads(2)
        .map_err(|e| Error::invalid(model_path, format!("ONNX Runtime: {e}")))?;
    let mut session = builder.commit_from_memory(model_bytes).map_err(rt)?;
    let points = x.shape()[0];
    let shape = input.shape.clone().unwrap_or_default();
    let fixed_batch = match shape.first() {
        Some(Dim::Fixed(b)) if *b > 0 => Some(*b as usize),
        _ => None,
    };
    let batch = fixed_batch.unwrap_or(batch_size.max(1));
    let as_f64 = input.elem_type == Some(dtype::DOUBLE);
    let mut parts: Vec<Vec<Array2<f64>>> = vec![Vec::new(); outputs.len()];
    let mut start = 0;
    while start < points {
        let end = (start + batch).min(points);
        let mut chunk = x.slice_axis(Axis(0), (start..end).into()).to_owned();
        if fixed_batch.is_some() && end - start < batch {
            // A fixed batch dimension: pad the last batch with zeros.
            let mut dims = chunk.shape().to_vec();
            dims[0] = batch - (end - start);
            let pad = ArrayD::<f64>::zeros(IxDyn(&dims));
            chunk = ndarray::concatenate(Axis(0), &[chunk.view(), pad.view()])
                .expect("same trailing shape");
        }
        // The input buffer must outlive the outputs: when an output is the
        // graph input itself (a layer reading the model's input directly),
        // ONNX Runtime returns that very buffer, not a copy.
        let c32 = (!as_f64).then(|| chunk.mapv(|v| v as f32));
        let out = match &c32 {
            None => {
                let t = TensorRef::from_array_view(chunk.view()).map_err(rt)?;
                session
                    .run(ort::inputs![input.name.as_str() => t])
                    .map_err(rt)?
            }
            Some(c) => {
                let t = TensorRef::from_array_view(c.view()).map_err(rt)?;
                session
                    .run(ort::inputs![input.name.as_str() => t])
                    .map_err(rt)?
            }
        };
        for (k, (name, shown)) in outputs.iter().enumerate() {
            let v = out.get(name.as_str()).ok_or_else(|| {
                Error::invalid(
                    model_path,
                    format!("ONNX Runtime returned no output '{shown}'"),
                )
            })?;
            let arr: ArrayD<f64> = if let Ok(a) = v.try_extract_array::<f32>() {
                a.mapv(|x| x as f64)
            } else if let Ok(a) = v.try_extract_array::<f64>() {
                a.to_owned()
            } else if let Ok(a) = v.try_extract_array::<i64>() {
                a.mapv(|x| x as f64)
            } else {
                return Err(Error::invalid(
                    model_path,
                    format!("tensor '{shown}' is not a float or integer tensor"),
                ));
            };
            let rows = arr.shape().first().copied().unwrap_or(1);
            if rows != chunk.shape()[0] {
                return Err(Error::invalid(
                    model_path,
                    format!(
                        "tensor '{shown}' has shape {:?} for a batch of {} points; gdmilp expects one row per point along its first axis (do the ops after the layer mix points? --output can name the layer's scores)",
                        arr.shape(),
                        chunk.shape()[0]
                    ),
                ));
            }
            let per = arr.len() / rows.max(1);
            let flat = arr
                .into_shape_with_order((rows, per))
                .map_err(|e| Error::invalid(model_path, format!("tensor '{shown}': {e}")))?;
            parts[k].push(flat.slice_axis(Axis(0), (0..end - start).into()).to_owned());
        }
        start = end;
    }
    parts
        .into_iter()
        .map(|p| {
            let views: Vec<_> = p.iter().map(|a| a.view()).collect();
            if views.is_empty() {
                return Ok(Array2::zeros((0, 0)));
            }
            ndarray::concatenate(Axis(0), &views).map_err(|e| {
                Error::invalid(
                    model_path,
                    format!("outputs of different widths across batches: {e}"),
                )
            })
        })
        .collect()
}

/// Checks that `x` (points × ...) fits the model input's declared shape.
pub fn check_input(
    model_path: &Path,
    data_path: &Path,
    input: &ValueInfo,
    x_shape: &[usize],
) -> Result<()> {
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
                "the inputs have shape {:?} but model {} expects input '{}' of shape [{}]",
                x_shape,
                model_path.display(),
                input.name,
                declared.join(", ")
            ),
        ));
    }
    if let Some(t) = input.elem_type {
        if !dtype::is_float(t) {
            return Err(Error::invalid(
                model_path,
                format!(
                    "input '{}' is {}; gdmilp feeds float32, float64, float16 or bfloat16 inputs",
                    input.name,
                    dtype::name(t)
                ),
            ));
        }
    }
    Ok(())
}

//! Training data from `.npz` files (plain or compressed): inputs, labels or
//! targets, the task they imply, and the selection of points handed to the
//! solver ([`select`]). A point is a row of the inputs, or, in a data set of sequences
//! (one with a mask array), one unmasked position of a sequence. Knows
//! nothing about ONNX or solvers.

mod select;

pub use select::{select, Select, SplitMix};

use crate::error::{Error, Result};
use ndarray::{ArcArray, Array2, ArrayD, Axis, IxDyn};
use ndarray_npy::{NpzReader, ReadNpzError};
use select::sample;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the final layer is trained for: what its labels imply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Real-valued targets, shape [T] or [T, M].
    Regression,
    /// Integer class labels (or one-hot rows): argmax of the output.
    Classification,
}

/// Labels or targets.
#[derive(Debug, Clone)]
pub enum Labels {
    /// One class index per point.
    Classes(Vec<usize>),
    /// Targets, points × outputs.
    Targets(Array2<f64>),
}

impl Labels {
    /// The task these labels imply.
    pub fn task(&self) -> Task {
        match self {
            Labels::Classes(_) => Task::Classification,
            Labels::Targets(_) => Task::Regression,
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        match self {
            Labels::Classes(c) => c.len(),
            Labels::Targets(t) => t.nrows(),
        }
    }

    /// True when there are no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The labels of points `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Labels {
        match self {
            Labels::Classes(c) => Labels::Classes(idx.iter().map(|&i| c[i]).collect()),
            Labels::Targets(t) => Labels::Targets(t.select(Axis(0), idx)),
        }
    }
}

impl Dataset {
    /// Points `idx` of the data set (same file, keys and hash); in a data
    /// set of sequences, the sequences those points are in.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        Dataset {
            x: self.x.subset(idx),
            y: self.y.subset(idx),
            ..self.clone()
        }
    }

    /// Splits off a seeded random fraction `frac` (0 < frac < 1) of the
    /// points, or in a data set of sequences of the sequences (all their
    /// positions go together): (the rest, the split-off part).
    pub fn split(&self, frac: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        let (n, what) = match &self.x.positions {
            Some(_) => (self.x.x.shape()[0], "sequences"),
            None => (self.y.len(), "points"),
        };
        let k = (frac * n as f64).round() as usize;
        if !(frac > 0.0 && frac < 1.0) || k == 0 || k == n {
            return Err(Error::usage(format!(
                "--val-split {frac} leaves no training or no validation {what} of {n}; use a fraction strictly between 0 and 1"
            )));
        }
        let held = sample(&(0..n).collect::<Vec<_>>(), k, seed ^ 0x5EED_5EED);
        let is_held = |t: usize| held.binary_search(&self.group(t)).is_ok();
        let (held, rest): (Vec<usize>, Vec<usize>) = (0..self.y.len()).partition(|&t| is_held(t));
        Ok((self.subset(&rest), self.subset(&held)))
    }

    /// The group of point `t`: its sequence in a data set of sequences (the
    /// row of the inputs), else the point itself. Points of one group are
    /// not independent: folds, splits and the check keep them together.
    pub fn group(&self, t: usize) -> usize {
        self.x.positions.as_ref().map_or(t, |p| p.at[t].0)
    }

    /// The points of `k` seeded folds of about equal size (in a data set of
    /// sequences, whole sequences go together, counting those with a point),
    /// each ascending; every point is in exactly one.
    pub fn folds(&self, k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
        let group = |t: usize| self.group(t);
        let mut groups: Vec<usize> = (0..self.y.len()).map(group).collect();
        groups.dedup();
        let (n, what) = match &self.x.positions {
            Some(_) => (groups.len(), "sequences with a point"),
            None => (groups.len(), "points"),
        };
        if n < 2 {
            return Err(Error::invalid(
                &self.path,
                format!(
                    "cross-validation (tune checks its default box and --radius auto with it) needs at least 2 {what}, and the data has {n}: give a --radius to sweep unchecked"
                ),
            ));
        }
        if k < 2 || k > n {
            return Err(Error::invalid(
                &self.path,
                format!(
                    "cross-validation (tune checks its default box and --radius auto with it) cannot make {k} folds of {n} {what}: give --folds between 2 and {n}, or a --radius to sweep unchecked"
                ),
            ));
        }
        let mut rng = SplitMix(seed ^ 0xF01D_5EED);
        for i in (1..n).rev() {
            groups.swap(i, rng.below(i + 1));
        }
        let mut fold_of = std::collections::HashMap::with_capacity(n);
        for (i, &g) in groups.iter().enumerate() {
            fold_of.insert(g, i % k);
        }
        let mut folds = vec![Vec::new(); k];
        for t in 0..self.y.len() {
            folds[fold_of[&group(t)]].push(t);
        }
        Ok(folds)
    }
}

/// A loaded data set.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The file.
    pub path: PathBuf,
    /// Key of the inputs.
    pub x_key: String,
    /// Key of the labels.
    pub y_key: String,
    /// Key of the mask of a data set of sequences.
    pub mask_key: Option<String>,
    /// The inputs, and where each point is in them.
    pub x: Inputs,
    /// Labels or targets, one per point.
    pub y: Labels,
    /// SHA-256 of the file.
    pub sha256: String,
}

/// An array of inputs as the file holds it; shared, so that a copy of a
/// data set (`tune` runs the patched model on the same inputs) costs
/// nothing.
#[derive(Debug, Clone)]
pub enum Array {
    /// Float inputs (any float type in the file).
    Float(ArcArray<f64, IxDyn>),
    /// Integer inputs (token ids, an attention mask).
    Int(ArcArray<i64, IxDyn>),
}

impl Array {
    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Array::Float(a) => a.shape(),
            Array::Int(a) => a.shape(),
        }
    }

    /// Rows `rows` of axis 0.
    pub fn select(&self, rows: &[usize]) -> Array {
        match self {
            Array::Float(a) => Array::Float(a.select(Axis(0), rows).into_shared()),
            Array::Int(a) => Array::Int(a.select(Axis(0), rows).into_shared()),
        }
    }
}

/// Where the points of a data set of sequences are.
#[derive(Debug, Clone, PartialEq)]
pub struct Positions {
    /// Positions per sequence (the mask's second axis).
    pub len: usize,
    /// Each point's (row of the inputs, position), in file order.
    pub at: Vec<(usize, usize)>,
}

impl Positions {
    /// Point `t` as messages name it, with its row and position.
    fn name(&self, t: usize) -> String {
        let (row, pos) = self.at[t];
        format!("point {t} (sequence {row}, position {pos})")
    }
}

/// The model's inputs for the points of a data set.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Key of the inputs.
    pub key: String,
    /// The inputs, rows (points or sequences) along axis 0.
    pub x: Array,
    /// The file's rows that `x` holds, in order (all of them unless the
    /// data set is a subset): other arrays fed to the model are read from
    /// the file at these rows.
    pub rows: Vec<usize>,
    /// In a data set of sequences, where each point is; otherwise point t
    /// is row t.
    pub positions: Option<Positions>,
    /// Rows in the file's arrays.
    file_rows: usize,
    /// SHA-256 of the file, checked when more arrays are read from it.
    sha256: String,
}

impl Inputs {
    /// Number of points.
    pub fn points(&self) -> usize {
        match &self.positions {
            Some(p) => p.at.len(),
            None => self.x.shape()[0],
        }
    }

    /// Point `t` as messages name it: `point 7`, or in a data set of
    /// sequences `point 7 (sequence 2, position 5)` (the file's numbering).
    pub fn point_name(&self, t: usize) -> String {
        match &self.positions {
            Some(p) => {
                let (row, pos) = p.at[t];
                format!("point {t} (sequence {}, position {pos})", self.rows[row])
            }
            None => format!("point {t}"),
        }
    }

    /// In a data set of sequences, the [sequence, position] of each of the
    /// points `idx` (the file's numbering).
    pub fn positions_of(&self, idx: &[usize]) -> Option<Vec<[usize; 2]>> {
        let p = self.positions.as_ref()?;
        Some(
            idx.iter()
                .map(|&t| [self.rows[p.at[t].0], p.at[t].1])
                .collect(),
        )
    }

    fn subset(&self, idx: &[usize]) -> Inputs {
        let Some(p) = &self.positions else {
            return Inputs {
                x: self.x.select(idx),
                rows: idx.iter().map(|&i| self.rows[i]).collect(),
                ..self.clone()
            };
        };
        let mut used: Vec<usize> = idx.iter().map(|&i| p.at[i].0).collect();
        used.dedup();
        let new_row = |r: usize| used.binary_search(&r).expect("a row of a chosen point");
        let at = idx
            .iter()
            .map(|&i| (new_row(p.at[i].0), p.at[i].1))
            .collect();
        Inputs {
            x: self.x.select(&used),
            rows: used.iter().map(|&r| self.rows[r]).collect(),
            positions: Some(Positions { len: p.len, at }),
            ..self.clone()
        }
    }

    /// Array `key` of the data file `path` (another input of the model,
    /// such as an attention mask), at the rows `x` holds.
    pub fn read_more(&self, path: &Path, key: &str) -> Result<Array> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read the data", e))?;
        if crate::digest::sha256_hex(&bytes) != self.sha256 {
            return Err(Error::invalid(path, "changed while gdmilp was reading it"));
        }
        let (mut npz, names) = open_npz(path, bytes)?;
        let key = pick_key(path, &names, Some(key), &[], "a model input", "")?;
        let a = match read_array(&mut npz, path, &key)? {
            Raw::Float(a) => Array::Float(a.into_shared()),
            Raw::Int(a) => Array::Int(a.into_shared()),
        };
        let rows = a.shape().first().copied().unwrap_or(0);
        if rows != self.file_rows {
            return Err(Error::invalid(
                path,
                format!(
                    "array '{key}' (a model input) has {rows} rows but '{}' has {}",
                    self.key, self.file_rows
                ),
            ));
        }
        if self.rows.len() == rows {
            return Ok(a);
        }
        Ok(a.select(&self.rows))
    }
}

const X_KEYS: &[&str] = &["x", "X", "inputs", "features", "data", "input_ids"];
const MASK_KEYS: &[&str] = &["mask", "attention_mask"];

/// The mask "key" of a data set of sequences that has no mask array: every
/// position of every sequence is a point (fixed-length sequences without
/// padding). Recorded in the manifest like a key, so apply reads the data
/// the same way.
pub const EVERY_POSITION: &str = "*";
const Y_KEYS: &[&str] = &["y", "Y", "labels", "label", "targets", "target"];

/// A float16 element of a `.npy` array (`<f2` or `>f2`, what numpy's
/// `float16` writes), as its bits.
#[derive(Debug, Clone, Copy)]
struct Half(u16);

impl Half {
    /// The value (every float16 is exactly a float64).
    fn to_f64(self) -> f64 {
        let (sign, exp, frac) = (self.0 >> 15, (self.0 >> 10) & 0x1f, self.0 & 0x3ff);
        let magnitude = match exp {
            0 => f64::from(frac) * 2f64.powi(-24),
            0x1f if frac == 0 => f64::INFINITY,
            0x1f => f64::NAN,
            e => (1.0 + f64::from(frac) / 1024.0) * 2f64.powi(i32::from(e) - 15),
        };
        if sign == 1 {
            -magnitude
        } else {
            magnitude
        }
    }
}

impl ndarray_npy::ReadableElement for Half {
    fn read_to_end_exact_vec<R: std::io::Read>(
        mut reader: R,
        type_desc: &py_literal::Value,
        len: usize,
    ) -> std::result::Result<Vec<Self>, ndarray_npy::ReadDataError> {
        use ndarray_npy::ReadDataError;
        let little = match type_desc {
            py_literal::Value::String(s) if s == "<f2" => true,
            py_literal::Value::String(s) if s == ">f2" => false,
            other => return Err(ReadDataError::WrongDescriptor(other.clone())),
        };
        let mut bytes = vec![0u8; len * 2];
        reader.read_exact(&mut bytes).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => ReadDataError::MissingData,
            _ => ReadDataError::Io(e),
        })?;
        let extra = reader
            .read_to_end(&mut Vec::new())
            .map_err(ReadDataError::Io)?;
        if extra > 0 {
            return Err(ReadDataError::ExtraBytes(extra));
        }
        Ok(bytes
            .chunks_exact(2)
            .map(|b| {
                Half(if little {
                    u16::from_le_bytes([b[0], b[1]])
                } else {
                    u16::from_be_bytes([b[0], b[1]])
                })
            })
            .collect())
    }
}

enum Raw {
    Float(ArrayD<f64>),
    Int(ArrayD<i64>),
}

fn read_array(
    npz: &mut NpzReader<std::io::Cursor<Vec<u8>>>,
    path: &Path,
    key: &str,
) -> Result<Raw> {
    macro_rules! attempt {
        ($t:ty, $wrap:expr) => {
            match npz.by_name::<ndarray::OwnedRepr<$t>, IxDyn>(key) {
                Ok(a) => return Ok($wrap(a)),
                Err(ReadNpzError::Npy(ndarray_npy::ReadNpyError::WrongDescriptor(_))) => {}
                Err(e) => {
                    return Err(Error::invalid(
                        path,
                        format!("array '{key}' cannot be read: {}", one_line(&e)),
                    ))
                }
            }
        };
    }
    attempt!(f64, Raw::Float);
    attempt!(f32, |a: ArrayD<f32>| Raw::Float(a.mapv(f64::from)));
    attempt!(Half, |a: ArrayD<Half>| Raw::Float(a.mapv(Half::to_f64)));
    attempt!(i64, Raw::Int);
    attempt!(i32, |a: ArrayD<i32>| Raw::Int(a.mapv(i64::from)));
    attempt!(u8, |a: ArrayD<u8>| Raw::Int(a.mapv(i64::from)));
    attempt!(i8, |a: ArrayD<i8>| Raw::Int(a.mapv(i64::from)));
    attempt!(u16, |a: ArrayD<u16>| Raw::Int(a.mapv(i64::from)));
    attempt!(i16, |a: ArrayD<i16>| Raw::Int(a.mapv(i64::from)));
    attempt!(u32, |a: ArrayD<u32>| Raw::Int(a.mapv(i64::from)));
    attempt!(bool, |a: ArrayD<bool>| Raw::Int(a.mapv(i64::from)));
    Err(Error::invalid(
        path,
        format!("array '{key}' has a data type gdmilp does not read (use float16/float32/float64 inputs, integer or float labels; bfloat16 has no numpy type: save it as float32, or its bits as uint16 for a bfloat16 model input)"),
    ))
}

/// A reader's error in one line: a header parser's multi-line report
/// (`syntax error: --> 1:8` and a picture of the line) becomes
/// `syntax error at 1:8 of the .npy header`.
fn one_line(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    match first.split_once("-->") {
        Some((head, at)) => format!(
            "{} at {} of the .npy header",
            head.trim_end().trim_end_matches(':'),
            at.trim()
        ),
        None => first.to_string(),
    }
}

fn pick_key(
    path: &Path,
    names: &[String],
    given: Option<&str>,
    defaults: &[&str],
    what: &str,
    flag: &str,
) -> Result<String> {
    let listing = || {
        if names.is_empty() {
            "it holds no arrays".to_string()
        } else {
            format!("it holds: {}", names.join(", "))
        }
    };
    match given {
        Some(k) if names.iter().any(|n| n == k) => Ok(k.to_string()),
        Some(k) => Err(Error::invalid(
            path,
            format!("no array '{k}' ({what}); {}", listing()),
        )),
        None => defaults
            .iter()
            .find(|d| names.iter().any(|n| n == *d))
            .map(|d| d.to_string())
            .ok_or_else(|| {
                Error::invalid(
                    path,
                    format!(
                        "no {what} array under the usual names ({}); name it with {flag}; {}",
                        defaults.join(", "),
                        listing()
                    ),
                )
            }),
    }
}

fn first_non_finite<'a>(a: impl IntoIterator<Item = &'a f64>) -> Option<usize> {
    a.into_iter().position(|v| !v.is_finite())
}

fn open_npz(path: &Path, bytes: Vec<u8>) -> Result<(Npz, Vec<String>)> {
    let mut npz = NpzReader::new(std::io::Cursor::new(bytes))
        .map_err(|e| Error::invalid(path, format!("not a readable .npz file: {e}")))?;
    let names = npz
        .names()
        .map_err(|e| Error::invalid(path, format!("not a readable .npz file: {e}")))?;
    Ok((npz, names))
}

type Npz = NpzReader<std::io::Cursor<Vec<u8>>>;

/// What to read from an `.npz`: which arrays (each by default the first of
/// its usual names the file holds), the task, and whether the model runs
/// over sequences.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keys<'a> {
    /// The inputs' key (default: the first of x, X, inputs, features, data,
    /// input_ids).
    pub x: Option<&'a str>,
    /// The labels' key (default: the first of y, Y, labels, label, targets,
    /// target).
    pub y: Option<&'a str>,
    /// The mask of a data set of sequences: a point is a position the mask
    /// marks 1 and whose class label is not -100.
    pub mask: Option<&'a str>,
    /// Overrides the task the labels' dtype implies (integer:
    /// classification, float: regression).
    pub task: Option<Task>,
    /// The model runs over sequences: an array named `mask` or
    /// `attention_mask` is the mask unless `mask` names one, and without
    /// any mask every position counts.
    pub over_sequence: bool,
}

/// Reads the inputs: floats as they are (in C order), integers as i64.
fn inputs_array(path: &Path, npz: &mut Npz, xk: &str) -> Result<Array> {
    let x = match read_array(npz, path, xk)? {
        // Fortran-ordered arrays (numpy.asfortranarray) in C order, as
        // ONNX Runtime takes them.
        Raw::Float(a) if a.is_standard_layout() => Array::Float(a.into_shared()),
        Raw::Float(a) => Array::Float(a.as_standard_layout().into_owned().into_shared()),
        Raw::Int(a) => Array::Int(a.as_standard_layout().into_owned().into_shared()),
    };
    if x.shape().is_empty() || x.shape()[0] == 0 {
        return Err(Error::invalid(
            path,
            format!("inputs '{xk}' hold no points (shape {:?})", x.shape()),
        ));
    }
    if let Array::Float(a) = &x {
        if let Some(i) = first_non_finite(a.iter()) {
            let point = i / (a.len() / a.shape()[0]).max(1);
            return Err(Error::invalid(
                path,
                format!("inputs '{xk}' contain NaN or infinity (point {point})"),
            ));
        }
    }
    Ok(x)
}

/// The mask's key: the one given, which must be there, else for a model
/// over sequences the first of [`MASK_KEYS`] the file holds, if any (a
/// flat model's `attention_mask` is only one of its inputs).
fn mask_key_of(
    path: &Path,
    names: &[String],
    given: Option<&str>,
    over_sequence: bool,
) -> Result<Option<String>> {
    Ok(match given {
        Some(EVERY_POSITION) => Some(EVERY_POSITION.to_string()),
        Some(k) => Some(pick_key(path, names, Some(k), &[], "mask", "--mask-key")?),
        None if over_sequence => MASK_KEYS
            .iter()
            .find(|k| names.iter().any(|n| n == *k))
            .map(|k| k.to_string()),
        None => None,
    })
}

/// Loads the inputs and labels `keys` names from the `.npz` at `path`
/// (with a mask, as sequences).
pub fn load(path: &Path, keys: Keys<'_>) -> Result<Dataset> {
    let Keys {
        x: x_key,
        y: y_key,
        mask: mask_key,
        task,
        over_sequence,
    } = keys;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read the data", e))?;
    let sha256 = crate::digest::sha256_hex(&bytes);
    let (mut npz, names) = open_npz(path, bytes)?;
    let xk = pick_key(path, &names, x_key, X_KEYS, "inputs", "--x-key")?;
    let yk = pick_key(path, &names, y_key, Y_KEYS, "labels", "--y-key")?;
    let mut mk = mask_key_of(path, &names, mask_key, over_sequence)?;
    let x = inputs_array(path, &mut npz, &xk)?;
    let raw_y = read_array(&mut npz, path, &yk)?;
    let rows = x.shape()[0];
    let seq_shape = x.shape().get(..2).filter(|_| x.shape().len() >= 2);
    let per_position = seq_shape.is_some() && raw_y.shape().get(..2) == seq_shape;
    // Another array of the sequences' shape may be a mask under another
    // name: then the error below asks for --mask-key rather than guess.
    let mut maybe_mask = false;
    if mk.is_none() && over_sequence && per_position {
        for n in names.iter().filter(|n| **n != xk && **n != yk) {
            if let Ok(other) = read_array(&mut npz, path, n) {
                maybe_mask |= other.shape().get(..2) == seq_shape;
            }
        }
    }
    if mk.is_none() && over_sequence && per_position && !maybe_mask {
        crate::progress::note(format_args!(
            "{}: no mask array ({} or --mask-key): every position of every sequence counts",
            path.display(),
            MASK_KEYS.join(", ")
        ));
        mk = Some(EVERY_POSITION.to_string());
    }
    let (y, positions) = match &mk {
        Some(mk) => {
            let mask = if mk == EVERY_POSITION {
                Raw::Int(ArrayD::ones(ndarray::IxDyn(&x.shape()[..2])))
            } else {
                read_array(&mut npz, path, mk)?
            };
            let seq = Sequences::read(path, (&xk, &x), (&yk, raw_y), (mk, mask), task)?;
            let p = seq.positions;
            (
                labels(path, &yk, seq.labels, task, &|t| p.name(t))?,
                Some(p),
            )
        }
        None => (labels(path, &yk, raw_y, task, &flat_name)?, None),
    };
    if positions.is_none() && y.len() != rows {
        return Err(Error::invalid(
            path,
            format!("'{xk}' has {rows} points but '{yk}' has {}", y.len()),
        ));
    }
    Ok(Dataset {
        path: path.to_path_buf(),
        x: Inputs {
            key: xk.clone(),
            x,
            rows: (0..rows).collect(),
            positions,
            file_rows: rows,
            sha256: sha256.clone(),
        },
        x_key: xk,
        y_key: yk,
        mask_key: mk,
        y,
        sha256,
    })
}

/// The Hugging Face convention for a position without a label.
pub const IGNORED_LABEL: i64 = -100;

/// A data set of sequences, read against its mask.
struct Sequences {
    /// The labels of the kept positions, [points] or [points, M].
    labels: Raw,
    positions: Positions,
}

impl Raw {
    fn shape(&self) -> &[usize] {
        match self {
            Raw::Float(a) => a.shape(),
            Raw::Int(a) => a.shape(),
        }
    }

    /// The entries `kept` of the [rows, cols, …] array read as
    /// [rows·cols, …] (one entry per position, in C order).
    fn positions(self, (rows, cols): (usize, usize), kept: &[usize]) -> Raw {
        let dims: Vec<usize> = std::iter::once(rows * cols)
            .chain(self.shape()[2..].iter().copied())
            .collect();
        match self {
            Raw::Int(a) => {
                let flat = a.as_standard_layout().into_owned();
                let flat = flat.into_shape_with_order(IxDyn(&dims)).expect("C order");
                Raw::Int(flat.select(Axis(0), kept))
            }
            Raw::Float(a) => {
                let flat = a.as_standard_layout().into_owned();
                let flat = flat.into_shape_with_order(IxDyn(&dims)).expect("C order");
                Raw::Float(flat.select(Axis(0), kept))
            }
        }
    }
}

/// The mask as 0/1 integers in C order, [sequences, positions] as the
/// inputs' first two axes.
fn read_mask(path: &Path, (xk, x): (&str, &Array), (mk, mask): (&str, Raw)) -> Result<ArrayD<i64>> {
    let bad = |m: String| Error::invalid(path, m);
    let mask = match mask {
        Raw::Int(a) => a.as_standard_layout().into_owned(),
        Raw::Float(a) => a.mapv(|v| if v == 0.0 || v == 1.0 { v as i64 } else { 2 }),
    };
    let s = match mask.shape() {
        &[b, s] if b == x.shape()[0] && x.shape().get(1) == Some(&s) => s,
        shape => {
            return Err(bad(format!(
                "mask '{mk}' has shape {shape:?}; it must be [sequences, positions], the first two axes of the inputs '{xk}' {:?}",
                x.shape()
            )))
        }
    };
    if let Some(i) = mask.iter().position(|&v| v != 0 && v != 1) {
        return Err(bad(format!(
            "mask '{mk}' holds a value other than 0 and 1 (sequence {}, position {}); 1 marks a real position, 0 padding",
            i / s,
            i % s
        )));
    }
    Ok(mask)
}

impl Sequences {
    fn read(
        path: &Path,
        x: (&str, &Array),
        (yk, y): (&str, Raw),
        (mk, mask): (&str, Raw),
        task: Option<Task>,
    ) -> Result<Sequences> {
        let bad = |m: String| Error::invalid(path, m);
        let mask = read_mask(path, x, (mk, mask))?;
        let (b, s) = (mask.shape()[0], mask.shape()[1]);
        let ys = y.shape().to_vec();
        if ys.len() < 2 || ys.len() > 3 || ys[..2] != [b, s] {
            return Err(bad(format!(
                "labels '{yk}' have shape {ys:?}; with the mask '{mk}' of shape [{b}, {s}] they must be [{b}, {s}] (a class or target per position) or [{b}, {s}, outputs]"
            )));
        }
        // -100 marks a position without a class label (Hugging Face).
        let no_label: Vec<bool> = match (&y, task) {
            (Raw::Int(a), None | Some(Task::Classification)) if ys.len() == 2 => {
                a.iter().map(|&v| v == IGNORED_LABEL).collect()
            }
            _ => vec![false; b * s],
        };
        let kept: Vec<usize> = (mask.iter().zip(&no_label).enumerate())
            .filter(|&(_, (&m, &skip))| m == 1 && !skip)
            .map(|(i, _)| i)
            .collect();
        if kept.is_empty() {
            return Err(bad(format!(
                "no position is a point: the mask '{mk}' marks none, or every label there is {IGNORED_LABEL}"
            )));
        }
        Ok(Sequences {
            labels: y.positions((b, s), &kept),
            positions: Positions {
                len: s,
                at: kept.iter().map(|&i| (i / s, i % s)).collect(),
            },
        })
    }
}

/// Point `t` of a flat data set, as messages name it.
fn flat_name(t: usize) -> String {
    format!("point {t}")
}

/// The labels of `raw` ([points] or [points, M]); `name` words a point in
/// messages.
fn labels(
    path: &Path,
    key: &str,
    raw: Raw,
    task: Option<Task>,
    name: &dyn Fn(usize) -> String,
) -> Result<Labels> {
    let bad = |m: String| Error::invalid(path, format!("labels '{key}' {m}"));
    let as_2d = |a: ArrayD<f64>| -> Result<Array2<f64>> {
        match a.ndim() {
            1 => Ok(a.insert_axis(Axis(1)).into_dimensionality().expect("2-D")),
            2 => Ok(a.into_dimensionality().expect("2-D")),
            _ => Err(bad(format!(
                "have shape {:?}; expected [points] or [points, outputs]",
                a.shape()
            ))),
        }
    };
    let one_hot = |m: &Array2<f64>| -> Option<Vec<usize>> {
        m.rows()
            .into_iter()
            .map(|r| {
                let ones = r.iter().filter(|&&v| v == 1.0).count();
                let zeros = r.iter().filter(|&&v| v == 0.0).count();
                (ones == 1 && ones + zeros == r.len())
                    .then(|| r.iter().position(|&v| v == 1.0).unwrap())
            })
            .collect()
    };
    let (values, is_int) = match raw {
        Raw::Float(a) => (a, false),
        Raw::Int(a) => (a.mapv(|v| v as f64), true),
    };
    if values.ndim() == 0 || values.shape()[0] == 0 {
        return Err(bad("hold no points".into()));
    }
    if let Some(i) = first_non_finite(values.iter()) {
        let point = i / (values.len() / values.shape()[0]).max(1);
        return Err(bad(format!("contain NaN or infinity ({})", name(point))));
    }
    let task = task.unwrap_or(if is_int {
        Task::Classification
    } else {
        Task::Regression
    });
    let m = as_2d(values)?;
    match task {
        Task::Regression => Ok(Labels::Targets(m)),
        Task::Classification if m.ncols() == 1 => {
            let mut out = Vec::with_capacity(m.nrows());
            for (t, &v) in m.column(0).iter().enumerate() {
                if v < 0.0 || v.fract() != 0.0 {
                    return Err(bad(format!(
                        "hold {v} at {}; class labels are whole numbers from 0",
                        name(t)
                    )));
                }
                out.push(v as usize);
            }
            Ok(Labels::Classes(out))
        }
        Task::Classification => one_hot(&m).map(Labels::Classes).ok_or_else(|| {
            bad(format!(
                "have shape {:?} but are not one-hot rows; give class indices (labels per position of sequences need a mask array: --mask-key)",
                m.shape()
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float16_bits_read_as_their_values() {
        for (bits, v) in [
            (0x3c00, 1.0),
            (0xc000, -2.0),
            (0x3555, 0.333_251_953_125),
            (0x0001, 2f64.powi(-24)),
            (0x7bff, 65504.0),
            (0x0000, 0.0),
        ] {
            assert_eq!(Half(bits).to_f64(), v, "{bits:#x}");
        }
        assert_eq!(Half(0x7c00).to_f64(), f64::INFINITY);
        assert!(Half(0x7e00).to_f64().is_nan());
    }

    #[test]
    fn one_hot_rows_become_class_indices() {
        let p = Path::new("d.npz");
        let one_hot = ndarray::array![[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]].into_dyn();
        match labels(
            p,
            "y",
            Raw::Float(one_hot.clone()),
            Some(Task::Classification),
            &flat_name,
        )
        .unwrap()
        {
            Labels::Classes(c) => assert_eq!(c, vec![1, 0]),
            other => panic!("{other:?}"),
        }
        match labels(
            p,
            "y",
            Raw::Int(one_hot.mapv(|v| v as i64)),
            None,
            &flat_name,
        )
        .unwrap()
        {
            Labels::Classes(c) => assert_eq!(c, vec![1, 0]),
            other => panic!("{other:?}"),
        }
        // Float rows without a task are regression targets; rows that are not
        // one-hot are refused for classification.
        assert!(matches!(
            labels(p, "y", Raw::Float(one_hot), None, &flat_name).unwrap(),
            Labels::Targets(_)
        ));
        let soft = ndarray::array![[0.5, 0.5, 0.0]].into_dyn();
        let e = labels(
            p,
            "y",
            Raw::Float(soft),
            Some(Task::Classification),
            &flat_name,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not one-hot"), "{e}");
    }
}

#[cfg(test)]
mod sequence_tests {
    use super::*;
    use ndarray::array;

    fn read(y: Raw, mask: Raw) -> Result<Sequences> {
        let x = Array::Int(array![[3, 4, 0], [5, 6, 7]].into_dyn().into_shared());
        Sequences::read(
            Path::new("s.npz"),
            ("ids", &x),
            ("y", y),
            ("mask", mask),
            None,
        )
    }

    /// The error of labels `y` under a full mask, as load words it.
    fn load_seq_labels(y: Raw) -> String {
        let mask = Raw::Int(array![[1, 1, 1], [1, 1, 1]].into_dyn());
        let s = read(y, mask).ok().unwrap();
        let p = s.positions;
        let e = labels(Path::new("s.npz"), "y", s.labels, None, &|t| p.name(t));
        e.err().unwrap().to_string()
    }

    #[test]
    fn each_real_position_is_a_point_and_minus_100_is_no_label() {
        let y = Raw::Int(array![[0, -100, -100], [1, 2, 0]].into_dyn());
        let mask = Raw::Float(array![[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]].into_dyn());
        let s = read(y, mask).unwrap();
        assert_eq!(s.positions.at, vec![(0, 0), (1, 0), (1, 1), (1, 2)]);
        assert_eq!(s.positions.len, 3);
        match labels(Path::new("s.npz"), "y", s.labels, None, &flat_name).unwrap() {
            Labels::Classes(c) => assert_eq!(c, vec![0, 1, 2, 0]),
            other => panic!("{other:?}"),
        }
        // Targets per position: [B, S, M], padding left out.
        let y = Raw::Float(ndarray::Array3::from_elem((2, 3, 2), 0.5).into_dyn());
        let mask = Raw::Int(array![[1, 0, 0], [0, 1, 1]].into_dyn());
        let s = read(y, mask).unwrap();
        assert_eq!(s.positions.at, vec![(0, 0), (1, 1), (1, 2)]);
        let t = labels(Path::new("s.npz"), "y", s.labels, None, &flat_name).unwrap();
        assert!(matches!(t, Labels::Targets(t) if t.dim() == (3, 2)));
    }

    #[test]
    fn labels_and_masks_of_the_wrong_shape_or_values_are_refused() {
        let ok_y = || Raw::Int(array![[0, 1, 0], [1, 2, 0]].into_dyn());
        let ok_mask = || Raw::Int(array![[1, 1, 0], [1, 1, 1]].into_dyn());
        let flat_y = Raw::Int(array![0, 1].into_dyn());
        let e = read(flat_y, ok_mask()).err().unwrap().to_string();
        assert!(
            e.contains("labels 'y' have shape [2]") && e.contains("[2, 3]"),
            "{e}"
        );
        let short = Raw::Int(array![[1, 1], [1, 1]].into_dyn());
        let e = read(ok_y(), short).err().unwrap().to_string();
        assert!(e.contains("mask 'mask' has shape [2, 2]"), "{e}");
        let two = Raw::Int(array![[1, 2, 0], [1, 1, 1]].into_dyn());
        let e = read(ok_y(), two).err().unwrap().to_string();
        assert!(e.contains("(sequence 0, position 1)"), "{e}");
        let e = load_seq_labels(Raw::Int(array![[0, -1, 0], [1, 2, 0]].into_dyn()));
        assert!(
            e.contains("hold -1 at point 1 (sequence 0, position 1)"),
            "{e}"
        );
        let none = Raw::Int(array![[0, 0, 0], [0, 0, 0]].into_dyn());
        let e = read(ok_y(), none).err().unwrap().to_string();
        assert!(e.contains("no position is a point"), "{e}");
    }

    #[test]
    fn a_subset_of_positions_keeps_only_their_sequences_and_names_them() {
        let inputs = Inputs {
            key: "ids".into(),
            x: Array::Int(array![[1, 2], [3, 4], [5, 6]].into_dyn().into_shared()),
            rows: vec![0, 1, 2],
            positions: Some(Positions {
                len: 2,
                at: vec![(0, 0), (0, 1), (1, 0), (2, 1)],
            }),
            file_rows: 3,
            sha256: String::new(),
        };
        assert_eq!(inputs.points(), 4);
        let sub = inputs.subset(&[1, 3]);
        assert_eq!(sub.rows, vec![0, 2]);
        assert_eq!(sub.positions.as_ref().unwrap().at, vec![(0, 1), (1, 1)]);
        assert!(matches!(&sub.x, Array::Int(a) if a.shape() == [2, 2]));
        assert_eq!(sub.point_name(1), "point 1 (sequence 2, position 1)");
        assert_eq!(sub.positions_of(&[0, 1]), Some(vec![[0, 1], [2, 1]]));
    }

    #[test]
    fn a_validation_split_of_sequences_keeps_each_sequence_whole() {
        let rows = 10;
        let at: Vec<(usize, usize)> = (0..rows)
            .flat_map(|r| (0..3).map(move |s| (r, s)))
            .collect();
        let data = Dataset {
            path: "s.npz".into(),
            x_key: "ids".into(),
            y_key: "y".into(),
            mask_key: Some("mask".into()),
            x: Inputs {
                key: "ids".into(),
                x: Array::Int(
                    ndarray::Array2::<i64>::zeros((rows, 3))
                        .into_dyn()
                        .into_shared(),
                ),
                rows: (0..rows).collect(),
                positions: Some(Positions { len: 3, at }),
                file_rows: rows,
                sha256: String::new(),
            },
            y: Labels::Classes(vec![0; rows * 3]),
            sha256: String::new(),
        };
        let (train, val) = data.split(0.3, 1).unwrap();
        assert_eq!((train.x.rows.len(), val.x.rows.len()), (7, 3));
        assert_eq!((train.y.len(), val.y.len()), (21, 9));
        assert!(val.x.rows.iter().all(|r| !train.x.rows.contains(r)));
    }
}

#[cfg(test)]
mod one_line_tests {
    #[test]
    fn a_multi_line_parser_error_becomes_one_line() {
        let e = "error parsing header: syntax error:  --> 1:8\n  |\n1 | {'descr'= '<f4'}\n  |        ^---\n";
        assert_eq!(
            super::one_line(&e),
            "error parsing header: syntax error at 1:8 of the .npy header"
        );
        assert_eq!(super::one_line(&"plain"), "plain");
    }
}

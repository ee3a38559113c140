//! The manifest: what `export` promises and `apply` checks. JSON, written
//! beside the MILP file (`layer.mps` → `layer.mps.gdmilp.json`), tied to it
//! by a token both carry (a hash of the manifest's content, see
//! [`Manifest::content_token`]). Knows nothing about how files are written.

use crate::data::{Select, Task};
use crate::error::{Error, Result};
use crate::formulation::names::Var;
use crate::formulation::{MseBound, Options, Presolve};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the manifest layout.
pub const FORMAT_VERSION: u32 = 4;

/// The model the file was exported from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelRef {
    /// Path as given to export.
    #[serde(with = "os_path")]
    pub path: PathBuf,
    /// SHA-256 of the model file.
    pub sha256: String,
}

/// The layer, as located at export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerRef {
    /// `Gemm(...)`, `MatMul+Add`.
    pub op: String,
    /// The weight initializer's name.
    pub weight: String,
    /// The bias initializer's name, if any.
    pub bias: Option<String>,
    /// per_output, scalar or none.
    pub bias_kind: String,
    /// N.
    pub n_in: usize,
    /// M.
    pub n_out: usize,
    /// Activation after the layer.
    pub activation: String,
    /// The penultimate tensor.
    pub input: String,
    /// The model output followed.
    pub model_output: String,
}

/// The data the points came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataRef {
    /// Path as given to export.
    #[serde(with = "os_path")]
    pub path: PathBuf,
    /// Inputs key.
    pub x_key: String,
    /// Labels key.
    pub y_key: String,
    /// Mask key of a data set of sequences (each unmasked position a point).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_key: Option<String>,
    /// Points in the file.
    pub points: usize,
    /// SHA-256 of the data file (apply verifies on the same data).
    pub sha256: String,
}

/// How the points were chosen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Selection {
    /// The rule.
    pub select: Select,
    /// `--points`, if given.
    pub points: Option<usize>,
    /// `--seed`.
    pub seed: u64,
    /// Indices (in the data file) handed to the formulation.
    pub indices: Vec<usize>,
    /// In a data set of sequences, each selected point's [sequence,
    /// position] (the names `c_t` and `r_t_j` use the index t).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positions: Option<Vec<[usize; 2]>>,
}

/// Sizes of the written model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    /// Columns.
    pub columns: usize,
    /// Integer columns.
    pub binaries: usize,
    /// Rows (objective excluded).
    pub rows: usize,
    /// Non-zeros (objective excluded).
    pub nonzeros: usize,
    /// Entries of the quadratic objective's lower triangle (mse, exact
    /// form): the Hessian's share of the model's size.
    #[serde(default)]
    pub hessian: usize,
}

/// Everything `apply` needs to map and verify a solution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// `gdmilp <version>`.
    pub tool: String,
    /// Layout version.
    pub format_version: u32,
    /// Also in the MILP file's problem name (`gdmilp-TOKEN`): ties the two.
    pub token: String,
    /// The model.
    pub model: ModelRef,
    /// The layer.
    pub layer: LayerRef,
    /// The data.
    pub data: DataRef,
    /// Regression or classification.
    pub task: Task,
    /// Formulation options (radius, margin, ...).
    pub options: Options,
    /// The box as asked for (a relative radius) and the r, r_b it resolved
    /// to, when export was given a relative radius.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_size: Option<crate::formulation::radius::BoxSize>,
    /// Point selection.
    pub selection: Selection,
    /// Objective of the file at the current weights (the MIP start).
    pub incumbent_objective: f64,
    /// mse, piecewise linear: how far the file's objective may be from Σ r².
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mse_bound: Option<MseBound>,
    /// Add to a solver's objective to get the loss on the selected points.
    pub objective_offset: f64,
    /// Presolve counts.
    pub presolve: Presolve,
    /// Sizes.
    pub counts: Counts,
    /// Column names in file order (GLPK's `-w` numbers columns), except
    /// the mse segment columns, which `segments` describes.
    pub columns: Vec<String>,
    /// mse, segment form: the segment columns, one run per residual
    /// instead of ~90 names (see [`ColumnMap`] for index ↔ name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<SegmentRun>,
    /// The MILP file, the MIP start.
    pub files: Files,
    /// Variable naming scheme.
    pub naming: Vec<(String, String)>,
    /// `--protect`: the protected points, which `apply` checks one by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protect: Option<ProtectRef>,
}

/// The protect file of an export (`--protect`): what was promised, and
/// on which points.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProtectRef {
    /// Path as given to export.
    #[serde(with = "os_path")]
    pub path: PathBuf,
    /// SHA-256 of the file (apply refuses a changed one).
    pub sha256: String,
    /// Inputs key (the data file's).
    pub x_key: String,
    /// Labels key (the data file's).
    pub y_key: String,
    /// Mask key (the data file's), for a file of sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_key: Option<String>,
    /// The promise, in words.
    pub rule: String,
    /// ε of the rule (the formulation's margin; classification).
    pub margin: f64,
    /// Points, protected, not protected, rows kept and dropped.
    pub counts: crate::formulation::protect::Counts,
    /// Indices (in the protect file) of the protected points.
    pub indices: Vec<usize>,
}

/// A run of segment columns: columns `first` .. `first + count` (0-based,
/// in file order) are `sg_t_j_0` … `sg_t_j_(count−1)`. Written as the
/// text `"first t j count"`, one short line a residual.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct SegmentRun {
    /// Index of `sg_t_j_0` among all columns.
    pub first: usize,
    /// The point's index in the data file.
    pub t: usize,
    /// The output.
    pub j: usize,
    /// Segments in the run.
    pub count: usize,
}

impl From<SegmentRun> for String {
    fn from(r: SegmentRun) -> String {
        format!("{} {} {} {}", r.first, r.t, r.j, r.count)
    }
}

impl TryFrom<String> for SegmentRun {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<SegmentRun, String> {
        let f: Vec<usize> = s
            .split(' ')
            .map(|v| v.parse().map_err(|_| ()))
            .collect::<std::result::Result<_, ()>>()
            .map_err(|_| format!("segment run `{s}` is not `first t j count`"))?;
        match f[..] {
            [first, t, j, count] if count > 0 => Ok(SegmentRun { first, t, j, count }),
            _ => Err(format!("segment run `{s}` is not `first t j count`")),
        }
    }
}

/// Index ↔ name of every column an export wrote, from the manifest's
/// listed names and segment runs.
pub struct ColumnMap<'a> {
    listed: &'a [String],
    runs: &'a [SegmentRun],
    /// Segment columns before each run.
    before: Vec<usize>,
    /// The listed names, and (t, j) → segments, for
    /// [`ColumnMap::contains`].
    names: std::collections::HashSet<&'a str>,
    counts: std::collections::HashMap<(usize, usize), usize>,
}

impl<'a> ColumnMap<'a> {
    /// The map of `listed` names with segment `runs` among them.
    pub fn new(listed: &'a [String], runs: &'a [SegmentRun]) -> ColumnMap<'a> {
        let mut before = Vec::with_capacity(runs.len());
        let mut total = 0;
        for r in runs {
            before.push(total);
            total += r.count;
        }
        ColumnMap {
            listed,
            runs,
            before,
            names: listed.iter().map(String::as_str).collect(),
            counts: runs.iter().map(|r| ((r.t, r.j), r.count)).collect(),
        }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.listed.len()
            + self
                .runs
                .last()
                .map_or(0, |r| self.before[self.before.len() - 1] + r.count)
    }

    /// True when there are no columns.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of column `k` (0-based, file order), if it exists.
    pub fn name(&self, k: usize) -> Option<String> {
        let i = self.runs.partition_point(|r| r.first <= k);
        let Some(run) = i.checked_sub(1).map(|i| self.runs[i]) else {
            return self.listed.get(k).cloned();
        };
        if k < run.first + run.count {
            return Some(Var::Seg(run.t, run.j, k - run.first).to_string());
        }
        self.listed.get(k - self.before[i - 1] - run.count).cloned()
    }

    /// Whether the export wrote a column named `name`.
    pub fn contains(&self, name: &str) -> bool {
        match Var::parse(name) {
            Some(Var::Seg(t, j, k)) => self.counts.get(&(t, j)).is_some_and(|&c| k < c),
            _ => self.names.contains(name),
        }
    }
}

/// Files written by export.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Files {
    /// The MILP file.
    #[serde(with = "os_path")]
    pub milp: PathBuf,
    /// The MIP start.
    #[serde(with = "os_path")]
    pub start: PathBuf,
}

impl Manifest {
    /// Reads a manifest.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io(path, "read the manifest", e))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(path, format!("not a gdmilp manifest: {e}")))?;
        let version = value.get("format_version").and_then(|v| v.as_u64());
        if version != Some(u64::from(FORMAT_VERSION)) {
            return Err(Error::invalid(
                path,
                format!(
                    "manifest format {} is not the one this gdmilp reads ({FORMAT_VERSION}); export again",
                    version.map_or("unknown".to_string(), |v| v.to_string())
                ),
            ));
        }
        let m: Manifest = serde_json::from_value(value)
            .map_err(|e| Error::invalid(path, format!("not a gdmilp manifest: {e}")))?;
        Ok(m)
    }

    /// A token for this manifest's content: the first 16 hex digits of the
    /// SHA-256 of its JSON without the token and the paths. The same model,
    /// data and options give the same token (and the same file); any
    /// difference in what the file holds gives another.
    pub fn content_token(&self) -> String {
        let mut m = self.clone();
        m.token.clear();
        m.files = Files::default();
        m.model.path = PathBuf::new();
        m.data.path = PathBuf::new();
        if let Some(p) = &mut m.protect {
            p.path = PathBuf::new();
        }
        let hex = crate::digest::sha256_hex(m.to_json().as_bytes());
        hex[..16].to_string()
    }

    /// Checks that the MILP file this manifest describes, when it is still
    /// beside the manifest at `path`, carries the manifest's token.
    pub fn check_file(&self, path: &Path) -> Result<()> {
        let Some(name) = self.files.milp.file_name() else {
            return Ok(());
        };
        let milp = path.with_file_name(name);
        if !milp.is_file() {
            return Ok(());
        }
        let found = crate::formats::tag::read(&milp)?;
        if found.as_deref() == Some(self.token.as_str()) {
            return Ok(());
        }
        Err(Error::invalid(
            path,
            format!(
                "does not describe {} beside it (the file carries {}, the manifest {}): another export wrote one of them; export again, or give the matching --manifest",
                milp.display(),
                found.map_or("no gdmilp token".to_string(), |t| format!("token {t}")),
                self.token
            ),
        ))
    }

    /// Index ↔ name of the export's columns.
    pub fn column_map(&self) -> ColumnMap<'_> {
        ColumnMap::new(&self.columns, &self.segments)
    }

    /// Serialized, pretty.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("manifest serializes")
    }
}

/// A file the manifest at `man_path` names (`rec`, as export was given
/// it, relative to export's directory): beside the manifest first, then
/// `rec` from the current directory; the first whose SHA-256 is `sha`, else
/// the first that exists (which the caller refuses as changed).
pub fn recorded_file(man_path: &Path, rec: &Path, sha: &str, what: &str) -> Result<PathBuf> {
    let beside = man_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(rec.file_name().unwrap_or_default());
    let there: Vec<PathBuf> = [beside, rec.to_path_buf()]
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    let same = |p: &&PathBuf| std::fs::read(p).is_ok_and(|b| crate::digest::sha256_hex(&b) == sha);
    let found = there.iter().find(same).or(there.first()).ok_or_else(|| {
        Error::invalid(
            man_path,
            format!(
                "names the {what} {}, which is not there (nor beside it); apply checks the patched model on it",
                rec.display()
            ),
        )
    })?;
    Ok(found.clone())
}

/// A path as gdmilp's JSON writes it: a string when it is UTF-8, else
/// `{"bytes": [...]}` (never a panic, never a lossy name).
pub fn path_json(p: &Path) -> serde_json::Value {
    os_path::serialize(p, serde_json::value::Serializer).unwrap_or(serde_json::Value::Null)
}

/// Paths in the manifest: a JSON string when they are UTF-8 (nearly all),
/// else `{"bytes": [...]}`, so that any path the system allows round-trips
/// (a file named `lay\xffer.mps` is a valid Linux path). Also how every
/// JSON gdmilp prints names a path ([`path_json`]).
pub(crate) mod os_path {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::path::{Path, PathBuf};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Raw { bytes: Vec<u8> },
    }

    pub fn serialize<S: Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
        match p.to_str() {
            Some(t) => t.serialize(s),
            None => Repr::Raw { bytes: raw(p) }.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        Ok(match Repr::deserialize(d)? {
            Repr::Text(t) => PathBuf::from(t),
            Repr::Raw { bytes } => from_raw(bytes),
        })
    }

    #[cfg(unix)]
    fn raw(p: &Path) -> Vec<u8> {
        use std::os::unix::ffi::OsStrExt;
        p.as_os_str().as_bytes().to_vec()
    }

    #[cfg(not(unix))]
    fn raw(p: &Path) -> Vec<u8> {
        p.to_string_lossy().as_bytes().to_vec()
    }

    #[cfg(unix)]
    fn from_raw(b: Vec<u8>) -> PathBuf {
        use std::os::unix::ffi::OsStringExt;
        PathBuf::from(std::ffi::OsString::from_vec(b))
    }

    #[cfg(not(unix))]
    fn from_raw(b: Vec<u8>) -> PathBuf {
        PathBuf::from(String::from_utf8_lossy(&b).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn paths_that_are_not_utf8_round_trip() {
        use std::os::unix::ffi::OsStrExt;
        let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"lay\xffer.mps"));
        let files = Files {
            milp: odd.clone(),
            start: PathBuf::from("layer.mps.mst"),
        };
        let json = serde_json::to_string(&files).unwrap();
        assert!(
            json.contains(r#""milp":{"bytes":[108,97,121,255"#),
            "{json}"
        );
        assert!(json.contains(r#""start":"layer.mps.mst""#), "{json}");
        let back: Files = serde_json::from_str(&json).unwrap();
        assert_eq!((back.milp, back.start), (odd, files.start));
    }

    #[test]
    fn a_column_map_numbers_listed_names_and_segment_runs_in_file_order() {
        // w_0_0 b_0 | o_7_0 z_7_0 sg_7_0_0..2 | sg_9_0_0..1 | o_9_1
        let listed: Vec<String> = ["w_0_0", "b_0", "o_7_0", "z_7_0", "o_9_1"]
            .map(String::from)
            .to_vec();
        let runs: Vec<SegmentRun> = ["4 7 0 3", "7 9 0 2"]
            .iter()
            .map(|s| SegmentRun::try_from(s.to_string()).unwrap())
            .collect();
        let map = ColumnMap::new(&listed, &runs);
        let names: Vec<String> = (0..map.len()).map(|k| map.name(k).unwrap()).collect();
        assert_eq!(
            names,
            [
                "w_0_0", "b_0", "o_7_0", "z_7_0", "sg_7_0_0", "sg_7_0_1", "sg_7_0_2", "sg_9_0_0",
                "sg_9_0_1", "o_9_1"
            ]
        );
        assert_eq!(map.name(10), None);
        for n in &names {
            assert!(map.contains(n), "{n}");
        }
        for n in ["sg_7_0_3", "sg_8_0_0", "w_0_1", "sg_9_1_0"] {
            assert!(!map.contains(n), "{n}");
        }
        assert_eq!(String::from(runs[1]), "7 9 0 2");
        for bad in ["7 9 0", "7 9 0 0", "a 9 0 2", "7 9 0 2 1"] {
            assert!(SegmentRun::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }
}

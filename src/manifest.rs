//! The manifest: what `export` promises and `apply` checks. JSON, written
//! beside the MILP file (`layer.mps` → `layer.mps.gdmilp.json`), tied to it
//! by a token both carry (a hash of the manifest's content, see
//! [`Manifest::content_token`]). Knows nothing about how files are written.

use crate::data::{Select, Task};
use crate::error::{Error, Result};
use crate::formulation::{MseBound, Options, Presolve};
use crate::onnx::FinalLayer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Version of the manifest layout.
pub const FORMAT_VERSION: u32 = 4;

/// The model the file was exported from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelRef {
    /// Path as given to export.
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

impl LayerRef {
    /// From a located layer.
    pub fn of(l: &FinalLayer) -> LayerRef {
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
}

/// The data the points came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataRef {
    /// Path as given to export.
    pub path: PathBuf,
    /// Inputs key.
    pub x_key: String,
    /// Labels key.
    pub y_key: String,
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
    /// Column names in file order (GLPK's `-w` numbers columns).
    pub columns: Vec<String>,
    /// The MILP file, the MIP start.
    pub files: Files,
    /// Variable naming scheme.
    pub naming: Vec<(String, String)>,
}

/// Files written by export.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Files {
    /// The MILP file.
    pub milp: PathBuf,
    /// The MIP start.
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
        let hex = crate::onnx::model::sha256_hex(m.to_json().as_bytes());
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

    /// Serialized, pretty.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("manifest serializes")
    }
}

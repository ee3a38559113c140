//! Which manifest goes with a solution: the one given, the one named like
//! it, or the only one of this model nearby; and the files a manifest
//! records (its data), found beside it or where export was given them.

use crate::error::{Error, Result};
use crate::formats::manifest::Manifest;
use std::path::{Path, PathBuf};

/// How [`find_manifest`] chose a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestSource {
    /// `--manifest`.
    Given,
    /// Named like the solution: `layer.v2.sol` ↔ `layer.v2.mps.gdmilp.json`.
    Named,
    /// The only manifest of this model nearby, not named like the
    /// solution: usable only when its columns and box accept the solution.
    Lone,
}

impl ManifestSource {
    /// Why this manifest, for the `manifest` line ("" when given).
    pub fn describe(self) -> &'static str {
        match self {
            ManifestSource::Given => "",
            ManifestSource::Named => " (named like the solution)",
            ManifestSource::Lone => {
                " (the only manifest of this model here; not named like the solution, but its columns and box accept it)"
            }
        }
    }
}

/// A manifest found for a solution.
pub struct Found {
    /// Its path.
    pub path: PathBuf,
    /// Its content.
    pub manifest: Manifest,
    /// How it was chosen.
    pub source: ManifestSource,
}

/// The names a solution or manifest file shares with its MILP file: the
/// file name without `.gdmilp.json` (or the solution's extension), and that
/// name without `.mps`/`.lp` and `.gz`: `layer.v2.mps.gdmilp.json` gives
/// (`layer.v2.mps`, `layer.v2`), `layer.v2.sol` gives (`layer.v2`,
/// `layer.v2`), `layer.v2.mps.sol` gives (`layer.v2.mps`, `layer.v2`).
fn stems(path: &Path, is_manifest: bool) -> (String, String) {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let lower = name.to_ascii_lowercase();
    let full = if is_manifest {
        lower
            .strip_suffix(crate::formats::MANIFEST_SUFFIX)
            .map_or(lower.len(), str::len)
    } else {
        lower.rfind('.').filter(|&k| k > 0).unwrap_or(lower.len())
    };
    let mut end = full;
    for ext in [".gz", ".mps", ".lp"] {
        if lower[..end].ends_with(ext) && end > ext.len() {
            end -= ext.len();
        }
    }
    (name[..full].to_string(), name[..end].to_string())
}

/// Among the manifests in one folder, the one for `solution`: of the
/// model with hash `sha256`, named exactly like it, else named like it up
/// to the format (several such with one token are one export written in
/// several formats), else the only one of that model.
fn pick(
    all: Vec<(PathBuf, Manifest)>,
    solution: &Path,
    sha256: &str,
    other_model: impl Fn(&Path) -> Error,
) -> Result<Option<(PathBuf, Manifest, ManifestSource)>> {
    let (full, base) = stems(solution, false);
    let named = |exact: bool| -> Vec<&(PathBuf, Manifest)> {
        all.iter()
            .filter(|(c, _)| {
                let (f, b) = stems(c, true);
                if exact {
                    f == full
                } else {
                    b == base
                }
            })
            .collect()
    };
    let exact = named(true);
    let loose = if exact.is_empty() {
        named(false)
    } else {
        exact
    };
    let mine: Vec<&(PathBuf, Manifest)> = loose
        .iter()
        .copied()
        .filter(|(_, m)| m.model.sha256 == sha256)
        .collect();
    let all_mine: Vec<&(PathBuf, Manifest)> = all
        .iter()
        .filter(|(_, m)| m.model.sha256 == sha256)
        .collect();
    let one_export = |v: &[&(PathBuf, Manifest)]| v.iter().all(|(_, m)| m.token == v[0].1.token);
    let (found, source) = match (mine.len(), loose.len(), all_mine.len()) {
        (1.., _, _) if one_export(&mine) => (mine[0], ManifestSource::Named),
        (0, 1.., _) => return Err(other_model(&loose[0].0)),
        (0, 0, 1) => (all_mine[0], ManifestSource::Lone),
        (0, 0, 0) => return Ok(None),
        _ => {
            let several = if mine.is_empty() { all_mine } else { mine };
            let names: Vec<String> = several
                .iter()
                .map(|(c, _)| c.display().to_string())
                .collect();
            return Err(Error::usage(format!(
                "{} manifests of this model's exports are here ({}) and not exactly one is named like {}; give --manifest",
                names.len(),
                names.join(", "),
                solution.display()
            )));
        }
    };
    Ok(Some((found.0.clone(), found.1.clone(), source)))
}

/// Finds the manifest: `explicit`, else among the `*.gdmilp.json` beside
/// the solution (then in the working directory) whose model hash is
/// `sha256`, the one named like the solution, else the only one (see
/// [`pick`]). Any
/// candidate that cannot be read, or is of an older format, is an error
/// naming it; so is a manifest whose MILP file, still beside it, carries
/// another export's token.
pub fn find_manifest(
    explicit: Option<&Path>,
    solution: &Path,
    sha256: &str,
    model: &Path,
) -> Result<Option<Found>> {
    let other_model = |p: &Path| {
        Error::invalid(
            p,
            format!("was exported from a different model than {} (SHA-256 differs); the solution does not belong to this model", model.display()),
        )
    };
    if let Some(p) = explicit {
        let m = Manifest::load(p)?;
        if m.model.sha256 != sha256 {
            return Err(other_model(p));
        }
        m.check_file(p)?;
        return Ok(Some(Found {
            path: p.to_path_buf(),
            manifest: m,
            source: ManifestSource::Given,
        }));
    }
    let sol_dir = solution
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut dirs = vec![sol_dir.to_path_buf()];
    if std::fs::canonicalize(sol_dir).ok() != std::fs::canonicalize(".").ok() {
        dirs.push(PathBuf::from("."));
    }
    for dir in dirs {
        let Some((path, manifest, source)) =
            pick(manifests_in(&dir)?, solution, sha256, other_model)?
        else {
            continue;
        };
        manifest.check_file(&path)?;
        return Ok(Some(Found {
            path,
            manifest,
            source,
        }));
    }
    Ok(None)
}

/// Every `*.gdmilp.json` in `dir`, read; one that cannot be is an error.
fn manifests_in(dir: &Path) -> Result<Vec<(PathBuf, Manifest)>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut candidates: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .ends_with(crate::formats::MANIFEST_SUFFIX)
            })
        })
        .collect();
    candidates.sort();
    candidates
        .into_iter()
        .map(|c| match Manifest::load(&c) {
            Ok(m) => Ok((c, m)),
            Err(Error::Invalid { path, msg }) => Err(Error::invalid(
                path,
                format!("{msg} (apply met it looking for the solution's manifest: move it away or give --manifest)"),
            )),
            Err(e) => Err(e),
        })
        .collect()
}

/// The data file a manifest names (see [`crate::formats::manifest::recorded_file`]).
pub fn manifest_data(man_path: &Path, man: &Manifest) -> Result<PathBuf> {
    crate::formats::manifest::recorded_file(man_path, &man.data.path, &man.data.sha256, "data file")
}

#[cfg(test)]
mod tests {
    use super::stems;
    use std::path::Path;

    #[test]
    fn solutions_and_manifests_match_by_the_whole_name() {
        let s = |p: &str, m: bool| stems(Path::new(p), m);
        let v2 = ("layer.v2".to_string(), "layer.v2".to_string());
        assert_eq!(s("d/layer.v2.sol", false), v2);
        assert_eq!(
            s("layer.v2.mps.gdmilp.json", true),
            ("layer.v2.mps".into(), "layer.v2".into())
        );
        assert_eq!(
            s("layer.v2.mps.sol", false),
            ("layer.v2.mps".into(), "layer.v2".into())
        );
        assert_eq!(s("layer.mps.gz.gdmilp.json", true).1, "layer");
        assert_ne!(s("layer.gdmilp.json", true).1, v2.1);
        assert_eq!(s("sol", false).0, "sol");
    }
}

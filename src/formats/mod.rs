//! Files, one module per format, reader and writer side by side: MILP
//! writers ([`mps`], [`lp`]), the MIP start ([`mip_start`]), solution
//! readers ([`solution`]), the [`manifest`] tying an export together, and
//! [`atomic`], which makes a command's outputs appear together or not at
//! all. Writers stream a [`Problem`] entry by entry; this stage knows
//! nothing about ONNX, ONNX Runtime or solvers.

pub mod atomic;
pub mod lp;
pub mod manifest;
pub mod mip_start;
pub mod mps;
pub mod solution;
pub mod tag;
#[cfg(test)]
mod tiny;

use crate::error::{Error, IoContext, Result};
use crate::formats::atomic::AtomicFile;
use crate::formulation::Problem;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A MILP file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Free MPS.
    Mps,
    /// CPLEX LP.
    Lp,
}

/// A format plus compression, picked from a file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKind {
    /// The format.
    pub format: Format,
    /// gzip-compressed.
    pub gz: bool,
}

impl FileKind {
    /// From the extension: `.mps`, `.lp`, optionally followed by `.gz`.
    pub fn from_path(path: &Path) -> Result<FileKind> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let (base, gz) = match name.strip_suffix(".gz") {
            Some(b) => (b.to_string(), true),
            None => (name.clone(), false),
        };
        let format = if base.ends_with(".mps") {
            Format::Mps
        } else if base.ends_with(".lp") {
            Format::Lp
        } else {
            return Err(Error::invalid(
                path,
                "cannot tell the format from the extension; use .mps, .lp, .mps.gz or .lp.gz",
            ));
        };
        Ok(FileKind { format, gz })
    }
}

/// The files export writes beside a MILP file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecars {
    /// The manifest, `NAME.gdmilp.json`.
    pub manifest: PathBuf,
    /// The MIP start, `NAME.mst`.
    pub start: PathBuf,
    /// CBC's MIP start, `NAME.cbc.mst`.
    pub cbc_start: PathBuf,
}

/// The sidecars of `model_file`, named after its whole file name so that
/// exports to `layer.mps`, `layer.lp` and `layer.mps.gz` never share one:
/// `layer.mps` → `layer.mps.gdmilp.json` and `layer.mps.mst`. The one place
/// that names them.
pub fn sidecars(model_file: &Path) -> Sidecars {
    // Appended to the name as the system has it (a name that is not UTF-8
    // keeps its bytes).
    let with = |suffix: &str| {
        let mut name = model_file.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        model_file.with_file_name(name)
    };
    Sidecars {
        manifest: with(MANIFEST_SUFFIX),
        start: with(".mst"),
        cbc_start: mip_start::cbc_path(model_file),
    }
}

/// The files of the export a manifest describes (its MILP file and MIP
/// starts beside it): inputs of `apply`, never its output.
pub fn export_files(manifest: &Path) -> Vec<PathBuf> {
    let Some(name) = manifest.file_name() else {
        return Vec::new();
    };
    #[cfg(unix)]
    let stem = {
        use std::os::unix::ffi::OsStrExt;
        name.as_bytes()
            .strip_suffix(MANIFEST_SUFFIX.as_bytes())
            .map(|s| std::ffi::OsStr::from_bytes(s).to_os_string())
    };
    #[cfg(not(unix))]
    let stem = name
        .to_str()
        .and_then(|n| n.strip_suffix(MANIFEST_SUFFIX))
        .map(std::ffi::OsString::from);
    let Some(stem) = stem else {
        return Vec::new();
    };
    let milp = manifest.with_file_name(stem);
    let s = sidecars(&milp);
    vec![milp, s.start, s.cbc_start]
}

/// The suffix of every manifest's file name.
pub const MANIFEST_SUFFIX: &str = ".gdmilp.json";

/// Stored column and row names, made once per file; generated rows
/// (tangents) and columns (segments) are named as they are written.
pub(crate) struct Names {
    cols: Vec<String>,
    rows: Vec<String>,
    scratch: Vec<u8>,
}

impl Names {
    pub fn of(p: &Problem) -> Names {
        Names {
            cols: p
                .stored_columns()
                .iter()
                .map(|c| c.var.to_string())
                .collect(),
            rows: (0..p.num_stored_rows())
                .map(|r| p.row_head(r).name.to_string())
                .collect(),
            scratch: Vec::new(),
        }
    }

    /// The name of column `c` of `p` (a generated one formatted into a
    /// scratch buffer, valid until the next call).
    pub fn col(&mut self, p: &Problem, c: usize) -> &str {
        match p.stored_index(c) {
            Some(k) => &self.cols[k],
            None => {
                self.scratch.clear();
                p.column_var(c).push_to(&mut self.scratch);
                std::str::from_utf8(&self.scratch).expect("names are ASCII")
            }
        }
    }

    /// Writes the name of column `c` of `p`.
    pub fn put_col(&self, s: &mut Sink, p: &Problem, c: usize) {
        match p.stored_index(c) {
            Some(k) => s.s(&self.cols[k]),
            None => p.column_var(c).push_to(&mut s.buf),
        }
    }

    /// Writes the name of row `r` of `p`; generated rows are formatted in
    /// place, without a String each.
    pub fn put_row(&self, s: &mut Sink, p: &Problem, r: usize) {
        match self.rows.get(r) {
            Some(n) => s.s(n),
            None => p.row_head(r).name.push_to(&mut s.buf),
        }
    }
}

/// Bytes per chunk handed to the writer thread.
const CHUNK: usize = 1 << 20;

/// The text being written: a buffer that writers fill and, every
/// [`CHUNK`] bytes, hand to a writer thread, so formatting (this thread)
/// and output (compression, the file system) run on two cores.
pub(crate) struct Sink {
    pub buf: Vec<u8>,
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
    back: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl Sink {
    pub fn s(&mut self, s: &str) {
        self.buf.extend_from_slice(s.as_bytes());
    }

    pub fn num(&mut self, v: f64) {
        crate::num::push(&mut self.buf, v);
    }

    pub fn maybe_flush(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= CHUNK {
            let fresh = self
                .back
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(CHUNK + 4096));
            let full = std::mem::replace(&mut self.buf, fresh);
            self.tx
                .send(full)
                .map_err(|_| std::io::Error::other("the writer thread stopped"))?;
        }
        Ok(())
    }
}

/// Runs `body` with a [`Sink`] whose chunks a second thread writes to `w`.
/// The writer's own error (disk full, ...) wins over the body's.
pub(crate) fn pipelined<W: Write + Send>(
    w: W,
    body: impl FnOnce(&mut Sink) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> std::io::Result<()> {
            let mut w = w;
            for mut chunk in rx {
                w.write_all(&chunk)?;
                chunk.clear();
                let _ = back_tx.send(chunk);
            }
            w.flush()
        });
        let mut sink = Sink {
            buf: Vec::with_capacity(CHUNK + 4096),
            tx,
            back: back_rx,
        };
        let body_result = body(&mut sink).and_then(|_| {
            let last = std::mem::take(&mut sink.buf);
            sink.tx
                .send(last)
                .map_err(|_| std::io::Error::other("the writer thread stopped"))
        });
        drop(sink);
        let write_result = writer.join().expect("the writer thread does not panic");
        write_result.and(body_result)
    })
}

/// Checks that every number the file will hold is finite, naming the first
/// offender. (The features are checked when computed; this is the last
/// line of defence before a solver sees the file.)
pub fn check_finite(p: &Problem) -> std::result::Result<(), String> {
    p.check_finite()
}

/// Writes `p` to `path` in the format its extension names, atomically.
/// Returns the number of bytes written (before compression).
pub fn write_problem(p: &Problem, path: &Path) -> Result<u64> {
    let (n, file) = write_problem_named(p, path, "gdmilp")?;
    crate::formats::atomic::commit_all(vec![file])?;
    Ok(n)
}

/// Writes `p` with the problem name `name` to a temporary file for `path`,
/// to be renamed into place with the files of its group
/// ([`crate::formats::atomic::commit_all`]). Returns the bytes written (before
/// compression) and the finished file.
pub fn write_problem_named(
    p: &Problem,
    path: &Path,
    name: &str,
) -> Result<(u64, crate::formats::atomic::Finished)> {
    let kind = FileKind::from_path(path)?;
    check_finite(p).map_err(|m| Error::invalid(path, format!("cannot write the model: {m}")))?;
    let mut file = AtomicFile::create(path)?;
    let counted = if kind.gz {
        let mut gz = flate2::write::GzEncoder::new(file.writer(), flate2::Compression::default());
        let n = write_counted(p, kind.format, name, &mut gz).at(path, "write")?;
        // The trailer, checked (dropping the encoder would write it unchecked).
        gz.try_finish().at(path, "write")?;
        n
    } else {
        write_counted(p, kind.format, name, file.writer()).at(path, "write")?
    };
    Ok((counted, file.finish()?))
}

/// Writes `p` as `format` into `w`; the bytes written.
fn write_counted<W: Write + Send>(
    p: &Problem,
    format: Format,
    name: &str,
    w: W,
) -> std::io::Result<u64> {
    let mut counter = Counter { inner: w, n: 0 };
    match format {
        Format::Mps => mps::write_named(p, name, &mut counter),
        Format::Lp => lp::write_named(p, name, &mut counter),
    }?;
    counter.inner.flush()?;
    Ok(counter.n)
}

struct Counter<W: Write> {
    inner: W,
    n: u64,
}

impl<W: Write> Write for Counter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_of_different_formats_never_collide() {
        let names: Vec<Sidecars> = ["out.mps", "out.lp", "out.mps.gz", "out.lp.gz"]
            .iter()
            .map(|f| sidecars(Path::new("d").join(f).as_path()))
            .collect();
        assert_eq!(names[0].manifest, Path::new("d/out.mps.gdmilp.json"));
        assert_eq!(names[2].start, Path::new("d/out.mps.gz.mst"));
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert!(a.manifest != b.manifest && a.start != b.start);
            }
        }
    }
}

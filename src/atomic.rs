//! Output files that appear only when complete: written to a temporary file
//! in the target's directory and renamed over the target on `commit`. A
//! failure (or a dropped, uncommitted file) leaves nothing behind.

use crate::error::{Error, IoContext, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file being written; invisible under its real name until committed.
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
}

/// A temporary path beside `target` (same directory, so a rename is
/// atomic), after checking that `target` can be a file.
pub fn temp_path(target: &Path) -> Result<PathBuf> {
    if target.is_dir() {
        return Err(Error::invalid(
            target,
            "is a directory; give a file name for the output",
        ));
    }
    let name = target
        .file_name()
        .ok_or_else(|| Error::invalid(target, "is not a file name"))?
        .to_string_lossy();
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(dir.join(format!(".{name}.{}.gdmilp-tmp", std::process::id())))
}

impl AtomicFile {
    /// Starts writing `target`.
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let tmp = temp_path(target)?;
        let file = File::create(&tmp).map_err(|e| Error::io(target, "create", e))?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            tmp,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// The writer.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.file.as_mut().expect("not committed yet")
    }

    /// Flushes and renames into place.
    pub fn commit(mut self) -> Result<()> {
        let mut w = self.file.take().expect("commit once");
        w.flush().at(&self.target, "write")?;
        let f = w
            .into_inner()
            .map_err(|e| Error::io(&self.target, "write", e.into_error()))?;
        // No fsync: the rename guarantees no partial file from a failed run;
        // crash durability is not promised (measured: fsync doubled the time
        // to write a 93 MB MPS file).

        drop(f);
        std::fs::rename(&self.tmp, &self.target).at(&self.target, "write")?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            self.file = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `target` atomically.
pub fn write_all(target: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(target)?;
    f.writer().write_all(bytes).at(target, "write")?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("gdmilp-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("out.txt");
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"partial").unwrap();
        }
        assert!(std::fs::read_dir(&dir).unwrap().next().is_none());
        write_all(&target, b"done").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"done");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Output files that appear only when complete, and only together, even
//! when the process dies at any system call (docs/file-contract-transactions.md):
//!
//! - each file is written to a temporary `.NAME.PID.gdmilp-tmp` beside its
//!   target and synced;
//! - one file is renamed into place and its folder synced;
//! - a group of files is a transaction: the previous files are kept
//!   (hard-linked as `.NAME.PID.gdmilp-old`), then a journal listing every
//!   rename is written and synced and renamed to `.FIRST.gdmilp-journal`
//!   beside the group's first file — that rename is the commit — then the
//!   files are renamed into place, the folders synced, and the backups and
//!   the journal removed. A failure before the commit leaves the previous
//!   files; a failure after it puts them back (and withdraws the journal);
//!   a process that dies after it leaves a journal that the next run
//!   reading or writing the files completes ([`settle_dir`], [`Lock::take`]):
//!   either way the group is the previous files or the complete new ones.
//!
//! The writer holds an advisory lock (`flock`) on its journal while the
//! journal exists, and on `.NAME.gdmilp-lock` from its checks to its last
//! rename ([`Lock`]): a journal or temporary is another run's only while
//! that run lives. The next run on an output removes what dead runs left
//! beside it; [`remove_temporaries_on_signals`] makes SIGINT, SIGTERM and
//! SIGHUP remove the run's own before it exits.
//!
//! Also owns the checks every output gets before the slow work starts
//! ([`check_outputs`]: not a directory, replaceable, its folder writable,
//! not an input, named once). Knows nothing about what the files hold.

use crate::error::{Error, IoContext, Result};
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Whether a commit makes the files durable: each temporary file is synced
/// before the renames, and its folder after them, so that after a crash
/// the group is either the old files or the complete new ones. Measured on
/// a 115 MB MPS export (README, Files): a median 1.32 s against 1.19 s
/// without, worth it.
const DURABLE: bool = true;

/// The suffixes of what a run keeps beside an output while it runs.
const TMP: &str = "gdmilp-tmp";
const OLD: &str = "gdmilp-old";
const JOURNAL_TMP: &str = "gdmilp-journal-tmp";
const JOURNAL: &str = "gdmilp-journal";
const LOCK: &str = "gdmilp-lock";

/// The first line of a journal.
const JOURNAL_HEAD: &str = "gdmilp-journal 1";

/// The paths this process would leave behind if it stopped now (its
/// temporaries, backups and lock files): what a signal removes.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Held while a group is renamed: a signal waits for the commit (or its
/// undoing) to finish rather than remove a temporary the journal names.
static COMMIT: Mutex<()> = Mutex::new(());

fn live_add(p: &Path) {
    if let Ok(mut v) = LIVE.lock() {
        v.push(p.to_path_buf());
    }
}

fn live_remove(p: &Path) {
    if let Ok(mut v) = LIVE.lock() {
        if let Some(k) = v.iter().rposition(|x| x == p) {
            v.swap_remove(k);
        }
    }
}

/// Removes `p` (if there) and forgets it.
fn remove(p: &Path) {
    let _ = std::fs::remove_file(p);
    live_remove(p);
}

/// The file a path names once its symbolic links are followed: writing
/// "through" a link replaces the file it points to and keeps the link.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p).at(path, "follow the link")?;
                p = match p.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Error::invalid(
        path,
        "has too many levels of symbolic links",
    ))
}

/// A temporary path beside `target` (same directory, so a rename is
/// atomic), after checking that `target` can be a file.
pub fn temp_path(target: &Path) -> Result<PathBuf> {
    sibling(target, &format!("{}.{TMP}", std::process::id()))
}

/// `.NAME.SUFFIX` in `target`'s folder.
fn sibling(target: &Path, suffix: &str) -> Result<PathBuf> {
    if target.is_dir() {
        return Err(Error::invalid(
            target,
            "is a directory; give a file name for the output",
        ));
    }
    let name = target
        .file_name()
        .ok_or_else(|| Error::invalid(target, "is not a file name"))?;
    let mut n = OsString::from(".");
    n.push(name);
    n.push(".");
    n.push(suffix);
    Ok(folder(target).join(n))
}

fn folder(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The canonical form of a path that may not exist yet (its folder must).
fn canonical(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok().or_else(|| {
        let dir = std::fs::canonicalize(folder(path)).ok()?;
        Some(dir.join(path.file_name()?))
    })
}

/// Whether process `pid` is running (a process we may not signal is).
#[cfg(unix)]
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks that the process exists.
    if unsafe { libc::kill(p, 0) } == 0 {
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn alive(_pid: u32) -> bool {
    true
}

/// Removes, beside `target` (links followed), the temporaries, backups and
/// journal temporaries that runs no longer alive left for it.
fn remove_stale(target: &Path) {
    let Some(name) = target.file_name() else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(folder(target)) else {
        return;
    };
    for e in entries.flatten() {
        let file = e.file_name();
        let file = file.to_string_lossy();
        let Some(rest) = file.strip_prefix(&prefix) else {
            continue;
        };
        let Some((pid, kind)) = rest.split_once('.') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if [TMP, OLD, JOURNAL_TMP].contains(&kind) && !alive(pid) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Checks, before any slow work, that every one of `outputs` can be
/// written and renamed into place: not a directory or a device, not a file
/// that cannot be replaced (read-only, immutable), its folder there and
/// writable, not one of `inputs` (compared after following links), and no
/// two outputs the same file. Removes what dead runs left beside them.
pub fn check_outputs(outputs: &[&Path], inputs: &[&Path]) -> Result<()> {
    let inputs: Vec<(PathBuf, &Path)> = inputs
        .iter()
        .filter_map(|i| Some((std::fs::canonicalize(i).ok()?, *i)))
        .collect();
    let mut seen: Vec<(PathBuf, &Path)> = Vec::new();
    for &out in outputs {
        let real = resolve(out)?;
        check_replaceable(out, &real)?;
        remove_stale(&real);
        let Some(canon) = canonical(&real) else {
            continue;
        };
        if let Some((_, input)) = inputs.iter().find(|(c, _)| *c == canon) {
            return Err(Error::invalid(
                out,
                format!(
                    "is also an input ({}); writing it would destroy that input: choose another output name",
                    input.display()
                ),
            ));
        }
        if let Some((_, other)) = seen.iter().find(|(c, _)| *c == canon) {
            return Err(Error::invalid(
                out,
                format!(
                    "is the same file as the output {}; give each output its own name",
                    other.display()
                ),
            ));
        }
        seen.push((canon, out));
    }
    Ok(())
}

/// `real` (the file `shown` resolves to) can be replaced by a rename.
fn check_replaceable(shown: &Path, real: &Path) -> Result<()> {
    if let Ok(m) = std::fs::metadata(real) {
        if m.is_dir() {
            return Err(Error::invalid(
                shown,
                "is a directory; give a file name for the output",
            ));
        }
        if !m.is_file() {
            return Err(Error::invalid(
                shown,
                "is not a regular file (a device, pipe or socket); give a file name for the output",
            ));
        }
        // Opening for writing (without truncating) fails on a read-only or
        // immutable file, which a rename would also fail to replace.
        std::fs::OpenOptions::new()
            .write(true)
            .open(real)
            .at(shown, "replace")?;
    }
    // The folder: there, and a file can be created in it.
    let probe = temp_path(real)?;
    live_add(&probe);
    let made = File::create(&probe).at(shown, "create");
    remove(&probe);
    made.map(drop)
}

/// Takes an exclusive `flock` on `file` without waiting: false when
/// another process holds one.
fn try_lock(file: &File, shown: &Path) -> Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(shown, "lock", e)),
    }
}

/// An advisory lock on one output (`flock` on `.NAME.gdmilp-lock` beside
/// the file it resolves to), held from the checks to the last rename. A
/// second run on the same output fails at once with a line saying so.
pub struct Lock {
    path: PathBuf,
    _file: File,
}

impl Lock {
    /// Takes the lock of `output`, or says which run holds it; then
    /// completes a group a dead run left half renamed in its folder and
    /// removes what dead runs left beside it.
    pub fn take(output: &Path) -> Result<Lock> {
        let real = resolve(output)?;
        let path = sibling(&real, LOCK)?;
        loop {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .at(output, "create")?;
            live_add(&path);
            if !try_lock(&file, output)? {
                live_remove(&path);
                return Err(Error::invalid(
                    output,
                    format!(
                        "another gdmilp run is writing this output now (it holds {}); wait for it to finish or choose another name",
                        path.display()
                    ),
                ));
            }
            // The holder before us removes the file before unlocking: a
            // lock on a removed file guards nothing, so open it again.
            if same_file(&file, &path) {
                let lock = Lock { path, _file: file };
                settle_dir(&folder(&real))?;
                remove_stale(&real);
                return Ok(lock);
            }
            live_remove(&path);
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, path: &Path) -> bool {
    path.exists()
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still locked; the lock goes with the handle.
        remove(&self.path);
    }
}

/// A file being written; invisible under its real name until committed.
pub struct AtomicFile {
    shown: PathBuf,
    target: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `target` (through its links, see [`resolve`]).
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let real = resolve(target)?;
        let tmp = temp_path(&real)?;
        live_add(&tmp);
        let file = match File::create(&tmp) {
            Ok(f) => f,
            Err(e) => {
                remove(&tmp);
                return Err(Error::io(target, "create", e));
            }
        };
        Ok(AtomicFile {
            shown: target.to_path_buf(),
            target: real,
            tmp,
            file: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// The path as given.
    pub fn path(&self) -> &Path {
        &self.shown
    }

    /// The writer.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.file.as_mut().expect("not finished yet")
    }

    /// Flushes, checks and closes the temporary file; it is renamed into
    /// place by [`commit_all`] (or removed when the result is dropped).
    pub fn finish(mut self) -> Result<Finished> {
        let w = self.file.take().expect("finish once");
        let tmp = std::mem::take(&mut self.tmp);
        let done = Finished {
            shown: self.shown.clone(),
            target: self.target.clone(),
            tmp,
        };
        let f = match w.into_inner() {
            Ok(f) => f,
            Err(e) => {
                let (err, w) = e.into_parts();
                drop(w.into_parts());
                return Err(Error::io(&self.shown, "write", err));
            }
        };
        if DURABLE {
            f.sync_all().at(&self.shown, "write")?;
        }
        Ok(done)
    }

    /// Finishes and renames into place.
    pub fn commit(self) -> Result<()> {
        commit_all(vec![self.finish()?])
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
        if let Some(w) = self.file.take() {
            // Discard the buffer: flushing it would only grow a doomed file
            // (on a full disk, fail again).
            drop(w.into_parts());
        }
        if !self.tmp.as_os_str().is_empty() {
            remove(&self.tmp);
        }
    }
}

/// A complete temporary file waiting for its rename; removed when dropped
/// uncommitted.
pub struct Finished {
    shown: PathBuf,
    target: PathBuf,
    tmp: PathBuf,
}

impl Drop for Finished {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            remove(&self.tmp);
        }
    }
}

/// Renames every file into place, or none (see the module's comment): one
/// file by a rename; a group through a journal, so that a failure puts the
/// previous files back and a crash leaves a group the next run completes.
pub fn commit_all(mut files: Vec<Finished>) -> Result<()> {
    let _commit = COMMIT.lock().unwrap_or_else(|e| e.into_inner());
    // What dead runs left for these files (files named only now, such as
    // a patched model's data files, were not among the checked outputs).
    for f in &files {
        remove_stale(&f.target);
    }
    if files.len() == 1 {
        let f = &mut files[0];
        std::fs::rename(&f.tmp, &f.target).at(&f.shown, "write")?;
        live_remove(&f.tmp);
        f.tmp = PathBuf::new();
        sync_folders(files.iter().map(|f| f.target.as_path()));
        return Ok(());
    }
    if files.is_empty() {
        return Ok(());
    }
    let mut backups: Vec<Option<PathBuf>> = Vec::new();
    for f in &files {
        match backup(f) {
            Ok(b) => backups.push(b),
            Err(e) => {
                remove_backups(&backups);
                return Err(e);
            }
        }
    }
    let journal = match Journal::write(&files, &backups) {
        Ok(j) => j,
        Err(e) => {
            remove_backups(&backups);
            return Err(e);
        }
    };
    // Committed. From here on the temporaries are the journal's: none is
    // removed until the group is complete or put back.
    let tmps: Vec<PathBuf> = files
        .iter_mut()
        .map(|f| std::mem::take(&mut f.tmp))
        .collect();
    for k in 0..files.len() {
        if let Err(e) = std::fs::rename(&tmps[k], &files[k].target) {
            let err = Error::io(&files[k].shown, "write", e);
            undo(&files[..k], &tmps, &backups, journal);
            return Err(err);
        }
        live_remove(&tmps[k]);
    }
    // The rest only tidies up: a failure here leaves files the next run
    // removes, never another set.
    sync_folders(files.iter().map(|f| f.target.as_path()));
    remove_backups(&backups);
    journal.finish();
    Ok(())
}

/// Puts back the previous files after the rename of `files.len()`-th file
/// failed: each renamed file goes back to its temporary first (so that the
/// journal can still complete the group should the process die half-way),
/// then its backup back into place; then the journal is withdrawn and the
/// temporaries and backups removed. When a step fails the journal stays,
/// with every file it names, and the next run completes the group.
fn undo(renamed: &[Finished], tmps: &[PathBuf], backups: &[Option<PathBuf>], journal: Journal) {
    let mut put_back = true;
    for (i, f) in renamed.iter().enumerate().rev() {
        if std::fs::rename(&f.target, &tmps[i]).is_err() {
            put_back = false;
            break;
        }
        if let Some(b) = &backups[i] {
            if std::fs::rename(b, &f.target).is_err() {
                put_back = false;
                break;
            }
            live_remove(b);
        }
    }
    sync_folders(renamed.iter().map(|f| f.target.as_path()));
    if put_back && journal.withdraw() {
        for t in tmps {
            remove(t);
        }
        remove_backups(backups);
    } else {
        // Left for the next run: not removed by a signal either.
        for p in tmps.iter().chain(backups.iter().flatten()) {
            live_remove(p);
        }
    }
}

/// Syncs each folder of `targets` once (what makes renames durable).
fn sync_folders<'a>(targets: impl Iterator<Item = &'a Path>) {
    if !DURABLE {
        return;
    }
    let mut done: Vec<PathBuf> = Vec::new();
    for t in targets {
        let dir = folder(t);
        if done.contains(&dir) {
            continue;
        }
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        done.push(dir);
    }
}

/// The previous file at `f`'s target, linked under a backup name.
fn backup(f: &Finished) -> Result<Option<PathBuf>> {
    if !f.target.is_file() {
        return Ok(None);
    }
    let b = sibling(&f.target, &format!("{}.{OLD}", std::process::id()))?;
    live_add(&b);
    let _ = std::fs::remove_file(&b);
    if std::fs::hard_link(&f.target, &b).is_err() {
        if let Err(e) = std::fs::copy(&f.target, &b) {
            remove(&b);
            return Err(Error::io(&f.shown, "keep a copy of", e));
        }
    }
    Ok(Some(b))
}

fn remove_backups(backups: &[Option<PathBuf>]) {
    for b in backups.iter().flatten() {
        remove(b);
    }
}

/// A group's commit record: `.FIRST.gdmilp-journal` beside the group's
/// first file, locked by the writer while it exists. Lines: the head, then
/// `file TARGET TMP BACKUP` per file (paths absolute, as hex bytes; `-` for
/// no backup), then `end`.
struct Journal {
    path: PathBuf,
    /// Locked while the journal exists.
    _file: File,
}

/// One line of a journal.
struct Entry {
    target: PathBuf,
    tmp: PathBuf,
    backup: Option<PathBuf>,
}

impl Journal {
    /// Writes, syncs and renames the journal into place (the commit).
    fn write(files: &[Finished], backups: &[Option<PathBuf>]) -> Result<Journal> {
        let first = &files[0];
        let path = sibling(&first.target, JOURNAL)?;
        let tmp = sibling(
            &first.target,
            &format!("{}.{JOURNAL_TMP}", std::process::id()),
        )?;
        let mut text = format!("{JOURNAL_HEAD}\n");
        for (f, b) in files.iter().zip(backups) {
            let abs = |p: &Path| canonical(p).unwrap_or_else(|| p.to_path_buf());
            text.push_str(&format!(
                "file {} {} {}\n",
                hex(&abs(&f.target)),
                hex(&abs(&f.tmp)),
                b.as_deref().map_or("-".to_string(), |b| hex(&abs(b)))
            ));
        }
        text.push_str("end\n");
        live_add(&tmp);
        let written = (|| -> std::io::Result<File> {
            let mut file = File::create(&tmp)?;
            // Held while the journal exists: the journal is ours only while
            // this process lives.
            file.try_lock().map_err(std::io::Error::other)?;
            file.write_all(text.as_bytes())?;
            if DURABLE {
                file.sync_all()?;
            }
            std::fs::rename(&tmp, &path)?;
            Ok(file)
        })();
        let file = match written {
            Ok(f) => f,
            Err(e) => {
                remove(&tmp);
                return Err(Error::io(&first.shown, "write", e));
            }
        };
        live_remove(&tmp);
        let journal = Journal { path, _file: file };
        if DURABLE {
            let synced = File::open(folder(&journal.path)).and_then(|d| d.sync_all());
            if let Err(e) = synced {
                // Not known to be durable: withdraw it (if it cannot be
                // withdrawn, it stands, and the commit goes on).
                if journal.withdraw() {
                    return Err(Error::io(&first.shown, "write", e));
                }
            }
        }
        Ok(journal)
    }

    /// Removes the journal after the group was put back: true when it is
    /// gone (else it stands, and the next run completes the group).
    fn withdraw(&self) -> bool {
        std::fs::remove_file(&self.path).is_ok()
    }

    /// Removes the journal of a completed group (the lock goes with it).
    fn finish(self) {
        let _ = std::fs::remove_file(&self.path);
    }

    /// Reads a journal: None when it is not one (a journal is renamed into
    /// place complete, so a partial one was never a commit).
    fn parse(text: &str) -> Option<Vec<Entry>> {
        let mut lines = text.lines();
        if lines.next()? != JOURNAL_HEAD {
            return None;
        }
        let mut out = Vec::new();
        for l in lines {
            if l == "end" {
                return Some(out);
            }
            let f: Vec<&str> = l.split(' ').collect();
            let ["file", target, tmp, backup] = f[..] else {
                return None;
            };
            out.push(Entry {
                target: unhex(target)?,
                tmp: unhex(tmp)?,
                backup: if backup == "-" {
                    None
                } else {
                    Some(unhex(backup)?)
                },
            });
        }
        None
    }
}

/// Completes the group a dead run committed: every temporary still there
/// is renamed into place, then the backups and the journal go. Idempotent,
/// so dying half-way through is fine too. The caller holds the journal's lock.
fn complete(path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path).at(path, "read")?;
    let Some(entries) = Journal::parse(&text) else {
        let _ = std::fs::remove_file(path);
        return Ok(());
    };
    for e in &entries {
        if e.tmp.is_file() {
            std::fs::rename(&e.tmp, &e.target).map_err(|err| {
                Error::invalid(
                    &e.target,
                    format!(
                        "cannot complete the group of files {} records (a run stopped while renaming them): renaming {} here failed: {err}",
                        path.display(),
                        e.tmp.display()
                    ),
                )
            })?;
        }
    }
    sync_folders(entries.iter().map(|e| e.target.as_path()));
    for e in &entries {
        if let Some(b) = &e.backup {
            let _ = std::fs::remove_file(b);
        }
    }
    let _ = std::fs::remove_file(path);
    Ok(())
}

/// Completes every group in `dir` that a run which is no longer alive
/// committed but did not finish renaming (its journal is there and
/// unlocked). Each run reading or writing files gdmilp wrote calls this
/// for their folders first, so that it never reads half of a group.
pub fn settle_dir(dir: &Path) -> Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let suffix = format!(".{JOURNAL}");
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(&suffix)) {
            continue;
        }
        let path = e.path();
        let Ok(file) = File::open(&path) else {
            continue;
        };
        // Locked: its writer is alive (and finishes it itself).
        if !try_lock(&file, &path)? || !same_file(&file, &path) {
            continue;
        }
        complete(&path)?;
    }
    Ok(())
}

/// Settles the folder of each of `files` (see [`settle_dir`]).
pub fn settle(files: &[&Path]) -> Result<()> {
    let mut done: Vec<PathBuf> = Vec::new();
    for f in files {
        let dir = folder(f);
        if !done.contains(&dir) {
            settle_dir(&dir)?;
            done.push(dir);
        }
    }
    Ok(())
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().as_bytes().to_vec()
}

#[cfg(unix)]
fn path_from(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn path_from(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

fn hex(p: &Path) -> String {
    path_bytes(p).iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<PathBuf> {
    if !s.len().is_multiple_of(2) || s.is_empty() {
        return None;
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(path_from(bytes))
}

/// `bytes`, written to a temporary file for `target` and finished.
pub fn finished(target: &Path, bytes: &[u8]) -> Result<Finished> {
    let mut f = AtomicFile::create(target)?;
    f.writer().write_all(bytes).at(target, "write")?;
    f.finish()
}

/// Writes `bytes` to `target` atomically.
pub fn write_all(target: &Path, bytes: &[u8]) -> Result<()> {
    commit_all(vec![finished(target, bytes)?])
}

/// Makes SIGINT, SIGTERM and SIGHUP remove this process's temporaries,
/// backups and lock files (waiting for a commit under way to finish) and
/// then end the process by that signal, as it would have ended. Call it
/// first thing in `main`, before any thread starts: the signals are
/// blocked in every thread and taken by one thread of their own.
#[cfg(unix)]
pub fn remove_temporaries_on_signals() {
    // SAFETY: plain libc calls on a zeroed signal set owned here.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("gdmilp-signals".into())
            .spawn(move || {
                let mut sig: libc::c_int = 0;
                if libc::sigwait(&set, &mut sig) != 0 {
                    return;
                }
                let _commit = COMMIT.lock().unwrap_or_else(|e| e.into_inner());
                if let Ok(v) = LIVE.lock() {
                    for p in v.iter() {
                        let _ = std::fs::remove_file(p);
                    }
                }
                // End as the signal would have ended the process.
                libc::signal(sig, libc::SIG_DFL);
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                libc::raise(sig);
                libc::_exit(128 + sig);
            });
        if spawned.is_err() {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}

/// (Signals are not handled on this platform.)
#[cfg(not(unix))]
pub fn remove_temporaries_on_signals() {}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gdmilp-atomic-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn listing(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn uncommitted_file_leaves_nothing() {
        let dir = dir("drop");
        let target = dir.join("out.txt");
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"partial").unwrap();
        }
        assert!(listing(&dir).is_empty());
        drop(finished(&target, b"complete").unwrap());
        assert!(listing(&dir).is_empty());
        write_all(&target, b"done").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"done");
        assert_eq!(listing(&dir), ["out.txt"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_group_is_committed_whole_and_leaves_no_journal() {
        let dir = dir("commit");
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::write(&a, "old a").unwrap();
        commit_all(vec![
            finished(&a, b"new a").unwrap(),
            finished(&b, b"new b").unwrap(),
        ])
        .unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new a");
        assert_eq!(std::fs::read(&b).unwrap(), b"new b");
        assert_eq!(listing(&dir), ["a", "b"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_rename_puts_every_previous_file_back() {
        let dir = dir("group");
        let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
        std::fs::write(&a, "old a").unwrap();
        let files = vec![
            finished(&a, b"new a").unwrap(),
            finished(&b, b"new b").unwrap(),
            finished(&c, b"new c").unwrap(),
        ];
        // c became a directory after the checks: its rename fails.
        std::fs::create_dir(&c).unwrap();
        assert!(commit_all(files).is_err());
        assert_eq!(std::fs::read(&a).unwrap(), b"old a");
        assert_eq!(listing(&dir), ["a", "c"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The state a run that died after its commit leaves: some files
    /// renamed, the others' temporaries, the backups and the journal.
    #[test]
    fn a_group_a_dead_run_half_renamed_is_completed_by_the_next_one() {
        let dir = dir("settle");
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::write(&a, "old a").unwrap();
        std::fs::write(&b, "old b").unwrap();
        let (ta, tb) = (
            dir.join(".a.999999999.gdmilp-tmp"),
            dir.join(".b.999999999.gdmilp-tmp"),
        );
        let (ba, bb) = (
            dir.join(".a.999999999.gdmilp-old"),
            dir.join(".b.999999999.gdmilp-old"),
        );
        std::fs::hard_link(&a, &ba).unwrap();
        std::fs::hard_link(&b, &bb).unwrap();
        std::fs::write(&tb, "new b").unwrap();
        std::fs::write(&a, "new a").unwrap(); // a renamed, b not yet
        let text = format!(
            "{JOURNAL_HEAD}\nfile {} {} {}\nfile {} {} {}\nend\n",
            hex(&a),
            hex(&ta),
            hex(&ba),
            hex(&b),
            hex(&tb),
            hex(&bb)
        );
        std::fs::write(dir.join(".a.gdmilp-journal"), text).unwrap();
        // A lock file and a probe the dead run left.
        std::fs::write(dir.join(".a.gdmilp-lock"), "").unwrap();
        std::fs::write(dir.join(".a.999999998.gdmilp-tmp"), "").unwrap();
        settle_dir(&dir).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new a");
        assert_eq!(std::fs::read(&b).unwrap(), b"new b");
        drop(Lock::take(&a).unwrap());
        assert_eq!(listing(&dir), ["a", "b"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_journal_its_writer_still_holds_is_left_alone() {
        let dir = dir("held");
        let j = dir.join(".a.gdmilp-journal");
        let f = File::create(&j).unwrap();
        f.try_lock().unwrap();
        std::fs::write(&j, "garbage").unwrap();
        // flock is per open file description: another open sees it held.
        settle_dir(&dir).unwrap();
        assert!(j.exists());
        drop(f);
        settle_dir(&dir).unwrap();
        assert!(!j.exists(), "an unparsable journal of a dead run goes");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporaries_of_live_runs_stay() {
        let dir = dir("stale");
        let out = dir.join("x");
        let mine = dir.join(format!(".x.{}.gdmilp-tmp", std::process::id()));
        std::fs::write(&mine, "").unwrap();
        std::fs::write(dir.join(".x.999999999.gdmilp-old"), "").unwrap();
        std::fs::write(dir.join(".y.999999999.gdmilp-tmp"), "").unwrap();
        remove_stale(&out);
        assert_eq!(
            listing(&dir),
            [
                format!(".x.{}.gdmilp-tmp", std::process::id()),
                ".y.999999999.gdmilp-tmp".to_string()
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn journal_paths_round_trip_any_bytes() {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let p = Path::new(std::ffi::OsStr::from_bytes(b"/t/lay\xffer .mps"));
            assert_eq!(unhex(&hex(p)).unwrap(), p);
        }
        assert!(unhex("abc").is_none());
        assert!(Journal::parse("gdmilp-journal 1\nfile 61 62 -\n").is_none());
        assert_eq!(
            Journal::parse("gdmilp-journal 1\nfile 61 62 -\nend\n")
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn writing_through_a_link_keeps_the_link() {
        let dir = dir("link");
        let (real, link) = (dir.join("real.txt"), dir.join("link.txt"));
        std::fs::write(&real, "old").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("real.txt", &link).unwrap();
        #[cfg(unix)]
        {
            write_all(&link, b"new").unwrap();
            assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
            assert_eq!(std::fs::read(&real).unwrap(), b"new");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_lock_on_one_output_is_refused_until_the_first_is_gone() {
        let dir = dir("lock");
        let out = dir.join("layer.mps");
        let first = Lock::take(&out).unwrap();
        let err = Lock::take(&out).err().expect("refused").to_string();
        assert!(err.contains("another gdmilp run"), "{err}");
        drop(first);
        assert!(listing(&dir).is_empty());
        drop(Lock::take(&out).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn outputs_are_checked_against_inputs_and_each_other() {
        let dir = dir("check");
        let input = dir.join("model.onnx");
        std::fs::write(&input, "model").unwrap();
        let e = check_outputs(&[&input], &[&input]).unwrap_err().to_string();
        assert!(e.contains("is also an input"), "{e}");
        let out = dir.join("x.json");
        let e = check_outputs(&[&out, &dir.join(".").join("x.json")], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("same file"), "{e}");
        let e = check_outputs(&[&dir], &[]).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let e = check_outputs(&[&dir.join("nope/x")], &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot create"), "{e}");
        assert_eq!(listing(&dir), ["model.onnx"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

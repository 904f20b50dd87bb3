//! Crash-safe replacement of a directory latentlab owns (a run, a classifier).
//!
//! A save takes an exclusive lock on the parent directory, writes every file into a temporary
//! sibling `.NAME.tmp-PID-N`, fsyncs the files and that directory, moves the previous version
//! aside to `.NAME.old-PID-N`, moves the new one in and fsyncs the parent; only then is the old
//! version removed. At every instant either a complete directory sits at the path, or the path
//! is empty and the previous version waits in the `.old-` sibling, which [`recover`] (run by
//! every load and save, under the same lock) moves back. The lock, not a process id, tells a
//! save under way from a crash's leftovers: the kernel releases it when a process dies.
//! A directory that exists but does not carry the owner's marker file (`manifest.json` for a
//! run), or that holds files latentlab did not write, is never written into or replaced.
//!
//! Recovery knows every kind of directory latentlab writes ([`KINDS`]), whoever asks: a load
//! of a run restores a detector's backup just as well, and leaves the path to refuse it by
//! kind. It removes only what cannot be the last copy of anything: unfinished `.tmp-` copies
//! (their writer died, since recovery holds the lock), and `.old-` backups superseded by a
//! complete directory of their own kind at the path. A backup of another kind than the one at
//! the path, or beside a path holding nothing complete, is left alone.
//!
//! Temporary names are kept within NAME_MAX: a long name's siblings use a shortened stem
//! ([`crate::export::sibling_stem`]).

use super::CheckpointError;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const TMP: &str = ".tmp-";
const OLD: &str = ".old-";

/// Every kind of directory latentlab writes, by the marker file that makes one complete, with
/// the name a message gives it. (A test keeps this list in step with the writers' constants.)
pub const KINDS: &[(&str, &str)] = &[
    ("manifest.json", "run"),
    ("classifier.json", "classifier"),
    ("detector.json", "detector"),
];

/// The marker of the complete directory at `dir`, if one is there (of any kind).
pub fn kind_at(dir: &Path) -> Option<&'static str> {
    KINDS
        .iter()
        .map(|(marker, _)| *marker)
        .find(|m| dir.join(m).is_file())
}

/// What a message calls the kind marked by `marker`.
pub fn kind_name(marker: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(m, _)| *m == marker)
        .map_or("directory", |(_, name)| *name)
}

/// What a process last saw at a path it may later replace, so a save can refuse a directory
/// that changed meanwhile (another process's save, a copy by hand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Nothing, or an empty directory.
    Nothing,
    /// A complete directory whose marker file held bytes with this hash.
    Marker(u64),
    /// Something else (a file, a foreign directory).
    Other,
}

/// A fingerprint of a marker file's bytes.
fn fnv(bytes: &[u8]) -> u64 {
    crate::types::hash::fnv1a(crate::types::hash::FNV_OFFSET, bytes)
}

/// What is at `dir` now (see [`Seen`]).
pub fn seen(dir: &Path) -> Result<Seen, CheckpointError> {
    match fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Seen::Nothing),
        Err(e) => return Err(io(dir)(e)),
        Ok(m) if !m.is_dir() => return Ok(Seen::Other),
        Ok(_) => {}
    }
    if let Some(marker) = kind_at(dir) {
        let p = dir.join(marker);
        return Ok(Seen::Marker(fnv(&fs::read(&p).map_err(io(&p))?)));
    }
    let empty = fs::read_dir(dir).map_err(io(dir))?.next().is_none();
    Ok(if empty { Seen::Nothing } else { Seen::Other })
}

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.into(),
        source,
    }
}

/// The parent directory and final name of `dir`.
pub(crate) fn split(dir: &Path) -> Result<(PathBuf, String), CheckpointError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| CheckpointError::NoName(dir.into()))?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name))
}

/// What sits at a path that is about to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Nothing: a new directory will be created.
    Missing,
    /// An empty directory (nothing to lose).
    Empty,
    /// A directory of the right kind (it carries the marker file and only `known` files).
    Owned,
}

/// Classify `dir` for a write of a directory marked by `marker` whose files are all named in
/// `known`; refuse anything that is not ours to replace.
pub fn target(dir: &Path, marker: &str, known: &[&str]) -> Result<Target, CheckpointError> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Target::Missing),
        Err(e) => return Err(io(dir)(e)),
    };
    if !meta.is_dir() {
        return Err(CheckpointError::NotADirectory(dir.into()));
    }
    let names: Vec<String> = fs::read_dir(dir)
        .map_err(io(dir))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    if names.is_empty() {
        return Ok(Target::Empty);
    }
    if !dir.join(marker).is_file() {
        return Err(CheckpointError::Foreign {
            path: dir.into(),
            marker: marker.to_string(),
        });
    }
    let mut unknown: Vec<String> = names
        .into_iter()
        .filter(|n| !known.contains(&n.as_str()))
        .collect();
    if unknown.is_empty() {
        Ok(Target::Owned)
    } else {
        unknown.sort();
        Err(CheckpointError::UnknownFiles {
            path: dir.into(),
            files: unknown.join(", "),
        })
    }
}

fn sync_dir(dir: &Path) -> Result<(), CheckpointError> {
    // Directory fsync makes the renames and new entries durable (POSIX); elsewhere a directory
    // cannot be opened for it and the renames' own ordering is all there is.
    #[cfg(unix)]
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let mut f = File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// A lock on `parent` (exclusive for a save or a recovery, shared for a load), one at a time
/// among all processes and threads using it. Released when dropped, or by the kernel when the
/// process dies.
pub struct ParentLock(#[allow(dead_code)] File);

/// How long a save or load waits for another one in the same directory.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The lock file used where a directory's own descriptor cannot be locked (NFS emulates
/// flock with POSIX locks, which need a file open for writing; other platforms).
const LOCK_FILE: &str = ".latentlab.lock";

fn lock_file(parent: &Path) -> Result<File, CheckpointError> {
    let p = parent.join(LOCK_FILE);
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(io(&p))
}

fn try_lock(f: &File, shared: bool) -> Result<bool, std::fs::TryLockError> {
    let r = if shared {
        f.try_lock_shared()
    } else {
        f.try_lock()
    };
    match r {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Wait (boundedly) for the lock on `f`.
fn wait_lock(f: File, shared: bool, parent: &Path) -> Result<ParentLock, CheckpointError> {
    let until = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match try_lock(&f, shared) {
            Ok(true) => return Ok(ParentLock(f)),
            Ok(false) if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Ok(false) => {
                return Err(CheckpointError::Busy {
                    path: parent.into(),
                    secs: LOCK_WAIT.as_secs(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(parent)(e)),
            Err(std::fs::TryLockError::WouldBlock) => unreachable!("mapped to Ok(false)"),
        }
    }
}

pub fn lock_parent(parent: &Path, shared: bool) -> Result<ParentLock, CheckpointError> {
    // flock(2) on the directory's own descriptor leaves no file behind; where that cannot be
    // locked, a lock file in it stands in.
    #[cfg(unix)]
    {
        let f = File::open(parent).map_err(io(parent))?;
        match try_lock(&f, shared) {
            Ok(true) => return Ok(ParentLock(f)),
            Ok(false) => return wait_lock(f, shared, parent),
            Err(_) => {}
        }
    }
    wait_lock(lock_file(parent)?, shared, parent)
}

/// A shared lock held while a directory is read, so no save swaps it half-way through. Taken
/// after [`recover`]; `None` where the file system has no locks (the read goes on unlocked).
pub fn read_lock(dir: &Path) -> Option<ParentLock> {
    let (parent, _) = split(dir).ok()?;
    lock_parent(&parent, true).ok()
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn sibling(parent: &Path, name: &str, kind: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let stem = crate::export::sibling_stem(name);
    parent.join(format!(".{stem}{kind}{}-{n}", std::process::id()))
}

/// Check, before any work, that a save to `dir` can happen: the parent can be created and
/// written, and a temporary sibling holding a file of every name in `files` can be made
/// (then removed). So a long name or a read-only parent is refused before training, not
/// after it.
pub fn probe(dir: &Path, files: &[&str]) -> Result<(), CheckpointError> {
    let (parent, name) = split(dir)?;
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    // Under the lock, so a recovery in another process does not take the probe for a leftover.
    let _lock = lock_parent(&parent, false)?;
    let tmp = sibling(&parent, &name, TMP);
    fs::create_dir(&tmp).map_err(io(dir))?;
    let made = files
        .iter()
        .try_for_each(|f| File::create(tmp.join(f)).map(drop).map_err(io(dir)));
    let _ = fs::remove_dir_all(&tmp);
    made
}

/// Test hook: `LATENTLAB_SAVE_PAUSE_MS` sleeps between the steps of a replacement, so a test
/// can kill the process at every stage.
fn pause() {
    #[cfg(test)]
    tests::crash_point();
    if let Some(ms) = std::env::var("LATENTLAB_SAVE_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms.min(10_000)));
    }
}

/// Write `files` as directory `dir` (marked by `marker`, which must be among the files),
/// replacing a previous directory of the same kind crash-safely. `known` names every file such
/// a directory may hold; one holding anything else is refused.
pub fn write_dir(
    dir: &Path,
    marker: &str,
    known: &[&str],
    files: &[(&str, &[u8])],
) -> Result<(), CheckpointError> {
    write_dir_expecting(dir, marker, known, files, None).map(drop)
}

/// [`write_dir`], refusing with [`CheckpointError::Changed`] when `expect` is given and what
/// is at `dir` (after recovery, under the lock) is not what the caller last saw there.
/// Returns what is there afterwards, for the caller's next save.
pub fn write_dir_expecting(
    dir: &Path,
    marker: &str,
    known: &[&str],
    files: &[(&str, &[u8])],
    expect: Option<Seen>,
) -> Result<Seen, CheckpointError> {
    let (parent, name) = split(dir)?;
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let _lock = lock_parent(&parent, false)?;
    recover_locked(dir, &parent, &name)?;
    if let Some(expected) = expect
        && seen(dir)? != expected
    {
        return Err(CheckpointError::Changed(dir.into()));
    }
    let existing = target(dir, marker, known)?;
    let after = files
        .iter()
        .find(|(f, _)| *f == marker)
        .map_or(Seen::Other, |(_, b)| Seen::Marker(fnv(b)));
    let tmp = sibling(&parent, &name, TMP);
    fs::create_dir(&tmp).map_err(io(&tmp))?;
    let written = (|| {
        for (file, bytes) in files {
            write_synced(&tmp.join(file), bytes)?;
            pause();
        }
        sync_dir(&tmp)
    })();
    if let Err(e) = written {
        // Nothing at `dir` was touched; the partial copy goes.
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let old = match existing {
        // An empty directory is replaced by the rename itself, which fails (losing nothing)
        // if something appeared in it meanwhile.
        Target::Missing | Target::Empty => None,
        Target::Owned => {
            let old = sibling(&parent, &name, OLD);
            if let Err(e) = fs::rename(dir, &old) {
                let _ = fs::remove_dir_all(&tmp);
                return Err(io(dir)(e));
            }
            if let Err(e) = sync_dir(&parent) {
                // Undo: the previous version goes back before anything else happens.
                let _ = fs::rename(&old, dir);
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
            pause();
            Some(old)
        }
    };
    if let Err(e) = fs::rename(&tmp, dir) {
        // Put the previous version back; if even that fails, the next load restores it.
        if let Some(old) = &old {
            let _ = fs::rename(old, dir);
        }
        let _ = fs::remove_dir_all(&tmp);
        return Err(io(dir)(e));
    }
    // The new version is in place; if making that durable fails, the old one stays beside it
    // (the next recover() removes it once the new one is seen complete).
    sync_dir(&parent)?;
    pause();
    if let Some(old) = old {
        // A leftover `.old-` sibling beside a complete directory is removed by the next
        // recover(), so a failure here loses nothing.
        let _ = fs::remove_dir_all(&old);
    }
    Ok(after)
}

/// Whether `rest` (what follows `.NAME.tmp-` or `.NAME.old-`) is a writer's `PID-N` (or the
/// `PID` of older latentlab versions), so `.a.old-3-x`, a sibling of run `a.old-3-x`, is not
/// taken for one of run `a`'s.
fn is_writer_suffix(rest: &str) -> bool {
    let mut parts = rest.split('-');
    let numeric =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let first = parts.next();
    let second = parts.next();
    numeric(first) && (second.is_none() || numeric(second)) && parts.next().is_none()
}

/// Leftover siblings of `dir`: (`.old-` ones, `.tmp-` ones).
fn leftovers(parent: &Path, name: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut olds, mut tmps) = (Vec::new(), Vec::new());
    let Ok(entries) = fs::read_dir(parent) else {
        return (olds, tmps);
    };
    let stem = crate::export::sibling_stem(name);
    let tmp_prefix = format!(".{stem}{TMP}");
    let old_prefix = format!(".{stem}{OLD}");
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(rest) = file.strip_prefix(&old_prefix)
            && is_writer_suffix(rest)
        {
            olds.push(entry.path());
        } else if let Some(rest) = file.strip_prefix(&tmp_prefix)
            && is_writer_suffix(rest)
        {
            tmps.push(entry.path());
        }
    }
    (olds, tmps)
}

/// Finish or undo a replacement that a crash interrupted, whatever kind of directory it was:
/// when `dir` holds nothing complete, the newest complete `.old-` backup (of any kind in
/// [`KINDS`]) moves back. Then unfinished `.tmp-` siblings and `.old-` ones superseded by a
/// complete directory of their kind are removed; any other backup is left alone. Waits for a
/// save under way in another thread or process.
pub fn recover(dir: &Path) -> Result<(), CheckpointError> {
    // `.` or `/`: nothing a save could have left beside it.
    let Ok((parent, name)) = split(dir) else {
        return Ok(());
    };
    let (olds, tmps) = leftovers(&parent, &name);
    if olds.is_empty() && tmps.is_empty() {
        return super::lease::clear_stale(dir);
    }
    let _lock = lock_parent(&parent, false)?;
    recover_locked(dir, &parent, &name)?;
    super::lease::clear_stale(dir)
}

/// Whether `dir` is missing or an empty directory (so a backup may move in).
fn vacant(dir: &Path) -> bool {
    match fs::symlink_metadata(dir) {
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        Ok(m) => m.is_dir() && fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()),
    }
}

/// When `p` was last moved or changed, as (seconds, nanoseconds): a rename sets a directory's
/// ctime, so among backups the one moved aside last (what was at the path last) is newest. A
/// marker's mtime would not do: a backup keeps the date its files were written.
fn moved_at(p: &Path) -> (i64, i64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        fs::symlink_metadata(p).map_or((0, 0), |m| (m.ctime(), m.ctime_nsec()))
    }
    #[cfg(not(unix))]
    {
        let t = fs::metadata(p)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .unwrap_or_default();
        (t.as_secs() as i64, i64::from(t.subsec_nanos()))
    }
}

/// [`recover`] with the parent's lock already held: every sibling is a leftover.
fn recover_locked(dir: &Path, parent: &Path, name: &str) -> Result<(), CheckpointError> {
    let (mut olds, tmps) = leftovers(parent, name);
    if olds.is_empty() && tmps.is_empty() {
        return Ok(());
    }
    if vacant(dir) {
        // The complete previous version moved aside last, of whatever kind, comes back.
        let mut candidates: Vec<((i64, i64), PathBuf)> = olds
            .iter()
            .filter_map(|p| {
                kind_at(p)?;
                Some((moved_at(p), p.clone()))
            })
            .collect();
        candidates.sort();
        if let Some((_, best)) = candidates.pop() {
            if dir.is_dir() {
                // Only an empty directory can be in the way here; remove_dir refuses any other.
                fs::remove_dir(dir).map_err(io(dir))?;
            }
            fs::rename(&best, dir).map_err(io(dir))?;
            sync_dir(parent)?;
            olds.retain(|p| *p != best);
        }
    }
    let present = kind_at(dir);
    for p in olds {
        let superseded = match (present, kind_at(&p)) {
            // A newer directory of the same kind is in place.
            (Some(now), Some(was)) => now == was,
            // An interrupted removal of a superseded backup: nothing complete in it.
            (Some(_), None) => true,
            // The last copy of something, or nothing complete to judge by: left alone.
            (None, _) => false,
        };
        if superseded {
            // Failing to remove a leftover loses nothing and is retried next time.
            let _ = fs::remove_dir_all(&p);
        }
    }
    for p in tmps {
        let _ = fs::remove_dir_all(&p);
    }
    Ok(())
}

#[cfg(test)]
mod tests;

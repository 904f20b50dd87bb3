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

use super::CheckpointError;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const TMP: &str = ".tmp-";
const OLD: &str = ".old-";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.into(),
        source,
    }
}

/// The parent directory and final name of `dir`.
fn split(dir: &Path) -> Result<(PathBuf, String), CheckpointError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| CheckpointError::NotADirectory(dir.into()))?;
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
    parent.join(format!(".{name}{kind}{}-{n}", std::process::id()))
}

/// Test hook: `LATENTLAB_SAVE_PAUSE_MS` sleeps between the steps of a replacement, so a test
/// can kill the process at every stage.
fn pause() {
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
    let (parent, name) = split(dir)?;
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let _lock = lock_parent(&parent, false)?;
    recover_locked(dir, &parent, &name, marker)?;
    let existing = target(dir, marker, known)?;
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
    Ok(())
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
    let tmp_prefix = format!(".{name}{TMP}");
    let old_prefix = format!(".{name}{OLD}");
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

/// Finish or undo a replacement that a crash interrupted: when `dir` lacks its marker and a
/// complete `.old-` sibling exists, that previous version moves back; leftover temporary and
/// superseded siblings are removed. Waits for a save under way in another thread or process.
pub fn recover(dir: &Path, marker: &str) -> Result<(), CheckpointError> {
    let (parent, name) = split(dir)?;
    let (olds, tmps) = leftovers(&parent, &name);
    if olds.is_empty() && tmps.is_empty() {
        return Ok(());
    }
    let _lock = lock_parent(&parent, false)?;
    recover_locked(dir, &parent, &name, marker)
}

/// [`recover`] with the parent's lock already held: every sibling is a leftover.
fn recover_locked(
    dir: &Path,
    parent: &Path,
    name: &str,
    marker: &str,
) -> Result<(), CheckpointError> {
    let (mut olds, tmps) = leftovers(parent, name);
    if olds.is_empty() && tmps.is_empty() {
        return Ok(());
    }
    if !dir.join(marker).is_file() {
        // The newest complete previous version comes back.
        let mut candidates: Vec<(std::time::SystemTime, PathBuf)> = olds
            .iter()
            .filter(|p| p.join(marker).is_file())
            .map(|p| {
                let t = fs::metadata(p.join(marker))
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (t, p.clone())
            })
            .collect();
        candidates.sort();
        if let Some((_, best)) = candidates.pop() {
            if dir.is_dir() {
                // Only an empty directory can be in the way here (a crash between the two
                // renames leaves none); remove_dir refuses anything else.
                fs::remove_dir(dir).map_err(io(dir))?;
            }
            fs::rename(&best, dir).map_err(io(dir))?;
            sync_dir(parent)?;
            olds.retain(|p| *p != best);
        }
    }
    for p in olds.into_iter().chain(tmps) {
        // Leftovers only: failing to remove one loses nothing and is retried next time.
        let _ = fs::remove_dir_all(&p);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["a.bin", "manifest.json"];

    fn write(dir: &Path, step: &str) -> Result<(), CheckpointError> {
        let files: [(&str, &[u8]); 2] = [("a.bin", &[1, 2, 3]), ("manifest.json", step.as_bytes())];
        write_dir(dir, "manifest.json", KNOWN, &files)
    }

    #[test]
    fn refuses_a_directory_without_the_marker_and_leaves_it_alone() {
        let root = tempfile::tempdir().expect("tempdir");
        let notes = root.path().join("notes");
        fs::create_dir(&notes).expect("mkdir");
        fs::write(notes.join("todo.txt"), b"keep me").expect("write");
        let err = write(&notes, "1").expect_err("must refuse");
        assert!(matches!(err, CheckpointError::Foreign { .. }), "{err}");
        assert!(err.to_string().contains("notes"), "{err}");
        assert_eq!(fs::read(notes.join("todo.txt")).expect("kept"), b"keep me");
        assert_eq!(fs::read_dir(&notes).expect("list").count(), 1);
        // No sibling left behind either.
        assert_eq!(fs::read_dir(root.path()).expect("list").count(), 1);
    }

    #[test]
    fn replaces_its_own_kind_but_not_a_run_holding_other_files() {
        let root = tempfile::tempdir().expect("tempdir");
        let run = root.path().join("run");
        write(&run, "1").expect("first");
        write(&run, "2").expect("second");
        assert_eq!(fs::read(run.join("manifest.json")).expect("read"), b"2");
        assert_eq!(fs::read_dir(root.path()).expect("list").count(), 1);
        // A file of the user's inside the run: refused, both kept.
        fs::write(run.join("sevens.png"), b"mine").expect("write");
        let err = write(&run, "3").expect_err("refused");
        assert!(err.to_string().contains("sevens.png"), "{err}");
        assert_eq!(fs::read(run.join("manifest.json")).expect("kept"), b"2");
        assert_eq!(fs::read(run.join("sevens.png")).expect("kept"), b"mine");
        // A file in the way is refused too.
        let file = root.path().join("file");
        fs::write(&file, b"x").expect("write");
        assert!(matches!(
            write(&file, "1"),
            Err(CheckpointError::NotADirectory(_))
        ));
        // An empty directory is filled.
        let empty = root.path().join("empty");
        fs::create_dir(&empty).expect("mkdir");
        write(&empty, "1").expect("empty directory");
        assert_eq!(fs::read(empty.join("manifest.json")).expect("read"), b"1");
    }

    #[test]
    fn a_crash_between_the_renames_is_undone_by_the_next_recover() {
        let root = tempfile::tempdir().expect("tempdir");
        let run = root.path().join("run");
        write(&run, "1").expect("first");
        // What a crash after "move the old version aside" leaves: no run, an .old- sibling,
        // and a complete .tmp- one. (Its writer's pid is this process's: only the lock counts.)
        let pid = std::process::id();
        let old = root.path().join(format!(".run.old-{pid}-900"));
        fs::rename(&run, &old).expect("aside");
        let tmp = root.path().join(format!(".run.tmp-{pid}-901"));
        fs::create_dir(&tmp).expect("tmp");
        fs::write(tmp.join("manifest.json"), b"2").expect("tmp manifest");
        // A sibling of another run whose name merely starts like one of ours is left alone.
        let other = root.path().join(".run.old-3-x");
        fs::create_dir(&other).expect("other");
        recover(&run, "manifest.json").expect("recover");
        assert_eq!(fs::read(run.join("manifest.json")).expect("restored"), b"1");
        let mut left: Vec<String> = fs::read_dir(root.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".run.old-3-x", "run"]);
    }
}

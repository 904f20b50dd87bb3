//! Crash-safe replacement of a directory latentlab owns (a run, a classifier).
//!
//! A save writes every file into a temporary sibling `.NAME.tmp-PID-N`, fsyncs the files and
//! that directory, moves the previous version aside to `.NAME.old-PID-N`, moves the new one in
//! and fsyncs the parent; only then is the old version removed. At every instant either a
//! complete directory sits at the path, or the path is empty and the previous version waits in
//! the `.old-` sibling, which [`recover`] (run by every load and save) moves back.
//! A directory that exists but does not carry the owner's marker file (`manifest.json` for a
//! run) is never written into or replaced.

use super::CheckpointError;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
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
    /// A directory of the right kind (it carries the marker file).
    Owned,
}

/// Classify `dir` for a write of a directory marked by `marker`; refuse anything that is not
/// ours to replace.
pub fn target(dir: &Path, marker: &str) -> Result<Target, CheckpointError> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Target::Missing),
        Err(e) => return Err(io(dir)(e)),
    };
    if !meta.is_dir() {
        return Err(CheckpointError::NotADirectory(dir.into()));
    }
    if dir.join(marker).is_file() {
        return Ok(Target::Owned);
    }
    let mut entries = fs::read_dir(dir).map_err(io(dir))?;
    if entries.next().is_none() {
        Ok(Target::Empty)
    } else {
        Err(CheckpointError::Foreign {
            path: dir.into(),
            marker: marker.to_string(),
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

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Siblings this process is writing right now: a load on another thread must not take them
/// for a crash's leftovers.
static IN_USE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn sibling(parent: &Path, name: &str, kind: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let p = parent.join(format!(".{name}{kind}{}-{n}", std::process::id()));
    if let Ok(mut v) = IN_USE.lock() {
        v.push(p.clone());
    }
    p
}

fn release(p: &Path) {
    if let Ok(mut v) = IN_USE.lock() {
        v.retain(|q| q != p);
    }
}

/// Marks the siblings of one write as in use for as long as it lives.
struct Claim(Vec<PathBuf>);

impl Drop for Claim {
    fn drop(&mut self) {
        self.0.iter().for_each(|p| release(p));
    }
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
/// replacing a previous directory of the same kind crash-safely.
pub fn write_dir(dir: &Path, marker: &str, files: &[(&str, &[u8])]) -> Result<(), CheckpointError> {
    let (parent, name) = split(dir)?;
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    recover(dir, marker)?;
    let existing = target(dir, marker)?;
    let tmp = sibling(&parent, &name, TMP);
    let mut claim = Claim(vec![tmp.clone()]);
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
        Target::Missing => None,
        Target::Empty | Target::Owned => {
            let old = sibling(&parent, &name, OLD);
            claim.0.push(old.clone());
            fs::rename(dir, &old).map_err(io(dir))?;
            sync_dir(&parent)?;
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
    sync_dir(&parent)?;
    pause();
    if let Some(old) = old {
        // A leftover `.old-` sibling beside a complete directory is removed by the next
        // recover(), so a failure here loses nothing.
        let _ = fs::remove_dir_all(&old);
    }
    Ok(())
}

/// Whether sibling `path` of process `pid` may still be in use.
fn alive(pid: u32, path: &Path) -> bool {
    if pid == std::process::id() {
        // A crashed process can have had this pid too (containers reuse them): only the
        // siblings this process registered are live.
        return IN_USE.lock().map_or(true, |v| v.iter().any(|p| p == path));
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        // Without a cheap process check, only siblings of this process are known to be live;
        // the others are treated as left over by a crash.
        false
    }
}

/// The writer's pid in a sibling's name `.NAME.tmp-PID-N`.
fn owner_pid(rest: &str) -> Option<u32> {
    rest.split('-').next()?.parse().ok()
}

/// Finish or undo a replacement that a crash interrupted: when `dir` lacks its marker and a
/// complete `.old-` sibling exists, that previous version moves back; leftover temporary and
/// superseded siblings of finished processes are removed.
pub fn recover(dir: &Path, marker: &str) -> Result<(), CheckpointError> {
    let (parent, name) = split(dir)?;
    let Ok(entries) = fs::read_dir(&parent) else {
        // No parent: nothing to recover (the load or save reports the missing path itself).
        return Ok(());
    };
    let tmp_prefix = format!(".{name}{TMP}");
    let old_prefix = format!(".{name}{OLD}");
    let mut olds = Vec::new();
    let mut tmps = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(rest) = file.strip_prefix(&old_prefix) {
            if owner_pid(rest).is_some_and(|p| !alive(p, &entry.path())) {
                olds.push(entry.path());
            }
        } else if let Some(rest) = file.strip_prefix(&tmp_prefix)
            && owner_pid(rest).is_some_and(|p| !alive(p, &entry.path()))
        {
            tmps.push(entry.path());
        }
    }
    if olds.is_empty() && tmps.is_empty() {
        return Ok(());
    }
    let complete = dir.join(marker).is_file();
    if !complete {
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
            sync_dir(&parent)?;
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

    fn files(step: &str) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("a.bin", vec![1, 2, 3]),
            ("manifest.json", step.as_bytes().to_vec()),
        ]
    }

    fn write(dir: &Path, step: &str) -> Result<(), CheckpointError> {
        let f = files(step);
        let refs: Vec<(&str, &[u8])> = f.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        write_dir(dir, "manifest.json", &refs)
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
    fn replaces_its_own_kind_and_cleans_up() {
        let root = tempfile::tempdir().expect("tempdir");
        let run = root.path().join("run");
        write(&run, "1").expect("first");
        write(&run, "2").expect("second");
        assert_eq!(fs::read(run.join("manifest.json")).expect("read"), b"2");
        assert_eq!(fs::read_dir(root.path()).expect("list").count(), 1);
        // A file in the way is refused too.
        let file = root.path().join("file");
        fs::write(&file, b"x").expect("write");
        assert!(matches!(
            write(&file, "1"),
            Err(CheckpointError::NotADirectory(_))
        ));
    }

    #[test]
    fn a_crash_between_the_renames_is_undone_by_the_next_recover() {
        let root = tempfile::tempdir().expect("tempdir");
        let run = root.path().join("run");
        write(&run, "1").expect("first");
        // What a crash after "move the old version aside" leaves: no run, an .old- sibling of
        // a dead process, and a complete .tmp- one.
        let dead = u32::MAX - 7;
        let old = root.path().join(format!(".run.old-{dead}-0"));
        fs::rename(&run, &old).expect("aside");
        let tmp = root.path().join(format!(".run.tmp-{dead}-1"));
        fs::create_dir(&tmp).expect("tmp");
        fs::write(tmp.join("manifest.json"), b"2").expect("tmp manifest");
        recover(&run, "manifest.json").expect("recover");
        assert_eq!(fs::read(run.join("manifest.json")).expect("restored"), b"1");
        assert_eq!(fs::read_dir(root.path()).expect("list").count(), 1);
    }
}

//! A live process's claim on a directory it will save to (a run, a classifier, a detector), so
//! a second `train --out` on the same directory is refused at start, naming the first.
//!
//! The claim is an exclusive `flock(2)` on a sibling lock file `.NAME.lock` (a sibling, since a
//! save swaps the directory itself for a new one) holding the owner's pid and command line.
//! The kernel drops the lock when its process dies, so a crash leaves at most a stale file,
//! which the next recovery or claim removes. A holder unlinks the file before it lets go; a
//! claimant that locked a file someone unlinked meanwhile notices (the path no longer names
//! its file) and tries again. Within one process a claim is shared: the command line and its
//! training thread both hold the same one.

use super::CheckpointError;
use super::replace::io;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

/// A held claim; released (and its file removed) when the last clone is dropped.
#[derive(Clone)]
pub struct Lease(#[allow(dead_code)] Arc<Held>);

struct Held {
    file: File,
    path: PathBuf,
}

impl Drop for Held {
    fn drop(&mut self) {
        // Unlink while still locked, and only our own file; closing `file` then unlocks.
        if same_file(&self.file, &self.path) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Claims this process holds, by lock-file path (flock conflicts between two descriptors of
/// one process, so a second claim here must share the first).
static HELD: Mutex<Vec<(PathBuf, Weak<Held>)>> = Mutex::new(Vec::new());

/// The lock file of `dir`: `.NAME.lock` beside it, in its canonical parent.
fn lock_path(dir: &Path) -> Result<PathBuf, CheckpointError> {
    let (parent, name) = super::replace::split(dir)?;
    let parent = fs::canonicalize(&parent).unwrap_or(parent);
    Ok(parent.join(format!(".{}.lock", crate::export::sibling_stem(&name))))
}

/// Whether `path` still names the file open as `file`.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

/// Who holds a claim, as written in its lock file.
fn holder_text() -> String {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut cmd = args.join(" ");
    if cmd.len() > 300 {
        let mut cut = 300;
        while !cmd.is_char_boundary(cut) {
            cut -= 1;
        }
        cmd.truncate(cut);
        cmd.push_str(" ...");
    }
    format!("pid {}: {cmd}", std::process::id())
}

/// Claim `dir` for this process (creating its parent if needed). Refused with
/// [`CheckpointError::InUse`], naming the holder, while another live process holds it.
pub fn acquire(dir: &Path) -> Result<Lease, CheckpointError> {
    let (parent, _) = super::replace::split(dir)?;
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let path = lock_path(dir)?;
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    held.retain(|(_, w)| w.strong_count() > 0);
    if let Some(h) = held
        .iter()
        .find(|(p, _)| *p == path)
        .and_then(|(_, w)| w.upgrade())
    {
        return Ok(Lease(h));
    }
    // A few tries: each lost race is another process letting go at that moment, or a
    // recovery holding a stale file for the instant it takes to remove it.
    for attempt in 0..20 {
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) if same_file(&file, &path) => {
                // Best effort: the lock, not this text, is the claim.
                let _ = file
                    .set_len(0)
                    .and_then(|()| file.write_all(holder_text().as_bytes()));
                let h = Arc::new(Held {
                    file,
                    path: path.clone(),
                });
                held.push((path, Arc::downgrade(&h)));
                return Ok(Lease(h));
            }
            Ok(()) => continue,
            Err(fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = (&file).take(4096).read_to_string(&mut text);
                // An empty file: its holder locked it this instant and is writing its name,
                // or a recovery is removing a stale one. Look again shortly.
                if (text.trim().is_empty() || !same_file(&file, &path)) && attempt < 19 {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                }
                let holder = if text.trim().is_empty() {
                    "another latentlab process".to_string()
                } else {
                    text.trim().to_string()
                };
                return Err(CheckpointError::InUse {
                    path: dir.into(),
                    holder,
                });
            }
            // A file system without locks: no claim can be made, and none refused.
            Err(fs::TryLockError::Error(_)) => {
                let h = Arc::new(Held {
                    file,
                    path: path.clone(),
                });
                held.push((path, Arc::downgrade(&h)));
                return Ok(Lease(h));
            }
        }
    }
    Err(CheckpointError::InUse {
        path: dir.into(),
        holder: "other latentlab processes claiming it at the same moment".into(),
    })
}

/// Remove `dir`'s lock file when no live process holds it (a crash's leftover).
pub fn clear_stale(dir: &Path) -> Result<(), CheckpointError> {
    let Ok(path) = lock_path(dir) else {
        return Ok(());
    };
    let Ok(file) = fs::OpenOptions::new().read(true).write(true).open(&path) else {
        return Ok(());
    };
    let held_here = {
        let held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        held.iter().any(|(p, w)| *p == path && w.strong_count() > 0)
    };
    if !held_here && file.try_lock().is_ok() && same_file(&file, &path) {
        let _ = fs::remove_file(&path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_shared_within_a_process_and_its_file_goes_with_it() {
        let root = tempfile::tempdir().expect("tempdir");
        let run = root.path().join("run");
        let a = acquire(&run).expect("first claim");
        let b = acquire(&run).expect("the same process claims again");
        let lock = root.path().join(".run.lock");
        let text = fs::read_to_string(&lock).expect("lock file");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        // A lock from another descriptor (as another process would take) is refused.
        let other = File::open(&lock).expect("open");
        assert!(matches!(
            other.try_lock(),
            Err(fs::TryLockError::WouldBlock)
        ));
        drop(other);
        drop(a);
        assert!(lock.is_file(), "still held by the second clone");
        drop(b);
        assert!(!lock.exists(), "the lock file goes with the last claim");
    }

    #[test]
    fn a_stale_lock_file_is_cleared() {
        let root = tempfile::tempdir().expect("tempdir");
        let run = root.path().join("run");
        let lock = root.path().join(".run.lock");
        fs::write(&lock, b"pid 1: crashed").expect("write");
        clear_stale(&run).expect("clear");
        assert!(!lock.exists());
    }
}

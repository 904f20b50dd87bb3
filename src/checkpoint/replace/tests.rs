//! Unit tests of crash-safe replacement and recovery, with simulated crashes.

use super::*;
use rand::{Rng, SeedableRng};
use std::cell::Cell;

thread_local! {
    /// Stages of a save left before the simulated crash (`None`: no crash).
    static CRASH_IN: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Called at each stage of a save: unwinds (skipping every line of clean-up, as a
/// `kill -9` would; `resume_unwind` prints nothing) when the countdown reaches zero. Only
/// the lock's release, which the kernel also does for a dead process, runs.
pub(super) fn crash_point() {
    CRASH_IN.with(|c| match c.get() {
        Some(0) => {
            c.set(None);
            std::panic::resume_unwind(Box::new("simulated crash"));
        }
        Some(n) => c.set(Some(n - 1)),
        None => {}
    });
}

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
    recover(&run).expect("recover");
    assert_eq!(fs::read(run.join("manifest.json")).expect("restored"), b"1");
    let mut left: Vec<String> = fs::read_dir(root.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [".run.old-3-x", "run"]);
}

/// The kinds a writer writes in the property test: (marker, files).
const KIND_FILES: [(&str, &[&str]); 3] = [
    (
        "manifest.json",
        &["generator.bpk", "optimizer-g.bpk", "manifest.json"],
    ),
    ("classifier.json", &["classifier.bpk", "classifier.json"]),
    ("detector.json", &["detector.bpk", "detector.json"]),
];

/// Write version `v` of kind `k` at `dir`, crashing after `crash` stages when given.
/// Returns whether the write completed (a crash after the final rename completes it).
fn save(dir: &Path, k: usize, v: u32, crash: Option<usize>) -> Result<bool, CheckpointError> {
    let (marker, names) = KIND_FILES[k];
    let body = v.to_string();
    let files: Vec<(&str, &[u8])> = names.iter().map(|f| (*f, body.as_bytes())).collect();
    CRASH_IN.with(|c| c.set(crash));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        write_dir(dir, marker, names, &files)
    }));
    CRASH_IN.with(|c| c.set(None));
    match r {
        Ok(r) => r.map(|()| true),
        // A crash after the final rename leaves the new version complete in place.
        Err(_) => Ok(item(dir) == Some((k, v))),
    }
}

/// The complete item at `p`: (kind index, version), if any.
fn item(p: &Path) -> Option<(usize, u32)> {
    let k = KIND_FILES.iter().position(|(m, _)| p.join(m).is_file())?;
    let v: u32 = fs::read_to_string(p.join(KIND_FILES[k].0))
        .ok()?
        .parse()
        .ok()?;
    // Complete: every file of the kind is there, with the same version.
    KIND_FILES[k]
        .1
        .iter()
        .all(|f| fs::read_to_string(p.join(f)).ok() == Some(v.to_string()))
        .then_some((k, v))
}

/// Where an item can be found at or beside `dir`: the path itself and its backups.
fn copies(root: &Path, name: &str) -> Vec<(usize, u32)> {
    let (olds, _) = leftovers(root, name);
    item(&root.join(name))
        .into_iter()
        .chain(olds.iter().filter_map(|p| item(p)))
        .collect()
}

/// Plant a complete backup of kind `k`, version `v`, beside `dir` (what an older
/// latentlab or an interrupted save of another kind could leave), its files dated in
/// 2096: recovery must go by when a backup was moved aside, not by its files' dates.
fn plant(dir: &Path, k: usize, v: u32) {
    let (parent, name) = split(dir).expect("split");
    let p = parent.join(format!(".{name}.old-999999-{v}"));
    fs::create_dir(&p).expect("mkdir");
    for f in KIND_FILES[k].1 {
        fs::write(p.join(f), v.to_string()).expect("write");
    }
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(4_000_000_000);
    File::options()
        .write(true)
        .open(p.join(KIND_FILES[k].0))
        .and_then(|f| f.set_modified(t))
        .expect("date");
}

/// Random interleavings of saves of three kinds to three paths, crashes at every stage,
/// loads (recoveries), backups of another kind planted beside a path, and a user's
/// `rm -r` of a path. At every instant each path's latest complete item and every planted
/// backup is at the path or beside it, and no recovery loses the last copy of anything:
/// after it, the path holds the latest item (or, after an `rm -r`, the newest backup).
#[test]
fn crashes_and_recoveries_of_mixed_kinds_never_lose_the_last_complete_item() {
    for seed in 0..12u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let root = tempfile::tempdir().expect("tempdir");
        let names = ["a", "b", "c"];
        // The model: each path's latest complete item, and the backups planted beside it
        // (oldest first) that nothing may delete while they are not at the path.
        let mut latest: [Option<(usize, u32)>; 3] = [None; 3];
        let mut planted: [Vec<(usize, u32)>; 3] = Default::default();
        for op in 0..150u32 {
            let i = rng.random_range(0..names.len());
            let dir = root.path().join(names[i]);
            match rng.random_range(0..10) {
                0..3 => {
                    recover(&dir).expect("recover");
                    assert_eq!(item(&dir), latest[i], "seed {seed} op {op}: load");
                }
                3 if latest[i].is_some() && item(&dir) == latest[i] => {
                    // Only another kind than the one at the path: a backup of the same
                    // kind beside a complete item is a superseded one, rightly removed.
                    let Some((k_now, _)) = latest[i] else {
                        continue;
                    };
                    let k = (k_now + rng.random_range(1..KIND_FILES.len())) % 3;
                    plant(&dir, k, op);
                    planted[i].push((k, op));
                }
                4 => {
                    // The user removes the path (after a load, so no superseded backup of
                    // its own kind waits beside it): the newest planted backup comes back.
                    recover(&dir).expect("recover");
                    if dir.exists() {
                        fs::remove_dir_all(&dir).expect("rm -r");
                    }
                    latest[i] = planted[i].pop();
                    // Older backups of the kind that comes back are superseded by it.
                    if let Some((k, _)) = latest[i] {
                        planted[i].retain(|(was, _)| *was != k);
                    }
                }
                _ => {
                    let k = rng.random_range(0..KIND_FILES.len());
                    let crash = rng.random_bool(0.6).then(|| rng.random_range(0..6));
                    match save(&dir, k, op, crash) {
                        Ok(true) => latest[i] = Some((k, op)),
                        Ok(false) => {}
                        // Refused: another kind is there (restored first, if it was aside).
                        Err(e) => assert!(
                            matches!(e, CheckpointError::Foreign { .. }),
                            "seed {seed} op {op}: {e}"
                        ),
                    }
                }
            }
            for (j, name) in names.iter().enumerate() {
                let here = copies(root.path(), name);
                for want in latest[j].iter().chain(&planted[j]) {
                    assert!(
                        here.contains(want),
                        "seed {seed} op {op}: {name}'s item {want:?} is gone ({here:?})"
                    );
                }
            }
        }
        for (j, name) in names.iter().enumerate() {
            let dir = root.path().join(name);
            recover(&dir).expect("final recover");
            assert_eq!(item(&dir), latest[j], "seed {seed}: final load of {name}");
        }
    }
}

#[test]
fn a_backup_of_another_kind_is_restored_not_deleted() {
    let root = tempfile::tempdir().expect("tempdir");
    let det = root.path().join("det");
    save(&det, 2, 1, None).expect("detector");
    // A crash just after the old detector moved aside: nothing at the path.
    assert!(!save(&det, 2, 2, Some(2)).expect("crashed"));
    assert!(!det.exists());
    // A run's load of this path (what `inspect det` does) restores the detector.
    recover(&det).expect("recover");
    assert_eq!(item(&det), Some((2, 1)));
    // Writing a run there is refused by kind, and loses nothing.
    assert!(matches!(
        save(&det, 0, 3, None),
        Err(CheckpointError::Foreign { .. })
    ));
    assert_eq!(item(&det), Some((2, 1)));
}

#[test]
fn long_names_get_short_siblings_and_still_save() {
    let root = tempfile::tempdir().expect("tempdir");
    let name = "r".repeat(245);
    let run = root.path().join(&name);
    probe(&run, &["manifest.json"]).expect("probe");
    write(&run, "1").expect("first");
    write(&run, "2").expect("second");
    assert_eq!(fs::read(run.join("manifest.json")).expect("read"), b"2");
    let other = root.path().join("r".repeat(244) + "s");
    write(&other, "3").expect("another long name");
    let mut left: Vec<String> = fs::read_dir(root.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left.len(), 2, "{left:?}");
}

//! Trust, part 2: the newer commands (detect, detector, directions, encode, sample --edit, the
//! Boltzmann machines) lose no data either. One test per defect the issue reproduced: here
//! kill -9 in the middle of every kind of save, concurrent runs and resume's data (defects 1
//! to 3); `trust_outputs.rs` has the rest.

use crate::tempdir;
use crate::trust::{bin, err, listing, s, tiny_args};
use latentlab::checkpoint;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run latentlab")
}

/// Exit 1 (not a panic, not a usage error) with `needle` in the message.
pub(crate) fn fails_with(args: &[&str], needle: &str) -> Output {
    let o = run(args);
    let e = err(&o);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {e}");
    assert!(e.contains(needle), "{args:?}: expected `{needle}` in:\n{e}");
    assert!(!e.contains("panicked"), "{args:?} panicked:\n{e}");
    o
}

/// `steps` steps of a tiny `model` run on the embedded digits, written to `out`.
pub(crate) fn tiny_run(out: &Path, model: &str, steps: &str, extra: &[&str]) {
    let mut args = vec![
        "train",
        "--model",
        model,
        "--steps",
        steps,
        "--batch",
        "8",
        "--device",
        "cpu",
        "--sample-every",
        "0",
        "--out",
        s(out),
    ];
    if !["rbm", "dbn", "dbm"].contains(&model) {
        args.extend(["--width", "8", "--latent", "4"]);
    } else {
        args.extend(["--hidden", "8", "--sample-gibbs", "2"]);
    }
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "train {model}: {}", err(&o));
}

pub(crate) fn digit_png(dir: &Path) -> PathBuf {
    let data = latentlab::data::DataSource::Default
        .load(28)
        .expect("digits");
    let path = dir.join("digit.png");
    image::GrayImage::from_raw(28, 28, data.image(0).to_vec())
        .expect("28x28")
        .save(&path)
        .expect("png");
    path
}

/// Whether `root` holds a sibling of a save under way or interrupted.
fn mid_save(root: &Path) -> bool {
    listing(root)
        .iter()
        .any(|f| f.contains(".tmp-") || f.contains(".old-"))
}

/// Whether a save has begun writing in `root` (a temporary sibling holding a non-empty file;
/// the check before work makes an empty one).
fn save_begun(root: &Path) -> bool {
    listing(root).iter().any(|f| {
        f.contains(".old-")
            || (f.contains(".tmp-")
                && std::fs::read_dir(root.join(f))
                    .is_ok_and(|d| d.flatten().any(|e| e.metadata().is_ok_and(|m| m.len() > 0))))
    })
}

/// The complete item of `kind` at `dir` loads (a run, a classifier or a detector).
fn loads(kind: &str, dir: &Path) -> Result<(), String> {
    let device = burn::tensor::Device::flex();
    match kind {
        "run" => checkpoint::read_manifest(dir)
            .map(drop)
            .map_err(|e| e.to_string()),
        "classifier" => latentlab::quality::load_classifier(dir, &device)
            .map(drop)
            .map_err(|e| e.to_string()),
        _ => latentlab::detect::load(dir, &device)
            .map(drop)
            .map_err(|e| e.to_string()),
    }
}

/// Defect 1 and the acceptance's kill -9 cases: a save of each kind (run, classifier,
/// detector) killed at random points many times; then a read-only command of *another*
/// kind's (`inspect`, which reads runs) and a write of another kind run on the path. Neither
/// loses the item: it loads afterwards, and nothing is left beside it.
#[test]
fn kill_9_in_saves_of_every_kind_then_other_commands_never_lose_it() {
    let root = tempdir();
    let gan = root.path().join("gan");
    tiny_run(&gan, "mlp", "2", &[]);
    let target = root.path().join("target");
    let t = s(&target);
    // (kind, command, files a save writes)
    let run_args: Vec<String> = tiny_args(&target)
        .into_iter()
        .chain(["--steps".into(), "1".into(), "--force".into()])
        .collect();
    let save: [(&str, Vec<&str>, u64); 3] = [
        ("run", run_args.iter().map(String::as_str).collect(), 7),
        (
            "classifier",
            vec!["classifier", "--steps", "1", "--force", "--out", t],
            2,
        ),
        (
            "detector",
            vec![
                "detector",
                "--fakes-from",
                s(&gan),
                "--steps",
                "1",
                "--force",
                "--out",
                t,
            ],
            2,
        ),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(23);
    let mut landed = 0;
    for (kind, args, files) in &save {
        // The first save of this kind completes.
        let _ = std::fs::remove_dir_all(&target);
        let o = run(args);
        assert!(o.status.success(), "{kind}: {}", err(&o));
        for i in 0..6 {
            let mut child = bin()
                .args(args)
                .env("LATENTLAB_SAVE_PAUSE_MS", "150")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            // Wait for the save to begin, then kill it somewhere inside (its stages take
            // 150 ms each: files, the old version aside, the new one in).
            let until = Instant::now() + Duration::from_secs(60);
            while !save_begun(root.path()) && Instant::now() < until {
                if child.try_wait().expect("wait").is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            let stages = (files + 2) * 150;
            std::thread::sleep(Duration::from_millis(rng.random_range(0..stages)));
            let _ = child.kill();
            let _ = child.wait();
            if mid_save(root.path()) {
                landed += 1;
            }
            // A read-only command for another kind: it must not delete this one.
            if *kind != "run" {
                let o = run(&["inspect", t]);
                assert!(!o.status.success(), "{kind} {i}: inspect took it for a run");
                assert!(err(&o).contains(kind), "{kind} {i}: {}", err(&o));
            }
            // A write of another kind is refused by kind, and loses nothing either.
            let other = if *kind == "detector" {
                &save[0].1
            } else {
                &save[2].1
            };
            let o = run(other);
            assert!(!o.status.success(), "{kind} {i}: replaced by another kind");
            loads(kind, &target).unwrap_or_else(|e| panic!("{kind} {i}: lost: {e}"));
            assert_eq!(
                listing(root.path()),
                ["gan", "target"],
                "{kind} {i}: leftovers"
            );
        }
    }
    assert!(
        landed > 3,
        "only {landed} kills landed in a save: the test proves little"
    );
}

/// Defect 2: two `train`s on one `--out` started at the same moment: one trains, the other is
/// refused at start, naming the process that holds the directory.
#[test]
fn two_trains_on_one_out_the_second_is_refused_naming_the_first() {
    let root = tempdir();
    let out = root.path().join("run");
    let args: Vec<String> = tiny_args(&out)
        .into_iter()
        .chain(["--steps".into(), "3000".into()])
        .collect();
    let spawn = || {
        bin()
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    let ok: Vec<&Output> = [&a, &b]
        .into_iter()
        .filter(|o| o.status.success())
        .collect();
    assert_eq!(ok.len(), 1, "a: {}\nb: {}", err(&a), err(&b));
    let refused = if a.status.success() { &b } else { &a };
    let e = err(refused);
    assert!(
        e.contains("in use by another latentlab process") && e.contains("pid "),
        "{e}"
    );
    assert!(!e.contains("saved"), "{e}");
    assert_eq!(checkpoint::read_manifest(&out).expect("the run").step, 3000);
    assert_eq!(
        listing(root.path()),
        ["run"],
        "the claim is gone with its process"
    );

    // A run held by a live process (here, this test's own session) is refused by another.
    let h = latentlab::train::TrainingHandle::spawn(None).expect("spawn");
    let mut spec = crate::pattern_spec(crate::tiny(
        latentlab::model::ModelKind::Mlp,
        latentlab::train::objective::Loss::Nonsat,
        4,
    ));
    spec.out_dir = Some(out.clone());
    h.send(latentlab::train::Command::Start(Box::new(spec)));
    h.send(latentlab::train::Command::Step(1));
    h.send(latentlab::train::Command::Save(out.clone()));
    saved(&h);
    let o = run(&args
        .iter()
        .map(String::as_str)
        .chain(["--force"])
        .collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains(&format!("pid {}", std::process::id())),
        "{}",
        err(&o)
    );

    // A save refuses to replace a run that changed since this process last wrote it.
    let other = root.path().join("other");
    tiny_run(&other, "mlp", "1", &[]);
    std::fs::remove_dir_all(&out).expect("remove");
    copy_dir(&other, &out);
    let before = std::fs::read(out.join("manifest.json")).expect("manifest");
    h.send(latentlab::train::Command::Save(out.clone()));
    match next_save(&h) {
        latentlab::train::Event::SaveFailed { error, .. } => {
            assert!(error.contains("changed since"), "{error}")
        }
        e => panic!("replaced a run that changed meanwhile: {e:?}"),
    }
    assert_eq!(
        std::fs::read(out.join("manifest.json")).expect("kept"),
        before
    );
    h.shutdown();
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("list") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

fn next_save(h: &latentlab::train::TrainingHandle) -> latentlab::train::Event {
    use latentlab::train::Event;
    loop {
        match h.events.recv_timeout(Duration::from_secs(60)) {
            Ok(e @ (Event::Saved { .. } | Event::SaveFailed { .. } | Event::Failed(_))) => {
                return e;
            }
            Ok(_) => {}
            Err(e) => panic!("no answer to Save: {e}"),
        }
    }
}

fn saved(h: &latentlab::train::TrainingHandle) {
    let e = next_save(h);
    assert!(matches!(e, latentlab::train::Event::Saved { .. }), "{e:?}");
}

/// Defect 3: `train --resume` continues on the run's own data (a folder here), and an
/// explicit `--data` that differs is refused with the manifest untouched.
#[test]
fn resume_continues_on_the_runs_own_data() {
    let root = tempdir();
    let data = root.path().join("shapes");
    for (class, value) in [("dark", 40u8), ("light", 220u8)] {
        std::fs::create_dir_all(data.join(class)).expect("mkdir");
        for i in 0..4u8 {
            image::GrayImage::from_pixel(28, 28, image::Luma([value.wrapping_add(i)]))
                .save(data.join(class).join(format!("{i}.png")))
                .expect("png");
        }
    }
    let out = root.path().join("run");
    tiny_run(&out, "mlp", "1", &["--data", s(&data)]);
    let before = checkpoint::read_manifest(&out).expect("run").data;
    // One more step of the run in `out`, with `extra` flags.
    fn resume<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["train", "--resume", "--steps", "1", "--device", "cpu"];
        args.extend_from_slice(extra);
        args.extend(["--out", out]);
        args
    }
    let o = run(&resume(s(&out), &[]));
    assert!(o.status.success(), "{}", err(&o));
    let after = checkpoint::read_manifest(&out).expect("resumed");
    assert_eq!(after.step, 2);
    assert_eq!(after.data, before, "resume switched the data set");
    let bytes = std::fs::read(out.join("manifest.json")).expect("manifest");
    fails_with(
        &resume(s(&out), &["--data", "default"]),
        "continues on its own data",
    );
    assert_eq!(
        std::fs::read(out.join("manifest.json")).expect("kept"),
        bytes
    );
    // Naming the run's own data is fine.
    let o = run(&resume(s(&out), &["--data", s(&data)]));
    assert!(o.status.success(), "{}", err(&o));
}

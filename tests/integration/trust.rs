//! A user's files are sacred: one test per defect the trust issue reproduced, plus signals,
//! kill -9 in the middle of saves, and an installed binary.

use crate::{pattern_spec, tempdir, tiny};
use latentlab::checkpoint;
use latentlab::model::ModelKind;
use latentlab::train::objective::Loss;
use latentlab::train::{Command as TrainCommand, Event, TrainingHandle};
use rand::{Rng, SeedableRng};
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a run may take to save and exit after a signal.
pub(crate) const SAVE_WAIT: Duration = Duration::from_secs(60);
pub(crate) fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_latentlab"))
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A tiny MLP GAN run: fast enough to train and save many times in a test.
pub(crate) fn tiny_args(out: &Path) -> Vec<String> {
    [
        "train",
        "--model",
        "mlp",
        "--width",
        "8",
        "--latent",
        "4",
        "--batch",
        "8",
        "--device",
        "cpu",
        "--sample-every",
        "0",
        "--out",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([s(out).to_string()])
    .collect()
}

pub(crate) fn train(out: &Path, extra: &[&str]) -> Output {
    bin()
        .args(tiny_args(out))
        .args(extra)
        .output()
        .expect("run latentlab")
}

pub(crate) fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn train_and_save_refuse_a_directory_that_is_not_a_run() {
    let root = tempdir();
    let notes = root.path().join("notes");
    std::fs::create_dir(&notes).expect("mkdir");
    std::fs::write(notes.join("todo.txt"), b"my notes").expect("write");
    let o = train(&notes, &["--steps", "2"]);
    assert!(!o.status.success(), "train wrote into ~/notes");
    assert!(
        err(&o).contains(s(&notes)) && err(&o).contains("manifest.json"),
        "{}",
        err(&o)
    );
    // --force does not make a foreign directory ours either.
    let o = train(&notes, &["--steps", "2", "--force"]);
    assert!(!o.status.success());
    assert_eq!(listing(&notes), ["todo.txt"]);
    assert_eq!(
        std::fs::read(notes.join("todo.txt")).expect("kept"),
        b"my notes"
    );
    assert_eq!(listing(root.path()), ["notes"], "no sibling left behind");

    // The app's Save goes through the session: same refusal, same untouched directory.
    let h = TrainingHandle::spawn(None).expect("spawn");
    let config = tiny(ModelKind::Mlp, Loss::Nonsat, 4);
    h.send(TrainCommand::Start(Box::new(pattern_spec(config))));
    h.send(TrainCommand::Step(1));
    h.send(TrainCommand::Save(notes.clone()));
    let answer = loop {
        match h.events.recv_timeout(Duration::from_secs(60)) {
            Ok(e @ (Event::Saved { .. } | Event::SaveFailed { .. } | Event::Failed(_))) => {
                break e;
            }
            Ok(_) => {}
            Err(e) => panic!("no answer to Save: {e}"),
        }
    };
    assert!(
        matches!(&answer, Event::SaveFailed { error, .. } if error.contains("manifest.json")),
        "{answer:?}"
    );
    assert_eq!(listing(&notes), ["todo.txt"]);
    h.shutdown();
}

#[test]
fn a_fresh_run_over_a_run_needs_resume_or_force() {
    let root = tempdir();
    let run = root.path().join("run");
    assert!(train(&run, &["--steps", "2"]).status.success());
    let before = std::fs::read(run.join("manifest.json")).expect("manifest");
    let o = train(&run, &["--steps", "3"]);
    assert!(!o.status.success(), "a fresh run silently replaced the run");
    assert!(
        err(&o).contains("--resume") && err(&o).contains("--force"),
        "{}",
        err(&o)
    );
    assert_eq!(
        std::fs::read(run.join("manifest.json")).expect("kept"),
        before
    );

    let o = train(&run, &["--steps", "3", "--force"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(checkpoint::read_manifest(&run).expect("replaced").step, 3);
    let o = train(&run, &["--steps", "1", "--resume"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(checkpoint::read_manifest(&run).expect("continued").step, 4);
    assert_eq!(listing(root.path()), ["run"]);
}

#[test]
fn a_diverged_run_exits_3_and_keeps_the_last_good_checkpoint() {
    let root = tempdir();
    let run = root.path().join("run");
    assert!(train(&run, &["--steps", "2"]).status.success());
    let good = std::fs::read(run.join("manifest.json")).expect("manifest");
    // --lr with --resume replaces the saved learning rate: this one blows the model up.
    let o = train(&run, &["--steps", "200", "--resume", "--lr", "1e30"]);
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    let e = err(&o);
    assert!(
        e.contains("diverged at step") && e.contains("last good checkpoint (step 2)"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(run.join("manifest.json")).expect("kept"),
        good
    );
    let device = burn::tensor::Device::flex();
    let (m, _) = checkpoint::load_generator(&run, &device).expect("the good run loads");
    assert_eq!(m.step, 2);
    assert!(m.history.points.iter().all(|p| p.is_finite()));
}

#[test]
fn a_manifest_with_nulls_from_older_versions_loads() {
    let root = tempdir();
    let run = root.path().join("run");
    assert!(train(&run, &["--steps", "2"]).status.success());
    let path = run.join("manifest.json");
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    v["history"]["points"][0]["loss_d"] = serde_json::Value::Null;
    std::fs::write(&path, serde_json::to_vec(&v).expect("json")).expect("write");
    let m = checkpoint::read_manifest(&run).expect("nulls load");
    assert!(m.history.points[0].loss_d.is_nan());
    // Resuming writes only finite numbers back.
    let o = train(&run, &["--steps", "1", "--resume"]);
    assert!(o.status.success(), "{}", err(&o));
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(!text.contains("null"), "a null was written");
}

#[test]
fn a_failed_save_exits_non_zero() {
    let root = tempdir();
    let file = root.path().join("some-file");
    std::fs::write(&file, b"x").expect("write");
    let o = train(&file.join("run"), &["--steps", "2"]);
    assert!(!o.status.success(), "{}", err(&o));
    assert!(err(&o).contains("some-file"), "{}", err(&o));
    assert_eq!(std::fs::read(&file).expect("kept"), b"x");
}

/// An IDX directory of `n` images of `side` x `side` in 2 classes.
fn idx_dir(dir: &Path, n: u32, side: u32) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let mut images = Vec::new();
    for word in [0x0803u32, n, side, side] {
        images.extend_from_slice(&word.to_be_bytes());
    }
    images.extend((0..n * side * side).map(|i| (i % 251) as u8));
    let mut labels = Vec::new();
    for word in [0x0801u32, n] {
        labels.extend_from_slice(&word.to_be_bytes());
    }
    labels.extend((0..n).map(|i| (i % 2) as u8));
    std::fs::write(dir.join("train-images-idx3-ubyte"), images).expect("write");
    std::fs::write(dir.join("train-labels-idx1-ubyte"), labels).expect("write");
}

#[test]
fn a_warning_does_not_stop_a_headless_run() {
    let root = tempdir();
    // Nine images: too few to hold any out, so no meter can be trained for them.
    let data = root.path().join("my-idx");
    idx_dir(&data, 9, 28);
    let o = train(
        &root.path().join("run"),
        &["--data", s(&data), "--score-every", "1", "--steps", "3"],
    );
    let e = err(&o);
    assert!(o.status.success(), "{e}");
    assert!(
        e.contains("warning") && e.contains("finished at step 3"),
        "{e}"
    );
}

#[test]
fn classifier_on_30x30_data_is_an_error_not_a_panic() {
    // 32 px trains now; 30 is not a side a network halves twice.
    let root = tempdir();
    let data = root.path().join("odd");
    idx_dir(&data, 40, 30);
    let o = bin()
        .args(["classifier", "--data", s(&data), "--steps", "2", "--out"])
        .arg(root.path().join("c"))
        .output()
        .expect("run");
    let e = err(&o);
    assert!(!o.status.success() && !e.contains("panicked"), "{e}");
    assert!(e.contains("30x30"), "{e}");
}

/// A long training run, and its stderr lines as they come.
pub(crate) struct Long {
    pub(crate) child: Child,
    pub(crate) lines: std::sync::mpsc::Receiver<String>,
}

impl Long {
    /// Wait (at most a minute) for a stderr line starting with `prefix`; returns the line.
    pub(crate) fn wait_for(&self, prefix: &str) -> String {
        let until = Instant::now() + SAVE_WAIT;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.trim_start().starts_with(prefix) => return line,
                Ok(_) => {}
                Err(e) => panic!("no line starting with `{prefix}`: {e}"),
            }
        }
    }
}

/// Start a long training run (resuming the run in `out` if there is one) and wait until it
/// has started.
pub(crate) fn start_long(out: &Path, env: &[(&str, &str)], extra: &[&str]) -> Long {
    let mut cmd = bin();
    cmd.args(tiny_args(out))
        .args(["--steps", "100000000"])
        .args(extra)
        .args(if out.join("manifest.json").is_file() {
            vec!["--resume"]
        } else {
            vec![]
        })
        .envs(env.iter().copied());
    spawn_long(cmd)
}

/// Spawn `cmd` (a training run), collect its stderr lines, and wait until it has started.
pub(crate) fn spawn_long(cmd: Command) -> Long {
    spawn_until(cmd, "device:")
}

/// Spawn `cmd`, collect its stderr lines, and wait for one starting with `ready`.
pub(crate) fn spawn_until(mut cmd: Command, ready: &str) -> Long {
    // The child starts with default signal dispositions, whatever the test runner's are: a
    // suite started with `nohup` or as a background job ignores SIGHUP, SIGINT and SIGQUIT,
    // and latentlab rightly keeps signals it inherits as ignored (see the nohup test).
    // SAFETY: signal(2) between fork and exec is async-signal-safe and touches no Rust state.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGTERM] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    let mut child = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let long = Long { child, lines };
    long.wait_for(ready);
    long
}

pub(crate) fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on a child process id we own; no memory is involved.
    let r = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(r, 0, "kill failed");
}

pub(crate) fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let until = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return st;
        }
        if Instant::now() > until {
            // Where each thread of the child waits, for the report.
            let tasks = format!("/proc/{}/task", child.id());
            let threads: Vec<String> = std::fs::read_dir(&tasks)
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|t| {
                            let read = |f: &str| {
                                std::fs::read_to_string(t.path().join(f)).unwrap_or_default()
                            };
                            format!("{} {}", read("comm").trim(), read("wchan"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let _ = child.kill();
            panic!("still running after {limit:?}; threads (name, kernel wait): {threads:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_save_refused_at_the_end_of_a_run_exits_1_and_changes_nothing() {
    let root = tempdir();
    let run = root.path().join("run");
    assert!(train(&run, &["--steps", "1"]).status.success());
    let good = std::fs::read(run.join("manifest.json")).expect("manifest");
    let mut long = start_long(&run, &[], &[]);
    // The user drops a file of their own into the run while it trains.
    std::fs::write(run.join("sevens.png"), b"mine").expect("write");
    signal(&long.child, libc::SIGTERM);
    let st = wait(&mut long.child, SAVE_WAIT);
    assert_eq!(st.code(), Some(1), "a failed save must not exit 0 or 130");
    assert_eq!(
        std::fs::read(run.join("sevens.png")).expect("kept"),
        b"mine"
    );
    assert_eq!(
        std::fs::read(run.join("manifest.json")).expect("kept"),
        good
    );
}

/// kill -9 at random points of a run that saves every step (and slows each file of a save
/// down a little), many times: the run always loads, at the old step or a newer one.
#[test]
fn kill_9_in_the_middle_of_saves_never_loses_the_run() {
    let root = tempdir();
    let run = root.path().join("run");
    assert!(train(&run, &["--steps", "1"]).status.success());
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut step = 1;
    let kills = 15;
    // Kills that left a save half done (siblings), and those that left no run at the path.
    let (mut mid_save, mut restored) = (0, 0);
    for i in 0..kills {
        let pause = rng.random_range(0..8u32).to_string();
        let mut long = start_long(
            &run,
            &[("LATENTLAB_SAVE_PAUSE_MS", pause.as_str())],
            &["--save-every", "1"],
        );
        std::thread::sleep(Duration::from_millis(rng.random_range(0..400)));
        long.child.kill().expect("kill -9");
        let _ = long.child.wait();
        // The killed process's claim (`.run.lock`) is no save's leftover.
        let left: Vec<String> = listing(root.path())
            .into_iter()
            .filter(|f| f != ".run.lock")
            .collect();
        if left != ["run"] {
            mid_save += 1;
        }
        if !left.iter().any(|f| f == "run") {
            restored += 1;
        }
        let device = burn::tensor::Device::flex();
        let (m, _) = checkpoint::load_generator(&run, &device)
            .unwrap_or_else(|e| panic!("kill {i}: the run does not load: {e}"));
        assert!(
            m.step >= step,
            "kill {i}: went back from {step} to {}",
            m.step
        );
        step = m.step;
        assert_eq!(listing(root.path()), ["run"], "kill {i}: leftovers");
    }
    eprintln!(
        "{kills} kills survived ({mid_save} in the middle of a save, {restored} of them between \
         the renames); the run reached step {step}"
    );
    assert!(
        mid_save > 0,
        "no kill landed in a save: the test proves nothing"
    );
}

#[test]
fn an_installed_binary_finds_the_shipped_runs() {
    let root = tempdir();
    let bindir = root.path().join("bin");
    std::fs::create_dir(&bindir).expect("mkdir");
    let exe = bindir.join("latentlab");
    std::fs::copy(env!("CARGO_BIN_EXE_latentlab"), &exe).expect("copy the binary");
    let home = root.path().join("home");
    let run = |args: &[&str]| {
        // A child that another test thread forks while the copy is being written inherits
        // its open file until it execs: running the copy then fails with "text file busy"
        // for a moment (Linux's copy-then-exec race), so that error is retried.
        let mut tries = 0;
        loop {
            let o = Command::new(&exe)
                .args(args)
                .current_dir(root.path())
                .env("HOME", &home)
                .env("XDG_DATA_HOME", home.join("data"))
                .env("XDG_CACHE_HOME", home.join("cache"))
                .env("LATENTLAB_SHIPPED_FROM", "embedded")
                .output();
            match o {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                o => break o.expect("run the copy"),
            }
        }
    };
    let o = run(&["inspect", "mnist-cdcgan"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        text.contains("cdcgan") && text.contains("embedded"),
        "{text}"
    );
    let o = run(&["score", "--checkpoint", "mnist-cdcgan", "--n", "20"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("Frechet"));
}

#[test]
fn out_of_range_sizes_are_named_errors() {
    let root = tempdir();
    let run = root.path().join("run");
    for (flag, value) in [("--batch", "0"), ("--batch", "100000000"), ("--steps", "0")] {
        let o = train(&run, &[flag, value]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {}", err(&o));
        assert!(err(&o).contains(flag), "{}", err(&o));
    }
    let o = train(&run, &["--steps", "1", "--latent", "100000000"]);
    assert!(
        !o.status.success() && err(&o).contains("latent"),
        "{}",
        err(&o)
    );

    // A manifest with an absurd latent size: a named error, not an allocation abort.
    assert!(train(&run, &["--steps", "1"]).status.success());
    let path = run.join("manifest.json");
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    v["train"]["model"]["latent_dim"] = serde_json::json!(1u64 << 40);
    std::fs::write(&path, serde_json::to_vec(&v).expect("json")).expect("write");
    let e = checkpoint::read_manifest(&run).expect_err("out of range");
    assert!(
        matches!(e, checkpoint::CheckpointError::OutOfRange { .. })
            && e.to_string().contains("latent"),
        "{e}"
    );
    let o = bin()
        .args(["sample", "--checkpoint", s(&run), "--out"])
        .arg(root.path().join("x.png"))
        .output()
        .expect("run");
    assert!(
        !o.status.success() && !err(&o).contains("panicked"),
        "{}",
        err(&o)
    );
}

#[test]
fn sample_keeps_an_existing_file_unless_forced() {
    let root = tempdir();
    let out = root.path().join("mine.png");
    std::fs::write(&out, b"my picture").expect("write");
    let run = checkpoint::shipped_dir("mnist-cdcgan");
    let sample = |extra: &[&str]| {
        bin()
            .args([
                "sample",
                "--checkpoint",
                s(&run),
                "--n",
                "4",
                "--out",
                s(&out),
            ])
            .args(extra)
            .output()
            .expect("run")
    };
    let o = sample(&[]);
    assert!(
        !o.status.success() && err(&o).contains("--force"),
        "{}",
        err(&o)
    );
    assert_eq!(std::fs::read(&out).expect("kept"), b"my picture");
    let o = sample(&["--force"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(image::open(&out).is_ok());
}

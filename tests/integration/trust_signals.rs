//! Termination signals: the first saves and exits 130, a second exits at once, and a signal
//! the caller ignores (nohup) stays ignored.

use super::trust::{SAVE_WAIT, listing, signal, spawn_long, start_long, tiny_args, train, wait};
use crate::tempdir;
use latentlab::checkpoint;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn sigterm_and_sighup_save_and_exit() {
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT] {
        let root = tempdir();
        let run = root.path().join("run");
        let mut long = start_long(&run, &[], &["--save-every", "3"]);
        long.wait_for("saved step 3");
        signal(&long.child, sig);
        let st = wait(&mut long.child, SAVE_WAIT);
        // Everything printed after the signal; the last save is the one the signal asked for.
        let after: Vec<String> = long.lines.iter().collect();
        assert!(
            after.iter().any(|l| l.contains("stopping: saving")),
            "{after:?}"
        );
        let saved = after
            .iter()
            .rev()
            .find(|l| l.starts_with("saved step"))
            .unwrap_or_else(|| panic!("no save after the signal: {after:?}"));
        // "saved step N to DIR"
        let step: u64 = saved
            .split_whitespace()
            .nth(2)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{saved}"));
        assert_eq!(st.code(), Some(130), "signal {sig}");
        let m = checkpoint::read_manifest(&run).expect("saved on the signal");
        assert!(
            m.step == step && step >= 3,
            "signal {sig}: saved {step}, loaded {}",
            m.step
        );
    }
}

#[test]
fn a_second_signal_exits_at_once_and_keeps_the_last_good_checkpoint() {
    let root = tempdir();
    let run = root.path().join("run");
    assert!(train(&run, &["--steps", "2"]).status.success());
    let good = std::fs::read(run.join("manifest.json")).expect("manifest");
    // Each file of a save takes 2 s, so the first signal's save is still under way.
    let mut long = start_long(&run, &[("LATENTLAB_SAVE_PAUSE_MS", "2000")], &[]);
    signal(&long.child, libc::SIGTERM);
    long.wait_for("stopping: saving");
    std::thread::sleep(Duration::from_millis(200));
    let sent = Instant::now();
    signal(&long.child, libc::SIGTERM);
    let st = wait(&mut long.child, Duration::from_secs(10));
    assert!(sent.elapsed() < Duration::from_secs(2), "not at once");
    assert_eq!(st.code(), Some(130));
    let m = checkpoint::read_manifest(&run).expect("the last good run loads");
    assert_eq!(m.step, 2);
    assert_eq!(
        std::fs::read(run.join("manifest.json")).expect("kept"),
        good
    );
    assert_eq!(
        listing(root.path()),
        ["run"],
        "leftovers cleaned by the load"
    );
}

#[test]
fn a_run_under_nohup_keeps_ignoring_sighup() {
    let root = tempdir();
    let run = root.path().join("run");
    // `nohup` is `trap '' HUP` and exec: the ignored disposition is inherited.
    let args: Vec<String> = tiny_args(&run)
        .into_iter()
        .chain(["--steps".into(), "100000000".into()])
        .collect();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("trap '' HUP; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_latentlab"))
        .args(&args);
    let mut long = spawn_long(cmd);
    signal(&long.child, libc::SIGHUP);
    // Ignored: no "stopping" line, and the run goes on.
    let until = Instant::now() + Duration::from_secs(2);
    while let Ok(line) = long
        .lines
        .recv_timeout(until.saturating_duration_since(Instant::now()))
    {
        assert!(
            !line.contains("stopping"),
            "SIGHUP stopped a nohup run: {line}"
        );
    }
    assert!(
        long.child.try_wait().expect("wait").is_none(),
        "the run ended"
    );
    signal(&long.child, libc::SIGTERM);
    assert_eq!(wait(&mut long.child, SAVE_WAIT).code(), Some(130));
}

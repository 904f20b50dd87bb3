//! Trust, part 2, continued: what the newer commands write and print. Pipes, hostile
//! manifest numbers, `--out` files, garbage output and flags (defects 4 to 12).

use super::trust_commands::{copy_dir, digit_png, fails_with, run, tiny_run};
use crate::tempdir;
use crate::trust::{bin, err, listing, s, signal, spawn_until, wait};
use latentlab::checkpoint;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// `directions` with one principal direction from 20 samples of `run`, written to `out`.
fn directions_k1<'a>(run: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "directions",
        "--checkpoint",
        run,
        "--n",
        "20",
        "--k",
        "1",
        "--out",
        out,
    ]
}

/// Spawn `args` with stdout a pipe whose reader is already gone, or `/dev/full`.
fn with_stdout(args: &[&str], stdout: Stdio) -> Output {
    bin()
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("run")
}

fn closed_pipe() -> Stdio {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills two descriptors we then own; the read end is closed at once.
    let r = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(r, 0, "pipe");
    unsafe {
        libc::close(fds[0]);
        use std::os::fd::FromRawFd;
        Stdio::from(std::os::fd::OwnedFd::from_raw_fd(fds[1]))
    }
}

/// Defect 4: a closed stdout ends each command quietly (exit 0, no message); a full one is a
/// named error with exit 1. Never a panic.
#[test]
fn closed_and_full_stdout_are_handled_by_every_command() {
    let root = tempdir();
    let gan = root.path().join("gan");
    tiny_run(&gan, "mlp", "2", &[]);
    let png = digit_png(root.path());
    let o = |name: &str| s(&root.path().join(name)).to_string();
    let (a, b, c, d, e) = (o("a.png"), o("b.json"), o("c.png"), o("det"), o("cls"));
    let g = s(&gan).to_string();
    let p = s(&png).to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["inspect", &g],
        vec!["detect", "--checkpoint", &g, &p],
        vec![
            "sample",
            "--checkpoint",
            &g,
            "--n",
            "4",
            "--force",
            "--out",
            &a,
        ],
        vec![
            "directions",
            "--checkpoint",
            &g,
            "--n",
            "20",
            "--k",
            "2",
            "--force",
            "--out",
            &b,
        ],
        vec![
            "encode",
            "--checkpoint",
            &g,
            &p,
            "--steps",
            "2",
            "--restarts",
            "1",
            "--force",
            "--out",
            &c,
        ],
        vec!["score", "--checkpoint", &g, "--n", "20"],
        vec![
            "detector",
            "--fakes-from",
            &g,
            "--steps",
            "2",
            "--force",
            "--out",
            &d,
        ],
        vec!["classifier", "--steps", "2", "--force", "--out", &e],
    ];
    for args in &commands {
        let out = with_stdout(args, closed_pipe());
        let msg = err(&out);
        assert!(!msg.contains("panicked"), "{args:?} | head: {msg}");
        assert_eq!(out.status.code(), Some(0), "{args:?} | head: {msg}");
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = with_stdout(args, Stdio::from(full));
        let msg = err(&out);
        assert!(!msg.contains("panicked"), "{args:?} > /dev/full: {msg}");
        assert_eq!(out.status.code(), Some(1), "{args:?} > /dev/full: {msg}");
        assert!(msg.contains("standard output"), "{args:?}: {msg}");
    }
}

/// Set `field` (a dotted path into the manifest) to `value`, as a hostile hand edit would.
fn edit_manifest(run: &Path, path: &[&str], value: serde_json::Value) {
    let file = run.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    let mut at = &mut m;
    for key in &path[..path.len() - 1] {
        at = &mut at[*key];
    }
    at[path[path.len() - 1]] = value;
    std::fs::write(&file, serde_json::to_vec(&m).expect("json")).expect("write");
}

/// Defect 5: manifest numbers the command line would refuse are refused by the loader too,
/// at once, instead of hanging `sample` or `train --resume`.
#[test]
fn hostile_boltzmann_numbers_in_a_manifest_are_refused_at_once() {
    let root = tempdir();
    let rbm = root.path().join("rbm");
    tiny_run(&rbm, "rbm", "1", &[]);
    let png = s(&root.path().join("x.png")).to_string();
    for (field, value) in [
        ("sample_gibbs", 1_000_000_000_000_000u64),
        ("k", 1_000_000_000_000),
    ] {
        let copy = root.path().join(field);
        copy_dir(&rbm, &copy);
        edit_manifest(&copy, &["train", "cd", field], value.into());
        let started = Instant::now();
        let needle = format!("cd.{field}");
        fails_with(
            &["sample", "--checkpoint", s(&copy), "--out", &png],
            &needle,
        );
        fails_with(
            &["train", "--resume", "--steps", "1", "--out", s(&copy)],
            &needle,
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{field}: slow refusal"
        );
    }
    assert!(!Path::new(&png).exists());
}

/// Defect 6: `--force` replaces only regular files; without it a dangling link is kept.
#[test]
fn out_never_replaces_a_pipe_a_link_or_a_device() {
    let root = tempdir();
    let gan = root.path().join("gan");
    tiny_run(&gan, "mlp", "1", &[]);
    let fifo = root.path().join("fifo");
    let c = std::ffi::CString::new(s(&fifo)).expect("c path");
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let dangling = root.path().join("dangling.png");
    std::os::unix::fs::symlink(root.path().join("nowhere"), &dangling).expect("symlink");
    let mine = root.path().join("mine.png");
    std::fs::write(&mine, b"my picture").expect("write");
    let linked = root.path().join("linked.png");
    std::os::unix::fs::symlink(&mine, &linked).expect("symlink");
    let g = s(&gan);
    for (out, force, needle) in [
        (&fifo, true, "named pipe"),
        (&dangling, false, "symbolic link"),
        (&dangling, true, "symbolic link"),
        (&linked, true, "symbolic link"),
    ] {
        for mut cmd in [
            vec!["sample", "--checkpoint", g, "--n", "4", "--out", s(out)],
            directions_k1(g, s(out)),
        ] {
            if force {
                cmd.push("--force");
            }
            fails_with(&cmd, needle);
        }
    }
    let meta = std::fs::symlink_metadata(&fifo).expect("fifo");
    use std::os::unix::fs::FileTypeExt;
    assert!(meta.file_type().is_fifo(), "the pipe was replaced");
    assert!(
        std::fs::symlink_metadata(&dangling)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::symlink_metadata(&linked)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&mine).expect("kept"), b"my picture");
    // As root, a real device node too (the issue's /dev/null), made here rather than risked.
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let dev = root.path().join("null");
        let c = std::ffi::CString::new(s(&dev)).expect("c path");
        // SAFETY: mknod(2) of a character device (1, 3: /dev/null) at a valid path.
        let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
        if r == 0 {
            fails_with(
                &["sample", "--checkpoint", g, "--force", "--out", s(&dev)],
                "a device",
            );
            let meta = std::fs::symlink_metadata(&dev).expect("dev");
            assert!(meta.file_type().is_char_device(), "the device was replaced");
        }
    }
}

/// Defect 7: a failed final rename leaves no temporary file, and a directory at `--out` is
/// named as one (not "pass --force").
#[test]
fn a_directory_at_out_is_named_and_leaves_nothing_behind() {
    let root = tempdir();
    let gan = root.path().join("gan");
    tiny_run(&gan, "mlp", "1", &[]);
    let some = root.path().join("somedir");
    std::fs::create_dir(&some).expect("mkdir");
    let before = listing(root.path());
    for force in [true, false] {
        for out in [s(&some), "."] {
            let mut args = directions_k1(s(&gan), out);
            if force {
                args.push("--force");
            }
            let o = fails_with(&args, "is a directory");
            assert!(!err(&o).contains("pass --force"), "{}", err(&o));
        }
    }
    assert_eq!(listing(root.path()), before, "leftovers");
    assert!(listing(&some).is_empty());
}

/// Defect 8: a legal 245-byte `--out` name trains and saves (temporary names stay within
/// NAME_MAX), and a name that cannot be saved is refused before training.
#[test]
fn a_long_out_name_saves_and_a_bad_one_is_refused_before_training() {
    let root = tempdir();
    let long = root.path().join("r".repeat(245));
    tiny_run(&long, "mlp", "2", &[]);
    assert_eq!(checkpoint::read_manifest(&long).expect("saved").step, 2);
    let png = root.path().join("p".repeat(250) + ".png");
    let o = run(&[
        "sample",
        "--checkpoint",
        s(&long),
        "--n",
        "1",
        "--out",
        s(&png),
    ]);
    assert!(o.status.success(), "{}", err(&o));
    // A parent that cannot be written: refused before the first step, not after the last.
    let ro = root.path().join("ro");
    std::fs::create_dir(&ro).expect("mkdir");
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).expect("chmod");
        let started = Instant::now();
        let o = run(&[
            "train",
            "--model",
            "mlp",
            "--steps",
            "100000",
            "--device",
            "cpu",
            "--out",
            s(&ro.join("run")),
        ]);
        assert_eq!(o.status.code(), Some(1), "{}", err(&o));
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}

/// A tiny MLP run whose (average) generator's weights are all `value`.
fn poisoned_run(dir: &Path, value: f32) -> PathBuf {
    use burn::module::Module;
    struct Fill(f32);
    impl burn::module::ModuleMapper for Fill {
        fn map_float<const D: usize>(
            &mut self,
            p: burn::module::Param<burn::tensor::Tensor<D>>,
        ) -> burn::module::Param<burn::tensor::Tensor<D>> {
            let v = self.0;
            p.map(|t| t.zeros_like().add_scalar(v))
        }
    }
    let run = dir.join(format!("run-{value}"));
    tiny_run(&run, "mlp", "1", &[]);
    let device = burn::tensor::Device::flex();
    let (m, g) = checkpoint::load_generator(&run, &device).expect("load");
    let g = g.map(&mut Fill(value));
    let bytes = checkpoint::module_bytes(&g).expect("bytes");
    assert!(m.train.ema.is_some());
    std::fs::write(run.join(checkpoint::GENERATOR_EMA), bytes).expect("write");
    run
}

/// Defects 9 and 10: no command writes garbage and exits 0. An edit that makes the latent
/// infinite, and a generator with NaN weights, are refused by sample, encode, detector and
/// directions alike; directions refuses to write the zero vectors of an all-zero generator.
#[test]
fn garbage_in_is_refused_not_written() {
    let root = tempdir();
    let nan = poisoned_run(root.path(), f32::NAN);
    let out = root.path().join("out.png");
    let o = s(&out);
    let png = digit_png(root.path());
    for args in [
        vec!["sample", "--checkpoint", s(&nan), "--out", o],
        vec![
            "encode",
            "--checkpoint",
            s(&nan),
            s(&png),
            "--steps",
            "2",
            "--out",
            o,
        ],
        vec![
            "directions",
            "--checkpoint",
            s(&nan),
            "--n",
            "20",
            "--out",
            o,
        ],
        vec![
            "detector",
            "--fakes-from",
            s(&nan),
            "--steps",
            "2",
            "--out",
            o,
        ],
    ] {
        fails_with(&args, "NaN");
    }
    assert!(!out.exists());

    let zero = poisoned_run(root.path(), 0.0);
    let dirs = root.path().join("dirs.json");
    fails_with(
        &[
            "directions",
            "--checkpoint",
            s(&zero),
            "--n",
            "20",
            "--k",
            "2",
            "--out",
            s(&dirs),
        ],
        "refused by `sample --edit`",
    );
    assert!(
        !dirs.exists(),
        "directions wrote a file its own --edit rejects"
    );

    // An amount that overflows the latent, and a sigma that does.
    let gan = root.path().join("gan");
    tiny_run(&gan, "mlp", "1", &[]);
    let good = root.path().join("good.json");
    let o2 = run(&directions_k1(s(&gan), s(&good)));
    assert!(o2.status.success(), "{}", err(&o2));
    let edit = format!("{}:0=3e38", s(&good));
    let o3 = run(&[
        "sample",
        "--checkpoint",
        s(&gan),
        "--edit",
        &edit,
        "--out",
        o,
    ]);
    assert!(
        !o3.status.success() && err(&o3).contains("out of range"),
        "{}",
        err(&o3)
    );
    let mut f: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&good).expect("read")).expect("json");
    f["directions"][0]["sigma"] = 3e38.into();
    std::fs::write(&good, serde_json::to_vec(&f).expect("json")).expect("write");
    let edit = format!("{}:0=1", s(&good));
    fails_with(
        &[
            "sample",
            "--checkpoint",
            s(&gan),
            "--edit",
            &edit,
            "--out",
            o,
        ],
        "sigma",
    );
    assert!(!out.exists());
}

/// Defect 11: one rule for `--label` and `--code` in sample, encode and directions: a VAE
/// takes neither.
#[test]
fn directions_takes_label_and_code_by_the_same_rule_as_sample_and_encode() {
    let root = tempdir();
    let vae = root.path().join("vae");
    tiny_run(&vae, "vae", "1", &[]);
    let out = root.path().join("d.json");
    let v = s(&vae);
    let o = s(&out);
    for (flag, value, needle) in [
        ("--label", "99", "not conditional"),
        ("--code", "1", "no latent codes"),
    ] {
        fails_with(
            &[
                "directions",
                "--checkpoint",
                v,
                "--n",
                "20",
                flag,
                value,
                "--out",
                o,
            ],
            needle,
        );
        fails_with(
            &["sample", "--checkpoint", v, flag, value, "--out", o],
            needle,
        );
    }
    assert!(!out.exists());
}

/// Defect 12: `--out .` and `/` are named as such; a direction with huge entries still moves
/// the latent (it is normalised without overflowing); SIGTERM ends `detector` with 130.
#[test]
fn minor_defects_out_dot_huge_directions_and_sigterm() {
    let root = tempdir();
    for out in [".", "/"] {
        fails_with(
            &["train", "--steps", "1", "--out", out],
            "names no directory",
        );
    }
    let gan = root.path().join("gan");
    tiny_run(&gan, "mlp", "2", &[]);
    let dirs = root.path().join("huge.json");
    let mut vector = vec![0.0f32; 4];
    vector[0] = 1e30;
    let f = serde_json::json!({"directions": [{"name": "huge", "vector": vector, "sigma": 1.0}]});
    std::fs::write(&dirs, serde_json::to_vec(&f).expect("json")).expect("write");
    let plain = root.path().join("plain.png");
    let edited = root.path().join("edited.png");
    let g = s(&gan);
    let o = run(&["sample", "--checkpoint", g, "--n", "4", "--out", s(&plain)]);
    assert!(o.status.success(), "{}", err(&o));
    let edit = format!("{}:0=4", s(&dirs));
    let o = run(&[
        "sample",
        "--checkpoint",
        g,
        "--n",
        "4",
        "--edit",
        &edit,
        "--out",
        s(&edited),
    ]);
    assert!(o.status.success(), "{}", err(&o));
    let pixels = |p: &Path| image::open(p).expect("png").into_luma8().into_raw();
    assert_ne!(pixels(&plain), pixels(&edited), "the edit did nothing");

    let mut cmd = bin();
    cmd.args(["detector", "--fakes-from", g, "--steps", "1000000", "--out"])
        .arg(root.path().join("det"));
    let mut long = spawn_until(cmd, "step ");
    signal(&long.child, libc::SIGTERM);
    let st = wait(&mut long.child, Duration::from_secs(30));
    assert_eq!(st.code(), Some(130));
    assert!(!root.path().join("det").exists());
}

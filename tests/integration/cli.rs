//! The `latentlab` binary as a user runs it.

use crate::tempdir;
use std::path::Path;
use std::process::{Command, Output};

pub(crate) fn latentlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_latentlab"))
        .args(args)
        .output()
        .expect("run latentlab")
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `latentlab CMD --checkpoint RUN FLAGS... PICTURES... --out OUT` (upscale, translate).
pub(crate) fn on_pictures(
    cmd: &str,
    run: &Path,
    flags: &[&str],
    pictures: &[&Path],
    out: &Path,
) -> Vec<String> {
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let mut args = vec![cmd.to_string(), "--checkpoint".into(), path(run)];
    args.extend(flags.iter().map(|f| f.to_string()));
    args.extend(pictures.iter().map(|p| path(p)));
    args.extend(["--out".to_string(), path(out)]);
    args
}

/// [`fails_with`] for arguments built as strings.
pub(crate) fn fails_with_args(args: &[String], needle: &str) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails_with(&args, needle);
}

/// Exit non-zero with `needle` in the message, and no panic.
pub(crate) fn fails_with(args: &[&str], needle: &str) {
    let o = latentlab(args);
    let err = stderr(&o);
    assert!(!o.status.success(), "{args:?} succeeded");
    assert!(
        err.contains(needle),
        "{args:?}: expected `{needle}` in:\n{err}"
    );
    assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
}

fn train_tiny(out: &Path) {
    train_tiny_model(out, "cdcgan");
}

/// Two steps of a tiny `model` on the embedded digits, sampling every step.
pub(crate) fn train_tiny_model(out: &Path, model: &str) {
    let o = latentlab(&[
        "train",
        "--model",
        model,
        "--data",
        "default",
        "--steps",
        "2",
        "--batch",
        "8",
        "--width",
        "4",
        "--latent",
        "8",
        "--device",
        "cpu",
        "--sample-every",
        "1",
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "train failed:\n{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("device: cpu"),
        "the device choice is printed:\n{err}"
    );
}

#[test]
fn malformed_data_fails_cleanly_from_the_command_line() {
    let dir = tempdir();
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).expect("mkdir");
    let mut header = vec![0u8, 0, 8, 3];
    header.extend_from_slice(&10u32.to_be_bytes());
    header.extend_from_slice(&28u32.to_be_bytes());
    header.extend_from_slice(&28u32.to_be_bytes());
    header.extend_from_slice(&[0u8; 100]); // far fewer than 10 images
    std::fs::write(bad.join("train-images-idx3-ubyte"), header).expect("write");
    let out = dir.path().join("run");
    let out = out.to_str().expect("utf-8");
    fails_with(
        &[
            "train",
            "--data",
            bad.to_str().expect("utf-8"),
            "--out",
            out,
        ],
        "truncated",
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    fails_with(
        &[
            "train",
            "--data",
            empty.to_str().expect("utf-8"),
            "--out",
            out,
        ],
        "no pictures",
    );
    fails_with(
        &["train", "--data", "/no/such/place", "--out", out],
        "no such file",
    );
}

#[test]
fn train_sample_inspect() {
    let dir = tempdir();
    let run = dir.path().join("run");
    train_tiny(&run);
    let run_s = run.to_str().expect("utf-8");

    let a = dir.path().join("a.png");
    let b = dir.path().join("b.png");
    for out in [&a, &b] {
        let o = latentlab(&[
            "sample",
            "--checkpoint",
            run_s,
            "--label",
            "7",
            "--n",
            "12",
            "--cols",
            "4",
            "--seed",
            "1",
            "--out",
            out.to_str().expect("utf-8"),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let (a_bytes, b_bytes) = (std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b"));
    assert_eq!(
        a_bytes, b_bytes,
        "same seed must give a byte-identical file"
    );
    let img = image::open(&a).expect("png").into_luma8();
    // 4 columns x 3 rows of 28 px with 2 px gaps
    assert_eq!(
        (img.width(), img.height()),
        (4 * 28 + 3 * 2, 3 * 28 + 2 * 2)
    );

    let c = dir.path().join("c.png");
    let o = latentlab(&[
        "sample",
        "--checkpoint",
        run_s,
        "--label",
        "7",
        "--n",
        "12",
        "--cols",
        "4",
        "--seed",
        "2",
        "--out",
        c.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success());
    assert_ne!(
        std::fs::read(&c).expect("c"),
        a_bytes,
        "another seed gives other images"
    );

    // A file not yet written, so each refusal below is about its own flag.
    let missing_png = dir.path().join("never.png");
    fails_with(
        &[
            "sample",
            "--checkpoint",
            run_s,
            "--label",
            "10",
            "--out",
            missing_png.to_str().expect("utf-8"),
        ],
        "out of range",
    );
    fails_with(
        &[
            "sample",
            "--checkpoint",
            dir.path().to_str().expect("utf-8"),
            "--out",
            missing_png.to_str().expect("utf-8"),
        ],
        "not a checkpoint",
    );

    let o = latentlab(&["inspect", run_s]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        text.contains("cdcgan")
            && text.contains("2 steps")
            && text.contains("mnist5k")
            && text.contains("28x28 pixels, 1 channel (grey)"),
        "{text}"
    );

    // --resume continues the step count.
    let o = latentlab(&[
        "train", "--model", "cdcgan", "--steps", "1", "--batch", "8", "--device", "cpu", "--out",
        run_s, "--resume",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = latentlab::checkpoint::read_manifest(&run).expect("manifest");
    assert_eq!((m.step, m.train.model.width), (3, 4));
}

#[test]
fn bench_prints_a_table_and_writes_json() {
    let dir = tempdir();
    let json = dir.path().join("bench.json");
    let o = latentlab(&[
        "bench",
        "--models",
        "mlp",
        "--device",
        "cpu",
        "--batch",
        "8",
        "--steps",
        "2",
        "--runs",
        "3",
        "--baseline",
        "--json",
        json.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("train ex/s") && table.contains("mlp (baseline)"),
        "{table}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("valid JSON");
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    let r = &runs[1];
    assert_eq!(
        (
            r["model"].as_str(),
            r["device"].as_str(),
            r["batch"].as_u64()
        ),
        (Some("mlp"), Some("cpu"), Some(8))
    );
    for key in [
        "train_examples_per_sec",
        "generate_ms_batch1",
        "generate_ms_batch64",
    ] {
        assert!(r[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {r}");
    }
    assert_eq!(runs[0]["variant"].as_str(), Some("baseline"));
}

/// A 28x28 PNG of the embedded data's image `i` (as a user would save a real digit).
pub(crate) fn real_digit_png(dir: &Path, i: usize) -> std::path::PathBuf {
    let data = latentlab::data::DataSource::Default
        .load(28)
        .expect("embedded digits");
    let path = dir.join(format!("real{i}.png"));
    image::GrayImage::from_raw(28, 28, data.image(i).to_vec())
        .expect("28x28")
        .save(&path)
        .expect("write png");
    path
}

#[test]
fn detect_scores_images_and_names_bad_ones() {
    let dir = tempdir();
    let run = dir.path().join("run");
    train_tiny(&run);
    let real = real_digit_png(dir.path(), 0);
    let p = |p: &Path| p.to_str().expect("utf-8").to_string();
    let o = latentlab(&[
        "detect",
        "--checkpoint",
        &p(&run),
        "--label",
        "3",
        &p(&real),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let (path, prob) = out.trim().split_once('\t').expect("PATH<TAB>P(real)");
    assert_eq!(path, p(&real));
    let prob: f32 = prob.parse().expect("a probability");
    assert!((0.0..=1.0).contains(&prob), "{prob}");
    // Without --label a conditional D is asked for every class and says which it kept.
    let o = latentlab(&["detect", "--checkpoint", &p(&run), &p(&real)]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\tlabel "),
        "{}",
        stderr(&o)
    );

    let big = dir.path().join("big.png");
    image::GrayImage::new(32, 32).save(&big).expect("png");
    fails_with(
        &["detect", "--checkpoint", &p(&run), "--label", "0", &p(&big)],
        "the image is 32x32; the model takes 28x28 images",
    );
    let junk = dir.path().join("junk.png");
    std::fs::write(&junk, b"not an image").expect("write");
    fails_with(
        &[
            "detect",
            "--checkpoint",
            &p(&run),
            "--label",
            "0",
            &p(&junk),
        ],
        "unreadable image",
    );
    fails_with(
        &[
            "detect",
            "--checkpoint",
            &p(&run),
            "--label",
            "10",
            &p(&real),
        ],
        "label 10 is out of range",
    );
}

#[test]
fn a_dedicated_detector_tells_real_digits_from_a_weak_generators_fakes() {
    let dir = tempdir();
    let run = dir.path().join("run");
    train_tiny(&run); // two steps: its fakes are far from digits
    let det = dir.path().join("det");
    let p = |p: &Path| p.to_str().expect("utf-8").to_string();
    let args = [
        "detector",
        "--fakes-from",
        &p(&run),
        "--steps",
        "60",
        "--out",
        &p(&det),
    ];
    let o = latentlab(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let info = latentlab::detect::parse_info(
        &std::fs::read(det.join("detector.json")).expect("detector.json"),
        &det,
    )
    .expect("info");
    assert!(info.heldout_auc > 0.95, "held-out AUC {}", info.heldout_auc);
    assert!(String::from_utf8_lossy(&o.stdout).contains("held-out AUC"));
    // A second run without --force keeps the first.
    fails_with(&args, "already holds a detector");

    // The detector rates a real digit above one of the generator's samples.
    let real = real_digit_png(dir.path(), 1);
    let fake = dir.path().join("fake.png");
    let o = latentlab(&[
        "sample",
        "--checkpoint",
        &p(&run),
        "--n",
        "1",
        "--out",
        &p(&fake),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = latentlab(&["detect", "--checkpoint", &p(&det), &p(&real), &p(&fake)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let scores: Vec<f32> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            l.split('\t')
                .nth(1)
                .and_then(|v| v.parse().ok())
                .expect("score")
        })
        .collect();
    assert!(
        scores[0] > 0.5 && scores[1] < 0.5,
        "real {} fake {}",
        scores[0],
        scores[1]
    );
}

#[test]
fn the_app_command_refuses_a_checkpoint_it_cannot_open_before_any_window() {
    let dir = tempdir();
    fails_with(
        &[
            "app",
            "--checkpoint",
            dir.path().join("no-such-run").to_str().unwrap(),
        ],
        "opening",
    );
}

#[test]
fn bench_runs_the_pytorch_reference_after_each_model_and_prints_ratios() {
    // A stand-in for python3 with torch: answers the import check and prints the reference's
    // JSON line, so the interleaving and the ratio table are tested without PyTorch.
    let dir = tempdir();
    let python = dir.path().join("fake-python");
    std::fs::write(
        &python,
        "#!/bin/sh\nif [ \"$1\" = \"-c\" ]; then exit 0; fi\n\
         echo \"{\\\"model\\\": \\\"$3\\\", \\\"framework\\\": \\\"pytorch fake\\\", \
         \\\"device\\\": \\\"cpu\\\", \\\"threads\\\": 2, \\\"batch\\\": 8, \
         \\\"train_examples_per_sec\\\": 100.0, \\\"train_runs\\\": [100.0], \
         \\\"generate_ms_batch1\\\": 0.5, \\\"generate_ms_batch64\\\": 2.0}\"\n",
    )
    .expect("write the stand-in");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let json = dir.path().join("bench.json");
    let o = latentlab(&[
        "bench",
        "--models",
        "mlp,acgan",
        "--batch",
        "8",
        "--steps",
        "2",
        "--runs",
        "2",
        "--python",
        python.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("mlp in pytorch fake (2 threads): 100.0 examples/s"),
        "{err}"
    );
    assert!(err.contains("no PyTorch reference for acgan"), "{err}");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let row = out
        .lines()
        .find(|l| l.starts_with("mlp ") && l.contains('x') && l.contains("100.0"))
        .unwrap_or_else(|| panic!("no ratio row in:\n{out}"));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).expect("valid JSON");
    let ours = report["runs"][0]["train_examples_per_sec"]
        .as_f64()
        .unwrap();
    assert!(
        row.contains(&format!("{:.2}x", ours / 100.0)),
        "{row} vs {ours}"
    );
    assert_eq!(report["references"].as_array().map(Vec::len), Some(1));
}

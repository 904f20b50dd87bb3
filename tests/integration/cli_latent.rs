//! The latent-space commands as a user runs them: InfoGAN's codes, `directions`,
//! `sample --edit` and `encode`.

use super::cli::{fails_with, latentlab, real_digit_png, stderr, train_tiny_model};
use crate::tempdir;
use std::path::Path;

#[test]
fn infogan_codes_from_the_command_line() {
    let dir = tempdir();
    let run = dir.path().join("info");
    let p = |p: &Path| p.to_str().expect("utf-8").to_string();
    train_tiny_model(&run, "infogan");
    let o = latentlab(&["inspect", &p(&run)]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.contains("codes: one 10-way categorical and 2 continuous"),
        "{text}"
    );

    let png = dir.path().join("code3.png");
    let o = latentlab(&[
        "sample",
        "--checkpoint",
        &p(&run),
        "--code",
        "3",
        "--cont",
        "0.5,-1",
        "--n",
        "4",
        "--out",
        &p(&png),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let meta = latentlab::export::png_metadata(&std::fs::read(&png).expect("png"), &png)
        .expect("metadata");
    assert!(meta.contains(&("code".into(), "3".into())), "{meta:?}");
    assert!(meta.contains(&("cont".into(), "0.5,-1".into())), "{meta:?}");

    let out = p(&dir.path().join("x.png"));
    let run_path = p(&run);
    let sample = |extra: &[&str]| {
        let mut args = vec!["sample", "--checkpoint", &run_path, "--out", &out];
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let fails = |extra: &[&str], needle: &str| {
        let args = sample(extra);
        fails_with(&args.iter().map(String::as_str).collect::<Vec<_>>(), needle);
    };
    fails(&["--code", "10"], "--code 10 is out of range");
    fails(
        &["--cont", "1"],
        "this InfoGAN has 2 continuous codes, got 1 values",
    );
    fails(&["--label", "1"], "InfoGAN has no classes");

    // The meter reports what each code value draws.
    let o = latentlab(&["score", "--checkpoint", &p(&run), "--n", "40"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.contains("code 9  draws") && text.contains("mean purity"),
        "{text}"
    );
}

#[test]
fn directions_edit_and_encode_from_the_command_line() {
    let dir = tempdir();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let o = latentlab(&[
        "directions",
        "--checkpoint",
        "mnist-dcgan",
        "--n",
        "500",
        "--k",
        "4",
        "--out",
        &p("d.json"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("explained variance"), "{out}");
    let f = latentlab::explore::directions::DirectionsFile::read(
        dir.path().join("d.json").as_path(),
        Some(latentlab::explore::directions::LatentDims { z: 100, w: 0 }),
    )
    .expect("dirs.json");
    assert_eq!(f.directions.len(), 4);
    // The user's file is kept.
    fails_with(
        &[
            "directions",
            "--checkpoint",
            "mnist-dcgan",
            "--out",
            &p("d.json"),
        ],
        "already exists",
    );
    let edit = format!("{}:0=2.5", p("d.json"));
    let o = latentlab(&[
        "sample",
        "--checkpoint",
        "mnist-dcgan",
        "--n",
        "4",
        "--edit",
        &edit,
        "--out",
        &p("e.png"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let meta = latentlab::export::png_metadata(
        &std::fs::read(p("e.png")).expect("png"),
        Path::new("e.png"),
    )
    .expect("metadata");
    assert!(
        meta.iter()
            .any(|(k, v)| k == "edits" && v.contains(":0=2.5")),
        "{meta:?}"
    );
    fails_with(
        &[
            "sample",
            "--checkpoint",
            "mnist-dcgan",
            "--edit",
            &format!("{}:9=1", p("d.json")),
            "--out",
            &p("x.png"),
        ],
        "no direction 9",
    );
    fails_with(
        &[
            "sample",
            "--checkpoint",
            "mnist-dcgan",
            "--edit",
            "nonsense",
            "--out",
            &p("x.png"),
        ],
        "FILE.json:INDEX=AMOUNT",
    );
    // Encode a real digit: the reconstruction carries a latent the app can restore.
    let real = real_digit_png(dir.path(), 3);
    let o = latentlab(&[
        "encode",
        "--checkpoint",
        "mnist-dcgan",
        real.to_str().expect("path"),
        "--steps",
        "60",
        "--restarts",
        "2",
        "--out",
        &p("r.png"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("pixel error"));
    let record =
        latentlab::export::read_latent(dir.path().join("r.png").as_path()).expect("latent");
    assert_eq!(record.z.len(), 100);
    fails_with(
        &[
            "encode",
            "--checkpoint",
            "mnist-cdcgan",
            "--data-index",
            "0",
            "--out",
            &p("c.png"),
        ],
        "pass --label",
    );
    fails_with(
        &[
            "encode",
            "--checkpoint",
            "mnist-dcgan",
            &p("d.json"),
            "--out",
            &p("c.png"),
        ],
        "d.json",
    );
}

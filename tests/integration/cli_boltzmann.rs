//! The Boltzmann machines (RBM, DBN, DBM) from the command line: train, sample and inspect.

use super::cli::{fails_with, latentlab, stderr};
use crate::tempdir;
use std::path::Path;

/// A few updates of a small Boltzmann machine on the embedded digits.
fn train_boltzmann(out: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "train",
        "--data",
        "default",
        "--steps",
        "6",
        "--batch",
        "16",
        "--device",
        "cpu",
        "--sample-every",
        "3",
        "--sample-gibbs",
        "5",
        "--out",
        out.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let o = latentlab(&args);
    assert!(
        o.status.success(),
        "train {extra:?} failed:\n{}",
        stderr(&o)
    );
    stderr(&o)
}

#[test]
fn boltzmann_machines_train_sample_and_inspect_from_the_command_line() {
    let dir = tempdir();
    let rbm = dir.path().join("rbm");
    let log = train_boltzmann(
        &rbm,
        &["--model", "rbm", "--hidden", "20", "--pcd", "--cd-k", "2"],
    );
    assert!(log.contains("hidden [20]"), "{log}");
    let sample_rbm = |out: &Path| {
        let o = latentlab(&[
            "sample",
            "--checkpoint",
            rbm.to_str().unwrap(),
            "--n",
            "4",
            "--gibbs",
            "7",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    let png = dir.path().join("rbm.png");
    sample_rbm(&png);
    let meta = latentlab::export::png_metadata(&std::fs::read(&png).unwrap(), &png).unwrap();
    assert!(
        meta.iter().any(|(k, v)| k == "gibbs_steps" && v == "7"),
        "{meta:?}"
    );
    // The same seed gives the same bytes (the Gibbs coin flips are seeded too).
    let again = dir.path().join("again.png");
    sample_rbm(&again);
    assert_eq!(std::fs::read(&png).unwrap(), std::fs::read(&again).unwrap());
    fails_with(
        &[
            "sample",
            "--checkpoint",
            rbm.to_str().unwrap(),
            "--label",
            "3",
            "--out",
            dir.path().join("x.png").to_str().unwrap(),
        ],
        "not conditional",
    );
    let o = latentlab(&["inspect", rbm.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("784 visible x 20 hidden"), "{text}");
    assert!(text.contains("persistent CD-2"), "{text}");

    // A DBN with label units: one progress phase per layer, and --label clamps a class.
    let dbn = dir.path().join("dbn");
    let log = train_boltzmann(
        &dbn,
        &[
            "--model",
            "dbn",
            "--layers",
            "12,10",
            "--labels",
            "--layer-steps",
            "3",
        ],
    );
    assert!(log.contains("training hidden layer 1 of 2"), "{log}");
    assert!(log.contains("training hidden layer 2 of 2"), "{log}");
    let o = latentlab(&[
        "sample",
        "--checkpoint",
        dbn.to_str().unwrap(),
        "--n",
        "3",
        "--label",
        "4",
        "--gibbs",
        "3",
        "--out",
        dir.path().join("dbn.png").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = latentlab(&["inspect", dbn.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.contains("22 visible (incl. 10 softmax label units) x 10 hidden, RBM"),
        "{text}"
    );

    // A DBM reaches its joint phase and resumes there.
    let dbm = dir.path().join("dbm");
    let log = train_boltzmann(
        &dbm,
        &["--model", "dbm", "--layers", "12,8", "--layer-steps", "2"],
    );
    assert!(log.contains("joint training of all layers"), "{log}");
    let o = latentlab(&[
        "train",
        "--resume",
        "--steps",
        "2",
        "--device",
        "cpu",
        "--out",
        dbm.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "resume: {}", stderr(&o));

    // Bad shapes are named before anything is written.
    fails_with(
        &[
            "train",
            "--model",
            "rbm",
            "--layers",
            "10,10",
            "--steps",
            "1",
            "--out",
            dir.path().join("bad").to_str().unwrap(),
        ],
        "an RBM has exactly one",
    );
    fails_with(
        &[
            "sample",
            "--checkpoint",
            "mnist-dcgan",
            "--gibbs",
            "10",
            "--out",
            dir.path().join("g.png").to_str().unwrap(),
        ],
        "not a Boltzmann machine",
    );
    fails_with(
        &["score", "--checkpoint", "mnist-dcgan", "--gibbs", "10"],
        "not a Boltzmann machine",
    );
    // No latent space: directions and encode say so and write nothing.
    let out = dir.path().join("dirs.json");
    fails_with(
        &[
            "directions",
            "--checkpoint",
            rbm.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        "has no latent space",
    );
    assert!(!out.exists());
    fails_with(
        &[
            "encode",
            "--checkpoint",
            rbm.to_str().unwrap(),
            "--data-index",
            "3",
            "--out",
            dir.path().join("enc.png").to_str().unwrap(),
        ],
        "has no latent space",
    );
}

#[test]
fn chain_restarts_and_label_chains_are_recorded_changed_on_resume_and_bounded() {
    let dir = tempdir();
    let dbn = dir.path().join("dbn");
    let dbn_s = dbn.to_str().unwrap();
    let flags = "--model dbn --layers 12,10 --labels --pcd --chains 20 --layer-steps 2";
    train_boltzmann(&dbn, &flags.split(' ').collect::<Vec<_>>());
    let inspect = || String::from_utf8_lossy(&latentlab(&["inspect", dbn_s]).stdout).into_owned();
    assert!(!inspect().contains("restarted from noise"), "{}", inspect());
    // A resumed run takes new chain settings, as it takes a new learning rate.
    let o = latentlab(&[
        "train",
        "--resume",
        "--steps",
        "3",
        "--device",
        "cpu",
        "--chain-restarts",
        "3",
        "--label-chains",
        "--out",
        dbn_s,
    ]);
    assert!(o.status.success(), "resume: {}", stderr(&o));
    let text = inspect();
    assert!(
        text.contains("3 restarted from noise per update; each holds one class"),
        "{text}"
    );
    // More restarts than chains is refused, naming the setting.
    fails_with(
        &[
            "train",
            "--model",
            "rbm",
            "--hidden",
            "8",
            "--pcd",
            "--chains",
            "10",
            "--chain-restarts",
            "20",
            "--steps",
            "1",
            "--out",
            dir.path().join("bad").to_str().unwrap(),
        ],
        "cd.restarts out of range: 20 (0 to cd.chains, 10)",
    );
}

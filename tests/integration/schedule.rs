//! Learning-rate schedules: the rate a step uses follows the schedule, the CLI stores it and
//! a resumed run continues it, or refuses to train past its end at a rate of zero.

use crate::cli::{fails_with, latentlab, stderr};
use crate::{patterns, tempdir, tiny};
use burn::tensor::Device;
use latentlab::model::ModelKind;
use latentlab::train::Trainer;
use latentlab::train::objective::Loss;
use latentlab::types::schedule::LrSchedule;
use std::sync::Arc;

/// How far G's output moves over 5 steps under `schedule` (mean absolute change).
fn output_moves(schedule: LrSchedule) -> f32 {
    let mut cfg = tiny(ModelKind::Mlp, Loss::Nonsat, 0);
    cfg.ema = None;
    cfg.schedule = schedule;
    let mut t = Trainer::new(
        cfg,
        Arc::new(patterns(4)),
        "patterns".into(),
        &Device::flex(),
    )
    .expect("trainer");
    let z = latentlab::types::noise::gaussian(3, 8 * t.config.model.latent_dim);
    let before = t.generate(&z, None).expect("generate");
    for _ in 0..5 {
        t.step().expect("step");
    }
    let after = t.generate(&z, None).expect("generate");
    before
        .iter()
        .zip(&after)
        .map(|(a, b)| (a - b).abs())
        .sum::<f32>()
        / before.len() as f32
}

#[test]
fn a_long_warm_up_holds_the_first_steps_back() {
    let constant = output_moves(LrSchedule::default());
    let warming = output_moves(LrSchedule {
        warmup: 100_000,
        ..LrSchedule::default()
    });
    assert!(constant > 1e-3, "the constant rate moved G by {constant}");
    assert!(
        warming < constant / 100.0,
        "at 1/100,000 of the rate G moved {warming} against {constant}"
    );
}

fn manifest_schedule(run: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("manifest.json")).expect("manifest");
    let m: serde_json::Value = serde_json::from_str(&text).expect("json");
    m["train"]["schedule"].clone()
}

#[test]
fn the_cli_stores_a_schedule_and_resume_continues_it_or_says_why_not() {
    let dir = tempdir();
    let run = dir.path().join("run");
    let out = run.to_str().expect("utf-8");
    let tiny = |steps: &str, extra: &[&str]| {
        crate::trust::train(&run, &[&["--steps", steps], extra].concat())
    };
    let o = tiny("4", &["--lr-schedule", "linear", "--warmup", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("linear to zero at step 4 after a 1-step warm-up"));
    let s = manifest_schedule(&run);
    assert_eq!(
        (s["shape"].as_str(), s["end"].as_u64()),
        (Some("linear"), Some(4))
    );
    // Past the end the rate would be zero: refused, and the run is left as it was.
    let o = tiny("2", &["--resume"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("reaches a learning rate of zero at step 4"),
        "{}",
        stderr(&o)
    );
    assert_eq!(manifest_schedule(&run), s);
    // A new schedule from the saved step to the new end.
    let o = tiny("3", &["--resume", "--lr-schedule", "cosine"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = manifest_schedule(&run);
    assert_eq!(
        (s["shape"].as_str(), s["start"].as_u64(), s["end"].as_u64()),
        (Some("cosine"), Some(4), Some(7))
    );
    let o = latentlab(&["inspect", out]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("schedule:  cosine to zero at step 7"),
        "{text}"
    );
    // A warm-up as long as the decay is refused before any work.
    let other = dir.path().join("other");
    fails_with(
        &[
            "train",
            "--model",
            "mlp",
            "--steps",
            "3",
            "--lr-schedule",
            "cosine",
            "--warmup",
            "3",
            "--out",
            other.to_str().expect("utf-8"),
        ],
        "--warmup 3 is as long as the schedule itself",
    );
}

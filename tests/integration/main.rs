//! Integration tests, one module per area, in one binary (each binary links all of burn).

// Test helpers outside #[test] functions may unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod boltzmann;
mod checkpoint;
mod cli;
mod cli_boltzmann;
mod cli_latent;
mod collapse;
mod colour;
mod cyclegan;
mod data;
mod explore;
mod fuzz;
mod lapgan;
mod latent;
mod layers;
mod learning;
mod quality;
#[cfg(feature = "remote")]
mod remote;
mod schedule;
mod session;
mod srgan;
mod style;
mod trust;
mod trust_commands;
mod trust_outputs;
mod trust_signals;
#[cfg(feature = "app")]
mod ui;
#[cfg(feature = "app")]
mod ui_colour;
#[cfg(feature = "app")]
mod ui_gibbs;
#[cfg(feature = "app")]
mod ui_latent;
#[cfg(all(feature = "app", feature = "remote"))]
mod ui_remote;
#[cfg(feature = "app")]
mod ui_style;
#[cfg(feature = "app")]
mod ui_train;
#[cfg(feature = "app")]
mod ui_translate;

use latentlab::data::Dataset;
use latentlab::model::ModelKind;
use latentlab::train::TrainConfig;
use latentlab::train::objective::Loss;

/// Process-wide settings the binary makes in `main`, made once before the first test's tensors.
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(latentlab::device::pin_default_device_to_cpu);
}

/// Four fixed 28x28 patterns (bars and blocks), `copies` of each, labelled 0-3.
pub fn patterns(copies: usize) -> Dataset {
    init();
    let shapes: [fn(usize, usize) -> bool; 4] = [
        |y, _| (10..18).contains(&y),                          // horizontal bar
        |_, x| (10..18).contains(&x),                          // vertical bar
        |y, x| (4..12).contains(&y) && (4..12).contains(&x),   // top-left block
        |y, x| (16..24).contains(&y) && (16..24).contains(&x), // bottom-right block
    ];
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..copies {
        for (label, shape) in shapes.iter().enumerate() {
            for y in 0..28 {
                for x in 0..28 {
                    images.push(if shape(y, x) { 255 } else { 0 });
                }
            }
            labels.push(label as u8);
        }
    }
    Dataset {
        name: "patterns".into(),
        height: 28,
        width: 28,
        channels: 1,
        images,
        labels,
        class_names: ["h-bar", "v-bar", "block-tl", "block-br"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

/// The pattern images as values in [-1, 1], `[4, 784]`.
pub fn pattern_values() -> Vec<Vec<f32>> {
    let d = patterns(1);
    (0..4).map(|i| d.pixels(&[i])).collect()
}

/// A small, fast configuration for tests.
pub fn tiny(kind: ModelKind, loss: Loss, classes: usize) -> TrainConfig {
    init();
    let mut c = TrainConfig::new(kind, loss, classes);
    c.model.width = match kind {
        ModelKind::Mlp | ModelKind::Cmlp => 32,
        _ => 4,
    };
    c.model.latent_dim = if kind == ModelKind::Vae { 2 } else { 8 };
    c.batch = 16;
    c.sample_count = 8;
    c.sample_every = 0;
    c
}

/// A paused CPU run of `config` on the pattern images (4 classes), with nothing to save.
pub fn pattern_spec(config: TrainConfig) -> latentlab::train::RunSpec {
    latentlab::train::RunSpec {
        config,
        data: std::sync::Arc::new(patterns(8)),
        data_source: "patterns".into(),
        device: latentlab::device::DeviceChoice::Cpu,
        token_file: None,
        resume_from: None,
        out_dir: None,
        max_steps: None,
        autostart: false,
        score_every: 0,
        classifier: None,
        lr_override: None,
        schedule_override: None,
        cd_override: None,
        detect_every: 0,
    }
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

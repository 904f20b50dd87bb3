//! `latentlab bench`: training throughput and generator latency per model and device, on
//! synthetic data of the right shape (this measures speed, not learning).

use crate::data::Dataset;
use crate::device::{self, DeviceChoice};
use crate::model::ModelKind;
use crate::train::objective::Loss;
use crate::train::{TrainConfig, TrainError, Trainer};
use crate::types::stats::median;
use crate::types::{grid, noise};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub models: Vec<ModelKind>,
    pub devices: Vec<DeviceChoice>,
    pub batch: usize,
    /// Steps per timed run.
    pub steps: usize,
    /// Timed runs per measurement (the median is reported).
    pub runs: usize,
    /// Untimed steps first (kernel compilation, allocator warm-up).
    pub warmup: usize,
    /// Image side and channels of the synthetic data (28 and 1: the digit sets).
    pub size: usize,
    pub channels: usize,
}

/// How the GAN step is run for one measurement.
pub use crate::train::Speedups;

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            models: vec![
                ModelKind::Mlp,
                ModelKind::Dcgan,
                ModelKind::Cdcgan,
                ModelKind::Vae,
            ],
            devices: vec![DeviceChoice::Cpu],
            batch: 64,
            steps: 20,
            runs: 5,
            warmup: 5,
            size: crate::types::config::DIGIT_SIDE,
            channels: 1,
        }
    }
}

/// One row of results; the JSON form scripts read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRun {
    pub model: String,
    /// "" for latentlab's normal step, "baseline" for the reference row (`--baseline`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    pub device: String,
    pub device_name: String,
    pub batch: usize,
    /// The images' side and channels.
    #[serde(default = "digit_side")]
    pub size: usize,
    #[serde(default = "one_channel")]
    pub channels: usize,
    pub train_examples_per_sec: f64,
    /// Every timed run, for judging the spread.
    pub train_runs: Vec<f64>,
    pub generate_ms_batch1: f64,
    pub generate_ms_batch64: f64,
}

/// A PyTorch reference measurement (`tests/reference/pytorch_ref.py`'s JSON line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceRun {
    pub model: String,
    pub framework: String,
    pub device: String,
    pub threads: usize,
    pub batch: usize,
    pub train_examples_per_sec: f64,
    #[serde(default)]
    pub train_runs: Vec<f64>,
    pub generate_ms_batch1: f64,
    pub generate_ms_batch64: f64,
}

fn digit_side() -> usize {
    crate::types::config::DIGIT_SIDE
}

fn one_channel() -> usize {
    1
}

#[derive(Debug, Serialize, Deserialize)]
pub struct BenchReport {
    pub runs: Vec<BenchRun>,
    /// PyTorch's measurements of the same models, taken in the same invocation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<ReferenceRun>,
}

/// latentlab against PyTorch, model by model: training examples/s and their ratio, and the
/// generator's batch-1 latency.
pub fn ratio_table(runs: &[BenchRun], refs: &[ReferenceRun]) -> String {
    let mut out = format!(
        "{:<10} {:<6} {:>16} {:>14} {:>8} {:>16} {:>14}\n",
        "model",
        "device",
        "latentlab ex/s",
        "PyTorch ex/s",
        "ratio",
        "latentlab b1 ms",
        "PyTorch b1 ms"
    );
    for r in refs {
        let ours = runs.iter().find(|l| {
            l.model == r.model && l.variant.is_empty() && (l.device == "cpu") == (r.device == "cpu")
        });
        let Some(l) = ours else { continue };
        out += &format!(
            "{:<10} {:<6} {:>16.1} {:>14.1} {:>7.2}x {:>16.3} {:>14.3}\n",
            r.model,
            l.device,
            l.train_examples_per_sec,
            r.train_examples_per_sec,
            l.train_examples_per_sec / r.train_examples_per_sec,
            l.generate_ms_batch1,
            r.generate_ms_batch1
        );
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error("--device wgpu: no real GPU adapter here ({0})")]
    NoGpu(String),
}

/// Random `side` x `side` x `channels` images in 10 classes, enough for several epochs of
/// batches.
pub fn synthetic_data(len: usize, side: usize, channels: usize, seed: u64) -> Dataset {
    let values = noise::gaussian(seed, len * channels * side * side);
    Dataset {
        name: "synthetic".into(),
        height: side,
        width: side,
        channels,
        images: values.iter().map(|v| grid::to_u8(v.tanh())).collect(),
        labels: noise::cycling_labels(len, 10),
        class_names: (0..10).map(|i| i.to_string()).collect(),
    }
}

/// Measure one model on one device.
/// A remote device's token comes from `LATENTLAB_TOKEN` or `token_file`.
pub fn bench_one(
    kind: ModelKind,
    choice: &DeviceChoice,
    token_file: Option<&std::path::Path>,
    opts: &BenchOptions,
    speedups: Speedups,
) -> Result<BenchRun, BenchError> {
    let selected = device::select(choice, token_file)?;
    if *choice == DeviceChoice::Wgpu && !selected.is_gpu {
        return Err(BenchError::NoGpu(selected.description));
    }
    let data = Arc::new(synthetic_data(
        opts.batch.max(1) * 8,
        opts.size,
        opts.channels,
        1,
    ));
    let mut config = TrainConfig::new(kind, Loss::Nonsat, 10);
    config.model = config.model.with_shape(opts.size, opts.channels);
    config.batch = opts.batch;
    config.sample_every = 0;
    let mut t = Trainer::new(config, data, "synthetic".into(), &selected.device)?;
    t.speedups = speedups;
    for _ in 0..opts.warmup {
        t.step()?;
    }
    let mut train_runs = Vec::with_capacity(opts.runs);
    for _ in 0..opts.runs {
        let started = Instant::now();
        for _ in 0..opts.steps {
            t.step()?;
        }
        let secs = started.elapsed().as_secs_f64();
        train_runs.push((opts.steps * opts.batch * t.config.n_critic.max(1)) as f64 / secs);
    }
    let g = t.generator();
    let model = t.config.model.clone();
    let plain = selected.device.clone();
    // The explorer's path: one forward, read back, turned into an image.
    let latency = |n: usize, reps: usize| -> Result<f64, TrainError> {
        let z = noise::gaussian(3, n * model.latent_dim);
        let mut times = Vec::with_capacity(reps);
        for i in 0..reps + 5 {
            let started = Instant::now();
            let values = crate::model::generate_with(&g, &model, &plain, &z, None)?;
            let img = grid::grid(&values, n, model.image_size, model.channels, 8);
            std::hint::black_box(img);
            if i >= 5 {
                times.push(started.elapsed().as_secs_f64() * 1e3);
            }
        }
        Ok(median(&times))
    };
    let generate_ms_batch1 = latency(1, 200)?;
    let generate_ms_batch64 = latency(64, 20)?;
    let variant = if speedups == Speedups::ALL || kind.is_boltzmann() {
        ""
    } else if speedups == Speedups::PORTABLE {
        "no CPU kernels"
    } else {
        "baseline"
    };
    Ok(BenchRun {
        model: kind.name().into(),
        variant: variant.into(),
        device: match choice {
            DeviceChoice::Wgpu => "wgpu",
            DeviceChoice::Remote(_) => "remote",
            _ => "cpu",
        }
        .into(),
        device_name: selected.description,
        batch: opts.batch,
        size: opts.size,
        channels: opts.channels,
        train_examples_per_sec: median(&train_runs),
        train_runs,
        generate_ms_batch1,
        generate_ms_batch64,
    })
}

/// Remote against local training, model by model: each step's time on the CPU here (without
/// latentlab's CPU kernels, which a remote device cannot use) and through the server, and the
/// difference, which is what the round trips cost.
pub fn overhead_table(runs: &[BenchRun]) -> String {
    let mut out = format!(
        "{:<10} {:>16} {:>17} {:>18} {:>7}\n",
        "model", "local ms/step", "remote ms/step", "overhead ms/step", "ratio"
    );
    let ms = |r: &BenchRun| 1000.0 * r.batch as f64 / r.train_examples_per_sec;
    for remote in runs.iter().filter(|r| r.device == "remote") {
        let local = runs.iter().find(|l| {
            l.model == remote.model && l.device == "cpu" && l.variant == "no CPU kernels"
        });
        let Some(local) = local else { continue };
        out += &format!(
            "{:<10} {:>16.2} {:>17.2} {:>18.2} {:>6.2}x\n",
            remote.model,
            ms(local),
            ms(remote),
            ms(remote) - ms(local),
            ms(remote) / ms(local)
        );
    }
    out
}

/// The results as a table, with each row's training speed as a ratio to the first row's.
pub fn table(runs: &[BenchRun]) -> String {
    let mut out = format!(
        "{:<24} {:<6} {:>6} {:>14} {:>10} {:>12} {:>13}\n",
        "model", "device", "batch", "train ex/s", "vs row 1", "gen b1 (ms)", "gen b64 (ms)"
    );
    let base = runs.first().map_or(f64::NAN, |r| r.train_examples_per_sec);
    for r in runs {
        let name = match r.variant.as_str() {
            "" => r.model.clone(),
            v => format!("{} ({v})", r.model),
        };
        out += &format!(
            "{:<24} {:<6} {:>6} {:>14.1} {:>9.2}x {:>12.3} {:>13.2}\n",
            name,
            r.device,
            r.batch,
            r.train_examples_per_sec,
            r.train_examples_per_sec / base,
            r.generate_ms_batch1,
            r.generate_ms_batch64
        );
    }
    out
}

//! Training: objectives, one optimisation step, the background session, metric histories.

pub mod metrics;
pub mod objective;
pub mod session;
pub mod step;

use crate::model::{ModelConfig, ModelKind};
use objective::Loss;
use serde::{Deserialize, Serialize};

pub use metrics::{History, StepMetrics};
pub use session::{Command, Event, GeneratorSnapshot, ImageGrid, RunSpec, TrainingHandle};
pub use step::{Speedups, Trainer};

/// Hyper-parameters of a run; stored in the checkpoint manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: ModelConfig,
    pub loss: Loss,
    pub batch: usize,
    pub lr_g: f64,
    pub lr_d: f64,
    pub beta1: f32,
    pub beta2: f32,
    /// Critic updates per generator update (5 for WGAN-GP, 1 otherwise).
    pub n_critic: usize,
    pub seed: u64,
    /// Emit a sample grid from the fixed noise every this many steps (0: never).
    pub sample_every: u64,
    /// Images in the fixed-noise sample grid.
    pub sample_count: usize,
}

impl TrainConfig {
    /// DESIGN section 4's recipe for `kind` (Adam 2e-4, betas 0.5/0.999, batch 64); WGAN-GP
    /// uses the paper's Adam 1e-4, betas 0.0/0.9 and 5 critic steps.
    pub fn new(kind: ModelKind, loss: Loss, num_classes: usize) -> Self {
        let wgan = loss == Loss::WganGp && kind.is_gan();
        let lr = if kind == ModelKind::Vae {
            1e-3
        } else if wgan {
            1e-4
        } else {
            2e-4
        };
        Self {
            model: ModelConfig::new(kind, num_classes),
            loss,
            batch: 64,
            lr_g: lr,
            lr_d: lr,
            beta1: if wgan {
                0.0
            } else if kind == ModelKind::Vae {
                0.9
            } else {
                0.5
            },
            beta2: if wgan { 0.9 } else { 0.999 },
            n_critic: if wgan { 5 } else { 1 },
            seed: 0,
            sample_every: 100,
            sample_count: 64,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error("model {kind} needs labelled data, but data set {data} has a single class")]
    NeedsLabels { kind: &'static str, data: String },
    #[error("the data set holds {len} images, fewer than one batch of {batch}")]
    TooSmall { len: usize, batch: usize },
    #[error("batch size must be at least 1")]
    ZeroBatch,
    #[error(
        "data set images are {h}x{w}; models need {size}x{size} (image folders are resized, IDX files are not)"
    )]
    ImageSize { h: usize, w: usize, size: usize },
    #[error("learning rate must be a positive finite number (got {0})")]
    LearningRate(f64),
    #[error("checkpoint was trained on {checkpoint} classes, the data set has {data}")]
    ClassMismatch { checkpoint: usize, data: usize },
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    #[error("tensor read-back failed: {0}")]
    Readback(String),
}

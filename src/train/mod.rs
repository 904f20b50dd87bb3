//! Training: objectives, one optimisation step, the background session, metric histories.

pub mod boltzmann_options;
pub mod classifier;
pub mod detector;
pub mod fused_adam;
pub mod messages;
pub mod meter;
pub mod objective;
pub mod options;
pub mod session;
pub mod sr_options;
pub mod trainer;

pub use crate::types::config::TrainConfig;
pub use crate::types::metrics::{History, StepMetrics};
pub use messages::{Command, Event, GeneratorSnapshot, RunSpec};
pub use options::RunOptions;
pub use session::TrainingHandle;
pub use trainer::{Speedups, Trainer};

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
    #[error(
        "data set images have {data} channel(s), the model takes {model}; pick --channels {data} \
         or load the data with {model}"
    )]
    Channels { data: usize, model: usize },
    #[error("the {loss} loss is not available for {kind}; pick nonsat, minimax or lsgan")]
    LossNotFor {
        loss: &'static str,
        kind: &'static str,
    },
    #[error(
        "cyclegan translates between two sets: give the second with --data-b (or pick Data B \
         in the app), each with at least 10 images"
    )]
    NeedsPair,
    #[error("{0}")]
    Cycle(String),
    #[error("contrastive-divergence setting {what} out of range: {detail}")]
    Cd { what: &'static str, detail: String },
    #[error("learning rate must be a positive finite number (got {0})")]
    LearningRate(f64),
    #[error("checkpoint was trained on {checkpoint} classes, the data set has {data}")]
    ClassMismatch { checkpoint: usize, data: usize },
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    #[error(transparent)]
    Readback(#[from] crate::model::ReadbackError),
    #[error(transparent)]
    Detect(#[from] crate::detect::DetectError),
}

/// A network can be built for `data`'s images: square, of a side and channel count a model
/// takes (see [`crate::model::ModelConfig::validate`]).
pub fn check_shape(data: &crate::data::Dataset) -> Result<(), TrainError> {
    if data.height != data.width {
        return Err(TrainError::ImageSize {
            h: data.height,
            w: data.width,
            size: data.height.max(data.width),
        });
    }
    crate::model::ModelConfig::new(crate::model::ModelKind::Dcgan, 0)
        .with_shape(data.height, data.channels)
        .validate()?;
    Ok(())
}

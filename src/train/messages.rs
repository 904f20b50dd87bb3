//! What crosses the training thread's boundary: the run to start, the commands it answers and
//! the events it reports (with the contract both the CLI and the app follow). Plain data only.

use super::{StepMetrics, TrainConfig};
use crate::data::Dataset;
use crate::device::DeviceChoice;
use crate::model::ModelConfig;
use crate::types::grid::Picture;
use std::path::PathBuf;
use std::sync::Arc;

/// What to train.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub config: TrainConfig,
    pub data: Arc<Dataset>,
    /// How the user named the data (`default`, `fashion`, a path), for the manifest.
    pub data_source: String,
    pub device: DeviceChoice,
    /// Where a remote device's token is (when `LATENTLAB_TOKEN` is not set).
    pub token_file: Option<PathBuf>,
    /// Continue the run in this directory instead of starting fresh.
    pub resume_from: Option<PathBuf>,
    /// Save here when the run finishes or is stopped.
    pub out_dir: Option<PathBuf>,
    /// Stop (and save) when the step count reaches this.
    pub max_steps: Option<u64>,
    /// Start running at once; otherwise wait for Resume or Step.
    pub autostart: bool,
    /// Rate the generator with the quality meter every this many steps (0: never).
    pub score_every: u64,
    /// The classifier for the meter (`checkpoints/classifier-<data set>` when `None`).
    pub classifier: Option<PathBuf>,
    /// Learning rates (G, D) that replace the saved ones when resuming.
    pub lr_override: Option<(f64, f64)>,
    /// A learning-rate schedule that replaces the saved one when resuming.
    pub schedule_override: Option<crate::types::schedule::LrSchedule>,
    /// A Boltzmann machine's contrastive-divergence recipe that replaces the saved one when
    /// resuming (its chain settings: the chains themselves are kept).
    pub cd_override: Option<crate::types::config::CdConfig>,
    /// Measure D as a real/fake detector every this many steps (GANs; 0: never), reported
    /// as [`Event::Detection`].
    pub detect_every: u64,
}

/// Real and generated images D scores for each [`Event::Detection`] (each).
pub const DETECTION_IMAGES: usize = 256;

/// Images the meter generates for each in-training score.
pub const SCORE_IMAGES: usize = 500;

#[derive(Debug, Clone)]
pub enum Command {
    Start(Box<RunSpec>),
    Pause,
    Resume,
    /// Run this many steps, then pause.
    Step(u64),
    /// End the run (saving to `out_dir` when one was given).
    Stop,
    SetLearningRate {
        lr_g: f64,
        lr_d: f64,
    },
    Save(PathBuf),
    /// Generate images for latent rows `z` (`[n * latent]`) and optional soft labels.
    Generate {
        id: u64,
        z: Vec<f32>,
        labels: Option<Vec<f32>>,
        cols: usize,
    },
    /// Send the current generator's weights as [`Event::Snapshot`] (for the explorer).
    Snapshot,
    /// Ask D about images (`[n * 784]` in [-1, 1], named for the reply): answered by
    /// [`Event::Judged`]. With no images, D judges `n` data images and `n` fresh samples.
    Judge {
        names: Vec<String>,
        images: Vec<f32>,
        n: usize,
    },
    /// End the thread.
    Shutdown,
    /// Panic inside the thread, to exercise the failure path (tests and diagnostics).
    #[doc(hidden)]
    InjectPanic,
}

/// What the session reports. The contract the CLI and the app both follow:
/// - `Warning` is informational: the run goes on (or stays paused if it was); it never ends a
///   run by itself.
/// - `Diverged` pauses the run: its state is no longer good and will not be saved; the last
///   good checkpoint stays where it is.
/// - `SaveFailed` means nothing was written (the previous checkpoint, if any, is intact).
/// - `Failed`, `RemoteLost` and `Finished` end a run.
/// - Everything else (`Step`, `Samples`, `Quality`, `Detection`, `Judged`, ...) is
///   informational.
#[derive(Debug, Clone)]
pub enum Event {
    Started {
        device: String,
        step: u64,
        model: ModelConfig,
        class_names: Vec<String>,
    },
    Step(StepMetrics),
    /// D's scores on real and fresh generated images at a step (see `RunSpec::detect_every`).
    Detection(crate::detect::Detection),
    /// D's verdict on the images of a [`Command::Judge`].
    Judged(crate::detect::Judged),
    /// The quality meter's verdict on the generator at `step`.
    Quality {
        step: u64,
        score: crate::quality::Score,
    },
    /// The fixed-noise sample grid from the generator users see (the weight average where the
    /// run keeps one), and then also from the trained weights themselves.
    Samples {
        step: u64,
        grid: Picture,
        live: Option<Picture>,
    },
    /// How varied the trained weights' fixed-noise samples are, as a share of the data's
    /// variety (GANs that draw from noise; sent with each sample grid).
    Diversity {
        step: u64,
        ratio: f32,
    },
    /// The mode-collapse alarm: what fell, once per fall (the run goes on).
    Collapse {
        step: u64,
        sign: crate::quality::collapse::CollapseSign,
    },
    /// A Boltzmann machine's bottom-layer filters (one tile per hidden unit), sent with each
    /// sample grid.
    Filters {
        step: u64,
        grid: Picture,
    },
    Generated {
        id: u64,
        grid: Picture,
    },
    Paused {
        step: u64,
    },
    Resumed {
        step: u64,
    },
    LearningRateChanged {
        step: u64,
        lr_g: f64,
        lr_d: f64,
    },
    Saved {
        path: PathBuf,
        step: u64,
    },
    /// A save was refused or failed; nothing at `path` changed.
    SaveFailed {
        path: PathBuf,
        error: String,
    },
    /// A loss became non-finite at `step`; the run is paused and will not be saved. The last
    /// good checkpoint (if any) holds step `last_good_step`.
    Diverged {
        step: u64,
        loss: &'static str,
        value: f32,
        last_good_step: Option<u64>,
    },
    /// The generator as it is now, as plain data (answer to [`Command::Snapshot`]).
    Snapshot(Box<GeneratorSnapshot>),
    Warning(String),
    /// The remote server of the run stopped answering (it died, or the network dropped): the
    /// run has ended, the last good checkpoint is kept, and `--resume` continues from it once
    /// the server is back.
    RemoteLost {
        server: String,
        error: String,
        last_good_step: Option<u64>,
    },
    Failed(String),
    Finished {
        step: u64,
    },
}

/// What a diverged run keeps, for messages: "the last good checkpoint (step N) is kept".
pub fn kept_text(last_good_step: Option<u64>) -> String {
    match last_good_step {
        Some(g) => format!("the last good checkpoint (step {g}) is kept"),
        None => "nothing of this run was saved before".into(),
    }
}

/// A generator's weights (burnpack bytes) and what is needed to rebuild it elsewhere.
#[derive(Debug, Clone)]
pub struct GeneratorSnapshot {
    pub step: u64,
    pub model: ModelConfig,
    pub class_names: Vec<String>,
    pub data_name: String,
    pub generator: Vec<u8>,
}

//! What the app remembers between launches (eframe persistence): the last data set, the
//! hyper-parameters and view choices. Window size and position are eframe's own.

use crate::data::DataSource;
use crate::device::DeviceChoice;
use crate::explore::interpolate::Mode;
use crate::model::ModelKind;
use crate::train::objective::Loss;
use crate::ui::colormap::ColorMap;
use serde::{Deserialize, Serialize};

/// Storage key of [`Settings`].
pub const KEY: &str = "latentlab-settings";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Tab {
    #[default]
    Train,
    Explore,
    Interpolate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub tab: Tab,
    pub model: ModelKind,
    pub loss: Loss,
    pub data: DataSource,
    pub batch: usize,
    pub lr_g: f64,
    pub lr_d: f64,
    pub seed: u64,
    pub device: DeviceChoice,
    /// Refresh the sample grid every this many steps.
    pub sample_every: u64,
    /// Run the quality meter every this many steps (0: off).
    pub score_every: u64,
    /// Generator/discriminator width; `None` uses the model's default.
    pub width: Option<usize>,
    /// Latent size; `None` uses the model's default.
    pub latent: Option<usize>,
    /// Exponential smoothing of the loss curves, 0 (raw) to 0.99.
    pub smoothing: f32,
    pub colormap: ColorMap,
    pub interp_steps: usize,
    pub interp_mode: Mode,
    pub interp_fps: f32,
    /// Blend the condition label from A's to B's along the interpolation.
    pub interp_blend_labels: bool,
    /// The checkpoint last opened in the explorer.
    pub last_checkpoint: Option<std::path::PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            tab: Tab::Train,
            model: ModelKind::Cdcgan,
            loss: Loss::Nonsat,
            data: DataSource::Default,
            batch: 64,
            lr_g: 2e-4,
            lr_d: 2e-4,
            seed: 0,
            device: DeviceChoice::Auto,
            sample_every: 20,
            score_every: 0,
            width: None,
            latent: None,
            smoothing: 0.9,
            colormap: ColorMap::Gray,
            interp_steps: 10,
            interp_mode: Mode::Spherical,
            interp_fps: 8.0,
            interp_blend_labels: true,
            last_checkpoint: None,
        }
    }
}

impl Settings {
    /// Clamp values a hand-edited or older settings file could have put out of range.
    pub fn sanitized(mut self) -> Self {
        self.batch = self.batch.clamp(1, 4096);
        if !(self.lr_g.is_finite() && self.lr_g > 0.0) {
            self.lr_g = 2e-4;
        }
        if !(self.lr_d.is_finite() && self.lr_d > 0.0) {
            self.lr_d = 2e-4;
        }
        self.sample_every = self.sample_every.max(1);
        self.width = self.width.map(|w| w.clamp(1, crate::model::MAX_WIDTH));
        self.latent = self.latent.map(|l| l.clamp(1, crate::model::MAX_LATENT));
        // `clamp` keeps a NaN, so non-finite values fall back to the defaults first.
        let d = Settings::default();
        if !self.smoothing.is_finite() {
            self.smoothing = d.smoothing;
        }
        if !self.interp_fps.is_finite() {
            self.interp_fps = d.interp_fps;
        }
        self.smoothing = self.smoothing.clamp(0.0, 0.99);
        self.interp_steps = self.interp_steps.clamp(2, 64);
        self.interp_fps = self.interp_fps.clamp(0.5, 60.0);
        self
    }
}

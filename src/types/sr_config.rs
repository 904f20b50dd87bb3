//! Super-resolution (SRGAN, Ledig et al. 2017): the upscaling factor and residual blocks of the
//! network (in [`ModelConfig`]) and how it trains (in the run's [`SrTrain`]), with their bounds.

use super::config::{ModelConfig, ModelKind};
use serde::{Deserialize, Serialize};

/// The upscaling factors a super-resolution net is built for (one sub-pixel stage per 2x).
pub const SR_SCALES: [usize; 2] = [2, 4];
/// Residual blocks unless told otherwise: the paper's 16 at 64 channels is about 30x the work
/// of 6 at 32 on a CPU; 6 is what the shipped run uses.
pub const DEFAULT_SR_BLOCKS: usize = 6;
pub const MAX_SR_BLOCKS: usize = 32;
/// The smallest low-resolution side a net trains from (smaller ones hold too little to learn).
pub const MIN_LOW_SIDE: usize = 4;
/// SRGAN's weight of the adversarial term against the content loss (the paper's 10^-3).
pub const DEFAULT_ADV_WEIGHT: f64 = 1e-3;
pub const MAX_ADV_WEIGHT: f64 = 1e3;

/// The content loss: what "close to the original" means pixel by pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ContentLoss {
    /// Mean squared error (the paper's SRResNet; what PSNR measures).
    Mse,
    /// Mean absolute error (less blur from averaging plausible details).
    L1,
}

impl ContentLoss {
    pub fn name(self) -> &'static str {
        match self {
            ContentLoss::Mse => "mse",
            ContentLoss::L1 => "l1",
        }
    }
}

/// How a super-resolution run trains; stored in its manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SrTrain {
    /// Weight of the adversarial term (0: content loss alone, the SRResNet baseline).
    pub adv_weight: f64,
    pub content: ContentLoss,
    /// Weight of a feature loss: the squared distance between the quality meter's
    /// penultimate features (the data set's classifier) of G's output and of the original
    /// (SRGAN's VGG loss with latentlab's own network; 0: off).
    #[serde(default)]
    pub feature_weight: f64,
}

impl Default for SrTrain {
    fn default() -> Self {
        Self {
            adv_weight: DEFAULT_ADV_WEIGHT,
            content: ContentLoss::Mse,
            feature_weight: 0.0,
        }
    }
}

impl SrTrain {
    /// The bounds the command line puts on a hand-edited manifest.
    pub fn check(&self) -> Result<(), SrError> {
        if !(0.0..=MAX_ADV_WEIGHT).contains(&self.adv_weight) {
            return Err(SrError::AdvWeight(self.adv_weight));
        }
        if !(0.0..=MAX_ADV_WEIGHT).contains(&self.feature_weight) {
            return Err(SrError::AdvWeight(self.feature_weight));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SrError {
    #[error(
        "srgan upscales 2 or 4 times, to an image side that the factor divides, from a side of \
         at least {MIN_LOW_SIDE}; got --scale {scale} for {size} px"
    )]
    Scale { scale: usize, size: usize },
    #[error("srgan takes 1 to {MAX_SR_BLOCKS} residual blocks (got {0})")]
    Blocks(usize),
    #[error(
        "srgan's input is the low-resolution image: {want} values ({channels}x{low}x{low}), not \
         a latent of {got}"
    )]
    Latent {
        got: usize,
        want: usize,
        channels: usize,
        low: usize,
    },
    #[error(
        "only srgan takes --scale and --blocks (got scale {scale}, {blocks} blocks for {kind})"
    )]
    NotSr {
        kind: &'static str,
        scale: usize,
        blocks: usize,
    },
    #[error("the adversarial and feature weights must be between 0 and {MAX_ADV_WEIGHT} (got {0})")]
    AdvWeight(f64),
    #[error("srgan has no class or code input (got {0})")]
    Conditional(usize),
    #[error(
        "cyclegan takes 1 to {MAX_SR_BLOCKS} residual blocks, no --scale, and an A image as its \
         input ({want} values); got {blocks} blocks, scale {scale}, input {got}"
    )]
    Cycle {
        blocks: usize,
        scale: usize,
        got: usize,
        want: usize,
    },
}

impl ModelConfig {
    /// The low-resolution side a super-resolution net trains from (0 for other models).
    pub fn low_side(&self) -> usize {
        self.image_size.checked_div(self.scale).unwrap_or(0)
    }

    /// A super-resolution net's input size: the low-resolution image's values.
    pub fn low_len(&self) -> usize {
        self.channels * self.low_side() * self.low_side()
    }

    /// For srgan and lapgan, the "latent" follows the image shape (the low-resolution image;
    /// the coarse noise and the noise planes); a no-op for other models.
    pub fn follow_shape(&mut self) {
        match self.kind {
            ModelKind::Srgan => self.latent_dim = self.low_len(),
            ModelKind::Cyclegan => self.latent_dim = self.image_len(),
            ModelKind::Lapgan => {
                self.latent_dim = super::pyramid_config::COARSE_LATENT + self.pyramid_noise()
            }
            _ => {}
        }
    }

    /// The checks of a super-resolution net, and that other models carry no such fields.
    pub(super) fn validate_sr(&self) -> Result<(), SrError> {
        if self.kind == ModelKind::Cyclegan {
            return self.validate_cycle();
        }
        if self.kind != ModelKind::Srgan {
            if self.scale != 0 || self.blocks != 0 {
                return Err(SrError::NotSr {
                    kind: self.kind.name(),
                    scale: self.scale,
                    blocks: self.blocks,
                });
            }
            return Ok(());
        }
        let size = self.image_size;
        let ok = SR_SCALES.contains(&self.scale)
            && size.is_multiple_of(self.scale)
            && size / self.scale >= MIN_LOW_SIDE;
        if !ok {
            return Err(SrError::Scale {
                scale: self.scale,
                size,
            });
        }
        if !(1..=MAX_SR_BLOCKS).contains(&self.blocks) {
            return Err(SrError::Blocks(self.blocks));
        }
        if self.latent_dim != self.low_len() {
            return Err(SrError::Latent {
                got: self.latent_dim,
                want: self.low_len(),
                channels: self.channels,
                low: self.low_side(),
            });
        }
        if self.cond_dim() != 0 {
            return Err(SrError::Conditional(self.cond_dim()));
        }
        Ok(())
    }

    fn validate_cycle(&self) -> Result<(), SrError> {
        let ok = (1..=MAX_SR_BLOCKS).contains(&self.blocks)
            && self.scale == 0
            && self.latent_dim == self.image_len()
            && self.cond_dim() == 0;
        if ok {
            Ok(())
        } else {
            Err(SrError::Cycle {
                blocks: self.blocks,
                scale: self.scale,
                got: self.latent_dim,
                want: self.image_len(),
            })
        }
    }
}

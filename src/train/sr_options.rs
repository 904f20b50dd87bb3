//! The flags and remembered settings of the image-to-image runs: a super-resolution run's
//! (`--model srgan`) factor, residual blocks, adversarial weight and content loss, and a
//! CycleGAN's (`--model cyclegan`) blocks, cycle and identity weights and pool of fakes. Unset values are the
//! model's defaults ([`crate::types::sr_config`]).

use crate::types::config::{ModelKind, TrainConfig};
use crate::types::cycle_config::{CycleTrain, MAX_CYCLE_WEIGHT, MAX_POOL};
use crate::types::sr_config::{ContentLoss, MAX_ADV_WEIGHT, MAX_SR_BLOCKS, SrTrain};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub struct SrOptions {
    /// The upscaling factor, 2 or 4 (default 2): the low-resolution inputs are the data shrunk
    /// this many times by an anti-aliased area filter.
    #[arg(long, value_parser = scale, help_heading = "Super-resolution (srgan)")]
    pub scale: Option<usize>,
    /// Residual blocks in the generator (srgan: default 6, the paper has 16; cyclegan: 4 per
    /// generator).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_SR_BLOCKS as u64), help_heading = "Super-resolution (srgan)")]
    pub blocks: Option<u64>,
    /// Weight of the adversarial term against the content loss (default 1e-3, the paper's; 0
    /// trains on the content loss alone, the SRResNet baseline).
    #[arg(long, value_parser = adv_weight, help_heading = "Super-resolution (srgan)")]
    pub adv_weight: Option<f64>,
    /// The content loss: mse (default; what PSNR measures) or l1.
    #[arg(long, value_enum, help_heading = "Super-resolution (srgan)")]
    pub content: Option<ContentLoss>,
    /// Add a feature loss with this weight: the distance between the quality meter's features
    /// (the data set's classifier) of the output and of the original (default 0: off).
    #[arg(long, value_parser = adv_weight, help_heading = "Super-resolution (srgan)")]
    pub feature_weight: Option<f64>,
    /// cyclegan: weight of the cycle-consistency loss, lambda (default 10).
    #[arg(long, value_parser = cycle_weight, help_heading = "Unpaired translation (cyclegan)")]
    pub cycle_weight: Option<f64>,
    /// cyclegan: the identity loss as a share of lambda (default 0.5; 0 turns it off).
    #[arg(long, value_parser = identity_share, help_heading = "Unpaired translation (cyclegan)")]
    pub identity: Option<f64>,
    /// cyclegan: past fakes each discriminator also learns from (default 50; 0 none).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=MAX_POOL as u64), help_heading = "Unpaired translation (cyclegan)")]
    pub pool: Option<u64>,
}

impl SrOptions {
    /// Apply these options to `config` (a super-resolution run's; others are left alone).
    pub fn apply(&self, config: &mut TrainConfig) {
        if config.model.kind == ModelKind::Cyclegan {
            let mut c = CycleTrain::default();
            if let Some(w) = self.cycle_weight {
                c.cycle_weight = w;
            }
            if let Some(i) = self.identity {
                c.identity = i;
            }
            if let Some(p) = self.pool {
                c.pool = p as usize;
            }
            if let Some(b) = self.blocks {
                config.model.blocks = b as usize;
            }
            config.cycle = Some(c);
            return;
        }
        if config.model.kind != ModelKind::Srgan {
            return;
        }
        if let Some(s) = self.scale {
            config.model.scale = s;
        }
        if let Some(b) = self.blocks {
            config.model.blocks = b as usize;
        }
        let mut sr = SrTrain::default();
        if let Some(w) = self.adv_weight {
            sr.adv_weight = w;
        }
        if let Some(c) = self.content {
            sr.content = c;
        }
        if let Some(w) = self.feature_weight {
            sr.feature_weight = w;
        }
        config.sr = Some(sr);
    }

    /// Clamp what a hand-edited settings file could have put out of range.
    pub fn sanitized(mut self) -> Self {
        self.scale = self.scale.filter(|s| scale(&s.to_string()).is_ok());
        self.blocks = self.blocks.map(|b| b.clamp(1, MAX_SR_BLOCKS as u64));
        self.adv_weight = self
            .adv_weight
            .filter(|w| adv_weight(&w.to_string()).is_ok());
        self.feature_weight = self
            .feature_weight
            .filter(|w| adv_weight(&w.to_string()).is_ok());
        self.cycle_weight = self
            .cycle_weight
            .filter(|w| cycle_weight(&w.to_string()).is_ok());
        self.identity = self
            .identity
            .filter(|w| identity_share(&w.to_string()).is_ok());
        self.pool = self.pool.map(|p| p.min(MAX_POOL as u64));
        self
    }
}

fn scale(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(v @ (2 | 4)) => Ok(v),
        _ => Err(format!("`{s}` is not an upscaling factor: 2 or 4")),
    }
}

pub(crate) fn adv_weight(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=MAX_ADV_WEIGHT).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a weight from 0 to {MAX_ADV_WEIGHT}")),
    }
}

fn cycle_weight(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=MAX_CYCLE_WEIGHT).contains(&v) => Ok(v),
        _ => Err(format!(
            "`{s}` is not a weight from 0 to {MAX_CYCLE_WEIGHT}"
        )),
    }
}

fn identity_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=10.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a share from 0 to 10")),
    }
}

//! A run's hyper-parameters (stored in checkpoint manifests): the adversarial game, the
//! optimiser's rates and betas, the batch, and each family's training recipe.

use super::cd_config::CdConfig;
use super::config::ModelConfig;
use super::config::ModelKind;
use super::cycle_config::CycleTrain;
use super::schedule::LrSchedule;
use super::sr_config::SrTrain;
use serde::{Deserialize, Serialize};

/// The adversarial game to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// The original saturating game: G minimises log(1 - D(G(z))).
    Minimax,
    /// Non-saturating: G maximises log D(G(z)). The default.
    Nonsat,
    /// Least squares on logits (LSGAN).
    Lsgan,
    /// Wasserstein critic with a gradient penalty (weight 10, several critic steps per G step).
    #[value(name = "wgan-gp")]
    WganGp,
}

impl Loss {
    pub fn name(self) -> &'static str {
        match self {
            Loss::Minimax => "minimax",
            Loss::Nonsat => "nonsat",
            Loss::Lsgan => "lsgan",
            Loss::WganGp => "wgan-gp",
        }
    }
}

/// InfoGAN's continuous-code weight by default. Public MNIST recipes use 0.1 so that the two
/// continuous codes do not outweigh the digit code; here, with Q's hidden layer, 0.1 did not
/// help (see [`crate::types::config::Q_HIDDEN`]).
pub const INFO_CONT_WEIGHT: f64 = 1.0;
/// InfoGAN's default information weight. Chen et al. use 1; with the dense layers of 128 the
/// codes then take over from the noise (94.1% purity but 9 digits and recall 0.050, seed 0),
/// and at 0.2 a digit went missing (90.1%, 9 digits); 0.5 kept all ten on 3 seeds of 4.
pub const INFO_WEIGHT: f64 = 0.5;

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn one() -> f64 {
    1.0
}

fn is_one(x: &f64) -> bool {
    *x == 1.0
}

/// The generator average's decay GANs train with unless told otherwise.
pub const DEFAULT_EMA: f64 = 0.999;
/// A style generator's default weight average.
pub const STYLE_EMA: f64 = 0.995;

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
    /// Decay of the exponential moving average of the generator's weights (`None`: none kept).
    /// Sampling, the explorer and the meter use the average where a run has one.
    #[serde(default)]
    pub ema: Option<f64>,
    /// How a Boltzmann machine is trained (`None` for other models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cd: Option<CdConfig>,
    /// How a super-resolution net is trained (`None` for other models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sr: Option<SrTrain>,
    /// How a CycleGAN trains (`None` for other models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycle: Option<CycleTrain>,
    /// InfoGAN: the weight of the continuous codes' term in the information loss (the
    /// categorical code's is 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub info_cont_weight: f64,
    /// InfoGAN: the information loss's weight in both networks' losses (Chen et al.'s
    /// lambda; 1 unless told otherwise).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub info_weight: f64,

    /// ACGAN: D also learns to name the class of generated images (Odena et al.). Off for new
    /// runs: D's class head then learns from real images alone, so G is rewarded only for
    /// digits a real-data classifier reads as asked (see `checkpoints/README.md`: 96.3% ->
    /// 99.3% on the meter). Runs from before it was a setting had it on.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub class_on_fakes: bool,
    /// How the learning rates change over the run (constant unless told otherwise).
    #[serde(default, skip_serializing_if = "LrSchedule::is_constant")]
    pub schedule: LrSchedule,
}

impl TrainConfig {
    /// G's and D's learning rates for the update at `step`: the set rates times the
    /// schedule's factor.
    pub fn rates_at(&self, step: u64) -> (f64, f64) {
        let f = self.schedule.factor(step);
        (self.lr_g * f, self.lr_d * f)
    }

    /// DESIGN section 4's recipe for `kind` (Adam 2e-4, betas 0.5/0.999, batch 64); WGAN-GP
    /// uses the paper's Adam 1e-4, betas 0.0/0.9 and 5 critic steps; InfoGAN's G uses 1e-3.
    pub fn new(kind: ModelKind, loss: Loss, num_classes: usize) -> Self {
        let wgan = loss == Loss::WganGp && kind.is_gan();
        let lr = if kind.is_boltzmann() {
            0.05
        } else if kind == ModelKind::Vae {
            1e-3
        } else if wgan {
            1e-4
        } else {
            2e-4
        };
        // InfoGAN's G learns faster than its D (Chen et al.: 1e-3 against 2e-4). A style
        // generator and its D train at StyleGAN2's 2e-3 both: on the shapes set, 600 steps at
        // D 2e-4 left D winning (D(G(z)) 0.06) and the shapes dim blobs on noisy grounds; at
        // 2e-3 both, G drew bright, varied shapes.
        let style = kind == ModelKind::Stylegan && !wgan;
        let lr_g = if kind == ModelKind::Infogan && !wgan {
            1e-3
        } else if style {
            2e-3
        } else {
            lr
        };
        let lr = if style { 2e-3 } else { lr };
        // SRGAN: Adam with beta1 0.9 as the paper; 5e-4 rather than its 1e-4, for runs of
        // thousands of steps, not a million.
        let sr = kind == ModelKind::Srgan && !wgan;
        let (lr_g, lr) = if sr { (5e-4, 5e-4) } else { (lr_g, lr) };
        Self {
            model: ModelConfig::new(kind, num_classes),
            loss,
            batch: 64,
            lr_g,
            lr_d: lr,
            // StyleGAN2 trains with Adam's beta1 = 0 and beta2 = 0.99.
            beta1: if wgan || kind == ModelKind::Stylegan {
                0.0
            } else if kind == ModelKind::Vae || sr {
                0.9
            } else {
                0.5
            },
            beta2: if wgan {
                0.9
            } else if kind == ModelKind::Stylegan {
                0.99
            } else {
                0.999
            },
            n_critic: if wgan { 5 } else { 1 },
            seed: 0,
            sample_every: 100,
            sample_count: 64,
            // A style generator's average follows faster (StyleGAN2's 10k-image half-life is
            // 0.994 per step of 64): at 0.999 it blurs a generator that is still moving.
            // A super-resolution net is judged by PSNR against the originals: its own weights.
            ema: (kind.is_gan() && !kind.is_image_to_image()).then_some(
                if kind == ModelKind::Stylegan {
                    STYLE_EMA
                } else {
                    DEFAULT_EMA
                },
            ),
            cd: kind.is_boltzmann().then(CdConfig::default),
            sr: (kind == ModelKind::Srgan).then(SrTrain::default),
            cycle: (kind == ModelKind::Cyclegan).then(CycleTrain::default),
            schedule: LrSchedule::default(),
            class_on_fakes: kind != ModelKind::Acgan,
            info_cont_weight: if kind == ModelKind::Infogan {
                INFO_CONT_WEIGHT
            } else {
                1.0
            },
            info_weight: if kind == ModelKind::Infogan {
                INFO_WEIGHT
            } else {
                1.0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_saved_before_the_settings_existed_train_as_they_did() {
        // A new ACGAN leaves fakes out of D's class loss; its manifest says so.
        let new = TrainConfig::new(ModelKind::Acgan, Loss::Nonsat, 10);
        assert!(!new.class_on_fakes);
        let mut json = serde_json::to_value(&new).expect("serialise");
        assert_eq!(json["class_on_fakes"], false);
        // An older manifest has neither field: D classified fakes, the weight was 1.
        let train = json.as_object_mut().expect("an object");
        train.remove("class_on_fakes");
        train.remove("info_cont_weight");
        let old: TrainConfig = serde_json::from_value(json).expect("deserialise");
        assert!(old.class_on_fakes);
        assert_eq!(old.info_cont_weight, 1.0);
    }
}

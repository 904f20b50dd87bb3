//! Per-step metrics and bounded histories of them.

use serde::{Deserialize, Serialize};

/// What one training step measured. For the VAE, `loss_d` is the reconstruction term,
/// `loss_g` the KL term and the D(.) fields are zero. For a Boltzmann machine, `loss_d` is the
/// reconstruction error (mean squared, per unit) and `loss_g` the negated pseudo-log-likelihood.
// Older latentlab wrote a non-finite number as `null`; such a manifest still loads (as NaN).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct StepMetrics {
    pub step: u64,
    #[serde(deserialize_with = "nan_if_null")]
    pub loss_d: f32,
    #[serde(deserialize_with = "nan_if_null")]
    pub loss_g: f32,
    /// mean sigmoid(D(x)) on the real batch
    #[serde(deserialize_with = "nan_if_null")]
    pub d_real: f32,
    /// mean sigmoid(D(G(z))) before the D update
    #[serde(deserialize_with = "nan_if_null")]
    pub d_fake_before: f32,
    /// mean sigmoid(D(G(z))) after the D update (what G was trained against)
    #[serde(deserialize_with = "nan_if_null")]
    pub d_fake_after: f32,
    #[serde(deserialize_with = "nan_if_null")]
    pub examples_per_sec: f32,
    #[serde(deserialize_with = "nan_if_null")]
    pub step_secs: f32,
    /// ACGAN: the fraction of the real batch whose class D names correctly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_acc_real: Option<f32>,
    /// ACGAN: the same on the generated batch (against the labels G was asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_acc_fake: Option<f32>,
    /// InfoGAN: the information loss (lower means more mutual information between the codes
    /// and the images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info_loss: Option<f32>,
    /// InfoGAN: the fraction of generated images whose categorical code Q names correctly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_acc: Option<f32>,
    /// Boltzmann machines: the mean of P(h = 1 | v) over the batch in the layer being trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_mean: Option<f32>,
    /// Boltzmann machines: the root mean square of that layer's weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_rms: Option<f32>,
    /// Boltzmann machines: mean free energy of held-out images minus that of training images
    /// (measured every few updates; growth means over-fitting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_energy_gap: Option<f32>,
    /// Boltzmann machines: the layer being trained (a DBM's joint phase: the layer count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<u32>,
    /// Super-resolution: the content loss alone (loss_G is content plus the weighted
    /// adversarial term). CycleGAN: both directions' mean absolute round-trip errors on
    /// [0, 1] pixels, summed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_loss: Option<f32>,
    /// Super-resolution: G's PSNR in dB on the training batch (pixels in [0, 1]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psnr: Option<f32>,
}

fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
}

impl StepMetrics {
    /// The VAE's reconstruction term, per image (kept where a GAN keeps loss_D, so one history
    /// and one manifest format serve both families).
    pub fn reconstruction(&self) -> f32 {
        self.loss_d
    }

    /// The VAE's KL term, per image (kept where a GAN keeps loss_G).
    pub fn kl(&self) -> f32 {
        self.loss_g
    }

    /// A Boltzmann machine's stochastic pseudo-log-likelihood per image (kept negated where a
    /// GAN keeps loss_G, so the divergence check sees it).
    pub fn pseudo_log_likelihood(&self) -> f32 {
        -self.loss_g
    }

    /// Turn infinities (a hand-edited `1e39` read as f32) into NaN, which every view already
    /// treats as a missing value.
    pub fn infinite_to_nan(&mut self) {
        for v in [
            &mut self.loss_d,
            &mut self.loss_g,
            &mut self.d_real,
            &mut self.d_fake_before,
            &mut self.d_fake_after,
            &mut self.examples_per_sec,
            &mut self.step_secs,
        ] {
            if v.is_infinite() {
                *v = f32::NAN;
            }
        }
        for v in [
            &mut self.class_acc_real,
            &mut self.class_acc_fake,
            &mut self.info_loss,
            &mut self.code_acc,
            &mut self.hidden_mean,
            &mut self.weight_rms,
            &mut self.free_energy_gap,
            &mut self.content_loss,
            &mut self.psnr,
        ] {
            if v.is_some_and(|a| !a.is_finite()) {
                *v = None;
            }
        }
    }

    /// Every number is finite (what a manifest may store).
    pub fn is_finite(&self) -> bool {
        [
            self.loss_d,
            self.loss_g,
            self.d_real,
            self.d_fake_before,
            self.d_fake_after,
            self.examples_per_sec,
            self.step_secs,
        ]
        .iter()
        .chain(self.class_acc_real.iter())
        .chain(self.class_acc_fake.iter())
        .chain(self.info_loss.iter())
        .chain(self.code_acc.iter())
        .chain(self.hidden_mean.iter())
        .chain(self.weight_rms.iter())
        .chain(self.free_energy_gap.iter())
        .chain(self.content_loss.iter())
        .chain(self.psnr.iter())
        .all(|v| v.is_finite())
    }

    /// The name and value of the first non-finite loss, if any.
    pub fn non_finite_loss(&self) -> Option<(&'static str, f32)> {
        self.non_finite().map(|name| {
            let v = if name == "loss_D" {
                self.loss_d
            } else {
                self.loss_g
            };
            (name, v)
        })
    }

    /// The name of the first non-finite loss, if any.
    pub fn non_finite(&self) -> Option<&'static str> {
        if !self.loss_d.is_finite() {
            Some("loss_D")
        } else if !self.loss_g.is_finite() {
            Some("loss_G")
        } else {
            None
        }
    }
}

/// A history that keeps at most `capacity` points: when full, every other point is dropped
/// and from then on only every `stride`-th step is recorded, so a night-long run stays small
/// and evenly spread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub points: Vec<StepMetrics>,
    pub stride: u64,
    pub capacity: usize,
}

impl Default for History {
    fn default() -> Self {
        Self::with_capacity(4096)
    }
}

impl History {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            points: Vec::new(),
            stride: 1,
            capacity: capacity.max(2),
        }
    }

    pub fn push(&mut self, m: StepMetrics) {
        if !m.step.is_multiple_of(self.stride) {
            return;
        }
        self.points.push(m);
        if self.points.len() > self.capacity {
            self.stride *= 2;
            let stride = self.stride;
            self.points.retain(|p| p.step.is_multiple_of(stride));
        }
    }

    pub fn last(&self) -> Option<&StepMetrics> {
        self.points.last()
    }
}

//! Per-step metrics and bounded histories of them.

use serde::{Deserialize, Serialize};

/// What one training step measured. For the VAE, `loss_d` is the reconstruction term,
/// `loss_g` the KL term and the D(.) fields are zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct StepMetrics {
    pub step: u64,
    pub loss_d: f32,
    pub loss_g: f32,
    /// mean sigmoid(D(x)) on the real batch
    pub d_real: f32,
    /// mean sigmoid(D(G(z))) before the D update
    pub d_fake_before: f32,
    /// mean sigmoid(D(G(z))) after the D update (what G was trained against)
    pub d_fake_after: f32,
    pub examples_per_sec: f32,
    pub step_secs: f32,
}

impl StepMetrics {
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

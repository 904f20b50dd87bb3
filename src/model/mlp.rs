//! The fully connected ("vanilla") GAN, optionally conditional.

use super::cpu_kernels::activation::{leaky, tanh};
use super::cpu_kernels::linear::linear;
use super::{ModelConfig, with_label};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

const SLOPE: f64 = 0.2;

#[derive(Module, Debug)]
pub struct MlpGenerator {
    l1: Linear,
    l2: Linear,
    l3: Linear,
    out: Linear,
    channels: usize,
}

impl MlpGenerator {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let w = cfg.width;
        let pixels = cfg.image_len();
        Self {
            l1: LinearConfig::new(cfg.latent_dim + cfg.num_classes, w).init(device),
            l2: LinearConfig::new(w, 2 * w).init(device),
            l3: LinearConfig::new(2 * w, 4 * w).init(device),
            out: LinearConfig::new(4 * w, pixels).init(device),
            channels: cfg.channels,
        }
    }

    /// The first layer's pre-activations [batch, width] (this G has no normalisation).
    pub fn first_hidden(&self, z: Tensor<2>, label: Option<Tensor<2>>) -> Tensor<2> {
        linear(&self.l1, with_label(z, label))
    }

    pub fn forward(&self, z: Tensor<2>, label: Option<Tensor<2>>) -> Tensor<4> {
        let x = with_label(z, label); // [batch, latent + classes]
        let x = leaky(linear(&self.l1, x), SLOPE);
        let x = leaky(linear(&self.l2, x), SLOPE);
        let x = leaky(linear(&self.l3, x), SLOPE);
        let x = tanh(linear(&self.out, x)); // [batch, channels * 784]
        let [batch, values] = x.dims();
        let channels = self.channels.max(1);
        let side = ((values / channels) as f64).sqrt().round() as usize;
        x.reshape([batch, channels, side, side]) // [batch, channels, 28, 28]
    }
}

#[derive(Module, Debug)]
pub struct MlpDiscriminator {
    l1: Linear,
    l2: Linear,
    out: Linear,
}

impl MlpDiscriminator {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let w = cfg.width;
        let pixels = cfg.image_len();
        Self {
            l1: LinearConfig::new(pixels + cfg.num_classes, 2 * w).init(device),
            l2: LinearConfig::new(2 * w, w).init(device),
            out: LinearConfig::new(w, 1).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<4>, label: Option<Tensor<2>>) -> Tensor<2> {
        let x: Tensor<2> = x.flatten(1, 3); // [batch, 784]
        let x = with_label(x, label);
        let x = leaky(linear(&self.l1, x), SLOPE);
        let x = leaky(linear(&self.l2, x), SLOPE);
        linear(&self.out, x) // [batch, 1]
    }
}

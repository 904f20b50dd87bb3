//! Convolutional VAE: encoder to (mu, logvar), decoder shaped like the DCGAN generator.

use super::ModelConfig;
use super::dcgan::{down, up};
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

#[derive(Module, Debug)]
pub struct VaeEncoder {
    conv1: Conv2d,
    conv2: Conv2d,
    mu: Linear,
    logvar: Linear,
}

impl VaeEncoder {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let c = 2 * cfg.width;
        let side = cfg.image_size / 4;
        Self {
            conv1: down(cfg.channels, cfg.width, device),
            conv2: down(cfg.width, c, device),
            mu: LinearConfig::new(c * side * side, cfg.latent_dim).init(device),
            logvar: LinearConfig::new(c * side * side, cfg.latent_dim).init(device),
        }
    }

    /// `x`: [batch, 1, 28, 28] -> (mu, logvar), each [batch, latent].
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let x = relu(self.conv1.forward(x)); // [batch, w, 14, 14]
        let x = relu(self.conv2.forward(x)); // [batch, 2w, 7, 7]
        let x: Tensor<2> = x.flatten(1, 3);
        (self.mu.forward(x.clone()), self.logvar.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct VaeDecoder {
    fc: Linear,
    up1: ConvTranspose2d,
    up2: ConvTranspose2d,
    channels: usize,
    side: usize,
}

impl VaeDecoder {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let c = 2 * cfg.width;
        let side = cfg.image_size / 4;
        Self {
            fc: LinearConfig::new(cfg.latent_dim, c * side * side).init(device),
            up1: up(c, cfg.width, device),
            up2: up(cfg.width, cfg.channels, device),
            channels: c,
            side,
        }
    }

    /// The first layer's pre-activations [batch, 2 * width * 49].
    pub fn first_hidden(&self, z: Tensor<2>) -> Tensor<2> {
        self.fc.forward(z)
    }

    /// `z`: [batch, latent] -> pixel logits [batch, 1, 28, 28] (sigmoid gives [0, 1]).
    pub fn forward_logits(&self, z: Tensor<2>) -> Tensor<4> {
        let x = relu(self.fc.forward(z));
        let [batch, _] = x.dims();
        let x: Tensor<4> = x.reshape([batch, self.channels, self.side, self.side]);
        let x = relu(self.up1.forward(x)); // [batch, w, 14, 14]
        self.up2.forward(x) // [batch, 1, 28, 28]
    }
}

/// Encoder and decoder trained together by one optimiser. Checkpoints store the decoder as a
/// [`super::Generator`] so sampling code treats every family alike.
#[derive(Module, Debug)]
pub struct VaeNet {
    pub encoder: VaeEncoder,
    pub decoder: VaeDecoder,
}

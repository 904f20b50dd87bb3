//! A small convolutional classifier for 28x28 images, used by the quality meter.

use super::dcgan::down;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Width of the penultimate layer, whose activations the Frechet distance compares.
pub const FEATURES: usize = 128;

#[derive(Module, Debug)]
pub struct Classifier {
    conv1: burn::nn::conv::Conv2d,
    conv2: burn::nn::conv::Conv2d,
    hidden: Linear,
    out: Linear,
}

impl Classifier {
    pub fn new(classes: usize, device: &Device) -> Self {
        Self {
            conv1: down(1, 32, device),
            conv2: down(32, 64, device),
            hidden: LinearConfig::new(64 * 7 * 7, FEATURES).init(device),
            out: LinearConfig::new(FEATURES, classes).init(device),
        }
    }

    /// `x`: [batch, 1, 28, 28] in [-1, 1] -> (penultimate features [batch, 128], logits [batch, classes]).
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let x = relu(self.conv1.forward(x)); // [batch, 32, 14, 14]
        let x = relu(self.conv2.forward(x)); // [batch, 64, 7, 7]
        let features = relu(self.hidden.forward(x.flatten(1, 3))); // [batch, 128]
        let logits = self.out.forward(features.clone());
        (features, logits)
    }
}

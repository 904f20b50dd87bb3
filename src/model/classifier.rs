//! A small convolutional classifier for the quality meter, at any image side and channel count:
//! two stride-2 convolutions (28 px: to 7x7x64), more at larger sides (held at 64 channels) down
//! to the side a DCGAN would start from, then 128 features.

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
    /// Further stages at sides above 28 px's two (none at 28, so old classifiers load).
    mid: Vec<burn::nn::conv::Conv2d>,
    hidden: Linear,
    out: Linear,
    side: usize,
    channels: usize,
}

impl Classifier {
    /// For `side` x `side` images of `channels`.
    pub fn new(classes: usize, side: usize, channels: usize, device: &Device) -> Self {
        let shape = crate::model::ModelConfig::new(crate::model::ModelKind::Dcgan, 0)
            .with_shape(side, channels);
        let (base, stages) = shape.conv_stages();
        Self {
            conv1: down(channels, 32, device),
            conv2: down(32, 64, device),
            mid: (2..stages).map(|_| down(64, 64, device)).collect(),
            hidden: LinearConfig::new(64 * base * base, FEATURES).init(device),
            out: LinearConfig::new(FEATURES, classes).init(device),
            side,
            channels,
        }
    }

    /// The image shape it reads: (side, channels).
    pub fn shape(&self) -> (usize, usize) {
        (self.side, self.channels)
    }

    /// `x`: [batch, channels, 28, 28] in [-1, 1] -> (penultimate features [batch, 128], logits [batch, classes]).
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let x = relu(self.conv1.forward(x)); // [batch, 32, 14, 14]
        let mut x = relu(self.conv2.forward(x)); // [batch, 64, 7, 7]
        for m in &self.mid {
            x = relu(m.forward(x)); // side halved
        }
        let features = relu(self.hidden.forward(x.flatten(1, 3))); // [batch, 128]
        let logits = self.out.forward(features.clone());
        (features, logits)
    }
}

//! The style generator's discriminator: the generator's levels in reverse, each a stride-2
//! 4x4 convolution with LeakyReLU (no batch norm, which would let examples see each other
//! beside the minibatch-deviation feature), then StyleGAN's minibatch standard deviation, a
//! 3x3 convolution and two linear layers. With labels, the last layer's output is projected
//! on a class embedding (Miyato and Koyama's projection, as StyleGAN2-ADA conditions).

use super::level_channels;
use crate::model::cpu_kernels::conv::conv;
use crate::model::dcgan::down;
use crate::model::{dcgan_init, leaky_relu};
use crate::types::config::ModelConfig;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

const SLOPE: f64 = 0.2;
/// Examples per minibatch-deviation group (StyleGAN's 4).
const GROUP: usize = 4;

#[derive(Module, Debug)]
pub struct StyleDiscriminator {
    /// Full side down to the smallest, each halving the side.
    downs: Vec<Conv2d>,
    /// 3x3, on the features plus the deviation channel.
    conv: Conv2d,
    fc: Linear,
    out: Linear,
    /// With labels: the class embedding the output is projected on.
    embed: Option<Linear>,
}

impl StyleDiscriminator {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let (base, stages) = cfg.conv_stages();
        let ch = level_channels(cfg);
        let downs = (1..=stages)
            .rev()
            .map(|l| {
                let from = if l == stages { cfg.channels } else { ch[l] };
                down(from, ch[l - 1], device)
            })
            .collect();
        let c0 = ch[0];
        let classes = cfg.cond_dim();
        let out_dim = if classes > 0 { c0 } else { 1 };
        Self {
            downs,
            conv: Conv2dConfig::new([c0 + 1, c0], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_initializer(dcgan_init())
                .init(device),
            fc: LinearConfig::new(c0 * base * base, c0)
                .with_initializer(dcgan_init())
                .init(device),
            out: LinearConfig::new(c0, out_dim)
                .with_initializer(dcgan_init())
                .init(device),
            embed: (classes > 0).then(|| {
                LinearConfig::new(classes, c0)
                    .with_initializer(dcgan_init())
                    .init(device)
            }),
        }
    }

    /// `x`: [batch, channels, side, side]; `label`: [batch, classes] for a conditional D.
    /// Returns the real/fake logits [batch, 1].
    pub fn forward(&self, x: Tensor<4>, label: Option<Tensor<2>>) -> Tensor<2> {
        let mut x = x.permute([0, 2, 3, 1]); // [batch, side, side, channels]
        for layer in &self.downs {
            x = leaky_relu(conv(layer, x), SLOPE); // side halved
        }
        let x = x.permute([0, 3, 1, 2]); // [batch, c0, base, base]
        let x = leaky_relu(self.conv.forward(minibatch_std(x)), SLOPE); // [batch, c0, base, base]
        let x = leaky_relu(self.fc.forward(x.flatten(1, 3)), SLOPE); // [batch, c0]
        let out = self.out.forward(x); // [batch, 1] or [batch, c0]
        match (&self.embed, label) {
            (Some(e), Some(c)) => {
                let dim = out.dims()[1] as f64;
                (out * e.forward(c)).sum_dim(1).div_scalar(dim.sqrt()) // [batch, 1]
            }
            (Some(_), None) => out.sum_dim(1).mul_scalar(0.0),
            (None, _) => out,
        }
    }
}

/// StyleGAN's minibatch standard deviation: one more channel holding, for each group of up to
/// four examples, the mean over features of their standard deviation across the group.
/// `x`: [batch, c, h, w] -> [batch, c + 1, h, w].
pub fn minibatch_std(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    let g = (1..=GROUP.min(b)).rev().find(|g| b % g == 0).unwrap_or(1);
    let y = x.clone().reshape([g, b / g, c, h, w]); // example gi * (b / g) + j is in group j
    let y = y.clone() - y.mean_dim(0);
    let std = y.square().mean_dim(0).add_scalar(1e-8).sqrt(); // [1, b/g, c, h, w]
    let s = std.mean_dim(2).mean_dim(3).mean_dim(4); // [1, b/g, 1, 1, 1]
    let s = s.expand([g, b / g, 1, h, w]).reshape([b, 1, h, w]);
    Tensor::cat(vec![x, s], 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deviation channel is 0 for a batch of copies and grows with the spread.
    #[test]
    fn minibatch_std_measures_the_spread_across_a_group() {
        let device = Device::flex();
        let one = Tensor::<4>::ones([1, 2, 3, 3], &device);
        let copies = one.clone().repeat_dim(0, 4);
        let s = minibatch_std(copies).slice([0..4, 2..3]).abs().max();
        assert!(s.into_scalar::<f32>() < 1e-3);
        let spread =
            Tensor::cat(vec![one.clone(), one.clone().mul_scalar(3.0)], 0).repeat_dim(0, 2);
        let y = minibatch_std(spread); // groups of 4: values 1, 3, 1, 3 -> std 1
        assert_eq!(y.dims(), [4, 3, 3, 3]);
        let s = y.slice([0..4, 2..3]).mean().into_scalar::<f32>();
        assert!((s - 1.0).abs() < 1e-3, "std {s}");
    }
}

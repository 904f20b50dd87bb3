//! LAPGAN (Denton et al. 2015), small: a Laplacian pyramid of 2 or 3 levels. A small
//! convolutional GAN draws the coarsest image (8 px at 32, 7 at 28); each finer level doubles the side with a
//! bilinear up-sampling and adds the band-pass detail a conditional G draws from the up-sampled
//! image and a plane of noise. Each level has its own D, which judges a residual (real: the
//! image minus its up-sampled half-size copy; fake: G's) given the up-sampled image.
//!
//! The levels train together: each step, every level learns from the same real batch (a fine
//! level is conditioned on the real coarser image, as in the paper), with one loss summed over
//! the levels (their parameters are disjoint, so this is each level's own update).
//!
//! The generator's input is one vector: the coarse level's 100 noise values, then each finer
//! level's noise plane (`side * side` values). Sampling builds the image coarse to fine.
//!
//! What the digits taught (mnist5k, 2,800 steps, batch 64, meter n = 1000):
//! - the paper's fully connected coarse GAN, levels free to draw any residual: 7/10 classes,
//!   Frechet 2973 (the 14-px level painted over the coarse image and erased strokes);
//! - the same with each level's residual made band-pass (below): 8/10, Frechet 2610, and the
//!   coarse blobs now decide the digit: the fully connected coarse GAN drew few distinct
//!   ones (entropy 2.12 bits of 3.32), the slow start MLP GANs show everywhere;
//! - 2 levels (14 -> 28, the MLP at 14 px): 10/10, Frechet 2105;
//! - a convolutional coarse level (a dense layer to 7x7 maps, two 3x3 convolutions; its D two
//!   3x3 convolutions and a dense logit) with band-pass levels: 10/10, entropy 3.30 bits,
//!   Frechet 272, KID 0.056, precision 0.755, recall 0.636: shipped as `mnist-lapgan`.
//!
//! Speed: a step of the default pyramid at 28 px takes 591 ms on the 2-core CPU (batch 64),
//! 4.8 DCGAN steps. Resampling is not the cost (up2 and down2 with their gradients: under
//! 2 ms a step); the 3x3 convolutions of the levels and their gradients at full resolution
//! are, so a faster 3x3 kernel is the next lever.

use super::cpu_kernels::activation::leaky;
use super::cpu_kernels::conv::conv as conv_k4s2;
use super::cpu_kernels::norm::batch_norm_act;
use super::super_res::{conv, same3};
use super::{ModelConfig, ModelKind};
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::module::{avg_pool2d, interpolate};
use burn::tensor::ops::{AvgPoolOptions, InterpolateMode, InterpolateOptions};

pub use crate::types::pyramid_config::COARSE_LATENT;
const SLOPE: f64 = 0.2;

fn level_sides(cfg: &ModelConfig) -> Vec<usize> {
    cfg.level_sides()
}

fn noise_len(cfg: &ModelConfig) -> usize {
    cfg.pyramid_noise()
}

/// The coarsest level's shape and noise.
fn coarse_config(cfg: &ModelConfig) -> ModelConfig {
    let mut c = ModelConfig::new(ModelKind::Mlp, 0).with_shape(level_sides(cfg)[0], cfg.channels);
    c.latent_dim = cfg.latent_dim.saturating_sub(noise_len(cfg)).max(1);
    c.width = cfg.width;
    c
}

/// The coarsest level's G: noise to `4w` maps at the coarse side, then two 3x3 convolutions.
#[derive(Module, Debug)]
pub struct CoarseG {
    fc: Linear,
    bn0: BatchNorm,
    c1: Conv2d,
    bn1: BatchNorm,
    c2: Conv2d,
    side: usize,
}

impl CoarseG {
    fn new(c: &ModelConfig, device: &Device) -> Self {
        let (w, s) = (4 * c.width, c.image_size);
        Self {
            fc: LinearConfig::new(c.latent_dim, w * s * s).init(device),
            bn0: BatchNormConfig::new(w).init(device),
            c1: conv(w, w / 2, 3, device),
            bn1: BatchNormConfig::new(w / 2).init(device),
            c2: conv(w / 2, c.channels, 3, device),
            side: s,
        }
    }

    /// The dense layer's output [batch, 4w * s * s] (where GANSpace takes its PCA).
    pub fn first_hidden(&self, z: Tensor<2>) -> Tensor<2> {
        self.fc.forward(z)
    }

    /// `z` [batch, coarse]: the coarsest image [batch, channels, s, s] in [-1, 1].
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let [batch, _] = z.dims();
        let s = self.side;
        let maps = self.bn0.gamma.dims()[0];
        let x = self
            .fc
            .forward(z)
            .reshape([batch, maps, s, s])
            .permute([0, 2, 3, 1]); // [batch, s, s, 4w]
        let x = batch_norm_act(&self.bn0, x, 0.0);
        let x = batch_norm_act(&self.bn1, same3(&self.c1, x), 0.0); // [batch, s, s, 2w]
        burn::tensor::activation::tanh(same3(&self.c2, x)).permute([0, 3, 1, 2])
    }
}

/// The coarsest level's D: two 3x3 convolutions at the coarse side and a dense logit.
#[derive(Module, Debug)]
pub struct CoarseD {
    c1: Conv2d,
    c2: Conv2d,
    bn2: BatchNorm,
    fc: Linear,
}

impl CoarseD {
    fn new(c: &ModelConfig, device: &Device) -> Self {
        let (w, s) = (c.width, c.image_size);
        Self {
            c1: conv(c.channels, w, 3, device),
            c2: conv(w, 2 * w, 3, device),
            bn2: BatchNormConfig::new(2 * w).init(device),
            fc: LinearConfig::new(2 * w * s * s, 1).init(device),
        }
    }

    /// `x` [batch, channels, s, s]: logits [batch, 1].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = leaky(same3(&self.c1, x.permute([0, 2, 3, 1])), SLOPE); // [batch, s, s, w]
        let x = batch_norm_act(&self.bn2, same3(&self.c2, x), SLOPE);
        self.fc.forward(x.flatten(1, 3))
    }
}

/// `x` [batch, channels, h, w] at twice the side, bilinear (pixel centres aligned).
pub fn up2(x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let mut o = InterpolateOptions::new(InterpolateMode::Bilinear);
    o.align_corners = false;
    o.output_size = Some([2 * h, 2 * w]);
    interpolate(x, o)
}

/// `x` at half the side: the mean of each 2x2 block.
pub fn down2(x: Tensor<4>) -> Tensor<4> {
    avg_pool2d(
        x,
        AvgPoolOptions {
            kernel_size: [2, 2],
            stride: [2, 2],
            padding: [(0, 0), (0, 0)],
            count_include_pad: true,
            ceil_mode: false,
        },
    )
}

/// A finer level's G: the up-sampled image and a noise plane to the band-pass residual.
#[derive(Module, Debug)]
pub struct LevelG {
    c1: Conv2d,
    c2: Conv2d,
    bn2: BatchNorm,
    c3: Conv2d,
}

impl LevelG {
    fn new(channels: usize, width: usize, device: &Device) -> Self {
        Self {
            c1: conv(channels + 1, width, 3, device),
            c2: conv(width, width, 3, device),
            bn2: BatchNormConfig::new(width).init(device),
            c3: conv(width, channels, 3, device),
        }
    }

    /// `up` [batch, channels, s, s], `noise` [batch, 1, s, s]: the residual [batch, channels, s, s].
    ///
    /// G draws a detail image and the residual is that image minus its own low-pass (down, then
    /// up), the operator that makes the real residuals: a level can sharpen what the coarser
    /// level drew but not erase or move it. Without this, the 14-px level of a digit run
    /// painted bright strokes over the coarse image and erased others.
    pub fn forward(&self, up: Tensor<4>, noise: Tensor<4>) -> Tensor<4> {
        let x = Tensor::cat(vec![up, noise], 1).permute([0, 2, 3, 1]); // [batch, s, s, channels + 1]
        let x = burn::tensor::activation::relu(same3(&self.c1, x));
        let x = batch_norm_act(&self.bn2, same3(&self.c2, x), 0.0);
        let detail = same3(&self.c3, x).permute([0, 3, 1, 2]); // [batch, channels, s, s]
        detail.clone() - up2(down2(detail))
    }
}

/// A finer level's D: a residual given the up-sampled image, to a logit.
#[derive(Module, Debug)]
pub struct LevelD {
    c1: Conv2d,
    c2: Conv2d,
    bn2: BatchNorm,
    c3: Conv2d,
    bn3: BatchNorm,
    fc: Linear,
}

impl LevelD {
    fn new(channels: usize, width: usize, side: usize, device: &Device) -> Self {
        let last = side / 4;
        Self {
            c1: conv(2 * channels, width, 3, device),
            c2: conv(width, 2 * width, 4, device),
            bn2: BatchNormConfig::new(2 * width).init(device),
            c3: conv(2 * width, 2 * width, 4, device),
            bn3: BatchNormConfig::new(2 * width).init(device),
            fc: LinearConfig::new(2 * width * last * last, 1).init(device),
        }
    }

    /// `residual`, `up`: [batch, channels, s, s]; logits [batch, 1].
    pub fn forward(&self, residual: Tensor<4>, up: Tensor<4>) -> Tensor<2> {
        let x = Tensor::cat(vec![residual, up], 1).permute([0, 2, 3, 1]); // [batch, s, s, 2c]
        let x = leaky(same3(&self.c1, x), SLOPE);
        let x = batch_norm_act(&self.bn2, conv_k4s2(&self.c2, x), SLOPE); // side halved
        let x = batch_norm_act(&self.bn3, conv_k4s2(&self.c3, x), SLOPE); // halved again
        self.fc.forward(x.flatten(1, 3))
    }
}

#[derive(Module, Debug)]
pub struct LapGenerator {
    pub coarse: CoarseG,
    pub levels: Vec<LevelG>,
    sides: Vec<usize>,
    coarse_latent: usize,
}

impl LapGenerator {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let coarse = coarse_config(cfg);
        let sides = level_sides(cfg);
        Self {
            coarse: CoarseG::new(&coarse, device),
            levels: sides[1..]
                .iter()
                .map(|_| LevelG::new(cfg.channels, cfg.width, device))
                .collect(),
            sides,
            coarse_latent: coarse.latent_dim,
        }
    }

    /// The coarse level's noise [batch, coarse] and each finer level's plane [batch, 1, s, s].
    pub fn split(&self, z: Tensor<2>) -> (Tensor<2>, Vec<Tensor<4>>) {
        let [batch, _] = z.dims();
        let mut at = self.coarse_latent;
        let coarse = z.clone().slice([0..batch, 0..at]);
        let planes = self.sides[1..]
            .iter()
            .map(|&s| {
                let plane = z.clone().slice([0..batch, at..at + s * s]);
                at += s * s;
                plane.reshape([batch, 1, s, s])
            })
            .collect();
        (coarse, planes)
    }

    /// Every level's image of a sample, coarsest first, each in [-1, 1].
    pub fn pyramid(&self, z: Tensor<2>) -> Vec<Tensor<4>> {
        let (coarse, planes) = self.split(z);
        let mut img = self.coarse.forward(coarse); // [batch, channels, s0, s0]
        let mut out = vec![img.clone()];
        for (level, noise) in self.levels.iter().zip(planes) {
            let up = up2(img);
            img = up.clone() + level.forward(up, noise);
            out.push(img.clone().clamp(-1.0, 1.0));
        }
        out
    }

    /// `z` [batch, latent]: the finest image [batch, channels, side, side].
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let mut levels = self.pyramid(z);
        levels
            .pop()
            .unwrap_or_else(|| unreachable!("a pyramid has a level"))
    }
}

#[derive(Module, Debug)]
pub struct LapDiscriminator {
    pub coarse: CoarseD,
    pub levels: Vec<LevelD>,
}

impl LapDiscriminator {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let coarse = coarse_config(cfg);
        Self {
            coarse: CoarseD::new(&coarse, device),
            levels: level_sides(cfg)[1..]
                .iter()
                .map(|&s| LevelD::new(cfg.channels, cfg.width, s, device))
                .collect(),
        }
    }

    /// A full-size image judged by the finest level's D: its top band given the rest.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        match self.levels.last() {
            Some(d) => {
                let up = up2(down2(x.clone()));
                d.forward(x - up.clone(), up)
            }
            None => self.coarse.forward(x),
        }
    }
}

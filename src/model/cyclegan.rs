//! CycleGAN (Zhu et al. 2017), small: two ResNet-block generators (A to B and B to A) and two
//! PatchGAN discriminators, sized for 28-64 px.
//!
//! G: a 3x3 convolution, two 4x4 stride-2 convolutions (the side / 4), residual blocks at that
//! side, then two resize-convolutions (nearest-neighbour doubling, then a 3x3 convolution) back
//! to the full side and a 3x3 convolution to the image with tanh; instance norm and ReLU after
//! every layer but the last. The resize-convolutions replace the paper's transposed ones, whose
//! uneven overlap draws checkerboards (Odena et al. 2016). The paper's 7x7 first and last layers
//! are 3x3 here for the CPU's sake, as in `super_res`.
//!
//! D: PatchGAN: 4x4 stride-2 convolutions to a quarter of the side, a 3x3 one, and a 3x3 to one
//! logit per patch ([batch, patches]), each judging its receptive field (22 px).
//!
//! Both generators are fully convolutional: [`CycleGenerators::translate`] takes pictures of
//! any size whose sides are multiples of 4. The training shape's A image also enters
//! [`CycleGenerators::forward`] flattened, as the "latent" of every other generator.

use super::ModelConfig;
use super::cpu_kernels::activation::{leaky, tanh};
use super::cpu_kernels::conv::conv as conv_k4s2;
use super::super_res::{conv, same3};
use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

const SLOPE: f64 = 0.2;

/// Instance norm with a learned scale and shift per channel, on channels-last [n, h, w, c].
#[derive(Module, Debug)]
pub struct InstanceNorm {
    gamma: Param<Tensor<1>>,
    beta: Param<Tensor<1>>,
}

impl InstanceNorm {
    fn new(channels: usize, device: &Device) -> Self {
        Self {
            gamma: Param::from_tensor(Tensor::ones([channels], device)),
            beta: Param::from_tensor(Tensor::zeros([channels], device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [c] = self.gamma.dims();
        let mean = x.clone().mean_dim(1).mean_dim(2); // [n, 1, 1, c]
        let d = x - mean;
        let var = d.clone().square().mean_dim(1).mean_dim(2);
        let y = d / var.add_scalar(1e-5).sqrt();
        y * self.gamma.val().reshape([1, 1, 1, c]) + self.beta.val().reshape([1, 1, 1, c])
    }
}

/// Nearest-neighbour doubling of channels-last `x` [n, h, w, c] to [n, 2h, 2w, c].
fn double(x: Tensor<4>) -> Tensor<4> {
    let [n, h, w, c] = x.dims();
    let x: Tensor<6> = x.reshape([n, h, 1, w, 1, c]);
    x.repeat_dim(2, 2)
        .repeat_dim(4, 2)
        .reshape([n, 2 * h, 2 * w, c])
}

#[derive(Module, Debug)]
pub struct CycleBlock {
    c1: Conv2d,
    n1: InstanceNorm,
    c2: Conv2d,
    n2: InstanceNorm,
}

/// One generator, A to B or B to A.
#[derive(Module, Debug)]
pub struct ResnetGenerator {
    first: Conv2d,
    n0: InstanceNorm,
    down1: Conv2d,
    n1: InstanceNorm,
    down2: Conv2d,
    n2: InstanceNorm,
    blocks: Vec<CycleBlock>,
    up1: Conv2d,
    n3: InstanceNorm,
    up2: Conv2d,
    n4: InstanceNorm,
    last: Conv2d,
}

impl ResnetGenerator {
    fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let (w, c) = (cfg.width, cfg.channels);
        Self {
            first: conv(c, w, 3, device),
            n0: InstanceNorm::new(w, device),
            down1: conv(w, 2 * w, 4, device),
            n1: InstanceNorm::new(2 * w, device),
            down2: conv(2 * w, 4 * w, 4, device),
            n2: InstanceNorm::new(4 * w, device),
            blocks: (0..cfg.blocks)
                .map(|_| CycleBlock {
                    c1: conv(4 * w, 4 * w, 3, device),
                    n1: InstanceNorm::new(4 * w, device),
                    c2: conv(4 * w, 4 * w, 3, device),
                    n2: InstanceNorm::new(4 * w, device),
                })
                .collect(),
            up1: conv(4 * w, 2 * w, 3, device),
            n3: InstanceNorm::new(2 * w, device),
            up2: conv(2 * w, w, 3, device),
            n4: InstanceNorm::new(w, device),
            last: conv(w, c, 3, device),
        }
    }

    /// `x` [batch, channels, h, w] (sides multiples of 4) to the same shape, in [-1, 1].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = x.permute([0, 2, 3, 1]); // [batch, h, w, channels]
        let x = relu(self.n0.forward(same3(&self.first, x)));
        let x = relu(self.n1.forward(conv_k4s2(&self.down1, x))); // side / 2
        let mut x = relu(self.n2.forward(conv_k4s2(&self.down2, x))); // side / 4
        for b in &self.blocks {
            let y = relu(b.n1.forward(same3(&b.c1, x.clone())));
            x = x + b.n2.forward(same3(&b.c2, y));
        }
        let x = relu(self.n3.forward(same3(&self.up1, double(x)))); // side / 2
        let x = relu(self.n4.forward(same3(&self.up2, double(x)))); // side
        tanh(same3(&self.last, x)).permute([0, 3, 1, 2])
    }
}

/// Both generators.
#[derive(Module, Debug)]
pub struct CycleGenerators {
    pub ab: ResnetGenerator,
    pub ba: ResnetGenerator,
    channels: usize,
    side: usize,
}

impl CycleGenerators {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        Self {
            ab: ResnetGenerator::new(cfg, device),
            ba: ResnetGenerator::new(cfg, device),
            channels: cfg.channels,
            side: cfg.image_size,
        }
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    /// `x` [batch, channels, h, w] from A to B (`a_to_b`) or from B to A.
    pub fn translate(&self, x: Tensor<4>, a_to_b: bool) -> Tensor<4> {
        if a_to_b {
            self.ab.forward(x)
        } else {
            self.ba.forward(x)
        }
    }

    /// `z`: the training shape's A images flattened; their B translations.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let [batch, _] = z.dims();
        self.ab
            .forward(z.reshape([batch, self.channels, self.side, self.side]))
    }
}

/// A PatchGAN discriminator.
#[derive(Module, Debug)]
pub struct PatchDiscriminator {
    c1: Conv2d,
    c2: Conv2d,
    n2: InstanceNorm,
    c3: Conv2d,
    n3: InstanceNorm,
    c4: Conv2d,
}

impl PatchDiscriminator {
    fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let (w, c) = (cfg.width, cfg.channels);
        Self {
            c1: conv(c, w, 4, device),
            c2: conv(w, 2 * w, 4, device),
            n2: InstanceNorm::new(2 * w, device),
            c3: conv(2 * w, 4 * w, 3, device),
            n3: InstanceNorm::new(4 * w, device),
            c4: conv(4 * w, 1, 3, device),
        }
    }

    /// `x` [batch, channels, side, side]: one logit per patch, [batch, (side / 4)^2].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = x.permute([0, 2, 3, 1]);
        let x = leaky(conv_k4s2(&self.c1, x), SLOPE); // side / 2
        let x = leaky(self.n2.forward(conv_k4s2(&self.c2, x)), SLOPE); // side / 4
        let x = leaky(self.n3.forward(same3(&self.c3, x)), SLOPE);
        same3(&self.c4, x).flatten(1, 3)
    }
}

/// Both discriminators: `a` judges A images, `b` B images.
#[derive(Module, Debug)]
pub struct CycleDiscriminators {
    pub a: PatchDiscriminator,
    pub b: PatchDiscriminator,
}

impl CycleDiscriminators {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        Self {
            a: PatchDiscriminator::new(cfg, device),
            b: PatchDiscriminator::new(cfg, device),
        }
    }

    /// Whether `x` is a real B image: the mean of B's patch logits, [batch, 1].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.b.forward(x).mean_dim(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelKind;

    #[test]
    fn both_directions_keep_the_shape_and_patches_cover_the_image() {
        let device = Device::flex();
        let mut cfg = ModelConfig::new(ModelKind::Cyclegan, 0).with_shape(28, 3);
        cfg.width = 4;
        cfg.blocks = 1;
        let g = CycleGenerators::new(&cfg, &device);
        for a_to_b in [true, false] {
            let y = g.translate(Tensor::zeros([2, 3, 28, 28], &device), a_to_b);
            assert_eq!(y.dims(), [2, 3, 28, 28]);
        }
        // Another size whose sides are multiples of 4, not square.
        assert_eq!(
            g.translate(Tensor::zeros([1, 3, 12, 20], &device), true)
                .dims(),
            [1, 3, 12, 20]
        );
        let d = CycleDiscriminators::new(&cfg, &device);
        assert_eq!(
            d.a.forward(Tensor::zeros([2, 3, 28, 28], &device)).dims(),
            [2, 49]
        );
    }

    #[test]
    fn doubling_repeats_each_pixel() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 2, 2, 1]),
            &device,
        );
        let y: Vec<f32> = double(x).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(
            y,
            [
                1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.
            ]
        );
    }
}

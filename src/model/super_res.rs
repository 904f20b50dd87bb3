//! SRGAN (Ledig et al. 2017), small: a residual generator that turns an image `scale` times
//! smaller into the full-size one, and a strided-convolution discriminator.
//!
//! G: a 3x3 convolution and PReLU; residual blocks of (3x3 conv, batch norm, PReLU, 3x3 conv,
//! batch norm) with a skip; a 3x3 convolution and batch norm with a skip over all blocks; one
//! sub-pixel stage per factor 2 (a 3x3 convolution to 4x the channels, a pixel shuffle, PReLU);
//! a 3x3 convolution to the image and tanh (the data are in [-1, 1]). The sub-pixel
//! convolutions start as ICNR (Aitken et al. 2017): the four sub-pixels share one kernel, so a
//! fresh G upsamples like nearest-neighbour instead of drawing a checkerboard.
//!
//! G is fully convolutional: [`SrGenerator::upscale`] takes pictures of any size. Its training
//! shape's low-resolution image also enters [`SrGenerator::forward`] flattened, as the "latent"
//! of every other generator, so runs save, resume and draw their sample grids the same way.
//!
//! The paper's first and last layers are 9x9. burn-flex runs such a convolution as one product
//! per image, and on 2 cores G alone trained at 95 examples/s with them against 233 with 3x3
//! ones (32 px, 2x, batch 16), which run through `cpu_kernels::conv3`. With 6 blocks the
//! receptive field (29 px) already covers a 16-px input, so the 3x3 ones stay.
//!
//! D: convolutions with leaky ReLU, `width` to `4 * width` channels, 3x3 and then a 4x4 one that
//! halves the side, three times (batch norm after the first layer), then dense layers of `8 * width` and 1 (the paper's
//! 64-512 channels and 1024 units, scaled by `width / 64`).

use super::ModelConfig;
use super::cpu_kernels::activation::{leaky, tanh};
use super::cpu_kernels::conv::conv as conv_k4s2;
use super::cpu_kernels::conv3::conv3x3;
use super::cpu_kernels::norm::batch_norm_act;
use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

const SLOPE: f64 = 0.2;

/// A `k`x`k` "same" convolution (stride 1), or with `k` 4 the DCGAN halving one.
pub(crate) fn conv(from: usize, to: usize, k: usize, device: &Device) -> Conv2d {
    let (stride, p) = if k == 4 { (2, 1) } else { (1, k / 2) };
    Conv2dConfig::new([from, to], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .init(device)
}

/// `layer` (3x3, stride 1) on channels-last `x` [n, h, w, in]: [n, h, w, out], through the
/// CPU kernel where it applies.
pub(crate) fn same3(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let bias = match &layer.bias {
        Some(b) => b.val(),
        None => Tensor::zeros([layer.weight.dims()[0]], &x.device()),
    };
    conv3x3(x, layer.weight.val(), bias)
}

/// Batch norm alone (a slope of 1 makes the fused activation the identity).
fn bn(layer: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    batch_norm_act(layer, x, 1.0)
}

/// The pixel shuffle of channels-last `x` [n, h, w, 4c] to [n, 2h, 2w, c]: channel `4c + 2i +
/// j` becomes sub-pixel (i, j) of channel `c` (burn's `PixelShuffle` on NCHW, the same map).
pub fn shuffle2(x: Tensor<4>) -> Tensor<4> {
    let [n, h, w, c4] = x.dims();
    let c = c4 / 4;
    let x: Tensor<6> = x.reshape([n, h, w, c, 2, 2]);
    x.permute([0, 1, 4, 2, 5, 3]).reshape([n, 2 * h, 2 * w, c])
}

/// PReLU with one slope per channel (initially 0.25, as He et al. 2015), written as
/// `relu(x) + a * (x - relu(x))`: the same function, differentiated without masks.
#[derive(Module, Debug)]
pub struct ChannelPrelu {
    slope: Param<Tensor<1>>,
}

impl ChannelPrelu {
    fn new(channels: usize, device: &Device) -> Self {
        Self {
            slope: Param::from_tensor(Tensor::full([channels], 0.25, device)),
        }
    }

    /// `x`: channels-last [n, h, w, c].
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [c] = self.slope.dims();
        let a: Tensor<4> = self.slope.val().reshape([1, 1, 1, c]);
        let pos = relu(x.clone());
        pos.clone() + (x - pos) * a
    }
}

#[derive(Module, Debug)]
pub struct ResBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    act: ChannelPrelu,
    conv2: Conv2d,
    bn2: BatchNorm,
}

impl ResBlock {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self
            .act
            .forward(bn(&self.bn1, same3(&self.conv1, x.clone())));
        x + bn(&self.bn2, same3(&self.conv2, y))
    }
}

/// One 2x stage: a convolution to 4x the channels, a pixel shuffle, PReLU.
#[derive(Module, Debug)]
pub struct UpShuffle {
    conv: Conv2d,
    act: ChannelPrelu,
}

/// A sub-pixel convolution `width -> 4 * width` initialised as ICNR: output channel `4c + s`
/// (the pixel shuffle's sub-pixel `s` of channel `c`) gets channel `c`'s kernel and bias for
/// every `s`.
fn icnr_conv(width: usize, device: &Device) -> Conv2d {
    let mut up = conv(width, 4 * width, 3, device);
    let base = conv(width, width, 3, device);
    let weight = base.weight.val().detach(); // [width, width, 3, 3]
    let shared: Tensor<5> = weight.unsqueeze_dim::<5>(1).repeat_dim(1, 4); // [width, 4, width, 3, 3]
    let shared: Tensor<4> = shared.reshape([4 * width, width, 3, 3]);
    // Fresh leaves (autodiff refuses to track a tensor that ops made).
    up.weight = Param::from_tensor(Tensor::from_data(shared.into_data(), device));
    if let Some(b) = &base.bias {
        let bias: Tensor<2> = b.val().detach().unsqueeze_dim::<2>(1).repeat_dim(1, 4); // [width, 4]
        let bias: Tensor<1> = bias.reshape([4 * width]);
        up.bias = Some(Param::from_tensor(Tensor::from_data(
            bias.into_data(),
            device,
        )));
    }
    up
}

#[derive(Module, Debug)]
pub struct SrGenerator {
    head: Conv2d,
    head_act: ChannelPrelu,
    blocks: Vec<ResBlock>,
    body: Conv2d,
    body_bn: BatchNorm,
    ups: Vec<UpShuffle>,
    tail: Conv2d,
    channels: usize,
    low_side: usize,
}

impl SrGenerator {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let w = cfg.width;
        let stages = cfg.scale.max(1).trailing_zeros() as usize; // 1 for 2x, 2 for 4x
        Self {
            head: conv(cfg.channels, w, 3, device),
            head_act: ChannelPrelu::new(w, device),
            blocks: (0..cfg.blocks)
                .map(|_| ResBlock {
                    conv1: conv(w, w, 3, device),
                    bn1: BatchNormConfig::new(w).init(device),
                    act: ChannelPrelu::new(w, device),
                    conv2: conv(w, w, 3, device),
                    bn2: BatchNormConfig::new(w).init(device),
                })
                .collect(),
            body: conv(w, w, 3, device),
            body_bn: BatchNormConfig::new(w).init(device),
            ups: (0..stages)
                .map(|_| UpShuffle {
                    conv: icnr_conv(w, device),
                    act: ChannelPrelu::new(w, device),
                })
                .collect(),
            tail: conv(w, cfg.channels, 3, device),
            channels: cfg.channels,
            low_side: cfg.low_side(),
        }
    }

    /// The factor this net enlarges by.
    pub fn scale(&self) -> usize {
        1 << self.ups.len()
    }

    /// The image channels it takes and gives.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// `x`: [batch, channels, h, w] in [-1, 1], any h and w; returns
    /// [batch, channels, scale * h, scale * w] in [-1, 1]. Channels-last inside.
    pub fn upscale(&self, x: Tensor<4>) -> Tensor<4> {
        let head = self.head_features(x); // [batch, h, w, width]
        let mut y = head.clone();
        for b in &self.blocks {
            y = b.forward(y);
        }
        let mut y = head + bn(&self.body_bn, same3(&self.body, y));
        for u in &self.ups {
            y = u.act.forward(shuffle2(same3(&u.conv, y))); // side doubled
        }
        tanh(same3(&self.tail, y)).permute([0, 3, 1, 2]) // [batch, channels, scale * h, scale * w]
    }

    fn head_features(&self, x: Tensor<4>) -> Tensor<4> {
        self.head_act
            .forward(same3(&self.head, x.permute([0, 2, 3, 1])))
    }

    /// The first hidden features (after the first layer), flattened: [batch, features].
    pub fn first_hidden(&self, z: Tensor<2>) -> Tensor<2> {
        self.head_features(self.low_image(z)).flatten(1, 3)
    }

    /// `z`: the training shape's low-resolution images flattened, [batch, channels * low * low].
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        self.upscale(self.low_image(z))
    }

    fn low_image(&self, z: Tensor<2>) -> Tensor<4> {
        let [batch, _] = z.dims();
        z.reshape([batch, self.channels, self.low_side, self.low_side])
    }
}

#[derive(Module, Debug)]
pub struct SrStage {
    conv: Conv2d,
    bn: Option<BatchNorm>,
}

#[derive(Module, Debug)]
pub struct SrDiscriminator {
    stages: Vec<SrStage>,
    fc1: Linear,
    fc2: Linear,
}

impl SrDiscriminator {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let w = cfg.width;
        // (out channels, kernel): the paper's pattern of a stride-1 then a stride-2 layer; the
        // halving ones 4x4 (as DCGAN's D), which CPU kernels run.
        let plan = [
            (w, 3),
            (w, 4),
            (2 * w, 3),
            (2 * w, 4),
            (4 * w, 3),
            (4 * w, 4),
        ];
        let mut from = cfg.channels;
        let mut side = cfg.image_size;
        let mut stages = Vec::new();
        for (i, &(to, k)) in plan.iter().enumerate() {
            stages.push(SrStage {
                conv: conv(from, to, k, device),
                bn: (i > 0).then(|| BatchNormConfig::new(to).init(device)),
            });
            from = to;
            if k == 4 {
                side /= 2; // kernel 4, stride 2, padding 1
            }
        }
        Self {
            stages,
            fc1: LinearConfig::new(from * side * side, 8 * w).init(device),
            fc2: LinearConfig::new(8 * w, 1).init(device),
        }
    }

    /// `x`: [batch, channels, side, side] at the training side; logits [batch, 1].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut y = x.permute([0, 2, 3, 1]); // [batch, side, side, channels]
        for s in &self.stages {
            y = if s.conv.kernel_size == [4, 4] {
                conv_k4s2(&s.conv, y)
            } else {
                same3(&s.conv, y)
            };
            y = match &s.bn {
                Some(norm) => batch_norm_act(norm, y, SLOPE),
                None => leaky(y, SLOPE),
            };
        }
        let y = leaky(self.fc1.forward(y.flatten(1, 3)), SLOPE); // [batch, 8 * width]
        self.fc2.forward(y) // [batch, 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelKind;

    fn cfg(scale: usize) -> ModelConfig {
        let mut c = ModelConfig::new(ModelKind::Srgan, 0).with_shape(16, 3);
        c.scale = scale;
        c.width = 4;
        c.blocks = 1;
        c.latent_dim = c.low_len();
        c
    }

    #[test]
    fn upscales_any_size_by_its_factor() {
        let device = Device::flex();
        for scale in [2, 4] {
            let g = SrGenerator::new(&cfg(scale), &device);
            // Any side, even an odd one the training shape never has.
            let y = g.upscale(Tensor::zeros([2, 3, 5, 7], &device));
            assert_eq!(y.dims(), [2, 3, 5 * scale, 7 * scale]);
            let d = SrDiscriminator::new(&cfg(scale), &device);
            assert_eq!(
                d.forward(Tensor::zeros([2, 3, 16, 16], &device)).dims(),
                [2, 1]
            );
        }
    }

    #[test]
    fn the_channels_last_shuffle_is_burns_pixel_shuffle() {
        let device = Device::flex();
        let x = Tensor::<4>::random([2, 8, 3, 5], burn::tensor::Distribution::Default, &device);
        let want = burn::nn::PixelShuffle { upscale_factor: 2 }.forward(x.clone());
        let got = shuffle2(x.permute([0, 2, 3, 1])).permute([0, 3, 1, 2]);
        assert_eq!(want.into_data(), got.into_data());
    }

    #[test]
    fn a_fresh_sub_pixel_stage_repeats_each_pixel() {
        // ICNR: each input pixel's 2x2 block of outputs is one value per channel.
        let device = Device::flex();
        let up = icnr_conv(3, &device);
        let x = Tensor::<4>::random([1, 3, 4, 4], burn::tensor::Distribution::Default, &device);
        let y = burn::nn::PixelShuffle { upscale_factor: 2 }.forward(up.forward(x)); // [1, 3, 8, 8]
        let v: Vec<f32> = y.into_data().try_to_vec::<f32>().unwrap();
        for c in 0..3 {
            for r in 0..4 {
                for col in 0..4 {
                    let at = |dy: usize, dx: usize| v[c * 64 + (2 * r + dy) * 8 + 2 * col + dx];
                    for (dy, dx) in [(0, 1), (1, 0), (1, 1)] {
                        assert!((at(0, 0) - at(dy, dx)).abs() < 1e-6);
                    }
                }
            }
        }
    }
}

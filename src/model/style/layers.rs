//! The building blocks of the style-based generator: equalised-learning-rate linear layers,
//! modulated convolutions with weight demodulation, per-pixel noise and 2x up-sampling.
//!
//! Weights are stored N(0, 1) and scaled by `1 / sqrt(fan_in)` at run time (Karras et al.'s
//! equalised learning rate), so Adam's steps are the same size relative to every layer.

use crate::model::cpu_kernels::conv3::conv3x3;
use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;

/// LeakyReLU's slope and the gain that keeps the activations' scale (StyleGAN's `lrelu`).
pub const SLOPE: f64 = 0.2;
pub const GAIN: f64 = std::f64::consts::SQRT_2;

/// A linear layer with equalised learning rate: `x · (w * lr_mul / sqrt(in)) + b * lr_mul`.
#[derive(Module, Debug)]
pub struct EqLinear {
    /// [in, out], N(0, 1 / lr_mul) at init.
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
}

impl EqLinear {
    /// `bias_init` is the bias's starting value (1 for a style affine: styles start at 1).
    pub fn new(inp: usize, out: usize, lr_mul: f64, bias_init: f64, device: &Device) -> Self {
        let w = Tensor::random([inp, out], Distribution::Normal(0.0, 1.0 / lr_mul), device);
        Self {
            weight: Param::from_tensor(w),
            bias: Param::from_tensor(Tensor::full([out], bias_init / lr_mul, device)),
        }
    }

    /// `x`: [batch, in] -> [batch, out].
    pub fn forward(&self, x: Tensor<2>, lr_mul: f64) -> Tensor<2> {
        let inp = self.weight.dims()[0];
        let scale = lr_mul / (inp as f64).sqrt();
        x.matmul(self.weight.val().mul_scalar(scale))
            + self.bias.val().mul_scalar(lr_mul).unsqueeze()
    }
}

/// A convolution whose input channels are scaled per example by a style, optionally
/// demodulated (each output channel rescaled to unit expected variance), with `k`x`k`
/// kernels and "same" padding.
#[derive(Module, Debug)]
pub struct ModConv {
    /// [out, in, k, k], N(0, 1).
    pub weight: Param<Tensor<4>>,
    /// The style affine: w -> one scale per input channel.
    pub affine: EqLinear,
    pub bias: Param<Tensor<1>>,
    /// Demodulate (every conv); a to-image layer does not.
    pub demodulate: bool,
}

impl ModConv {
    pub fn new(
        inp: usize,
        out: usize,
        k: usize,
        w_dim: usize,
        demodulate: bool,
        device: &Device,
    ) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::random(
                [out, inp, k, k],
                Distribution::Normal(0.0, 1.0),
                device,
            )),
            affine: EqLinear::new(w_dim, inp, 1.0, 1.0, device),
            bias: Param::from_tensor(Tensor::zeros([out], device)),
            demodulate,
        }
    }

    /// `x`: [batch, h, w, in] (channels last); `w`: [batch, w_dim]. Returns [batch, h, w,
    /// out] (bias added, no activation).
    ///
    /// The non-fused form of StyleGAN2's modulated convolution: scaling the input by the style
    /// and the output by the demodulation factor is the same function as convolving with the
    /// per-example weights `w * s`, normalised, and needs only the shared weight. The 3x3
    /// convolution is latentlab's CPU extension where it runs (`cpu_kernels::conv3`).
    pub fn forward(&self, x: Tensor<4>, w: Tensor<2>) -> Tensor<4> {
        let [out, inp, k, _] = self.weight.dims();
        let [batch, h, wd, _] = x.dims();
        let mut style = self.affine.forward(w, 1.0); // [batch, in]
        if !self.demodulate {
            // A to-image layer's weight gain (StyleGAN2's ToRGB).
            style = style.mul_scalar(1.0 / ((inp * k * k) as f64).sqrt());
        }
        let weight = if self.demodulate {
            self.weight
                .val()
                .mul_scalar(1.0 / ((inp * k * k) as f64).sqrt())
        } else {
            self.weight.val()
        }; // [out, in, k, k]
        let x = x * style.clone().reshape([batch, 1, 1, inp]);
        let y = if k == 1 {
            let matrix = weight.clone().reshape([out, inp]).transpose(); // [in, out]
            x.reshape([batch * h * wd, inp])
                .matmul(matrix)
                .reshape([batch, h, wd, out])
        } else {
            let zero = Tensor::zeros([out], &x.device());
            conv3x3(x, weight.clone(), zero) // [batch, h, w, out]
        };
        let y = if self.demodulate {
            // sum over (in, kh, kw) of (w * s)^2 = s^2 · sum_k w^2
            let w2 = weight.square().sum_dim(3).sum_dim(2).reshape([out, inp]); // [out, in]
            let d = style
                .square()
                .matmul(w2.transpose())
                .add_scalar(1e-8)
                .sqrt()
                .recip(); // [batch, out]
            y * d.reshape([batch, 1, 1, out])
        } else {
            y
        };
        y + self.bias.val().reshape([1, 1, 1, out])
    }
}

/// Per-pixel noise with a learned strength (one per layer, starting at 0).
#[derive(Module, Debug)]
pub struct NoiseInput {
    pub strength: Param<Tensor<1>>,
}

impl NoiseInput {
    pub fn new(device: &Device) -> Self {
        Self {
            strength: Param::from_tensor(Tensor::zeros([1], device)),
        }
    }

    /// `x` [batch, h, w, c] plus `noise` [batch, h, w, 1] times the strength times `scale`
    /// (the explorer's per-layer multiplier; 1 in training).
    pub fn forward(&self, x: Tensor<4>, noise: Tensor<4>, scale: f64) -> Tensor<4> {
        x + noise * self.strength.val().mul_scalar(scale).reshape([1, 1, 1, 1])
    }
}

/// Nearest-neighbour 2x up-sampling, channels last: [batch, h, w, c] -> [batch, 2h, 2w, c].
pub fn upsample(x: Tensor<4>) -> Tensor<4> {
    let [b, h, w, c] = x.dims();
    x.reshape([b, h, 1, w, 1, c])
        .expand([b, h, 2, w, 2, c])
        .reshape([b, 2 * h, 2 * w, c])
}

/// StyleGAN's activation: LeakyReLU(0.2) times sqrt(2).
pub fn act(x: Tensor<4>) -> Tensor<4> {
    crate::model::leaky_relu(x, SLOPE).mul_scalar(GAIN)
}

/// Pixel norm: each row scaled to unit mean square (the mapping network's input).
pub fn normalize(x: Tensor<2>) -> Tensor<2> {
    let ms = x.clone().square().mean_dim(1).add_scalar(1e-8).sqrt(); // [batch, 1]
    x / ms
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Demodulation: whatever the style's scale, each output channel of a demodulated conv
    /// of unit-variance noise has about unit variance (the point of demodulating).
    #[test]
    fn demodulated_outputs_keep_unit_variance() {
        let device = Device::flex();
        device.seed(3);
        let conv = ModConv::new(16, 8, 3, 12, true, &device);
        let x = Tensor::<4>::random([4, 16, 16, 16], Distribution::Normal(0.0, 1.0), &device); // [batch, h, w, in]
        for scale in [0.1, 10.0] {
            let w = Tensor::<2>::random([4, 12], Distribution::Normal(0.0, scale), &device);
            let y = conv.forward(x.clone(), w);
            // Each output channel's variance over the batch and the pixels.
            let var = y
                .reshape([4 * 16 * 16, 8])
                .swap_dims(0, 1)
                .var(1)
                .mean()
                .into_scalar::<f32>();
            assert!(
                (0.6..1.4).contains(&var),
                "style scale {scale}: variance {var}"
            );
        }
    }

    /// The batched, channels-last form computes what a convolution with each example's own
    /// modulated (and demodulated) weight computes, for a 3x3 and a to-image 1x1 layer.
    #[test]
    fn modulated_conv_matches_a_convolution_with_per_example_weights() {
        use burn::tensor::module::conv2d;
        use burn::tensor::ops::ConvOptions;
        let device = Device::flex();
        device.seed(5);
        for (k, demodulate) in [(3, true), (1, false)] {
            let conv = ModConv::new(5, 4, k, 6, demodulate, &device);
            let x = Tensor::<4>::random([2, 7, 6, 5], Distribution::Normal(0.0, 1.0), &device); // [batch, h, w, in]
            let w = Tensor::<2>::random([2, 6], Distribution::Normal(0.0, 1.0), &device);
            let got = conv.forward(x.clone(), w.clone()); // [2, 7, 6, 4]
            for b in 0..2 {
                let style = conv.affine.forward(w.clone().slice([b..b + 1, 0..6]), 1.0); // [1, 5]
                let fan_in = (5 * k * k) as f64;
                // Both kinds scale by 1/sqrt(fan-in), the weight or (to-image) the style.
                let weight = conv.weight.val().mul_scalar(1.0 / fan_in.sqrt()); // [4, 5, k, k]
                let weight = weight * style.reshape([1, 5, 1, 1]);
                let weight = if demodulate {
                    let norm = weight.clone().square().sum_dim(3).sum_dim(2).sum_dim(1); // [4, 1, 1, 1]
                    weight / norm.add_scalar(1e-8).sqrt()
                } else {
                    weight
                };
                let xb = x.clone().narrow(0, b, 1).permute([0, 3, 1, 2]); // [1, 5, 7, 6]
                let expected = conv2d(
                    xb,
                    weight,
                    Some(conv.bias.val()),
                    ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1),
                )
                .permute([0, 2, 3, 1]); // [1, 7, 6, 4]
                let diff = (got.clone().narrow(0, b, 1) - expected)
                    .abs()
                    .max()
                    .into_scalar::<f32>();
                assert!(diff < 1e-4, "k {k}, example {b}: off by {diff}");
            }
        }
    }

    #[test]
    fn upsample_repeats_each_pixel_in_a_2x2_block() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 2, 2, 1]), // [batch, h, w, c]
            &device,
        );
        let y = upsample(x)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        assert_eq!(
            y,
            vec![
                1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 3.0, 3.0, 4.0, 4.0
            ]
        );
    }
}

//! A small StyleGAN2-style generator (Karras et al. 2019, 2020) and its discriminator.
//!
//! - A mapping MLP takes the normalised z (and, for `--labels`, a normalised class embedding)
//!   to w. Two layers by default, as StyleGAN2-ADA's CIFAR-10 setting and StyleGAN3 use: the
//!   eight of the FFHQ networks buy disentanglement at a scale of data and training time this
//!   tool does not reach, and cost a slower start.
//! - A learned constant at the smallest side (4 px at 32 and 64 px, 7 px at 28), then one level
//!   per doubling: nearest up-sampling, two modulated 3x3 convolutions with demodulation, each
//!   followed by per-pixel noise of learned strength, bias and LeakyReLU; a to-image layer per
//!   level adds into the up-sampled image (the skip architecture).
//! - One style (a w) per level: the explorer's mixing rows and W+ are per level.
//! - `w_avg`, the running mean of w (decay 0.995), for truncation; not trained by Adam.
//! - Style-mixing regularisation in training: with probability `MIXING` the levels from a
//!   random crossover on take the w of a second z.
//!
//! ## Speed, as measured (`bench --models stylegan --size 32 --channels 3`, 2 cores)
//! - With burn-flex's `conv2d` for the 3x3 convolutions: 51.7 examples/s; its convolution runs
//!   one small product per image (`gemm`'s narrow 1x6 micro-kernel took 12% of the time).
//! - Channels-last, each convolution one product over the batch of the nine shifted copies of
//!   the padded input: 46-54 examples/s, no faster. A `perf` profile puts 17% in burn-flex's
//!   transposing copy (`copy_2d_tiled`, called from its parallel contiguous copies: the
//!   up-sampling's and the shifted copies' layouts and their gradients) and 10% in `memmove`
//!   (the concatenation). Routing the product through the MLP's fused linear operation (which
//!   reads transposes through strides) changed nothing measurable (46-50 examples/s).
//! - `cpu_kernels::conv3`, a backend extension for the 3x3 convolution like the DCGAN's 4x4
//!   one (the window matrix written once, its adjoint gathered once, transposes read through
//!   strides): 86-89 examples/s, 1.8x. `gemm` now takes 45% of the step and zeroing 11%.
//! - Against the same network in PyTorch (`bench --models stylegan`, width 16, 2 threads each,
//!   2026-12-06): 200.8 and 202.9 against 320.3 and 339.7 examples/s at 32 px (0.6x), 49.0
//!   against 81.6 at 64 px. A `perf` profile at 32 px: `gemm`'s wide micro-kernels 28%, its
//!   1-column one 10% (products with few outputs: the to-image layers' 3 channels, the
//!   demodulation's `[batch, in] x [in, out]`, the narrow 16-channel level), `memset` 9-11%
//!   (buffers zeroed before they are filled), `memmove` 5.6%, element-wise passes (`zip_map`,
//!   `scalar_op`: the style scaling, noise, LeakyReLU and gain as separate passes) 6%. Fusing
//!   the modulation, noise and activation into the convolution's own passes, and a to-image
//!   product that is not a 1-column `gemm`, are the levers left.

pub mod discriminator;
pub mod layers;

use crate::model::with_label;
use crate::types::config::ModelConfig;
use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;
use layers::{EqLinear, ModConv, NoiseInput, act, normalize, upsample};

pub use discriminator::StyleDiscriminator;

/// The mapping network's learning-rate multiplier (StyleGAN's 0.01).
const MAPPING_LR: f64 = 0.01;
/// The probability a training batch mixes two styles.
pub const MIXING: f64 = 0.9;
/// How fast `w_avg` follows the batches' mean w.
pub const W_AVG_DECAY: f64 = 0.995;

/// One resolution: (up-sampling and a first conv, except at the smallest side), a second conv,
/// and the to-image layer.
#[derive(Module, Debug)]
pub struct Level {
    conv0: Option<ModConv>,
    noise0: Option<NoiseInput>,
    conv1: ModConv,
    noise1: NoiseInput,
    to_image: ModConv,
}

/// How the per-pixel noise of each conv is drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum NoiseMode {
    /// Fresh noise from the device's generator (training).
    Random,
    /// Noise from a seed per level (`seeds[l]`, the last one where missing, 0 when empty),
    /// one image per layer shared by every example (the same image for the same inputs),
    /// each level's strength times its entry in `scales` (1 where missing).
    Fixed { seeds: Vec<u64>, scales: Vec<f64> },
}

impl NoiseMode {
    /// Every level's noise from one seed, at full strength.
    pub fn seeded(seed: u64) -> Self {
        Self::Fixed {
            seeds: vec![seed],
            scales: Vec::new(),
        }
    }
}

#[derive(Module, Debug)]
pub struct StyleGenerator {
    mapping: Vec<EqLinear>,
    embed: Option<EqLinear>,
    /// [base, base, channels] (channels last, as the whole synthesis runs)
    constant: Param<Tensor<3>>,
    levels: Vec<Level>,
    /// [w_dim], the running mean of w.
    w_avg: Param<Tensor<1>>,
    w_dim: usize,
}

/// The channels at each level for `cfg`: `width` times 2 per doubling still to come, at most
/// 4x `width`, at least 16.
pub fn level_channels(cfg: &ModelConfig) -> Vec<usize> {
    let (_, stages) = cfg.conv_stages();
    (0..=stages)
        .map(|l| {
            let up = (stages - l).min(2);
            (cfg.width << up).max(16)
        })
        .collect()
}

/// The side of each level's output for `cfg`, smallest first (one style each).
pub fn level_sides(cfg: &ModelConfig) -> Vec<usize> {
    let (base, stages) = cfg.conv_stages();
    (0..=stages).map(|l| base << l).collect()
}

/// The style vector's size: the mapping network's width.
pub fn w_dim(cfg: &ModelConfig) -> usize {
    (cfg.width * 4).clamp(64, 512)
}

impl StyleGenerator {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let (base, _) = cfg.conv_stages();
        let channels = level_channels(cfg);
        let wd = w_dim(cfg);
        let classes = cfg.cond_dim();
        let first_in = cfg.latent_dim + if classes > 0 { wd } else { 0 };
        let depth = cfg.mapping_layers.max(1);
        let mapping = (0..depth)
            .map(|i| {
                let inp = if i == 0 { first_in } else { wd };
                EqLinear::new(inp, wd, MAPPING_LR, 0.0, device)
            })
            .collect();
        // The label's embedding, normalised like z and concatenated to it.
        let embed = (classes > 0).then(|| EqLinear::new(classes, wd, 1.0, 0.0, device));
        let levels = channels
            .iter()
            .enumerate()
            .map(|(l, &c)| {
                let prev = channels[l.saturating_sub(1)];
                Level {
                    conv0: (l > 0).then(|| ModConv::new(prev, c, 3, wd, true, device)),
                    noise0: (l > 0).then(|| NoiseInput::new(device)),
                    conv1: ModConv::new(c, c, 3, wd, true, device),
                    noise1: NoiseInput::new(device),
                    to_image: ModConv::new(c, cfg.channels, 1, wd, false, device),
                }
            })
            .collect();
        Self {
            mapping,
            embed,
            constant: Param::from_tensor(Tensor::random(
                [base, base, channels[0]],
                Distribution::Normal(0.0, 1.0),
                device,
            )),
            levels,
            w_avg: Param::from_tensor(Tensor::zeros([wd], device)).set_require_grad(false),
            w_dim: wd,
        }
    }

    /// Levels, one style each (the rows of the explorer's mixing table).
    pub fn num_levels(&self) -> usize {
        self.levels.len()
    }

    /// The side of each level's output, smallest first.
    pub fn level_sides(&self) -> Vec<usize> {
        let base = self.constant.dims()[0];
        (0..self.levels.len()).map(|l| base << l).collect()
    }

    /// The style vector's size.
    pub fn w_dim(&self) -> usize {
        self.w_dim
    }

    /// The running mean of w: [w_dim].
    pub fn w_avg(&self) -> Tensor<1> {
        self.w_avg.val()
    }

    /// z (and the label) to w: [batch, latent] -> [batch, w_dim].
    pub fn to_w(&self, z: Tensor<2>, label: Option<Tensor<2>>) -> Tensor<2> {
        let mut x = match (&self.embed, label) {
            (Some(e), Some(c)) => with_label(normalize(z), Some(normalize(e.forward(c, 1.0)))),
            (Some(_), None) => {
                // A conditional net asked without a label: the embedding's share is zero.
                let b = z.dims()[0];
                let zeros = Tensor::zeros([b, self.w_dim], &z.device());
                Tensor::cat(vec![normalize(z), zeros], 1)
            }
            _ => normalize(z),
        }; // [batch, latent (+ w_dim)]
        for layer in &self.mapping {
            let y = layer.forward(x, MAPPING_LR);
            x = crate::model::leaky_relu(y, layers::SLOPE).mul_scalar(layers::GAIN);
        }
        x
    }

    /// `w` moved toward `w_avg`: `w_avg + psi (w - w_avg)`.
    pub fn truncate(&self, w: Tensor<2>, psi: f64) -> Tensor<2> {
        let avg = self.w_avg.val().unsqueeze::<2>(); // [1, w_dim]
        avg.clone() + (w - avg).mul_scalar(psi)
    }

    /// Images from one w per level (`ws[l]`: [batch, w_dim]): [batch, channels, side, side].
    pub fn synthesize(&self, ws: &[Tensor<2>], noise: &NoiseMode) -> Tensor<4> {
        let batch = ws[0].dims()[0];
        let device = ws[0].device();
        let [base, _, c0] = self.constant.dims();
        let mut x = self
            .constant
            .val()
            .unsqueeze::<4>()
            .expand([batch, base, base, c0]); // [batch, base, base, c0]
        let mut img: Option<Tensor<4>> = None;
        let draw = |level: usize, which: u64, side: usize| -> (Tensor<4>, f64) {
            match noise {
                NoiseMode::Random => (
                    crate::model::random_tensor(
                        [batch, side, side, 1],
                        Distribution::Normal(0.0, 1.0),
                        &device,
                    ),
                    1.0,
                ),
                NoiseMode::Fixed { seeds, scales } => {
                    let seed = seeds.get(level).or(seeds.last()).copied().unwrap_or(0);
                    let s = seed
                        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                        .wrapping_add(2 * level as u64 + which);
                    // One noise image per layer, shared by the whole batch (StyleGAN's "const"
                    // noise): images differ only by their styles.
                    let values = crate::types::noise::gaussian(s, side * side);
                    (
                        Tensor::<4>::from_data(
                            TensorData::new(values, [1, side, side, 1]),
                            &device,
                        )
                        .expand([batch, side, side, 1]),
                        scales.get(level).copied().unwrap_or(1.0),
                    )
                }
            }
        };
        for (l, level) in self.levels.iter().enumerate() {
            let w = ws[l.min(ws.len() - 1)].clone();
            if let (Some(conv0), Some(noise0)) = (&level.conv0, &level.noise0) {
                x = conv0.forward(upsample(x), w.clone()); // side doubled
                let side = x.dims()[1];
                let (n, scale) = draw(l, 0, side);
                x = act(noise0.forward(x, n, scale));
            }
            let side = x.dims()[1];
            x = level.conv1.forward(x, w.clone());
            let (n, scale) = draw(l, 1, side);
            x = act(level.noise1.forward(x, n, scale));
            let rgb = level.to_image.forward(x.clone(), w); // [batch, side, side, channels]
            img = Some(match img {
                Some(prev) => upsample(prev) + rgb,
                None => rgb,
            });
        }
        match img {
            Some(img) => burn::tensor::activation::tanh(img).permute([0, 3, 1, 2]), // [batch, channels, side, side]
            None => unreachable!("a style generator has at least one level"),
        }
    }

    /// The training (and plain sampling) path: `z` -> w, the same w at every level, except
    /// that in training a batch mixes in a second z's w from a random level on (with
    /// probability [`MIXING`]). Noise is random in training and fixed (seed 0) otherwise, so
    /// that the fixed-noise grid does not flicker and encoding searches a fixed function.
    pub fn forward(&self, z: Tensor<2>, label: Option<Tensor<2>>) -> Tensor<4> {
        // Training: an autodiff device and weights that take gradients. A frozen copy on an
        // autodiff device (the encoder's search for z) samples as at inference.
        let training = z.device().is_autodiff() && self.constant.is_require_grad();
        let w = self.to_w(z.clone(), label.clone());
        let n = self.levels.len();
        let mut ws = vec![w; n];
        if training && n > 1 {
            // Two uniform draws from the device's (seeded) generator: whether, and where.
            let draws = crate::model::random_tensor([2], Distribution::Default, &z.device())
                .into_data()
                .try_into_vec::<f32>()
                .unwrap_or_default();
            if let [p, at] = draws[..]
                && f64::from(p) < MIXING
            {
                let cut = 1 + ((at * (n - 1) as f32) as usize).min(n - 2);
                let z2 = crate::model::random_tensor(
                    z.dims(),
                    Distribution::Normal(0.0, 1.0),
                    &z.device(),
                );
                let w2 = self.to_w(z2, label);
                for w in ws.iter_mut().skip(cut) {
                    *w = w2.clone();
                }
            }
        }
        let noise = if training {
            NoiseMode::Random
        } else {
            NoiseMode::seeded(0)
        };
        self.synthesize(&ws, &noise)
    }

    /// `w_avg` moved toward the mean w of `z` (no gradient).
    pub fn track_w_avg(mut self, z: Tensor<2>, label: Option<Tensor<2>>) -> Self {
        let wd = self.w_dim;
        let mean = self
            .to_w(z.detach(), label.map(Tensor::detach))
            .detach()
            .mean_dim(0)
            .reshape([wd]); // [w_dim]
        self.w_avg = self.w_avg.map(|avg| {
            let avg = avg.detach();
            (avg.clone() + (mean - avg).mul_scalar(1.0 - W_AVG_DECAY))
                .detach()
                .set_require_grad(false)
        });
        self
    }
}

//! Encoding a real image: a VAE's encoder, or for a GAN the latent that best reproduces the
//! image, found by Adam on z (pixel MSE plus a small Gaussian prior term) from several random
//! starts run as one batch, keeping the best. Only z is trained; G is frozen (batch norm uses
//! its running statistics, so the restarts do not interact).

use crate::checkpoint::{self, CheckpointError};
use crate::model::vae::VaeEncoder;
use crate::model::{Generator, ModelConfig, generate_with, readback};
use crate::types::noise;
use burn::prelude::*;
use burn::tensor::Bytes;

pub const DEFAULT_STEPS: usize = 300;
pub const DEFAULT_RESTARTS: usize = 8;
/// Adam's step size on z (decayed to 0 by a cosine schedule).
const LEARNING_RATE: f64 = 0.05;
/// Weight of the prior term `mean(z²)` against the pixel MSE: keeps z where G was trained.
pub const PRIOR_WEIGHT: f32 = 1e-3;

#[derive(Debug, Clone, PartialEq)]
pub struct InvertOptions {
    pub steps: usize,
    pub restarts: usize,
    pub seed: u64,
}

impl Default for InvertOptions {
    fn default() -> Self {
        Self {
            steps: DEFAULT_STEPS,
            restarts: DEFAULT_RESTARTS,
            seed: 0,
        }
    }
}

/// The latent found for an image and how well it reproduces it.
#[derive(Debug, Clone, PartialEq)]
pub struct Inversion {
    pub z: Vec<f32>,
    /// G(z): `[side * side]` in [-1, 1].
    pub reconstruction: Vec<f32>,
    /// Mean squared error per pixel on [0, 1] intensities.
    pub pixel_mse: f32,
    /// Adam steps and restarts used (0 and 1 for a VAE's encoder).
    pub steps: usize,
    pub restarts: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum InvertError {
    #[error("the image has {got} values; this model makes {want} ({side}x{side}x{channels})")]
    Size {
        got: usize,
        want: usize,
        side: usize,
        channels: usize,
    },
    #[error("--steps and --restarts must be at least 1")]
    Options,
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{0}")]
    Compute(String),
    #[error("cancelled")]
    Cancelled,
}

pub(crate) fn compute(e: impl std::fmt::Display) -> InvertError {
    InvertError::Compute(e.to_string())
}

/// Mean squared error per pixel between two [-1, 1] images, on [0, 1] intensities.
pub fn pixel_mse(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len()).max(1) as f32;
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>() / n / 4.0
}

/// Find z with G(z, cond) ≈ `target` (`[side * side]` in [-1, 1]). `progress(step, best
/// MSE so far)` returning false cancels.
pub fn invert(
    g: &Generator,
    model: &ModelConfig,
    target: &[f32],
    cond: Option<&[f32]>,
    opts: &InvertOptions,
    mut progress: impl FnMut(usize, f32) -> bool,
) -> Result<Inversion, InvertError> {
    check_search(model, target, opts)?;
    let (side, channels, pixels) = (model.image_size, model.channels, model.image_len());
    let (r, latent) = (opts.restarts, model.latent_dim);
    // A frozen copy of G on an autodiff device: gradients reach z only.
    let ad = Device::flex().autodiff();
    let origin = std::path::Path::new("the explorer's generator");
    let bytes = checkpoint::module_bytes(g)?;
    let g_ad = checkpoint::load_module_bytes(
        Bytes::from_bytes_vec(bytes),
        origin,
        model.init_generator(&ad),
    )?
    .freeze();
    let targets: Vec<f32> = (0..r).flat_map(|_| target.iter().copied()).collect();
    let x = Tensor::<4>::from_data(TensorData::new(targets, [r, channels, side, side]), &ad); // [r, channels, 28, 28]
    let label = cond.map(|c| {
        let rows: Vec<f32> = (0..r).flat_map(|_| c.iter().copied()).collect();
        Tensor::<2>::from_data(TensorData::new(rows, [r, c.len()]), &ad)
    }); // [r, cond_dim]
    let mut z = noise::gaussian(opts.seed, r * latent);
    let mut search = Search::new(z.len(), opts.steps);
    for step in 1..=opts.steps {
        let zt =
            Tensor::<2>::from_data(TensorData::new(z.clone(), [r, latent]), &ad).require_grad(); // [r, latent]
        let y = g_ad.forward(zt.clone(), label.clone()); // [r, channels, 28, 28]
        let per_image = per_image_mse(y, x.clone()); // [r, 1, 1, 1]
        let prior = zt.clone().powi_scalar(2).mean().mul_scalar(PRIOR_WEIGHT); // [1]
        // Summed over restarts: each row's gradient is its own.
        let loss = per_image.clone().sum() + prior.mul_scalar(r as f32);
        let grads = loss.backward();
        search.step(&mut z, &zt, &grads, per_image, step, &mut progress)?;
    }
    // Judge the final latents on the inference device, as the explorer will show them.
    let device = Device::flex();
    let images = generate_with(
        g,
        model,
        &device,
        &z,
        cond.map(|c| (0..r).flat_map(|_| c.iter().copied()).collect::<Vec<f32>>())
            .as_deref(),
    )
    .map_err(compute)?;
    let (i, err) = best_restart(&images, pixels, target)?;
    Ok(Inversion {
        z: z[i * latent..(i + 1) * latent].to_vec(),
        reconstruction: images[i * pixels..(i + 1) * pixels].to_vec(),
        pixel_mse: err,
        steps: opts.steps,
        restarts: r,
    })
}

/// A search's inputs: a picture of the model's shape, and at least one step and one restart.
pub(crate) fn check_search(
    model: &ModelConfig,
    target: &[f32],
    opts: &InvertOptions,
) -> Result<(), InvertError> {
    if target.len() != model.image_len() {
        return Err(InvertError::Size {
            got: target.len(),
            want: model.image_len(),
            side: model.image_size,
            channels: model.channels,
        });
    }
    if opts.steps == 0 || opts.restarts == 0 {
        return Err(InvertError::Options);
    }
    Ok(())
}

/// Each image's mean squared difference: [r, c, h, w] -> [r, 1, 1, 1].
pub(crate) fn per_image_mse(y: Tensor<4>, x: Tensor<4>) -> Tensor<4> {
    (y - x).powi_scalar(2).mean_dim(3).mean_dim(2).mean_dim(1)
}

/// The restart whose image (`pixels` values each in `images`) is closest to `target`, and its
/// error.
pub(crate) fn best_restart(
    images: &[f32],
    pixels: usize,
    target: &[f32],
) -> Result<(usize, f32), InvertError> {
    images
        .chunks(pixels)
        .map(|img| pixel_mse(img, target))
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .ok_or_else(|| compute("no restarts ran"))
}

/// A latent search's state across steps: Adam's moments, the step size decayed from
/// [`LEARNING_RATE`] to 0 by a cosine schedule, and the best error so far.
pub(crate) struct Search {
    m: Vec<f32>,
    v: Vec<f32>,
    steps: usize,
    best: f32,
}

impl Search {
    /// For `len` searched values over `steps` steps.
    pub(crate) fn new(len: usize, steps: usize) -> Self {
        Self {
            m: vec![0.0; len],
            v: vec![0.0; len],
            steps,
            best: f32::INFINITY,
        }
    }

    /// After the loss's backward pass: read `param`'s gradient and the errors `per_image`
    /// ([r, 1, 1, 1]) back, move `values` by one Adam step (`step` counts from 1), and report
    /// (`progress(step, best MSE so far)` returning false cancels).
    pub(crate) fn step<const D: usize>(
        &mut self,
        values: &mut [f32],
        param: &Tensor<D>,
        grads: &burn::tensor::Gradients,
        per_image: Tensor<4>,
        step: usize,
        progress: &mut impl FnMut(usize, f32) -> bool,
    ) -> Result<(), InvertError> {
        let grad = param
            .grad(grads)
            .ok_or_else(|| compute("no gradient reached the latent"))?;
        let grad = readback(grad).map_err(compute)?;
        let mse = readback(per_image.inner()).map_err(compute)?;
        self.best = mse.iter().fold(self.best, |a, &b| a.min(b / 4.0));
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let lr = LEARNING_RATE
            * 0.5
            * (1.0 + (std::f64::consts::PI * (step - 1) as f64 / self.steps as f64).cos());
        let (c1, c2) = (1.0 - b1.powi(step as i32), 1.0 - b2.powi(step as i32));
        for (i, x) in values.iter_mut().enumerate() {
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * grad[i];
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * grad[i] * grad[i];
            *x -= lr as f32 * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + eps);
        }
        if progress(step, self.best) {
            Ok(())
        } else {
            Err(InvertError::Cancelled)
        }
    }
}

/// A VAE's encoding: the encoder's mean, decoded.
pub fn encode_vae(
    encoder: &VaeEncoder,
    decoder: &Generator,
    model: &ModelConfig,
    target: &[f32],
) -> Result<Inversion, InvertError> {
    let (side, channels) = (model.image_size, model.channels);
    if target.len() != model.image_len() {
        return Err(InvertError::Size {
            got: target.len(),
            want: model.image_len(),
            side,
            channels,
        });
    }
    let device = Device::flex();
    let x = Tensor::<4>::from_data(
        TensorData::new(target.to_vec(), [1, channels, side, side]),
        &device,
    ); // [1, channels, 28, 28]
    let (mu, _) = encoder.forward(x); // [1, latent]
    let z = readback(mu).map_err(compute)?;
    let reconstruction = generate_with(decoder, model, &device, &z, None).map_err(compute)?;
    Ok(Inversion {
        pixel_mse: pixel_mse(&reconstruction, target),
        z,
        reconstruction,
        steps: 0,
        restarts: 1,
    })
}

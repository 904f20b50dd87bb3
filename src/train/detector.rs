//! Training a dedicated real/fake detector (`latentlab detector`): a fresh DCGAN-28
//! discriminator trained on real images against one generator's fakes, measured on held-out
//! images of both (the detector itself, and `detect`, are in `crate::detect`).

use super::TrainError;
use crate::data::{Batcher, Dataset};
use crate::detect::auc;
use crate::model::{
    Discriminator, Generator, ModelConfig, ModelKind, generate_with, readback, seeded_init,
};
use crate::quality::split;
use crate::train::objective::{self, Loss};
use crate::types::noise;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

/// Real and fake images per training step (each).
const HALF_BATCH: usize = 32;
/// The detector's width (half of DCGAN-28's D: it only has to tell one generator's fakes).
pub const DETECTOR_WIDTH: usize = 32;

/// What the trained detector scored on images it never saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeldOut {
    pub real: usize,
    pub fake: usize,
    pub auc: f64,
    /// Share of held-out images on the right side of P(real) = 0.5.
    pub accuracy: f64,
}

/// Train a detector for `steps` steps on `data`'s training split against as many fakes of
/// `g` (conditions cycling through its classes or codes), and measure it on the held-out
/// split of both. `progress(step, loss)` is called every 100 steps.
pub fn train_detector(
    data: &Dataset,
    g: &Generator,
    g_model: &ModelConfig,
    steps: usize,
    seed: u64,
    device: &Device,
    mut progress: impl FnMut(usize, f32),
) -> Result<(Discriminator, ModelConfig, HeldOut), TrainError> {
    if (data.height, data.width) != (g_model.image_size, g_model.image_size) {
        return Err(TrainError::ImageSize {
            h: data.height,
            w: data.width,
            size: g_model.image_size,
        });
    }
    if data.channels != g_model.channels {
        return Err(TrainError::Channels {
            data: data.channels,
            model: g_model.channels,
        });
    }
    let (side, channels) = (g_model.image_size, g_model.channels);
    let pixels = g_model.image_len();
    let (train_real, held_real) = split(data.len());
    if train_real.len() < HALF_BATCH || held_real.is_empty() {
        return Err(TrainError::TooSmall {
            len: data.len(),
            batch: HALF_BATCH * 10 / 9 + 1,
        });
    }
    // As many fakes as real images, split the same way.
    let n = data.len();
    let z = noise::gaussian(seed ^ 0xfa4e, n * g_model.latent_dim);
    let mut fakes = Vec::with_capacity(n * pixels);
    for start in (0..n).step_by(256) {
        let m = (n - start).min(256);
        let zs = &z[start * g_model.latent_dim..(start + m) * g_model.latent_dim];
        fakes.extend(generate_with(g, g_model, device, zs, None)?);
    }
    let fake_px = |idx: &[usize]| -> Vec<f32> {
        idx.iter()
            .flat_map(|&i| fakes[i * pixels..(i + 1) * pixels].iter().copied())
            .collect()
    };

    let mut model = ModelConfig::new(ModelKind::Dcgan, 0).with_shape(side, channels);
    model.width = DETECTOR_WIDTH;
    let ad = device.clone().autodiff();
    let mut d = seeded_init(&ad, seed, || model.init_discriminator(&ad))
        .ok_or(TrainError::Model(crate::model::ModelError::Width(0)))?;
    let mut opt = AdamConfig::new().with_beta_1(0.5).init();
    let mut real_order = Batcher::new(train_real.len(), seed);
    let mut fake_order = Batcher::new(train_real.len(), seed ^ 1);
    let batch = |px: Vec<f32>| {
        let m = px.len() / pixels;
        Tensor::<4>::from_data(TensorData::new(px, [m, channels, side, side]), &ad)
    };
    for step in 1..=steps {
        let real: Vec<usize> = real_order
            .next_indices(HALF_BATCH)
            .into_iter()
            .map(|i| train_real[i])
            .collect();
        let fake: Vec<usize> = fake_order
            .next_indices(HALF_BATCH)
            .into_iter()
            .map(|i| train_real[i])
            .collect();
        // One mixed batch, so batch norm's statistics in training are those of a mix of real
        // and fake images, like the running statistics the trained detector scores with.
        let mut px = data.pixels(&real);
        px.extend(fake_px(&fake));
        let logits = d.forward(batch(px), None); // [64, 1]
        let l_real = logits.clone().slice([0..HALF_BATCH, 0..1]); // [32, 1]
        let l_fake = logits.slice([HALF_BATCH..2 * HALF_BATCH, 0..1]);
        // Binary cross-entropy: real images are 1, fakes 0.
        let loss = objective::d_loss(Loss::Nonsat, l_real, l_fake);
        if step % 100 == 0 {
            progress(step, loss.clone().into_scalar::<f32>());
        }
        let grads = GradientsParams::from_grads(loss.backward(), &d);
        d = opt.step(2e-4, d, grads);
    }
    let d = d.valid();
    let p_real = |px: Vec<f32>| -> Result<Vec<f32>, TrainError> {
        let mut out = Vec::new();
        for chunk in px.chunks(256 * pixels) {
            let m = chunk.len() / pixels;
            let x = Tensor::<4>::from_data(
                TensorData::new(chunk.to_vec(), [m, channels, side, side]),
                device,
            );
            out.extend(readback(sigmoid(d.forward(x, None)))?);
        }
        Ok(out)
    };
    let real_scores = p_real(data.pixels(&held_real))?;
    let fake_scores = p_real(fake_px(&held_real))?;
    let right = real_scores.iter().filter(|&&p| p >= 0.5).count()
        + fake_scores.iter().filter(|&&p| p < 0.5).count();
    let held = HeldOut {
        real: real_scores.len(),
        fake: fake_scores.len(),
        auc: auc(&real_scores, &fake_scores),
        accuracy: right as f64 / (real_scores.len() + fake_scores.len()).max(1) as f64,
    };
    Ok((d, model, held))
}

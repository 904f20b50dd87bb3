//! One super-resolution update (SRGAN): D learns to tell the originals from G's upscales of
//! their shrunk copies, then G minimises the content loss plus `adv_weight` times the
//! adversarial loss. The low-resolution inputs are made on the device by a `scale`x`scale`
//! mean (the area filter of [`crate::data::resample::downscale`], the same numbers).

use super::{Nets, Trainer};
use crate::train::objective;
use crate::train::{StepMetrics, TrainError};
use crate::types::sr_config::{ContentLoss, SrTrain};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;

/// Images shown in a super-resolution run's sample grid, each as bicubic | G | original.
pub const SR_SHOWN: usize = 8;

/// `hr` [batch, channels, side, side] shrunk `scale` times by block means.
pub fn shrink(hr: Tensor<4>, scale: usize) -> Tensor<4> {
    avg_pool2d(
        hr,
        AvgPoolOptions {
            kernel_size: [scale, scale],
            stride: [scale, scale],
            padding: [(0, 0), (0, 0)],
            count_include_pad: true,
            ceil_mode: false,
        },
    )
}

/// The content loss of `fake` against `real`, one value.
fn content(kind: ContentLoss, fake: Tensor<4>, real: Tensor<4>) -> Tensor<1> {
    let diff = fake - real;
    match kind {
        ContentLoss::Mse => diff.powi_scalar(2).mean(),
        ContentLoss::L1 => diff.abs().mean(),
    }
}

impl Trainer {
    pub(super) fn sr_step(&mut self) -> Result<StepMetrics, TrainError> {
        let loss = self.config.loss;
        let (lr_g, lr_d) = self.config.rates_at(self.step);
        let sr = self.config.sr.clone().unwrap_or_default();
        let SrTrain {
            adv_weight,
            content: content_kind,
            feature_weight,
        } = sr;
        let scale = self.config.model.scale;
        let (real, _) = self.real_batch(); // [batch, channels, side, side]
        let [b, _, _, _] = real.dims();
        let low = shrink(real.clone(), scale); // [batch, channels, side / scale, side / scale]
        let z = low.reshape([b, self.config.model.latent_dim]);
        let fast = self.speedups;
        let Nets::Gan {
            g, d, opt_g, opt_d, ..
        } = &mut self.nets
        else {
            unreachable!("sr_step runs on GAN nets")
        };
        let fake = g.forward(z, None); // [batch, channels, side, side]
        // D's update (skipped when the adversarial term is off: nothing would use it).
        let adversarial = adv_weight > 0.0;
        let (loss_d, d_real, d_fake) = if adversarial {
            let l_real = d.forward(real.clone(), None); // [batch, 1]
            let l_fake = d.forward(fake.clone().detach(), None);
            let loss_d = objective::d_loss(loss, l_real.clone(), l_fake.clone());
            let grads = GradientsParams::from_grads(loss_d.backward(), &*d);
            *d = opt_d.step(lr_d, d.clone(), grads);
            (
                loss_d.detach(),
                sigmoid(l_real.detach()).mean(),
                sigmoid(l_fake.detach()).mean(),
            )
        } else {
            let zero = || Tensor::<1>::zeros([1], &real.device());
            (zero(), zero(), zero())
        };
        let content_loss = content(content_kind, fake.clone(), real.clone());
        // The meter's features of the output against the original's (SRGAN's VGG loss).
        let feature_loss = self.features.as_ref().map(|c| {
            let (f_fake, _) = c.forward(fake.clone()); // [batch, 128]
            let (f_real, _) = c.forward(real.clone());
            (f_fake - f_real.detach()).square().mean()
        });
        // PSNR on [0, 1] pixels: the [-1, 1] error halved.
        let mse = (fake.clone().detach() - real)
            .powi_scalar(2)
            .mean()
            .div_scalar(4.0);
        let (loss_g, d_after) = if adversarial {
            let d_for_g = super::update::d_for_g(d, fast.freeze_d_for_g);
            let l_fake = d_for_g.forward(fake, None);
            let adv = objective::g_loss(loss, l_fake.clone());
            (
                content_loss.clone() + adv.mul_scalar(adv_weight),
                sigmoid(l_fake.detach()).mean(),
            )
        } else {
            (content_loss.clone(), Tensor::<1>::zeros([1], &mse.device()))
        };
        let loss_g = match feature_loss {
            Some(f) => loss_g + f.mul_scalar(feature_weight),
            None => loss_g,
        };
        let grads = GradientsParams::from_grads(loss_g.backward(), &*g);
        *g = opt_g.step(lr_g, g.clone(), grads);
        // One read-back: [loss_D, loss_G, D(x), D(G) before, after, content, mse]
        let [
            loss_d,
            loss_g,
            d_real,
            d_fake_before,
            d_fake_after,
            content_loss,
            mse,
        ] = super::update::read_scalars(
            [
                loss_d,
                loss_g.detach(),
                d_real,
                d_fake,
                d_after,
                content_loss.detach(),
                mse,
            ]
            .into(),
        )?;
        Ok(StepMetrics {
            loss_d,
            loss_g,
            d_real,
            d_fake_before,
            d_fake_after,
            content_loss: Some(content_loss),
            psnr: Some(-10.0 * mse.max(1e-10).log10()),
            ..StepMetrics::default()
        })
    }

    /// The fixed inputs of a super-resolution run's grid: the first held-out images shrunk,
    /// flattened as its generator's "latent" (`[n * channels * low * low]`), and the originals.
    pub(super) fn sr_fixed(
        data: &crate::data::Dataset,
        model: &crate::model::ModelConfig,
    ) -> (Vec<f32>, Vec<f32>) {
        let mut idx = crate::data::held_out_spread(data.len());
        idx.truncate(SR_SHOWN);
        if idx.is_empty() {
            idx.extend((0..data.len()).take(SR_SHOWN));
        }
        let originals = data.pixels(&idx);
        let px = model.image_len();
        let low = originals
            .chunks(px)
            .flat_map(|img| {
                crate::data::resample::downscale(img, model.channels, model.image_size, model.scale)
            })
            .collect();
        (low, originals)
    }

    /// A super-resolution run's grid: per held-out image, bicubic | G | original, two
    /// triplets a row.
    pub(super) fn sr_grid(&self) -> Result<crate::types::grid::Picture, TrainError> {
        let m = &self.config.model;
        let upscaled = self.generate(&self.fixed_z, None)?;
        let px = m.image_len();
        let low_px = m.low_len();
        let n = self.fixed_z.len() / low_px.max(1);
        let mut values = Vec::with_capacity(3 * n * px);
        for i in 0..n {
            let low = &self.fixed_z[i * low_px..(i + 1) * low_px];
            values.extend(crate::data::resample::bicubic_upscale(
                low,
                m.channels,
                m.low_side(),
                m.scale,
            ));
            values.extend_from_slice(&upscaled[i * px..(i + 1) * px]);
            values.extend_from_slice(&self.sr_originals[i * px..(i + 1) * px]);
        }
        Ok(crate::types::grid::grid_of(
            &values,
            m.image_size,
            m.channels,
            6,
        ))
    }
}

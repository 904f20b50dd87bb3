//! One LAPGAN update: every level's D, then every level's G, on one real batch and its
//! pyramid. The coarse level plays the plain GAN game at the coarsest side; a finer level's D
//! tells the real band-pass residual (the image minus its up-sampled half-size copy) from G's,
//! both given the up-sampled real coarser image. The losses are summed over the levels (their
//! parameters are disjoint); the D(.) figures are the levels' means.

use super::update::ema_warmup;
use super::{Nets, Trainer};
use crate::model::lapgan::{down2, up2};
use crate::model::{Discriminator, Generator};
use crate::train::objective;
use crate::train::{StepMetrics, TrainError};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

impl Trainer {
    pub(super) fn lap_step(&mut self) -> Result<StepMetrics, TrainError> {
        let loss = self.config.loss;
        let (lr_g, lr_d) = self.config.rates_at(self.step);
        let decay = self.config.ema.map(|d| ema_warmup(d, self.step));
        let (real, _) = self.real_batch(); // [batch, channels, side, side]
        let z = self.latent_batch(1);
        let fast = self.speedups;
        let Nets::Gan {
            g,
            d,
            opt_g,
            opt_d,
            ema,
        } = &mut self.nets
        else {
            unreachable!("lap_step runs on GAN nets")
        };
        let (Generator::Lap(lg), Discriminator::Lap(ld)) = (&*g, &*d) else {
            unreachable!("lap_step runs on a pyramid")
        };
        // The real pyramid, coarsest first.
        let mut reals = vec![real];
        for _ in 1..lg.levels.len() + 1 {
            let finer = reals.last().cloned().unwrap_or_else(|| unreachable!());
            reals.push(down2(finer));
        }
        reals.reverse();
        let (coarse_z, planes) = lg.split(z);
        // What each level's D is shown: (real, fake, condition), the fake still in G's graph.
        let coarse_fake = lg.coarse.forward(coarse_z); // [batch, channels, s0, s0]
        let mut pairs = vec![(reals[0].clone(), coarse_fake, None)];
        for (k, (level, noise)) in lg.levels.iter().zip(planes).enumerate() {
            let up = up2(reals[k].clone()); // [batch, channels, s, s]
            let residual = reals[k + 1].clone() - up.clone();
            pairs.push((residual, level.forward(up.clone(), noise), Some(up)));
        }
        let judge = |dd: &crate::model::LapDiscriminator,
                     k: usize,
                     x: Tensor<4>,
                     up: &Option<Tensor<4>>| {
            match (k, up) {
                (0, _) | (_, None) => dd.coarse.forward(x),
                (k, Some(up)) => dd.levels[k - 1].forward(x, up.clone()),
            }
        };
        let n = pairs.len() as f64;
        let mut loss_d = Tensor::<1>::zeros([1], &reals[0].device());
        let (mut d_real, mut d_fake) = (loss_d.clone(), loss_d.clone());
        for (k, (r, f, up)) in pairs.iter().enumerate() {
            let l_real = judge(ld, k, r.clone(), up); // [batch, 1]
            let l_fake = judge(ld, k, f.clone().detach(), up);
            loss_d = loss_d + objective::d_loss(loss, l_real.clone(), l_fake.clone());
            d_real = d_real + sigmoid(l_real.detach()).mean();
            d_fake = d_fake + sigmoid(l_fake.detach()).mean();
        }
        let grads = GradientsParams::from_grads(loss_d.backward(), &*d);
        *d = opt_d.step(lr_d, d.clone(), grads);
        let d_for_g = super::update::d_for_g(d, fast.freeze_d_for_g);
        let Discriminator::Lap(ld) = &d_for_g else {
            unreachable!("lap_step runs on a pyramid")
        };
        let mut loss_g = Tensor::<1>::zeros([1], &reals[0].device());
        let mut d_after = loss_g.clone();
        for (k, (_, f, up)) in pairs.into_iter().enumerate() {
            let l_fake = judge(ld, k, f, &up);
            loss_g = loss_g + objective::g_loss(loss, l_fake.clone());
            d_after = d_after + sigmoid(l_fake.detach()).mean();
        }
        let grads = GradientsParams::from_grads(loss_g.backward(), &*g);
        *g = opt_g.step(lr_g, g.clone(), grads);
        if let (Some(avg), Some(decay)) = (ema.take(), decay) {
            *ema = Some(crate::model::ema::blend(avg, &*g, decay));
        }
        // One read-back: [loss_D, loss_G, D(x), D(G) before, after], D's summed over levels.
        let [loss_d, loss_g, d_real, d_fake, d_after] = super::update::read_scalars(
            [loss_d.detach(), loss_g.detach(), d_real, d_fake, d_after].into(),
        )?;
        let m = n as f32;
        Ok(StepMetrics {
            loss_d,
            loss_g,
            d_real: d_real / m,
            d_fake_before: d_fake / m,
            d_fake_after: d_after / m,
            ..StepMetrics::default()
        })
    }
}

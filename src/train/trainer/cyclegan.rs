//! One CycleGAN update (Zhu et al. 2017): both generators, then both discriminators, on an A
//! batch and a B batch drawn apart (the sets are unpaired). G minimises the least-squares
//! adversarial loss of both directions, plus lambda times the cycle error (A -> B -> A and
//! B -> A -> B, L1), plus lambda times the identity share of |G_BA(a) - a| + |G_AB(b) - b|.
//! Each D learns from real images and from a pool of up to 50 past fakes (half the time an
//! older one), which keeps the game from oscillating.
//!
//! The pool lives in memory only: a resumed run refills it from its next fakes, so a resume
//! continues the same run but not bit for bit.

use super::{Nets, Trainer};
use crate::data::Batcher;
use crate::model::{Discriminator, Generator, readback};
use crate::train::objective::{self, Loss};
use crate::train::{StepMetrics, TrainError};
use crate::types::cycle_config::CycleTrain;
use burn::optim::GradientsParams;
use burn::prelude::*;
use rand::Rng;

/// Held-out images of each domain shown in the training grid.
pub const CYCLE_SHOWN: usize = 6;

/// The two domains of a CycleGAN run's data: training and held-out images of each (every
/// 10th, at most 500), their batch orders and the pools of past fakes.
pub struct Domains {
    train: [Vec<usize>; 2],
    pub held: [Vec<usize>; 2],
    order: [Batcher; 2],
    pool: [Vec<Vec<f32>>; 2],
}

impl Domains {
    /// `data` split by domain ([`crate::data::pairs::split_domains`]); `None` unless it is a
    /// pair with images to train on and to hold out in both.
    pub fn new(data: &crate::data::Dataset, seed: u64) -> Option<Self> {
        let (train, held) = crate::data::pairs::split_domains(data)?;
        Some(Self {
            order: [
                Batcher::new(train[0].len(), seed),
                Batcher::new(train[1].len(), seed ^ 0xb),
            ],
            train,
            held,
            pool: [Vec::new(), Vec::new()],
        })
    }

    /// Continue both orders after `examples` of each.
    pub fn skip(&mut self, examples: u64) {
        for o in &mut self.order {
            o.skip(examples);
        }
    }

    fn next(&mut self, domain: usize, batch: usize) -> Vec<usize> {
        let idx = self.order[domain].next_indices(batch);
        idx.into_iter().map(|i| self.train[domain][i]).collect()
    }
}

/// What D learns from instead of `fakes` (`[n * px]`): each fake enters the pool while it is
/// not full; then half the time an older fake is shown instead, and the new one takes its place.
fn from_pool(
    pool: &mut Vec<Vec<f32>>,
    fakes: &[f32],
    px: usize,
    cap: usize,
    rng: &mut impl Rng,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(fakes.len());
    for img in fakes.chunks(px) {
        if cap == 0 {
            out.extend_from_slice(img);
        } else if pool.len() < cap {
            pool.push(img.to_vec());
            out.extend_from_slice(img);
        } else if rng.random::<f32>() < 0.5 {
            let j = rng.random_range(0..pool.len());
            out.extend(std::mem::replace(&mut pool[j], img.to_vec()));
        } else {
            out.extend_from_slice(img);
        }
    }
    out
}

fn l1(a: Tensor<4>, b: Tensor<4>) -> Tensor<1> {
    (a - b).abs().mean()
}

impl Trainer {
    pub(super) fn cycle_step(&mut self) -> Result<StepMetrics, TrainError> {
        let b = self.config.batch;
        let (side, c) = (self.config.model.image_size, self.config.model.channels);
        let CycleTrain {
            cycle_weight,
            identity,
            pool,
        } = self.config.cycle.clone().unwrap_or_default();
        let (lr_g, lr_d) = self.config.rates_at(self.step);
        let mut rng = self.rng(0xc7c1e);
        let dom = self.cycle.as_mut().ok_or(TrainError::NeedsPair)?;
        let (ia, ib) = (dom.next(0, b), dom.next(1, b));
        self.examples_seen += b as u64;
        let image = |idx: &[usize]| {
            Tensor::<4>::from_data(
                TensorData::new(self.data.pixels(idx), [b, c, side, side]),
                &self.device,
            )
        };
        let (real_a, real_b) = (image(&ia), image(&ib)); // [batch, channels, side, side]
        let fast = self.speedups;
        let Nets::Gan {
            g, d, opt_g, opt_d, ..
        } = &mut self.nets
        else {
            unreachable!("cycle_step runs on GAN nets")
        };
        let (Generator::Cycle(cg), Discriminator::Cycle(_)) = (&*g, &*d) else {
            unreachable!("cycle_step runs on CycleGAN nets")
        };
        let fake_b = cg.ab.forward(real_a.clone());
        let fake_a = cg.ba.forward(real_b.clone());
        let cycle = l1(cg.ba.forward(fake_b.clone()), real_a.clone())
            + l1(cg.ab.forward(fake_a.clone()), real_b.clone());
        let d_for_g = super::update::d_for_g(d, fast.freeze_d_for_g);
        let Discriminator::Cycle(cd) = &d_for_g else {
            unreachable!("cycle_step runs on CycleGAN nets")
        };
        let adv = objective::g_loss(Loss::Lsgan, cd.b.forward(fake_b.clone()))
            + objective::g_loss(Loss::Lsgan, cd.a.forward(fake_a.clone()));
        let mut loss_g = adv + cycle.clone().mul_scalar(cycle_weight);
        if identity > 0.0 {
            let same = l1(cg.ba.forward(real_a.clone()), real_a.clone())
                + l1(cg.ab.forward(real_b.clone()), real_b.clone());
            loss_g = loss_g + same.mul_scalar(cycle_weight * identity);
        }
        let grads = GradientsParams::from_grads(loss_g.backward(), &*g);
        *g = opt_g.step(lr_g, g.clone(), grads);
        // D on real images and on pooled fakes (read back: the pool is host memory).
        let px = c * side * side;
        let dom = self.cycle.as_mut().ok_or(TrainError::NeedsPair)?;
        let mut pooled = |k: usize, fakes: Tensor<4>| -> Result<Tensor<4>, TrainError> {
            let v = readback(fakes.detach())?;
            let shown = from_pool(&mut dom.pool[k], &v, px, pool, &mut rng);
            Ok(Tensor::from_data(
                TensorData::new(shown, [b, c, side, side]),
                &self.device,
            ))
        };
        let (shown_a, shown_b) = (pooled(0, fake_a)?, pooled(1, fake_b)?);
        let Discriminator::Cycle(cd) = &*d else {
            unreachable!("cycle_step runs on CycleGAN nets")
        };
        let (ra, rb) = (cd.a.forward(real_a), cd.b.forward(real_b)); // [batch, patches]
        let (fa, fb) = (cd.a.forward(shown_a), cd.b.forward(shown_b));
        let d_real = (ra.clone().mean() + rb.clone().mean()).div_scalar(2.0);
        let d_fake = (fa.clone().mean() + fb.clone().mean()).div_scalar(2.0);
        let loss_d =
            objective::d_loss(Loss::Lsgan, ra, fa) + objective::d_loss(Loss::Lsgan, rb, fb);
        let grads = GradientsParams::from_grads(loss_d.backward(), &*d);
        *d = opt_d.step(lr_d, d.clone(), grads);
        // One read-back: [loss_D, loss_G, D(real), D(pooled fakes), cycle error]
        let [loss_d, loss_g, d_real, d_fake, cycle] = super::update::read_scalars(
            [
                loss_d.detach(),
                loss_g.detach(),
                d_real.detach(),
                d_fake.detach(),
                cycle.detach(),
            ]
            .into(),
        )?;
        Ok(StepMetrics {
            loss_d,
            loss_g,
            d_real,
            d_fake_before: d_fake,
            d_fake_after: d_fake,
            // The two directions' mean absolute round-trip errors on [0, 1] pixels, summed
            // (`score` gives them apart).
            content_loss: Some(cycle / 2.0),
            ..StepMetrics::default()
        })
    }

    /// The fixed grid inputs of a CycleGAN run: held-out A images, then B images, spread over
    /// the held-out ones (sets are often sorted by class).
    pub(super) fn cycle_fixed(data: &crate::data::Dataset, d: &Domains) -> (Vec<f32>, Vec<f32>) {
        let take = |k: usize| {
            let h = &d.held[k];
            let n = h.len().min(CYCLE_SHOWN);
            (0..n)
                .map(|i| h[i * h.len() / n.max(1)])
                .collect::<Vec<_>>()
        };
        (data.pixels(&take(0)), data.pixels(&take(1)))
    }

    /// A CycleGAN run's grid: per row a held-out A image, its B translation and its way back,
    /// then the same for a held-out B image.
    pub(super) fn cycle_grid(&self) -> Result<crate::types::grid::Picture, TrainError> {
        let m = &self.config.model;
        let Generator::Cycle(cg) = self.generator() else {
            return Err(TrainError::NeedsPair);
        };
        let device = self.device.clone().without_autodiff();
        let px = m.image_len();
        let batch = |v: &[f32]| {
            let n = v.len() / px.max(1);
            Tensor::<4>::from_data(
                TensorData::new(v.to_vec(), [n, m.channels, m.image_size, m.image_size]),
                &device,
            )
        };
        let (a, b) = (batch(&self.fixed_z), batch(&self.cycle_b));
        let ab = cg.ab.forward(a);
        let aba = cg.ba.forward(ab.clone());
        let ba = cg.ba.forward(b);
        let bab = cg.ab.forward(ba.clone());
        let parts = [ab, aba, ba, bab].map(readback);
        let [ab, aba, ba, bab] = parts;
        let (ab, aba, ba, bab) = (ab?, aba?, ba?, bab?);
        let n = self.fixed_z.len() / px.max(1);
        let mut values = Vec::with_capacity(6 * n * px);
        for i in 0..n {
            let r = i * px..(i + 1) * px;
            for part in [&self.fixed_z, &ab, &aba, &self.cycle_b, &ba, &bab] {
                values.extend_from_slice(&part[r.clone()]);
            }
        }
        Ok(crate::types::grid::grid_of(
            &values,
            m.image_size,
            m.channels,
            6,
        ))
    }
}

//! One update: a GAN's D update(s) then G update, or a VAE's joint update, each read back once.

use super::{Nets, Trainer};
use crate::model::readback;
use crate::train::objective::{self, Loss};
use crate::train::{StepMetrics, TrainError};
use crate::types::noise;
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// What one update measured, by family.
enum Scalars {
    Gan {
        loss_d: f32,
        loss_g: f32,
        d_real: f32,
        d_fake_before: f32,
        d_fake_after: f32,
        /// ACGAN: D's class accuracy on the real and on the generated batch.
        class_acc: Option<(f32, f32)>,
        /// InfoGAN: the information loss and Q's categorical-code accuracy.
        info: Option<(f32, f32)>,
    },
    Vae {
        reconstruction: f32,
        kl: f32,
    },
}

impl Scalars {
    /// The step's metrics (step number and timing filled in by the caller). The VAE's terms
    /// go where its charts read them: reconstruction as loss_D, KL as loss_G.
    fn into_metrics(self) -> StepMetrics {
        match self {
            Scalars::Gan {
                loss_d,
                loss_g,
                d_real,
                d_fake_before,
                d_fake_after,
                class_acc,
                info,
            } => StepMetrics {
                loss_d,
                loss_g,
                d_real,
                d_fake_before,
                d_fake_after,
                class_acc_real: class_acc.map(|c| c.0),
                class_acc_fake: class_acc.map(|c| c.1),
                info_loss: info.map(|i| i.0),
                code_acc: info.map(|i| i.1),
                ..StepMetrics::default()
            },
            Scalars::Vae { reconstruction, kl } => StepMetrics {
                loss_d: reconstruction,
                loss_g: kl,
                ..StepMetrics::default()
            },
        }
    }
}

/// The second head's measurements in one D update, on the device until the read-back.
enum Aux {
    /// ACGAN: class accuracy on the real and on the generated batch.
    Class(Tensor<1>, Tensor<1>),
    /// InfoGAN: the information loss and Q's categorical-code accuracy.
    Info(Tensor<1>, Tensor<1>),
}

impl Aux {
    const CLASS: u8 = 0;
    const INFO: u8 = 1;

    fn kind(&self) -> u8 {
        match self {
            Aux::Class(..) => Self::CLASS,
            Aux::Info(..) => Self::INFO,
        }
    }

    fn into_tensors(self) -> [Tensor<1>; 2] {
        match self {
            Aux::Class(a, b) | Aux::Info(a, b) => [a, b],
        }
    }
}

/// `d` for the G update: with `freeze`, D's weights get no gradient (the gradient still flows
/// through D to G), which saves D's weight-gradient work.
pub(super) fn d_for_g(
    d: &crate::model::Discriminator,
    freeze: bool,
) -> crate::model::Discriminator {
    if freeze {
        d.clone().no_grad()
    } else {
        d.clone()
    }
}

/// A step's `N` scalars, read back in one transfer.
pub(super) fn read_scalars<const N: usize>(all: Vec<Tensor<1>>) -> Result<[f32; N], TrainError> {
    let values = readback(Tensor::cat(all, 0))?;
    <[f32; N]>::try_from(values.as_slice()).map_err(|_| short(N, values.len()))
}

fn short(expected: usize, got: usize) -> TrainError {
    TrainError::Readback(crate::model::ReadbackError(format!(
        "expected {expected} step scalars, got {got}"
    )))
}

/// The average's decay at `step`: lower at first, so that early samples are not dominated by
/// the random initial weights (the warm-up of TensorFlow's ExponentialMovingAverage with
/// `num_updates`).
pub(super) fn ema_warmup(decay: f64, step: u64) -> f64 {
    let s = step as f64;
    decay.min((1.0 + s) / (10.0 + s))
}

impl Trainer {
    /// Derived from (seed, step, salt) so a resumed run draws the same noise as an unbroken one.
    pub(super) fn rng(&self, salt: u64) -> StdRng {
        StdRng::seed_from_u64(
            self.config.seed ^ self.step.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt.rotate_left(32),
        )
    }

    fn noise(&self, salt: u64, n: usize) -> Vec<f32> {
        noise::gaussian_from(&mut self.rng(salt), n)
    }

    pub(super) fn real_batch(&mut self) -> (Tensor<4>, Option<Tensor<2>>) {
        let b = self.config.batch;
        let (size, channels) = (self.config.model.image_size, self.config.model.channels);
        let (pixels, labels) = self.batcher.next_batch(&self.data, b);
        self.examples_seen += b as u64;
        let real = Tensor::<4>::from_data(
            TensorData::new(pixels, [b, channels, size, size]),
            &self.device,
        );
        let classes = self.config.model.num_classes;
        let label = self.config.model.is_conditional().then(|| {
            Tensor::<2>::from_data(
                TensorData::new(noise::one_hot(&labels, classes), [b, classes]),
                &self.device,
            )
        });
        (real, label)
    }

    pub(super) fn latent_batch(&self, salt: u64) -> Tensor<2> {
        let b = self.config.batch;
        let z = self.config.model.latent_dim;
        Tensor::from_data(
            TensorData::new(self.noise(salt, b * z), [b, z]),
            &self.device,
        )
    }

    /// Run one step: for a GAN `n_critic` discriminator updates and one generator update; for
    /// the VAE one update of encoder and decoder together.
    pub fn step(&mut self) -> Result<StepMetrics, TrainError> {
        let started = Instant::now();
        // This trainer's choice, for its own steps only (other threads keep theirs).
        let _kernels = crate::model::cpu_kernels::Scope::set(self.speedups.cpu_extensions);
        let kind = self.config.model.kind;
        // Families whose update gives its metrics whole, one batch per step.
        use crate::model::ModelKind;
        if kind.is_boltzmann()
            || matches!(
                kind,
                ModelKind::Srgan | ModelKind::Lapgan | ModelKind::Cyclegan
            )
        {
            let m = match kind {
                ModelKind::Srgan => self.sr_step()?,
                ModelKind::Cyclegan => self.cycle_step()?,
                ModelKind::Lapgan => self.lap_step()?,
                _ => self.boltzmann_step()?,
            };
            self.step += 1;
            let step_secs = started.elapsed().as_secs_f32();
            let m = StepMetrics {
                step: self.step,
                examples_per_sec: self.config.batch as f32 / step_secs.max(1e-9),
                step_secs,
                ..m
            };
            self.history.push(m);
            return Ok(m);
        }
        let scalars = if self.config.model.kind.is_gan() {
            self.gan_step()?
        } else {
            self.vae_step()?
        };
        self.step += 1;
        let step_secs = started.elapsed().as_secs_f32();
        let per_step = self.config.batch * self.config.n_critic.max(1);
        let m = StepMetrics {
            step: self.step,
            examples_per_sec: per_step as f32 / step_secs.max(1e-9),
            step_secs,
            ..scalars.into_metrics()
        };
        self.history.push(m);
        Ok(m)
    }

    /// InfoGAN's codes for one batch, `[batch, categories + codes]`; `None` for other models.
    fn code_batch(&self, salt: u64) -> Option<Tensor<2>> {
        let m = &self.config.model;
        if !m.kind.has_codes() {
            return None;
        }
        let b = self.config.batch;
        let (rows, _) = noise::info_codes(&mut self.rng(salt), b, m.num_classes, m.codes);
        Some(Tensor::from_data(
            TensorData::new(rows, [b, m.cond_dim()]),
            &self.device,
        ))
    }

    fn gan_step(&mut self) -> Result<Scalars, TrainError> {
        let loss = self.config.loss;
        let (lr_g, lr_d) = self.config.rates_at(self.step);
        let categories = self.config.model.num_classes;
        let has_codes = self.config.model.kind.has_codes();
        let cont_weight = self.config.info_cont_weight;
        let info_weight = self.config.info_weight;

        let class_on_fakes = self.config.class_on_fakes;
        let fast = self.speedups;
        let n_critic = if loss == Loss::WganGp {
            self.config.n_critic.max(1)
        } else {
            1
        };
        let mut last = None;
        let mut label = None;
        // What G is conditioned on: the batch's labels (cGANs, ACGAN) or InfoGAN's codes.
        let mut cond = None;
        let mut fake_for_g = None;
        let mut z_last = None;
        let style = self.config.model.kind == crate::model::ModelKind::Stylegan;
        let r1 =
            style.then(|| objective::r1_gamma(self.config.model.image_size, self.config.batch));
        for i in 0..n_critic {
            let (real, l) = self.real_batch();
            label = l;
            let code = self.code_batch(0xc0de + i as u64);
            cond = code.clone().or_else(|| label.clone());
            let z = self.latent_batch(1 + i as u64);
            let mix = (loss == Loss::WganGp).then(|| {
                let b = self.config.batch;
                let mut rng = self.rng(0xa11 + i as u64);
                let m: Vec<f32> = (0..b).map(|_| rng.random::<f32>()).collect();
                Tensor::<4>::from_data(TensorData::new(m, [b, 1, 1, 1]), &self.device)
            });
            let Nets::Gan { g, d, opt_d, .. } = &mut self.nets else {
                unreachable!("gan_step runs on GAN nets")
            };
            if style {
                z_last = Some(z.clone());
            }
            let fake_graph = g.forward(z, cond.clone()); // [batch, 1, 28, 28]
            let fake = fake_graph.clone().detach();
            if fast.reuse_fake && i + 1 == n_critic {
                // The G update scores these same samples against the updated D (as the
                // PyTorch DCGAN recipe does), saving a second generator forward.
                fake_for_g = Some(fake_graph);
            }
            let (l_real, a_real) = d.forward_heads(real.clone(), label.clone()); // [batch, 1]
            let (l_fake, a_fake) = d.forward_heads(fake.clone(), label.clone());
            let mut loss_d = objective::d_loss(loss, l_real.clone(), l_fake.clone());
            let mut aux = None;
            match (a_real, a_fake, &label, &code) {
                // ACGAN: D also learns to name the class of real and of generated images.
                (Some(ar), Some(af), Some(y), None) => {
                    let mut terms = objective::class_loss(ar.clone(), y.clone());
                    if class_on_fakes {
                        terms = terms + objective::class_loss(af.clone(), y.clone());
                    }
                    loss_d = loss_d + terms.mul_scalar(objective::CLASS_WEIGHT);
                    aux = Some(Aux::Class(
                        objective::class_accuracy(ar.detach(), y.clone()),
                        objective::class_accuracy(af.detach(), y.clone()),
                    ));
                }
                // InfoGAN: D's body and Q learn to recover the codes of generated images.
                (_, Some(af), _, Some(c)) => {
                    let (info, acc) = objective::info_loss(af, c.clone(), categories, cont_weight);
                    loss_d = loss_d + info.clone().mul_scalar(info_weight);
                    aux = Some(Aux::Info(info.detach(), acc));
                }
                _ => {}
            }
            if let Some(gamma) = r1 {
                let lab = label.clone();
                let dd = &*d;
                loss_d = loss_d
                    + objective::r1_penalty(
                        |x| dd.forward(x, lab.clone()),
                        real.clone(),
                        l_real.clone(),
                        gamma,
                    );
            }
            if let Some(mix) = mix {
                let lab = label.clone();
                let dd = &*d;
                loss_d = loss_d
                    + objective::gradient_penalty(|x| dd.forward(x, lab.clone()), real, fake, mix);
            }
            let grads = GradientsParams::from_grads(loss_d.backward(), &*d);
            *d = opt_d.step(lr_d, d.clone(), grads);
            last = Some((
                loss_d.detach(),
                sigmoid(l_real.detach()).mean(),
                sigmoid(l_fake.detach()).mean(),
                aux,
            ));
        }
        let fake = match fake_for_g {
            Some(f) => f,
            None => {
                let z = self.latent_batch(0);
                let Nets::Gan { g, .. } = &self.nets else {
                    unreachable!("gan_step runs on GAN nets")
                };
                g.forward(z, cond.clone())
            }
        };
        let decay = self.config.ema.map(|d| ema_warmup(d, self.step));
        let Nets::Gan {
            g, d, opt_g, ema, ..
        } = &mut self.nets
        else {
            unreachable!("gan_step runs on GAN nets")
        };
        let d_for_g = d_for_g(d, fast.freeze_d_for_g);
        let (l_fake, a_fake) = d_for_g.forward_heads(fake, label.clone());
        let label_for_track = label.clone();
        let mut loss_g = objective::g_loss(loss, l_fake.clone());
        match (a_fake, label, cond) {
            // InfoGAN: G is rewarded when its codes can be read back from its images.
            (Some(af), _, Some(c)) if has_codes => {
                let (info, _) = objective::info_loss(af, c, categories, cont_weight);
                loss_g = loss_g + info.mul_scalar(info_weight);
            }
            // ACGAN: G is also rewarded when D names the class it was asked for.
            (Some(af), Some(y), _) => {
                loss_g = loss_g + objective::class_loss(af, y).mul_scalar(objective::CLASS_WEIGHT);
            }
            _ => {}
        }
        let grads = GradientsParams::from_grads(loss_g.backward(), &*g);
        *g = opt_g.step(lr_g, g.clone(), grads);
        if let Some(z) = z_last {
            *g = g.clone().track(z, label_for_track);
        }
        if let (Some(avg), Some(decay)) = (ema.take(), decay) {
            *ema = Some(crate::model::ema::blend(avg, &*g, decay));
        }
        let (loss_d, d_real, d_fake, aux) = last.ok_or(TrainError::ZeroBatch)?;
        // One read-back per step: [loss_D, loss_G, D(x), D(G(z)) before, after] and, for
        // ACGAN, [class accuracy on real, on generated], for InfoGAN [info loss, code accuracy]
        let mut all = vec![
            loss_d,
            loss_g.detach(),
            d_real,
            d_fake,
            sigmoid(l_fake.detach()).mean(),
        ];
        let kind = aux.as_ref().map(Aux::kind);
        all.extend(aux.into_iter().flat_map(Aux::into_tensors));
        let expected = all.len();
        let values = readback(Tensor::cat(all, 0))?;
        let [
            loss_d,
            loss_g,
            d_real,
            d_fake_before,
            d_fake_after,
            ref extra @ ..,
        ] = values[..]
        else {
            return Err(short(expected, values.len()));
        };
        if values.len() != expected {
            return Err(short(expected, values.len()));
        }
        let pair = |k: u8| (kind == Some(k)).then(|| (extra[0], extra[1]));
        Ok(Scalars::Gan {
            loss_d,
            loss_g,
            d_real,
            d_fake_before,
            d_fake_after,
            class_acc: pair(Aux::CLASS),
            info: pair(Aux::INFO),
        })
    }

    fn vae_step(&mut self) -> Result<Scalars, TrainError> {
        let lr = self.config.rates_at(self.step).0;
        let (real, _) = self.real_batch();
        let b = self.config.batch;
        let zdim = self.config.model.latent_dim;
        let eps = Tensor::<2>::from_data(
            TensorData::new(self.noise(7, b * zdim), [b, zdim]),
            &self.device,
        );
        let Nets::Vae { net, opt } = &mut self.nets else {
            unreachable!("vae_step runs on VAE nets")
        };
        let target = real.clone().add_scalar(1.0).mul_scalar(0.5); // [batch, 1, 28, 28] in [0, 1]
        let (mu, logvar) = net.encoder.forward(real);
        let z = mu.clone() + logvar.clone().mul_scalar(0.5).exp() * eps; // [batch, latent]
        let logits = net.decoder.forward_logits(z);
        let (total, recon, kl) = objective::vae_loss(logits, target, mu, logvar);
        let grads = GradientsParams::from_grads(total.backward(), &*net);
        *net = opt.step(lr, net.clone(), grads);
        // One read-back per step: [reconstruction, KL]
        let [reconstruction, kl] = read_scalars(vec![recon.detach(), kl.detach()])?;
        Ok(Scalars::Vae { reconstruction, kl })
    }
}

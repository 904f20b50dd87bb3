//! One optimisation step of a GAN (D update(s), then G update) or of a VAE, plus the state a
//! run carries between steps: networks, optimisers, data order, history.

use super::objective::{self, Loss};
use super::{History, StepMetrics, TrainConfig, TrainError};
use crate::checkpoint::{self, DataInfo, Manifest};
use crate::data::{Batcher, Dataset};
use crate::model::{Discriminator, Generator, VaeNet, generate_with, readback};
use crate::types::noise;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, OptimizerRecord};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Both GAN networks as one module, so they are drawn under one seed.
#[derive(burn::module::Module, Debug)]
struct GanPair {
    g: Generator,
    d: Option<Discriminator>,
}

impl GanPair {
    fn into_parts(self) -> Option<(Generator, Discriminator)> {
        Some((self.g, self.d?))
    }
}

#[allow(clippy::large_enum_variant)] // one per run
enum Nets {
    Gan {
        g: Generator,
        d: Discriminator,
        opt_g: ModuleOptimizer,
        opt_d: ModuleOptimizer,
    },
    Vae {
        net: VaeNet,
        opt: ModuleOptimizer,
    },
}

/// What one update measured, by family.
enum Scalars {
    Gan {
        loss_d: f32,
        loss_g: f32,
        d_real: f32,
        d_fake_before: f32,
        d_fake_after: f32,
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
            } => StepMetrics {
                loss_d,
                loss_g,
                d_real,
                d_fake_before,
                d_fake_after,
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

/// A training run in progress. Owns its tensors; lives on one thread.
pub struct Trainer {
    pub config: TrainConfig,
    data: Arc<Dataset>,
    data_source: String,
    device: Device,
    nets: Nets,
    pub step: u64,
    pub examples_seen: u64,
    batcher: Batcher,
    pub history: History,
    fixed_z: Vec<f32>,
    fixed_labels: Option<Vec<f32>>,
    pub speedups: Speedups,
}

/// Work-saving choices in the GAN step; all on by default. `latentlab bench --baseline` turns
/// them off to measure what they give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Speedups {
    /// Score the D step's generated batch again in the G step instead of generating anew.
    pub reuse_fake: bool,
    /// Freeze D's weights during the G update (no weight gradients for D).
    pub freeze_d_for_g: bool,
    /// DCGAN layers through latentlab's CPU extensions (`model::cpu_kernels`); process-wide, applied
    /// by `latentlab bench`.
    pub cpu_extensions: bool,
}

impl Speedups {
    pub const ALL: Self = Self {
        reuse_fake: true,
        freeze_d_for_g: true,
        cpu_extensions: true,
    };
    pub const NONE: Self = Self {
        reuse_fake: false,
        freeze_d_for_g: false,
        cpu_extensions: false,
    };
}

impl Default for Speedups {
    fn default() -> Self {
        Self::ALL
    }
}

fn adam(cfg: &TrainConfig) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(cfg.beta1)
        .with_beta_2(cfg.beta2)
        .with_epsilon(1e-8)
        .init()
}

fn check_lr(lr: f64) -> Result<(), TrainError> {
    // The optimiser works in f32: 1e39 is finite here but infinite there.
    if lr.is_finite() && lr > 0.0 && (lr as f32).is_finite() {
        Ok(())
    } else {
        Err(TrainError::LearningRate(lr))
    }
}

impl Trainer {
    /// A fresh run. `device` is the plain device; gradients are enabled here. Conditional
    /// models take their class count from the data set.
    pub fn new(
        mut config: TrainConfig,
        data: Arc<Dataset>,
        data_source: String,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let kind = config.model.kind;
        if kind.is_conditional() {
            if data.num_classes() < 2 {
                return Err(TrainError::NeedsLabels {
                    kind: kind.name(),
                    data: data.name.clone(),
                });
            }
            config.model.num_classes = data.num_classes();
        }
        config.model.validate()?;
        let size = config.model.image_size;
        if data.height != size || data.width != size {
            return Err(TrainError::ImageSize {
                h: data.height,
                w: data.width,
                size,
            });
        }
        if config.batch == 0 {
            return Err(TrainError::ZeroBatch);
        }
        if data.len() < config.batch {
            return Err(TrainError::TooSmall {
                len: data.len(),
                batch: config.batch,
            });
        }
        check_lr(config.lr_g)?;
        check_lr(config.lr_d)?;

        let ad = device.clone().autodiff();
        let seed = config.seed;
        let nets = match kind.is_gan() {
            true => {
                let model = &config.model;
                let (g, d) = crate::model::seeded_init(&ad, seed, || GanPair {
                    g: model.init_generator(&ad),
                    d: model.init_discriminator(&ad),
                })
                .into_parts()
                .ok_or(TrainError::Model(crate::model::ModelError::Width(0)))?;
                Nets::Gan {
                    g,
                    d,
                    opt_g: adam(&config),
                    opt_d: adam(&config),
                }
            }
            false => {
                let model = &config.model;
                let net = crate::model::seeded_init(&ad, seed, || VaeNet {
                    encoder: crate::model::VaeEncoder::new(model, &ad),
                    decoder: crate::model::VaeDecoder::new(model, &ad),
                });
                Nets::Vae {
                    net,
                    opt: adam(&config),
                }
            }
        };
        let n = config.sample_count;
        let fixed_z = noise::gaussian(config.seed ^ 0x5eed_f1ed, n * config.model.latent_dim);
        let fixed_labels = kind.is_conditional().then(|| {
            noise::one_hot(
                &noise::cycling_labels(n, config.model.num_classes),
                config.model.num_classes,
            )
        });
        Ok(Self {
            batcher: Batcher::new(data.len(), config.seed),
            config,
            data,
            data_source,
            device: ad,
            nets,
            step: 0,
            examples_seen: 0,
            history: History::default(),
            fixed_z,
            fixed_labels,
            speedups: Speedups::ALL,
        })
    }

    /// Continue the run saved in `dir`: same config, weights, optimiser state, step count,
    /// history and data order.
    pub fn resume(
        dir: &Path,
        data: Arc<Dataset>,
        data_source: String,
        device: &Device,
    ) -> Result<Self, TrainError> {
        // Held until the weights are read: no save swaps the run meanwhile.
        let (manifest, _reading) = checkpoint::open_run(dir)?;
        let want = manifest.train.model.num_classes;
        if manifest.train.model.kind.is_conditional() && want != data.num_classes() {
            return Err(TrainError::ClassMismatch {
                checkpoint: want,
                data: data.num_classes(),
            });
        }
        let mut t = Self::new(manifest.train.clone(), data, data_source, device)?;
        t.nets = match t.nets {
            Nets::Gan { g, d, opt_g, opt_d } => Nets::Gan {
                g: checkpoint::load_module(dir, checkpoint::GENERATOR, g)?,
                d: checkpoint::load_module(dir, checkpoint::DISCRIMINATOR, d)?,
                opt_g: load_optim(dir, checkpoint::OPTIM_G, opt_g)?,
                opt_d: load_optim(dir, checkpoint::OPTIM_D, opt_d)?,
            },
            Nets::Vae { net, opt } => {
                let decoder = match checkpoint::load_module(
                    dir,
                    checkpoint::GENERATOR,
                    Generator::Vae(net.decoder),
                )? {
                    Generator::Vae(d) => d,
                    _ => unreachable!("loading keeps the enum variant"),
                };
                let encoder = checkpoint::load_module(dir, checkpoint::ENCODER, net.encoder)?;
                Nets::Vae {
                    net: VaeNet { encoder, decoder },
                    opt: load_optim(dir, checkpoint::OPTIM_G, opt)?,
                }
            }
        };
        t.step = manifest.step;
        t.examples_seen = manifest.examples_seen;
        t.history = manifest.history;
        t.batcher.skip(t.examples_seen);
        Ok(t)
    }

    pub fn set_learning_rates(&mut self, lr_g: f64, lr_d: f64) -> Result<(), TrainError> {
        check_lr(lr_g)?;
        check_lr(lr_d)?;
        self.config.lr_g = lr_g;
        self.config.lr_d = lr_d;
        Ok(())
    }

    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// The device description is the caller's; this is the device tensors live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Derived from (seed, step, salt) so a resumed run draws the same noise as an unbroken one.
    fn rng(&self, salt: u64) -> StdRng {
        StdRng::seed_from_u64(
            self.config.seed ^ self.step.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt.rotate_left(32),
        )
    }

    fn noise(&self, salt: u64, n: usize) -> Vec<f32> {
        noise::gaussian_from(&mut self.rng(salt), n)
    }

    fn real_batch(&mut self) -> (Tensor<4>, Option<Tensor<2>>) {
        let b = self.config.batch;
        let size = self.config.model.image_size;
        let (pixels, labels) = self.batcher.next_batch(&self.data, b);
        self.examples_seen += b as u64;
        let real =
            Tensor::<4>::from_data(TensorData::new(pixels, [b, 1, size, size]), &self.device);
        let classes = self.config.model.num_classes;
        let label = self.config.model.kind.is_conditional().then(|| {
            Tensor::<2>::from_data(
                TensorData::new(noise::one_hot(&labels, classes), [b, classes]),
                &self.device,
            )
        });
        (real, label)
    }

    fn latent_batch(&self, salt: u64) -> Tensor<2> {
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

    fn gan_step(&mut self) -> Result<Scalars, TrainError> {
        let loss = self.config.loss;
        let (lr_g, lr_d) = (self.config.lr_g, self.config.lr_d);
        let fast = self.speedups;
        let n_critic = if loss == Loss::WganGp {
            self.config.n_critic.max(1)
        } else {
            1
        };
        let mut last = None;
        let mut label = None;
        let mut fake_for_g = None;
        for i in 0..n_critic {
            let (real, l) = self.real_batch();
            label = l;
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
            let fake_graph = g.forward(z, label.clone()); // [batch, 1, 28, 28]
            let fake = fake_graph.clone().detach();
            if fast.reuse_fake && i + 1 == n_critic {
                // The G update scores these same samples against the updated D (as the
                // PyTorch DCGAN recipe does), saving a second generator forward.
                fake_for_g = Some(fake_graph);
            }
            let l_real = d.forward(real.clone(), label.clone()); // [batch, 1]
            let l_fake = d.forward(fake.clone(), label.clone());
            let mut loss_d = objective::d_loss(loss, l_real.clone(), l_fake.clone());
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
            ));
        }
        let fake = match fake_for_g {
            Some(f) => f,
            None => {
                let z = self.latent_batch(0);
                let Nets::Gan { g, .. } = &self.nets else {
                    unreachable!("gan_step runs on GAN nets")
                };
                g.forward(z, label.clone())
            }
        };
        let Nets::Gan { g, d, opt_g, .. } = &mut self.nets else {
            unreachable!("gan_step runs on GAN nets")
        };
        // D's weights get no gradient in the G update: skipping them saves D's weight-gradient
        // work (the gradient still flows through D to G).
        let d_for_g = if fast.freeze_d_for_g {
            d.clone().no_grad()
        } else {
            d.clone()
        };
        let l_fake = d_for_g.forward(fake, label);
        let loss_g = objective::g_loss(loss, l_fake.clone());
        let grads = GradientsParams::from_grads(loss_g.backward(), &*g);
        *g = opt_g.step(lr_g, g.clone(), grads);
        let (loss_d, d_real, d_fake) = last.ok_or(TrainError::ZeroBatch)?;
        // One read-back per step: [loss_D, loss_G, D(x), D(G(z)) before, after]
        let all = Tensor::cat(
            vec![
                loss_d,
                loss_g.detach(),
                d_real,
                d_fake,
                sigmoid(l_fake.detach()).mean(),
            ],
            0,
        );
        match readback(all)?[..] {
            [loss_d, loss_g, d_real, d_fake_before, d_fake_after] => Ok(Scalars::Gan {
                loss_d,
                loss_g,
                d_real,
                d_fake_before,
                d_fake_after,
            }),
            ref other => Err(TrainError::Readback(crate::model::ReadbackError(format!(
                "expected 5 step scalars, got {}",
                other.len()
            )))),
        }
    }

    fn vae_step(&mut self) -> Result<Scalars, TrainError> {
        let lr = self.config.lr_g;
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
        let all = Tensor::cat(vec![recon.detach(), kl.detach()], 0);
        match readback(all)?[..] {
            [reconstruction, kl] => Ok(Scalars::Vae { reconstruction, kl }),
            ref other => Err(TrainError::Readback(crate::model::ReadbackError(format!(
                "expected 2 step scalars, got {}",
                other.len()
            )))),
        }
    }

    /// Every weight of every network is finite (checked before a save).
    pub fn weights_finite(&self) -> bool {
        match &self.nets {
            Nets::Gan { g, d, .. } => checkpoint::all_finite(g) && checkpoint::all_finite(d),
            Nets::Vae { net, .. } => checkpoint::all_finite(net),
        }
    }

    /// An inference copy of the generator (no gradients; batch norm uses running statistics).
    pub fn generator(&self) -> Generator {
        match &self.nets {
            Nets::Gan { g, .. } => g.valid(),
            Nets::Vae { net, .. } => Generator::Vae(net.decoder.valid()),
        }
    }

    /// Generate `n` images from the latent rows `z` (`[n * latent]`) and optional soft labels
    /// (`[n * classes]`); returns pixel values `[n, 28, 28]` in [-1, 1].
    pub fn generate(&self, z: &[f32], labels: Option<&[f32]>) -> Result<Vec<f32>, TrainError> {
        generate_with(
            &self.generator(),
            &self.config.model,
            &self.device.clone().without_autodiff(),
            z,
            labels,
        )
        .map_err(TrainError::from)
    }

    /// The fixed-noise sample batch, `[sample_count, 28, 28]`.
    pub fn samples(&self) -> Result<Vec<f32>, TrainError> {
        self.generate(&self.fixed_z, self.fixed_labels.as_deref())
    }

    /// The fixed-noise samples as a grid: one column per class for conditional models
    /// (the fixed labels cycle through the classes), square otherwise.
    pub fn sample_grid(&self) -> Result<crate::types::grid::GrayImage, TrainError> {
        let values = self.samples()?;
        let side = self.config.model.image_size;
        let cols = if self.config.model.kind.is_conditional() {
            self.config.model.num_classes
        } else {
            (self.config.sample_count as f64).sqrt().ceil() as usize
        };
        Ok(crate::types::grid::grid_of(&values, side, cols))
    }

    /// Write the run directory (atomically).
    pub fn save(&self, dir: &Path) -> Result<(), crate::checkpoint::CheckpointError> {
        if !self.weights_finite() {
            return Err(checkpoint::CheckpointError::NonFinite {
                step: self.step,
                detail: "the weights hold NaN or infinite values".into(),
            });
        }
        let manifest = Manifest {
            format_version: checkpoint::FORMAT_VERSION,
            crate_version: env!("CARGO_PKG_VERSION").into(),
            created_unix_secs: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            step: self.step,
            examples_seen: self.examples_seen,
            train: self.config.clone(),
            data: DataInfo {
                name: self.data.name.clone(),
                source: self.data_source.clone(),
                len: self.data.len(),
                height: self.data.height,
                width: self.data.width,
            },
            class_names: self.data.class_names.clone(),
            history: self.history.clone(),
        };
        let optim = |o: &ModuleOptimizer| {
            o.into_bytes()
                .map(|b| b.to_vec())
                .map_err(|e| checkpoint::CheckpointError::Encode {
                    what: "optimiser state",
                    detail: e.to_string(),
                })
        };
        let mut files = match &self.nets {
            Nets::Gan { g, d, opt_g, opt_d } => vec![
                (checkpoint::GENERATOR, checkpoint::module_bytes(g)?),
                (checkpoint::DISCRIMINATOR, checkpoint::module_bytes(d)?),
                (checkpoint::OPTIM_G, optim(opt_g)?),
                (checkpoint::OPTIM_D, optim(opt_d)?),
            ],
            Nets::Vae { net, opt } => vec![
                (
                    checkpoint::GENERATOR,
                    checkpoint::module_bytes(&Generator::Vae(net.decoder.clone()))?,
                ),
                (checkpoint::ENCODER, checkpoint::module_bytes(&net.encoder)?),
                (checkpoint::OPTIM_G, optim(opt)?),
            ],
        };
        files.push((checkpoint::SAMPLES, self.samples_png()?));
        checkpoint::write_run_dir(dir, &manifest, &files)
    }

    /// The fixed-noise grid as PNG bytes, saved beside the weights for a quick look.
    fn samples_png(&self) -> Result<Vec<u8>, checkpoint::CheckpointError> {
        let encode = |detail: String| checkpoint::CheckpointError::Encode {
            what: "sample grid",
            detail,
        };
        let grid = self.sample_grid().map_err(|e| encode(e.to_string()))?;
        crate::export::png_bytes(&grid, &[("step", self.step.to_string())])
            .map_err(|e| encode(e.to_string()))
    }
}

fn load_optim(
    dir: &Path,
    file: &str,
    opt: ModuleOptimizer,
) -> Result<ModuleOptimizer, crate::checkpoint::CheckpointError> {
    let path = dir.join(file);
    let bytes = checkpoint::read_bytes(dir, file)?;
    let record = OptimizerRecord::from_bytes(bytes).map_err(|e| {
        crate::checkpoint::CheckpointError::Corrupt {
            path,
            detail: e.to_string(),
        }
    })?;
    Ok(opt.load_record(record))
}

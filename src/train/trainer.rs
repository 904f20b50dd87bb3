//! The trainer: the state a run carries between steps (networks, optimisers, data order,
//! history), starting fresh or from a checkpoint, and saving it. One update of each family is in
//! `trainer/update.rs`.

mod boltzmann;
mod boltzmann_chains;
mod cyclegan;
mod detection;
mod diversity;
mod lapgan;
mod saving;
mod super_res;
mod update;

pub use cyclegan::{CYCLE_SHOWN, Domains};
pub use super_res::{SR_SHOWN, shrink};

pub use boltzmann::{GAP_EVERY, JOINT_LR_FRACTION, Phase, phase_of};

use super::{History, TrainConfig, TrainError};
use crate::checkpoint;
use crate::data::{Batcher, Dataset};
use crate::model::{BoltzmannNet, Discriminator, Generator, VaeNet, ema, generate_with};
use crate::types::noise;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// Gibbs sweeps of the chains a Boltzmann machine's training-time sample grid runs from the
/// fixed noise (when it has no persistent chains to show).
pub const TRAINING_SAMPLE_GIBBS: usize = 100;

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
        /// The moving average of `g`'s weights (plain device), when the run keeps one.
        ema: Option<Generator>,
    },
    Vae {
        net: VaeNet,
        opt: ModuleOptimizer,
    },
    Boltzmann {
        net: BoltzmannNet,
        state: boltzmann::CdState,
    },
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
    /// A super-resolution run's originals of its fixed inputs (`fixed_z`); empty otherwise.
    sr_originals: Vec<f32>,
    /// A CycleGAN run's two domains, and the held-out B images of its grid (its A images are
    /// `fixed_z`).
    cycle: Option<Domains>,
    cycle_b: Vec<f32>,
    /// A super-resolution run's feature network (the meter's classifier, frozen, on the
    /// training device), when it trains with a feature loss.
    features: Option<crate::model::classifier::Classifier>,
    pub speedups: Speedups,
    /// The data's mean pairwise distance, measured on first use ([`Trainer::diversity`]).
    real_spread: std::sync::OnceLock<f32>,
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
    /// The step options without the CPU kernels: what a device other than burn flex runs.
    pub const PORTABLE: Self = Self {
        reuse_fake: true,
        freeze_d_for_g: true,
        cpu_extensions: false,
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
    super::fused_adam::optimizer(cfg.beta1, cfg.beta2, 1e-8)
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
        if config.model.is_conditional() {
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
        if data.channels != config.model.channels {
            return Err(TrainError::Channels {
                data: data.channels,
                model: config.model.channels,
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
        if let Some(cd) = &config.cd {
            cd.check()
                .map_err(|(what, detail)| TrainError::Cd { what, detail })?;
        }
        let sr = kind == crate::model::ModelKind::Srgan;
        let lap = kind == crate::model::ModelKind::Lapgan;
        let cyc = kind == crate::model::ModelKind::Cyclegan;
        if cyc {
            // CycleGAN plays the least-squares game (the paper's), whatever --loss says.
            config.loss = super::objective::Loss::Lsgan;
            if let Some(t) = &config.cycle {
                t.check().map_err(|e| TrainError::Cycle(e.to_string()))?;
            }
        }
        let cycle = if cyc {
            Some(Domains::new(&data, config.seed).ok_or(TrainError::NeedsPair)?)
        } else {
            None
        };
        if (sr || lap) && config.loss == super::objective::Loss::WganGp {
            return Err(TrainError::LossNotFor {
                loss: config.loss.name(),
                kind: kind.name(),
            });
        }
        if let Some(t) = &config.sr {
            t.check().map_err(crate::model::ModelError::from)?;
        }
        let features = match &config.sr {
            Some(t) if sr && t.feature_weight > 0.0 => {
                let plain = device.clone().without_autodiff();
                let (meter, _) = super::meter::meter_for(None, &data, &plain, |_, _| {})?;
                let train_on = device.clone().autodiff();
                Some(meter.classifier.fork(&train_on).no_grad())
            }
            _ => None,
        };

        // Boltzmann machines update their weights directly: no gradients to record.
        let ad = if kind.is_boltzmann() {
            device.clone().without_autodiff()
        } else {
            device.clone().autodiff()
        };
        let seed = config.seed;
        let nets = match kind.is_gan() {
            false if kind.is_boltzmann() => {
                let gibbs = config
                    .cd
                    .as_ref()
                    .map_or(crate::types::config::DEFAULT_SAMPLE_GIBBS, |c| {
                        c.sample_gibbs
                    });
                let model = &config.model;
                let net =
                    crate::model::seeded_init(&ad, seed, || BoltzmannNet::new(model, gibbs, &ad));
                let state = boltzmann::CdState::new(&net);
                Nets::Boltzmann { net, state }
            }
            true => {
                let model = &config.model;
                let (g, d) = crate::model::seeded_init(&ad, seed, || GanPair {
                    g: model.init_generator(&ad),
                    d: model.init_discriminator(&ad),
                })
                .into_parts()
                .ok_or(TrainError::Model(crate::model::ModelError::Width(0)))?;
                let plain = device.clone().without_autodiff();
                let ema = config.ema.map(|_| {
                    let fresh =
                        crate::model::seeded_init(&plain, seed, || model.init_generator(&plain));
                    ema::copy(fresh, &g)
                });
                Nets::Gan {
                    g,
                    d,
                    opt_g: adam(&config),
                    opt_d: adam(&config),
                    ema,
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
        let (fixed_z, mut sr_originals) = if sr {
            Self::sr_fixed(&data, &config.model)
        } else if let Some(d) = &cycle {
            Self::cycle_fixed(&data, d)
        } else {
            let z = noise::gaussian(config.seed ^ 0x5eed_f1ed, n * config.model.latent_dim);
            (z, Vec::new())
        };
        // Conditions cycle through the classes (InfoGAN: the categorical code, continuous 0).
        let m = &config.model;
        let fixed_labels =
            (m.cond_dim() > 0).then(|| noise::cycling_conditions(n, m.num_classes, m.codes));
        // A Boltzmann machine's free-energy gap needs images it never trains on, and so do a
        // super-resolution net's grid and score: a tenth spread over the data, so that a set
        // sorted by class (the embedded digits are) still trains on every class.
        let batcher = if sr || kind.is_boltzmann() {
            Batcher::over(crate::data::trained_on(data.len()), config.seed)
        } else {
            Batcher::new(data.len(), config.seed)
        };
        Ok(Self {
            batcher,
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
            cycle_b: if cyc {
                std::mem::take(&mut sr_originals)
            } else {
                Vec::new()
            },
            sr_originals,
            cycle,
            features,
            speedups: Speedups::ALL,
            real_spread: std::sync::OnceLock::new(),
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
        if manifest.train.model.is_conditional() && want != data.num_classes() {
            return Err(TrainError::ClassMismatch {
                checkpoint: want,
                data: data.num_classes(),
            });
        }
        let mut t = Self::new(manifest.train.clone(), data, data_source, device)?;
        t.nets = match t.nets {
            Nets::Gan {
                g,
                d,
                opt_g,
                opt_d,
                ema,
            } => Nets::Gan {
                g: checkpoint::load_module(dir, checkpoint::GENERATOR, g)?,
                d: checkpoint::load_module(dir, checkpoint::DISCRIMINATOR, d)?,
                opt_g: load_optim(dir, checkpoint::OPTIM_G, opt_g)?,
                opt_d: load_optim(dir, checkpoint::OPTIM_D, opt_d)?,
                ema: match ema {
                    Some(e) => Some(checkpoint::load_module(dir, checkpoint::GENERATOR_EMA, e)?),
                    None => None,
                },
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
            Nets::Boltzmann { net, state } => {
                let gibbs = net.gibbs;
                let net = match checkpoint::load_module(
                    dir,
                    checkpoint::GENERATOR,
                    Generator::Boltzmann(net),
                )? {
                    Generator::Boltzmann(n) => n.with_gibbs(gibbs),
                    _ => unreachable!("loading keeps the enum variant"),
                };
                drop(state);
                let cd = manifest.train.cd.clone().unwrap_or_default();
                let shaped = boltzmann::CdState::for_step(&net, &cd, manifest.step);
                let state = checkpoint::load_module(dir, checkpoint::OPTIM_G, shaped)?;
                Nets::Boltzmann { net, state }
            }
        };
        t.step = manifest.step;
        t.examples_seen = manifest.examples_seen;
        t.history = manifest.history;
        t.batcher.skip(t.examples_seen);
        if let Some(d) = &mut t.cycle {
            d.skip(t.examples_seen);
        }
        Ok(t)
    }

    pub fn set_learning_rates(&mut self, lr_g: f64, lr_d: f64) -> Result<(), TrainError> {
        check_lr(lr_g)?;
        check_lr(lr_d)?;
        self.config.lr_g = lr_g;
        self.config.lr_d = lr_d;
        Ok(())
    }

    /// The indices of the data set's images this run trains on (the rest are held out).
    pub fn training_indices(&self) -> Vec<usize> {
        self.batcher.indices()
    }

    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// The device description is the caller's; this is the device tensors live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Whether the device answers a read (a remote server may have gone away).
    pub fn device_answers(&self) -> bool {
        crate::device::answers(&self.device)
    }

    /// Every weight of every network is finite (checked before a save).
    pub fn weights_finite(&self) -> bool {
        match &self.nets {
            Nets::Gan { g, d, ema, .. } => {
                checkpoint::all_finite(g)
                    && checkpoint::all_finite(d)
                    && ema.as_ref().is_none_or(checkpoint::all_finite)
            }
            Nets::Vae { net, .. } => checkpoint::all_finite(net),
            Nets::Boltzmann { net, .. } => checkpoint::all_finite(net),
        }
    }

    /// An inference copy of the generator users see (no gradients; batch norm uses running
    /// statistics): the weight average where the run keeps one.
    pub fn generator(&self) -> Generator {
        match &self.nets {
            Nets::Gan { ema: Some(e), .. } => e.clone(),
            _ => self.live_generator(),
        }
    }

    /// An inference copy of the generator's trained weights themselves.
    pub fn live_generator(&self) -> Generator {
        match &self.nets {
            Nets::Gan { g, .. } => g.valid(),
            Nets::Vae { net, .. } => Generator::Vae(net.decoder.valid()),
            Nets::Boltzmann { net, .. } => Generator::Boltzmann(net.clone()),
        }
    }

    /// Whether the run keeps a weight average besides the trained generator.
    pub fn has_ema(&self) -> bool {
        matches!(&self.nets, Nets::Gan { ema: Some(_), .. })
    }

    /// Generate `n` images from the latent rows `z` (`[n * latent]`) and optional soft labels
    /// (`[n * classes]`) with [`Self::generator`]; returns pixel values `[n, 28, 28]` in
    /// [-1, 1].
    pub fn generate(&self, z: &[f32], labels: Option<&[f32]>) -> Result<Vec<f32>, TrainError> {
        self.generate_by(&self.generator(), z, labels)
    }

    fn generate_by(
        &self,
        g: &Generator,
        z: &[f32],
        labels: Option<&[f32]>,
    ) -> Result<Vec<f32>, TrainError> {
        generate_with(
            g,
            &self.config.model,
            &self.device.clone().without_autodiff(),
            z,
            labels,
        )
        .map_err(TrainError::from)
    }

    /// The fixed-noise sample batch, `[sample_count, 28, 28]`.
    /// A Boltzmann machine with persistent chains at the pixel level shows those chains.
    pub fn samples(&self) -> Result<Vec<f32>, TrainError> {
        if let Some(v) = self.chain_samples(self.config.sample_count)? {
            return Ok(v);
        }
        if let Generator::Boltzmann(m) = self.generator() {
            // Fresh chains while training: fewer sweeps than a finished run's samples take.
            let steps = m.gibbs.min(TRAINING_SAMPLE_GIBBS);
            let g = Generator::Boltzmann(m.with_gibbs(steps));
            return self.generate_by(&g, &self.fixed_z, self.fixed_labels.as_deref());
        }
        self.generate(&self.fixed_z, self.fixed_labels.as_deref())
    }

    /// A Boltzmann machine's bottom-layer filters as a grid (see [`Trainer::filters`]).
    pub fn filter_grid(&self) -> Result<Option<crate::types::grid::Picture>, TrainError> {
        Ok(self
            .filters(boltzmann_chains::FILTERS_SHOWN)?
            .map(|v| crate::types::grid::grid_of(&v, self.config.model.image_size, 1, 10)))
    }

    /// The fixed-noise samples as a grid: one column per class for conditional models
    /// (the fixed labels cycle through the classes), square otherwise.
    pub fn sample_grid(&self) -> Result<crate::types::grid::Picture, TrainError> {
        if self.cycle.is_some() {
            return self.cycle_grid();
        }
        if !self.sr_originals.is_empty() {
            return self.sr_grid();
        }
        Ok(self.grid_of(self.samples()?))
    }

    /// The same grid from the trained weights, when the run also keeps an average.
    pub fn live_sample_grid(&self) -> Result<Option<crate::types::grid::Picture>, TrainError> {
        if !self.has_ema() {
            return Ok(None);
        }
        let g = self.live_generator();
        let values = self.generate_by(&g, &self.fixed_z, self.fixed_labels.as_deref())?;
        Ok(Some(self.grid_of(values)))
    }

    fn grid_of(&self, values: Vec<f32>) -> crate::types::grid::Picture {
        let side = self.config.model.image_size;
        let channels = self.config.model.channels;
        let cols = if self.config.model.cond_dim() > 0 {
            self.config.model.num_classes
        } else {
            (self.config.sample_count as f64).sqrt().ceil() as usize
        };
        crate::types::grid::grid_of(&values, side, channels, cols)
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

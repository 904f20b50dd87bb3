//! The one description of a run a user chooses: `latentlab train`'s flags (clap), the app's
//! remembered settings (serde) and, through [`RunOptions::config`], the engine's
//! [`TrainConfig`]. Defaults left unset (`None`) are the model's own (DESIGN section 4).

use crate::checkpoint::MAX_BATCH;
use crate::data::DataSource;
use crate::device::DeviceChoice;
use crate::types::config::{Loss, ModelKind, TrainConfig};
use crate::types::schedule::{LrSchedule, LrShape};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub struct RunOptions {
    /// Model family: mlp, dcgan (stages from the image side), cmlp / cdcgan (conditional on the class), acgan
    /// (conditional; D also classifies), infogan (learns a 10-way and 2 continuous codes
    /// without labels), stylegan, vae, rbm / dbn / dbm (Boltzmann machines; see their options
    /// below), srgan (super-resolution: see its options below).
    #[arg(long, value_enum, default_value = "dcgan")]
    pub model: ModelKind,
    /// GAN objective (ignored by the VAE).
    #[arg(long, value_enum, default_value = "nonsat")]
    pub loss: Loss,
    /// `default` (5,000 embedded MNIST digits), `fashion` (Debian's dataset-fashion-mnist),
    /// `shapes` (20,000 procedural shapes with known factors), or a directory of IDX files or
    /// of one image sub-folder per class.
    #[arg(long, default_value = "default")]
    pub data: DataSource,
    /// cyclegan: the second set (domain B), named as for --data; `--data` is domain A.
    /// Built-in pairs: `default` with `fashion`, with `colour-digits`, or `shapes:circle` with
    /// `shapes:square`.
    #[arg(long)]
    pub data_b: Option<DataSource>,
    /// Image side in pixels, 16 to 128 in steps of 4 (default: the data's own: 28 for the
    /// digit sets, 32 for shapes, 64 for a folder of pictures).
    #[arg(long, value_parser = image_side)]
    pub size: Option<usize>,
    /// 1 (grey) or 3 (colour) (default: the data's own; a folder of grey pictures is grey).
    #[arg(long, value_parser = channel_count)]
    pub channels: Option<usize>,
    /// Image folders: refuse the whole folder when any picture cannot be used (unreadable,
    /// smaller than 8x8, or an absurd header) instead of skipping it with a report.
    #[arg(long)]
    pub strict: bool,
    /// Examples per batch (1 to 4096).
    #[arg(long, default_value_t = 64, value_parser = batch_size)]
    pub batch: usize,
    /// Learning rate of both networks (default: 2e-4 for GANs, 1e-4 for WGAN-GP, 1e-3 for the
    /// VAE and for InfoGAN's G, 0.05 for Boltzmann machines (a tenth in a DBM's joint phase)). With --resume it replaces the saved learning rate.
    #[arg(long, value_parser = learning_rate)]
    pub lr: Option<f64>,
    /// Learning rate of the generator (or the VAE) alone; overrides --lr.
    #[arg(long, value_parser = learning_rate)]
    pub lr_g: Option<f64>,
    /// Learning rate of the discriminator alone; overrides --lr.
    #[arg(long, value_parser = learning_rate)]
    pub lr_d: Option<f64>,
    /// Learning-rate schedule: constant (the default), or linear or cosine decay to zero at
    /// the run's last step. With --resume, giving it (or --warmup) starts a new schedule from
    /// the saved step to the new last one; otherwise the saved schedule goes on.
    #[arg(long, value_enum)]
    pub lr_schedule: Option<LrShape>,
    /// Steps over which the learning rate climbs linearly to its set value at the start of
    /// the schedule (default 0).
    #[arg(long)]
    pub warmup: Option<u64>,
    /// The app's run form: the steps a decaying schedule spans (the run stops there).
    #[arg(skip = DEFAULT_SCHEDULE_STEPS)]
    pub schedule_steps: u64,
    /// Seed for initialisation, noise and data order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// auto: wgpu on a real GPU, the CPU otherwise; cpu: burn's flex backend; wgpu: force wgpu;
    /// remote:ws://HOST:PORT, remote:iroh:ID or remote:iroh:ID@HOST:PORT: a `latentlab serve`
    /// server (its token from LATENTLAB_TOKEN or --token-file).
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// The file holding a remote server's token (when LATENTLAB_TOKEN is not set). Only the
    /// path is remembered, never the token.
    #[arg(long)]
    pub token_file: Option<std::path::PathBuf>,
    /// Report a fixed-noise sample grid (saved as samples.png in the run) every K steps.
    #[arg(long, default_value_t = 100)]
    pub sample_every: u64,
    /// Rate the generator with the quality meter every N steps (0: never).
    #[arg(long, default_value_t = 0)]
    pub score_every: u64,
    /// Decay of the moving average of G's weights that sampling, exploring and scoring use
    /// (GANs; default 0.999; 0 keeps no average).
    #[arg(long, value_parser = ema_decay)]
    pub ema: Option<f64>,
    /// Latent (noise) size (default 100 for GANs, 62 for InfoGAN, 2 for the VAE).
    #[arg(long)]
    pub latent: Option<usize>,
    /// Base width of the networks: the first stage's channels (default: 64 for DCGAN, 256 for
    /// the MLPs, 32 for the VAE).
    #[arg(long)]
    pub width: Option<usize>,
    /// lapgan: levels of the Laplacian pyramid, 2 or 3 (default 3: 8, 16 and 32 px at 32).
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=3))]
    pub levels: Option<u64>,
    /// infogan: hidden units of Q's dense layer before the code outputs (default 128, the
    /// paper's; 0: the outputs sit on D's features).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=1024))]
    pub q_hidden: Option<u64>,
    /// infogan: the paper's dense layers of this many units with batch norm, in G before the
    /// first feature map and in D before the heads (default 128; the paper's is 1024; 0: none).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=4096))]
    pub dense: Option<u64>,
    /// infogan: weight of the continuous codes' term in the information loss (the digit
    /// code's is 1; default 1).
    #[arg(long, value_parser = super::sr_options::adv_weight)]
    pub info_cont_weight: Option<f64>,
    /// infogan: weight of the whole information loss in both networks' losses (the paper's
    /// lambda, 1 there; default 0.5).
    #[arg(long, value_parser = super::sr_options::adv_weight)]
    pub info_weight: Option<f64>,

    /// acgan: D also learns the class of generated images, as in Odena et al. (off by default:
    /// D's class head learns from real images alone).
    #[arg(long)]
    pub class_on_fakes: bool,
    /// stylegan: layers of the mapping network from z to w, 1 to 8 (default 2).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=8))]
    pub mapping_layers: Option<u64>,
    #[command(flatten)]
    pub boltzmann: super::boltzmann_options::BoltzmannOptions,
    #[command(flatten)]
    pub sr: super::sr_options::SrOptions,
}

impl Default for RunOptions {
    /// The same values as the flags' defaults (a test holds them together).
    fn default() -> Self {
        Self {
            model: ModelKind::Dcgan,
            loss: Loss::Nonsat,
            data: DataSource::Default,
            data_b: None,
            size: None,
            channels: None,
            strict: false,
            batch: 64,
            lr: None,
            lr_g: None,
            lr_d: None,
            lr_schedule: None,
            warmup: None,
            schedule_steps: DEFAULT_SCHEDULE_STEPS,
            seed: 0,
            device: DeviceChoice::Auto,
            token_file: None,
            sample_every: 100,
            score_every: 0,
            ema: None,
            latent: None,
            width: None,
            mapping_layers: None,
            q_hidden: None,
            dense: None,
            info_cont_weight: None,
            info_weight: None,

            class_on_fakes: false,
            levels: None,
            boltzmann: Default::default(),
            sr: Default::default(),
        }
    }
}

/// The steps a decaying schedule spans in the app unless the run form says otherwise.
pub const DEFAULT_SCHEDULE_STEPS: u64 = 5000;
/// The most steps the run form's schedule may span.
pub const MAX_SCHEDULE_STEPS: u64 = 10_000_000;

impl RunOptions {
    /// The schedule these options ask for, from step `start` to `end`.
    pub fn schedule(&self, start: u64, end: u64) -> LrSchedule {
        LrSchedule {
            shape: self.lr_schedule.unwrap_or_default(),
            warmup: self.warmup.unwrap_or(0),
            start,
            end,
        }
    }

    /// The schedule a resumed run should use instead of its saved one, if one was asked for.
    pub fn schedule_override(&self, start: u64, end: u64) -> Option<LrSchedule> {
        (self.lr_schedule.is_some() || self.warmup.is_some()).then(|| self.schedule(start, end))
    }

    /// The engine's configuration for a data set with `num_classes`.
    pub fn config(&self, num_classes: usize) -> TrainConfig {
        let mut c = TrainConfig::new(self.model, self.loss, num_classes);
        c.batch = self.batch;
        c.seed = self.seed;
        c.sample_every = self.sample_every;
        let (g, d) = self.learning_rates(c.lr_g, c.lr_d);
        c.lr_g = g;
        c.lr_d = d;
        c.schedule = self.schedule(0, self.schedule_steps);
        if let Some(e) = self.ema
            && self.model.is_gan()
        {
            c.ema = (e > 0.0).then_some(e);
        }
        if let Some(l) = self.latent {
            c.model.latent_dim = l;
        }
        if let Some(w) = self.width {
            c.model.width = w;
        }
        if let Some(m) = self.mapping_layers
            && self.model == ModelKind::Stylegan
        {
            c.model.mapping_layers = m as usize;
        }
        if let Some(q) = self.q_hidden
            && self.model == ModelKind::Infogan
        {
            c.model.q_hidden = q as usize;
        }
        if let Some(n) = self.dense
            && self.model == ModelKind::Infogan
        {
            c.model.dense = n as usize;
        }
        if self.class_on_fakes {
            c.class_on_fakes = true;
        }
        if let Some(w) = self.info_cont_weight
            && self.model == ModelKind::Infogan
        {
            c.info_cont_weight = w;
        }
        if let Some(w) = self.info_weight
            && self.model == ModelKind::Infogan
        {
            c.info_weight = w;
        }

        if let Some(l) = self.levels
            && self.model == ModelKind::Lapgan
        {
            c.model.levels = l as usize;
        }
        self.boltzmann.apply(&mut c, num_classes);
        self.sr.apply(&mut c);
        c.model.follow_shape();
        c
    }

    /// The data a run of these options loads: for a CycleGAN with a second set, the pair.
    pub fn data_for_run(&self) -> DataSource {
        match (&self.data_b, self.model) {
            (Some(b), ModelKind::Cyclegan) => {
                DataSource::Pair(Box::new(self.data.clone()), Box::new(b.clone()))
            }
            _ => self.data.clone(),
        }
    }

    /// `data` made as deep as `--channels` asks (by default, as it is).
    pub fn shaped(&self, data: crate::data::Dataset) -> crate::data::Dataset {
        let channels = self.channels.unwrap_or(data.channels);
        data.to_channels(channels)
    }

    /// [`RunOptions::config`] for `data`: its classes and its image shape.
    pub fn config_for(&self, data: &crate::data::Dataset) -> TrainConfig {
        let mut c = self.config(data.num_classes());
        c.model = c.model.with_shape(data.height, data.channels);
        // Fewer, larger tiles at large sides, so the grid stays readable at whole zooms.
        c.sample_count = match data.height {
            0..=32 => c.sample_count,
            33..=64 => c.sample_count.min(36),
            _ => c.sample_count.min(16),
        };
        c
    }

    /// G's and D's learning rates: the per-network option, else `lr`, else the given defaults.
    pub fn learning_rates(&self, default_g: f64, default_d: f64) -> (f64, f64) {
        (
            self.lr_g.or(self.lr).unwrap_or(default_g),
            self.lr_d.or(self.lr).unwrap_or(default_d),
        )
    }

    /// The learning rates a resumed run should use instead of its saved ones, if any was set.
    pub fn lr_override(&self, saved: &TrainConfig) -> Option<(f64, f64)> {
        (self.lr.is_some() || self.lr_g.is_some() || self.lr_d.is_some())
            .then(|| self.learning_rates(saved.lr_g, saved.lr_d))
    }

    /// Clamp values a hand-edited or older settings file could have put out of range; the
    /// flags' parsers already refuse them on the command line.
    pub fn sanitized(mut self) -> Self {
        self.batch = self.batch.clamp(1, MAX_BATCH);
        for lr in [&mut self.lr, &mut self.lr_g, &mut self.lr_d] {
            if lr.is_some_and(|v| learning_rate(&v.to_string()).is_err()) {
                *lr = None;
            }
        }
        if self.ema.is_some_and(|e| ema_decay(&e.to_string()).is_err()) {
            self.ema = None;
        }
        self.width = self
            .width
            .map(|w| w.clamp(1, crate::types::config::MAX_WIDTH));
        self.mapping_layers = self
            .mapping_layers
            .map(|m| m.clamp(1, crate::types::config::MAX_MAPPING as u64));
        self.latent = self
            .latent
            .map(|l| l.clamp(1, crate::types::config::MAX_LATENT));
        self.size = self.size.filter(|s| image_side(&s.to_string()).is_ok());
        self.channels = self
            .channels
            .filter(|c| channel_count(&c.to_string()).is_ok());
        self.levels = self.levels.map(|l| l.clamp(2, 3));
        self.q_hidden = self.q_hidden.map(|q| q.min(1024));
        self.dense = self.dense.map(|n| n.min(4096));
        self.info_cont_weight = self
            .info_cont_weight
            .filter(|w| super::sr_options::adv_weight(&w.to_string()).is_ok());
        self.info_weight = self
            .info_weight
            .filter(|w| super::sr_options::adv_weight(&w.to_string()).is_ok());
        self.schedule_steps = self.schedule_steps.clamp(1, MAX_SCHEDULE_STEPS);
        self.warmup = self.warmup.map(|w| w.min(self.schedule_steps - 1));
        self.sr = self.sr.sanitized();
        self
    }
}

/// An image side a model can be built for (see [`crate::types::config::ModelConfig::validate`]).
pub fn image_side(s: &str) -> Result<usize, String> {
    use crate::types::config::{MAX_SIDE, MIN_SIDE};
    match s.parse::<usize>() {
        Ok(n) if (MIN_SIDE..=MAX_SIDE).contains(&n) && n.is_multiple_of(4) => Ok(n),
        _ => Err(format!(
            "`{s}` is not an image side from {MIN_SIDE} to {MAX_SIDE} in steps of 4"
        )),
    }
}

/// 1 (grey) or 3 (colour).
pub fn channel_count(s: &str) -> Result<usize, String> {
    match s {
        "1" => Ok(1),
        "3" => Ok(3),
        _ => Err(format!(
            "`{s}` is not a channel count: 1 (grey) or 3 (colour)"
        )),
    }
}

/// A batch size from 1 to [`MAX_BATCH`].
pub fn batch_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(b) if (1..=MAX_BATCH).contains(&b) => Ok(b),
        _ => Err(format!("`{s}` is not a batch size from 1 to {MAX_BATCH}")),
    }
}

/// A positive learning rate that stays finite in f32 (the optimisers' precision).
pub fn learning_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(lr) if lr.is_finite() && lr > 0.0 && (lr as f32).is_finite() && lr as f32 > 0.0 => {
            Ok(lr)
        }
        _ => Err(format!("`{s}` is not a positive finite learning rate")),
    }
}

/// A moving-average decay in [0, 1) (0: no average).
pub fn ema_decay(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(e) if (0.0..1.0).contains(&e) => Ok(e),
        _ => Err(format!(
            "`{s}` is not a decay from 0 (no average) to below 1"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        run: RunOptions,
    }

    #[test]
    fn default_is_the_flags_defaults() {
        let parsed = Flags::try_parse_from(["latentlab"]).map(|f| f.run);
        assert_eq!(parsed.ok(), Some(RunOptions::default()));
    }

    #[test]
    fn per_network_rate_overrides_the_shared_one() {
        let f = Flags::try_parse_from(["x", "--lr", "1e-3", "--lr-d", "5e-4"]).map(|f| f.run);
        let Ok(run) = f else { panic!("flags refused") };
        let c = run.config(10);
        assert_eq!((c.lr_g, c.lr_d), (1e-3, 5e-4));
        let saved = TrainConfig::new(ModelKind::Dcgan, Loss::Nonsat, 10);
        assert_eq!(run.lr_override(&saved), Some((1e-3, 5e-4)));
        assert_eq!(RunOptions::default().lr_override(&saved), None);
        // Unset rates are the model's recipe.
        let vae = RunOptions {
            model: ModelKind::Vae,
            ..RunOptions::default()
        };
        assert_eq!(vae.config(10).lr_g, 1e-3);
    }

    #[test]
    fn bad_values_are_refused_or_clamped() {
        for bad in [
            ["x", "--lr", "0"],
            ["x", "--lr", "nan"],
            ["x", "--batch", "0"],
        ] {
            assert!(Flags::try_parse_from(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Flags::try_parse_from(["x", "--lr-g", "1e300"]).is_err());
        assert!(Flags::try_parse_from(["x", "--ema", "1"]).is_err());
        let off = Flags::try_parse_from(["x", "--ema", "0"]).map(|f| f.run.config(0).ema);
        assert_eq!(off.ok(), Some(None));
        let odd = RunOptions {
            batch: 0,
            lr: Some(f64::NAN),
            lr_g: Some(-1.0),
            lr_d: Some(3e-4),
            width: Some(1 << 20),
            ..RunOptions::default()
        }
        .sanitized();
        assert_eq!(
            (odd.batch, odd.lr, odd.lr_g, odd.lr_d),
            (1, None, None, Some(3e-4))
        );
        assert_eq!(odd.width, Some(crate::types::config::MAX_WIDTH));
    }
}

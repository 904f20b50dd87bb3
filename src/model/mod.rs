//! Network families and the serialisable config that builds them. No I/O, no threads.
//!
//! All generators map a latent batch `[batch, latent]` (plus an optional soft label
//! `[batch, classes]`) to images `[batch, channels, side, side]` in [-1, 1]; all discriminators map such
//! images (plus label) to logits `[batch, 1]`.

pub mod boltzmann;
pub mod classifier;
pub mod cpu_kernels;
pub mod cyclegan;
pub(crate) mod dcgan;
pub mod ema;
pub mod inference;
pub mod lapgan;
mod mlp;
pub mod style;
pub mod super_res;
pub mod vae;

use burn::prelude::*;

pub use boltzmann::BoltzmannNet;
pub use cyclegan::{CycleDiscriminators, CycleGenerators};
pub use dcgan::{DcganDiscriminator, DcganGenerator};
pub use inference::{ReadbackError, generate_with, readback, translate_with, upscale_with};
pub use lapgan::{LapDiscriminator, LapGenerator};
pub use mlp::{MlpDiscriminator, MlpGenerator};
pub use style::{StyleDiscriminator, StyleGenerator};
pub use super_res::{SrDiscriminator, SrGenerator};
pub use vae::{VaeDecoder, VaeEncoder, VaeNet};

pub use crate::types::config::{
    DIGIT_SIDE, MAX_CLASSES, MAX_FIRST_LAYER_MILLIONS, MAX_LATENT, MAX_WIDTH, ModelConfig,
    ModelError, ModelKind,
};

/// Building the networks a config describes.
impl ModelConfig {
    pub fn init_generator(&self, device: &Device) -> Generator {
        match self.kind {
            ModelKind::Mlp | ModelKind::Cmlp => Generator::Mlp(MlpGenerator::new(self, device)),
            ModelKind::Dcgan | ModelKind::Cdcgan | ModelKind::Acgan | ModelKind::Infogan => {
                Generator::Dcgan(DcganGenerator::new(self, device))
            }
            ModelKind::Vae => Generator::Vae(VaeDecoder::new(self, device)),
            ModelKind::Rbm | ModelKind::Dbn | ModelKind::Dbm => Generator::Boltzmann(
                BoltzmannNet::new(self, crate::types::config::DEFAULT_SAMPLE_GIBBS, device),
            ),
            ModelKind::Stylegan => Generator::Style(StyleGenerator::new(self, device)),
            ModelKind::Srgan => Generator::Sr(SrGenerator::new(self, device)),
            ModelKind::Lapgan => Generator::Lap(LapGenerator::new(self, device)),
            ModelKind::Cyclegan => Generator::Cycle(CycleGenerators::new(self, device)),
        }
    }

    /// The discriminator of a GAN; `None` for the VAE.
    pub fn init_discriminator(&self, device: &Device) -> Option<Discriminator> {
        match self.kind {
            ModelKind::Mlp | ModelKind::Cmlp => {
                Some(Discriminator::Mlp(MlpDiscriminator::new(self, device)))
            }
            ModelKind::Dcgan | ModelKind::Cdcgan | ModelKind::Acgan | ModelKind::Infogan => {
                Some(Discriminator::Dcgan(DcganDiscriminator::new(self, device)))
            }
            ModelKind::Stylegan => {
                Some(Discriminator::Style(StyleDiscriminator::new(self, device)))
            }
            ModelKind::Srgan => Some(Discriminator::Sr(SrDiscriminator::new(self, device))),
            ModelKind::Lapgan => Some(Discriminator::Lap(LapDiscriminator::new(self, device))),
            ModelKind::Cyclegan => {
                Some(Discriminator::Cycle(CycleDiscriminators::new(self, device)))
            }
            ModelKind::Vae | ModelKind::Rbm | ModelKind::Dbn | ModelKind::Dbm => None,
        }
    }
}

/// A generator of any family (the VAE's decoder counts as one, and so does a Boltzmann machine,
/// whose "latent" is the noise its Gibbs chains start from).
// Few, long-lived values: boxing the variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Generator {
    Mlp(MlpGenerator),
    Dcgan(DcganGenerator),
    Vae(VaeDecoder),
    Boltzmann(BoltzmannNet),
    Style(StyleGenerator),
    /// A super-resolution net: its "latent" is the low-resolution image, flattened.
    Sr(SrGenerator),
    /// A Laplacian pyramid: its latent is the coarse noise, then one noise plane per level.
    Lap(LapGenerator),
    /// CycleGAN's two generators: its "latent" is an A image, flattened.
    Cycle(CycleGenerators),
}

impl Generator {
    /// `z`: [batch, latent]; `label`: [batch, classes] soft labels for conditional models.
    /// Returns images [batch, 1, 28, 28] in [-1, 1].
    pub fn forward(&self, z: Tensor<2>, label: Option<Tensor<2>>) -> Tensor<4> {
        match self {
            Generator::Mlp(g) => g.forward(z, label),
            Generator::Dcgan(g) => g.forward(z, label),
            Generator::Vae(g) => {
                burn::tensor::activation::tanh(g.forward_logits(z).div_scalar(2.0))
            }
            Generator::Boltzmann(m) => m.sample(z, label),
            Generator::Style(g) => g.forward(z, label),
            Generator::Sr(g) => g.forward(z),
            Generator::Lap(g) => g.forward(z),
            Generator::Cycle(g) => g.forward(z),
        }
    }

    /// CycleGAN's generators, for a model that translates between two sets.
    pub fn translator(&self) -> Option<&CycleGenerators> {
        match self {
            Generator::Cycle(g) => Some(g),
            _ => None,
        }
    }

    /// The super-resolution net, for a model that turns images into larger ones.
    pub fn upscaler(&self) -> Option<&SrGenerator> {
        match self {
            Generator::Sr(g) => Some(g),
            _ => None,
        }
    }

    /// After a G update: a style generator's running mean of w follows this batch's w (for
    /// truncation); other families are returned as they are.
    pub fn track(self, z: Tensor<2>, label: Option<Tensor<2>>) -> Self {
        match self {
            Generator::Style(g) => Generator::Style(g.track_w_avg(z, label)),
            other => other,
        }
    }

    /// G's first hidden activations [batch, features]: after the first linear layer and its
    /// normalisation, before the nonlinearity (where GANSpace takes its PCA).
    pub fn first_hidden(&self, z: Tensor<2>, label: Option<Tensor<2>>) -> Tensor<2> {
        match self {
            Generator::Mlp(g) => g.first_hidden(z, label),
            Generator::Dcgan(g) => g.first_hidden(z, label),
            Generator::Vae(g) => g.first_hidden(z),
            Generator::Boltzmann(m) => m.first_hidden(z),
            // w: GANSpace's directions for a style generator are taken in W.
            Generator::Style(g) => g.to_w(z, label),
            Generator::Sr(g) => g.first_hidden(z),
            // The coarse level's: the noise planes only add detail.
            Generator::Lap(g) => g.coarse.first_hidden(g.split(z).0),
            Generator::Cycle(g) => g.forward(z).flatten(1, 3),
        }
    }
}

/// A GAN discriminator (critic) of any family.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Discriminator {
    Mlp(MlpDiscriminator),
    Dcgan(DcganDiscriminator),
    Style(StyleDiscriminator),
    Sr(SrDiscriminator),
    Lap(LapDiscriminator),
    Cycle(CycleDiscriminators),
}

impl Discriminator {
    /// `x`: [batch, 1, 28, 28]; `label`: [batch, classes], used only by a D that takes it.
    /// Returns the real/fake logits [batch, 1].
    pub fn forward(&self, x: Tensor<4>, label: Option<Tensor<2>>) -> Tensor<2> {
        self.forward_heads(x, label).0
    }

    /// The real/fake logits [batch, 1] and, for a D with a second head, its output
    /// [batch, cond_dim]: ACGAN's class logits, InfoGAN's code predictions.
    pub fn forward_heads(
        &self,
        x: Tensor<4>,
        label: Option<Tensor<2>>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        match self {
            Discriminator::Mlp(d) => (d.forward(x, label), None),
            Discriminator::Dcgan(d) => d.forward_heads(x, label),
            Discriminator::Style(d) => (d.forward(x, label), None),
            Discriminator::Sr(d) => (d.forward(x), None),
            Discriminator::Lap(d) => (d.forward(x), None),
            Discriminator::Cycle(d) => (d.forward(x), None),
        }
    }
}

/// Held while anything draws from burn's process-wide random generator, so that a draw made
/// during training (R1's directions, style mixing, per-pixel noise) never lands between another
/// thread's seeding and its parameters' draws (which changed a seeded model's first weights).
static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `Tensor::random` from burn's process-wide generator, taken in turn with [`seeded_init`]
/// (never call it from inside an `init` given to that).
pub fn random_tensor<const D: usize>(
    shape: [usize; D],
    distribution: burn::tensor::Distribution,
    device: &Device,
) -> Tensor<D> {
    let _guard = GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Tensor::random(shape, distribution, device)
}

/// Run `init` with burn's random generator seeded to `seed`, and draw every parameter before
/// returning. burn initialises parameters lazily from one process-wide generator, so without
/// this two runs with the same seed (or another thread's work) could interleave their draws.
pub fn seeded_init<T: Module>(device: &Device, seed: u64, init: impl FnOnce() -> T) -> T {
    let _guard = GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    let module = init();
    module.visit(&mut DrawAll);
    module
}

struct DrawAll;

impl burn::module::ModuleVisitor for DrawAll {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// LeakyReLU. Under autodiff it is computed as `s * x + (1 - s) * relu(x)`, the same function
/// (and the same gradient away from 0): burn 0.22's autodiff has no leaky-ReLU op and
/// differentiates its mask-based default about 10 times slower on the CPU than this form.
pub(crate) fn leaky_relu<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    if x.device().is_autodiff() {
        x.clone().mul_scalar(slope) + burn::tensor::activation::relu(x).mul_scalar(1.0 - slope)
    } else {
        burn::tensor::activation::leaky_relu(x, slope)
    }
}

/// Concatenate a soft label to a feature batch when the model is conditional.
pub(crate) fn with_label(x: Tensor<2>, label: Option<Tensor<2>>) -> Tensor<2> {
    match label {
        Some(c) => Tensor::cat(vec![x, c], 1),
        None => x,
    }
}

/// DCGAN paper initialisation: weights N(0, 0.02).
pub(crate) fn dcgan_init() -> burn::nn::Initializer {
    burn::nn::Initializer::Normal {
        mean: 0.0,
        std: 0.02,
    }
}

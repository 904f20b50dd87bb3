//! Network families and the serialisable config that builds them. No I/O, no threads.
//!
//! All generators map a latent batch `[batch, latent]` (plus an optional soft label
//! `[batch, classes]`) to images `[batch, 1, 28, 28]` in [-1, 1]; all discriminators map such
//! images (plus label) to logits `[batch, 1]`.

pub mod classifier;
mod dcgan;
pub mod fast;
mod mlp;
pub mod vae;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use dcgan::{DcganDiscriminator, DcganGenerator};
pub use mlp::{MlpDiscriminator, MlpGenerator};
pub use vae::{VaeDecoder, VaeEncoder, VaeNet};

/// The image side length every model here is built for.
pub const IMAGE_SIZE: usize = 28;
/// Bounds a config from a file or a flag must respect (beyond them a model would not fit in
/// memory, or a label would not fit in a byte).
pub const MAX_LATENT: usize = 4096;
pub const MAX_WIDTH: usize = 1024;
pub const MAX_CLASSES: usize = 256;
/// The largest first layer (latent plus label to the first hidden features) in millions of
/// weights: DCGAN-28 maps to `2 * width * 7 * 7` features, 200 million is 800 MB of f32.
pub const MAX_FIRST_LAYER_MILLIONS: usize = 200;

/// Which network family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Fully connected GAN (z 100 -> 256 -> 512 -> 1024 -> 784).
    Mlp,
    /// DCGAN-28: transposed-convolution generator, strided-convolution discriminator.
    Dcgan,
    /// Conditional MLP GAN: the class label enters G and D.
    Cmlp,
    /// Conditional DCGAN-28.
    Cdcgan,
    /// Convolutional variational auto-encoder (latent 2 by default).
    Vae,
}

impl ModelKind {
    pub fn is_conditional(self) -> bool {
        matches!(self, ModelKind::Cmlp | ModelKind::Cdcgan)
    }

    pub fn is_gan(self) -> bool {
        self != ModelKind::Vae
    }

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Dcgan => "dcgan",
            ModelKind::Cmlp => "cmlp",
            ModelKind::Cdcgan => "cdcgan",
            ModelKind::Vae => "vae",
        }
    }

    /// Default channel/hidden width: 64 gives exactly DCGAN-28, 256 the MLP of DESIGN section 4.
    pub fn default_width(self) -> usize {
        match self {
            ModelKind::Mlp | ModelKind::Cmlp => 256,
            ModelKind::Dcgan | ModelKind::Cdcgan => 64,
            ModelKind::Vae => 32,
        }
    }

    pub fn default_latent(self) -> usize {
        match self {
            ModelKind::Vae => 2,
            _ => 100,
        }
    }
}

/// Everything needed to rebuild a model's architecture; stored in the checkpoint manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub kind: ModelKind,
    pub latent_dim: usize,
    /// Number of classes the conditional models accept (0 for unconditional models).
    pub num_classes: usize,
    /// Base width: DCGAN channels (64 = DCGAN-28), MLP first hidden size (256), VAE channels (32).
    pub width: usize,
    pub image_size: usize,
    pub channels: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error("latent size must be between 1 and {MAX_LATENT} (got {0})")]
    Latent(usize),
    #[error("width must be between 1 and {MAX_WIDTH} (got {0})")]
    Width(usize),
    #[error("a model takes at most {MAX_CLASSES} classes (got {0})")]
    TooManyClasses(usize),
    #[error(
        "latent size {latent} with width {width} makes a first layer of about {params} million \
         weights, more than {MAX_FIRST_LAYER_MILLIONS} million"
    )]
    TooLarge {
        latent: usize,
        width: usize,
        params: usize,
    },
    #[error("model {kind} is conditional and needs at least 2 classes; the data set has {classes}")]
    Classes { kind: &'static str, classes: usize },
    #[error(
        "models are built for {IMAGE_SIZE}x{IMAGE_SIZE}x1 images, got {size}x{size}x{channels}"
    )]
    ImageShape { size: usize, channels: usize },
}

impl ModelConfig {
    /// The defaults of DESIGN section 4 for `kind`, conditioned on `num_classes` when it is a
    /// conditional model.
    pub fn new(kind: ModelKind, num_classes: usize) -> Self {
        Self {
            kind,
            latent_dim: kind.default_latent(),
            num_classes: if kind.is_conditional() {
                num_classes
            } else {
                0
            },
            width: kind.default_width(),
            image_size: IMAGE_SIZE,
            channels: 1,
        }
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        if !(1..=MAX_LATENT).contains(&self.latent_dim) {
            return Err(ModelError::Latent(self.latent_dim));
        }
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return Err(ModelError::Width(self.width));
        }
        if self.num_classes > MAX_CLASSES {
            return Err(ModelError::TooManyClasses(self.num_classes));
        }
        // The widest first layer of any family: DCGAN-28's linear to 2 * width * 7 * 7.
        let first = (self.latent_dim + self.num_classes) * self.width * 98;
        if first > MAX_FIRST_LAYER_MILLIONS * 1_000_000 {
            return Err(ModelError::TooLarge {
                latent: self.latent_dim,
                width: self.width,
                params: first / 1_000_000,
            });
        }
        if self.kind.is_conditional() && self.num_classes < 2 {
            return Err(ModelError::Classes {
                kind: self.kind.name(),
                classes: self.num_classes,
            });
        }
        if self.image_size != IMAGE_SIZE || self.channels != 1 {
            return Err(ModelError::ImageShape {
                size: self.image_size,
                channels: self.channels,
            });
        }
        Ok(())
    }

    pub fn init_generator(&self, device: &Device) -> Generator {
        match self.kind {
            ModelKind::Mlp | ModelKind::Cmlp => Generator::Mlp(MlpGenerator::new(self, device)),
            ModelKind::Dcgan | ModelKind::Cdcgan => {
                Generator::Dcgan(DcganGenerator::new(self, device))
            }
            ModelKind::Vae => Generator::Vae(VaeDecoder::new(self, device)),
        }
    }

    /// The discriminator of a GAN; `None` for the VAE.
    pub fn init_discriminator(&self, device: &Device) -> Option<Discriminator> {
        match self.kind {
            ModelKind::Mlp | ModelKind::Cmlp => {
                Some(Discriminator::Mlp(MlpDiscriminator::new(self, device)))
            }
            ModelKind::Dcgan | ModelKind::Cdcgan => {
                Some(Discriminator::Dcgan(DcganDiscriminator::new(self, device)))
            }
            ModelKind::Vae => None,
        }
    }
}

/// A generator of any family (the VAE's decoder counts as one).
// Few, long-lived values: boxing the variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Generator {
    Mlp(MlpGenerator),
    Dcgan(DcganGenerator),
    Vae(VaeDecoder),
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
        }
    }
}

/// A GAN discriminator (critic) of any family.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Discriminator {
    Mlp(MlpDiscriminator),
    Dcgan(DcganDiscriminator),
}

impl Discriminator {
    /// `x`: [batch, 1, 28, 28]; returns logits [batch, 1].
    pub fn forward(&self, x: Tensor<4>, label: Option<Tensor<2>>) -> Tensor<2> {
        match self {
            Discriminator::Mlp(d) => d.forward(x, label),
            Discriminator::Dcgan(d) => d.forward(x, label),
        }
    }
}

/// Run `init` with burn's random generator seeded to `seed`, and draw every parameter before
/// returning. burn initialises parameters lazily from one process-wide generator, so without
/// this two runs with the same seed (or another thread's work) could interleave their draws.
pub fn seeded_init<T: Module>(device: &Device, seed: u64, init: impl FnOnce() -> T) -> T {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
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

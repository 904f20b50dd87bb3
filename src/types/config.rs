//! Configurations every layer shares: the model family and its architecture (stored in
//! checkpoint manifests), with their bounds. The adversarial loss and a run's hyper-parameters
//! are in `train_config.rs`, re-exported here.

use serde::{Deserialize, Serialize};

pub use super::cd_config::{
    CdConfig, DEFAULT_SAMPLE_GIBBS, MAX_CD_K, MAX_CHAINS, MAX_SAMPLE_GIBBS,
};
pub use super::cycle_config::{CycleError, CycleTrain, DEFAULT_CYCLE_BLOCKS};
pub use super::pyramid_config::{COARSE_LATENT, DEFAULT_LEVELS, PyramidError};
pub use super::sr_config::{ContentLoss, DEFAULT_SR_BLOCKS, SrError, SrTrain};
pub use super::train_config::{DEFAULT_EMA, Loss, STYLE_EMA, TrainConfig};

/// The image side of the built-in digit sets, of runs made before shapes were data, and of
/// every Boltzmann machine.
pub const DIGIT_SIDE: usize = 28;
/// The sides a network can be built for: 16 to 128 pixels, in steps of 4 (a DCGAN-style net
/// halves the side at least twice).
pub const MIN_SIDE: usize = 16;
pub const MAX_SIDE: usize = 128;
/// A Laplacian pyramid's coarsest side (7 px: 28 in 3 levels).
pub const MIN_LAP_SIDE: usize = 7;
/// Bounds a config from a file or a flag must respect (beyond them a model would not fit in
/// memory, or a label would not fit in a byte).
pub const MAX_LATENT: usize = 4096;
pub const MAX_WIDTH: usize = 1024;
pub const MAX_CLASSES: usize = 256;
/// InfoGAN's most continuous codes.
pub const MAX_CODES: usize = 16;
/// InfoGAN's defaults (Chen et al. 2016, MNIST): one 10-way categorical and 2 continuous codes.
pub const INFOGAN_CATEGORIES: usize = 10;
pub const INFOGAN_CODES: usize = 2;
/// InfoGAN's Q head's hidden units by default: the paper's FC-128 with batch norm. Alone
/// (without the dense layers below) it did not help: 43.5% mean purity (7 distinct digits)
/// against 57.9% (8) without, seed 0, with the continuous weight at 0.1.
pub const Q_HIDDEN: usize = 128;
/// InfoGAN's dense layers by default (G before its first feature map, D before its heads):
/// 128 units with batch norm, a smaller form of the paper's 1,024 that fits the shipped
/// run's 8 MB for G. With Q's hidden layer and the information weight at 0.5, four seeds gave
/// 100.0%, 99.5%, 93.8% and 99.7% mean purity, 10, 10, 9 and 10 distinct digits (without
/// them, the defaults before: 57.9%, 55.5%, 50.6%, 38.6%; see `checkpoints/README.md`).
pub const INFOGAN_DENSE: usize = 128;
/// Boltzmann machines: the most units in one hidden layer, and the most hidden layers.
pub const MAX_UNITS: usize = 8192;
pub const MAX_LAYERS: usize = 4;
/// A style generator's mapping network: at most 8 layers (StyleGAN's FFHQ depth); 2 by
/// default (see `model::style`).
pub const MAX_MAPPING: usize = 8;
pub const DEFAULT_MAPPING_LAYERS: usize = 2;
/// The visible units of a Boltzmann machine: one binary unit per pixel.
pub const VISIBLE_UNITS: usize = DIGIT_SIDE * DIGIT_SIDE;
/// The largest first layer (latent plus label to the first hidden features) in millions of
/// weights: DCGAN-28 maps to `2 * width * 7 * 7` features, 200 million is 800 MB of f32. The
/// MLP GAN's last layer (4 * width to every pixel) is held to the same bound.
pub const MAX_FIRST_LAYER_MILLIONS: usize = 200;

/// Which network family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Fully connected GAN (z 100 -> 256 -> 512 -> 1024 -> one output per pixel value).
    Mlp,
    /// DCGAN: transposed-convolution generator, strided-convolution discriminator, with stages
    /// from the image side (DCGAN-28 at 28 px, pytorch/examples' DCGAN-64 at 64).
    Dcgan,
    /// Conditional MLP GAN: the class label enters G and D.
    Cmlp,
    /// Conditional DCGAN.
    Cdcgan,
    /// Convolutional variational auto-encoder (latent 2 by default).
    Vae,
    /// Auxiliary-classifier GAN (Odena et al. 2017): a DCGAN whose G takes the label and whose
    /// D also predicts it.
    Acgan,
    /// InfoGAN (Chen et al. 2016): a DCGAN trained without labels, whose G also takes a
    /// categorical and continuous codes that a Q head on D's features learns to recover.
    Infogan,
    /// Restricted Boltzmann machine (28x28 grey only): 784 binary visible units, one layer of binary hidden
    /// units (500 by default), trained by contrastive divergence.
    Rbm,
    /// Deep belief network: a stack of RBMs trained greedily, one layer at a time; the top one
    /// may also take the label (`--labels`).
    Dbn,
    /// Deep Boltzmann machine: undirected layers, pre-trained greedily, then trained jointly
    /// (mean-field for the data, persistent Gibbs chains for the model).
    Dbm,
    /// Style-based generator (StyleGAN2's ideas, small): a mapping network from z to w, a style
    /// per resolution modulating its convolutions, per-pixel noise; `--labels` conditions it
    Stylegan,
    /// Super-resolution GAN (Ledig et al. 2017): a residual generator with sub-pixel upsampling
    /// turns a picture 2 or 4 times smaller (`--scale`) into the full-size one, trained on a
    /// content loss plus 10^-3 times an adversarial loss.
    Srgan,
    /// Laplacian pyramid GAN (Denton et al. 2015): a coarse GAN, then per finer level a
    /// conditional GAN that adds the band-pass detail to the up-sampled image (`--levels`).
    Lapgan,
    /// CycleGAN (Zhu et al. 2017): two generators translate between two unpaired sets (`--data`
    /// and `--data-b`), trained with cycle consistency, an identity term and LSGAN.
    Cyclegan,
}

impl ModelKind {
    /// An energy-based model of binary units sampled by Gibbs chains (no autodiff).
    pub fn is_boltzmann(self) -> bool {
        matches!(self, ModelKind::Rbm | ModelKind::Dbn | ModelKind::Dbm)
    }

    /// The hidden layers a Boltzmann machine gets unless told otherwise.
    pub fn default_layers(self) -> Vec<usize> {
        match self {
            ModelKind::Rbm => vec![500],
            ModelKind::Dbn => vec![500, 500, 2000],
            ModelKind::Dbm => vec![500, 1000],
            _ => Vec::new(),
        }
    }

    /// G takes a class label (and the data set must have classes).
    pub fn is_conditional(self) -> bool {
        matches!(self, ModelKind::Cmlp | ModelKind::Cdcgan | ModelKind::Acgan)
    }

    /// D takes the label as an input (the cGANs); ACGAN's D predicts it instead.
    pub fn label_into_d(self) -> bool {
        matches!(self, ModelKind::Cmlp | ModelKind::Cdcgan)
    }

    /// D has a second head besides its real/fake logit: ACGAN's class logits, InfoGAN's Q.
    pub fn has_aux_head(self) -> bool {
        matches!(self, ModelKind::Acgan | ModelKind::Infogan)
    }

    /// G takes InfoGAN's latent codes (drawn by the trainer, not taken from the data).
    pub fn has_codes(self) -> bool {
        self == ModelKind::Infogan
    }

    /// The generator turns an image into another (no latent space to sample or explore).
    pub fn is_image_to_image(self) -> bool {
        matches!(self, ModelKind::Srgan | ModelKind::Cyclegan)
    }

    pub fn is_gan(self) -> bool {
        self != ModelKind::Vae && !self.is_boltzmann()
    }

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Dcgan => "dcgan",
            ModelKind::Cmlp => "cmlp",
            ModelKind::Cdcgan => "cdcgan",
            ModelKind::Vae => "vae",
            ModelKind::Acgan => "acgan",
            ModelKind::Infogan => "infogan",
            ModelKind::Rbm => "rbm",
            ModelKind::Dbn => "dbn",
            ModelKind::Dbm => "dbm",
            ModelKind::Stylegan => "stylegan",
            ModelKind::Srgan => "srgan",
            ModelKind::Lapgan => "lapgan",
            ModelKind::Cyclegan => "cyclegan",
        }
    }

    /// Default channel/hidden width: 64 gives exactly DCGAN-28, 256 the MLP of DESIGN section 4.
    pub fn default_width(self) -> usize {
        match self {
            ModelKind::Mlp | ModelKind::Cmlp => 256,
            ModelKind::Dcgan | ModelKind::Cdcgan | ModelKind::Acgan | ModelKind::Infogan => 64,
            ModelKind::Vae => 32,
            ModelKind::Rbm | ModelKind::Dbn | ModelKind::Dbm => 500,
            // 64, 64, 32 and 16 channels at 32 px: 3x the examples/s of width 32 on a CPU (270
            // against 87 on 2 cores), and what the shipped style runs use.
            ModelKind::Stylegan => 16,
            // The paper's 64 is 4x the work on a CPU; see `DEFAULT_SR_BLOCKS`.
            ModelKind::Srgan => 32,
            // The finer levels' channels (the coarse level is the MLP GAN's 256).
            ModelKind::Lapgan => 32,
            // 16, 32 and 64 channels down to a quarter of the side (the paper's 64-256 at 128 px).
            ModelKind::Cyclegan => 16,
        }
    }

    /// Noise size: 100 for the GANs, 62 for InfoGAN (Chen et al.'s MNIST setting: less noise
    /// leaves the codes more of the image to explain), 2 for the VAE.
    /// A Boltzmann machine's "latent" is the noise its chains start from, one value per pixel.
    pub fn default_latent(self) -> usize {
        match self {
            ModelKind::Vae => 2,
            ModelKind::Rbm | ModelKind::Dbn | ModelKind::Dbm => VISIBLE_UNITS,
            ModelKind::Infogan => 62,
            // The low-resolution image at the default shape (14x14 grey); follows the shape.
            ModelKind::Srgan => (DIGIT_SIDE / 2) * (DIGIT_SIDE / 2),
            // The coarse noise, then a 14x14 and a 28x28 noise plane; follows the shape.
            ModelKind::Lapgan => COARSE_LATENT + 14 * 14 + DIGIT_SIDE * DIGIT_SIDE,
            // An A image (28x28 grey); follows the shape.
            ModelKind::Cyclegan => VISIBLE_UNITS,
            _ => 100,
        }
    }
}

/// Everything needed to rebuild a model's architecture; stored in the checkpoint manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub kind: ModelKind,
    pub latent_dim: usize,
    /// Number of classes the conditional models accept, or the values of InfoGAN's categorical
    /// code (0 for unconditional models).
    pub num_classes: usize,
    /// InfoGAN's continuous codes, each uniform in [-1, 1] in training (0 for other models).
    #[serde(default)]
    pub codes: usize,
    /// Base width: DCGAN channels (64 = DCGAN-28), MLP first hidden size (256), VAE channels (32).
    pub width: usize,
    /// Image side in pixels (square images); runs from before shapes were data have 28.
    #[serde(default = "digit_side")]
    pub image_size: usize,
    /// 1 (grey) or 3 (RGB).
    #[serde(default = "one_channel")]
    pub channels: usize,
    /// A Boltzmann machine's hidden layer sizes, bottom to top (empty for other models).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<usize>,
    /// A style generator's mapping layers (0 for other models).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mapping_layers: usize,
    /// A super-resolution net's upscaling factor, 2 or 4 (0 for other models).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub scale: usize,
    /// A super-resolution net's residual blocks (0 for other models).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub blocks: usize,
    /// A Laplacian pyramid's levels, 2 or 3 (0 for other models).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub levels: usize,
    /// InfoGAN's Q head: a hidden dense layer of this many units with batch norm before the
    /// code outputs (the paper's FC-128, the default for new runs); 0 puts the outputs on D's
    /// features (runs saved before it was the default).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub q_hidden: usize,
    /// InfoGAN: the paper's dense layers, this many units with batch norm: in G between the
    /// noise and the first feature map, in D between the convolutions and the heads (which
    /// then share it). New runs: 128; 0 (runs saved before): none, the DCGAN-28 body.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dense: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
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
        "InfoGAN takes a categorical code of 2 to {MAX_CLASSES} values and at most {MAX_CODES} \
         continuous codes (got {categories} and {codes})"
    )]
    Codes { categories: usize, codes: usize },
    #[error("only InfoGAN takes latent codes (got {codes} for {kind})")]
    UnexpectedCodes { kind: &'static str, codes: usize },
    #[error(
        "{kind} takes 1 to {MAX_LAYERS} hidden layers of 1 to {MAX_UNITS} units each{extra} (got {layers:?})"
    )]
    Layers {
        kind: &'static str,
        layers: Vec<usize>,
        extra: &'static str,
    },
    #[error(
        "a Boltzmann machine's chains start from one noise value per pixel ({VISIBLE_UNITS}), got a latent size of {0}"
    )]
    BoltzmannLatent(usize),
    #[error("only rbm, dbn and dbm take hidden layer sizes (got {layers:?} for {kind})")]
    LayersNotBoltzmann {
        kind: &'static str,
        layers: Vec<usize>,
    },
    #[error("a style generator's mapping network has 1 to {MAX_MAPPING} layers (got {0})")]
    Mapping(usize),
    #[error("only stylegan has a mapping network (got {layers} mapping layers for {kind})")]
    MappingNotStyle { kind: &'static str, layers: usize },
    #[error("label units belong to a DBN's top layer; {kind} takes none (got {classes})")]
    UnexpectedLabels { kind: &'static str, classes: usize },
    #[error(
        "images must be square with a side of {MIN_SIDE} to {MAX_SIDE} pixels in steps of 4, \
         and 1 (grey) or 3 (colour) channels; got {size}x{size}x{channels}"
    )]
    ImageShape { size: usize, channels: usize },
    #[error(
        "{kind} models binary pixels of {DIGIT_SIDE}x{DIGIT_SIDE} grey images; got \
         {size}x{size}x{channels} (train it with --size {DIGIT_SIDE} --channels 1, or pick a GAN \
         or the VAE for colour and other sizes)"
    )]
    BoltzmannShape {
        kind: &'static str,
        size: usize,
        channels: usize,
    },
    #[error(transparent)]
    Sr(#[from] SrError),
    #[error(transparent)]
    Pyramid(#[from] PyramidError),
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
            } else if kind.has_codes() {
                INFOGAN_CATEGORIES
            } else {
                0
            },
            codes: if kind.has_codes() { INFOGAN_CODES } else { 0 },
            width: kind.default_width(),
            image_size: DIGIT_SIDE,
            channels: 1,
            layers: kind.default_layers(),
            mapping_layers: if kind == ModelKind::Stylegan {
                DEFAULT_MAPPING_LAYERS
            } else {
                0
            },
            scale: if kind == ModelKind::Srgan { 2 } else { 0 },
            blocks: match kind {
                ModelKind::Srgan => DEFAULT_SR_BLOCKS,
                ModelKind::Cyclegan => DEFAULT_CYCLE_BLOCKS,
                _ => 0,
            },
            levels: if kind == ModelKind::Lapgan {
                DEFAULT_LEVELS
            } else {
                0
            },
            q_hidden: if kind.has_codes() { Q_HIDDEN } else { 0 },
            dense: if kind == ModelKind::Infogan {
                INFOGAN_DENSE
            } else {
                0
            },
        }
    }

    /// The same model for `size` x `size` x `channels` images.
    pub fn with_shape(mut self, size: usize, channels: usize) -> Self {
        self.image_size = size;
        self.channels = channels;
        self.follow_shape();
        self
    }

    /// Values per image: `channels * side * side`.
    pub fn image_len(&self) -> usize {
        self.channels * self.image_size * self.image_size
    }

    /// A DCGAN-style net's stages for this side: the smallest feature map's side `base` (4 to 7
    /// for the usual sides) and the number of stride-2 stages between it and the image. 28 gives
    /// (7, 2) (DCGAN-28), 32 gives (4, 3) and 64 gives (4, 4) (pytorch/examples' DCGAN-64).
    pub fn conv_stages(&self) -> (usize, usize) {
        let (mut base, mut stages) = (self.image_size, 0);
        while base % 2 == 0 && base / 2 >= 4 {
            base /= 2;
            stages += 1;
        }
        (base, stages)
    }

    /// Channels of the smallest feature map: `width` doubled at each stage after the first
    /// (128 for DCGAN-28, 512 for DCGAN-64).
    pub fn top_channels(&self) -> usize {
        let (_, stages) = self.conv_stages();
        self.width << stages.saturating_sub(1).min(16)
    }

    /// G takes a class label: the conditional GANs, and a DBN whose top layer has label units.
    pub fn is_conditional(&self) -> bool {
        self.kind.is_conditional()
            || (matches!(self.kind, ModelKind::Dbn | ModelKind::Stylegan) && self.num_classes > 0)
    }

    fn validate_boltzmann(&self) -> Result<(), ModelError> {
        let (min, extra) = match self.kind {
            ModelKind::Rbm => (1, " (an RBM has exactly one)"),
            ModelKind::Dbm => (2, " (a DBM has at least two)"),
            _ => (1, ""),
        };
        let max = if self.kind == ModelKind::Rbm {
            1
        } else {
            MAX_LAYERS
        };
        let sizes_ok = self.layers.iter().all(|u| (1..=MAX_UNITS).contains(u));
        if !(min..=max).contains(&self.layers.len()) || !sizes_ok {
            return Err(ModelError::Layers {
                kind: self.kind.name(),
                layers: self.layers.clone(),
                extra,
            });
        }
        if self.latent_dim != VISIBLE_UNITS {
            return Err(ModelError::BoltzmannLatent(self.latent_dim));
        }
        if self.codes != 0 {
            return Err(ModelError::UnexpectedCodes {
                kind: self.kind.name(),
                codes: self.codes,
            });
        }
        if self.num_classes > MAX_CLASSES {
            return Err(ModelError::TooManyClasses(self.num_classes));
        }
        if self.num_classes != 0 && self.kind != ModelKind::Dbn {
            return Err(ModelError::UnexpectedLabels {
                kind: self.kind.name(),
                classes: self.num_classes,
            });
        }
        Ok(())
    }

    /// The size of G's input besides the noise: the soft label of a conditional model, or
    /// InfoGAN's codes (categorical one-hot, then the continuous values).
    pub fn cond_dim(&self) -> usize {
        self.num_classes + self.codes
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        let side_ok =
            (MIN_SIDE..=MAX_SIDE).contains(&self.image_size) && self.image_size.is_multiple_of(4);
        if !side_ok || !matches!(self.channels, 1 | 3) {
            return Err(ModelError::ImageShape {
                size: self.image_size,
                channels: self.channels,
            });
        }
        if self.kind.is_boltzmann() && (self.image_size != DIGIT_SIDE || self.channels != 1) {
            return Err(ModelError::BoltzmannShape {
                kind: self.kind.name(),
                size: self.image_size,
                channels: self.channels,
            });
        }
        if self.kind.is_boltzmann() {
            return self.validate_boltzmann();
        }
        self.validate_sr()?;
        self.validate_pyramid()?;
        if matches!(
            self.kind,
            ModelKind::Srgan | ModelKind::Lapgan | ModelKind::Cyclegan
        ) {
            // Its input is an image (srgan) or noise planes as large as the image (lapgan):
            // the latent and first-layer bounds do not apply.
            if !(1..=MAX_WIDTH).contains(&self.width) {
                return Err(ModelError::Width(self.width));
            }
            return Ok(());
        }
        if !self.layers.is_empty() {
            return Err(ModelError::LayersNotBoltzmann {
                kind: self.kind.name(),
                layers: self.layers.clone(),
            });
        }
        if !(1..=MAX_LATENT).contains(&self.latent_dim) {
            return Err(ModelError::Latent(self.latent_dim));
        }
        match (self.kind, self.mapping_layers) {
            (ModelKind::Stylegan, n) if !(1..=MAX_MAPPING).contains(&n) => {
                return Err(ModelError::Mapping(n));
            }
            (ModelKind::Stylegan, _) | (_, 0) => {}
            (kind, layers) => {
                return Err(ModelError::MappingNotStyle {
                    kind: kind.name(),
                    layers,
                });
            }
        }
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return Err(ModelError::Width(self.width));
        }
        if self.num_classes > MAX_CLASSES {
            return Err(ModelError::TooManyClasses(self.num_classes));
        }
        if self.kind.has_codes() {
            if !(2..=MAX_CLASSES).contains(&self.num_classes) || self.codes > MAX_CODES {
                return Err(ModelError::Codes {
                    categories: self.num_classes,
                    codes: self.codes,
                });
            }
        } else if self.codes != 0 {
            return Err(ModelError::UnexpectedCodes {
                kind: self.kind.name(),
                codes: self.codes,
            });
        }
        // The widest first layer of any family: DCGAN's linear to its smallest feature map
        // (2 * width * 7 * 7 at 28 px), or the MLP's last layer to every pixel.
        let (base, _) = self.conv_stages();
        let first = (self.latent_dim + self.cond_dim()) * self.top_channels() * base * base;
        let first = first.max(4 * self.width * self.image_len());
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
        Ok(())
    }
}

fn digit_side() -> usize {
    DIGIT_SIDE
}

fn one_channel() -> usize {
    1
}

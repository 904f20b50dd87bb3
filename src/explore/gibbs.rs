//! The explorer's Gibbs chain: one chain of a Boltzmann machine started from noise or from an
//! image, advanced a few sweeps at a time with chosen first-layer hidden units clamped on or
//! off (and a DBN's label clamped), reported as plain data after each advance.

use crate::data::DataSource;
use crate::model::boltzmann::{BoltzmannNet, Chain, Clamp, Coins};
use crate::model::{ReadbackError, readback};
use crate::types::config::VISIBLE_UNITS;
use crate::types::noise;
use burn::prelude::*;

/// Where a chain starts.
#[derive(Debug, Clone, PartialEq)]
pub enum GibbsStart {
    /// Each pixel a fair coin, drawn from this seed.
    Noise { seed: u64 },
    /// An image's pixels `[784]` in [-1, 1], binarised at the middle gray.
    Image { pixels: Vec<f32> },
    /// Image `index` of a data set.
    Data { data: DataSource, index: usize },
}

impl GibbsStart {
    /// A data set image as its pixels (loading the data set).
    pub fn resolve(self) -> Result<Self, GibbsError> {
        match self {
            GibbsStart::Data { data, index } => {
                let set = data.load_shaped(crate::types::config::DIGIT_SIDE, 1)?;
                if index >= set.len() {
                    return Err(GibbsError::NoSuchImage {
                        index,
                        len: set.len(),
                    });
                }
                Ok(GibbsStart::Image {
                    pixels: set.pixels(&[index]),
                })
            }
            other => Ok(other),
        }
    }
}

/// How the chain runs between frames.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GibbsControl {
    /// Sweeps before the next frame (0: just report the current state).
    pub steps: usize,
    /// First-layer hidden units held on (`true`) or off (`false`).
    pub clamp: Vec<(usize, bool)>,
    /// A DBN's class to hold its label units to.
    pub label: Option<usize>,
}

/// One frame of the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct GibbsFrame {
    pub id: u64,
    /// Sweeps since the chain started.
    pub steps: u64,
    /// P(v | h1) `[784]` in [-1, 1] (as generated images are).
    pub visible: Vec<f32>,
    /// The first hidden layer's binary states `[hidden]`.
    pub hidden: Vec<f32>,
    /// First-layer hidden units by how much switching them would change the picture, largest
    /// first: (unit, summed change in pixel probability).
    pub effects: Vec<(usize, f32)>,
}

#[derive(Debug, thiserror::Error)]
pub enum GibbsError {
    #[error("the Gibbs chain needs a Boltzmann machine (rbm, dbn or dbm); this model is a {0}")]
    NotBoltzmann(&'static str),
    #[error("a chain starts from a 28x28 image ({VISIBLE_UNITS} pixels), got {0} values")]
    ImageSize(usize),
    #[error("hidden unit {unit} does not exist: the first hidden layer has {units}")]
    NoSuchUnit { unit: usize, units: usize },
    #[error("class {class} does not exist: the model has {classes} label units")]
    NoSuchClass { class: usize, classes: usize },
    #[error("the data set has {len} images; there is no image {index}")]
    NoSuchImage { index: usize, len: usize },
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Readback(#[from] ReadbackError),
}

/// A running chain and its sweep count.
#[derive(Debug, Clone)]
pub struct RunningChain {
    chain: Chain,
    steps: u64,
    coins: Coins,
}

fn clamp_of(net: &BoltzmannNet, control: &GibbsControl) -> Result<Clamp, GibbsError> {
    let device = net.device();
    let hidden = net.layers[0].hidden();
    let label = match control.label {
        Some(c) if c >= net.classes => {
            return Err(GibbsError::NoSuchClass {
                class: c,
                classes: net.classes,
            });
        }
        Some(c) => Some(Tensor::<2>::from_data(
            TensorData::new(noise::one_hot(&[c as u8], net.classes), [1, net.classes]),
            &device,
        )),
        None => None,
    };
    let hidden_clamp = if control.clamp.is_empty() {
        None
    } else {
        let mut mask = vec![0.0f32; hidden];
        let mut values = vec![0.0f32; hidden];
        for &(unit, on) in &control.clamp {
            if unit >= hidden {
                return Err(GibbsError::NoSuchUnit {
                    unit,
                    units: hidden,
                });
            }
            mask[unit] = 1.0;
            values[unit] = if on { 1.0 } else { 0.0 };
        }
        let t = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [1, hidden]), &device);
        Some((t(mask), t(values)))
    };
    Ok(Clamp {
        label,
        hidden: hidden_clamp,
    })
}

/// Start a chain, then advance it as `control` says.
pub fn start(
    net: &BoltzmannNet,
    from: &GibbsStart,
    control: &GibbsControl,
    id: u64,
) -> Result<(RunningChain, GibbsFrame), GibbsError> {
    let v: Vec<f32> = match from {
        GibbsStart::Noise { seed } => noise::gaussian(*seed, VISIBLE_UNITS)
            .into_iter()
            .map(|z| if z > 0.0 { 1.0 } else { 0.0 })
            .collect(),
        GibbsStart::Image { pixels } if pixels.len() == VISIBLE_UNITS => pixels
            .iter()
            .map(|&p| if p > 0.0 { 1.0 } else { 0.0 })
            .collect(),
        GibbsStart::Image { pixels } => return Err(GibbsError::ImageSize(pixels.len())),
        GibbsStart::Data { .. } => return start(net, &from.clone().resolve()?, control, id),
    };
    let clamp = clamp_of(net, control)?;
    let v = Tensor::<2>::from_data(TensorData::new(v, [1, VISIBLE_UNITS]), &net.device());
    // A noise start's seed also seeds the chain's coin flips: the same seed, the same chain.
    let seed = match from {
        GibbsStart::Noise { seed } => *seed,
        _ => id,
    };
    let mut coins = Coins::new(seed);
    let running = RunningChain {
        chain: net.start(v, &clamp, &mut coins),
        steps: 0,
        coins,
    };
    advance(net, running, control, id)
}

/// Run `control.steps` sweeps and report the frame.
pub fn advance(
    net: &BoltzmannNet,
    running: RunningChain,
    control: &GibbsControl,
    id: u64,
) -> Result<(RunningChain, GibbsFrame), GibbsError> {
    let clamp = clamp_of(net, control)?;
    let mut coins = running.coins;
    let chain = net.gibbs(running.chain, control.steps, &clamp, &mut coins);
    let steps = running.steps + control.steps as u64;
    let (h1, a) = net.visible_drive(&chain, &clamp);
    let effects = readback(net.unit_effects(h1.clone(), a.clone()))?;
    let mut ranked: Vec<(usize, f32)> = effects.into_iter().enumerate().collect();
    ranked.sort_by(|x, y| y.1.total_cmp(&x.1));
    let visible = readback(
        burn::tensor::activation::sigmoid(a)
            .mul_scalar(2.0)
            .sub_scalar(1.0),
    )?;
    let frame = GibbsFrame {
        id,
        steps,
        visible,
        hidden: readback(h1)?,
        effects: ranked,
    };
    Ok((
        RunningChain {
            chain,
            steps,
            coins,
        },
        frame,
    ))
}

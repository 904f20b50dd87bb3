//! The Translate tab's computation: one input through an image-to-image model (today a
//! super-resolution net), with what to compare it to. A held-out data image is shrunk first,
//! so its original is known and PSNR and SSIM can be given; a user's picture is enlarged as
//! it is.

use crate::data::Dataset;
use crate::data::resample::{bicubic_resize, downscale};
use crate::model::{Generator, ModelConfig, upscale_with};
use crate::quality::fidelity::{psnr, ssim};
use crate::types::grid::Picture;
use burn::prelude::*;

/// The sides of pictures a user may give (at 256 px a 4x net's activations are already about
/// 130 MB each).
pub const PICTURE_SIDES: (u32, u32) = (4, 256);

/// What to translate.
#[derive(Debug, Clone, PartialEq)]
pub enum TranslateInput {
    /// The `index`-th held-out image of the run's data (which training never saw); for a
    /// CycleGAN, of set A (`a_to_b`) or set B.
    Held { index: usize, a_to_b: bool },
    /// A picture: `channels` planes of `width` x `height` bytes (a CycleGAN translates it
    /// A to B when `a_to_b`).
    Picture {
        name: String,
        pixels: Vec<u8>,
        width: usize,
        height: usize,
        a_to_b: bool,
    },
    /// A Laplacian pyramid's sample from `seed`, each finer level's noise scaled by its
    /// strength (1 as trained, 0 none).
    Pyramid { seed: u64, strengths: Vec<f32> },
}

/// One pyramid sample's levels, coarsest first.
#[derive(Debug, Clone, PartialEq)]
pub struct PyramidView {
    pub id: u64,
    pub seed: u64,
    pub levels: Vec<Picture>,
    pub millis: f32,
}

/// An input, its translation and what to compare them with.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    pub id: u64,
    /// The input's name: a held-out image's number, or the picture's path.
    pub name: String,
    /// What the model was given (a held-out image shrunk; a picture as it is).
    pub input: Picture,
    pub bicubic: Picture,
    pub output: Picture,
    /// The held-out image at full size.
    pub original: Option<Picture>,
    /// Against the original: (bicubic, model) PSNR in dB and SSIM.
    pub psnr: Option<(f64, f64)>,
    pub ssim: Option<(f64, f64)>,
    /// Held-out images there are to step through.
    pub held: usize,
    /// A CycleGAN's way back (the output translated again), the per-pixel round-trip error
    /// as a heat map (white: an error of half the range or more), and its mean on [0, 1].
    pub round_trip: Option<Picture>,
    pub heat: Option<Picture>,
    pub cycle_error: Option<f64>,
    pub millis: f32,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TranslateError {
    #[error("{0} turns no image into another; Translate needs an image-to-image run (srgan)")]
    NotImageToImage(&'static str),
    #[error("the data set holds no held-out images")]
    NoHeldOut,
    #[error("the picture has {got} values, not {channels} planes of {width}x{height}")]
    Shape {
        got: usize,
        channels: usize,
        width: usize,
        height: usize,
    },
    #[error("the model failed: {0}")]
    Compute(String),
    #[error("{0} is not a Laplacian pyramid (lapgan)")]
    NotPyramid(&'static str),
}

/// The levels of `g`'s sample from `seed` (a Laplacian pyramid's), each finer level's noise
/// plane scaled by `strengths[k]` (missing ones: 1).
pub fn pyramid(
    g: &Generator,
    model: &ModelConfig,
    seed: u64,
    strengths: &[f32],
    device: &Device,
) -> Result<PyramidView, TranslateError> {
    let started = std::time::Instant::now();
    let Generator::Lap(lap) = g else {
        return Err(TranslateError::NotPyramid(model.kind.name()));
    };
    let mut z = crate::types::noise::gaussian(seed, model.latent_dim);
    let mut at = model.latent_dim - model.pyramid_noise();
    for (k, s) in model.level_sides().iter().skip(1).enumerate() {
        let strength = strengths.get(k).copied().unwrap_or(1.0);
        for v in &mut z[at..at + s * s] {
            *v *= strength;
        }
        at += s * s;
    }
    let zt = Tensor::<2>::from_data(TensorData::new(z, [1, model.latent_dim]), device);
    let levels = lap
        .pyramid(zt)
        .into_iter()
        .map(|t| {
            let side = t.dims()[2];
            let v =
                crate::model::readback(t).map_err(|e| TranslateError::Compute(e.to_string()))?;
            Ok(Picture::from_planes(&v, model.channels, side, side))
        })
        .collect::<Result<Vec<_>, TranslateError>>()?;
    Ok(PyramidView {
        id: 0,
        seed,
        levels,
        millis: started.elapsed().as_secs_f32() * 1000.0,
    })
}

fn values(bytes: &[u8]) -> Vec<f32> {
    bytes.iter().map(|&b| f32::from(b) / 127.5 - 1.0).collect()
}

/// Translate `input` with `g` (the run's `model`); `data` is the run's data set, needed for
/// held-out images.
pub fn translate(
    g: &Generator,
    model: &ModelConfig,
    input: &TranslateInput,
    data: Option<&Dataset>,
    device: &Device,
) -> Result<Translation, TranslateError> {
    let started = std::time::Instant::now();
    if g.translator().is_some() {
        return cycle(g, model, input, data, device);
    }
    if g.upscaler().is_none() {
        return Err(TranslateError::NotImageToImage(model.kind.name()));
    }
    let (c, scale) = (model.channels, model.scale);
    let spread = data.map_or_else(Vec::new, |d| crate::data::held_out_spread(d.len()));
    let held = spread.len();
    let (name, low, (w, h), original) = match input {
        TranslateInput::Pyramid { .. } => {
            return Err(TranslateError::NotImageToImage(model.kind.name()));
        }
        TranslateInput::Held { index, .. } => {
            let d = data.filter(|_| held > 0).ok_or(TranslateError::NoHeldOut)?;
            let k = (*index).min(held - 1);
            let i = spread[k];
            let original = d.pixels(&[i]);
            let side = model.image_size;
            let low = downscale(&original, c, side, scale);
            let low_side = side / scale;
            let name = format!("held-out image {} of {held}", k + 1);
            (name, low, (low_side, low_side), Some(original))
        }
        TranslateInput::Picture {
            name,
            pixels,
            width,
            height,
            ..
        } => {
            if pixels.len() != c * width * height {
                return Err(TranslateError::Shape {
                    got: pixels.len(),
                    channels: c,
                    width: *width,
                    height: *height,
                });
            }
            (name.clone(), values(pixels), (*width, *height), None)
        }
    };
    let output = upscale_with(g, device, &low, (w, h))
        .ok_or(TranslateError::NotImageToImage(model.kind.name()))?
        .map_err(|e| TranslateError::Compute(e.to_string()))?;
    let bicubic: Vec<f32> = bicubic_resize(&low, c, (w, h), scale)
        .into_iter()
        .map(|v| v.clamp(-1.0, 1.0))
        .collect();
    let (big_w, big_h) = (w * scale, h * scale);
    let measure = |f: &dyn Fn(&[f32], &[f32]) -> f64| {
        original.as_ref().map(|o| (f(o, &bicubic), f(o, &output)))
    };
    let side = model.image_size;
    Ok(Translation {
        id: 0,
        name,
        input: Picture::from_planes(&low, c, w, h),
        bicubic: Picture::from_planes(&bicubic, c, big_w, big_h),
        output: Picture::from_planes(&output, c, big_w, big_h),
        psnr: measure(&|a, b| psnr(a, b)),
        ssim: measure(&|a, b| ssim(a, b, c, side)),
        original: original.map(|o| Picture::from_planes(&o, c, big_w, big_h)),
        held,
        round_trip: None,
        heat: None,
        cycle_error: None,
        millis: started.elapsed().as_secs_f32() * 1000.0,
    })
}

/// A CycleGAN's translation of `input` and its way back.
fn cycle(
    g: &Generator,
    model: &ModelConfig,
    input: &TranslateInput,
    data: Option<&Dataset>,
    device: &Device,
) -> Result<Translation, TranslateError> {
    let started = std::time::Instant::now();
    let c = model.channels;
    let domains = data.and_then(crate::data::pairs::split_domains);
    let (name, x, (w, h), a_to_b, held) = match input {
        TranslateInput::Held { index, a_to_b } => {
            let (d, dom) = data
                .zip(domains.as_ref())
                .ok_or(TranslateError::NoHeldOut)?;
            let list = &dom.1[usize::from(!*a_to_b)];
            let i = *list
                .get((*index).min(list.len().saturating_sub(1)))
                .ok_or(TranslateError::NoHeldOut)?;
            let set = if *a_to_b { "A" } else { "B" };
            let name = format!(
                "held-out {set} image {} of {}",
                index.min(&(list.len() - 1)) + 1,
                list.len()
            );
            let side = model.image_size;
            (name, d.pixels(&[i]), (side, side), *a_to_b, list.len())
        }
        TranslateInput::Picture {
            name,
            pixels,
            width,
            height,
            a_to_b,
        } => {
            if pixels.len() != c * width * height || width % 4 != 0 || height % 4 != 0 {
                return Err(TranslateError::Shape {
                    got: pixels.len(),
                    channels: c,
                    width: *width,
                    height: *height,
                });
            }
            (name.clone(), values(pixels), (*width, *height), *a_to_b, 0)
        }
        TranslateInput::Pyramid { .. } => {
            return Err(TranslateError::NotImageToImage(model.kind.name()));
        }
    };
    let run = |v: &[f32], forward: bool| {
        crate::model::translate_with(g, device, v, (w, h), forward)
            .ok_or(TranslateError::NotImageToImage(model.kind.name()))?
            .map_err(|e| TranslateError::Compute(e.to_string()))
    };
    let output = run(&x, a_to_b)?;
    let back = run(&output, !a_to_b)?;
    let plane = w * h;
    // Per pixel: the mean over channels of |back - x| on [0, 1].
    let err: Vec<f32> = (0..plane)
        .map(|p| {
            (0..c)
                .map(|k| (back[k * plane + p] - x[k * plane + p]).abs() / 2.0)
                .sum::<f32>()
                / c as f32
        })
        .collect();
    let mean = err.iter().map(|&e| f64::from(e)).sum::<f64>() / plane.max(1) as f64;
    let heat: Vec<f32> = err.iter().map(|&e| (4.0 * e - 1.0).min(1.0)).collect();
    Ok(Translation {
        id: 0,
        name,
        input: Picture::from_planes(&x, c, w, h),
        bicubic: Picture::default(),
        output: Picture::from_planes(&output, c, w, h),
        original: None,
        psnr: None,
        ssim: None,
        held,
        round_trip: Some(Picture::from_planes(&back, c, w, h)),
        heat: Some(Picture::from_planes(&heat, 1, w, h)),
        cycle_error: Some(mean),
        millis: started.elapsed().as_secs_f32() * 1000.0,
    })
}

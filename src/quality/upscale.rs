//! How well a super-resolution net restores held-out images: PSNR and SSIM against the
//! originals, beside the bicubic upscale of the same inputs, and, when the data set has a
//! classifier, the meter's view of both (Frechet distance, KID and the share of images whose
//! class it still reads correctly). The held-out images are a tenth of the data set spread
//! over it, which a super-resolution run never trains on ([`crate::data::held_out_spread`]).

use super::fidelity::{psnr, ssim};
use super::{Meter, QualityError, Score, score_images};
use crate::data::Dataset;
use crate::data::resample::{bicubic_upscale, downscale};
use crate::model::{Generator, ModelConfig, generate_with};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// The restoration figures of one method (the net, or bicubic), means over the images.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fidelity {
    /// dB, on [0, 1] pixels.
    pub psnr: f64,
    pub ssim: f64,
}

/// A super-resolution net against bicubic on the same held-out images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpscaleScore {
    pub n: usize,
    pub scale: usize,
    pub model: Fidelity,
    pub bicubic: Fidelity,
    /// The meter on the net's upscales and on the bicubic ones (against the originals), with
    /// the intended labels the originals' own.
    pub meter: Option<(Score, Score)>,
}

/// The first `n` held-out images of `data` shrunk and restored by `g` and by bicubic; `meter`
/// (when given) scores both against the originals.
pub fn score_upscaler(
    g: &Generator,
    model: &ModelConfig,
    data: &Dataset,
    n: usize,
    meter: Option<&Meter>,
    device: &Device,
) -> Result<UpscaleScore, QualityError> {
    let mut idx = crate::data::held_out_spread(data.len());
    idx.truncate(n);
    if idx.len() < 2 {
        return Err(QualityError::TooFew(idx.len()));
    }
    let (side, channels, scale) = (model.image_size, model.channels, model.scale);
    let originals = data.pixels(&idx);
    let px = model.image_len();
    let low: Vec<f32> = originals
        .chunks(px)
        .flat_map(|img| downscale(img, channels, side, scale))
        .collect();
    let mut upscaled = Vec::with_capacity(originals.len());
    let low_px = model.low_len();
    for chunk in low.chunks(64 * low_px) {
        upscaled.extend(generate_with(g, model, device, chunk, None)?);
    }
    let bicubic: Vec<f32> = low
        .chunks(low_px)
        .flat_map(|img| bicubic_upscale(img, channels, side / scale, scale))
        .map(|v| v.clamp(-1.0, 1.0))
        .collect();
    let fidelity = |restored: &[f32]| {
        let (mut p, mut s) = (0.0, 0.0);
        for (a, b) in originals.chunks(px).zip(restored.chunks(px)) {
            // An exact restoration is infinitely good; 100 dB stands for it in the mean.
            p += psnr(a, b).min(100.0);
            s += ssim(a, b, channels, side);
        }
        Fidelity {
            psnr: p / idx.len() as f64,
            ssim: s / idx.len() as f64,
        }
    };
    let meter = match meter {
        Some(m) => {
            let (mside, mchannels) = m.classifier.shape();
            if (mside, mchannels) != (side, channels) {
                return Err(QualityError::Shape {
                    meter: format!("{mside}x{mside}x{mchannels}"),
                    model: format!("{side}x{side}x{channels}"),
                });
            }
            let labels: Vec<u8> = idx.iter().map(|&i| data.labels[i]).collect();
            // The originals' labels are what the meter should read, when it knows those classes.
            let same = m.info.class_names.len() == data.num_classes() && data.num_classes() > 1;
            let intended = same.then_some(&labels[..]);
            let judge = |imgs: &[f32]| score_images(m, imgs, intended, None, &originals, device);
            Some((judge(&upscaled)?, judge(&bicubic)?))
        }
        None => None,
    };
    Ok(UpscaleScore {
        n: idx.len(),
        scale,
        model: fidelity(&upscaled),
        bicubic: fidelity(&bicubic),
        meter,
    })
}

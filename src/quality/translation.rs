//! How well a CycleGAN translates, on held-out images of both sets: the round-trip (cycle)
//! error of each direction and, with a meter for set A (the digits, say), the share of A images
//! whose class it still reads after A -> B -> A, and its mean confidence on B -> A outputs
//! (fashion drawn as digits: does it read them as any digit at all?).

use super::{Meter, QualityError};
use crate::data::Dataset;
use crate::model::{Generator, ModelConfig, readback};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Real images, their translations and their round trips, `[n * px]` each.
type RoundTrip = (Vec<f32>, Vec<f32>, Vec<f32>);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleScore {
    pub n_a: usize,
    pub n_b: usize,
    /// Mean absolute round-trip error on [0, 1] pixels: A -> B -> A and B -> A -> B.
    pub cycle_a: f64,
    pub cycle_b: f64,
    /// A's meter: the share of held-out A images whose class it reads the same before and
    /// after the round trip.
    pub same_class_a: Option<f64>,
    /// A's meter: its mean top-class probability on B -> A outputs, and on real A images.
    pub confidence_b_to_a: Option<f64>,
    pub confidence_real_a: Option<f64>,
}

/// Class and top probability per image `[n, channels, side, side]`, by `m`'s classifier.
fn predict(m: &Meter, images: &[f32], device: &Device) -> Result<Vec<(usize, f64)>, QualityError> {
    let c = &m.classifier;
    let (side, channels) = c.shape();
    let n = images.len() / (channels * side * side).max(1);
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(256) {
        let k = (n - start).min(256);
        let x = crate::model::inference::image_chunk(images, start, k, (side, channels), device);
        let (_, logits) = c.forward(x);
        let p = readback(burn::tensor::activation::softmax(logits, 1))?;
        let classes = p.len() / k.max(1);
        out.extend(p.chunks(classes.max(1)).map(|row| {
            row.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or((0, 0.0), |(i, v)| (i, f64::from(*v)))
        }));
    }
    Ok(out)
}

/// Score `g` (a CycleGAN) on up to `n` held-out images of each set of `data` (a pair);
/// `meter_a` (for set A's images at the model's shape) adds the class measures.
pub fn score_cycle(
    g: &Generator,
    model: &ModelConfig,
    data: &Dataset,
    n: usize,
    meter_a: Option<&Meter>,
    device: &Device,
) -> Result<CycleScore, QualityError> {
    let cg = g.translator().ok_or(QualityError::NotCycle)?;
    let (_, held) = crate::data::pairs::split_domains(data).ok_or(QualityError::NotCycle)?;
    let (side, channels) = (model.image_size, model.channels);
    let run = |idx: &[usize], a_to_b: bool| -> Result<RoundTrip, QualityError> {
        let real = data.pixels(idx);
        let x = Tensor::<4>::from_data(
            TensorData::new(real.clone(), [idx.len(), channels, side, side]),
            device,
        );
        let there = cg.translate(x, a_to_b);
        let back = cg.translate(there.clone(), !a_to_b);
        Ok((real, readback(there)?, readback(back)?))
    };
    let take = |k: usize| held[k].iter().copied().take(n).collect::<Vec<_>>();
    let (ia, ib) = (take(0), take(1));
    if ia.len() < 2 || ib.len() < 2 {
        return Err(QualityError::TooFew(ia.len().min(ib.len())));
    }
    let mae = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from((x - y).abs()))
            .sum::<f64>()
            / (2.0 * a.len().max(1) as f64)
    };
    let mut score = CycleScore {
        n_a: ia.len(),
        n_b: ib.len(),
        cycle_a: 0.0,
        cycle_b: 0.0,
        same_class_a: None,
        confidence_b_to_a: None,
        confidence_real_a: None,
    };
    // Chunks keep the activations small.
    let (mut real_a, mut back_a, mut b_to_a) = (Vec::new(), Vec::new(), Vec::new());
    for chunk in ia.chunks(64) {
        let (r, _, back) = run(chunk, true)?;
        real_a.extend(r);
        back_a.extend(back);
    }
    let mut real_b = Vec::new();
    let mut back_b = Vec::new();
    for chunk in ib.chunks(64) {
        let (r, there, back) = run(chunk, false)?;
        real_b.extend(r);
        b_to_a.extend(there);
        back_b.extend(back);
    }
    score.cycle_a = mae(&real_a, &back_a);
    score.cycle_b = mae(&real_b, &back_b);
    if let Some(m) = meter_a {
        let (ms, mc) = m.classifier.shape();
        if (ms, mc) != (side, channels) {
            return Err(QualityError::Shape {
                meter: format!("{ms}x{ms}x{mc}"),
                model: format!("{side}x{side}x{channels}"),
            });
        }
        let before = predict(m, &real_a, device)?;
        let after = predict(m, &back_a, device)?;
        let same = before
            .iter()
            .zip(&after)
            .filter(|(x, y)| x.0 == y.0)
            .count();
        score.same_class_a = Some(same as f64 / before.len() as f64);
        let mean_conf =
            |p: &[(usize, f64)]| p.iter().map(|x| x.1).sum::<f64>() / p.len().max(1) as f64;
        score.confidence_real_a = Some(mean_conf(&before));
        score.confidence_b_to_a = Some(mean_conf(&predict(m, &b_to_a, device)?));
    }
    Ok(score)
}

//! Inference: running a generator on host latents and reading values back.

use super::Generator;
use crate::types::noise;
use burn::prelude::*;

/// A tensor could not be copied back to the host.
#[derive(Debug, thiserror::Error)]
#[error("tensor read-back failed: {0}")]
pub struct ReadbackError(pub String);

/// Copy a tensor back to the host as `f32`s.
pub fn readback<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ReadbackError> {
    t.try_into_data()
        .map_err(|e| ReadbackError(format!("{e:?}")))?
        .try_into_vec::<f32>()
        .map_err(|e| ReadbackError(format!("{e:?}")))
}

/// Images `start..start + m` of a batch of `(side, channels)` images (`[n * channels * side *
/// side]` values) as a tensor [m, channels, side, side] on `device`.
pub fn image_chunk(
    images: &[f32],
    start: usize,
    m: usize,
    (side, channels): (usize, usize),
    device: &Device,
) -> Tensor<4> {
    let px = channels * side * side;
    Tensor::<4>::from_data(
        TensorData::new(
            images[start * px..(start + m) * px].to_vec(),
            [m, channels, side, side],
        ),
        device,
    )
}

/// Run `g` on `device` for latent rows `z` and optional conditions (`[n * cond_dim]`: soft
/// labels, or InfoGAN's codes); pixel values out.
pub fn generate_with(
    g: &Generator,
    model: &crate::model::ModelConfig,
    device: &Device,
    z: &[f32],
    labels: Option<&[f32]>,
) -> Result<Vec<f32>, ReadbackError> {
    let zdim = model.latent_dim;
    let n = z.len() / zdim.max(1);
    let zt = Tensor::<2>::from_data(TensorData::new(z[..n * zdim].to_vec(), [n, zdim]), device);
    let cond = model.cond_dim();
    let label = match (cond, labels) {
        (0, _) => None,
        (_, Some(l)) => Some(l[..n * cond].to_vec()),
        // Unspecified: cycle through the classes (or InfoGAN's categories, continuous codes 0).
        (_, None) => Some(noise::cycling_conditions(n, model.num_classes, model.codes)),
    }
    .map(|l| Tensor::<2>::from_data(TensorData::new(l, [n, cond]), device));
    readback(g.forward(zt, label))
}

/// A super-resolution generator's upscale of one picture (`channels` planes of `width` x
/// `height` values in [-1, 1]): `scale * width` x `scale * height` planes. `None` when `g` is
/// not a super-resolution net.
pub fn upscale_with(
    g: &Generator,
    device: &Device,
    pixels: &[f32],
    (width, height): (usize, usize),
) -> Option<Result<Vec<f32>, ReadbackError>> {
    let sr = g.upscaler()?;
    let x = Tensor::<4>::from_data(
        TensorData::new(pixels.to_vec(), [1, sr.channels(), height, width]),
        device,
    );
    Some(readback(sr.upscale(x)))
}

/// A CycleGAN's translation of one picture (`channels` planes of `width` x `height` values in
/// [-1, 1], sides multiples of 4), A to B (`a_to_b`) or B to A. `None` when `g` is not one.
pub fn translate_with(
    g: &Generator,
    device: &Device,
    pixels: &[f32],
    (width, height): (usize, usize),
    a_to_b: bool,
) -> Option<Result<Vec<f32>, ReadbackError>> {
    let cg = g.translator()?;
    let x = Tensor::<4>::from_data(
        TensorData::new(pixels.to_vec(), [1, cg.channels(), height, width]),
        device,
    );
    Some(readback(cg.translate(x, a_to_b)))
}

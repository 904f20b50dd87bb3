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

/// Run `g` on `device` for latent rows `z` and optional soft labels; pixel values out.
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
    let label = match (model.kind.is_conditional(), labels) {
        (true, Some(l)) => Some(Tensor::<2>::from_data(
            TensorData::new(l[..n * model.num_classes].to_vec(), [n, model.num_classes]),
            device,
        )),
        (true, None) => {
            // Unspecified label on a conditional model: cycle through the classes.
            let l = noise::one_hot(
                &noise::cycling_labels(n, model.num_classes),
                model.num_classes,
            );
            Some(Tensor::<2>::from_data(
                TensorData::new(l, [n, model.num_classes]),
                device,
            ))
        }
        (false, _) => None,
    };
    readback(g.forward(zt, label))
}

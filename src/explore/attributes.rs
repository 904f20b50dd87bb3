//! Attribute vectors: the difference of the mean latents of two groups of images, from the
//! meter's classifier ("more like a 7") or from examples a user sorted into two bins.

use super::directions::{Direction, DirectionsError, normalize};
use super::pca::projection_spread;
use crate::model::classifier::Classifier;
use crate::model::{Generator, ModelConfig, generate_with};
use crate::quality;
use crate::types::noise;
use burn::prelude::*;

/// Latents labelled by default for a direction from labels.
pub const DEFAULT_LABELLED: usize = 2000;
/// Fewer images than this in a class make its mean too noisy to trust.
pub const MIN_PER_CLASS: usize = 5;

/// `mean(b) - mean(a)` of latent rows (`[n * latent]` each), as a unit vector.
pub fn mean_difference(a: &[f32], b: &[f32], latent: usize) -> Vec<f32> {
    let mean = |x: &[f32]| -> Vec<f64> {
        let n = (x.len() / latent.max(1)).max(1) as f64;
        (0..latent)
            .map(|j| x.chunks(latent).map(|r| r[j] as f64).sum::<f64>() / n)
            .collect()
    };
    let (ma, mb) = (mean(a), mean(b));
    let mut d: Vec<f32> = mb.iter().zip(&ma).map(|(x, y)| (x - y) as f32).collect();
    normalize(&mut d);
    d
}

/// The direction from examples sorted into bins A and B. Latents are drawn from N(0, I), so a
/// unit vector's projections have standard deviation 1: that is its sigma.
pub fn from_examples(
    name: &str,
    a: &[Vec<f32>],
    b: &[Vec<f32>],
) -> Result<Direction, DirectionsError> {
    let latent = a.first().or(b.first()).map_or(0, Vec::len);
    if a.is_empty() || b.is_empty() || latent == 0 {
        return Err(DirectionsError::Compute(
            "put at least one image in each bin".into(),
        ));
    }
    let flat = |v: &[Vec<f32>]| v.iter().flatten().copied().collect::<Vec<f32>>();
    let vector = mean_difference(&flat(a), &flat(b), latent);
    if super::directions::norm(&vector) == 0.0 {
        return Err(DirectionsError::Compute(
            "the two bins hold the same latents".into(),
        ));
    }
    Ok(Direction {
        name: name.into(),
        vector,
        sigma: 1.0,
        explained_variance: None,
        origin: Some(format!("examples: {} vs {}", a.len(), b.len())),
    })
}

/// "More like class `to` than class `from`": label `n` generated images with the meter's
/// classifier and take the difference of the two classes' mean latents.
#[allow(clippy::too_many_arguments)]
pub fn from_labels(
    g: &Generator,
    model: &ModelConfig,
    classifier: &Classifier,
    class_names: &[String],
    from: usize,
    to: usize,
    n: usize,
    seed: u64,
    device: &Device,
) -> Result<Direction, DirectionsError> {
    let name = |i: usize| class_names.get(i).cloned().unwrap_or_else(|| i.to_string());
    if from == to || from >= class_names.len() || to >= class_names.len() {
        return Err(DirectionsError::Compute(format!(
            "pick two different classes among 0-{}",
            class_names.len().saturating_sub(1)
        )));
    }
    let latent = model.latent_dim;
    let z = noise::gaussian(seed, n * latent);
    let compute = |e: crate::model::ReadbackError| DirectionsError::Compute(e.to_string());
    let images = generate_with(g, model, device, &z, None).map_err(compute)?;
    let (_, predicted) = quality::classify(classifier, &images, device).map_err(compute)?;
    let rows = |class: usize| -> Vec<f32> {
        z.chunks(latent)
            .zip(&predicted)
            .filter(|(_, p)| **p == class)
            .flat_map(|(r, _)| r.iter().copied())
            .collect()
    };
    let (a, b) = (rows(from), rows(to));
    for (class, rows) in [(from, &a), (to, &b)] {
        if rows.len() / latent < MIN_PER_CLASS {
            return Err(DirectionsError::Compute(format!(
                "only {} of {n} generated images look like `{}`; the generator rarely draws it",
                rows.len() / latent,
                name(class)
            )));
        }
    }
    let vector = mean_difference(&a, &b, latent);
    Ok(Direction {
        name: format!("{} -> {}", name(from), name(to)),
        sigma: projection_spread(&z, latent, &vector),
        vector,
        explained_variance: None,
        origin: Some(format!(
            "labels: {} `{}` vs {} `{}` of {n} images",
            a.len() / latent,
            name(from),
            b.len() / latent,
            name(to)
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_difference_points_from_a_to_b() {
        let a = [0.0, 0.0, 0.0, 2.0];
        let b = [3.0, 1.0, 3.0, 1.0];
        assert_eq!(mean_difference(&a, &b, 2), vec![1.0, 0.0]);
        assert!(from_examples("x", &[], &[vec![1.0]]).is_err());
    }
}

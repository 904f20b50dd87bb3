//! Seeded latent noise and soft labels, made on the host so the same seed gives the same
//! vectors on every device.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// `n` samples of N(0, 1) from `seed` (Box-Muller on a seeded StdRng).
pub fn gaussian(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    gaussian_from(&mut rng, n)
}

pub fn gaussian_from(rng: &mut impl Rng, n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        // u1 in (0, 1] so ln(u1) is finite
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        out.push((r * t.cos()) as f32);
        out.push((r * t.sin()) as f32);
    }
    out.truncate(n);
    out
}

/// One-hot rows `[labels.len() * classes]` for integer labels.
pub fn one_hot(labels: &[u8], classes: usize) -> Vec<f32> {
    let mut out = vec![0.0; labels.len() * classes];
    for (row, &l) in labels.iter().enumerate() {
        if (l as usize) < classes {
            out[row * classes + l as usize] = 1.0;
        }
    }
    out
}

/// Labels that cycle through the classes: 0, 1, .., classes-1, 0, ...; used for sample grids
/// so each column of a 10-wide grid shows one class.
pub fn cycling_labels(n: usize, classes: usize) -> Vec<u8> {
    (0..n).map(|i| (i % classes.max(1)) as u8).collect()
}

/// `n` samples of N(0, 1) from `seed`, each redrawn until |z| <= `threshold` (the truncation
/// trick: fewer unusual latents, more typical images). `threshold` >= 3 is effectively none.
pub fn truncated_gaussian(seed: u64, n: usize, threshold: f32) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let threshold = threshold.max(0.05);
    (0..n)
        .map(|_| {
            loop {
                let v = gaussian_from(&mut rng, 1)[0];
                if v.abs() <= threshold {
                    break v;
                }
            }
        })
        .collect()
}

/// A soft label: `1 - mix` of class `a` and `mix` of class `b` (`[classes]`).
pub fn blended_label(classes: usize, a: usize, b: usize, mix: f32) -> Vec<f32> {
    let mix = mix.clamp(0.0, 1.0);
    let mut out = vec![0.0; classes];
    if let Some(v) = out.get_mut(a) {
        *v += 1.0 - mix;
    }
    if let Some(v) = out.get_mut(b) {
        *v += mix;
    }
    out
}

/// `n` condition rows `[n * (classes + codes)]`: one-hot classes cycling 0, 1, ... and the
/// continuous codes (InfoGAN's) at 0.
pub fn cycling_conditions(n: usize, classes: usize, codes: usize) -> Vec<f32> {
    conditions(&cycling_labels(n, classes), classes, &vec![0.0; codes])
}

/// Condition rows `[labels.len() * (classes + cont.len())]`: each label one-hot, then the
/// continuous code values `cont` (InfoGAN's; empty for a conditional model).
pub fn conditions(labels: &[u8], classes: usize, cont: &[f32]) -> Vec<f32> {
    let onehot = one_hot(labels, classes);
    if cont.is_empty() {
        return onehot;
    }
    onehot
        .chunks(classes.max(1))
        .flat_map(|row| row.iter().chain(cont).copied())
        .collect()
}

/// InfoGAN's code rows `[n * (categories + codes)]`: a one-hot categorical value then the
/// continuous codes, all drawn from `rng` (categories uniform, codes uniform in [-1, 1]).
/// Returns the rows and the categorical values.
pub fn info_codes(
    rng: &mut impl Rng,
    n: usize,
    categories: usize,
    codes: usize,
) -> (Vec<f32>, Vec<u8>) {
    let cats: Vec<u8> = (0..n)
        .map(|_| rng.random_range(0..categories.max(1)) as u8)
        .collect();
    let mut rows = Vec::with_capacity(n * (categories + codes));
    for &c in &cats {
        rows.extend((0..categories).map(|k| if k == c as usize { 1.0 } else { 0.0 }));
        rows.extend((0..codes).map(|_| rng.random_range(-1.0f32..=1.0)));
    }
    (rows, cats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_bounds_every_entry_and_is_seeded() {
        let z = truncated_gaussian(3, 500, 0.5);
        assert!(z.iter().all(|v| v.abs() <= 0.5));
        assert_eq!(z, truncated_gaussian(3, 500, 0.5));
        assert_ne!(z, truncated_gaussian(4, 500, 0.5));
    }

    #[test]
    fn blended_label_sums_to_one() {
        assert_eq!(blended_label(3, 0, 2, 0.25), vec![0.75, 0.0, 0.25]);
        assert_eq!(blended_label(3, 1, 1, 0.5), vec![0.0, 1.0, 0.0]);
    }
}

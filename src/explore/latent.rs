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

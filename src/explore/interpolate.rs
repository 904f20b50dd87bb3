//! Paths between latent vectors: linear and spherical interpolation, and label blends.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Mode {
    #[default]
    Linear,
    /// Along the great circle (keeps the norm typical of Gaussian samples, where a straight
    /// line through the middle passes near the low-density origin).
    Spherical,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Linear => "linear",
            Mode::Spherical => "spherical",
        }
    }
}

pub fn lerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    a.iter().zip(b).map(|(x, y)| x + (y - x) * t).collect()
}

/// Spherical interpolation; falls back to `lerp` when the vectors are (anti)parallel or zero.
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64) * (*y as f64))
        .sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        return lerp(a, b, t);
    }
    let cos = (dot / (na * nb)).clamp(-1.0, 1.0);
    let omega = cos.acos();
    let sin = omega.sin();
    if sin.abs() < 1e-6 {
        return lerp(a, b, t);
    }
    let t = t as f64;
    let wa = ((1.0 - t) * omega).sin() / sin;
    let wb = (t * omega).sin() / sin;
    a.iter()
        .zip(b)
        .map(|(x, y)| (wa * *x as f64 + wb * *y as f64) as f32)
        .collect()
}

/// `steps` points from `a` to `b` inclusive (`steps >= 2`; fewer gives just the ends).
pub fn path(a: &[f32], b: &[f32], steps: usize, mode: Mode) -> Vec<Vec<f32>> {
    let steps = steps.max(2);
    (0..steps)
        .map(|i| {
            let t = i as f32 / (steps - 1) as f32;
            match mode {
                Mode::Linear => lerp(a, b, t),
                Mode::Spherical => slerp(a, b, t),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_has_the_ends_and_the_count() {
        let a = [1.0, 0.0];
        let b = [0.0, 1.0];
        for mode in [Mode::Linear, Mode::Spherical] {
            let p = path(&a, &b, 5, mode);
            assert_eq!(p.len(), 5);
            assert!((p[0][0] - 1.0).abs() < 1e-6 && p[0][1].abs() < 1e-6);
            assert!(p[4][0].abs() < 1e-6 && (p[4][1] - 1.0).abs() < 1e-6);
        }
        // Midpoints: the line passes inside the circle, the arc stays on it.
        let lin = &path(&a, &b, 3, Mode::Linear)[1];
        let sph = &path(&a, &b, 3, Mode::Spherical)[1];
        assert!((lin[0] - 0.5).abs() < 1e-6);
        let norm = (sph[0] * sph[0] + sph[1] * sph[1]).sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "slerp midpoint norm {norm}");
        assert!((sph[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-5);
    }

    #[test]
    fn slerp_of_parallel_vectors_is_finite() {
        let p = slerp(&[1.0, 1.0], &[2.0, 2.0], 0.5);
        assert!(p.iter().all(|v| v.is_finite()));
        assert_eq!(slerp(&[0.0, 0.0], &[1.0, 0.0], 0.5), vec![0.5, 0.0]);
    }
}

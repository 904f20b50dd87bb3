//! How close one picture is to another, for image-to-image models (super-resolution against
//! the original, a round trip against its input): PSNR and SSIM on [0, 1] intensities.
//!
//! Pictures are planar `[channels, side, side]` values in [-1, 1], as the models make them.
//! SSIM is Wang et al. (2004)'s: an 11x11 Gaussian window (sigma 1.5) over the positions where
//! it fits whole (a smaller window on pictures under 11 px), constants `(0.01)^2` and
//! `(0.03)^2`, averaged over positions and channels.

/// SSIM's window side and Gaussian width (Wang et al.).
const WINDOW: usize = 11;
const SIGMA: f64 = 1.5;
const C1: f64 = 0.01 * 0.01;
const C2: f64 = 0.03 * 0.03;

fn unit(v: f32) -> f64 {
    ((f64::from(v) + 1.0) / 2.0).clamp(0.0, 1.0)
}

/// Peak signal-to-noise ratio in dB of `b` against `a` (infinite when they are equal).
pub fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len()).max(1);
    let mse = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (unit(x) - unit(y)).powi(2))
        .sum::<f64>()
        / n as f64;
    if mse == 0.0 {
        f64::INFINITY
    } else {
        -10.0 * mse.log10()
    }
}

/// The structural similarity of `b` to `a`, pictures of `channels` planes of `side` x `side`
/// (1 when equal).
pub fn ssim(a: &[f32], b: &[f32], channels: usize, side: usize) -> f64 {
    let plane = side * side;
    if side == 0 || a.len() < channels * plane || b.len() < channels * plane {
        return 0.0;
    }
    let win = WINDOW.min(side);
    let half = win as f64 / 2.0 - 0.5;
    let g: Vec<f64> = (0..win)
        .map(|i| (-((i as f64 - half).powi(2)) / (2.0 * SIGMA * SIGMA)).exp())
        .collect();
    let norm: f64 = g.iter().sum::<f64>().powi(2);
    let mut total = 0.0;
    let mut count = 0usize;
    for c in 0..channels {
        let pa = &a[c * plane..(c + 1) * plane];
        let pb = &b[c * plane..(c + 1) * plane];
        for y0 in 0..=side - win {
            for x0 in 0..=side - win {
                let (mut ma, mut mb, mut aa, mut bb, mut ab) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for (dy, gy) in g.iter().enumerate() {
                    for (dx, gx) in g.iter().enumerate() {
                        let w = gy * gx / norm;
                        let i = (y0 + dy) * side + x0 + dx;
                        let (u, v) = (unit(pa[i]), unit(pb[i]));
                        ma += w * u;
                        mb += w * v;
                        aa += w * u * u;
                        bb += w * v * v;
                        ab += w * u * v;
                    }
                }
                let (va, vb, cov) = (aa - ma * ma, bb - mb * mb, ab - ma * mb);
                total += ((2.0 * ma * mb + C1) * (2.0 * cov + C2))
                    / ((ma * ma + mb * mb + C1) * (va + vb + C2));
                count += 1;
            }
        }
    }
    total / count.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(side: usize, f: impl Fn(usize, usize) -> f32) -> Vec<f32> {
        (0..side * side).map(|i| f(i / side, i % side)).collect()
    }

    #[test]
    fn psnr_of_a_known_error() {
        let a = vec![-1.0f32; 64];
        assert!(psnr(&a, &a).is_infinite());
        // 0.1 off everywhere on [0, 1] (0.2 on [-1, 1]): MSE 0.01, 20 dB.
        let b: Vec<f32> = a.iter().map(|v| v + 0.2).collect();
        assert!((psnr(&a, &b) - 20.0).abs() < 1e-6);
    }

    #[test]
    fn ssim_is_one_for_equal_pictures_and_falls_with_damage() {
        let side = 24;
        let a = picture(side, |y, x| {
            ((x as f32 / 3.0).sin() * (y as f32 / 4.0).cos()) * 0.8
        });
        assert!((ssim(&a, &a, 1, side) - 1.0).abs() < 1e-9);
        let noisy: Vec<f32> = a
            .iter()
            .zip(crate::types::noise::gaussian(3, a.len()))
            .map(|(v, n)| (v + 0.3 * n).clamp(-1.0, 1.0))
            .collect();
        let flat = vec![0.0f32; a.len()];
        let (s_noisy, s_flat) = (ssim(&a, &noisy, 1, side), ssim(&a, &flat, 1, side));
        assert!(s_noisy < 0.9 && s_noisy > s_flat, "{s_noisy} {s_flat}");
        assert!(
            (ssim(&noisy, &a, 1, side) - s_noisy).abs() < 1e-9,
            "symmetric"
        );
        // Pictures under the window's side use a smaller window.
        let small = picture(6, |y, x| (x + y) as f32 / 10.0 - 0.5);
        assert!((ssim(&small, &small, 1, 6) - 1.0).abs() < 1e-9);
    }
}

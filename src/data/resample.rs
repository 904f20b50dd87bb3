//! Changing a picture's size by a whole factor, for image-to-image models: the anti-aliased
//! downscale that makes a super-resolution model's low-resolution inputs, and the bicubic
//! upscale that is its baseline.
//!
//! Pictures are planar `[channels, side, side]` f32 values. The downscale averages each
//! `factor` x `factor` block (the area filter: for a whole factor it passes no frequency above
//! the new Nyquist limit as an alias of a higher one). The upscale is Keys' cubic convolution
//! (a = -0.5, what "bicubic" means in MATLAB's `imresize` and PIL) with pixel centres aligned
//! (`x_src = (x + 0.5) / factor - 0.5`) and edges clamped.

/// `img` (`channels` planes of `side` x `side`) shrunk by `factor`: each output pixel the mean
/// of its block. `side` must be a multiple of `factor`.
pub fn downscale(img: &[f32], channels: usize, side: usize, factor: usize) -> Vec<f32> {
    let f = factor.max(1);
    let small = side / f;
    let area = (f * f) as f32;
    let mut out = Vec::with_capacity(channels * small * small);
    for c in 0..channels {
        let plane = &img[c * side * side..(c + 1) * side * side];
        for y in 0..small {
            for x in 0..small {
                let mut sum = 0.0;
                for dy in 0..f {
                    let row = &plane[(y * f + dy) * side + x * f..][..f];
                    sum += row.iter().sum::<f32>();
                }
                out.push(sum / area);
            }
        }
    }
    out
}

/// Keys' cubic kernel with a = -0.5.
fn cubic(t: f32) -> f32 {
    let t = t.abs();
    if t <= 1.0 {
        (1.5 * t - 2.5) * t * t + 1.0
    } else if t < 2.0 {
        ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0
    } else {
        0.0
    }
}

/// Per output coordinate: the four source indices (clamped) and their weights.
fn taps(small: usize, factor: usize) -> Vec<([usize; 4], [f32; 4])> {
    (0..small * factor)
        .map(|x| {
            let src = (x as f32 + 0.5) / factor as f32 - 0.5;
            let base = src.floor() as isize;
            let mut idx = [0usize; 4];
            let mut w = [0f32; 4];
            for k in 0..4 {
                let i = base - 1 + k as isize;
                idx[k] = i.clamp(0, small as isize - 1) as usize;
                w[k] = cubic(src - i as f32);
            }
            let sum: f32 = w.iter().sum();
            (idx, w.map(|v| v / sum))
        })
        .collect()
}

/// `img` (`channels` planes of `small` x `small`) enlarged `factor` times by bicubic
/// interpolation (separable: rows, then columns).
pub fn bicubic_upscale(img: &[f32], channels: usize, small: usize, factor: usize) -> Vec<f32> {
    bicubic_resize(img, channels, (small, small), factor)
}

/// [`bicubic_upscale`] of a `width` x `height` picture.
pub fn bicubic_resize(
    img: &[f32],
    channels: usize,
    (width, height): (usize, usize),
    factor: usize,
) -> Vec<f32> {
    let f = factor.max(1);
    let (big_w, big_h) = (width * f, height * f);
    let (tx, ty) = (taps(width, f), taps(height, f));
    let mut out = Vec::with_capacity(channels * big_w * big_h);
    let mut rows = vec![0f32; height * big_w]; // [height rows, big columns]
    for c in 0..channels {
        let plane = &img[c * width * height..(c + 1) * width * height];
        for y in 0..height {
            for (x, (idx, w)) in tx.iter().enumerate() {
                rows[y * big_w + x] = (0..4).map(|k| w[k] * plane[y * width + idx[k]]).sum();
            }
        }
        for (idx, w) in &ty {
            for x in 0..big_w {
                out.push((0..4).map(|k| w[k] * rows[idx[k] * big_w + x]).sum());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downscale_averages_blocks_so_a_fine_pattern_does_not_alias() {
        // A one-pixel checkerboard has no content a 2x smaller picture can hold: it becomes
        // its mean, not a false pattern.
        let side = 8;
        let checker: Vec<f32> = (0..side * side)
            .map(|i| {
                if (i / side + i % side) % 2 == 0 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        assert!(
            downscale(&checker, 1, side, 2)
                .iter()
                .all(|v| v.abs() < 1e-6)
        );
        let planes: Vec<f32> = (0..2 * 16)
            .map(|i| if i < 16 { 0.5 } else { -0.25 })
            .collect();
        assert_eq!(
            downscale(&planes, 2, 4, 2),
            vec![0.5, 0.5, 0.5, 0.5, -0.25, -0.25, -0.25, -0.25]
        );
    }

    #[test]
    fn bicubic_keeps_constants_and_beats_nearest_on_smooth_pictures() {
        let c = vec![0.3f32; 16];
        assert!(
            bicubic_upscale(&c, 1, 4, 2)
                .iter()
                .all(|v| (v - 0.3).abs() < 1e-6)
        );
        // A smooth picture, shrunk and enlarged again: bicubic is closer than repeating pixels.
        let side = 32;
        let smooth: Vec<f32> = (0..side * side)
            .map(|i| {
                let (y, x) = ((i / side) as f32, (i % side) as f32);
                0.8 * (x / 5.0).sin() * (y / 7.0).cos()
            })
            .collect();
        let small = downscale(&smooth, 1, side, 2);
        let bicubic = bicubic_upscale(&small, 1, side / 2, 2);
        let nearest: Vec<f32> = (0..side * side)
            .map(|i| small[(i / side / 2) * (side / 2) + (i % side) / 2])
            .collect();
        let psnr = crate::quality::fidelity::psnr;
        assert!(
            psnr(&smooth, &bicubic) > psnr(&smooth, &nearest) + 1.0,
            "bicubic {} dB, nearest {} dB",
            psnr(&smooth, &bicubic),
            psnr(&smooth, &nearest)
        );
    }
}

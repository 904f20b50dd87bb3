//! A procedural colour data set with known factors, in the manner of dSprites and 3D Shapes:
//! one shape (square, circle, triangle or cross: the class) of a given hue on a background of
//! another hue, at a scale, a position and a rotation. Every image is drawn anti-aliased
//! (4x4 samples a pixel) at any size, and depends only on the seed and its index, so the set
//! is the same on every machine and any image can be drawn alone.
//!
//! The set is colour (3 channels); `--channels 1` trains on its luma, which differs between
//! shape and background in every image (see [`colours`]).

use rand::{Rng, SeedableRng};

/// The shapes, which are the classes.
pub const CLASS_NAMES: [&str; 4] = ["square", "circle", "triangle", "cross"];
/// Images in the set unless asked otherwise.
pub const DEFAULT_LEN: usize = 20_000;
/// The side the set is drawn at unless asked otherwise.
pub const DEFAULT_SIDE: usize = 32;
/// The seed of the set `--data shapes` names.
pub const DEFAULT_SEED: u64 = 0;
/// Samples per pixel side for anti-aliasing (4x4 = 16 a pixel).
const SUPERSAMPLE: usize = 4;

/// What made one image. Positions and scale are fractions of the side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Factors {
    /// Index into [`CLASS_NAMES`].
    pub shape: u8,
    /// Hue of the shape, in [0, 1).
    pub object_hue: f32,
    /// Hue of the background, at least a quarter turn from the shape's.
    pub background_hue: f32,
    /// The shape's circumradius, 0.15 to 0.35 of the side.
    pub scale: f32,
    /// Centre, each 0.3 to 0.7 of the side.
    pub x: f32,
    pub y: f32,
    /// Radians, 0 to 2 pi.
    pub rotation: f32,
}

/// The factors of image `index` of the set drawn with `seed`.
pub fn factors(seed: u64, index: usize) -> Factors {
    // One generator per image, seeded from (seed, index) through SplitMix64's mixer, so an
    // image never depends on how many came before it.
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(index as u64)
        .wrapping_add(0x6a09_e667_f3bc_c909);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    let mut rng = rand::rngs::StdRng::seed_from_u64(z ^ (z >> 31));
    let object_hue: f32 = rng.random_range(0.0..1.0);
    Factors {
        shape: rng.random_range(0..CLASS_NAMES.len() as u8),
        object_hue,
        background_hue: (object_hue + rng.random_range(0.25..0.75)).fract(),
        scale: rng.random_range(0.15..0.35),
        x: rng.random_range(0.3..0.7),
        y: rng.random_range(0.3..0.7),
        rotation: rng.random_range(0.0..std::f32::consts::TAU),
    }
}

/// Least luma difference between a shape and its background (on a 0-1 scale).
pub const MIN_LUMA_CONTRAST: f32 = 0.2;

#[cfg(test)]
fn luma_of(c: [f32; 3]) -> f32 {
    0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
}

/// The luma difference between a shape of hue `object` and a background of hue `background`.
#[cfg(test)]
fn luma_contrast(object: f32, background: f32) -> f32 {
    let f = Factors {
        shape: 0,
        object_hue: object,
        background_hue: background,
        scale: 0.0,
        x: 0.0,
        y: 0.0,
        rotation: 0.0,
    };
    let (fg, bg) = colours(&f);
    (luma_of(fg) - luma_of(bg)).abs()
}

/// Whether the point (u, v), in the shape's own frame (circumradius 1, unrotated), is inside.
fn inside(shape: u8, u: f32, v: f32) -> bool {
    match shape {
        0 => u.abs() <= 0.75 && v.abs() <= 0.75,
        1 => u * u + v * v <= 1.0,
        // An equilateral triangle with vertices (0, 1) and (+-sqrt(3)/2, -1/2).
        2 => v >= -0.5 && v <= 1.0 - 3f32.sqrt() * u.abs(),
        _ => (u.abs() <= 0.3 && v.abs() <= 1.0) || (v.abs() <= 0.3 && u.abs() <= 1.0),
    }
}

/// RGB of a hue at the given saturation and value (each in [0, 1]).
pub fn hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    let h6 = h.rem_euclid(1.0) * 6.0;
    let c = v * s;
    let x = c * (1.0 - ((h6 % 2.0) - 1.0).abs());
    let (r, g, b) = match h6 as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [r + m, g + m, b + m]
}

/// The shape's colour (bright) and the background's (dark), in [0, 1]. Hues apart are not
/// enough for a grey reader (a saturated blue is as dark as a dull yellow), so the values are
/// set far enough apart that every pair differs by at least [`MIN_LUMA_CONTRAST`] in luma:
/// the darkest shape (blue, luma 0.445) against the brightest background (yellow, 0.233).
pub fn colours(f: &Factors) -> ([f32; 3], [f32; 3]) {
    (
        hsv(f.object_hue, 0.6, 0.95),
        hsv(f.background_hue, 0.6, 0.25),
    )
}

/// Draw one image, `[size * size * 3]` RGB bytes, row-major.
pub fn draw(f: &Factors, size: usize) -> Vec<u8> {
    let (fg, bg) = colours(f);
    let radius = f.scale * size as f32;
    let (cx, cy) = (f.x * size as f32, f.y * size as f32);
    let (sin, cos) = f.rotation.sin_cos();
    let samples = (SUPERSAMPLE * SUPERSAMPLE) as f32;
    let mut out = Vec::with_capacity(size * size * 3);
    for py in 0..size {
        for px in 0..size {
            let mut hits = 0u32;
            for sy in 0..SUPERSAMPLE {
                for sx in 0..SUPERSAMPLE {
                    let x = px as f32 + (sx as f32 + 0.5) / SUPERSAMPLE as f32 - cx;
                    // Image rows go down; the shape's v axis goes up.
                    let y = cy - (py as f32 + (sy as f32 + 0.5) / SUPERSAMPLE as f32);
                    // Into the shape's frame: undo the rotation, then the scale.
                    let u = (x * cos + y * sin) / radius;
                    let v = (-x * sin + y * cos) / radius;
                    hits += u32::from(inside(f.shape, u, v));
                }
            }
            let cover = hits as f32 / samples;
            for c in 0..3 {
                let value = bg[c] + (fg[c] - bg[c]) * cover;
                out.push((value * 255.0).round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    out
}

/// The set: `len` colour images of `size` x `size`, labelled by shape (drawn on all cores).
pub fn dataset(len: usize, size: usize, seed: u64) -> super::Dataset {
    use rayon::prelude::*;
    let images: Vec<Vec<u8>> = (0..len)
        .into_par_iter()
        .map(|i| super::planar_from_interleaved(&draw(&factors(seed, i), size), 3))
        .collect();
    super::Dataset {
        name: "shapes".into(),
        height: size,
        width: size,
        channels: 3,
        images: images.concat(),
        labels: (0..len).map(|i| factors(seed, i).shape).collect(),
        class_names: CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(img: &[u8], size: usize, x: usize, y: usize) -> [u8; 3] {
        let i = (y * size + x) * 3;
        [img[i], img[i + 1], img[i + 2]]
    }

    fn byte(c: [f32; 3]) -> [u8; 3] {
        c.map(|v| (v * 255.0).round() as u8)
    }

    fn centred(shape: u8, rotation: f32) -> Factors {
        Factors {
            shape,
            object_hue: 0.0,
            background_hue: 0.5,
            scale: 0.3,
            x: 0.5,
            y: 0.5,
            rotation,
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_set_and_another_seed_another() {
        let a = dataset(50, 16, 3);
        assert_eq!(a, dataset(50, 16, 3));
        assert_ne!(a.images, dataset(50, 16, 4).images);
        // An image depends only on the seed and its index.
        assert_eq!(draw(&factors(3, 49), 16), draw(&factors(3, 49), 16));
        assert_eq!(a.labels.len(), 50);
        assert!(a.labels.iter().all(|&l| (l as usize) < CLASS_NAMES.len()));
        for l in 0..4u8 {
            assert!(a.labels.contains(&l), "every shape appears in 50 images");
        }
    }

    #[test]
    fn factors_stay_in_their_ranges() {
        for i in 0..2000 {
            let f = factors(7, i);
            assert!((0.15..0.35).contains(&f.scale), "{f:?}");
            assert!(
                (0.3..0.7).contains(&f.x) && (0.3..0.7).contains(&f.y),
                "{f:?}"
            );
            assert!((0.0..std::f32::consts::TAU).contains(&f.rotation), "{f:?}");
            let apart = (f.object_hue - f.background_hue).rem_euclid(1.0);
            assert!((0.25..=0.75).contains(&apart), "hues too close: {f:?}");
            // Models read the set grey: shape and background differ in luma too.
            let contrast = luma_contrast(f.object_hue, f.background_hue);
            assert!(contrast >= MIN_LUMA_CONTRAST, "{contrast}: {f:?}");
        }
    }

    #[test]
    fn hand_checked_pictures() {
        // A red circle (hue 0) on a cyan background (hue 0.5) in the middle of 32 px: radius
        // 9.6 px. Its centre is the shape's colour, a corner the background's, and an edge
        // pixel lies between them (anti-aliased).
        let size = 32;
        let f = centred(1, 0.0);
        let (fg, bg) = colours(&f);
        assert_eq!(byte(fg), [242, 97, 97]);
        assert_eq!(byte(bg), [25, 64, 64]);
        let img = draw(&f, size);
        assert_eq!(at(&img, size, 16, 16), byte(fg));
        assert_eq!(at(&img, size, 0, 0), byte(bg));
        let edge = at(&img, size, 16 + 9, 16);
        assert!(edge[0] > 25 && edge[0] < 242, "edge {edge:?}");
        // A square (half-side 0.75 x 9.6 = 7.2 px) covers (16 + 6, 16 + 6) unrotated; turned
        // 45 degrees its corner points along the axes and that pixel is background.
        let square = draw(&centred(0, 0.0), size);
        assert_eq!(at(&square, size, 22, 22), byte(fg));
        let diamond = draw(&centred(0, std::f32::consts::FRAC_PI_4), size);
        assert_eq!(at(&diamond, size, 22, 22), byte(bg));
        // The triangle points up: above the centre at 8 px is inside, below at 8 px is not.
        let tri = draw(&centred(2, 0.0), size);
        assert_eq!(at(&tri, size, 16, 16 - 8), byte(fg));
        assert_eq!(at(&tri, size, 16, 16 + 8), byte(bg));
        // The cross: its arm's tip is inside, the square's corner region is not.
        let cross = draw(&centred(3, 0.0), size);
        assert_eq!(at(&cross, size, 16 + 8, 16), byte(fg));
        assert_eq!(at(&cross, size, 22, 22), byte(bg));
        // Any size: the same picture at 64 px has the same colours at the same places.
        let big = draw(&f, 64);
        assert_eq!(at(&big, 64, 32, 32), byte(fg));
        assert_eq!(at(&big, 64, 0, 0), byte(bg));
    }
}

//! Colour maps for the image view, on the CPU. `shaders/image_view.wgsl` holds the same
//! anchors for the GPU path; `tests` check the two stay in step through the anchor table.

use crate::types::grid::Picture;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ColorMap {
    #[default]
    Gray,
    Viridis,
    Magma,
    /// Black, red, yellow, white: the difference view's map.
    Heat,
}

impl ColorMap {
    pub const ALL: [ColorMap; 4] = [
        ColorMap::Gray,
        ColorMap::Viridis,
        ColorMap::Magma,
        ColorMap::Heat,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ColorMap::Gray => "gray",
            ColorMap::Viridis => "viridis",
            ColorMap::Magma => "magma",
            ColorMap::Heat => "heat",
        }
    }

    /// Index the shader uses for this map.
    pub fn index(self) -> u32 {
        match self {
            ColorMap::Gray => 0,
            ColorMap::Viridis => 1,
            ColorMap::Magma => 2,
            ColorMap::Heat => 3,
        }
    }

    /// Five evenly spaced anchor colours; values between are linearly interpolated.
    pub fn anchors(self) -> [[u8; 3]; 5] {
        match self {
            ColorMap::Gray => [
                [0, 0, 0],
                [64, 64, 64],
                [128, 128, 128],
                [191, 191, 191],
                [255, 255, 255],
            ],
            ColorMap::Viridis => [
                [68, 1, 84],
                [59, 82, 139],
                [33, 145, 140],
                [94, 201, 98],
                [253, 231, 37],
            ],
            ColorMap::Magma => [
                [0, 0, 4],
                [81, 18, 124],
                [183, 55, 121],
                [252, 137, 97],
                [252, 253, 191],
            ],
            ColorMap::Heat => [
                [0, 0, 0],
                [128, 0, 0],
                [255, 64, 0],
                [255, 200, 0],
                [255, 255, 255],
            ],
        }
    }

    /// The colour of intensity `v` in [0, 1].
    pub fn color(self, v: f32) -> [u8; 3] {
        let a = self.anchors();
        let x = v.clamp(0.0, 1.0) * 4.0;
        let i = (x.floor() as usize).min(3);
        let t = x - i as f32;
        let mut out = [0u8; 3];
        for c in 0..3 {
            let lo = a[i][c] as f32;
            let hi = a[i + 1][c] as f32;
            out[c] = (lo + (hi - lo) * t).round() as u8;
        }
        out
    }
}

/// Gain applied to |a - b| in the difference view, so small changes are visible.
pub const DIFF_GAIN: f32 = 2.0;

/// RGBA pixels of a picture: a grey one through `map`, a colour one as it is (colour maps
/// apply to grey images only).
pub fn colorize(img: &Picture, map: ColorMap) -> Vec<u8> {
    if img.is_colour() {
        return img.to_rgba();
    }
    img.pixels
        .iter()
        .flat_map(|&g| {
            let [r, gg, b] = map.color(g as f32 / 255.0);
            [r, gg, b, 255]
        })
        .collect()
}

/// RGBA heat map of the per-pixel colour distance between two pictures of one size and depth:
/// |a - b| for grey, the Euclidean distance of the RGB triples over sqrt(3) for colour (both 0
/// to 1 before the gain).
pub fn difference(a: &Picture, b: &Picture) -> Vec<u8> {
    let c = a.channels.max(1);
    a.pixels
        .chunks_exact(c)
        .zip(b.pixels.chunks_exact(c))
        .flat_map(|(x, y)| {
            let sq: f32 = x
                .iter()
                .zip(y)
                .map(|(&p, &q)| ((p as f32 - q as f32) / 255.0).powi(2))
                .sum();
            let d = (sq / c as f32).sqrt() * DIFF_GAIN;
            let [r, g, bl] = ColorMap::Heat.color(d);
            [r, g, bl, 255]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_midpoints_hit_the_anchors() {
        for m in ColorMap::ALL {
            let a = m.anchors();
            assert_eq!(m.color(0.0), a[0]);
            assert_eq!(m.color(0.5), a[2]);
            assert_eq!(m.color(1.0), a[4]);
        }
        assert_eq!(ColorMap::Gray.color(0.25), [64, 64, 64]);
    }

    #[test]
    fn the_shader_carries_the_same_anchors() {
        let wgsl = include_str!("../../shaders/image_view.wgsl");
        for m in ColorMap::ALL {
            for [r, g, b] in m.anchors() {
                let lit = format!("vec3<f32>({r}.0, {g}.0, {b}.0)");
                assert!(
                    wgsl.contains(&lit),
                    "{} anchor {lit} missing in the shader",
                    m.name()
                );
            }
        }
        assert!(wgsl.contains(&format!("DIFF_GAIN: f32 = {DIFF_GAIN:.1};")));
    }

    #[test]
    fn difference_is_black_where_nothing_changed() {
        let d = difference(
            &Picture::gray(2, 1, vec![10, 200]),
            &Picture::gray(2, 1, vec![10, 0]),
        );
        assert_eq!(&d[..4], &[0, 0, 0, 255]);
        assert_eq!(&d[4..8], &[255, 255, 255, 255]);
        // Colour: a pixel that changed only in hue is not black; one unchanged is.
        let rgb = |px: Vec<u8>| Picture {
            width: 2,
            height: 1,
            channels: 3,
            pixels: px,
        };
        let d = difference(
            &rgb(vec![9, 9, 9, 200, 0, 0]),
            &rgb(vec![9, 9, 9, 0, 0, 200]),
        );
        assert_eq!(&d[..4], &[0, 0, 0, 255]);
        assert_ne!(&d[4..7], &[0, 0, 0], "a red-to-blue change shows");
        // Colour pictures skip the map; grey ones go through it.
        let c = colorize(&rgb(vec![1, 2, 3, 4, 5, 6]), ColorMap::Viridis);
        assert_eq!(c, vec![1, 2, 3, 255, 4, 5, 6, 255]);
    }
}

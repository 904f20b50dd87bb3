//! Colour maps for the image view, on the CPU. `shaders/image_view.wgsl` holds the same
//! anchors for the GPU path; `tests` check the two stay in step through the anchor table.

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

/// RGBA pixels of a grayscale image through `map`.
pub fn colorize(gray: &[u8], map: ColorMap) -> Vec<u8> {
    gray.iter()
        .flat_map(|&g| {
            let [r, gg, b] = map.color(g as f32 / 255.0);
            [r, gg, b, 255]
        })
        .collect()
}

/// RGBA heat map of |a - b| (same-size grayscale images).
pub fn difference(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter()
        .zip(b)
        .flat_map(|(&x, &y)| {
            let d = (x as f32 - y as f32).abs() / 255.0 * DIFF_GAIN;
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
        let d = difference(&[10, 200], &[10, 0]);
        assert_eq!(&d[..4], &[0, 0, 0, 255]);
        assert_eq!(&d[4..8], &[255, 255, 255, 255]);
    }
}

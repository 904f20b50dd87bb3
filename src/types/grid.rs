//! Generated batches to pictures: pixel values in [-1, 1] become u8 grids, grey or RGB.

/// A grey or RGB picture, row-major, `channels` bytes per pixel (interleaved, as image files
/// and textures hold them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    /// 1 (grey) or 3 (RGB).
    #[serde(default = "one")]
    pub channels: usize,
    pub pixels: Vec<u8>,
}

fn one() -> usize {
    1
}

impl Default for Picture {
    fn default() -> Self {
        Self::gray(0, 0, Vec::new())
    }
}

impl Picture {
    pub fn gray(width: usize, height: usize, pixels: Vec<u8>) -> Self {
        Self {
            width,
            height,
            channels: 1,
            pixels,
        }
    }

    /// A `width` x `height` picture from `channels` planes of values in [-1, 1].
    pub fn from_planes(values: &[f32], channels: usize, width: usize, height: usize) -> Self {
        let plane = width * height;
        let pixels = (0..plane)
            .flat_map(|i| (0..channels).map(move |c| c * plane + i))
            .map(|j| to_u8(values.get(j).copied().unwrap_or(-1.0)))
            .collect();
        Self {
            width,
            height,
            channels,
            pixels,
        }
    }

    pub fn is_colour(&self) -> bool {
        self.channels == 3
    }

    /// Opaque RGBA bytes `[h, w, 4]`, as textures and GIF frames take them (grey pictures
    /// repeat their level in R, G and B).
    pub fn to_rgba(&self) -> Vec<u8> {
        if self.is_colour() {
            return self
                .pixels
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect();
        }
        self.pixels.iter().flat_map(|&p| [p, p, p, 255]).collect()
    }

    /// The colour of pixel (x, y) as RGB.
    #[cfg(test)]
    fn rgb_at(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * self.channels.max(1);
        match self.pixels.get(i..i + self.channels.max(1)) {
            Some(&[r, g, b]) => [r, g, b],
            Some(&[l]) => [l, l, l],
            _ => [0, 0, 0],
        }
    }
}

/// Gap between grid cells, in pixels.
pub const GAP: usize = 2;
/// Gray level of the gaps (mid-gray, visible against both black and white digits).
pub const GAP_LEVEL: u8 = 128;

pub fn to_u8(v: f32) -> u8 {
    ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
}

/// Lay out every whole `side` x `side` image of `channels` in `values` in `cols` columns (see
/// [`grid`]).
pub fn grid_of(values: &[f32], side: usize, channels: usize, cols: usize) -> Picture {
    let n = values.len() / (channels * side * side).max(1);
    grid(values, n, side, channels, cols)
}

/// Lay out `n` images of `side` x `side` (values in [-1, 1], `[n, channels, side, side]` as the
/// models make them) in `cols` columns with [`GAP`]-pixel gaps; the picture has `channels`.
pub fn grid(values: &[f32], n: usize, side: usize, channels: usize, cols: usize) -> Picture {
    let c = channels.max(1);
    let cols = cols.clamp(1, n.max(1));
    let rows = n.div_ceil(cols);
    let width = cols * side + (cols - 1) * GAP;
    let height = rows * side + rows.saturating_sub(1) * GAP;
    let mut pixels = vec![GAP_LEVEL; width * height * c];
    let plane = side * side;
    for i in 0..n {
        let (r, col) = (i / cols, i % cols);
        let (y0, x0) = (r * (side + GAP), col * (side + GAP));
        let Some(src) = values.get(i * c * plane..(i + 1) * c * plane) else {
            break;
        };
        for y in 0..side {
            let row = (y0 + y) * width + x0;
            for x in 0..side {
                for k in 0..c {
                    pixels[(row + x) * c + k] = to_u8(src[k * plane + y * side + x]);
                }
            }
        }
    }
    Picture {
        width,
        height,
        channels: c,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A colour image keeps its planes as RGB triples, and the gaps stay grey in every channel.
    #[test]
    fn colour_grid_interleaves_planes() {
        // Two 2x2 images: the first red, the second blue.
        let mut v = vec![-1.0f32; 2 * 3 * 4];
        v[..4].fill(1.0); // image 0, R plane
        v[12 + 8..12 + 12].fill(1.0); // image 1, B plane
        let g = grid(&v, 2, 2, 3, 2);
        assert_eq!((g.width, g.height, g.channels), (2 + GAP + 2, 2, 3));
        assert_eq!(g.rgb_at(0, 0), [255, 0, 0]);
        assert_eq!(g.rgb_at(1, 1), [255, 0, 0]);
        assert_eq!(g.rgb_at(2, 0), [GAP_LEVEL; 3]);
        assert_eq!(g.rgb_at(2 + GAP, 1), [0, 0, 255]);
        let grey = grid(&v[..4], 1, 2, 1, 1);
        assert_eq!((grey.channels, grey.pixels.len()), (1, 4));
        // As RGBA: grey repeats its level, colour keeps its triples; both opaque.
        assert_eq!(grey.to_rgba()[..4], [255, 255, 255, 255]);
        assert_eq!(g.to_rgba()[..4], [255, 0, 0, 255]);
    }
}

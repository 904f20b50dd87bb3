//! Generated batches to images: pixel values in [-1, 1] become u8 grayscale grids.

/// A grayscale image, row-major, one byte per pixel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct GrayImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

/// Gap between grid cells, in pixels.
pub const GAP: usize = 2;
/// Gray level of the gaps (mid-gray, visible against both black and white digits).
pub const GAP_LEVEL: u8 = 128;

pub fn to_u8(v: f32) -> u8 {
    ((v.clamp(-1.0, 1.0) + 1.0) * 127.5).round() as u8
}

/// Lay out every whole `side` x `side` image in `values` in `cols` columns (see [`grid`]).
pub fn grid_of(values: &[f32], side: usize, cols: usize) -> GrayImage {
    let n = values.len() / (side * side).max(1);
    grid(values, n, side, cols)
}

/// Lay out `n` images of `side` x `side` (values in [-1, 1], `[n, side, side]`) in `cols`
/// columns with [`GAP`]-pixel gaps.
pub fn grid(values: &[f32], n: usize, side: usize, cols: usize) -> GrayImage {
    let cols = cols.clamp(1, n.max(1));
    let rows = n.div_ceil(cols);
    let width = cols * side + (cols - 1) * GAP;
    let height = rows * side + rows.saturating_sub(1) * GAP;
    let mut pixels = vec![GAP_LEVEL; width * height];
    for i in 0..n {
        let (r, c) = (i / cols, i % cols);
        let (y0, x0) = (r * (side + GAP), c * (side + GAP));
        let src = &values[i * side * side..(i + 1) * side * side];
        for y in 0..side {
            let row = &mut pixels[(y0 + y) * width + x0..(y0 + y) * width + x0 + side];
            for (dst, &v) in row.iter_mut().zip(&src[y * side..(y + 1) * side]) {
                *dst = to_u8(v);
            }
        }
    }
    GrayImage {
        width,
        height,
        pixels,
    }
}

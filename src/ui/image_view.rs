//! Generated images on screen: egui textures with nearest-neighbour zoom (pixels stay crisp),
//! fitted to the space available, and hit-testing of grid cells.

use crate::types::grid::{GAP, Picture};
use eframe::egui::{self, ColorImage, TextureHandle, TextureOptions};

/// One on-screen image, re-uploaded only when its content changes.
#[derive(Default)]
pub struct Tex {
    handle: Option<TextureHandle>,
    name: String,
}

impl Tex {
    pub fn named(name: &str) -> Self {
        Self {
            handle: None,
            name: name.into(),
        }
    }

    /// A grey or colour picture, as it is.
    pub fn set_picture(&mut self, ctx: &egui::Context, img: &Picture) {
        let size = [img.width, img.height];
        let image = if img.is_colour() {
            ColorImage::from_rgb(size, &img.pixels)
        } else {
            ColorImage::from_gray(size, &img.pixels)
        };
        self.set(ctx, image);
    }

    pub fn set_rgba(&mut self, ctx: &egui::Context, width: usize, height: usize, rgba: &[u8]) {
        self.set(
            ctx,
            ColorImage::from_rgba_unmultiplied([width, height], rgba),
        );
    }

    fn set(&mut self, ctx: &egui::Context, image: ColorImage) {
        match &mut self.handle {
            Some(h) if h.size() == image.size => h.set(image, TextureOptions::NEAREST),
            _ => self.handle = Some(ctx.load_texture(&self.name, image, TextureOptions::NEAREST)),
        }
    }

    /// Draw at exactly `size`, showing the part `uv` (fractions of the image) of it; the
    /// response senses hovering. `None` before the first image arrives.
    pub fn show_part(
        &self,
        ui: &mut egui::Ui,
        size: egui::Vec2,
        uv: egui::Rect,
    ) -> Option<egui::Response> {
        let h = self.handle.as_ref()?;
        let image = egui::Image::from_texture((h.id(), size)).uv(uv);
        Some(ui.add(image.sense(egui::Sense::hover())))
    }

    pub fn is_set(&self) -> bool {
        self.handle.is_some()
    }

    /// Draw as large as fits `max` (see [`fit`]); the response senses clicks. `None` before the first image arrives.
    pub fn show(&self, ui: &mut egui::Ui, max: egui::Vec2) -> Option<egui::Response> {
        let h = self.handle.as_ref()?;
        let size = fit(h.size_vec2(), max);
        Some(ui.add(egui::Image::from_texture((h.id(), size)).sense(egui::Sense::click())))
    }
}

/// The size to draw `image` at within `max`: a whole-number zoom from 3x up (every source pixel
/// the same size), the exact fit below that (small zooms would waste too much room).
pub fn fit(image: egui::Vec2, max: egui::Vec2) -> egui::Vec2 {
    if image.x <= 0.0 || image.y <= 0.0 {
        return image;
    }
    let zoom = (max.x / image.x).min(max.y / image.y);
    // Whole multiples whenever the image fits at its own size: every pixel the same size.
    let zoom = if zoom >= 1.0 {
        zoom.floor()
    } else {
        zoom.max(0.25)
    };
    image * zoom
}

/// Which cell of a grid of `n` images (`side` pixels each, `cols` columns, [`GAP`] between)
/// holds the point `pos`, given as a fraction (0..1, 0..1) of the grid image.
pub fn cell_at(frac: egui::Vec2, n: usize, side: usize, cols: usize) -> Option<usize> {
    let cols = cols.clamp(1, n.max(1));
    let rows = n.div_ceil(cols);
    let width = (cols * side + (cols - 1) * GAP) as f32;
    let height = (rows * side + rows.saturating_sub(1) * GAP) as f32;
    let (x, y) = (frac.x * width, frac.y * height);
    if x < 0.0 || y < 0.0 {
        return None;
    }
    let pitch = (side + GAP) as f32;
    let (c, r) = ((x / pitch) as usize, (y / pitch) as usize);
    let inside = x - c as f32 * pitch < side as f32 && y - r as f32 * pitch < side as f32;
    let i = r * cols + c;
    (inside && c < cols && i < n).then_some(i)
}

/// Nearest-neighbour enlargement by a whole factor (for exports that should be visible).
pub fn upscale(img: &Picture, k: usize) -> Picture {
    let k = k.max(1);
    let c = img.channels.max(1);
    let (w, h) = (img.width * k, img.height * k);
    let mut pixels = Vec::with_capacity(w * h * c);
    for y in 0..h {
        let row = &img.pixels[(y / k) * img.width * c..(y / k + 1) * img.width * c];
        for x in 0..w {
            pixels.extend_from_slice(&row[(x / k) * c..(x / k + 1) * c]);
        }
    }
    Picture {
        width: w,
        height: h,
        channels: c,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_found_and_gaps_are_not_cells() {
        // 4 images of 28 px in 2 columns: width 58.
        let at = |x: f32, y: f32| cell_at(egui::vec2(x / 58.0, y / 58.0), 4, 28, 2);
        assert_eq!(at(1.0, 1.0), Some(0));
        assert_eq!(at(40.0, 1.0), Some(1));
        assert_eq!(at(40.0, 40.0), Some(3));
        assert_eq!(at(29.0, 5.0), None);
    }

    #[test]
    fn upscale_repeats_pixels() {
        let img = Picture::gray(2, 1, vec![0, 255]);
        let big = upscale(&img, 2);
        assert_eq!(big.pixels, vec![0, 0, 255, 255, 0, 0, 255, 255]);
    }
}

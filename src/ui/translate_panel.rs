//! The Translate tab: an image-to-image run (today a super-resolution net) on a held-out data
//! image or a picture, shown as input | bicubic | the model | original at one size, with a zoom
//! lens that shows the same spot of all four, PSNR and SSIM against the original, and export.
//! For a Laplacian pyramid (lapgan), one sample's levels side by side with a noise strength per
//! finer level, which shows the scale each level controls.

use super::actions::{Action, Payload};
use super::explore_state::ExploreState;
use super::image_view::Tex;
use crate::explore::translate::{PyramidView, TranslateInput, Translation};
use crate::explore::worker::Request;
use crate::types::grid::Picture;
use eframe::egui;
use std::sync::Arc;

/// The lens's magnification against the panels' own zoom.
const LENS_ZOOM: [f32; 3] = [2.0, 4.0, 8.0];

pub struct TranslateState {
    /// The held-out image shown when no picture is (0-based).
    pub index: usize,
    /// A picture given by the user (name, planes, width and height), shown instead of a
    /// held-out image.
    picture: Option<(String, Vec<u8>, (usize, usize))>,
    /// A CycleGAN's direction: A to B, or B to A (also which set's held-out images are shown).
    pub a_to_b: bool,
    pub result: Option<Translation>,
    /// input, bicubic, output, original
    tex: [Tex; 4],
    /// A new request is due (the model, the index or the picture changed).
    dirty: bool,
    next_id: u64,
    /// The lens's centre (fractions of the image) while the pointer is over one.
    lens: Option<egui::Pos2>,
    pub lens_zoom: f32,
    /// A pyramid's sample seed and its finer levels' noise strengths.
    pub seed: u64,
    pub strengths: Vec<f32>,
    pub pyramid: Option<PyramidView>,
    level_tex: [Tex; 3],
}

impl Default for TranslateState {
    fn default() -> Self {
        Self {
            index: 0,
            picture: None,
            a_to_b: true,
            result: None,
            tex: ["input", "bicubic", "output", "original"]
                .map(|n| Tex::named(&format!("translate-{n}"))),
            dirty: true,
            next_id: 0,
            lens: None,
            lens_zoom: LENS_ZOOM[1],
            seed: 0,
            strengths: Vec::new(),
            pyramid: None,
            level_tex: [0, 1, 2].map(|k| Tex::named(&format!("pyramid-level-{k}"))),
        }
    }
}

impl TranslateState {
    /// Another model was loaded: translate again (the same input).
    pub fn on_model_changed(&mut self) {
        self.dirty = true;
    }

    /// Translate a user's picture (planes of `width` x `height`) from now on.
    pub fn use_picture(&mut self, name: String, pixels: Vec<u8>, size: (usize, usize)) {
        self.picture = Some((name, pixels, size));
        self.dirty = true;
    }

    /// The worker's answer; an older request's is dropped.
    pub fn on_result(&mut self, ctx: &egui::Context, t: Translation) {
        if t.id + 1 != self.next_id {
            return;
        }
        let blank = Picture::default();
        // A CycleGAN's: input | output | way back | error; a super-resolution net's: input |
        // bicubic | output | original.
        let pictures = match (&t.round_trip, &t.heat) {
            (Some(back), Some(heat)) => [&t.input, &t.output, back, heat],
            _ => [
                &t.input,
                &t.bicubic,
                &t.output,
                t.original.as_ref().unwrap_or(&blank),
            ],
        };
        for (tex, p) in self.tex.iter_mut().zip(pictures) {
            if p.width > 0 {
                tex.set_picture(ctx, p);
            }
        }
        self.result = Some(t);
    }

    /// The worker's pyramid sample; an older request's is dropped.
    pub fn on_pyramid(&mut self, ctx: &egui::Context, p: PyramidView) {
        if p.id + 1 != self.next_id {
            return;
        }
        for (tex, level) in self.level_tex.iter_mut().zip(&p.levels) {
            tex.set_picture(ctx, level);
        }
        self.pyramid = Some(p);
    }

    fn request(&mut self, pyramid: bool) -> Request {
        self.dirty = false;
        let id = self.next_id;
        self.next_id += 1;
        let input = if pyramid {
            TranslateInput::Pyramid {
                seed: self.seed,
                strengths: self.strengths.clone(),
            }
        } else {
            match self.picture.clone() {
                Some((name, pixels, (width, height))) => TranslateInput::Picture {
                    name,
                    pixels,
                    width,
                    height,
                    a_to_b: self.a_to_b,
                },
                None => TranslateInput::Held {
                    index: self.index,
                    a_to_b: self.a_to_b,
                },
            }
        };
        Request::Translate { id, input }
    }
}

pub fn show(
    ui: &mut egui::Ui,
    t: &mut TranslateState,
    explore: &ExploreState,
    out: &mut Vec<Action>,
) {
    let Some(info) = explore.info.clone() else {
        ui.label("No model loaded: open a super-resolution run (train one with the SRGAN model, or `latentlab train --model srgan`).");
        if ui.button("Open checkpoint…").clicked() {
            out.push(Action::OpenCheckpoint);
        }
        return;
    };
    if info.model.kind == crate::model::ModelKind::Lapgan {
        return pyramid(ui, t, &info, out);
    }
    if !info.model.kind.is_image_to_image() {
        ui.label(format!(
            "Translate turns one image into another; the loaded model ({}) draws from a latent \
             space. Open a super-resolution run (SRGAN) to use it.",
            super::run_form::model_label(info.model.kind)
        ));
        return;
    }
    if t.dirty {
        out.push(Action::Explore(t.request(false)));
    }
    egui::Panel::left("translate-controls")
        .resizable(true)
        .default_size(280.0)
        .show(ui, |ui| controls(ui, t, &info, out));
    let name = info.model.kind.name().to_uppercase();
    egui::CentralPanel::default().show(ui, |ui| view(ui, t, &name));
}

fn controls(
    ui: &mut egui::Ui,
    t: &mut TranslateState,
    info: &crate::explore::worker::ModelInfo,
    out: &mut Vec<Action>,
) {
    super::explore_panel::model_summary(ui, info);
    let m = &info.model;
    if m.scale > 0 {
        ui.label(format!(
            "{}x: {} px in, {} px out when trained",
            m.scale,
            m.low_side(),
            m.image_size
        ));
    } else {
        ui.label(format!(
            "trained at {} px; pictures of any shape with sides in multiples of 4",
            m.image_size
        ));
    }
    ui.separator();
    let cycle = m.kind == crate::model::ModelKind::Cyclegan;
    if cycle {
        ui.heading("Direction");
        let before = t.a_to_b;
        ui.radio_value(&mut t.a_to_b, true, "A -> B (from the first set)");
        ui.radio_value(&mut t.a_to_b, false, "B -> A (from the second set)");
        t.dirty |= t.a_to_b != before;
        ui.label(&info.data_name);
        ui.separator();
    }
    ui.heading("Input");
    let held = t.result.as_ref().map_or(0, |r| r.held);
    let mut use_held = t.picture.is_none();
    if ui
        .radio_value(&mut use_held, true, "a held-out image of the data")
        .on_hover_text("shrunk as in training, so the original is known")
        .clicked()
    {
        t.picture = None;
        t.dirty = true;
    }
    ui.add_enabled_ui(use_held && held > 0, |ui| {
        ui.horizontal(|ui| {
            let before = t.index;
            if ui.button("<").on_hover_text("the previous image").clicked() {
                t.index = t.index.saturating_sub(1);
            }
            let mut n = t.index + 1;
            ui.add(
                egui::DragValue::new(&mut n)
                    .range(1..=held.max(1))
                    .prefix("# "),
            );
            t.index = n.saturating_sub(1);
            if ui.button(">").on_hover_text("the next image").clicked() {
                t.index = (t.index + 1).min(held.saturating_sub(1));
            }
            ui.label(format!("of {held}"));
            t.dirty |= t.index != before;
        });
    });
    let picture = t.picture.as_ref().map(|p| p.0.clone());
    ui.radio(picture.is_some(), "a picture (drop one on the window)")
        .on_hover_text("used as it is: there is no original to compare with");
    if let Some(name) = picture {
        ui.label(name);
    }
    if ui.button("Open a picture…").clicked() {
        out.push(Action::OpenPicture);
    }
    ui.separator();
    ui.heading("Lens");
    ui.horizontal(|ui| {
        for z in LENS_ZOOM {
            ui.selectable_value(&mut t.lens_zoom, z, format!("{z}x"));
        }
    });
    ui.label("Point at any image to look closer at the same spot in all of them.");
    ui.separator();
    let Some(r) = &t.result else { return };
    if let (Some(p), Some(s)) = (r.psnr, r.ssim) {
        egui::Grid::new("translate-scores")
            .striped(true)
            .show(ui, |ui| {
                ui.label("");
                ui.label("PSNR");
                ui.label("SSIM");
                ui.end_row();
                ui.label("bicubic");
                ui.label(format!("{:.2} dB", p.0));
                ui.label(format!("{:.3}", s.0));
                ui.end_row();
                ui.label(m.kind.name());
                ui.label(format!("{:.2} dB", p.1));
                ui.label(format!("{:.3}", s.1));
                ui.end_row();
            });
    }
    if let Some(e) = r.cycle_error {
        ui.label(format!(
            "round-trip error {e:.4} (mean absolute, pixels in [0, 1])"
        ));
    }
    ui.label(format!("{:.0} ms", r.millis));
    if ui.button("Export the output…").clicked() {
        let direction = match (cycle, t.a_to_b) {
            (true, true) => "a2b".to_string(),
            (true, false) => "b2a".to_string(),
            _ => format!("upscale {}x", m.scale),
        };
        let metadata = vec![
            ("latentlab-model", m.kind.name().to_string()),
            ("latentlab-checkpoint", info.origin.clone()),
            ("latentlab-input", r.name.clone()),
            ("latentlab-direction", direction),
        ];
        let payload = Payload::Png {
            image: Arc::new(r.output.clone()),
            scale: 1,
            metadata,
        };
        out.push(Action::export("upscaled image", "upscaled", payload));
    }
}

fn view(ui: &mut egui::Ui, t: &mut TranslateState, model: &str) {
    let Some(r) = &t.result else {
        ui.spinner();
        return;
    };
    let (w, h) = (r.output.width as f32, r.output.height as f32);
    let panels = if r.original.is_some() || r.heat.is_some() {
        4
    } else {
        3
    };
    let avail = ui.available_size();
    // One size for all: whole zooms of the output while they fit, in a row with the lens below.
    let room = egui::vec2(avail.x / panels as f32 - 12.0, avail.y * 0.45);
    let size = super::image_view::fit(egui::vec2(w, h), room);
    let names = if r.heat.is_some() {
        ["input", "translated", "and back", "round-trip error"]
    } else {
        ["input", "bicubic", model, "original"]
    };
    let full = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
    let mut hovered = None;
    ui.horizontal(|ui| {
        for (tex, name) in t.tex.iter().zip(names).take(panels) {
            ui.vertical(|ui| {
                ui.label(name);
                if let Some(resp) = tex.show_part(ui, size, full)
                    && let Some(p) = resp.hover_pos()
                {
                    let f = (p - resp.rect.min) / resp.rect.size();
                    hovered = Some(egui::pos2(f.x, f.y));
                }
            });
        }
    });
    if hovered.is_some() {
        t.lens = hovered;
    }
    let Some(c) = t.lens else {
        ui.label("(point at an image for the lens)");
        return;
    };
    let half = 0.5 / t.lens_zoom;
    let c = egui::pos2(c.x.clamp(half, 1.0 - half), c.y.clamp(half, 1.0 - half));
    let uv = egui::Rect::from_center_size(c, egui::vec2(2.0 * half, 2.0 * half));
    ui.separator();
    ui.label(format!("lens, {}x", t.lens_zoom));
    ui.horizontal(|ui| {
        for tex in t.tex.iter().take(panels) {
            tex.show_part(ui, size, uv);
        }
    });
}

/// A Laplacian pyramid: one sample's levels at one size, a noise strength per finer level.
fn pyramid(
    ui: &mut egui::Ui,
    t: &mut TranslateState,
    info: &crate::explore::worker::ModelInfo,
    out: &mut Vec<Action>,
) {
    let sides = info.model.level_sides();
    t.strengths.resize(sides.len().saturating_sub(1), 1.0);
    if t.dirty {
        out.push(Action::Explore(t.request(true)));
    }
    egui::Panel::left("pyramid-controls")
        .resizable(true)
        .default_size(280.0)
        .show(ui, |ui| {
            super::explore_panel::model_summary(ui, info);
            ui.label("Each level doubles the side and adds the detail its noise plane draws.");
            ui.horizontal(|ui| {
                let l = ui.label("Sample");
                t.dirty |= ui
                    .add(egui::DragValue::new(&mut t.seed))
                    .labelled_by(l.id)
                    .changed();
                if ui.button("Next sample").clicked() {
                    t.seed = t.seed.wrapping_add(1);
                    t.dirty = true;
                }
            });
            ui.separator();
            ui.heading("Noise per level");
            for (s, strength) in sides.iter().skip(1).zip(t.strengths.iter_mut()) {
                t.dirty |= ui
                    .add(egui::Slider::new(strength, 0.0..=2.0).text(format!("{s} px noise")))
                    .on_hover_text("1: as trained; 0: the level adds only what its input implies")
                    .changed();
            }
            if ui.button("Reset the noise").clicked() {
                t.strengths.iter_mut().for_each(|v| *v = 1.0);
                t.dirty = true;
            }
            if let Some(p) = &t.pyramid {
                ui.label(format!("{:.0} ms", p.millis));
            }
        });
    egui::CentralPanel::default().show(ui, |ui| {
        let Some(p) = &t.pyramid else {
            ui.spinner();
            return;
        };
        let finest = p.levels.last().map_or(1, |l| l.width) as f32;
        let room = egui::vec2(
            ui.available_width() / sides.len() as f32 - 12.0,
            ui.available_height() * 0.8,
        );
        let size = super::image_view::fit(egui::vec2(finest, finest), room);
        let full = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
        ui.horizontal(|ui| {
            for (tex, s) in t.level_tex.iter().zip(&sides) {
                ui.vertical(|ui| {
                    ui.label(format!("{s} px"));
                    tex.show_part(ui, size, full);
                });
            }
        });
    });
}

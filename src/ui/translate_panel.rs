//! The Translate tab: an image-to-image run (today a super-resolution net) on a held-out data
//! image or a picture, shown as input | bicubic | the model | original at one size, with a zoom
//! lens that shows the same spot of all four, PSNR and SSIM against the original, and export.

use super::actions::{Action, Payload};
use super::explore_state::ExploreState;
use super::image_view::Tex;
use crate::explore::translate::{TranslateInput, Translation};
use crate::explore::worker::Request;
use crate::types::grid::Picture;
use eframe::egui;
use std::sync::Arc;

/// The lens's magnification against the panels' own zoom.
const LENS_ZOOM: [f32; 3] = [2.0, 4.0, 8.0];

pub struct TranslateState {
    /// The held-out image shown when no picture is (0-based).
    pub index: usize,
    /// A picture given by the user, shown instead of a held-out image.
    picture: Option<TranslateInput>,
    pub result: Option<Translation>,
    /// input, bicubic, output, original
    tex: [Tex; 4],
    /// A new request is due (the model, the index or the picture changed).
    dirty: bool,
    next_id: u64,
    /// The lens's centre (fractions of the image) while the pointer is over one.
    lens: Option<egui::Pos2>,
    pub lens_zoom: f32,
}

impl Default for TranslateState {
    fn default() -> Self {
        Self {
            index: 0,
            picture: None,
            result: None,
            tex: ["input", "bicubic", "output", "original"]
                .map(|n| Tex::named(&format!("translate-{n}"))),
            dirty: true,
            next_id: 0,
            lens: None,
            lens_zoom: LENS_ZOOM[1],
        }
    }
}

impl TranslateState {
    /// Another model was loaded: translate again (the same input).
    pub fn on_model_changed(&mut self) {
        self.dirty = true;
    }

    /// Translate a user's picture (planes of `width` x `height`) from now on.
    pub fn use_picture(&mut self, name: String, pixels: Vec<u8>, (width, height): (usize, usize)) {
        self.picture = Some(TranslateInput::Picture {
            name,
            pixels,
            width,
            height,
        });
        self.dirty = true;
    }

    /// The worker's answer; an older request's is dropped.
    pub fn on_result(&mut self, ctx: &egui::Context, t: Translation) {
        if t.id + 1 != self.next_id {
            return;
        }
        let blank = Picture::default();
        let pictures = [
            &t.input,
            &t.bicubic,
            &t.output,
            t.original.as_ref().unwrap_or(&blank),
        ];
        for (tex, p) in self.tex.iter_mut().zip(pictures) {
            if p.width > 0 {
                tex.set_picture(ctx, p);
            }
        }
        self.result = Some(t);
    }

    fn request(&mut self) -> Request {
        self.dirty = false;
        let id = self.next_id;
        self.next_id += 1;
        let input = self
            .picture
            .clone()
            .unwrap_or(TranslateInput::Held { index: self.index });
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
    if !info.model.kind.is_image_to_image() {
        ui.label(format!(
            "Translate turns one image into another; the loaded model ({}) draws from a latent \
             space. Open a super-resolution run (SRGAN) to use it.",
            super::run_form::model_label(info.model.kind)
        ));
        return;
    }
    if t.dirty {
        out.push(Action::Explore(t.request()));
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
    ui.label(format!(
        "{}x: {} px in, {} px out when trained",
        m.scale,
        m.low_side(),
        m.image_size
    ));
    ui.separator();
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
    let picture = t.picture.as_ref().map(|p| match p {
        TranslateInput::Picture { name, .. } => name.clone(),
        TranslateInput::Held { .. } => String::new(),
    });
    ui.radio(picture.is_some(), "a picture (drop one on the window)")
        .on_hover_text("enlarged as it is: there is no original to compare with");
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
    ui.label(format!("{:.0} ms", r.millis));
    if ui.button("Export the output…").clicked() {
        let metadata = vec![
            ("latentlab-model", m.kind.name().to_string()),
            ("latentlab-checkpoint", info.origin.clone()),
            ("latentlab-input", r.name.clone()),
            ("latentlab-direction", format!("upscale {}x", m.scale)),
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
    let panels = if r.original.is_some() { 4 } else { 3 };
    let avail = ui.available_size();
    // One size for all: whole zooms of the output while they fit, in a row with the lens below.
    let room = egui::vec2(avail.x / panels as f32 - 12.0, avail.y * 0.45);
    let size = super::image_view::fit(egui::vec2(w, h), room);
    let names = ["input", "bicubic", model, "original"];
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

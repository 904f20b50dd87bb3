//! Explore's controls for InfoGAN's latent codes: a picker for the categorical code, a slider
//! per continuous code, and sweep strips that show each continuous code going from -2 to +2.

use super::image_view::Tex;
use crate::explore::worker::{Request, Tag};
use crate::model::ModelConfig;
use crate::types::grid::Picture;
use crate::types::noise;
use eframe::egui;
use std::sync::Arc;

/// Images per sweep strip, evenly from `-SWEEP_RANGE` to `+SWEEP_RANGE`.
pub const SWEEP_STEPS: usize = 9;
pub const SWEEP_RANGE: f32 = 2.0;

pub struct Codes {
    /// The categorical code's value.
    pub category: usize,
    /// The continuous codes' values.
    pub cont: Vec<f32>,
    /// One row per continuous code, `SWEEP_STEPS` images each.
    pub sweep: Option<Arc<Picture>>,
    sweep_tex: Tex,
    /// Whether `sweep` is what `sweep_tex` shows.
    uploaded: bool,
    next_id: u64,
}

impl Default for Codes {
    fn default() -> Self {
        Self {
            category: 0,
            cont: Vec::new(),
            sweep: None,
            sweep_tex: Tex::named("infogan-sweep"),
            uploaded: false,
            next_id: 0,
        }
    }
}

impl Codes {
    /// Fit the values to a newly loaded model (InfoGAN or not).
    pub fn on_loaded(&mut self, model: &ModelConfig) {
        if self.category >= model.num_classes.max(1) {
            self.category = 0;
        }
        self.cont.resize(model.codes, 0.0);
        self.sweep = None;
    }

    /// G's code input `[categories + codes]`: the categorical value one-hot, then the
    /// continuous values.
    pub fn vector(&self, model: &ModelConfig) -> Vec<f32> {
        let mut cont = self.cont.clone();
        cont.resize(model.codes, 0.0);
        noise::conditions(&[self.category as u8], model.num_classes, &cont)
    }

    /// Take the codes back from an exported image's condition vector.
    pub fn restore(&mut self, model: &ModelConfig, v: &[f32]) -> bool {
        if v.len() != model.cond_dim() {
            return false;
        }
        let (cat, cont) = v.split_at(model.num_classes);
        self.category = cat
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        self.cont = cont.to_vec();
        true
    }

    /// Readable export metadata (the full vector is exported as `label_mix`).
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        vec![
            ("code", self.category.to_string()),
            ("cont", crate::export::format_floats(&self.cont)),
        ]
    }

    /// The sweep strips for latent `z`: row i varies continuous code i, the others keep their
    /// values.
    pub fn sweep_request(&mut self, model: &ModelConfig, z: &[f32]) -> Option<Request> {
        if model.codes == 0 {
            return None;
        }
        let mut zs = Vec::new();
        let mut labels = Vec::new();
        for code in 0..model.codes {
            for step in 0..SWEEP_STEPS {
                let t = -SWEEP_RANGE + 2.0 * SWEEP_RANGE * step as f32 / (SWEEP_STEPS - 1) as f32;
                let mut v = self.vector(model);
                v[model.num_classes + code] = t;
                zs.extend_from_slice(z);
                labels.extend(v);
            }
        }
        self.next_id += 1;
        Some(Request::Generate {
            tag: Tag::Sweep,
            id: self.next_id,
            z: zs,
            labels: Some(labels),
            cols: SWEEP_STEPS,
        })
    }

    pub fn on_sweep(&mut self, grid: Picture) {
        self.sweep = Some(Arc::new(grid));
        self.uploaded = false;
    }

    /// The controls; true when a value changed.
    pub fn show(&mut self, ui: &mut egui::Ui, model: &ModelConfig) -> bool {
        let mut changed = false;
        ui.label("Categorical code")
            .on_hover_text("learned without labels: each value tends to draw one kind of image");
        ui.horizontal_wrapped(|ui| {
            for k in 0..model.num_classes {
                if ui
                    .selectable_label(self.category == k, k.to_string())
                    .clicked()
                    && self.category != k
                {
                    self.category = k;
                    changed = true;
                }
            }
        });
        for (i, v) in self.cont.iter_mut().enumerate() {
            changed |= ui
                .add(
                    egui::Slider::new(v, -SWEEP_RANGE..=SWEEP_RANGE)
                        .text(format!("code c{i}"))
                        .fixed_decimals(2),
                )
                .on_hover_text("trained on [-1, 1]; beyond it the code extrapolates")
                .changed();
        }
        if let Some(sweep) = self.sweep.clone() {
            ui.label(format!(
                "Sweeps: each row moves one continuous code from -{SWEEP_RANGE} to +{SWEEP_RANGE}"
            ));
            if !self.uploaded || !self.sweep_tex.is_set() {
                self.sweep_tex.set_picture(ui.ctx(), &sweep);
                self.uploaded = true;
            }
            let w = ui.available_width().min(420.0);
            let h = w * sweep.height as f32 / sweep.width.max(1) as f32;
            self.sweep_tex.show(ui, egui::vec2(w, h));
        }
        changed
    }
}

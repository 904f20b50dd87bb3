//! The Explore tab: the generated image large and crisp, one slider per latent dimension,
//! randomise / reset / truncation, a label picker with a two-label blend for conditional models,
//! the difference view, and for a 2-D VAE the manifold grid and the encoded data scatter.

use super::actions::{Action, Payload};
use super::colormap::{self, ColorMap};
use super::gpu_view;
use super::image_view::{Tex, fit};
use super::info_codes::Codes;
use super::settings::Settings;
use crate::data::DataSource;
use crate::explore::worker::{ModelInfo, Request, Tag};
use crate::export::{LatentRecord, format_floats};
use crate::model::ModelKind;
use crate::types::grid::GrayImage;
use crate::types::noise;
use eframe::egui;
use std::sync::Arc;

/// Points of the manifold grid per side, and its latent range.
pub const MANIFOLD_SIDE: usize = 15;
pub const MANIFOLD_RANGE: f32 = 3.0;
/// Encoded images shown in the VAE scatter.
pub const SCATTER_POINTS: usize = 2000;

pub struct ExploreState {
    pub info: Option<ModelInfo>,
    pub z: Vec<f32>,
    pub seed: u64,
    /// Randomise redraws entries beyond this |z| (3 = off).
    pub truncation: f32,
    pub label_a: usize,
    pub label_b: usize,
    /// Share of `label_b` in the condition (0 = only `label_a`).
    pub mix: f32,
    pub image: Option<Arc<GrayImage>>,
    /// The image before the last change, for the difference view.
    pub reference: Option<Arc<GrayImage>>,
    pub diff_view: bool,
    pub last_generate_ms: f32,
    next_id: u64,
    dirty: bool,
    pub manifold: Option<Arc<GrayImage>>,
    manifold_uploaded: bool,
    pub scatter: Option<(Vec<[f32; 2]>, Vec<u8>)>,
    tex: Tex,
    tex_key: Option<(u64, u64, ColorMap, bool)>,
    manifold_tex: Tex,
    /// Whether the wgpu image view is available (set by the app at start).
    pub gpu: bool,
    pub loading: bool,
    /// InfoGAN's codes (unused by other models).
    pub codes: Codes,
}

impl Default for ExploreState {
    fn default() -> Self {
        Self {
            info: None,
            z: Vec::new(),
            seed: 0,
            truncation: 3.0,
            label_a: 0,
            label_b: 1,
            mix: 0.0,
            image: None,
            reference: None,
            diff_view: false,
            last_generate_ms: 0.0,
            next_id: 0,
            dirty: false,
            manifold: None,
            manifold_uploaded: false,
            scatter: None,
            tex: Tex::named("explore-image"),
            tex_key: None,
            manifold_tex: Tex::named("vae-manifold"),
            gpu: false,
            loading: false,
            codes: Codes::default(),
        }
    }
}

impl ExploreState {
    pub fn conditional(&self) -> bool {
        self.info
            .as_ref()
            .is_some_and(|i| i.model.kind.is_conditional())
    }

    fn classes(&self) -> usize {
        self.info.as_ref().map_or(0, |i| i.model.num_classes)
    }

    /// G's condition for the image: the soft label (conditional models) or InfoGAN's codes.
    pub fn label(&self) -> Option<Vec<f32>> {
        let info = self.info.as_ref()?;
        if info.model.kind.has_codes() {
            return Some(self.codes.vector(&info.model));
        }
        self.conditional()
            .then(|| noise::blended_label(self.classes(), self.label_a, self.label_b, self.mix))
    }

    /// A new model arrived: keep the latent if it still fits, else draw one from the seed.
    /// Returns the requests to send (first image, VAE views).
    pub fn on_loaded(&mut self, info: ModelInfo) -> Vec<Request> {
        let dim = info.model.latent_dim;
        let classes = info.model.num_classes;
        self.loading = false;
        self.manifold = None;
        self.scatter = None;
        self.reference = None;
        if self.z.len() != dim {
            self.z = noise::truncated_gaussian(self.seed, dim, self.truncation);
        }
        if self.label_a >= classes.max(1) {
            self.label_a = 0;
        }
        if self.label_b >= classes.max(1) {
            self.label_b = classes.saturating_sub(1).min(1);
        }
        self.codes.on_loaded(&info.model);
        let mut requests = Vec::new();
        if info.model.kind == ModelKind::Vae && dim == 2 {
            let n = MANIFOLD_SIDE;
            let mut z = Vec::with_capacity(n * n * 2);
            for r in 0..n {
                for c in 0..n {
                    let t = |i: usize| {
                        -MANIFOLD_RANGE + 2.0 * MANIFOLD_RANGE * i as f32 / (n - 1) as f32
                    };
                    // Rows go down the screen: the top row is the largest z1.
                    z.extend([t(c), -t(r)]);
                }
            }
            requests.push(Request::Generate {
                tag: Tag::Manifold,
                id: 0,
                z,
                labels: None,
                cols: n,
            });
            if info.has_encoder {
                let data = info
                    .data_source
                    .parse::<DataSource>()
                    .unwrap_or(DataSource::Default);
                requests.push(Request::Encode {
                    data,
                    n: SCATTER_POINTS,
                });
            }
        }
        self.info = Some(info);
        self.dirty = true;
        requests
    }

    pub fn on_manifold(&mut self, grid: GrayImage) {
        self.manifold = Some(Arc::new(grid));
        self.manifold_uploaded = false;
    }

    /// The worker answers in request order and drops superseded requests, so every reply is
    /// the newest image there is.
    pub fn on_image(&mut self, grid: GrayImage, millis: f32) {
        self.image = Some(Arc::new(grid));
        self.last_generate_ms = millis;
    }

    /// Take the latent and label from an exported PNG's metadata.
    pub fn restore(&mut self, r: &LatentRecord) -> Result<(), String> {
        let Some(info) = &self.info else {
            return Err("load a model first, then drop the image again".into());
        };
        if r.z.len() != info.model.latent_dim {
            return Err(format!(
                "the image's latent has {} dimensions, the loaded model {}",
                r.z.len(),
                info.model.latent_dim
            ));
        }
        self.reference = self.image.clone();
        self.z = r.z.clone();
        if let Some(seed) = r.seed {
            self.seed = seed;
        }
        if let Some(label) = &r.label
            && info.model.kind.has_codes()
        {
            self.codes.restore(&info.model, label);
        } else if let Some(label) = &r.label
            && label.len() == info.model.num_classes
        {
            let mut order: Vec<usize> = (0..label.len()).collect();
            order.sort_by(|&a, &b| label[b].total_cmp(&label[a]));
            self.label_a = order[0];
            self.label_b = order.get(1).copied().unwrap_or(0);
            self.mix = label[self.label_b].clamp(0.0, 1.0);
            if self.mix == 0.0 {
                self.label_b = if self.label_a == 0 { 1 } else { 0 };
            }
        }
        self.dirty = true;
        Ok(())
    }

    /// Export metadata describing the current image.
    pub fn metadata(&self) -> Vec<(&'static str, String)> {
        let mut m = vec![
            ("z", format_floats(&self.z)),
            ("seed", self.seed.to_string()),
        ];
        if let Some(info) = &self.info {
            m.push(("model", info.model.kind.name().to_string()));
            m.push(("checkpoint", info.origin.clone()));
            m.push(("step", info.step.to_string()));
        }
        if self.info.as_ref().is_some_and(|i| i.model.kind.has_codes()) {
            m.extend(self.codes.metadata());
        }
        if let Some(label) = self.label() {
            if let Some(info) = self.info.as_ref().filter(|i| i.model.kind.is_conditional()) {
                let name = |i: usize| {
                    info.class_names
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| i.to_string())
                };
                let text = if self.mix > 0.0 {
                    format!(
                        "{} ({:.2}) + {} ({:.2})",
                        name(self.label_a),
                        1.0 - self.mix,
                        name(self.label_b),
                        self.mix
                    )
                } else {
                    name(self.label_a)
                };
                m.push(("label", text));
            }
            m.push(("label_mix", format_floats(&label)));
        }
        m
    }

    /// The generate requests for a changed latent or condition, if anything changed: the
    /// image, and InfoGAN's sweep strips. The app asks every frame, whichever tab is shown, so
    /// the image is ready when Explore opens.
    pub fn pending_requests(&mut self) -> Vec<Request> {
        if !self.dirty {
            return Vec::new();
        }
        let Some(model) = self.info.as_ref().map(|i| i.model.clone()) else {
            return Vec::new();
        };
        self.dirty = false;
        let mut out = vec![self.request()];
        out.extend(self.codes.sweep_request(&model, &self.z));
        out
    }

    fn request(&mut self) -> Request {
        self.next_id += 1;
        Request::Generate {
            tag: Tag::Explore,
            id: self.next_id,
            z: self.z.clone(),
            labels: self.label(),
            cols: 1,
        }
    }

    fn randomise(&mut self, seed: u64) {
        self.reference = self.image.clone();
        self.seed = seed;
        self.z = noise::truncated_gaussian(seed, self.z.len(), self.truncation);
        self.dirty = true;
    }
}

fn content_hash(img: &GrayImage) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    img.hash(&mut h);
    h.finish()
}

fn class_name(info: &ModelInfo, i: usize) -> String {
    info.class_names
        .get(i)
        .cloned()
        .unwrap_or_else(|| format!("class {i}"))
}

pub fn show(ui: &mut egui::Ui, s: &mut Settings, e: &mut ExploreState, out: &mut Vec<Action>) {
    egui::Panel::left("explore-controls")
        .resizable(true)
        .default_size(300.0)
        .show(ui, |ui| controls(ui, s, e, out));
    egui::CentralPanel::default().show(ui, |ui| view(ui, s, e, out));
}

fn controls(ui: &mut egui::Ui, _s: &mut Settings, e: &mut ExploreState, out: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| {
        if ui.button("Open checkpoint…").clicked() {
            out.push(Action::OpenCheckpoint);
        }
    });
    let Some(info) = e.info.clone() else {
        if e.loading {
            ui.horizontal(|ui| {
                ui.add(egui::Spinner::new());
                ui.label("loading the model…");
            });
        } else {
            ui.label("No model loaded: open a checkpoint, drop a run directory here, or train one and press \"Explore this model\".");
        }
        return;
    };
    ui.label(format!(
        "{} · {} · step {}",
        super::run_form::model_label(info.model.kind),
        info.data_name,
        info.step
    ))
    .on_hover_text(&info.origin);
    ui.separator();
    ui.horizontal(|ui| {
        if ui.button("Randomise").clicked() {
            let seed = e.seed.wrapping_add(1);
            e.randomise(seed);
        }
        let l = ui.label("seed");
        let mut seed = e.seed;
        if ui
            .add(egui::DragValue::new(&mut seed))
            .labelled_by(l.id)
            .changed()
        {
            e.randomise(seed);
        }
    });
    ui.horizontal(|ui| {
        if ui.button("Reset to zero").clicked() {
            e.reference = e.image.clone();
            e.z.iter_mut().for_each(|v| *v = 0.0);
            e.dirty = true;
        }
        ui.add(egui::Slider::new(&mut e.truncation, 0.25..=3.0).text("truncation"))
            .on_hover_text("Randomise redraws latent entries beyond this magnitude (3 = off)");
    });
    if info.model.kind.has_codes() {
        ui.separator();
        if e.codes.show(ui, &info.model) {
            e.reference = e.image.clone();
            e.dirty = true;
        }
    }
    if info.model.kind.is_conditional() {
        ui.separator();
        ui.label("Condition");
        ui.horizontal_wrapped(|ui| {
            for i in 0..info.model.num_classes {
                let selected = e.label_a == i;
                if ui
                    .selectable_label(selected, class_name(&info, i))
                    .clicked()
                    && !selected
                {
                    e.reference = e.image.clone();
                    e.label_a = i;
                    e.dirty = true;
                }
            }
        });
        ui.horizontal(|ui| {
            let l = ui.label("blend with");
            let before = e.label_b;
            egui::ComboBox::from_id_salt("blend-label")
                .selected_text(class_name(&info, e.label_b))
                .show_ui(ui, |ui| {
                    for i in 0..info.model.num_classes {
                        ui.selectable_value(&mut e.label_b, i, class_name(&info, i));
                    }
                })
                .response
                .labelled_by(l.id);
            if before != e.label_b {
                e.dirty = true;
            }
        });
        let r = ui.add(egui::Slider::new(&mut e.mix, 0.0..=1.0).text("mix"));
        if r.drag_started() {
            e.reference = e.image.clone();
        }
        if r.changed() {
            e.dirty = true;
        }
    }
    ui.separator();
    ui.label(format!("Latent ({} dimensions)", e.z.len()));
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for i in 0..e.z.len() {
                let r = ui.add(
                    egui::Slider::new(&mut e.z[i], -3.0..=3.0)
                        .text(format!("z{i}"))
                        .fixed_decimals(2),
                );
                if r.drag_started() {
                    e.reference = e.image.clone();
                }
                if r.changed() {
                    e.dirty = true;
                }
            }
        });
}

fn view(ui: &mut egui::Ui, s: &mut Settings, e: &mut ExploreState, out: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("Colour map");
        egui::ComboBox::from_id_salt("colormap")
            .selected_text(s.colormap.name())
            .show_ui(ui, |ui| {
                for m in ColorMap::ALL {
                    ui.selectable_value(&mut s.colormap, m, m.name());
                }
            })
            .response
            .labelled_by(l.id);
        ui.checkbox(&mut e.diff_view, "Difference view")
            .on_hover_text(
                "Heat map of |G(z') - G(z)|: where the image changed with the last move",
            );
        if let Some(img) = e.image.clone()
            && ui.button("Export image (PNG)…").clicked()
        {
            out.push(Action::export(
                "image",
                &format!("latentlab-seed{}", e.seed),
                Payload::Png {
                    image: img,
                    scale: 8,
                    metadata: e.metadata(),
                },
            ));
        }
        ui.label(format!(
            "{} · {:.2} ms per image",
            if e.gpu { "GPU view" } else { "CPU view" },
            e.last_generate_ms
        ));
    });
    let Some(img) = e.image.clone() else {
        return;
    };
    let vae2d = e.manifold.is_some();
    let avail = ui.available_size();
    let side = if vae2d {
        (avail.x * 0.5).min(avail.y)
    } else {
        avail.x.min(avail.y)
    };
    let size = fit(
        egui::vec2(img.width as f32, img.height as f32),
        egui::vec2(side, side),
    );
    let reference = e.diff_view.then(|| e.reference.clone()).flatten();
    ui.horizontal_top(|ui| {
        if e.gpu {
            let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
            gpu_view::paint(
                ui,
                rect,
                gpu_view::ImageViewCallback {
                    current: img.clone(),
                    reference,
                    map: s.colormap.index(),
                },
            );
        } else {
            // Content hashes, not pointers: a freed image's address can be reused by the next.
            let key = (
                content_hash(&img),
                reference.as_deref().map_or(0, content_hash),
                s.colormap,
                e.diff_view,
            );
            if e.tex_key != Some(key) {
                let rgba = match &reference {
                    Some(r) if r.pixels.len() == img.pixels.len() => {
                        colormap::difference(&img.pixels, &r.pixels)
                    }
                    _ => colormap::colorize(&img.pixels, s.colormap),
                };
                e.tex.set_rgba(ui.ctx(), img.width, img.height, &rgba);
                e.tex_key = Some(key);
            }
            e.tex.show(ui, size);
        }
        if vae2d {
            ui.vertical(|ui| vae_views(ui, e));
        }
    });
    if e.diff_view && e.reference.is_none() {
        ui.label("Move a slider: the difference view shows where the image changed.");
    }
}

/// The 2-D VAE's decoded manifold and the encoded data, coloured by label; clicking the
/// scatter moves the latent there.
fn vae_views(ui: &mut egui::Ui, e: &mut ExploreState) {
    if let Some(m) = &e.manifold
        && !e.manifold_uploaded
    {
        e.manifold_tex.set_gray(ui.ctx(), m);
        e.manifold_uploaded = true;
    }
    let w = ui.available_width();
    ui.label(format!(
        "Decoded manifold, z in [-{MANIFOLD_RANGE}, {MANIFOLD_RANGE}]²"
    ));
    e.manifold_tex
        .show(ui, egui::vec2(w, ui.available_height() * 0.5));
    let Some((points, labels)) = &e.scatter else {
        return;
    };
    let names = e
        .info
        .as_ref()
        .map(|i| i.class_names.clone())
        .unwrap_or_default();
    let z = [
        e.z.first().copied().unwrap_or(0.0) as f64,
        e.z.get(1).copied().unwrap_or(0.0) as f64,
    ];
    let classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    let color = |c: usize| -> egui::Color32 {
        egui::ecolor::Hsva::new(c as f32 / classes.max(1) as f32, 0.8, 0.9, 1.0).into()
    };
    // A key row instead of the plot legend, which cannot fit ten classes in a short plot.
    ui.horizontal_wrapped(|ui| {
        ui.label("Encoded data:");
        for c in 0..classes {
            ui.colored_label(color(c), names.get(c).cloned().unwrap_or(c.to_string()));
        }
        ui.label("(white cross: current z)");
    });
    let response = egui_plot::Plot::new("vae-scatter")
        .data_aspect(1.0)
        .x_axis_label("z0")
        .y_axis_label("z1")
        .show(ui, |p| {
            for c in 0..classes {
                let pts: Vec<[f64; 2]> = points
                    .iter()
                    .zip(labels)
                    .filter(|(_, l)| **l as usize == c)
                    .map(|(p, _)| [p[0] as f64, p[1] as f64])
                    .collect();
                p.points(
                    egui_plot::Points::new(names.get(c).cloned().unwrap_or(c.to_string()), pts)
                        .radius(1.5)
                        .color(color(c)),
                );
            }
            p.points(
                egui_plot::Points::new("current z", vec![z])
                    .radius(6.0)
                    .shape(egui_plot::MarkerShape::Cross)
                    .color(egui::Color32::WHITE),
            );
            p.pointer_coordinate()
        });
    if response.response.clicked()
        && let Some(pos) = response.inner
    {
        e.reference = e.image.clone();
        e.z[0] = pos.x as f32;
        if e.z.len() > 1 {
            e.z[1] = pos.y as f32;
        }
        e.dirty = true;
    }
}

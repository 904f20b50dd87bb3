//! Explore's Directions mode: one slider per named direction in units of its sigma, computing
//! principal directions off the UI thread, renaming and saving them, and new directions from
//! the classifier's labels or from examples sorted into two bins.

use super::actions::{Action, Payload};
use super::image_view::Tex;
use crate::explore::attributes;
use crate::explore::directions::{DirSpace, Direction, DirectionsFile, add_scaled};
use crate::explore::jobs::JobKind;
use crate::explore::pca::{DEFAULT_COMPONENTS, DEFAULT_SAMPLES};
use crate::explore::worker::{ModelInfo, Request, Tag};
use crate::types::grid::{self, Picture};
use crate::types::noise;
use eframe::egui;
use std::path::PathBuf;

/// Candidate images offered for the example bins.
pub const CANDIDATES: usize = 12;
/// Slider range, in sigmas.
pub const AMOUNT_RANGE: f32 = 4.0;

pub struct DirectionsState {
    pub list: Vec<Direction>,
    /// Each direction's slider, in units of its sigma.
    pub amounts: Vec<f32>,
    /// Where Save writes (the file they were loaded from, or the run's cache file).
    pub file: Option<PathBuf>,
    /// Changed since loaded or saved (renamed, added).
    pub unsaved: bool,
    pub samples: usize,
    pub count: usize,
    pub attr_from: usize,
    pub attr_to: usize,
    /// Latents sorted into bin A and bin B.
    pub bins: [Vec<Vec<f32>>; 2],
    pub bin_name: String,
    /// Candidate latents and their images.
    pub candidates: Vec<(Vec<f32>, Picture)>,
    candidate_tex: Vec<Tex>,
    candidates_uploaded: bool,
    candidate_seed: u64,
    /// Which factor each computed direction moves (colour shapes runs).
    pub factors: Option<Vec<crate::explore::factors::FactorRow>>,
    /// The latent the list moves (a style generator's computed directions are in W).
    pub space: DirSpace,
}

impl Default for DirectionsState {
    fn default() -> Self {
        Self {
            list: Vec::new(),
            amounts: Vec::new(),
            file: None,
            unsaved: false,
            samples: DEFAULT_SAMPLES,
            count: DEFAULT_COMPONENTS,
            attr_from: 1,
            attr_to: 7,
            bins: [Vec::new(), Vec::new()],
            bin_name: "my direction".into(),
            candidates: Vec::new(),
            candidate_tex: Vec::new(),
            candidates_uploaded: false,
            candidate_seed: 1000,
            factors: None,
            space: DirSpace::Z,
        }
    }
}

impl DirectionsState {
    /// A new model: another model's directions do not apply, even at the same latent size (its
    /// own are loaded from beside its run when they were saved). The settings stay.
    pub fn on_model(&mut self) {
        *self = Self {
            samples: self.samples,
            count: self.count,
            attr_from: self.attr_from,
            attr_to: self.attr_to,
            candidate_seed: self.candidate_seed,
            ..Self::default()
        };
    }

    /// Replace the list (a computed or loaded set, moving `space`); `file` is where Save will
    /// write.
    pub fn set(
        &mut self,
        list: Vec<Direction>,
        space: DirSpace,
        file: Option<PathBuf>,
        unsaved: bool,
    ) {
        self.amounts = vec![0.0; list.len()];
        self.list = list;
        self.space = space;
        self.factors = None;
        self.file = file;
        self.unsaved = unsaved;
    }

    pub fn push(&mut self, d: Direction) {
        self.list.push(d);
        self.amounts.push(0.0);
        self.unsaved = true;
    }

    /// The offset of the sliders in `space` (`[dim]`): `sum(amount_i * sigma_i * u_i)`, zeros
    /// when the list moves the other latent.
    pub fn offset(&self, space: DirSpace, dim: usize) -> Vec<f32> {
        let mut out = vec![0.0; dim];
        if space != self.space {
            return out;
        }
        for (d, a) in self.list.iter().zip(&self.amounts) {
            if *a != 0.0 && d.vector.len() == dim {
                add_scaled(&mut out, &d.vector, a * d.sigma);
            }
        }
        out
    }

    /// The sliders that are not at 0, for export metadata: `name=amount` in sigmas.
    pub fn edits(&self) -> Vec<String> {
        self.list
            .iter()
            .zip(&self.amounts)
            .filter(|(_, a)| **a != 0.0)
            .map(|(d, a)| format!("{}={a:.2}", d.name))
            .collect()
    }

    pub fn file_contents(&self, checkpoint: Option<String>) -> DirectionsFile {
        DirectionsFile {
            space: self.space,
            directions: self.list.clone(),
            checkpoint,
        }
    }

    pub fn on_candidates(&mut self, values: &[f32], side: usize, channels: usize) {
        let px = channels * side * side;
        for ((_, img), chunk) in self.candidates.iter_mut().zip(values.chunks(px)) {
            *img = grid::grid(chunk, 1, side, channels, 1);
        }
        self.candidates_uploaded = false;
    }

    fn new_candidates(&mut self, latent_dim: usize, label: Option<Vec<f32>>) -> Request {
        self.candidate_seed += 1;
        let z = noise::gaussian(self.candidate_seed, CANDIDATES * latent_dim);
        self.candidates = z
            .chunks(latent_dim)
            .map(|r| (r.to_vec(), Picture::default()))
            .collect();
        Request::Generate {
            tag: Tag::Bins,
            id: self.candidate_seed,
            labels: label.map(|l| (0..CANDIDATES).flat_map(|_| l.clone()).collect()),
            z,
            cols: CANDIDATES,
        }
    }
}

/// What the directions controls changed.
#[derive(Default)]
pub struct Changed {
    /// A slider moved: regenerate.
    pub latent: bool,
    /// A slider started moving: keep the current image as the difference view's reference.
    pub drag_started: bool,
}

/// The Directions mode's controls. `busy`: a job is running (its progress is shown above).
pub fn controls(
    ui: &mut egui::Ui,
    d: &mut DirectionsState,
    info: &ModelInfo,
    label: Option<Vec<f32>>,
    busy: bool,
    out: &mut Vec<Action>,
) -> Changed {
    let mut changed = Changed::default();
    ui.horizontal_wrapped(|ui| {
        let compute = ui
            .add_enabled(!busy, egui::Button::new("Compute directions"))
            .on_hover_text(
                "GANSpace: PCA of G's first hidden layer over sampled latents, mapped back to \
                 latent space (a VAE: PCA of its encoded data)",
            );
        if compute.clicked() {
            out.push(Action::Job(JobKind::Directions {
                n: d.samples,
                k: d.count,
                cond: label.clone(),
            }));
        }
        let l = ui.label("samples");
        ui.add(egui::DragValue::new(&mut d.samples).range(100..=50_000))
            .labelled_by(l.id);
        let l = ui.label("keep");
        ui.add(egui::DragValue::new(&mut d.count).range(1..=100))
            .labelled_by(l.id);
    });
    ui.horizontal_wrapped(|ui| {
        if ui.button("Load…").clicked() {
            out.push(Action::LoadDirections);
        }
        let has = !d.list.is_empty();
        if let Some(path) = d.file.clone()
            && ui
                .add_enabled(has && d.unsaved, egui::Button::new("Save"))
                .on_hover_text(format!("Write the directions to {}", path.display()))
                .clicked()
        {
            let bytes = d.file_contents(Some(info.origin.clone())).to_json();
            out.push(Action::SaveDirections { path, bytes });
            d.unsaved = false;
        }
        if ui.add_enabled(has, egui::Button::new("Save as…")).clicked() {
            out.push(Action::export(
                "directions",
                "directions",
                Payload::Json(d.file_contents(Some(info.origin.clone())).to_json()),
            ));
        }
        if ui
            .add_enabled(
                d.amounts.iter().any(|a| *a != 0.0),
                egui::Button::new("Reset"),
            )
            .on_hover_text("All direction sliders back to 0")
            .clicked()
        {
            d.amounts.iter_mut().for_each(|a| *a = 0.0);
            changed.latent = true;
        }
    });
    if let Some(f) = &d.file {
        ui.small(format!(
            "{}{}",
            f.display(),
            if d.unsaved { " (unsaved changes)" } else { "" }
        ));
    }
    if !info.model.is_conditional() && !info.model.kind.has_codes() {
        from_labels(ui, d, info, busy, out);
    }
    egui::CollapsingHeader::new("From examples (two bins)")
        .id_salt("bins")
        .show(ui, |ui| bins(ui, d, info, label.clone(), out));
    ui.separator();
    if d.list.is_empty() {
        ui.label("No directions yet: compute them, or load a directions file.");
        return changed;
    }
    egui::ScrollArea::vertical()
        .id_salt("direction-sliders")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for i in 0..d.list.len() {
                ui.horizontal(|ui| {
                    let name =
                        ui.add(egui::TextEdit::singleline(&mut d.list[i].name).desired_width(80.0));
                    if name.changed() {
                        d.unsaved = true;
                    }
                    let r = ui.add(
                        egui::Slider::new(&mut d.amounts[i], -AMOUNT_RANGE..=AMOUNT_RANGE)
                            .text(d.list[i].name.clone())
                            .suffix("σ")
                            .fixed_decimals(2),
                    );
                    if let Some(ev) = d.list[i].explained_variance {
                        r.clone()
                            .on_hover_text(format!("{:.1}% of the variance", 100.0 * ev));
                    }
                    changed.drag_started |= r.drag_started();
                    changed.latent |= r.changed();
                    if let Some(row) = d.factors.as_ref().and_then(|f| f.get(i))
                        && let Some((factor, share)) = row.most()
                    {
                        ui.small(format!("moves {factor} ({:.0}%)", 100.0 * share))
                            .on_hover_text(factor_text(row));
                    }
                });
            }
        });
    changed
}

/// Every factor's share of its range that a direction moves (from -2 to +2 sigma).
fn factor_text(row: &crate::explore::factors::FactorRow) -> String {
    let mut text = String::from("share of each factor's range moved from -2σ to +2σ:");
    for (name, e) in crate::explore::factors::FACTORS.iter().zip(&row.effects) {
        if let Some(e) = e {
            text.push_str(&format!("\n{name}: {:.0}%", 100.0 * e));
        }
    }
    if let Some(share) = row.share_of_most() {
        text.push_str(&format!(
            "\n{:.0}% of its effect falls on the factor it moves most",
            100.0 * share
        ));
    }
    text
}

fn class_name(info: &ModelInfo, i: usize) -> String {
    info.class_names
        .get(i)
        .cloned()
        .unwrap_or_else(|| i.to_string())
}

fn from_labels(
    ui: &mut egui::Ui,
    d: &mut DirectionsState,
    info: &ModelInfo,
    busy: bool,
    out: &mut Vec<Action>,
) {
    let classes = info.class_names.len();
    if classes < 2 {
        return;
    }
    d.attr_from = d.attr_from.min(classes - 1);
    d.attr_to = d.attr_to.min(classes - 1);
    ui.horizontal_wrapped(|ui| {
        ui.label("From labels: more like");
        for (salt, value) in [("attr-to", &mut d.attr_to), ("attr-from", &mut d.attr_from)] {
            egui::ComboBox::from_id_salt(salt)
                .width(60.0)
                .selected_text(class_name(info, *value))
                .show_ui(ui, |ui| {
                    for c in 0..classes {
                        ui.selectable_value(value, c, class_name(info, c));
                    }
                });
            if salt == "attr-to" {
                ui.label("than");
            }
        }
        if ui
            .add_enabled(
                !busy && d.attr_from != d.attr_to,
                egui::Button::new("Add"),
            )
            .on_hover_text("The classifier labels generated images; the difference of the two classes' mean latents")
            .clicked()
        {
            out.push(Action::Job(JobKind::Attribute {
                from: d.attr_from,
                to: d.attr_to,
                n: attributes::DEFAULT_LABELLED,
            }));
        }
    });
}

/// Drag candidates (or press A / B under them) into two bins; the difference of the bins'
/// mean latents becomes a direction.
fn bins(
    ui: &mut egui::Ui,
    d: &mut DirectionsState,
    info: &ModelInfo,
    label: Option<Vec<f32>>,
    out: &mut Vec<Action>,
) {
    if ui.button("New candidates").clicked() {
        out.push(Action::Explore(
            d.new_candidates(info.model.latent_dim, label),
        ));
    }
    if !d.candidates_uploaded && d.candidates.iter().all(|(_, img)| img.width > 0) {
        d.candidate_tex = d
            .candidates
            .iter()
            .enumerate()
            .map(|(i, (_, img))| {
                let mut t = Tex::named(&format!("bin-candidate-{i}"));
                t.set_picture(ui.ctx(), img);
                t
            })
            .collect();
        d.candidates_uploaded = true;
    }
    let mut moved: Option<(usize, usize)> = None;
    if d.candidates_uploaded && !d.candidates.is_empty() {
        // A fixed grid: wrapped rows of vertical cells would widen the side panel.
        egui::Grid::new("bin-candidates")
            .spacing(egui::vec2(6.0, 6.0))
            .show(ui, |ui| {
                for (i, tex) in d.candidate_tex.iter().enumerate() {
                    ui.vertical(|ui| {
                        let id = ui.scope_id().with(("bin-candidate", i));
                        ui.dnd_drag_source(id, i, |ui| {
                            tex.show(ui, egui::vec2(40.0, 40.0));
                        });
                        ui.horizontal(|ui| {
                            if ui.small_button("A").on_hover_text("Into bin A").clicked() {
                                moved = Some((i, 0));
                            }
                            if ui.small_button("B").on_hover_text("Into bin B").clicked() {
                                moved = Some((i, 1));
                            }
                        });
                    });
                    if i % 4 == 3 {
                        ui.end_row();
                    }
                }
            });
    }
    ui.horizontal(|ui| {
        for (bin, name) in ["A", "B"].iter().enumerate() {
            let frame = egui::Frame::default().inner_margin(6.0);
            let (_, dropped) = ui.dnd_drop_zone::<usize, ()>(frame, |ui| {
                ui.set_min_size(egui::vec2(110.0, 30.0));
                ui.label(format!("bin {name}: {} images", d.bins[bin].len()));
            });
            if let Some(i) = dropped {
                moved = Some((*i, bin));
            }
        }
        if ui.small_button("Empty bins").clicked() {
            d.bins = [Vec::new(), Vec::new()];
        }
    });
    if let Some((i, bin)) = moved
        && let Some((z, _)) = d.candidates.get(i)
    {
        d.bins[bin].push(z.clone());
    }
    ui.horizontal(|ui| {
        let l = ui.label("name");
        ui.add(egui::TextEdit::singleline(&mut d.bin_name).desired_width(100.0))
            .labelled_by(l.id);
        let ready = !d.bins[0].is_empty() && !d.bins[1].is_empty();
        if ui
            .add_enabled(ready, egui::Button::new("Add direction A to B"))
            .clicked()
        {
            match attributes::from_examples(&d.bin_name, &d.bins[0], &d.bins[1]) {
                Ok(dir) => {
                    d.push(dir);
                    d.bins = [Vec::new(), Vec::new()];
                }
                Err(e) => out.push(Action::Notice(e.to_string())),
            }
        }
    });
}

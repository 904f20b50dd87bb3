//! The Interpolate tab: choose end points A and B (click a sample of the candidate grid, or take
//! the Explore tab's vector), linear or spherical paths of 2-64 steps, shown as a strip and as
//! an animation; conditional models can blend A's label into B's along the way.

use super::actions::{Action, Payload};
use super::explore_panel::ExploreState;
use super::image_view::{Tex, cell_at};
use super::settings::Settings;
use crate::explore::interpolate::{self, Mode};
use crate::explore::worker::{Request, Tag};
use crate::export::format_floats;
use crate::types::grid::{self, Picture};
use crate::types::noise;
use eframe::egui;
use std::sync::Arc;

/// Candidate samples to pick end points from.
pub const CANDIDATES: usize = 16;
const CANDIDATE_COLS: usize = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub z: Vec<f32>,
    pub label: Option<Vec<f32>>,
    /// Where it came from ("candidate 3", "Explore, seed 7").
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    A,
    B,
}

pub struct InterpState {
    pub a: Option<Endpoint>,
    pub b: Option<Endpoint>,
    /// Which end a click on a candidate sets.
    pub target: Which,
    pub candidates_seed: u64,
    pub candidates: Option<Arc<Picture>>,
    candidate_latents: Vec<Endpoint>,
    pub frames: Vec<Arc<Picture>>,
    pub strip: Option<Arc<Picture>>,
    pub playing: bool,
    pub frame: usize,
    clock: f64,
    candidates_dirty: bool,
    strip_dirty: bool,
    /// The path parameters the strip shows, to notice when they change.
    shown: Option<(usize, Mode, bool)>,
    next_id: u64,
    candidates_tex: Tex,
    strip_tex: Tex,
    frame_tex: Tex,
    frame_shown: Option<(usize, usize)>,
    strip_uploaded: bool,
    candidates_uploaded: bool,
}

impl Default for InterpState {
    fn default() -> Self {
        Self {
            a: None,
            b: None,
            target: Which::A,
            candidates_seed: 100,
            candidates: None,
            candidate_latents: Vec::new(),
            frames: Vec::new(),
            strip: None,
            playing: true,
            frame: 0,
            clock: 0.0,
            candidates_dirty: true,
            strip_dirty: false,
            shown: None,
            next_id: 0,
            candidates_tex: Tex::named("interp-candidates"),
            strip_tex: Tex::named("interp-strip"),
            frame_tex: Tex::named("interp-frame"),
            frame_shown: None,
            strip_uploaded: false,
            candidates_uploaded: false,
        }
    }
}

impl InterpState {
    /// A new model: old end points no longer apply.
    pub fn on_model_changed(&mut self) {
        *self = Self {
            candidates_seed: self.candidates_seed,
            target: Which::A,
            ..Self::default()
        };
    }

    pub fn set(&mut self, which: Which, e: Endpoint) {
        match which {
            Which::A => self.a = Some(e),
            Which::B => self.b = Some(e),
        }
        self.strip_dirty = true;
    }

    pub fn on_candidates(&mut self, grid: Picture) {
        self.candidates = Some(Arc::new(grid));
        self.candidates_uploaded = false;
    }

    pub fn on_strip(&mut self, values: &[f32], grid: Picture, (side, channels): (usize, usize)) {
        let per = channels * side * side;
        self.frames = values
            .chunks(per)
            .map(|v| Arc::new(grid::grid(v, 1, side, channels, 1)))
            .collect();
        self.strip = Some(Arc::new(grid));
        self.strip_uploaded = false;
        self.frame = 0;
        self.frame_shown = None;
    }

    /// Click on the candidate grid at fraction `frac` of its size.
    pub fn pick_candidate(&mut self, frac: egui::Vec2, side: usize) {
        if let Some(i) = cell_at(frac, self.candidate_latents.len(), side, CANDIDATE_COLS)
            && let Some(e) = self.candidate_latents.get(i).cloned()
        {
            let which = self.target;
            self.set(which, e);
            self.target = match which {
                Which::A => Which::B,
                Which::B => Which::A,
            };
        }
    }

    /// `cond`: the model's classes (or InfoGAN's categories) and continuous codes, if G takes
    /// a condition.
    fn candidates_request(&mut self, dim: usize, cond: Option<(usize, usize)>) -> Request {
        let z = noise::gaussian(self.candidates_seed, CANDIDATES * dim);
        let labels = cond.map(|(c, k)| noise::cycling_conditions(CANDIDATES, c, k));
        self.candidate_latents = (0..CANDIDATES)
            .map(|i| Endpoint {
                z: z[i * dim..(i + 1) * dim].to_vec(),
                label: labels.as_ref().map(|l| {
                    let c = l.len() / CANDIDATES;
                    l[i * c..(i + 1) * c].to_vec()
                }),
                source: format!("candidate {} (seed {})", i + 1, self.candidates_seed),
            })
            .collect();
        self.next_id += 1;
        Request::Generate {
            tag: Tag::Candidates,
            id: self.next_id,
            z,
            labels,
            cols: CANDIDATE_COLS,
        }
    }

    /// The latents and labels of the path the settings describe.
    pub fn path(
        &self,
        steps: usize,
        mode: Mode,
        blend: bool,
    ) -> Option<(Vec<f32>, Option<Vec<f32>>)> {
        let (a, b) = (self.a.as_ref()?, self.b.as_ref()?);
        if a.z.len() != b.z.len() {
            return None;
        }
        let zs = interpolate::path(&a.z, &b.z, steps, mode);
        let labels = match (&a.label, &b.label) {
            (Some(la), Some(lb)) if blend => {
                Some(interpolate::path(la, lb, steps, Mode::Linear).concat())
            }
            (Some(la), _) => Some(la.repeat(steps.max(2))),
            _ => None,
        };
        Some((zs.concat(), labels))
    }
}

fn describe(e: &Option<Endpoint>) -> String {
    e.as_ref().map_or("not set".into(), |e| e.source.clone())
}

pub fn show(
    ui: &mut egui::Ui,
    s: &mut Settings,
    it: &mut InterpState,
    explore: &ExploreState,
    out: &mut Vec<Action>,
) {
    let Some(info) = explore.info.clone() else {
        ui.label("No model loaded: open a checkpoint in the Explore tab first.");
        return;
    };
    if info.model.kind.is_image_to_image() {
        return super::explore_panel::no_latent_space(ui, s, &info);
    }
    let dim = info.model.latent_dim;
    let side = info.model.image_size;
    let cond = (info.model.cond_dim() > 0).then_some((info.model.num_classes, info.model.codes));
    if it.candidates_dirty {
        it.candidates_dirty = false;
        let r = it.candidates_request(dim, cond);
        out.push(Action::Explore(r));
    }
    egui::Panel::left("interp-controls")
        .resizable(true)
        .default_size(300.0)
        .show(ui, |ui| {
            ui.heading("End points");
            ui.horizontal(|ui| {
                ui.radio_value(&mut it.target, Which::A, "A");
                ui.label(describe(&it.a));
            });
            ui.horizontal(|ui| {
                ui.radio_value(&mut it.target, Which::B, "B");
                ui.label(describe(&it.b));
            });
            ui.horizontal_wrapped(|ui| {
                let current = || Endpoint {
                    z: explore.latent(),
                    label: explore.label(),
                    source: format!("Explore (seed {})", explore.seed),
                };
                if ui.button("Set A from Explore").clicked() {
                    it.set(Which::A, current());
                }
                if ui.button("Set B from Explore").clicked() {
                    it.set(Which::B, current());
                }
            });
            ui.label("Click a sample to set the selected end:");
            if let Some(grid) = it.candidates.clone() {
                if !it.candidates_uploaded {
                    it.candidates_tex.set_picture(ui.ctx(), &grid);
                    it.candidates_uploaded = true;
                }
                let w = ui.available_width();
                if let Some(r) = it.candidates_tex.show(ui, egui::vec2(w, w))
                    && r.clicked()
                    && let Some(pos) = r.interact_pointer_pos()
                {
                    let frac = (pos - r.rect.min) / r.rect.size();
                    it.pick_candidate(frac, side);
                }
            }
            ui.horizontal(|ui| {
                let l = ui.label("candidates seed");
                if ui
                    .add(egui::DragValue::new(&mut it.candidates_seed))
                    .labelled_by(l.id)
                    .changed()
                {
                    it.candidates_dirty = true;
                }
                if ui.button("New").clicked() {
                    it.candidates_seed += 1;
                    it.candidates_dirty = true;
                }
            });
            ui.separator();
            ui.heading("Path");
            // Their own id scope: the candidate grid above appears when its images arrive,
            // and would otherwise shift these widgets' automatic ids under a user's (or an
            // accessibility tool's) pending action.
            ui.push_id("interp-path", |ui| {
                ui.horizontal(|ui| {
                    ui.radio_value(&mut s.interp_mode, Mode::Linear, "linear");
                    ui.radio_value(&mut s.interp_mode, Mode::Spherical, "spherical");
                });
                ui.add(egui::Slider::new(&mut s.interp_steps, 2..=64).text("steps"));
                if cond.is_some() {
                    ui.checkbox(
                        &mut s.interp_blend_labels,
                        "blend the label from A's to B's",
                    );
                }
            });
        });
    // Regenerate the strip when the path changed.
    let params = (s.interp_steps, s.interp_mode, s.interp_blend_labels);
    if it.shown != Some(params) {
        it.strip_dirty = true;
    }
    if it.strip_dirty
        && let Some((z, labels)) = it.path(s.interp_steps, s.interp_mode, s.interp_blend_labels)
    {
        it.strip_dirty = false;
        it.shown = Some(params);
        it.next_id += 1;
        out.push(Action::Explore(Request::Generate {
            tag: Tag::Strip,
            id: it.next_id,
            z,
            labels,
            cols: s.interp_steps,
        }));
    }
    egui::CentralPanel::default().show(ui, |ui| {
        if it.frames.is_empty() {
            ui.label("Set A and B: the strip and the animation appear here.");
            return;
        }
        ui.label(format!(
            "Strip: {} frames, {}",
            it.frames.len(),
            s.interp_mode.name()
        ));
        if let Some(strip) = it.strip.clone() {
            if !it.strip_uploaded {
                it.strip_tex.set_picture(ui.ctx(), &strip);
                it.strip_uploaded = true;
            }
            egui::ScrollArea::horizontal()
                .id_salt("strip-scroll")
                .show(ui, |ui| {
                    let h = 84.0_f32.max(strip.height as f32);
                    it.strip_tex.show(ui, egui::vec2(f32::INFINITY, h));
                });
        }
        ui.separator();
        ui.horizontal(|ui| {
            if ui
                .button(if it.playing {
                    "Pause animation"
                } else {
                    "Play animation"
                })
                .clicked()
            {
                it.playing = !it.playing;
            }
            ui.add(egui::Slider::new(&mut s.interp_fps, 0.5..=30.0).text("frames/s"));
            let last = it.frames.len() - 1;
            if ui
                .add(egui::Slider::new(&mut it.frame, 0..=last).text("frame"))
                .changed()
            {
                it.playing = false;
            }
        });
        if it.playing {
            let now = ui.input(|i| i.time);
            if now - it.clock >= 1.0 / s.interp_fps as f64 {
                it.clock = now;
                it.frame = (it.frame + 1) % it.frames.len();
            }
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_secs_f32(1.0 / s.interp_fps));
        }
        let frame = it.frame.min(it.frames.len() - 1);
        let key = (frame, it.frames.len());
        if it.frame_shown != Some(key) {
            it.frame_tex.set_picture(ui.ctx(), &it.frames[frame]);
            it.frame_shown = Some(key);
        }
        let room = ui.available_size() - egui::vec2(0.0, 40.0);
        it.frame_tex
            .show(ui, egui::vec2(room.x, room.y).min(egui::vec2(448.0, 448.0)));
        ui.horizontal(|ui| {
            let meta = || {
                let mut m = vec![
                    ("mode", s.interp_mode.name().to_string()),
                    ("steps", s.interp_steps.to_string()),
                    ("model", info.model.kind.name().to_string()),
                    ("checkpoint", info.origin.clone()),
                ];
                if let (Some(a), Some(b)) = (&it.a, &it.b) {
                    m.push(("z_a", format_floats(&a.z)));
                    m.push(("z_b", format_floats(&b.z)));
                }
                m
            };
            if let Some(strip) = &it.strip
                && ui.button("Export strip (PNG)…").clicked()
            {
                out.push(Action::export(
                    "strip",
                    "interpolation",
                    Payload::Png {
                        image: strip.clone(),
                        scale: 4,
                        metadata: meta(),
                    },
                ));
            }
            if ui.button("Export animation (GIF)…").clicked() {
                out.push(Action::export(
                    "animation",
                    "interpolation",
                    Payload::Gif {
                        frames: it.frames.clone(),
                        scale: 8,
                        delay_ms: (1000.0 / s.interp_fps).round() as u32,
                    },
                ));
            }
        });
    });
}

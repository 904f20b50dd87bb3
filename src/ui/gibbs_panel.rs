//! The Explore tab for a Boltzmann machine: a Gibbs chain started from noise or a data image,
//! with play, step and speed; the pixels P(v | h) beside the first hidden layer's states; hidden
//! units as switches (largest effect first); a DBN's label clamp; PNG and GIF exports.

use super::actions::{Action, Payload};
use super::image_view::Tex;
use crate::data::DataSource;
use crate::explore::gibbs::{GibbsControl, GibbsFrame, GibbsStart};
use crate::explore::worker::{ModelInfo, Request};
use crate::types::grid::{self, Picture};
use eframe::egui;
use std::sync::Arc;

/// Frames kept for the GIF; when full, every other one is dropped.
pub const CHAIN_FRAMES: usize = 400;
/// Units listed as switches (besides the clamped ones).
pub const SWITCHES_LISTED: usize = 12;

pub struct GibbsState {
    pub frame: Option<GibbsFrame>,
    pub playing: bool,
    /// Sweeps per frame.
    pub speed: usize,
    pub seed: u64,
    pub data_index: usize,
    /// Held first-layer hidden units: (unit, on).
    pub clamp: Vec<(usize, bool)>,
    /// A DBN's clamped class.
    pub label: Option<usize>,
    /// What the chain started from, for export metadata.
    pub started_from: String,
    /// The noise seed it started from, when it did.
    pub start_seed: Option<u64>,
    pub frames: Vec<Arc<Picture>>,
    /// A request is in flight (playing waits for it before sending the next).
    pub waiting: bool,
    next_id: u64,
    v_tex: Tex,
    h_tex: Tex,
    shown: Option<u64>,
}

impl Default for GibbsState {
    fn default() -> Self {
        Self {
            frame: None,
            playing: false,
            speed: 1,
            seed: 0,
            data_index: 0,
            clamp: Vec::new(),
            label: None,
            started_from: String::new(),
            start_seed: None,
            frames: Vec::new(),
            waiting: false,
            next_id: 0,
            v_tex: Tex::named("gibbs-visible"),
            h_tex: Tex::named("gibbs-hidden"),
            shown: None,
        }
    }
}

impl GibbsState {
    fn control(&self, steps: usize) -> GibbsControl {
        GibbsControl {
            steps,
            clamp: self.clamp.clone(),
            label: self.label,
        }
    }

    fn request(&mut self, start: Option<GibbsStart>, steps: usize) -> Request {
        self.next_id += 1;
        self.waiting = true;
        Request::Gibbs {
            id: self.next_id,
            start,
            control: self.control(steps),
        }
    }

    /// Start a new chain (the frames so far are dropped).
    pub fn restart(&mut self, start: GibbsStart, what: String) -> Request {
        self.frames.clear();
        self.started_from = what;
        self.start_seed = match &start {
            GibbsStart::Noise { seed } => Some(*seed),
            _ => None,
        };
        self.request(Some(start), 0)
    }

    /// Advance the running chain by `steps` sweeps.
    pub fn step(&mut self, steps: usize) -> Request {
        self.request(None, steps)
    }

    /// A new model: a fresh chain from noise.
    pub fn on_model(&mut self) -> Request {
        let keep_speed = self.speed;
        *self = Self {
            speed: keep_speed,
            ..Self::default()
        };
        self.restart(GibbsStart::Noise { seed: 0 }, "noise, seed 0".into())
    }

    pub fn on_frame(&mut self, f: GibbsFrame) {
        if f.id != self.next_id {
            return; // an older request's answer
        }
        self.waiting = false;
        let image = grid::grid_of(&f.visible, 28, 1, 1);
        self.frames.push(Arc::new(image));
        if self.frames.len() > CHAIN_FRAMES {
            let mut i = 0;
            self.frames.retain(|_| {
                i += 1;
                i % 2 == 1
            });
        }
        self.frame = Some(f);
    }

    /// The hidden layer's states as a near-square image (white: on; a DBN's first layer comes
    /// from a pass down and shows probabilities as grays).
    fn hidden_image(h: &[f32]) -> Picture {
        let cols = (h.len() as f64).sqrt().ceil().max(1.0) as usize;
        let rows = h.len().div_ceil(cols);
        let mut pixels = vec![40u8; cols * rows];
        for (i, &v) in h.iter().enumerate() {
            pixels[i] = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
        Picture::gray(cols, rows, pixels)
    }

    fn clamped(&self, unit: usize) -> Option<bool> {
        self.clamp.iter().find(|c| c.0 == unit).map(|c| c.1)
    }

    fn set_clamp(&mut self, unit: usize, state: Option<bool>) {
        self.clamp.retain(|c| c.0 != unit);
        if let Some(on) = state {
            self.clamp.push((unit, on));
        }
    }
}

pub fn show(ui: &mut egui::Ui, info: &ModelInfo, g: &mut GibbsState, out: &mut Vec<Action>) {
    egui::Panel::left("gibbs-controls")
        .resizable(true)
        .default_size(300.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| controls(ui, info, g, out));
        });
    egui::CentralPanel::default().show(ui, |ui| view(ui, info, g, out));
    if g.playing {
        if !g.waiting {
            let speed = g.speed;
            out.push(Action::Explore(g.step(speed)));
        }
        ui.ctx().request_repaint();
    }
}

fn controls(ui: &mut egui::Ui, info: &ModelInfo, g: &mut GibbsState, out: &mut Vec<Action>) {
    ui.horizontal_wrapped(|ui| {
        if ui.button("Open checkpoint…").clicked() {
            out.push(Action::OpenCheckpoint);
        }
    });
    super::explore_panel::model_summary(ui, info);
    ui.heading("Gibbs chain");
    ui.horizontal(|ui| {
        if ui.button("Start from noise").clicked() {
            let seed = g.seed;
            out.push(Action::Explore(g.restart(
                GibbsStart::Noise { seed },
                format!("noise, seed {seed}"),
            )));
        }
        let l = ui.label("seed");
        ui.add(egui::DragValue::new(&mut g.seed)).labelled_by(l.id);
    });
    ui.horizontal(|ui| {
        if ui.button("Start from data image").clicked() {
            let data = info
                .data_source
                .parse::<DataSource>()
                .unwrap_or(DataSource::Default);
            let index = g.data_index;
            out.push(Action::Explore(g.restart(
                GibbsStart::Data { data, index },
                format!("data image {index}"),
            )));
        }
        let l = ui.label("#");
        ui.add(egui::DragValue::new(&mut g.data_index).range(0..=1_000_000))
            .labelled_by(l.id);
    });
    ui.horizontal(|ui| {
        let label = if g.playing { "Pause" } else { "Play" };
        if ui.button(label).clicked() {
            g.playing = !g.playing;
        }
        if ui
            .add_enabled(!g.playing, egui::Button::new("Step"))
            .clicked()
        {
            out.push(Action::Explore(g.step(1)));
        }
    });
    ui.add(egui::Slider::new(&mut g.speed, 1..=100).text("sweeps per frame"))
        .on_hover_text("Gibbs sweeps between frames while playing");
    if info.model.is_conditional() {
        ui.separator();
        let before = g.label;
        let l = ui.label("Clamp the label");
        let text = g
            .label
            .and_then(|c| info.class_names.get(c).cloned())
            .unwrap_or_else(|| "free (not clamped)".into());
        egui::ComboBox::from_id_salt("gibbs-label")
            .selected_text(text)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut g.label, None, "free (not clamped)");
                for (c, name) in info.class_names.iter().enumerate() {
                    ui.selectable_value(&mut g.label, Some(c), name);
                }
            })
            .response
            .labelled_by(l.id);
        if g.label != before {
            // A chain rarely leaves the digit it has settled on: a new class starts a new
            // chain, which the label alone drives at first.
            let seed = g.seed;
            let what = format!("noise, seed {seed}");
            out.push(Action::Explore(g.restart(GibbsStart::Noise { seed }, what)));
        }
    }
    ui.separator();
    if switches(ui, g) && !g.playing {
        // Show what the new clamps do at once, without moving the chain.
        out.push(Action::Explore(g.step(0)));
    }
}

/// Hidden units as switches: the clamped ones, then the units whose flip would change the
/// picture most. True when a clamp changed.
fn switches(ui: &mut egui::Ui, g: &mut GibbsState) -> bool {
    ui.heading("Hidden units as switches");
    let Some(frame) = g.frame.clone() else {
        ui.label("start a chain to see its hidden units");
        return false;
    };
    let before = g.clamp.clone();
    ui.label("largest effect on P(v | h) first; hold a unit on or off");
    let mut listed: Vec<(usize, f32)> = g
        .clamp
        .iter()
        .map(|&(u, _)| {
            let effect = frame.effects.iter().find(|e| e.0 == u).map_or(0.0, |e| e.1);
            (u, effect)
        })
        .collect();
    for &(u, e) in &frame.effects {
        if listed.len() >= g.clamp.len() + SWITCHES_LISTED {
            break;
        }
        if !listed.iter().any(|l| l.0 == u) {
            listed.push((u, e));
        }
    }
    egui::Grid::new("gibbs-switches")
        .num_columns(3)
        .show(ui, |ui| {
            for (unit, effect) in listed {
                let now = frame.hidden.get(unit).is_some_and(|&h| h > 0.5);
                ui.label(format!("unit {unit} ({})", if now { "on" } else { "off" }))
                    .on_hover_text(format!(
                        "flipping it changes pixel probabilities by {effect:.1} in all"
                    ));
                ui.label(format!("{effect:.1}"));
                let mut state = g.clamped(unit);
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut state, None, "free");
                    ui.selectable_value(&mut state, Some(true), "on");
                    ui.selectable_value(&mut state, Some(false), "off");
                });
                if state != g.clamped(unit) {
                    g.set_clamp(unit, state);
                }
                ui.end_row();
            }
        });
    if !g.clamp.is_empty() && ui.button("Release all").clicked() {
        g.clamp.clear();
    }
    g.clamp != before
}

fn view(ui: &mut egui::Ui, info: &ModelInfo, g: &mut GibbsState, out: &mut Vec<Action>) {
    let Some(frame) = g.frame.clone() else {
        ui.label("Start a chain: from noise, or from a data image.");
        return;
    };
    if g.shown != Some(frame.id) || !g.v_tex.is_set() {
        let v = grid::grid_of(&frame.visible, 28, 1, 1);
        g.v_tex.set_picture(ui.ctx(), &v);
        g.h_tex
            .set_picture(ui.ctx(), &GibbsState::hidden_image(&frame.hidden));
        g.shown = Some(frame.id);
    }
    ui.label(format!(
        "Gibbs step {} · started from {}{}",
        frame.steps,
        g.started_from,
        if g.clamp.is_empty() {
            String::new()
        } else {
            let n = g.clamp.len();
            format!(" · {n} unit{} clamped", if n == 1 { "" } else { "s" })
        }
    ));
    let side = ((ui.available_width() - 30.0) / 2.0).clamp(120.0, 420.0);
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            ui.label("v: P(v | h)");
            g.v_tex.show(ui, egui::vec2(side, side));
        });
        ui.vertical(|ui| {
            let on = frame.hidden.iter().filter(|&&h| h > 0.5).count();
            ui.label(format!(
                "h: first hidden layer ({on} of {} on)",
                frame.hidden.len()
            ));
            g.h_tex.show(ui, egui::vec2(side, side));
        });
    });
    ui.horizontal_wrapped(|ui| {
        if ui.button("Export image (PNG)…").clicked() {
            let mut metadata = vec![
                ("model", info.model.kind.name().to_string()),
                ("checkpoint", info.origin.clone()),
                ("gibbs_steps", frame.steps.to_string()),
                ("chain_start", g.started_from.clone()),
            ];
            if let Some(seed) = g.start_seed {
                metadata.push(("seed", seed.to_string()));
            }
            if let Some(c) = g.label {
                metadata.push(("label", c.to_string()));
            }
            if !g.clamp.is_empty() {
                let units: Vec<String> = g
                    .clamp
                    .iter()
                    .map(|(u, on)| format!("{u}={}", if *on { 1 } else { 0 }))
                    .collect();
                metadata.push(("clamped_units", units.join(",")));
            }
            out.push(Action::export(
                "Gibbs sample",
                &format!("gibbs-step{}", frame.steps),
                Payload::Png {
                    image: Arc::new(grid::grid_of(&frame.visible, 28, 1, 1)),
                    scale: 8,
                    metadata,
                },
            ));
        }
        if ui
            .add_enabled(g.frames.len() > 1, egui::Button::new("Export chain (GIF)…"))
            .clicked()
        {
            out.push(Action::export(
                "Gibbs chain",
                "gibbs-chain",
                Payload::Gif {
                    frames: g.frames.clone(),
                    scale: 6,
                    delay_ms: 80,
                },
            ));
        }
        ui.label(format!("{} frames kept", g.frames.len()));
    });
}

//! The Train tab: model, loss, data and hyper-parameters; run controls; live charts; the
//! fixed-noise sample grid and a time-lapse over the grids seen so far.

use super::actions::{Action, Payload};
use super::image_view::Tex;
use super::plots::Marker;
use super::run_form;
use super::settings::Settings;
use crate::model::ModelConfig;
use crate::quality::Score;
use crate::train::{Command, Event, History, StepMetrics, TrainConfig};
use crate::types::grid::Picture;
use eframe::egui;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Idle,
    LoadingData,
    Running,
    Paused,
    Finished,
    Failed,
}

/// Grids kept for the time-lapse; when full, every other one is dropped.
pub const TIMELAPSE_FRAMES: usize = 240;

/// How far the decoding of an image folder for a starting run has come (written by the
/// loading thread, read by the frame).
#[derive(Debug, Default)]
pub struct Loading {
    pub done: std::sync::atomic::AtomicUsize,
    pub total: std::sync::atomic::AtomicUsize,
}

pub struct TrainState {
    /// The image folder being decoded for a starting run.
    pub loading: Arc<Loading>,
    pub status: RunStatus,
    pub device: String,
    pub step: u64,
    pub history: History,
    pub markers: Vec<Marker>,
    pub quality: Vec<(u64, Score)>,
    pub grids: Vec<(u64, Arc<Picture>)>,
    /// The newest grid from the trained weights, when the run also keeps their average (the
    /// grids above).
    pub live_grid: Option<(u64, Arc<Picture>)>,
    /// Show `live_grid` instead of the average's newest grid.
    pub show_live: bool,
    /// Time-lapse position; `None` follows the newest grid.
    pub scrub: Option<usize>,
    pub playing: bool,
    play_clock: f64,
    pub model: Option<ModelConfig>,
    pub class_names: Vec<String>,
    /// Learning rates the running trainer uses.
    pub live_lr: Option<(f64, f64)>,
    /// The last warning or failure from the engine, with what to do.
    pub alert: Option<String>,
    /// The step last saved (or resumed from); unsaved work is asked about on close.
    pub saved_step: Option<u64>,
    /// Where the run was last saved (the Save button's directory).
    pub saved_to: Option<std::path::PathBuf>,
    /// After a lost server: the save to continue from once it is back, and its step.
    pub resume_point: Option<(std::path::PathBuf, u64)>,
    /// The run ended because its server stopped answering (the next start clears the message).
    lost: bool,
    /// A loss became non-finite: the run's state cannot be saved any more.
    pub diverged: bool,
    /// Learning rates a starting run was given (shown once it has started).
    pub starting_lr: (f64, f64),
    /// The samples' diversity as a share of the data's, at each sample step (GANs).
    pub diversity: Vec<(u64, f32)>,
    /// The mode-collapse alarm's last sounding: its step and what to try (dismissable).
    pub collapse: Option<(u64, String)>,
    /// The schedule the run was started with (the sliders set the rates it multiplies).
    pub schedule: crate::types::schedule::LrSchedule,
    /// A Boltzmann machine's newest bottom-layer filters.
    pub filters: Option<(u64, Arc<Picture>)>,
    filters_tex: Tex,
    filters_shown: Option<u64>,
    grid_tex: Tex,
    /// The step and source (trained weights or not) of the grid in `grid_tex`.
    shown: Option<(u64, bool)>,
}

impl Default for TrainState {
    fn default() -> Self {
        Self {
            loading: Arc::default(),
            status: RunStatus::Idle,
            device: String::new(),
            step: 0,
            history: History::with_capacity(20_000),
            markers: Vec::new(),
            quality: Vec::new(),
            grids: Vec::new(),
            live_grid: None,
            show_live: false,
            scrub: None,
            playing: false,
            play_clock: 0.0,
            model: None,
            class_names: Vec::new(),
            live_lr: None,
            alert: None,
            saved_step: None,
            saved_to: None,
            resume_point: None,
            lost: false,
            diverged: false,
            starting_lr: (0.0, 0.0),
            schedule: Default::default(),
            diversity: Vec::new(),
            collapse: None,
            filters: None,
            filters_tex: Tex::named("filters"),
            filters_shown: None,
            grid_tex: Tex::named("sample-grid"),
            shown: None,
        }
    }
}

impl TrainState {
    /// Take in what the training thread reports (the contract is on [`Event`]).
    pub fn apply(&mut self, e: Event) {
        match e {
            Event::Started {
                device,
                step,
                model,
                class_names,
            } => {
                self.status = RunStatus::Running;
                self.saved_step = Some(step);
                self.diverged = false;
                self.device = device;
                self.step = step;
                self.model = Some(model);
                self.class_names = class_names;
                self.live_lr = Some(self.starting_lr);
            }
            Event::Step(m) => {
                self.step = m.step;
                // A Boltzmann machine's greedy phases are marked where each begins.
                let last = self.history.last().and_then(|p| p.layer);
                if let Some(l) = m.layer
                    && last != Some(l)
                {
                    let layers = self.model.as_ref().map_or(0, |c| c.layers.len()) as u32;
                    let text = if l >= layers {
                        "joint training".to_string()
                    } else {
                        format!("training layer {}", l + 1)
                    };
                    self.markers.push(Marker { step: m.step, text });
                }
                self.history.push(m);
            }
            Event::Filters { step, grid } => self.filters = Some((step, Arc::new(grid))),
            Event::Quality { step, score } => self.quality.push((step, score)),
            Event::Diversity { step, ratio } => self.diversity.push((step, ratio)),
            Event::Collapse { step, sign } => {
                self.markers.push(Marker {
                    step,
                    text: "mode collapse?".into(),
                });
                self.collapse = Some((step, sign.describe()));
            }
            Event::Samples { step, grid, live } => {
                self.live_grid = live.map(|l| (step, Arc::new(l)));
                self.push_grid(step, grid);
            }
            Event::Paused { step } => {
                self.step = step;
                if self.status == RunStatus::Running {
                    self.status = RunStatus::Paused;
                }
            }
            Event::Resumed { .. } => self.status = RunStatus::Running,
            Event::LearningRateChanged { step, lr_g, lr_d } => {
                self.live_lr = Some((lr_g, lr_d));
                self.markers.push(Marker {
                    step,
                    text: format!("learning rate G {lr_g:.1e}, D {lr_d:.1e}"),
                });
            }
            Event::Saved { step, path } => {
                (self.saved_step, self.saved_to) = (Some(step), Some(path))
            }
            Event::SaveFailed { path, error } => {
                self.alert = Some(format!("not saved to {}: {error}", path.display()));
            }
            Event::Diverged {
                step,
                loss,
                value,
                last_good_step,
            } => {
                self.diverged = true;
                let kept = crate::train::messages::kept_text(last_good_step);
                self.alert = Some(format!(
                    "{loss} became {value} at step {step}: training is paused and this state \
                     will not be saved ({kept}). Lower the learning rate and press Start, or \
                     open the last checkpoint."
                ));
            }
            Event::Warning(text) => self.alert = Some(text),
            Event::RemoteLost {
                server,
                error,
                last_good_step,
            } => {
                self.status = RunStatus::Failed;
                self.lost = true;
                self.resume_point = self.saved_to.clone().zip(last_good_step);
                let next = self
                    .resume_point
                    .as_ref()
                    .map_or("press Start to train on it again".into(), |(_, n)| {
                        format!("press Resume from step {n} (or Start for a new run)")
                    });
                self.alert = Some(format!(
                    "the server at {server} stopped answering ({error}); the run has ended and \
                     {}. Saved checkpoints are untouched: when the server is back, {next}; a \
                     new session is opened, no restart needed.",
                    crate::train::messages::kept_text(last_good_step)
                ));
            }
            Event::Failed(text) => {
                self.status = RunStatus::Failed;
                self.alert = Some(format!(
                    "training failed: {text}. Change the settings and press Start again; saved \
                     checkpoints are untouched."
                ));
            }
            Event::Finished { step } => {
                self.step = step;
                self.status = RunStatus::Finished;
            }
            // The app routes these elsewhere.
            Event::Snapshot(_)
            | Event::Generated { .. }
            | Event::Detection(_)
            | Event::Judged(_) => {}
        }
    }

    /// A run whose latest steps would be lost by closing the app.
    pub fn unsaved(&self) -> bool {
        matches!(
            self.status,
            RunStatus::Running | RunStatus::Paused | RunStatus::Finished
        ) && self.step > 0
            && !self.diverged
            && self.saved_step != Some(self.step)
    }

    /// Forget the previous run's curves and grids (a new run starts).
    pub fn reset_run(&mut self) {
        let alert = self.alert.take().filter(|_| !self.lost);
        *self = Self::default();
        self.alert = alert;
    }

    pub fn push_grid(&mut self, step: u64, grid: Picture) {
        self.grids.push((step, Arc::new(grid)));
        if self.grids.len() > TIMELAPSE_FRAMES {
            let last = self.grids.pop();
            let mut i = 0;
            self.grids.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.grids.extend(last);
            self.scrub = self.scrub.map(|s| (s / 2).min(self.grids.len() - 1));
        }
    }

    pub fn metrics(&self) -> &[StepMetrics] {
        &self.history.points
    }

    pub fn active(&self) -> bool {
        matches!(
            self.status,
            RunStatus::Running | RunStatus::Paused | RunStatus::LoadingData
        )
    }

    /// The grid the time-lapse shows now.
    pub fn current_grid(&self) -> Option<&(u64, Arc<Picture>)> {
        match (self.scrub, &self.live_grid) {
            (Some(i), _) => self.grids.get(i),
            (None, Some(live)) if self.show_live => Some(live),
            (None, _) => self.grids.last(),
        }
    }
}

pub fn show(ui: &mut egui::Ui, s: &mut Settings, t: &mut TrainState, out: &mut Vec<Action>) {
    egui::Panel::left("train-controls")
        .resizable(true)
        .default_size(270.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| controls(ui, s, t, out));
        });
    let max = (ui.available_width() * 0.5).max(260.0);
    egui::Panel::right("train-samples")
        .resizable(true)
        .default_size(400.0)
        .size_range(240.0..=max)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| samples(ui, s, t, out));
        });
    egui::CentralPanel::default().show(ui, |ui| {
        if let Some(alert) = t.alert.clone() {
            let red = egui::Color32::from_rgb(90, 40, 30);
            if super::train_charts::banner(ui, red, format!("Warning: {alert}")) {
                t.alert = None;
            }
        }
        super::train_charts::collapse_banner(ui, t);
        super::train_charts::charts(ui, s, t);
    });
}

fn controls(ui: &mut egui::Ui, s: &mut Settings, t: &mut TrainState, out: &mut Vec<Action>) {
    let locked = t.active();
    ui.heading("Run");
    ui.add_enabled_ui(!locked, |ui| run_form::show(ui, &mut s.run, out));
    // Learning rates stay editable during a run; applying them marks the charts. Unset, they
    // show the model's recipe.
    let recipe = TrainConfig::new(s.run.model, s.run.loss, 0);
    let (mut lr_g, mut lr_d) = s.run.learning_rates(recipe.lr_g, recipe.lr_d);
    // Contrastive divergence takes far larger steps than Adam.
    let top = if s.run.model.is_boltzmann() {
        0.5
    } else {
        1e-2
    };
    ui.label(if s.run.model.is_boltzmann() {
        "Learning rate (the G slider; D is unused)"
    } else {
        "Learning rate G / D"
    });
    let g = ui.add(
        egui::Slider::new(&mut lr_g, 1e-6..=top)
            .logarithmic(true)
            .text("G"),
    );
    let d = ui.add(
        egui::Slider::new(&mut lr_d, 1e-6..=top)
            .logarithmic(true)
            .text("D"),
    );
    if g.changed() {
        s.run.lr_g = Some(lr_g);
    }
    if d.changed() {
        s.run.lr_d = Some(lr_d);
    }
    if t.live_lr.is_some() && !t.schedule.is_constant() {
        ui.label(format!(
            "{}: x{:.3} at step {}",
            t.schedule.describe(),
            t.schedule.factor(t.step),
            t.step
        ));
    }
    if let Some(live) = t.live_lr
        && live != (lr_g, lr_d)
        && ui.button("Apply learning rates").clicked()
    {
        out.push(Action::Train(Command::SetLearningRate { lr_g, lr_d }));
    }
    ui.separator();
    ui.horizontal_wrapped(|ui| {
        match t.status {
            RunStatus::Running => {
                if ui.button("Pause").on_hover_text("Space").clicked() {
                    out.push(Action::Train(Command::Pause));
                }
            }
            RunStatus::Paused => {
                if ui.button("Resume").on_hover_text("Space").clicked() {
                    out.push(Action::Train(Command::Resume));
                }
            }
            RunStatus::LoadingData => {
                use std::sync::atomic::Ordering::Relaxed;
                let (done, total) = (t.loading.done.load(Relaxed), t.loading.total.load(Relaxed));
                if total > 0 {
                    ui.add(
                        egui::ProgressBar::new(done as f32 / total as f32)
                            .text(format!("decoding {done}/{total} pictures")),
                    );
                } else {
                    ui.add(egui::Spinner::new());
                    ui.label("loading data…");
                }
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_millis(100));
            }
            _ => {
                if ui.button("Start").clicked() {
                    out.push(Action::StartRun);
                }
                if let Some((dir, step)) = &t.resume_point
                    && ui
                        .button(format!("Resume from step {step}"))
                        .on_hover_text(format!("Continue the run saved in {}", dir.display()))
                        .clicked()
                {
                    out.push(Action::ResumeRun(dir.clone()));
                }
            }
        }
        if ui
            .add_enabled(
                t.status == RunStatus::Paused,
                egui::Button::new("Step once"),
            )
            .clicked()
        {
            out.push(Action::Train(Command::Step(1)));
        }
        if ui
            .add_enabled(
                matches!(t.status, RunStatus::Running | RunStatus::Paused),
                egui::Button::new("Stop"),
            )
            .clicked()
        {
            out.push(Action::Train(Command::Stop));
        }
    });
    let has_run = t.model.is_some() && t.status != RunStatus::Failed;
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(has_run, egui::Button::new("Save checkpoint…"))
            .clicked()
        {
            out.push(Action::SaveCheckpoint);
        }
        if ui
            .add_enabled(has_run, egui::Button::new("Explore this model"))
            .clicked()
        {
            out.push(Action::ExploreTrainingRun);
        }
    });
    ui.separator();
    let status = match t.status {
        RunStatus::Idle => "ready",
        RunStatus::LoadingData => "loading data",
        RunStatus::Running => "training",
        RunStatus::Paused => "paused",
        RunStatus::Finished => "finished",
        RunStatus::Failed => "failed",
    };
    ui.label(format!("Status: {status}, step {}", t.step));
    if !t.device.is_empty() {
        ui.label(format!("Device: {}", t.device));
    }
    if let Some(m) = t.history.last() {
        ui.label(format!("{:.0} examples/s", m.examples_per_sec));
    }
    ui.add(egui::Slider::new(&mut s.smoothing, 0.0..=0.99).text("smoothing"));
}

fn samples(ui: &mut egui::Ui, s: &Settings, t: &mut TrainState, out: &mut Vec<Action>) {
    let kind = t.model.as_ref().map_or(s.run.model, |m| m.kind);
    ui.heading(if kind.is_boltzmann() {
        "Samples from the chains"
    } else if kind == crate::model::ModelKind::Cyclegan {
        "Held-out images: A | to B | back, B | to A | back"
    } else if kind.is_image_to_image() {
        "Held-out images: bicubic | SRGAN | original"
    } else {
        "Samples from fixed noise"
    });
    if t.grids.is_empty() {
        ui.label("Press Start: a grid of samples appears here and sharpens as training goes.");
        return;
    }
    // Advance the time-lapse while playing.
    if t.playing {
        let now = ui.input(|i| i.time);
        if now - t.play_clock >= 1.0 / s.interp_fps.max(0.5) as f64 {
            t.play_clock = now;
            let next = t.scrub.map_or(0, |i| i + 1);
            t.scrub = Some(if next >= t.grids.len() { 0 } else { next });
        }
        ui.ctx().request_repaint();
    }
    let Some((step, grid)) = t.current_grid().cloned() else {
        return;
    };
    if t.live_grid.is_some() {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut t.show_live, false, "Average")
                .on_hover_text("the moving average of G's weights (what sample and explore use)");
            ui.selectable_value(&mut t.show_live, true, "Trained weights")
                .on_hover_text("G's weights as the last update left them");
        });
    }
    let shown = (step, t.show_live && t.scrub.is_none());
    if t.shown != Some(shown) || !t.grid_tex.is_set() {
        t.grid_tex.set_picture(ui.ctx(), &grid);
        t.shown = Some(shown);
    }
    // floor: a fractional size would widen the resizable panel a little every frame
    let w = (ui.available_width() - 2.0).floor();
    t.grid_tex.show(ui, egui::vec2(w, w * 1.2));
    ui.label(format!("step {step}"));
    let last = t.grids.len() - 1;
    ui.horizontal(|ui| {
        let label = if t.playing {
            "Pause time-lapse"
        } else {
            "Play time-lapse"
        };
        if ui
            .button(label)
            .on_hover_text("replay the grids kept so far")
            .clicked()
        {
            t.playing = !t.playing;
            if t.playing && t.scrub.is_none() {
                t.scrub = Some(0);
            }
        }
        if ui
            .button("Live")
            .on_hover_text("follow the newest grid")
            .clicked()
        {
            t.scrub = None;
            t.playing = false;
        }
    });
    let mut i = t.scrub.unwrap_or(last);
    ui.spacing_mut().slider_width = (ui.available_width() - 110.0).max(80.0);
    let slider = ui.add(egui::Slider::new(&mut i, 0..=last).text("time-lapse"));
    if slider.changed() {
        t.scrub = if i == last { None } else { Some(i) };
        t.playing = false;
    }
    ui.horizontal_wrapped(|ui| {
        if ui.button("Export grid (PNG)…").clicked() {
            out.push(Action::export(
                "sample grid",
                &format!("samples-step{step}"),
                Payload::Png {
                    image: grid.clone(),
                    scale: 4,
                    metadata: vec![("step", step.to_string())],
                },
            ));
        }
        if ui.button("Export time-lapse (GIF)…").clicked() {
            // One run's grids all share a size (a new run clears them).
            out.push(Action::export(
                "time-lapse",
                "timelapse",
                Payload::Gif {
                    frames: t.grids.iter().map(|(_, g)| g.clone()).collect(),
                    scale: 3,
                    delay_ms: 150,
                },
            ));
        }
    });
    filters(ui, t);
}

/// A Boltzmann machine's bottom-layer filters: one tile per hidden unit (gray 0, white
/// positive, black negative weights), refreshed with the samples.
fn filters(ui: &mut egui::Ui, t: &mut TrainState) {
    let Some((step, grid)) = t.filters.clone() else {
        return;
    };
    ui.separator();
    ui.heading("Filters");
    ui.label("each hidden unit's weights to the pixels (first 100 units)");
    if t.filters_shown != Some(step) || !t.filters_tex.is_set() {
        t.filters_tex.set_picture(ui.ctx(), &grid);
        t.filters_shown = Some(step);
    }
    let w = ui.available_width().min(420.0);
    t.filters_tex.show(ui, egui::vec2(w, w));
    ui.label(format!("filters at step {step}"));
}

//! The eframe app: owns the training session and the explorer thread, routes their events to
//! the tabs, runs file dialogs and file writes off the UI thread, and persists the settings.

use super::actions::Action;
use super::detect_panel::{self, DetectState};
use super::dialogs::Dialogs;
use super::explore_panel::{self, ExploreState};
use super::frame_stats::FrameStats;
use super::interpolate_panel::{self, InterpState};
use super::settings::{self, Settings, Tab};
use super::train_panel::{self, RunStatus, TrainState};
use super::translate_panel::{self, TranslateState};
use crate::data::{DataSource, Dataset};
use crate::explore::worker::{ExplorerHandle, Request};
use crate::train::{Command, Event, RunSpec, TrainingHandle};
use eframe::egui;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

mod chrome;
mod closing;
mod files;
mod options;
mod replies;

use closing::CLOSE_WAIT;
pub use closing::Closing;
use files::Job;
pub use files::{FileAction, PathPrompt};
pub use options::{AppOptions, TRAINING_REPAINT_GPU, TRAINING_REPAINT_SOFTWARE, training_repaint};

pub struct LatentLabApp {
    pub settings: Settings,
    pub train: TrainState,
    pub detect: DetectState,
    pub explore: ExploreState,
    pub interp: InterpState,
    pub translate: TranslateState,
    /// Messages for the status bar, newest last.
    pub notices: Vec<String>,
    pub prompt: Option<PathPrompt>,
    pub frame_stats: FrameStats,
    training: TrainingHandle,
    explorer: ExplorerHandle,
    dialogs: Arc<dyn Dialogs>,
    jobs_tx: Sender<Job>,
    jobs_rx: Receiver<Job>,
    /// The last data loaded for a run: its source, the side asked for, and the images.
    data_cache: Option<(files::DataRequest, Arc<Dataset>)>,
    /// The saved run the starting run continues (Resume after a lost server).
    resume: Option<std::path::PathBuf>,
    /// A dialog is open (or a write is under way).
    pub busy_files: usize,
    ctx: egui::Context,
    frame_log: Option<PathBuf>,
    /// Where closing the window stands (an unsaved run is asked about first).
    pub closing: Closing,
    signals: Arc<AtomicUsize>,
    signals_seen: usize,
    /// The close was asked for by a signal: nobody may be there to answer, so it happens
    /// even when the save fails (the last good checkpoint stays as it was).
    closing_by_signal: bool,
    recovery_dir: Option<PathBuf>,
}

impl LatentLabApp {
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> anyhow::Result<Self> {
        let ctx = cc.egui_ctx.clone();
        let mut settings = if options.fresh_settings {
            Settings::default()
        } else {
            cc.storage
                .and_then(|s| s.get_string(settings::KEY))
                .map(|text| Settings::from_ron(&text))
                .unwrap_or_default()
        };
        if let Some(run) = options.run {
            settings.run = run.sanitized();
        }
        let repaint = {
            let ctx = ctx.clone();
            Arc::new(move || ctx.request_repaint())
        };
        // Training events redraw at most every `training_repaint` (input still redraws at
        // once): under a software renderer each frame costs the training thread CPU time.
        let training_repaint = {
            let ctx = ctx.clone();
            let after = training_repaint(cc.wgpu_render_state.as_ref());
            Arc::new(move || ctx.request_repaint_after(after))
        };
        let training = TrainingHandle::spawn(Some(training_repaint))?;
        let explorer = ExplorerHandle::spawn(Some(repaint))?;
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let mut explore = ExploreState::default();
        explore.gpu = super::gpu_view::install(cc.wgpu_render_state.as_ref());
        let checkpoint = options.open_checkpoint.or_else(|| {
            settings
                .last_checkpoint
                .clone()
                .filter(|p| p.join(crate::checkpoint::MANIFEST).is_file())
                .or(options.initial_checkpoint)
        });
        if let Some(dir) = checkpoint {
            explore.loading = true;
            explorer.send(Request::LoadDir(dir));
        }
        let mut app = Self {
            settings,
            train: TrainState::default(),
            detect: DetectState::default(),
            explore,
            interp: InterpState::default(),
            translate: Default::default(),
            notices: Vec::new(),
            prompt: None,
            frame_stats: FrameStats::default(),
            training,
            explorer,
            dialogs: options.dialogs,
            jobs_tx,
            jobs_rx,
            data_cache: None,
            resume: None,
            busy_files: 0,
            ctx,
            frame_log: options.frame_log,
            closing: Closing::No,
            signals: options.signals,
            signals_seen: 0,
            closing_by_signal: false,
            recovery_dir: options.recovery_dir,
        };
        if options.autostart {
            app.settings.tab = settings::Tab::Train;
            app.start_run();
        }
        Ok(app)
    }

    /// Steps trained and the median examples/s of the run in the Train tab, for the frame log.
    fn training_figures(&self) -> Option<(u64, f32)> {
        let rates: Vec<f32> = self
            .train
            .metrics()
            .iter()
            .map(|m| m.examples_per_sec)
            .filter(|r| r.is_finite())
            .collect();
        let median = crate::types::stats::percentile(&rates, 0.5)?;
        Some((self.train.step, median))
    }

    fn notice(&mut self, text: impl Into<String>) {
        self.notices.push(text.into());
        if self.notices.len() > 50 {
            self.notices.remove(0);
        }
    }

    fn start_run(&mut self) {
        self.train.reset_run();
        self.train.status = RunStatus::LoadingData;
        let run = &self.settings.run;
        let request = files::DataRequest {
            source: run.data_for_run(),
            size: run.size,
            channels: run.channels,
            strict: run.strict,
        };
        // Folders are read again on each Start (from the decoding cache when unchanged), so
        // an edited folder or a newly ticked strict is honoured.
        if let Some((cached, data)) = &self.data_cache
            && *cached == request
            && !matches!(request.source, DataSource::Path(_))
        {
            let data = data.clone();
            return self.send_start(data);
        }
        let loading = self.train.loading.clone();
        self.spawn_job(move || files::load_run_data(request, &loading));
    }

    fn send_start(&mut self, data: Arc<Dataset>) {
        let s = &self.settings;
        let config = s.run.config_for(&data);
        if let Err(e) = config.model.validate() {
            self.train.status = RunStatus::Failed;
            self.train.alert = Some(format!(
                "{e}: change the model settings and press Start again."
            ));
            return;
        }
        self.train.starting_lr = (config.lr_g, config.lr_d);
        self.train.schedule = config.schedule;
        let spec = RunSpec {
            config,
            data,
            data_source: s.run.data_for_run().to_string(),
            device: s.run.device.clone(),
            token_file: s.run.token_file.clone(),
            resume_from: self.resume.take(),
            out_dir: None,
            // A decaying schedule ends the run at its last step (its rate is zero there).
            max_steps: (s.run.lr_schedule.unwrap_or_default()
                != crate::types::schedule::LrShape::Constant)
                .then_some(s.run.schedule_steps),
            autostart: true,
            score_every: s.run.score_every,
            classifier: None,
            lr_override: None,
            schedule_override: None,
            cd_override: None,
            detect_every: s.run.sample_every,
        };
        self.training.send(Command::Start(Box::new(spec)));
    }

    pub fn act(&mut self, action: Action) {
        match action {
            Action::StartRun => {
                self.resume = None;
                self.start_run();
            }
            Action::ResumeRun(dir) => {
                self.resume = Some(dir);
                self.start_run();
            }
            Action::Train(c) => {
                if !self.training.send(c) {
                    self.train.alert =
                        Some("the training thread has stopped; restart latentlab".into());
                }
            }
            Action::SaveCheckpoint => self.ask(FileAction::SaveCheckpoint),
            Action::OpenCheckpoint => self.ask(FileAction::OpenCheckpoint),
            Action::OpenPicture => self.ask(FileAction::OpenPicture),
            Action::PickDataFolder => self.ask(FileAction::DataFolder),
            Action::Explore(r) => {
                self.explorer.send(r);
            }
            Action::Job(kind) => {
                let request = self.explore.start_job(kind);
                self.explorer.send(request);
            }
            Action::LoadDirections => self.ask(FileAction::OpenDirections),
            Action::SaveDirections { path, bytes } => self.write_directions(path, bytes, true),
            Action::ExploreTrainingRun => {
                self.training.send(Command::Snapshot);
            }
            Action::Export {
                what,
                default_name,
                payload,
            } => self.ask(FileAction::Write {
                what,
                default_name,
                payload: Arc::new(payload),
            }),
            Action::Notice(text) => self.notice(text),
        }
    }

    /// Training events: the Train tab's state takes what is its own; saves, snapshots and
    /// the close flow are the app's.
    fn on_event(&mut self, e: Event) {
        match &e {
            Event::Saved { path, step } => {
                self.notice(format!("saved step {step} to {}", path.display()));
                if self.closing == Closing::AfterSave {
                    self.closing = Closing::Allowed;
                    self.ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            }
            Event::SaveFailed { path, .. } => {
                if self.closing == Closing::AfterSave {
                    if self.closing_by_signal {
                        self.closing = Closing::Allowed;
                        self.ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                    } else {
                        // The window stays open so the work is not lost.
                        self.closing = Closing::No;
                    }
                }
                self.notice(format!("save failed: {}", path.display()));
            }
            _ => {}
        }
        if self.detect.apply(&e) {
            return;
        }
        // The Translate tab follows a training run it shows: each new grid brings a snapshot.
        let following = self.settings.tab == Tab::Translate
            && self.explore.info.as_ref().is_some_and(|i| i.path.is_none());
        if let Event::Snapshot(s) = e {
            self.explore.loading = true;
            if !following {
                self.settings.tab = Tab::Explore;
            }
            self.explorer.send(Request::LoadSnapshot(s));
        } else {
            if following && matches!(e, Event::Samples { .. }) {
                self.training.send(Command::Snapshot);
            }
            self.train.apply(e);
        }
    }

    /// Drain events within a small time budget, so a flood never stalls a frame.
    fn drain(&mut self) {
        let budget = Instant::now() + Duration::from_millis(4);
        let mut more = false;
        loop {
            let mut any = false;
            if let Ok(e) = self.training.events.try_recv() {
                self.on_event(e);
                any = true;
            }
            if let Ok(r) = self.explorer.replies.try_recv() {
                self.on_reply(r);
                any = true;
            }
            if let Ok(j) = self.jobs_rx.try_recv() {
                self.on_job(j);
                any = true;
            }
            if !any {
                break;
            }
            if Instant::now() > budget {
                more = true;
                break;
            }
        }
        if more {
            self.ctx.request_repaint();
        }
    }
}

impl eframe::App for LatentLabApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain();
        self.on_signal(ctx);
        self.guard_close(ctx);
        self.handle_drops(ctx);
        if self.busy_files > 0
            || self.train.status == RunStatus::LoadingData
            || self.explore.loading
            || self.explore.job.is_some()
        {
            ctx.request_repaint_after(Duration::from_millis(50));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        let ctx = ui.ctx().clone();
        self.shortcuts(&ctx);
        self.top_bar(ui);
        self.status_bar(ui);
        let mut actions = Vec::new();
        match self.settings.tab {
            Tab::Train => train_panel::show(ui, &mut self.settings, &mut self.train, &mut actions),
            Tab::Explore => {
                explore_panel::show(ui, &mut self.settings, &mut self.explore, &mut actions)
            }
            Tab::Detect => detect_panel::show(ui, &mut self.detect, &mut actions),
            Tab::Translate => {
                translate_panel::show(ui, &mut self.translate, &self.explore, &mut actions)
            }
            Tab::Interpolate => interpolate_panel::show(
                ui,
                &mut self.settings,
                &mut self.interp,
                &self.explore,
                &mut actions,
            ),
        }
        for a in actions {
            self.act(a);
        }
        for r in self.explore.pending_requests() {
            self.explorer.send(r);
        }
        self.prompt_window(&ctx);
        self.close_window(&ctx);
        self.drop_overlay(&ctx);
        self.frame_stats.record(started, started.elapsed());
    }

    /// Closing waits for a save or step under way, with a bound and a message.
    fn on_exit(&mut self) {
        if !self.training.shutdown_within(CLOSE_WAIT) {
            use std::io::Write as _;
            // stderr may be gone with the terminal; the message is a courtesy.
            let _ = writeln!(
                std::io::stderr(),
                "latentlab: the training thread was still busy after {} s; exiting without it",
                CLOSE_WAIT.as_secs()
            );
        }
    }

    /// Called every 30 s and at exit.
    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, settings::KEY, &self.settings);
        let training = self.training_figures();
        if let Some(path) = &self.frame_log
            && let Err(e) = std::fs::write(path, self.frame_stats.log_json(training))
        {
            let text = format!("cannot write the frame log {}: {e}", path.display());
            self.notice(text);
        }
    }
}

//! The eframe app: owns the training session and the explorer thread, routes their events to
//! the tabs, runs file dialogs and file writes off the UI thread, and persists the settings.

use super::actions::{Action, Payload};
use super::dialogs::{DialogKind, DialogOutcome, Dialogs, NativeDialogs};
use super::explore_panel::{self, ExploreState};
use super::interpolate_panel::{self, InterpState};
use super::settings::{self, Settings, Tab};
use super::train_panel::{self, RunStatus, TrainState};
use crate::data::{DataSource, Dataset};
use crate::explore::worker::{ExplorerHandle, Reply, Request, Tag};
use crate::export::LatentRecord;
use crate::model::IMAGE_SIZE;
use crate::train::{Command, Event, RunSpec, TrainingHandle};
use eframe::egui;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

/// How the app starts.
pub struct AppOptions {
    pub dialogs: Arc<dyn Dialogs>,
    /// Loaded into the explorer at start (unless the stored settings name a checkpoint that
    /// still exists).
    pub initial_checkpoint: Option<PathBuf>,
    /// Ignore stored settings (tests).
    pub fresh_settings: bool,
    /// Write frame-time statistics here every 30 s and on exit.
    pub frame_log: Option<PathBuf>,
    /// Termination signals received (SIGINT, SIGTERM, SIGHUP; counted by the launcher's
    /// handler): the first saves an unsaved run into `recovery_dir` and closes the window.
    pub signals: Arc<AtomicUsize>,
    /// Where a signal saves an unsaved run (`run-UNIXTIME` inside it).
    pub recovery_dir: Option<PathBuf>,
}

impl AppOptions {
    /// What `latentlab` with no subcommand uses: native dialogs and the shipped cDCGAN.
    pub fn for_launch() -> Self {
        let shipped = crate::checkpoint::shipped_dir("mnist-cdcgan");
        Self {
            dialogs: Arc::new(NativeDialogs),
            initial_checkpoint: shipped
                .join(crate::checkpoint::MANIFEST)
                .is_file()
                .then_some(shipped),
            fresh_settings: false,
            frame_log: std::env::var_os("LATENTLAB_FRAME_LOG").map(PathBuf::from),
            signals: Arc::new(AtomicUsize::new(0)),
            recovery_dir: crate::checkpoint::recovery_dir(),
        }
    }
}

/// Something a file dialog will be asked for, and what to do with the answer.
#[derive(Debug, Clone)]
pub enum FileAction {
    Write {
        what: &'static str,
        default_name: String,
        payload: Arc<Payload>,
    },
    SaveCheckpoint,
    OpenCheckpoint,
    DataFolder,
}

impl FileAction {
    fn dialog(&self) -> (String, DialogKind) {
        match self {
            FileAction::Write {
                what, default_name, ..
            } => (
                format!("Export {what}"),
                DialogKind::SaveFile {
                    default_name: default_name.clone(),
                    extension: default_name
                        .rsplit_once('.')
                        .map(|(_, ext)| ext.to_string()),
                },
            ),
            FileAction::SaveCheckpoint => (
                "Save checkpoint as (a new run directory)".into(),
                DialogKind::SaveFile {
                    default_name: "latentlab-run".into(),
                    extension: None,
                },
            ),
            FileAction::OpenCheckpoint => ("Open a run directory".into(), DialogKind::PickFolder),
            FileAction::DataFolder => (
                "Choose a data directory (IDX files or one image folder per class)".into(),
                DialogKind::PickFolder,
            ),
        }
    }
}

/// Results of work done off the UI thread.
enum Job {
    Answer(FileAction, DialogOutcome),
    Wrote { what: &'static str, path: PathBuf },
    Failed(String),
    Data(DataSource, Result<Arc<Dataset>, String>),
    Dropped(Drop),
}

/// What a file dropped on the window turned out to be.
enum Drop {
    RunDir(PathBuf),
    Latent(LatentRecord),
    /// Not usable; the text says why.
    Refused(String),
}

fn examine_drop(path: PathBuf) -> Drop {
    if path.is_dir() {
        return if path.join(crate::checkpoint::MANIFEST).is_file() {
            Drop::RunDir(path)
        } else {
            Drop::Refused(format!(
                "{}: not a run directory (no manifest.json)",
                path.display()
            ))
        };
    }
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        return match crate::export::read_latent(&path) {
            Ok(record) => Drop::Latent(record),
            Err(e) => Drop::Refused(format!("cannot restore from the dropped image: {e}")),
        };
    }
    Drop::Refused(format!(
        "{}: drop a run directory or a PNG exported by latentlab",
        path.display()
    ))
}

/// Where a path is typed when no native dialog could open.
pub struct PathPrompt {
    pub action: FileAction,
    pub reason: String,
    pub text: String,
    focused_once: bool,
}

/// Frame times of the UI thread, for the status bar and the frame log.
#[derive(Default)]
pub struct FrameStats {
    /// Time spent building each frame's UI, ms.
    pub build_ms: VecDeque<f32>,
    /// Time between consecutive frames, ms (includes painting and waiting).
    pub interval_ms: VecDeque<f32>,
    last: Option<Instant>,
    /// Every sample since launch (for the log), bounded.
    all_build: Vec<f32>,
    all_interval: Vec<f32>,
}

const STATS_WINDOW: usize = 600;
const STATS_KEEP: usize = 200_000;

impl FrameStats {
    fn record(&mut self, started: Instant, build: Duration) {
        let ms = build.as_secs_f32() * 1000.0;
        push_bounded(&mut self.build_ms, ms);
        if self.all_build.len() < STATS_KEEP {
            self.all_build.push(ms);
        }
        if let Some(last) = self.last {
            let iv = started.duration_since(last).as_secs_f32() * 1000.0;
            push_bounded(&mut self.interval_ms, iv);
            if self.all_interval.len() < STATS_KEEP {
                self.all_interval.push(iv);
            }
        }
        self.last = Some(started);
    }

    /// (median, 95th percentile) of the recent build times, ms.
    pub fn summary(&self) -> Option<(f32, f32)> {
        let v: Vec<f32> = self.build_ms.iter().copied().collect();
        Some((percentile(&v, 0.5)?, percentile(&v, 0.95)?))
    }

    fn log_json(&self) -> String {
        let stat = |v: &[f32]| {
            format!(
                "{{\"frames\": {}, \"median_ms\": {:.3}, \"p95_ms\": {:.3}, \"max_ms\": {:.3}}}",
                v.len(),
                percentile(v, 0.5).unwrap_or(0.0),
                percentile(v, 0.95).unwrap_or(0.0),
                v.iter().copied().fold(0.0, f32::max)
            )
        };
        format!(
            "{{\"ui_build\": {}, \"frame_interval\": {}}}\n",
            stat(&self.all_build),
            stat(&self.all_interval)
        )
    }
}

fn push_bounded(q: &mut VecDeque<f32>, v: f32) {
    if q.len() == STATS_WINDOW {
        q.pop_front();
    }
    q.push_back(v);
}

/// The `p` quantile (nearest rank) of `v`.
pub fn percentile(v: &[f32], p: f32) -> Option<f32> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    let i = ((p * s.len() as f32).ceil() as usize).clamp(1, s.len()) - 1;
    Some(s[i])
}

pub struct LatentLabApp {
    pub settings: Settings,
    pub train: TrainState,
    pub explore: ExploreState,
    pub interp: InterpState,
    /// Messages for the status bar, newest last.
    pub notices: Vec<String>,
    pub prompt: Option<PathPrompt>,
    pub frame_stats: FrameStats,
    training: TrainingHandle,
    explorer: ExplorerHandle,
    dialogs: Arc<dyn Dialogs>,
    jobs_tx: Sender<Job>,
    jobs_rx: Receiver<Job>,
    data_cache: Option<(DataSource, Arc<Dataset>)>,
    /// Learning rates a starting run was given (reported once it has started).
    starting_lr: (f64, f64),
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

/// Closing the window with an unsaved run: ask Save / Discard / Cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Closing {
    #[default]
    No,
    /// The Save / Discard / Cancel question is showing.
    Asking,
    /// Save was chosen: close once the save has succeeded.
    AfterSave,
    /// Nothing (more) to ask: let the window close.
    Allowed,
}

/// How long closing waits for a save or step under way on the training thread.
const CLOSE_WAIT: Duration = Duration::from_secs(60);

impl LatentLabApp {
    pub fn new(cc: &eframe::CreationContext<'_>, options: AppOptions) -> anyhow::Result<Self> {
        let ctx = cc.egui_ctx.clone();
        let settings = if options.fresh_settings {
            Settings::default()
        } else {
            cc.storage
                .and_then(|s| eframe::get_value::<Settings>(s, settings::KEY))
                .unwrap_or_default()
                .sanitized()
        };
        let repaint = {
            let ctx = ctx.clone();
            Arc::new(move || ctx.request_repaint())
        };
        let training = TrainingHandle::spawn(Some(repaint.clone()))?;
        let explorer = ExplorerHandle::spawn(Some(repaint))?;
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let mut explore = ExploreState::default();
        explore.gpu = super::gpu_view::install(cc.wgpu_render_state.as_ref());
        let checkpoint = settings
            .last_checkpoint
            .clone()
            .filter(|p| p.join(crate::checkpoint::MANIFEST).is_file())
            .or(options.initial_checkpoint);
        if let Some(dir) = checkpoint {
            explore.loading = true;
            explorer.send(Request::LoadDir(dir));
        }
        Ok(Self {
            settings,
            train: TrainState::default(),
            explore,
            interp: InterpState::default(),
            notices: Vec::new(),
            prompt: None,
            frame_stats: FrameStats::default(),
            training,
            explorer,
            dialogs: options.dialogs,
            jobs_tx,
            jobs_rx,
            data_cache: None,
            starting_lr: (0.0, 0.0),
            busy_files: 0,
            ctx,
            frame_log: options.frame_log,
            closing: Closing::No,
            signals: options.signals,
            signals_seen: 0,
            closing_by_signal: false,
            recovery_dir: options.recovery_dir,
        })
    }

    fn notice(&mut self, text: impl Into<String>) {
        self.notices.push(text.into());
        if self.notices.len() > 50 {
            self.notices.remove(0);
        }
    }

    /// Run `work` on a helper thread; its result comes back as a [`Job`].
    fn spawn_job(&self, work: impl FnOnce() -> Job + Send + 'static) {
        let tx = self.jobs_tx.clone();
        let ctx = self.ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("latentlab-io".into())
            .spawn(move || {
                let _ = tx.send(work());
                ctx.request_repaint();
            });
        if let Err(e) = spawned {
            let _ = self
                .jobs_tx
                .send(Job::Failed(format!("cannot start a helper thread: {e}")));
        }
    }

    fn ask(&mut self, action: FileAction) {
        let dialogs = self.dialogs.clone();
        self.busy_files += 1;
        self.spawn_job(move || {
            let (title, kind) = action.dialog();
            let outcome = dialogs.ask(&title, &kind);
            Job::Answer(action, outcome)
        });
    }

    /// A path was chosen (by dialog, path field or drop) for `action`.
    pub fn complete(&mut self, action: FileAction, path: PathBuf) {
        match action {
            FileAction::Write { what, payload, .. } => {
                self.busy_files += 1;
                self.spawn_job(move || {
                    let written = payload.encode().and_then(|bytes| {
                        crate::export::write_atomic(&path, &bytes).map_err(|e| e.to_string())
                    });
                    match written {
                        Ok(()) => Job::Wrote { what, path },
                        Err(e) => Job::Failed(format!("export failed: {e}")),
                    }
                });
            }
            FileAction::SaveCheckpoint => {
                self.training.send(Command::Save(path));
            }
            FileAction::OpenCheckpoint => self.open_checkpoint(path),
            FileAction::DataFolder => {
                if path.is_dir() {
                    self.settings.data = DataSource::Path(path);
                } else {
                    self.notice(format!("{}: not a directory", path.display()));
                }
            }
        }
    }

    fn open_checkpoint(&mut self, dir: PathBuf) {
        self.explore.loading = true;
        self.settings.last_checkpoint = Some(dir.clone());
        self.explorer.send(Request::LoadDir(dir));
    }

    fn start_run(&mut self) {
        self.train.reset_run();
        self.train.status = RunStatus::LoadingData;
        let source = self.settings.data.clone();
        if let Some((cached, data)) = &self.data_cache
            && *cached == source
        {
            let data = data.clone();
            return self.send_start(data);
        }
        self.spawn_job(move || {
            let result = source
                .load(IMAGE_SIZE)
                .map(Arc::new)
                .map_err(|e| e.to_string());
            Job::Data(source, result)
        });
    }

    fn send_start(&mut self, data: Arc<Dataset>) {
        let s = &self.settings;
        let config = train_panel::train_config(s, data.num_classes());
        if let Err(e) = config.model.validate() {
            self.train.status = RunStatus::Failed;
            self.train.alert = Some(format!(
                "{e}: change the model settings and press Start again."
            ));
            return;
        }
        self.starting_lr = (config.lr_g, config.lr_d);
        let spec = RunSpec {
            config,
            data,
            data_source: s.data.to_string(),
            device: s.device,
            resume_from: None,
            out_dir: None,
            max_steps: None,
            autostart: true,
            score_every: s.score_every,
            classifier: None,
            lr_override: None,
        };
        self.training.send(Command::Start(Box::new(spec)));
    }

    pub fn act(&mut self, action: Action) {
        match action {
            Action::StartRun => self.start_run(),
            Action::Train(c) => {
                if !self.training.send(c) {
                    self.train.alert =
                        Some("the training thread has stopped; restart latentlab".into());
                }
            }
            Action::SaveCheckpoint => self.ask(FileAction::SaveCheckpoint),
            Action::OpenCheckpoint => self.ask(FileAction::OpenCheckpoint),
            Action::PickDataFolder => self.ask(FileAction::DataFolder),
            Action::Explore(r) => {
                self.explorer.send(r);
            }
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

    fn on_event(&mut self, e: Event) {
        let t = &mut self.train;
        match e {
            Event::Started {
                device,
                step,
                model,
                class_names,
            } => {
                t.status = RunStatus::Running;
                t.saved_step = Some(step);
                t.diverged = false;
                t.device = device;
                t.step = step;
                t.model = Some(model);
                t.class_names = class_names;
                t.live_lr = Some(self.starting_lr);
            }
            Event::Step(m) => {
                t.step = m.step;
                t.history.push(m);
            }
            Event::Quality { step, score } => t.quality.push((step, score)),
            Event::Samples { step, grid } => t.push_grid(step, grid),
            Event::Generated { .. } => {}
            Event::Paused { step } => {
                t.step = step;
                if t.status == RunStatus::Running {
                    t.status = RunStatus::Paused;
                }
            }
            Event::Resumed { .. } => t.status = RunStatus::Running,
            Event::LearningRateChanged { step, lr_g, lr_d } => {
                t.live_lr = Some((lr_g, lr_d));
                t.markers.push(super::plots::Marker {
                    step,
                    text: format!("learning rate G {lr_g:.1e}, D {lr_d:.1e}"),
                });
            }
            Event::Saved { path, step } => {
                t.saved_step = Some(step);
                self.notice(format!("saved step {step} to {}", path.display()));
                if self.closing == Closing::AfterSave {
                    self.closing = Closing::Allowed;
                    self.ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            }
            Event::SaveFailed { path, error } => {
                t.alert = Some(format!("not saved to {}: {error}", path.display()));
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
            Event::Diverged {
                step,
                loss,
                value,
                last_good_step,
            } => {
                t.diverged = true;
                let kept = crate::train::session::kept_text(last_good_step);
                t.alert = Some(format!(
                    "{loss} became {value} at step {step}: training is paused and this state \
                     will not be saved ({kept}). Lower the learning rate and press Start, or \
                     open the last checkpoint."
                ));
            }
            Event::Snapshot(s) => {
                self.explore.loading = true;
                self.settings.tab = Tab::Explore;
                self.explorer.send(Request::LoadSnapshot(s));
            }
            Event::Warning(text) => t.alert = Some(text),
            Event::Failed(text) => {
                t.status = RunStatus::Failed;
                t.alert = Some(format!(
                    "training failed: {text}. Change the settings and press Start again; saved \
                     checkpoints are untouched."
                ));
            }
            Event::Finished { step } => {
                t.step = step;
                t.status = RunStatus::Finished;
            }
        }
    }

    fn on_reply(&mut self, r: Reply) {
        match r {
            Reply::Loaded(info) => {
                self.notice(format!("loaded {}", info.origin));
                self.interp.on_model_changed();
                for req in self.explore.on_loaded(info) {
                    self.explorer.send(req);
                }
            }
            Reply::Images {
                tag,
                id: _,
                values,
                grid,
                millis,
            } => match tag {
                Tag::Explore => self.explore.on_image(grid, millis),
                Tag::Candidates => self.interp.on_candidates(grid),
                Tag::Strip => {
                    let side = self
                        .explore
                        .info
                        .as_ref()
                        .map_or(IMAGE_SIZE, |i| i.model.image_size);
                    self.interp.on_strip(&values, grid, side);
                }
                Tag::Manifold => self.explore.on_manifold(grid),
            },
            Reply::Encoded { points, labels } => self.explore.scatter = Some((points, labels)),
            Reply::Error(text) => {
                self.explore.loading = false;
                self.notice(format!("explorer: {text}"));
            }
        }
    }

    fn on_job(&mut self, j: Job) {
        match j {
            Job::Answer(action, outcome) => {
                self.busy_files = self.busy_files.saturating_sub(1);
                match outcome {
                    DialogOutcome::Chosen(path) => self.complete(action, path),
                    DialogOutcome::Cancelled => {
                        if self.closing == Closing::AfterSave {
                            self.closing = Closing::No;
                        }
                    }
                    DialogOutcome::Unavailable(reason) => {
                        // Start from a sensible path: the working directory plus the default name.
                        let text = match &action {
                            FileAction::Write { default_name, .. } => std::env::current_dir()
                                .map(|d| d.join(default_name).display().to_string())
                                .unwrap_or_default(),
                            _ => String::new(),
                        };
                        self.prompt = Some(PathPrompt {
                            action,
                            reason,
                            text,
                            focused_once: false,
                        })
                    }
                }
            }
            Job::Wrote { what, path } => {
                self.busy_files = self.busy_files.saturating_sub(1);
                self.notice(format!("exported the {what} to {}", path.display()));
            }
            Job::Failed(text) => {
                self.busy_files = self.busy_files.saturating_sub(1);
                self.notice(text);
            }
            Job::Data(source, result) => match result {
                Ok(data) => {
                    self.data_cache = Some((source, data.clone()));
                    if self.train.status == RunStatus::LoadingData {
                        self.send_start(data);
                    }
                }
                Err(e) => {
                    self.train.status = RunStatus::Failed;
                    self.train.alert = Some(format!(
                        "cannot load the data set: {e}. Choose another data set and press Start."
                    ));
                }
            },
            Job::Dropped(Drop::RunDir(dir)) => self.open_checkpoint(dir),
            Job::Dropped(Drop::Refused(text)) => self.notice(text),
            Job::Dropped(Drop::Latent(record)) => match self.explore.restore(&record) {
                Ok(()) => {
                    self.settings.tab = Tab::Explore;
                    self.notice("restored the latent vector from the dropped image");
                }
                Err(e) => self.notice(format!("cannot restore from the dropped image: {e}")),
            },
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

    /// Each dropped path is examined on a helper thread (it means file-system reads).
    fn handle_drops(&mut self, ctx: &egui::Context) {
        let dropped = ctx.input(|i| i.raw.dropped_files.clone());
        for f in dropped {
            let path = f.path().to_path_buf();
            self.spawn_job(move || Job::Dropped(examine_drop(path)));
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() || !ctx.input(|i| i.key_pressed(egui::Key::Space)) {
            return;
        }
        match self.train.status {
            RunStatus::Running => self.act(Action::Train(Command::Pause)),
            RunStatus::Paused => self.act(Action::Train(Command::Resume)),
            _ => {}
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("tabs").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("latentlab");
                ui.separator();
                for (tab, name) in [
                    (Tab::Train, "Train"),
                    (Tab::Explore, "Explore"),
                    (Tab::Interpolate, "Interpolate"),
                ] {
                    ui.selectable_value(&mut self.settings.tab, tab, name);
                }
                ui.separator();
                if let Some(info) = &self.explore.info {
                    ui.label(format!("model: {}", info.origin))
                        .on_hover_text("the model Explore and Interpolate use");
                }
            });
        });
    }

    fn status_bar(&mut self, ui: &mut egui::Ui) {
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                if let Some((median, p95)) = self.frame_stats.summary() {
                    ui.label(format!("UI frame {median:.1} ms (p95 {p95:.1})"));
                    ui.separator();
                }
                if self.busy_files > 0 {
                    ui.add(egui::Spinner::new());
                }
                if let Some(n) = self.notices.last() {
                    ui.label(n);
                }
            });
        });
    }

    fn prompt_window(&mut self, ctx: &egui::Context) {
        let Some(p) = &mut self.prompt else { return };
        let mut done: Option<bool> = None;
        egui::Window::new("Type a path")
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                ui.label(format!("{}.", p.reason));
                ui.label(p.action.dialog().0);
                let r = ui.add(
                    egui::TextEdit::singleline(&mut p.text)
                        .hint_text("/path/to/file-or-folder")
                        .desired_width(380.0),
                );
                if !p.focused_once {
                    r.request_focus();
                    p.focused_once = true;
                }
                if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    done = Some(true);
                }
                ui.horizontal(|ui| {
                    if ui.button("OK").clicked() {
                        done = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        done = Some(false);
                    }
                });
            });
        match done {
            Some(true) if !p.text.trim().is_empty() => {
                if let Some(p) = self.prompt.take() {
                    let path = PathBuf::from(p.text.trim());
                    self.complete(p.action, path);
                }
            }
            Some(false) => {
                self.prompt = None;
                if self.closing == Closing::AfterSave {
                    self.closing = Closing::No;
                }
            }
            _ => {}
        }
    }

    fn drop_overlay(&self, ctx: &egui::Context) {
        if ctx.input(|i| i.raw.hovered_files.is_empty()) {
            return;
        }
        let painter = ctx.layer_painter(egui::LayerId::new(
            egui::Order::Foreground,
            egui::Id::unique("latentlab-drop-overlay"),
        ));
        let rect = ctx.content_rect();
        painter.rect_filled(rect, 0.0, egui::Color32::from_black_alpha(180));
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "Drop a run directory to open it, or an exported PNG to restore its latent",
            egui::TextStyle::Heading.resolve(&ctx.global_style()),
            egui::Color32::WHITE,
        );
    }
}

impl LatentLabApp {
    /// A termination signal (logout, `kill`, Ctrl-C in the terminal): nobody may be there to
    /// answer a question, so an unsaved run is saved into the recovery directory, then the
    /// window closes.
    fn on_signal(&mut self, ctx: &egui::Context) {
        let n = self.signals.load(Ordering::SeqCst);
        if n <= self.signals_seen {
            return;
        }
        self.signals_seen = n;
        self.closing_by_signal = true;
        let target = self
            .recovery_dir
            .as_deref()
            .map(crate::checkpoint::recovered_run);
        match target {
            Some(path) if self.train.unsaved() => {
                self.notice(format!(
                    "signal received: saving the run to {} before closing",
                    path.display()
                ));
                self.closing = Closing::AfterSave;
                self.training.send(Command::Save(path));
            }
            _ => {
                self.closing = Closing::Allowed;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
        }
    }

    /// A close request with an unsaved run is held back and asked about.
    fn guard_close(&mut self, ctx: &egui::Context) {
        if !ctx.input(|i| i.viewport().close_requested()) {
            return;
        }
        match self.closing {
            Closing::Allowed => {}
            _ if !self.train.unsaved() => self.closing = Closing::Allowed,
            _ => {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                if self.closing == Closing::No {
                    self.closing = Closing::Asking;
                }
            }
        }
    }

    fn close_window(&mut self, ctx: &egui::Context) {
        if self.closing != Closing::Asking {
            return;
        }
        let mut choice = None;
        egui::Window::new("Unsaved run")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                let saved = match self.train.saved_step {
                    Some(s) if s > 0 => format!("the last save holds step {s}"),
                    _ => "it has never been saved".into(),
                };
                ui.label(format!(
                    "The run is at step {}, and {saved}. Save it before closing?",
                    self.train.step
                ));
                ui.horizontal(|ui| {
                    if ui.button("Save…").clicked() {
                        choice = Some(Closing::AfterSave);
                    }
                    if ui.button("Discard").clicked() {
                        choice = Some(Closing::Allowed);
                    }
                    if ui.button("Cancel").clicked() {
                        choice = Some(Closing::No);
                    }
                });
            });
        match choice {
            Some(Closing::AfterSave) => {
                self.closing = Closing::AfterSave;
                self.act(Action::SaveCheckpoint);
            }
            Some(Closing::Allowed) => {
                self.closing = Closing::Allowed;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            Some(_) => self.closing = Closing::No,
            None => {}
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
        if let Some(r) = self.explore.pending_request() {
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
        if let Some(path) = &self.frame_log
            && let Err(e) = std::fs::write(path, self.frame_stats.log_json())
        {
            let text = format!("cannot write the frame log {}: {e}", path.display());
            self.notice(text);
        }
    }
}

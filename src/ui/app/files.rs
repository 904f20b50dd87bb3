//! The file flow: native dialogs (or a typed path when none can open), writes and data loads
//! on helper threads, and files dropped on the window.

use super::{Closing, LatentLabApp};
use crate::data::{DataSource, Dataset};
use crate::explore::directions::DirectionsFile;
use crate::explore::jobs::ImageSource;
use crate::explore::worker::Request;
use crate::export::LatentRecord;
use crate::train::Command;
use crate::ui::actions::Payload;
use crate::ui::dialogs::{DialogKind, DialogOutcome};
use crate::ui::settings::Tab;
use crate::ui::train_panel::RunStatus;
use eframe::egui;
use std::path::PathBuf;
use std::sync::Arc;

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
    OpenDirections,
    DataFolder,
    OpenPicture,
}

impl FileAction {
    pub(super) fn dialog(&self) -> (String, DialogKind) {
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
            FileAction::OpenDirections => (
                "Open a directions file (from latentlab directions or Save as…)".into(),
                DialogKind::OpenFile {
                    extension: "json".into(),
                },
            ),
            FileAction::DataFolder => (
                "Choose a data directory (IDX files or one image folder per class)".into(),
                DialogKind::PickFolder,
            ),
            FileAction::OpenPicture => (
                "Open a picture to translate".into(),
                DialogKind::OpenFile {
                    extension: "png,jpg,jpeg,webp,bmp,gif".into(),
                },
            ),
        }
    }
}

/// Results of work done off the UI thread.
pub(super) enum Job {
    Answer(FileAction, DialogOutcome),
    Wrote {
        what: &'static str,
        path: PathBuf,
    },
    Failed(String),
    /// A data set loaded for a run, with what an image folder skipped (see [`load_run_data`]).
    Data(
        DataRequest,
        Result<(Arc<Dataset>, crate::data::Skipped), String>,
    ),
    Dropped(Dropped),
    /// A directions file was read (or failed to be).
    Directions(PathBuf, Result<DirectionsFile, String>),
    /// Something to tell the user (no dialog or write was counted for it).
    Notice(String),
    /// Nothing to do (an optional file was not there).
    Nothing,
}

/// What a file dropped on the window turned out to be.
pub(super) enum Dropped {
    RunDir(PathBuf),
    Latent(LatentRecord),
    /// Images for the discriminator to judge (dropped on the Detect tab): names and pixels.
    ToJudge(String, Vec<f32>),
    /// A real image to encode (a picture without latentlab's latent): name and pixels.
    ToEncode(String, Vec<f32>),
    /// A directions file (`.json`).
    Directions(PathBuf),
    /// A picture for the Translate tab: name, planes, width and height.
    ToTranslate(String, Vec<u8>, (usize, usize)),
    /// Not usable; the text says why.
    Refused(String),
}

/// `detect`: an image for the discriminator rather than a latent to restore. `shape`: (side,
/// channels) of the model the picture is for (the training run's, or the explored one's).
fn examine_drop(path: PathBuf, detect: bool, (side, channels): (usize, usize)) -> Dropped {
    if side == 0 && !path.is_dir() {
        return picture_to_translate(path, channels);
    }
    if detect && !path.is_dir() {
        let name = path.display().to_string();
        return match crate::detect::load_images(std::slice::from_ref(&path), side, channels) {
            Ok(px) => Dropped::ToJudge(name, px),
            Err(e) => Dropped::Refused(format!("cannot judge the dropped image: {e}")),
        };
    }
    if path.is_dir() {
        return if path.join(crate::checkpoint::MANIFEST).is_file() {
            Dropped::RunDir(path)
        } else {
            Dropped::Refused(format!(
                "{}: not a run directory (no manifest.json)",
                path.display()
            ))
        };
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if ext == "json" {
        return Dropped::Directions(path);
    }
    let name = path.display().to_string();
    let encode = |path: &std::path::Path| match crate::detect::load_images(
        &[path.to_path_buf()],
        side,
        channels,
    ) {
        Ok(px) => Dropped::ToEncode(name.clone(), px),
        Err(e) => Dropped::Refused(format!("cannot encode the dropped image: {e}")),
    };
    match ext.as_str() {
        // A latentlab export restores its latent; any other picture is a real image to encode.
        "png" => match crate::export::read_latent(&path) {
            Ok(record) => Dropped::Latent(record),
            Err(no_latent @ crate::export::ImportError::NoLatent { .. }) => match encode(&path) {
                Dropped::Refused(why) => Dropped::Refused(format!(
                    "cannot use the dropped image: {no_latent}; and {why}"
                )),
                ok => ok,
            },
            Err(e) => Dropped::Refused(format!("cannot restore from the dropped image: {e}")),
        },
        "jpg" | "jpeg" | "bmp" | "gif" | "webp" => encode(&path),
        _ => Dropped::Refused(format!(
            "{name}: drop a run directory, an image, or a directions file (.json)"
        )),
    }
}

/// A picture for the Translate tab, read as a model of `channels` takes it.
fn picture_to_translate(path: PathBuf, channels: usize) -> Dropped {
    let sides = crate::explore::translate::PICTURE_SIDES;
    match crate::data::load_picture(&path, channels, sides) {
        Ok((pixels, w, h)) => Dropped::ToTranslate(path.display().to_string(), pixels, (w, h)),
        Err(e) => Dropped::Refused(format!("cannot translate the picture: {e}")),
    }
}

/// Where a path is typed when no native dialog could open.
pub struct PathPrompt {
    pub action: FileAction,
    pub reason: String,
    pub text: String,
    pub(super) focused_once: bool,
}

impl LatentLabApp {
    /// Run `work` on a helper thread; its result comes back as a [`Job`].
    pub(super) fn spawn_job(&self, work: impl FnOnce() -> Job + Send + 'static) {
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

    pub(super) fn ask(&mut self, action: FileAction) {
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
            FileAction::OpenDirections => self.read_directions(path, false),
            FileAction::OpenPicture => {
                let channels = self.explore.info.as_ref().map_or(3, |i| i.model.channels);
                self.spawn_job(move || Job::Dropped(picture_to_translate(path, channels)));
            }
            FileAction::DataFolder => {
                if path.is_dir() {
                    self.settings.run.data = DataSource::Path(path);
                } else {
                    self.notice(format!("{}: not a directory", path.display()));
                }
            }
        }
    }

    pub(super) fn open_checkpoint(&mut self, dir: PathBuf) {
        self.explore.loading = true;
        self.settings.last_checkpoint = Some(dir.clone());
        self.explorer.send(Request::LoadDir(dir));
    }

    pub(super) fn on_job(&mut self, j: Job) {
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
                Ok((data, skipped)) => {
                    if skipped.count > 0 {
                        self.notice(skipped.describe());
                    }
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
            Job::Dropped(Dropped::RunDir(dir)) => self.open_checkpoint(dir),
            Job::Dropped(Dropped::Directions(path)) => self.read_directions(path, false),
            Job::Dropped(Dropped::ToEncode(name, pixels)) => {
                let boltzmann = self
                    .explore
                    .info
                    .as_ref()
                    .is_some_and(|i| i.model.kind.is_boltzmann());
                if self.explore.info.is_none() {
                    self.notice("load a model first, then drop the image again");
                } else if boltzmann {
                    // A Boltzmann machine has no latent to encode into: its chain starts there.
                    self.settings.tab = Tab::Explore;
                    let start = crate::explore::gibbs::GibbsStart::Image { pixels };
                    let request = self.explore.gibbs.restart(start, name);
                    self.explorer.send(request);
                } else {
                    self.settings.tab = Tab::Explore;
                    let job = self
                        .explore
                        .encode_job(ImageSource::Pixels { name, pixels });
                    self.act(crate::ui::actions::Action::Job(job));
                }
            }
            Job::Notice(text) => self.notice(text),
            Job::Nothing => {}
            Job::Directions(path, result) => match result {
                Ok(file) => {
                    let n = file.directions.len();
                    self.explore
                        .dirs
                        .set(file.directions, file.space, Some(path.clone()), false);
                    self.explore.mode = crate::ui::explore_panel::LatentMode::Directions;
                    self.explore.touch();
                    self.notice(format!("loaded {n} directions from {}", path.display()));
                }
                Err(e) => self.notice(e),
            },
            Job::Dropped(Dropped::Refused(text)) => self.notice(text),
            Job::Dropped(Dropped::ToTranslate(name, pixels, size)) => {
                self.settings.tab = Tab::Translate;
                self.translate.use_picture(name, pixels, size);
            }
            Job::Dropped(Dropped::ToJudge(name, images)) => {
                self.act(crate::ui::actions::Action::Train(Command::Judge {
                    names: vec![name],
                    images,
                    n: 0,
                }));
            }
            Job::Dropped(Dropped::Latent(record)) => match self.explore.restore(&record) {
                Ok(()) => {
                    self.settings.tab = Tab::Explore;
                    self.notice("restored the latent vector from the dropped image");
                }
                Err(e) => self.notice(format!("cannot restore from the dropped image: {e}")),
            },
        }
    }

    /// Each dropped path is examined on a helper thread (it means file-system reads).
    pub(super) fn handle_drops(&mut self, ctx: &egui::Context) {
        let dropped = ctx.input(|i| i.raw.dropped_files.clone());
        let detect = self.settings.tab == Tab::Detect;
        let model = if detect {
            self.train.model.as_ref()
        } else {
            self.explore.info.as_ref().map(|i| &i.model)
        };
        // Side 0: a picture of any size, for an image-to-image model.
        let shape = model.map_or((crate::types::config::DIGIT_SIDE, 1), |m| {
            let side = if m.kind.is_image_to_image() {
                0
            } else {
                m.image_size
            };
            (side, m.channels)
        });
        for f in dropped {
            let path = f.path().to_path_buf();
            self.spawn_job(move || Job::Dropped(examine_drop(path, detect, shape)));
        }
    }

    pub(super) fn prompt_window(&mut self, ctx: &egui::Context) {
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

    pub(super) fn drop_overlay(&self, ctx: &egui::Context) {
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
    /// Read a directions file off the UI thread, checked against the loaded model's latent.
    /// `optional`: a missing file (no cache beside the run yet) is not worth a notice.
    pub(super) fn read_directions(&mut self, path: PathBuf, optional: bool) {
        let Some(dims) = self
            .explore
            .info
            .as_ref()
            .map(|i| crate::explore::directions::LatentDims::of(&i.model))
        else {
            self.notice("load a model first, then open its directions");
            return;
        };
        self.spawn_job(move || {
            if optional && !path.is_file() {
                return Job::Nothing;
            }
            let result = DirectionsFile::read(&path, Some(dims)).map_err(|e| e.to_string());
            Job::Directions(path, result)
        });
    }

    /// Write directions off the UI thread. `replace`: the user asked for this file; otherwise
    /// (the automatic cache) an existing file is kept.
    pub(super) fn write_directions(&mut self, path: PathBuf, bytes: Vec<u8>, replace: bool) {
        use crate::export::OutError;
        self.spawn_job(move || {
            // By the rules `sample --edit` and Open read with: no file they would refuse.
            if let Err(e) = DirectionsFile::parse(&bytes, &path, None) {
                return Job::Notice(format!("cannot save the directions: {e}"));
            }
            match crate::export::write_out(&path, &bytes, replace) {
                Ok(()) => Job::Notice(format!("saved the directions to {}", path.display())),
                Err(OutError::Exists(_)) => Job::Notice(format!(
                    "kept the existing {} (press Save to replace it with these directions)",
                    path.display()
                )),
                Err(e) => Job::Notice(format!("cannot save the directions: {e}")),
            }
        });
    }

    pub(super) fn after_job(&mut self, after: Option<crate::ui::explore_state::AfterJob>) {
        use crate::ui::explore_state::AfterJob;
        match after {
            Some(AfterJob::Cache { path, bytes }) => self.write_directions(path, bytes, false),
            Some(AfterJob::Notice(text)) => self.notice(text),
            None => {}
        }
    }
}

/// Load a starting run's data off the UI thread: an image folder from the cache when it was
/// decoded before, else decoded with its progress in `loading`.
/// What a run's data is loaded as: the source, the side and channels asked for (`None`: the
/// data's own), and whether a bad picture refuses the folder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DataRequest {
    pub source: DataSource,
    pub size: Option<usize>,
    pub channels: Option<usize>,
    pub strict: bool,
}

/// Load a run's data off the UI thread, made as deep as asked (the conversion copies every
/// pixel, so it is done here too).
pub(super) fn load_run_data(
    request: DataRequest,
    loading: &crate::ui::train_panel::Loading,
) -> Job {
    use std::sync::atomic::Ordering::Relaxed;
    let progress = |done: usize, total: usize| {
        loading.total.store(total, Relaxed);
        loading.done.fetch_max(done, Relaxed);
    };
    let opts = crate::data::LoadOptions {
        strict: request.strict,
        cache: crate::data::cache::default_root(),
        progress: Some(&progress),
    };
    let result = request
        .source
        .load_opts(request.size, &opts)
        .map(|(d, skipped)| {
            let d = match request.channels {
                Some(c) => d.to_channels(c),
                None => d,
            };
            (Arc::new(d), skipped)
        })
        .map_err(|e| e.to_string());
    Job::Data(request, result)
}

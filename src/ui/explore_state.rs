//! What the Explore tab holds: the model, the latent and its condition, the directions and
//! their sliders, a running latent job, an encoded image, and the requests they make of the
//! explorer thread.

use super::directions_panel::DirectionsState;
use super::image_view::Tex;
use super::info_codes::Codes;
use super::sweep_view::SweepState;
use crate::data::DataSource;
use crate::explore::directions::{DirSpace, DirectionsFile, cache_path};
use crate::explore::jobs::{Job, JobKind, JobResult};
use crate::explore::worker::{ModelInfo, Request, Tag};
use crate::export::{LatentRecord, format_floats};
use crate::model::ModelKind;
use crate::types::grid::{self, Picture};
use crate::types::noise;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    pub image: Option<Arc<Picture>>,
    /// The image before the last change, for the difference view.
    pub reference: Option<Arc<Picture>>,
    pub diff_view: bool,
    pub last_generate_ms: f32,
    /// The server the generator runs on, when not this machine.
    pub remote: Option<String>,
    next_id: u64,
    pub(super) dirty: bool,
    pub manifold: Option<Arc<Picture>>,
    pub(super) manifold_uploaded: bool,
    pub scatter: Option<(Vec<[f32; 2]>, Vec<u8>)>,
    pub(super) tex: Tex,
    pub(super) tex_key: Option<(u64, u64, super::colormap::ColorMap, bool)>,
    pub(super) manifold_tex: Tex,
    /// The before | after | difference panels' textures and what they show.
    pub(super) diff_tex: [Tex; 3],
    pub(super) diff_key: Option<(u64, u64)>,
    /// Whether the wgpu image view is available (set by the app at start).
    pub gpu: bool,
    pub loading: bool,
    /// InfoGAN's codes (unused by other models).
    pub codes: Codes,
    /// A Boltzmann machine's Gibbs chain (unused by other models).
    pub gibbs: super::gibbs_panel::GibbsState,
    /// Raw latent sliders, or named directions.
    pub mode: LatentMode,
    /// The image, or the 2-D sweep grid.
    pub view_mode: ViewMode,
    pub dirs: DirectionsState,
    pub sweep: SweepState,
    /// The latent job under way (one at a time).
    pub job: Option<RunningJob>,
    next_job: u64,
    /// The last encoded real image, shown beside the generated one.
    pub encoded: Option<Encoded>,
    pub(super) encoded_tex: Tex,
    pub encode_steps: usize,
    pub encode_restarts: usize,
    /// A style generator's controls (unused by other models).
    pub style: super::style_state::StyleState,
    /// Where a style generator projects pictures: W or W+.
    pub project_space: crate::explore::project::Space,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatentMode {
    Raw,
    Directions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewMode {
    Image,
    Sweep,
}

/// A latent job the explorer runs on its own thread.
pub struct RunningJob {
    pub id: u64,
    pub what: &'static str,
    pub fraction: f32,
    pub text: String,
    pub cancel: Arc<AtomicBool>,
}

/// A real image and what encoding found for it.
pub struct Encoded {
    pub original: Arc<Picture>,
    pub name: String,
    pub pixel_mse: f32,
    pub steps: usize,
    pub restarts: usize,
    pub(super) uploaded: bool,
}

/// What the app should do after a job finished.
pub enum AfterJob {
    /// Cache newly computed directions here unless a file is already there.
    Cache {
        path: PathBuf,
        bytes: Vec<u8>,
    },
    Notice(String),
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
            remote: None,
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
            gibbs: Default::default(),
            diff_tex: [
                Tex::named("diff-before"),
                Tex::named("diff-after"),
                Tex::named("diff-heat"),
            ],
            diff_key: None,
            mode: LatentMode::Raw,
            view_mode: ViewMode::Image,
            dirs: DirectionsState::default(),
            sweep: SweepState::default(),
            job: None,
            next_job: 0,
            encoded: None,
            encoded_tex: Tex::named("encoded-original"),
            encode_steps: crate::explore::invert::DEFAULT_STEPS,
            encode_restarts: crate::explore::invert::DEFAULT_RESTARTS,
            style: Default::default(),
            project_space: crate::explore::project::Space::WPlus,
        }
    }
}

impl ExploreState {
    pub fn conditional(&self) -> bool {
        self.info.as_ref().is_some_and(|i| i.model.is_conditional())
    }

    pub(super) fn classes(&self) -> usize {
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
        self.style.on_model(&info.model);
        self.dirs.on_model();
        self.sweep.on_model(dim);
        self.cancel_job();
        self.encoded = None;
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
        if info.model.kind.is_boltzmann() {
            requests.push(self.gibbs.on_model());
        }
        self.info = Some(info);
        self.dirty = true;
        requests
    }

    pub fn on_manifold(&mut self, grid: Picture) {
        self.manifold = Some(Arc::new(grid));
        self.manifold_uploaded = false;
    }

    /// The worker answers in request order and drops superseded requests, so every reply is
    /// the newest image there is.
    pub fn on_image(&mut self, grid: Picture, millis: f32) {
        self.image = Some(Arc::new(grid));
        self.last_generate_ms = millis;
    }

    /// Take the latent and label from an exported PNG's metadata.
    pub fn restore(&mut self, r: &LatentRecord) -> Result<(), String> {
        let Some(info) = &self.info else {
            return Err("load a model first, then drop the image again".into());
        };
        let latent = info.model.latent_dim;
        if r.z.len() != latent {
            return Err(format!(
                "the image's latent has {} dimensions, the loaded model {}",
                r.z.len(),
                latent
            ));
        }
        if self.style.levels() > 0 && self.style.drop_to_b {
            self.style.set_source_b(r)?;
            self.dirty = true;
            return Ok(());
        }
        match (&r.style, self.style.levels() > 0) {
            (Some(sr), true) => self.style.restore(sr, latent)?,
            (Some(_), false) => {
                return Err("it is an image of a style generator; load one (stylegan)".into());
            }
            (None, _) => self.style.a_fixed = None,
        }
        self.reference = self.image.clone();
        self.z = r.z.clone();
        // The file's z already includes any direction edits.
        self.dirs.amounts.iter_mut().for_each(|a| *a = 0.0);
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
            ("z", format_floats(&self.latent())),
            ("seed", self.seed.to_string()),
        ];
        let edits = self.dirs.edits();
        if !edits.is_empty() {
            m.push(("edits", edits.join(" ")));
        }
        if let Some(enc) = &self.encoded {
            m.push(("encoded_from", enc.name.clone()));
        }
        if self.style.levels() > 0 {
            m.extend(self.style.metadata());
        }
        if let Some(info) = &self.info {
            m.push(("model", info.model.kind.name().to_string()));
            m.push(("checkpoint", info.origin.clone()));
            m.push(("step", info.step.to_string()));
        }
        if self.info.as_ref().is_some_and(|i| i.model.kind.has_codes()) {
            m.extend(self.codes.metadata());
        }
        if let Some(label) = self.label() {
            if let Some(info) = self.info.as_ref().filter(|i| i.model.is_conditional()) {
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
        let z = self.latent();
        let mut out = if self.style.levels() > 0 {
            self.next_id += 1;
            let w_offset = self.dirs.offset(DirSpace::W, self.style.w_dim);
            self.style.a_edited = w_offset.iter().any(|&v| v != 0.0);
            self.style
                .requests(self.next_id, z.clone(), self.label(), w_offset)
        } else {
            vec![self.request()]
        };
        out.extend(self.codes.sweep_request(&model, &z));
        if self.view_mode == ViewMode::Sweep {
            out.extend(self.sweep.request(&model, &z, self.label(), &self.dirs));
        }
        out
    }

    /// The latent the image is made from: the raw sliders plus the direction sliders' offset.
    pub fn latent(&self) -> Vec<f32> {
        let mut z = self.z.clone();
        let offset = self.dirs.offset(DirSpace::Z, z.len());
        z.iter_mut().zip(offset).for_each(|(a, o)| *a += o);
        z
    }

    /// Regenerate on the next frame (a control outside this module changed the latent).
    /// (side, channels) of the explored model (the digit sets' before one is loaded).
    pub fn shape(&self) -> (usize, usize) {
        self.info
            .as_ref()
            .map_or((crate::types::config::DIGIT_SIDE, 1), |i| {
                (i.model.image_size, i.model.channels)
            })
    }

    pub fn touch(&mut self) {
        self.dirty = true;
    }

    /// Start a latent job: the request for the explorer, and the job's progress entry.
    pub fn start_job(&mut self, kind: JobKind) -> Request {
        self.cancel_job();
        self.next_job += 1;
        let what = match &kind {
            JobKind::Directions { .. } => "computing directions",
            JobKind::Attribute { .. } => "a direction from labels",
            JobKind::Encode { .. } => "encoding the image",
            JobKind::Project { .. } => "projecting the picture",
        };
        let cancel = Arc::new(AtomicBool::new(false));
        self.job = Some(RunningJob {
            id: self.next_job,
            what,
            fraction: 0.0,
            text: String::new(),
            cancel: cancel.clone(),
        });
        Request::Job(Job {
            id: self.next_job,
            kind,
            cancel,
        })
    }

    pub fn cancel_job(&mut self) {
        if let Some(j) = self.job.take() {
            j.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// An encode job for the model's current condition (for a style generator, a projection
    /// into W or W+ for source A or B).
    pub fn encode_job(&self, source: crate::explore::jobs::ImageSource) -> JobKind {
        let options = crate::explore::invert::InvertOptions {
            steps: self.encode_steps.max(1),
            restarts: self.encode_restarts.max(1),
            seed: self.seed,
        };
        if self.style.levels() > 0 {
            return JobKind::Project {
                source,
                cond: self.label(),
                space: self.project_space,
                options,
                to_b: self.style.drop_to_b,
            };
        }
        JobKind::Encode {
            source,
            cond: self.label(),
            options: crate::explore::invert::InvertOptions {
                steps: self.encode_steps.max(1),
                restarts: self.encode_restarts.max(1),
                seed: self.seed,
            },
        }
    }

    pub fn on_job_progress(&mut self, id: u64, fraction: f32, text: String) {
        if let Some(j) = self.job.as_mut().filter(|j| j.id == id) {
            j.fraction = fraction;
            j.text = text;
        }
    }

    pub fn on_job_failed(&mut self, id: u64, text: String) -> Option<AfterJob> {
        let j = self.job.take_if(|j| j.id == id)?;
        (text != "cancelled").then(|| AfterJob::Notice(format!("{}: {text}", j.what)))
    }

    /// A job finished: take its result (replies of a cancelled or superseded job are dropped).
    pub fn on_job_done(&mut self, id: u64, result: JobResult) -> Option<AfterJob> {
        self.job.take_if(|j| j.id == id)?;
        let info = self.info.as_ref()?;
        match result {
            JobResult::Attribute(_) if self.dirs.space != DirSpace::Z && !self.dirs.list.is_empty() => {
                Some(AfterJob::Notice(
                    "attribute vectors move z, and the listed directions move W: clear or save them first"
                        .into(),
                ))
            }
            JobResult::Attribute(d) => {
                self.dirs.space = DirSpace::Z;
                let name = d.name.clone();
                self.dirs.push(d);
                self.mode = LatentMode::Directions;
                Some(AfterJob::Notice(format!("added direction {name}")))
            }
            JobResult::Directions {
                space,
                found,
                factors,
            } => {
                let cache = info.path.as_deref().and_then(cache_path);
                let bytes = DirectionsFile {
                    space,
                    directions: found.clone(),
                    checkpoint: Some(info.origin.clone()),
                }
                .to_json();
                self.dirs.set(found, space, cache.clone(), false);
                self.dirs.factors = factors;
                self.mode = LatentMode::Directions;
                Some(match cache {
                    Some(path) => AfterJob::Cache { path, bytes },
                    None => AfterJob::Notice(
                        "directions computed (a training snapshot has no run directory to                          cache them beside; use Save as… to keep them)"
                            .into(),
                    ),
                })
            }
            JobResult::Projected {
                original,
                name,
                projection,
                secs,
                to_b,
            } => {
                let text = self.style.on_projected(&name, &projection, to_b, secs);
                if !to_b {
                    let (side, channels) = (info.model.image_size, info.model.channels);
                    self.reference = self.image.clone();
                    self.encoded = Some(Encoded {
                        original: Arc::new(grid::grid(&original, 1, side, channels, 1)),
                        name,
                        pixel_mse: projection.pixel_mse,
                        steps: projection.steps,
                        restarts: projection.restarts,
                        uploaded: false,
                    });
                }
                self.dirty = true;
                Some(AfterJob::Notice(text))
            }
            JobResult::Encoded {
                original,
                name,
                inversion,
            } => {
                let (side, channels) = (info.model.image_size, info.model.channels);
                self.reference = self.image.clone();
                self.z = inversion.z;
                self.dirs.amounts.iter_mut().for_each(|a| *a = 0.0);
                self.encoded = Some(Encoded {
                    original: Arc::new(grid::grid(&original, 1, side, channels, 1)),
                    name: name.clone(),
                    pixel_mse: inversion.pixel_mse,
                    steps: inversion.steps,
                    restarts: inversion.restarts,
                    uploaded: false,
                });
                self.dirty = true;
                Some(AfterJob::Notice(format!(
                    "encoded {name}: pixel error {:.4} (mean squared, [0, 1] intensities)",
                    inversion.pixel_mse
                )))
            }
        }
    }

    fn request(&mut self) -> Request {
        self.next_id += 1;
        Request::Generate {
            tag: Tag::Explore,
            id: self.next_id,
            z: self.latent(),
            labels: self.label(),
            cols: 1,
        }
    }

    pub(super) fn randomise(&mut self, seed: u64) {
        self.reference = self.image.clone();
        self.style.a_fixed = None;
        self.seed = seed;
        self.z = noise::truncated_gaussian(seed, self.z.len(), self.truncation);
        self.dirty = true;
    }
}

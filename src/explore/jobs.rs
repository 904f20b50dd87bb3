//! Long latent-space jobs (principal directions, attribute vectors, encoding an image) on
//! their own thread with a copy of the explorer's model, so the explorer keeps answering
//! slider moves meanwhile. Each reports progress, can be cancelled, and is tagged with an id
//! so the UI ignores a job that outlived the model it was started for.

use super::directions::{DirSpace, Direction, DirectionsError};
use super::invert::{self, Inversion, InvertOptions};
use super::worker::{ModelInfo, Reply};
use super::{attributes, pca};
use crate::data::DataSource;
use crate::model::vae::VaeEncoder;
use crate::model::{Generator, ModelKind, readback};
use crate::quality;
use crate::threads::Outbox;
use burn::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where the image to encode comes from.
#[derive(Debug, Clone)]
pub enum ImageSource {
    /// Pixels `[side * side]` in [-1, 1] (a dropped file), and a name for it.
    Pixels { name: String, pixels: Vec<f32> },
    /// Image `index` of the model's data set (`None`: a random one, drawn from `seed`).
    DataSet { index: Option<usize>, seed: u64 },
}

#[derive(Debug, Clone)]
pub enum JobKind {
    /// GANSpace PCA (or PCA of a VAE's codes) with `n` samples, `k` directions; conditional
    /// models use the fixed condition row `cond`.
    Directions {
        n: usize,
        k: usize,
        cond: Option<Vec<f32>>,
    },
    /// "More like class `to` than `from`", from the shipped classifier's labels.
    Attribute { from: usize, to: usize, n: usize },
    /// Encode an image (the VAE's encoder, or Adam on z for a GAN) under condition `cond`.
    Encode {
        source: ImageSource,
        cond: Option<Vec<f32>>,
        options: InvertOptions,
    },
    /// Project a picture into a style generator's W or W+, for source A or (`to_b`) B.
    Project {
        source: ImageSource,
        cond: Option<Vec<f32>>,
        space: super::project::Space,
        options: InvertOptions,
        to_b: bool,
    },
}

/// A job as the UI sends it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: u64,
    pub kind: JobKind,
    /// Set by the UI to stop the job early.
    pub cancel: Arc<AtomicBool>,
}

/// What a finished job produced.
#[derive(Debug, Clone)]
pub enum JobResult {
    /// Principal directions (they replace the loaded set), the latent they move, and which
    /// factor each moves on a colour shapes run.
    Directions {
        space: DirSpace,
        found: Vec<Direction>,
        factors: Option<Vec<super::factors::FactorRow>>,
    },
    /// One attribute vector: it joins the loaded set.
    Attribute(Direction),
    Encoded {
        /// The image that was encoded, `[side * side]` in [-1, 1], and its name.
        original: Vec<f32>,
        name: String,
        inversion: Inversion,
    },
    Projected {
        original: Vec<f32>,
        name: String,
        projection: super::project::Projection,
        /// Wall time of the search.
        secs: f32,
        to_b: bool,
    },
}

/// What the job thread needs of the loaded model.
pub(super) struct JobModel {
    pub info: ModelInfo,
    pub generator: Generator,
    pub encoder: Option<VaeEncoder>,
}

pub(super) fn spawn(model: JobModel, job: Job, out: Outbox<Reply>) {
    let id = job.id;
    let failed = out.clone();
    let spawned = std::thread::Builder::new()
        .name("latentlab-latent-job".into())
        .spawn(move || {
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&model, &job, &out)));
            let reply = match result {
                Ok(Ok(r)) => Reply::JobDone { id, result: r },
                Ok(Err(text)) => Reply::JobFailed { id, text },
                Err(_) => Reply::JobFailed {
                    id,
                    text: "the job failed unexpectedly".into(),
                },
            };
            out.send(reply);
        });
    if let Err(e) = spawned {
        failed.send(Reply::JobFailed {
            id,
            text: format!("cannot start a job thread: {e}"),
        });
    }
}

fn run(m: &JobModel, job: &Job, out: &Outbox<Reply>) -> Result<JobResult, String> {
    let device = Device::flex();
    let model = &m.info.model;
    let progress = |fraction: f32, text: String| {
        out.send(Reply::JobProgress {
            id: job.id,
            fraction,
            text,
        });
        !job.cancel.load(Ordering::Relaxed)
    };
    let text = |e: DirectionsError| e.to_string();
    // A latent search's progress (encoding, projecting): its step and pixel error.
    let search_progress = |step: usize, mse: f32| {
        let steps = match &job.kind {
            JobKind::Encode { options, .. } | JobKind::Project { options, .. } => options.steps,
            _ => 1,
        };
        progress(
            step as f32 / steps.max(1) as f32,
            format!("step {step}/{steps}: pixel error {mse:.4}"),
        )
    };
    match &job.kind {
        JobKind::Directions { n, k, cond } => {
            // A VAE's codes when its encoder is here; otherwise (a training snapshot) its
            // decoder is a generator like any other. A style generator's are in W.
            let space = match &m.generator {
                Generator::Style(_) => DirSpace::W,
                _ => DirSpace::Z,
            };
            let found = if let Generator::Style(sg) = &m.generator {
                pca::w_directions(sg, model, cond.as_deref(), *n, *k, 0, &device, |f| {
                    progress(f, format!("PCA in W of {n} samples"))
                })
                .map_err(text)?
            } else if let Some(enc) = m.encoder.as_ref().filter(|_| model.kind == ModelKind::Vae) {
                progress(0.1, "encoding the data set".into());
                let mu = encode_data(enc, &m.info, *n, &device)?;
                if !progress(0.8, "PCA".into()) {
                    return Err("cancelled".into());
                }
                pca::directions_of_codes(&mu, model.latent_dim, *k, 0, &device).map_err(text)?
            } else {
                pca::generator_directions(
                    &m.generator,
                    model,
                    cond.as_deref(),
                    *n,
                    *k,
                    0,
                    &device,
                    |f| progress(f, format!("PCA of {n} samples")),
                )
                .map_err(text)?
            };
            let factors = if m.info.data_name == "shapes" && model.channels == 3 {
                progress(0.9, "reading which factor each direction moves".into());
                Some(
                    super::factors::shapes_table(
                        &m.generator,
                        model,
                        space,
                        &found,
                        cond.as_deref(),
                        0,
                        &device,
                    )
                    .map_err(|e| e.to_string())?,
                )
            } else {
                None
            };
            Ok(JobResult::Directions {
                space,
                found,
                factors,
            })
        }
        JobKind::Attribute { from, to, n } => {
            let dir = quality::classifier_dir(None, &m.info.data_name);
            progress(0.1, "loading the classifier".into());
            let meter = quality::load_classifier(&dir, &device).map_err(|e| {
                format!("directions from labels need the data set's classifier: {e}")
            })?;
            progress(0.3, format!("labelling {n} generated images"));
            let d = attributes::from_labels(
                &m.generator,
                model,
                &meter.classifier,
                &m.info.class_names,
                *from,
                *to,
                *n,
                0,
                &device,
            )
            .map_err(text)?;
            Ok(JobResult::Attribute(d))
        }
        JobKind::Encode {
            source,
            cond,
            options,
        } => {
            let (name, original) = image(source, &m.info)?;
            let inversion = if model.kind == ModelKind::Vae && m.encoder.is_some() {
                let enc = m.encoder.as_ref().ok_or("no encoder")?;
                invert::encode_vae(enc, &m.generator, model, &original)
            } else {
                invert::invert(
                    &m.generator,
                    model,
                    &original,
                    cond.as_deref(),
                    options,
                    search_progress,
                )
            }
            .map_err(|e| e.to_string())?;
            Ok(JobResult::Encoded {
                original,
                name,
                inversion,
            })
        }
        JobKind::Project {
            source,
            cond,
            space,
            options,
            to_b,
        } => {
            let (name, original) = image(source, &m.info)?;
            let started = std::time::Instant::now();
            let projection = super::project::project(
                &m.generator,
                model,
                &original,
                cond.as_deref(),
                *space,
                options,
                search_progress,
            )
            .map_err(|e| e.to_string())?;
            Ok(JobResult::Projected {
                original,
                name,
                projection,
                secs: started.elapsed().as_secs_f32(),
                to_b: *to_b,
            })
        }
    }
}

/// The image to encode, and its name.
fn image(source: &ImageSource, info: &ModelInfo) -> Result<(String, Vec<f32>), String> {
    match source {
        ImageSource::Pixels { name, pixels } => Ok((name.clone(), pixels.clone())),
        ImageSource::DataSet { index, seed } => {
            let source: DataSource = info.data_source.parse().map_err(|e| format!("{e}"))?;
            let data = source
                .load_shaped(info.model.image_size, info.model.channels)
                .map_err(|e| e.to_string())?;
            if data.is_empty() {
                return Err(format!("the data set `{source}` is empty"));
            }
            let i = match index {
                Some(i) if *i < data.len() => *i,
                Some(i) => return Err(format!("the data set has no image {i}")),
                None => {
                    use rand::{Rng, SeedableRng};
                    rand::rngs::StdRng::seed_from_u64(*seed).random_range(0..data.len())
                }
            };
            Ok((format!("{source} image {i}"), data.pixels(&[i])))
        }
    }
}

/// The encoder's means for (up to) `n` images spread over the model's data set.
fn encode_data(
    enc: &VaeEncoder,
    info: &ModelInfo,
    n: usize,
    device: &Device,
) -> Result<Vec<f32>, String> {
    let source: DataSource = info.data_source.parse().map_err(|e| format!("{e}"))?;
    let (side, channels) = (info.model.image_size, info.model.channels);
    let data = source
        .load_shaped(side, channels)
        .map_err(|e| e.to_string())?;
    let n = n.min(data.len()).max(2);
    let idx: Vec<usize> = (0..n).map(|i| i * data.len() / n).collect();
    let mut mu = Vec::with_capacity(n * info.model.latent_dim);
    for chunk in idx.chunks(500) {
        let x = Tensor::<4>::from_data(
            TensorData::new(data.pixels(chunk), [chunk.len(), channels, side, side]),
            device,
        ); // [chunk, channels, side, side]
        mu.extend(readback(enc.forward(x).0).map_err(|e| e.to_string())?);
    }
    Ok(mu)
}

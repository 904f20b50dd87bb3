//! The explorer's generator thread: holds an inference copy of a generator (from a checkpoint
//! or a training snapshot) on the CPU and answers generate/encode requests, so the UI thread
//! never runs a tensor op. Requests that pile up while one is computed are coalesced: only the
//! newest request of each [`Tag`] is answered (a dragged slider sends many).

use super::gibbs::{self, GibbsControl, GibbsFrame, GibbsStart, RunningChain};
use super::jobs::{self, Job, JobModel, JobResult};
use crate::checkpoint::{self, CheckpointError};
use crate::data::DataSource;
use crate::model::vae::VaeEncoder;
use crate::model::{Generator, ModelConfig};
use crate::model::{generate_with, readback};
use crate::threads::{DROP_WAIT, Notify, Outbox, Thread};
use crate::train::GeneratorSnapshot;
use crate::types::grid::{self, Picture};
use burn::prelude::*;
use burn::tensor::Bytes;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};

/// What a generate request is for; the newest request per tag wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tag {
    Explore,
    Candidates,
    Strip,
    Manifold,
    /// InfoGAN's continuous-code sweeps.
    Sweep,
    /// The 2-D sweep grid.
    Grid2d,
    /// Candidate images to sort into the two example bins.
    Bins,
    /// A style generator's mixing figure.
    Mixing,
}

#[derive(Debug, Clone)]
pub enum Request {
    /// Load a run directory (its generator, and its encoder for a VAE).
    LoadDir(PathBuf),
    /// Use a generator sent by the training thread.
    LoadSnapshot(Box<GeneratorSnapshot>),
    /// Generate images for latent rows `z` (`[n * latent]`) and optional soft labels
    /// (`[n * classes]`), laid out in `cols` columns.
    Generate {
        tag: Tag,
        id: u64,
        z: Vec<f32>,
        labels: Option<Vec<f32>>,
        cols: usize,
    },
    /// Render a style generator under the explorer's controls (answered by
    /// [`Reply::StyleImages`]), laid out in `cols` columns.
    Style {
        tag: Tag,
        id: u64,
        spec: Box<super::style::StyleSpec>,
        cols: usize,
    },
    /// Encode up to `n` images of the data set (VAE only) for the latent scatter.
    Encode {
        data: DataSource,
        n: usize,
    },
    /// A long job (directions, encoding) on its own thread with a copy of the model.
    Job(Job),
    /// Run an image-to-image model on one input (answered by [`Reply::Translated`]).
    Translate {
        id: u64,
        input: super::translate::TranslateInput,
    },
    /// Advance the Boltzmann machine's Gibbs chain (starting it anew from `start` when given,
    /// or when none runs yet); answered by [`Reply::Gibbs`].
    Gibbs {
        id: u64,
        start: Option<GibbsStart>,
        control: GibbsControl,
    },
    /// Run the generator on `device` from now on (connected here, off the UI thread), and
    /// load the current model onto it; answered by [`Reply::DeviceChanged`].
    UseDevice {
        device: crate::device::DeviceChoice,
        token_file: Option<PathBuf>,
    },
    Shutdown,
}

/// The model the explorer holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Where it came from, for the title bar and for export metadata.
    pub origin: String,
    /// The run directory, when it was loaded from one.
    pub path: Option<PathBuf>,
    pub model: ModelConfig,
    pub class_names: Vec<String>,
    pub step: u64,
    pub data_name: String,
    pub data_source: String,
    pub has_encoder: bool,
}

#[derive(Debug, Clone)]
pub enum Reply {
    Loaded(ModelInfo),
    Images {
        tag: Tag,
        id: u64,
        /// Pixel values `[n, side, side]` in [-1, 1].
        values: Vec<f32>,
        grid: Picture,
        millis: f32,
    },
    /// A style generator's images, and source A's w per level (`[levels * w_dim]`).
    StyleImages {
        tag: Tag,
        id: u64,
        grid: Picture,
        ws: Vec<f32>,
        millis: f32,
    },
    /// Encoder means `[n, 2]` (the first two latent dimensions) and the labels.
    Encoded {
        points: Vec<[f32; 2]>,
        labels: Vec<u8>,
    },
    JobProgress {
        id: u64,
        fraction: f32,
        text: String,
    },
    JobDone {
        id: u64,
        result: JobResult,
    },
    JobFailed {
        id: u64,
        text: String,
    },
    Gibbs(GibbsFrame),
    Translated(Box<super::translate::Translation>),
    Pyramid(Box<super::translate::PyramidView>),
    /// The generator now runs on this device (the server's address for a remote one).
    DeviceChanged {
        description: String,
        remote: Option<String>,
    },
    Error(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("no model loaded: open a checkpoint or train one")]
    NoModel,
    #[error("this model has no encoder (only a VAE loaded from a run directory has one)")]
    NoEncoder,
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error("{0}")]
    Compute(String),
    #[error(transparent)]
    Gibbs(#[from] super::gibbs::GibbsError),
    #[error(transparent)]
    Style(#[from] super::style::StyleError),
    #[error("{0} is not a style generator; the style controls need one (stylegan)")]
    NotStyle(&'static str),
    #[error(transparent)]
    Translate(#[from] super::translate::TranslateError),
}

/// The UI's end of the explorer thread.
pub struct ExplorerHandle {
    requests: Sender<Request>,
    pub replies: Receiver<Reply>,
    thread: Thread,
}

impl ExplorerHandle {
    /// Start the thread (named `latentlab-explorer`); `notify` runs after every reply.
    pub fn spawn(notify: Option<Notify>) -> std::io::Result<Self> {
        let (req_tx, req_rx) = mpsc::channel();
        let (rep_tx, rep_rx) = mpsc::channel();
        let thread = Thread::spawn("latentlab-explorer", move || {
            Worker::new(Outbox::new(rep_tx, notify)).run(req_rx)
        })?;
        Ok(Self {
            requests: req_tx,
            replies: rep_rx,
            thread,
        })
    }

    /// Send a request; false when the thread is gone.
    pub fn send(&self, r: Request) -> bool {
        self.requests.send(r).is_ok()
    }
}

impl Drop for ExplorerHandle {
    fn drop(&mut self) {
        let _ = self.requests.send(Request::Shutdown);
        self.thread.join_within(DROP_WAIT);
    }
}

struct Loaded {
    info: ModelInfo,
    generator: Generator,
    encoder: Option<VaeEncoder>,
    /// A Boltzmann machine's Gibbs chain in the explorer.
    chain: Option<RunningChain>,
    /// The run's data, read the first time Translate asks for a held-out image.
    data: Option<crate::data::Dataset>,
}

struct Worker {
    out: Outbox<Reply>,
    device: Device,
    loaded: Option<Loaded>,
    /// The request that loaded the current model, replayed on a change of device.
    source: Option<Request>,
    /// The server's address while the generator runs on a remote device.
    remote: Option<String>,
}

impl Worker {
    fn new(out: Outbox<Reply>) -> Self {
        Self {
            out,
            // Batch-1 inference is fastest on the CPU (no transfer, no kernel launch).
            device: Device::flex(),
            loaded: None,
            source: None,
            remote: None,
        }
    }

    fn reply(&self, r: Reply) {
        self.out.send(r);
    }

    fn run(mut self, requests: Receiver<Request>) {
        while let Ok(first) = requests.recv() {
            // Take everything queued; keep only the newest Generate of each tag.
            let mut batch = vec![first];
            batch.extend(requests.try_iter());
            let mut newest: Vec<(Tag, usize)> = Vec::new();
            for (i, r) in batch.iter().enumerate() {
                if let Request::Generate { tag, .. } | Request::Style { tag, .. } = r {
                    match newest.iter_mut().find(|(t, _)| t == tag) {
                        Some(slot) => slot.1 = i,
                        None => newest.push((*tag, i)),
                    }
                }
            }
            for (i, r) in batch.into_iter().enumerate() {
                let keep = match &r {
                    Request::Generate { tag, .. } | Request::Style { tag, .. } => {
                        newest.contains(&(*tag, i))
                    }
                    _ => true,
                };
                if !keep {
                    continue;
                }
                if matches!(r, Request::Shutdown) {
                    return;
                }
                let outcome =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle(r)));
                let failed = !matches!(outcome, Ok(Ok(_)));
                match outcome {
                    Ok(Ok(Some(reply))) => self.reply(reply),
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => self.reply(Reply::Error(e.to_string())),
                    Err(_) => self.reply(Reply::Error(
                        "the explorer's generator failed; reload the model".into(),
                    )),
                }
                if failed {
                    self.leave_a_lost_server();
                }
            }
        }
    }

    /// After a failure on a remote device that no longer answers: forget its session (a later
    /// Generate on the server opens a new one) and bring the model back to this machine.
    fn leave_a_lost_server(&mut self) {
        let Some(server) = self.remote.clone() else {
            return;
        };
        if crate::device::answers(&self.device) {
            return;
        }
        crate::remote::forget(&server);
        let back = Request::UseDevice {
            device: crate::device::DeviceChoice::Cpu,
            token_file: None,
        };
        if let Ok(Ok(Some(reply))) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.handle(back)))
        {
            self.reply(reply);
        }
        // Last, so it is the notice the user reads.
        self.reply(Reply::Error(format!(
            "the server at {server} stopped answering; the generator runs on this machine again \
             (tick \"on the server\" again once it is back)"
        )));
    }

    fn handle(&mut self, r: Request) -> Result<Option<Reply>, ExploreError> {
        if matches!(r, Request::LoadDir(_) | Request::LoadSnapshot(_)) {
            self.source = Some(r.clone());
        }
        match r {
            Request::UseDevice { device, token_file } => {
                let selected = crate::device::select(&device, token_file.as_deref())
                    .map_err(|e| ExploreError::Compute(e.to_string()))?;
                self.device = selected.device;
                self.remote = selected.remote.clone();
                // The model moves by loading it again, on the new device.
                if let Some(source) = self.source.clone()
                    && let Some(reply) = self.handle(source)?
                {
                    self.reply(reply);
                }
                Ok(Some(Reply::DeviceChanged {
                    description: selected.description,
                    remote: selected.remote,
                }))
            }
            Request::LoadDir(dir) => {
                // Held while the generator and the encoder are read: no save swaps the run.
                let (manifest, _reading) = checkpoint::open_run(&dir)?;
                let generator = checkpoint::run_generator(&dir, &manifest, &self.device)?;
                let model = manifest.model().clone();
                let encoder = if model.kind == crate::model::ModelKind::Vae
                    && dir.join(checkpoint::ENCODER).is_file()
                {
                    let e = VaeEncoder::new(&model, &self.device);
                    Some(checkpoint::load_module(&dir, checkpoint::ENCODER, e)?)
                } else {
                    None
                };
                let info = ModelInfo {
                    origin: dir.display().to_string(),
                    path: Some(dir),
                    model,
                    class_names: manifest.class_names.clone(),
                    step: manifest.step,
                    data_name: manifest.data.name.clone(),
                    data_source: manifest.data.source.clone(),
                    has_encoder: encoder.is_some(),
                };
                self.loaded = Some(Loaded {
                    info: info.clone(),
                    generator,
                    encoder,
                    chain: None,
                    data: None,
                });
                Ok(Some(Reply::Loaded(info)))
            }
            Request::LoadSnapshot(s) => {
                let g = s.model.init_generator(&self.device);
                let origin = PathBuf::from(format!("training run, step {}", s.step));
                let generator =
                    checkpoint::load_module_bytes(Bytes::from_bytes_vec(s.generator), &origin, g)?;
                let info = ModelInfo {
                    origin: origin.display().to_string(),
                    path: None,
                    model: s.model,
                    class_names: s.class_names,
                    step: s.step,
                    data_source: s.data_name.clone(),
                    data_name: s.data_name,
                    has_encoder: false,
                };
                self.loaded = Some(Loaded {
                    info: info.clone(),
                    generator,
                    encoder: None,
                    chain: None,
                    data: None,
                });
                Ok(Some(Reply::Loaded(info)))
            }
            Request::Generate {
                tag,
                id,
                z,
                labels,
                cols,
            } => {
                let l = self.loaded.as_ref().ok_or(ExploreError::NoModel)?;
                let started = std::time::Instant::now();
                let values = generate_with(
                    &l.generator,
                    &l.info.model,
                    &self.device,
                    &z,
                    labels.as_deref(),
                )
                .map_err(|e| ExploreError::Compute(e.to_string()))?;
                let m = &l.info.model;
                let grid = grid::grid_of(&values, m.image_size, m.channels, cols);
                Ok(Some(Reply::Images {
                    tag,
                    id,
                    values,
                    grid,
                    millis: started.elapsed().as_secs_f32() * 1000.0,
                }))
            }
            Request::Style {
                tag,
                id,
                spec,
                cols,
            } => {
                let l = self.loaded.as_ref().ok_or(ExploreError::NoModel)?;
                let Generator::Style(g) = &l.generator else {
                    return Err(ExploreError::NotStyle(l.info.model.kind.name()));
                };
                let started = std::time::Instant::now();
                let m = &l.info.model;
                let (values, ws) = super::style::render(g, m, &spec, &self.device)?;
                let grid = grid::grid_of(&values, m.image_size, m.channels, cols);
                Ok(Some(Reply::StyleImages {
                    tag,
                    id,
                    grid,
                    ws,
                    millis: started.elapsed().as_secs_f32() * 1000.0,
                }))
            }
            Request::Encode { data, n } => {
                let l = self.loaded.as_ref().ok_or(ExploreError::NoModel)?;
                let enc = l.encoder.as_ref().ok_or(ExploreError::NoEncoder)?;
                let (side, channels) = (l.info.model.image_size, l.info.model.channels);
                let data = data.load_shaped(side, channels)?;
                // Evenly spread over the whole set (data sets are often sorted by class).
                let n = n.min(data.len()).max(1);
                let idx: Vec<usize> = (0..n).map(|i| i * data.len() / n).collect();
                let x = Tensor::<4>::from_data(
                    TensorData::new(data.pixels(&idx), [idx.len(), channels, side, side]),
                    &self.device,
                ); // [n, 1, 28, 28]
                let (mu, _) = enc.forward(x); // [n, latent]
                let latent = l.info.model.latent_dim;
                let mu = readback(mu).map_err(|e| ExploreError::Compute(e.to_string()))?;
                let points = mu
                    .chunks(latent)
                    .map(|r| [r[0], r.get(1).copied().unwrap_or(0.0)])
                    .collect();
                let labels = idx
                    .iter()
                    .map(|&i| data.labels.get(i).copied().unwrap_or(0))
                    .collect();
                Ok(Some(Reply::Encoded { points, labels }))
            }
            Request::Job(job) => {
                let Some(l) = self.loaded.as_ref() else {
                    return Ok(Some(Reply::JobFailed {
                        id: job.id,
                        text: ExploreError::NoModel.to_string(),
                    }));
                };
                let model = JobModel {
                    info: l.info.clone(),
                    generator: l.generator.clone(),
                    encoder: l.encoder.clone(),
                };
                jobs::spawn(model, job, self.out.clone());
                Ok(None)
            }
            Request::Translate { id, input } => {
                let l = self.loaded.as_mut().ok_or(ExploreError::NoModel)?;
                let model = &l.info.model;
                if let super::translate::TranslateInput::Pyramid { seed, strengths } = &input {
                    let mut p = super::translate::pyramid(
                        &l.generator,
                        model,
                        *seed,
                        strengths,
                        &self.device,
                    )?;
                    p.id = id;
                    return Ok(Some(Reply::Pyramid(Box::new(p))));
                }
                if matches!(input, super::translate::TranslateInput::Held { .. })
                    && l.data.is_none()
                {
                    let Ok(source) = l.info.data_source.parse::<DataSource>();
                    l.data = Some(source.load_shaped(model.image_size, model.channels)?);
                }
                let mut t = super::translate::translate(
                    &l.generator,
                    model,
                    &input,
                    l.data.as_ref(),
                    &self.device,
                )?;
                t.id = id;
                Ok(Some(Reply::Translated(Box::new(t))))
            }
            Request::Gibbs { id, start, control } => {
                let l = self.loaded.as_mut().ok_or(ExploreError::NoModel)?;
                let Generator::Boltzmann(net) = &l.generator else {
                    return Err(gibbs::GibbsError::NotBoltzmann(l.info.model.kind.name()).into());
                };
                let (chain, frame) = match (start, l.chain.take()) {
                    (None, Some(running)) => gibbs::advance(net, running, &control, id)?,
                    (start, _) => {
                        let from = start.unwrap_or(GibbsStart::Noise { seed: 0 });
                        gibbs::start(net, &from, &control, id)?
                    }
                };
                l.chain = Some(chain);
                Ok(Some(Reply::Gibbs(frame)))
            }
            Request::Shutdown => Ok(None),
        }
    }
}

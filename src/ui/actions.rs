//! What a panel asks the app to do; the app owns the threads and the file flow.

use super::image_view::upscale;
use crate::explore::jobs::JobKind;
use crate::explore::worker::Request;
use crate::train::Command;
use crate::types::grid::Picture;
use std::sync::Arc;

/// What an export writes. Encoding (a GIF of hundreds of frames takes a while) happens on a
/// helper thread once the path is known, never in the frame that asked for it.
#[derive(Debug, Clone)]
pub enum Payload {
    /// One image, enlarged `scale` times, with `latentlab:*` metadata.
    Png {
        image: Arc<Picture>,
        scale: usize,
        metadata: Vec<(&'static str, String)>,
    },
    /// A file's bytes as they are (JSON).
    Json(Vec<u8>),
    /// A looping animation, each frame enlarged `scale` times.
    Gif {
        frames: Vec<Arc<Picture>>,
        scale: usize,
        delay_ms: u32,
    },
}

impl Payload {
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        match self {
            Payload::Png {
                image,
                scale,
                metadata,
            } => crate::export::png_bytes(&upscale(image, *scale), metadata)
                .map_err(|e| format!("PNG encoding failed: {e}")),
            Payload::Json(bytes) => Ok(bytes.clone()),
            Payload::Gif {
                frames,
                scale,
                delay_ms,
            } => {
                let frames: Vec<Picture> = frames.iter().map(|f| upscale(f, *scale)).collect();
                crate::export::gif_bytes(&frames, *delay_ms)
                    .map_err(|e| format!("GIF encoding failed: {e}"))
            }
        }
    }

    fn extension(&self) -> &'static str {
        match self {
            Payload::Png { .. } => "png",
            Payload::Gif { .. } => "gif",
            Payload::Json(_) => "json",
        }
    }
}

#[derive(Debug)]
pub enum Action {
    /// Load the chosen data set (off the UI thread), then start a run.
    StartRun,
    /// As [`Action::StartRun`], continuing the run saved in this directory.
    ResumeRun(std::path::PathBuf),
    Train(Command),
    /// Ask where, then save the training run's checkpoint there.
    SaveCheckpoint,
    /// Ask for a run directory and load it into the explorer.
    OpenCheckpoint,
    /// Ask for a data directory (IDX files or one image folder per class).
    PickDataFolder,
    /// Ask for a picture for the Translate tab.
    OpenPicture,
    Explore(Request),
    /// Start a latent job (directions, encoding) on the explorer's model.
    Job(JobKind),
    /// Ask for a directions file and load it.
    LoadDirections,
    /// Write directions to a file the user already chose (off the UI thread).
    SaveDirections {
        path: std::path::PathBuf,
        bytes: Vec<u8>,
    },
    /// Load the model being trained into the explorer.
    ExploreTrainingRun,
    /// Ask where, then encode and write `payload` there.
    Export {
        what: &'static str,
        default_name: String,
        payload: Payload,
    },
    Notice(String),
}

impl Action {
    /// Export `payload` as `what`, offering `stem` plus the format's extension as the name.
    pub fn export(what: &'static str, stem: &str, payload: Payload) -> Self {
        Action::Export {
            what,
            default_name: format!("{stem}.{}", payload.extension()),
            payload,
        }
    }
}

//! Run directories: `manifest.json` plus burnpack weight and optimiser files, written to a
//! temporary directory and renamed into place so a crash never leaves half a checkpoint.

use crate::model::{Generator, ModelConfig};
use crate::train::{History, TrainConfig};
use burn::module::Module;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A run shipped in the repository's `checkpoints/` folder.
pub fn shipped_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("checkpoints")
        .join(name)
}

/// Bumped whenever the run-directory layout or manifest changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
pub const GENERATOR: &str = "generator.bpk";
pub const DISCRIMINATOR: &str = "discriminator.bpk";
pub const ENCODER: &str = "encoder.bpk";
pub const OPTIM_G: &str = "optimizer-g.bpk";
pub const OPTIM_D: &str = "optimizer-d.bpk";
pub const SAMPLES: &str = "samples.png";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: not a checkpoint directory (no manifest.json)")]
    NotACheckpoint(PathBuf),
    #[error("{path}: unreadable manifest: {detail}")]
    Manifest { path: PathBuf, detail: String },
    #[error(
        "{path}: written by format version {found}, this latentlab reads up to version {FORMAT_VERSION}; upgrade latentlab"
    )]
    FutureVersion { path: PathBuf, found: u32 },
    #[error("{path}: corrupt or truncated weights: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path}: weights do not fit the model in the manifest: {detail}")]
    Mismatch { path: PathBuf, detail: String },
    #[error("cannot serialise {what}: {detail}")]
    Encode { what: &'static str, detail: String },
}

/// Where the training data came from, for the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub name: String,
    pub source: String,
    pub len: usize,
    pub height: usize,
    pub width: usize,
}

/// Everything about a run except the tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub crate_version: String,
    pub created_unix_secs: u64,
    pub step: u64,
    /// Real examples consumed so far (lets a resumed run continue the same data order).
    pub examples_seen: u64,
    pub train: TrainConfig,
    pub data: DataInfo,
    pub class_names: Vec<String>,
    pub history: History,
}

impl Manifest {
    pub fn model(&self) -> &ModelConfig {
        &self.train.model
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.into(),
        source,
    }
}

/// Serialise a module's parameters to burnpack bytes.
pub fn module_bytes<M: Module>(module: &M) -> Result<Vec<u8>, CheckpointError> {
    // `valid()` first: it folds pending batch-norm running-statistics updates into the values
    // a record reads (a plain clone would save stale statistics). Parameter ids are kept.
    let bytes = module
        .valid()
        .into_record()
        .into_bytes()
        .map_err(|e| CheckpointError::Encode {
            what: "weights",
            detail: e.to_string(),
        })?;
    Ok(bytes.to_vec())
}

/// Write `files` and the manifest as run directory `dir`, atomically: everything goes to a
/// sibling temporary directory first, which then replaces `dir`.
pub fn write_run_dir(
    dir: &Path,
    manifest: &Manifest,
    files: &[(&str, Vec<u8>)],
) -> Result<(), CheckpointError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| CheckpointError::Encode {
        what: "manifest",
        detail: e.to_string(),
    })?;
    for (file, bytes) in files
        .iter()
        .map(|(f, b)| (*f, b.as_slice()))
        .chain([(MANIFEST, json.as_slice())])
    {
        let path = tmp.join(file);
        std::fs::write(&path, bytes).map_err(io(&path))?;
    }
    // Swap: the old directory moves aside, the new one moves in, the old one goes.
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let had_old = dir.exists();
    if had_old {
        std::fs::rename(dir, &old).map_err(io(dir))?;
    }
    std::fs::rename(&tmp, dir).map_err(io(dir))?;
    if had_old {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

/// Read and check a run directory's manifest.
pub fn read_manifest(dir: &Path) -> Result<Manifest, CheckpointError> {
    let path = dir.join(MANIFEST);
    if !path.is_file() {
        return Err(CheckpointError::NotACheckpoint(dir.into()));
    }
    let text = std::fs::read(&path).map_err(io(&path))?;
    // Look at the version first so a future layout gives the version error, not a parse error.
    let value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| CheckpointError::Manifest {
            path: path.clone(),
            detail: e.to_string(),
        })?;
    let found = value
        .get("format_version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| CheckpointError::Manifest {
            path: path.clone(),
            detail: "missing format_version".into(),
        })?;
    if found > FORMAT_VERSION as u64 {
        return Err(CheckpointError::FutureVersion {
            path,
            found: found as u32,
        });
    }
    serde_json::from_value(value).map_err(|e| CheckpointError::Manifest {
        path,
        detail: e.to_string(),
    })
}

/// Read a burnpack file into raw bytes.
pub fn read_bytes(dir: &Path, file: &str) -> Result<Bytes, CheckpointError> {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    Ok(Bytes::from_bytes_vec(bytes))
}

/// Load the weights in `dir/file` into `module`, which was built from the manifest's config.
pub fn load_module<M: Module>(dir: &Path, file: &str, module: M) -> Result<M, CheckpointError> {
    let bytes = read_bytes(dir, file)?;
    load_module_bytes(bytes, &dir.join(file), module)
}

/// Load burnpack `bytes` (named `origin` in errors) into `module`.
pub fn load_module_bytes<M: Module>(
    bytes: Bytes,
    origin: &Path,
    module: M,
) -> Result<M, CheckpointError> {
    let path = origin.to_path_buf();
    let record = ModuleRecord::from_bytes(bytes).map_err(|e| CheckpointError::Corrupt {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    module.try_load_record(record).map_err(|e| match e {
        burn::store::RecordError::Validation(detail) => CheckpointError::Mismatch { path, detail },
        burn::store::RecordError::Io(detail) => CheckpointError::Corrupt { path, detail },
    })
}

/// A checkpoint's generator, ready for inference on `device`.
pub fn load_generator(
    dir: &Path,
    device: &Device,
) -> Result<(Manifest, Generator), CheckpointError> {
    let manifest = read_manifest(dir)?;
    manifest
        .model()
        .validate()
        .map_err(|e| CheckpointError::Manifest {
            path: dir.join(MANIFEST),
            detail: e.to_string(),
        })?;
    let g = manifest.model().init_generator(device);
    let g = load_module(dir, GENERATOR, g)?;
    Ok((manifest, g))
}

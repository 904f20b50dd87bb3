//! Run directories: `manifest.json` plus burnpack weight and optimiser files, written
//! crash-safely (see [`replace`]) and checked on the way back in.

pub mod lease;
pub mod replace;
pub mod shipped;

use crate::model::{Generator, ModelConfig};
use crate::types::config::TrainConfig;
use crate::types::metrics::History;
use burn::module::Module;
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where runs saved without a chosen directory go (a crash's or a signal's emergency save):
/// the platform data directory's `recovered/`.
pub fn recovery_dir() -> Option<PathBuf> {
    shipped::data_dir().map(|d| d.join("recovered"))
}

/// A fresh `run-UNIXTIME` directory name inside `base`.
pub fn recovered_run(base: &Path) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    base.join(format!("run-{secs}"))
}

/// A shipped run or classifier by name (see [`shipped::dir`]).
pub fn shipped_dir(name: &str) -> PathBuf {
    shipped::dir(name)
}

/// Bumped whenever the run-directory layout or manifest changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
pub const GENERATOR: &str = "generator.bpk";
/// The moving average of the generator's weights, in runs that keep one (`train.ema`).
pub const GENERATOR_EMA: &str = "generator-ema.bpk";
pub const DISCRIMINATOR: &str = "discriminator.bpk";
pub const ENCODER: &str = "encoder.bpk";
pub const OPTIM_G: &str = "optimizer-g.bpk";
pub const OPTIM_D: &str = "optimizer-d.bpk";
pub const SAMPLES: &str = "samples.png";
/// Every file a run directory may hold.
pub const RUN_FILES: &[&str] = &[
    MANIFEST,
    GENERATOR,
    GENERATOR_EMA,
    DISCRIMINATOR,
    ENCODER,
    OPTIM_G,
    OPTIM_D,
    SAMPLES,
];

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
    #[error("{path} holds a {kind} ({marker}), not a {wanted}")]
    OtherKind {
        path: PathBuf,
        kind: &'static str,
        marker: &'static str,
        wanted: &'static str,
    },
    #[error(
        "{0}: names no directory a save can replace (such as `.`, `..` or `/`); give the \
         directory a name, for example runs/digits"
    )]
    NoName(PathBuf),
    #[error(
        "{path} is in use by another latentlab process ({holder}); wait for it to finish or \
         stop it, or choose another directory (nothing was changed)"
    )]
    InUse { path: PathBuf, holder: String },
    #[error(
        "{0} changed since this process last read or wrote it (another process saved there); \
         it was not replaced. Save to another directory"
    )]
    Changed(PathBuf),
    #[error(
        "refusing to save the {what}: its trained weights hold NaN or infinite numbers \
         (training diverged); nothing was written"
    )]
    NonFiniteModule { what: &'static str },
    #[error("{path}: the weights hold NaN or infinite numbers, so nothing they make is usable")]
    NonFiniteWeights { path: PathBuf },
    #[error(
        "{path}: this directory holds files but no {marker}, so it is not latentlab's to \
         replace; nothing in it was changed. Choose a new or empty directory"
    )]
    Foreign { path: PathBuf, marker: String },
    #[error("{0}: exists and is not a directory; nothing was changed")]
    NotADirectory(PathBuf),
    #[error(
        "{path}: this run directory also holds files latentlab did not write ({files}); move \
         them elsewhere first, nothing was changed"
    )]
    UnknownFiles { path: PathBuf, files: String },
    #[error("{path}: {what} is out of range: {detail}")]
    OutOfRange {
        path: PathBuf,
        what: &'static str,
        detail: String,
    },
    #[error(
        "{path}: another latentlab save or load kept this directory locked for {secs} s; try again"
    )]
    Busy { path: PathBuf, secs: u64 },
    #[error("refusing to save step {step}: {detail}; the last good checkpoint is kept")]
    NonFinite { step: u64, detail: String },
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
    #[error("{path} holds a {kind} run, which has no discriminator")]
    NoDiscriminator { path: PathBuf, kind: &'static str },
}

/// Where the training data came from, for the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub name: String,
    pub source: String,
    pub len: usize,
    pub height: usize,
    pub width: usize,
    /// 1 or 3 (runs from before colour have 1).
    #[serde(default = "one_channel")]
    pub channels: usize,
}

fn one_channel() -> usize {
    1
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

/// Write `files` and the manifest as run directory `dir`, crash-safely. Only a run directory
/// (or an empty one) is ever replaced; non-finite numbers are never written.
pub fn write_run_dir(
    dir: &Path,
    manifest: &Manifest,
    files: &[(&str, Vec<u8>)],
    expect: Option<replace::Seen>,
) -> Result<replace::Seen, CheckpointError> {
    manifest.check_finite()?;
    let mut manifest = manifest.clone();
    // A history point with a non-finite number would be written as `null`.
    manifest.history.points.retain(|p| p.is_finite());
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| CheckpointError::Encode {
        what: "manifest",
        detail: e.to_string(),
    })?;
    let all: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(f, b)| (*f, b.as_slice()))
        .chain([(MANIFEST, json.as_slice())])
        .collect();
    replace::write_dir_expecting(dir, MANIFEST, RUN_FILES, &all, expect)
}

/// Refuse a save when the exported values already include a non-finite number (beyond what
/// the training loop guards, this is the last line).
impl Manifest {
    pub fn check_finite(&self) -> Result<(), CheckpointError> {
        let t = &self.train;
        let bad = |detail: String| CheckpointError::NonFinite {
            step: self.step,
            detail,
        };
        if !(t.lr_g.is_finite() && t.lr_d.is_finite()) {
            return Err(bad(format!("learning rates {} / {}", t.lr_g, t.lr_d)));
        }
        if !(t.beta1.is_finite() && t.beta2.is_finite()) {
            return Err(bad(format!("Adam betas {} / {}", t.beta1, t.beta2)));
        }
        Ok(())
    }

    /// Bounds on every size a hand-edited or hostile manifest could set.
    pub fn check_bounds(&self, path: &Path) -> Result<(), CheckpointError> {
        let out = |what: &'static str, detail: String| CheckpointError::OutOfRange {
            path: path.into(),
            what,
            detail,
        };
        let t = &self.train;
        t.model
            .validate()
            .map_err(|e| out("model", e.to_string()))?;
        if !(1..=MAX_BATCH).contains(&t.batch) {
            return Err(out("batch", format!("{} (1 to {MAX_BATCH})", t.batch)));
        }
        if t.sample_count > MAX_SAMPLES {
            return Err(out(
                "sample_count",
                format!("{} (at most {MAX_SAMPLES})", t.sample_count),
            ));
        }
        if !(1..=100).contains(&t.n_critic) {
            return Err(out("n_critic", format!("{} (1 to 100)", t.n_critic)));
        }
        if !(t.lr_g.is_finite() && t.lr_g > 0.0 && t.lr_d.is_finite() && t.lr_d > 0.0) {
            return Err(out("learning rate", format!("{} / {}", t.lr_g, t.lr_d)));
        }
        if let Some(e) = t.ema
            && !(0.0..1.0).contains(&e)
        {
            return Err(out("ema", format!("{e} (0 to below 1)")));
        }
        if !((0.0..1.0).contains(&t.beta1) && (0.0..1.0).contains(&t.beta2)) {
            return Err(out("Adam betas", format!("{} / {}", t.beta1, t.beta2)));
        }
        if let Some(cd) = &t.cd {
            cd.check().map_err(|(what, detail)| out(what, detail))?;
        }
        if self.step > MAX_STEP || self.examples_seen > MAX_STEP.saturating_mul(MAX_BATCH as u64) {
            return Err(out(
                "step",
                format!("{} steps, {} examples", self.step, self.examples_seen),
            ));
        }
        if self.class_names.len() > crate::model::MAX_CLASSES {
            return Err(out(
                "class_names",
                format!("{} names", self.class_names.len()),
            ));
        }
        let h = &self.history;
        if !(2..=MAX_HISTORY).contains(&h.capacity)
            || h.points.len() > h.capacity.saturating_mul(2)
            || !(1..=1u64 << 40).contains(&h.stride)
        {
            return Err(out(
                "history",
                format!(
                    "{} points, capacity {}, stride {}",
                    h.points.len(),
                    h.capacity,
                    h.stride
                ),
            ));
        }
        Ok(())
    }
}

/// Largest batch a manifest or a command may ask for (a DCGAN-28 step at 4096 needs a few GB;
/// much more would exhaust memory instead of failing with a message).
pub const MAX_BATCH: usize = 4096;
/// Largest fixed-noise sample grid.
pub const MAX_SAMPLES: usize = 1024;
/// Largest step count (a thousand years at a thousand steps a second is far less).
pub const MAX_STEP: u64 = 1 << 50;
/// Largest history a manifest may hold.
pub const MAX_HISTORY: usize = 1 << 20;

/// Read and check a run directory's manifest, first restoring a previous version that an
/// interrupted save left aside.
pub fn read_manifest(dir: &Path) -> Result<Manifest, CheckpointError> {
    open_run(dir).map(|(m, _)| m)
}

/// Open run directory `dir` for reading: recover an interrupted save, then hold a shared lock
/// (the returned guard) so no save replaces the run while its files are read.
pub fn open_run(dir: &Path) -> Result<(Manifest, Option<replace::ParentLock>), CheckpointError> {
    replace::recover(dir)?;
    let guard = replace::read_lock(dir);
    let path = dir.join(MANIFEST);
    if !path.is_file() {
        return Err(not_a(dir, MANIFEST));
    }
    let len = std::fs::metadata(&path).map_err(io(&path))?.len();
    if len > MAX_MANIFEST_BYTES {
        return Err(CheckpointError::OutOfRange {
            path,
            what: "manifest size",
            detail: format!("{len} bytes (at most {MAX_MANIFEST_BYTES})"),
        });
    }
    let text = std::fs::read(&path).map_err(io(&path))?;
    Ok((parse_manifest(&text, &path)?, guard))
}

/// The error for `dir` when it should hold a directory marked by `wanted`: it holds another
/// kind latentlab writes, or nothing of latentlab's.
pub fn not_a(dir: &Path, wanted: &str) -> CheckpointError {
    match replace::kind_at(dir) {
        Some(marker) if marker != wanted => CheckpointError::OtherKind {
            path: dir.into(),
            kind: replace::kind_name(marker),
            marker,
            wanted: replace::kind_name(wanted),
        },
        _ if wanted == MANIFEST => CheckpointError::NotACheckpoint(dir.into()),
        _ => CheckpointError::Io {
            path: dir.join(wanted),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        },
    }
}

/// Largest `manifest.json` read (a full history is about 1 MB).
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// Parse and check manifest bytes (`path` names them in errors).
pub fn parse_manifest(text: &[u8], path: &Path) -> Result<Manifest, CheckpointError> {
    let path = path.to_path_buf();
    // Look at the version first so a future layout gives the version error, not a parse error.
    let value: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| CheckpointError::Manifest {
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
            found: found.min(u32::MAX as u64) as u32,
        });
    }
    let mut m: Manifest = serde_json::from_value(value).map_err(|e| CheckpointError::Manifest {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    m.check_bounds(&path)?;
    m.history
        .points
        .iter_mut()
        .for_each(|p| p.infinite_to_nan());
    Ok(m)
}

/// Read a burnpack file into raw bytes.
pub fn read_bytes(dir: &Path, file: &str) -> Result<Bytes, CheckpointError> {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(io(&path))?;
    Ok(Bytes::from_bytes_vec(bytes))
}

/// Load the weights in `dir/file` into `module`, which was built from the manifest's config.
/// Weights with a NaN or an infinity are refused: whatever they generate, score or detect is
/// garbage, and a command would otherwise write it and exit 0.
pub fn load_module<M: Module>(dir: &Path, file: &str, module: M) -> Result<M, CheckpointError> {
    let bytes = read_bytes(dir, file)?;
    let m = load_module_bytes(bytes, &dir.join(file), module)?;
    if !all_finite(&m) {
        return Err(CheckpointError::NonFiniteWeights {
            path: dir.join(file),
        });
    }
    Ok(m)
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

/// Whether every float parameter of `module` is finite. A diverged update shows here one step
/// before it shows in a loss (the loss is computed before the update).
pub fn all_finite<M: Module>(module: &M) -> bool {
    struct Check(bool);
    impl burn::module::ModuleVisitor for Check {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            if !self.0 {
                return;
            }
            // [1]: how many values are NaN or infinite
            let bad = param.val().is_finite().bool_not().float().sum();
            self.0 = bad
                .try_into_data()
                .ok()
                .and_then(|d| d.try_to_vec::<f32>().ok())
                .is_some_and(|v| v.iter().all(|&n| n == 0.0));
        }
    }
    let mut check = Check(true);
    module.visit(&mut check);
    check.0
}

/// A checkpoint's generator, ready for inference on `device`.
pub fn load_generator(
    dir: &Path,
    device: &Device,
) -> Result<(Manifest, Generator), CheckpointError> {
    let (manifest, _reading) = open_run(dir)?;
    let g = run_generator(dir, &manifest, device)?;
    Ok((manifest, g))
}

/// Write a directory of one module's weights (`weights_file`) and its JSON manifest
/// (`manifest_file`, from `info`) crash-safely; only a directory of that kind (or an empty one)
/// is ever replaced. `what` names the manifest in an encoding error.
pub fn save_module_dir<M: Module, I: serde::Serialize>(
    dir: &Path,
    what: &'static str,
    (manifest_file, weights_file, known): (&str, &str, &[&str]),
    module: &M,
    info: &I,
    expect: Option<replace::Seen>,
) -> Result<(), CheckpointError> {
    if !all_finite(module) {
        return Err(CheckpointError::NonFiniteModule { what });
    }
    let json = serde_json::to_vec_pretty(info).map_err(|e| CheckpointError::Encode {
        what,
        detail: e.to_string(),
    })?;
    let weights = module_bytes(module)?;
    replace::write_dir_expecting(
        dir,
        manifest_file,
        known,
        &[(weights_file, &weights), (manifest_file, &json)],
        expect,
    )
    .map(drop)
}

/// A run's discriminator, ready for inference on `device`.
pub fn load_discriminator(
    dir: &Path,
    device: &Device,
) -> Result<(Manifest, crate::model::Discriminator), CheckpointError> {
    let (manifest, _reading) = open_run(dir)?;
    let d = manifest.model().init_discriminator(device).ok_or_else(|| {
        CheckpointError::NoDiscriminator {
            path: dir.into(),
            kind: manifest.model().kind.name(),
        }
    })?;
    let d = load_module(dir, DISCRIMINATOR, d)?;
    Ok((manifest, d))
}

/// The generator of the run in `dir` whose manifest is `manifest` (read under [`open_run`]'s
/// guard, which the caller holds while it reads more of the run): the weight average where the
/// run keeps one, else the trained weights.
pub fn run_generator(
    dir: &Path,
    manifest: &Manifest,
    device: &Device,
) -> Result<Generator, CheckpointError> {
    let file = if manifest.train.ema.is_some() {
        GENERATOR_EMA
    } else {
        GENERATOR
    };
    let g = load_module(dir, file, manifest.model().init_generator(device))?;
    Ok(match (g, &manifest.train.cd) {
        (Generator::Boltzmann(m), Some(cd)) => Generator::Boltzmann(m.with_gibbs(cd.sample_gibbs)),
        (g, _) => g,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelConfig, ModelKind};

    /// Turns every value of the first float parameter it meets into NaN.
    struct Poison(bool);

    impl burn::module::ModuleMapper for Poison {
        fn map_float<const D: usize>(
            &mut self,
            param: burn::module::Param<Tensor<D>>,
        ) -> burn::module::Param<Tensor<D>> {
            if std::mem::replace(&mut self.0, false) {
                param.map(|t| t.mul_scalar(f32::NAN))
            } else {
                param
            }
        }
    }

    #[test]
    fn all_finite_sees_one_poisoned_parameter() {
        let device = Device::flex();
        let mut cfg = ModelConfig::new(ModelKind::Mlp, 0);
        cfg.width = 4;
        cfg.latent_dim = 3;
        let g = cfg.init_generator(&device);
        assert!(all_finite(&g));
        let g = g.map(&mut Poison(true));
        assert!(!all_finite(&g));
    }
}

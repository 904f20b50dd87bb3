//! The discriminator as a real/fake detector: P(real) = sigmoid(D(x)), from a GAN run's own D
//! or from a dedicated detector (`latentlab detector`: a fresh DCGAN-28 discriminator trained on
//! real images against one generator's fakes), and the ROC AUC that measures either.

use crate::checkpoint::{self, CheckpointError, Manifest};
use crate::data::DataError;
use crate::model::{Discriminator, ModelConfig, ReadbackError, readback};
use crate::types::noise;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const DETECTOR_FILE: &str = "detector.bpk";
pub const DETECTOR_MANIFEST: &str = "detector.json";
/// Every file a detector directory may hold.
pub const DETECTOR_FILES: &[&str] = &[DETECTOR_FILE, DETECTOR_MANIFEST];

/// What `latentlab detector` trained and measured; stored as `detector.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectorInfo {
    pub format_version: u32,
    /// The discriminator's architecture (an unconditional DCGAN-28 D).
    pub model: ModelConfig,
    /// The real images' data set (name and how it was named on the command line).
    pub data: String,
    pub data_source: String,
    /// The run whose generator made the fakes, and its step.
    pub fakes_from: String,
    pub fakes_step: u64,
    pub steps: usize,
    pub seed: u64,
    pub heldout_real: usize,
    pub heldout_fake: usize,
    pub heldout_auc: f64,
    pub heldout_accuracy: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Readback(#[from] ReadbackError),
    #[error("label {label} is out of range: this discriminator takes {classes} classes")]
    Label { label: usize, classes: usize },
    #[error(
        "this discriminator does not take a label (only the conditional MLP GAN's and DCGAN's do)"
    )]
    LabelUnused,
}

/// A loaded detector.
pub enum Detector {
    /// A GAN run's own discriminator.
    Run {
        manifest: Box<Manifest>,
        d: Discriminator,
    },
    /// A detector trained by `latentlab detector`.
    Dedicated {
        info: Box<DetectorInfo>,
        d: Discriminator,
    },
}

/// One image's verdict: P(real), and the label it was scored for by a D that takes one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub p_real: f32,
    pub label: Option<usize>,
}

/// A discriminator's scores during training: P(real) on real images and on fresh generated
/// ones, and how well they separate (plain data, sent to the app).
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub step: u64,
    pub real: Vec<f32>,
    pub fake: Vec<f32>,
    /// ROC AUC of `real` against `fake` (1: D tells them apart perfectly, 0.5: not at all).
    pub auc: f64,
}

/// Images judged on request: P(real) for each.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub names: Vec<String>,
    /// `[n, channels, side, side]` in [-1, 1].
    pub images: Vec<f32>,
    /// (side, channels) of the images.
    pub shape: (usize, usize),
    pub verdicts: Vec<Verdict>,
}

/// The detector in `dir`: a detector directory, or a GAN run (its discriminator).
pub fn load(dir: &Path, device: &Device) -> Result<Detector, DetectError> {
    // Recovery first, of whatever kind: a detector whose save a crash interrupted is back
    // at the path before it is looked for.
    checkpoint::replace::recover(dir)?;
    if dir.join(DETECTOR_MANIFEST).is_file() {
        let _reading = checkpoint::replace::read_lock(dir);
        let path = dir.join(DETECTOR_MANIFEST);
        let text = std::fs::read(&path).map_err(|source| CheckpointError::Io {
            path: path.clone(),
            source,
        })?;
        let info = parse_info(&text, &path)?;
        let d = info.model.init_discriminator(device).ok_or_else(|| {
            CheckpointError::NoDiscriminator {
                path: dir.into(),
                kind: info.model.kind.name(),
            }
        })?;
        let d = checkpoint::load_module(dir, DETECTOR_FILE, d)?;
        return Ok(Detector::Dedicated {
            info: Box::new(info),
            d,
        });
    }
    let (manifest, d) = checkpoint::load_discriminator(dir, device)?;
    Ok(Detector::Run {
        manifest: Box::new(manifest),
        d,
    })
}

/// `detector.json`, checked: a known format and an architecture that validates.
pub fn parse_info(text: &[u8], path: &Path) -> Result<DetectorInfo, CheckpointError> {
    let bad = |detail: String| CheckpointError::Manifest {
        path: path.into(),
        detail,
    };
    let info: DetectorInfo = serde_json::from_slice(text).map_err(|e| bad(e.to_string()))?;
    if info.format_version > checkpoint::FORMAT_VERSION {
        return Err(CheckpointError::FutureVersion {
            path: path.into(),
            found: info.format_version,
        });
    }
    info.model
        .validate()
        .map_err(|e| bad(format!("model: {e}")))?;
    if !info.model.kind.is_gan() {
        return Err(bad(format!(
            "{} has no discriminator",
            info.model.kind.name()
        )));
    }
    Ok(info)
}

/// Write a detector directory crash-safely (only a detector directory, or an empty one, is
/// ever replaced).
pub fn save(
    dir: &Path,
    d: &Discriminator,
    info: &DetectorInfo,
    expect: Option<checkpoint::replace::Seen>,
) -> Result<(), CheckpointError> {
    checkpoint::save_module_dir(
        dir,
        "detector",
        (DETECTOR_MANIFEST, DETECTOR_FILE, DETECTOR_FILES),
        d,
        info,
        expect,
    )
}

impl Detector {
    pub fn model(&self) -> &ModelConfig {
        match self {
            Detector::Run { manifest, .. } => manifest.model(),
            Detector::Dedicated { info, .. } => &info.model,
        }
    }

    /// Where the detector came from, for messages.
    pub fn describe(&self) -> String {
        match self {
            Detector::Run { manifest, .. } => format!(
                "the discriminator of a {} run at step {}",
                manifest.model().kind.name(),
                manifest.step
            ),
            Detector::Dedicated { info, .. } => format!(
                "a detector trained against {} (held-out AUC {:.3})",
                info.fakes_from, info.heldout_auc
            ),
        }
    }

    fn d(&self) -> &Discriminator {
        match self {
            Detector::Run { d, .. } | Detector::Dedicated { d, .. } => d,
        }
    }

    /// P(real) for images `[n * 784]` in [-1, 1]; see [`verdicts`].
    pub fn p_real(
        &self,
        images: &[f32],
        label: Option<usize>,
        device: &Device,
    ) -> Result<Vec<Verdict>, DetectError> {
        verdicts(self.d(), self.model(), images, label, device)
    }
}

/// P(real) from `d` (of a `model` run) for images `[n * 784]` in [-1, 1]; `labels` (one per
/// image) go into a D that takes a label, and are ignored otherwise.
pub fn scores(
    d: &Discriminator,
    model: &ModelConfig,
    images: &[f32],
    labels: &[u8],
    device: &Device,
) -> Result<Vec<f32>, ReadbackError> {
    let classes = model.num_classes;
    let n = images.len() / model.image_len().max(1);
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(256) {
        let m = (n - start).min(256);
        let shape = (model.image_size, model.channels);
        let x = crate::model::inference::image_chunk(images, start, m, shape, device); // [m, channels, side, side]
        let label = model.kind.label_into_d().then(|| {
            let l = &labels[start.min(labels.len())..(start + m).min(labels.len())];
            Tensor::<2>::from_data(
                TensorData::new(noise::one_hot(l, classes), [m, classes]),
                device,
            )
        });
        out.extend(readback(sigmoid(d.forward(x, label)))?); // [m] of P(real)
    }
    Ok(out)
}

/// Verdicts of `d` on images `[n * 784]`. A D that takes a label judges each image as
/// `label`, or else as every class, keeping the most real-looking (and saying which).
pub fn verdicts(
    d: &Discriminator,
    model: &ModelConfig,
    images: &[f32],
    label: Option<usize>,
    device: &Device,
) -> Result<Vec<Verdict>, DetectError> {
    let classes = model.num_classes;
    let n = images.len() / model.image_len().max(1);
    if !model.kind.label_into_d() {
        if label.is_some() {
            return Err(DetectError::LabelUnused);
        }
        let p = scores(d, model, images, &[], device)?;
        return Ok(p
            .into_iter()
            .map(|p_real| Verdict {
                p_real,
                label: None,
            })
            .collect());
    }
    if let Some(l) = label
        && l >= classes
    {
        return Err(DetectError::Label { label: l, classes });
    }
    let mut best = vec![
        Verdict {
            p_real: f32::NEG_INFINITY,
            label: None,
        };
        n
    ];
    let tried: Vec<usize> = label.map_or_else(|| (0..classes).collect(), |l| vec![l]);
    for l in tried {
        let p = scores(d, model, images, &vec![l as u8; n], device)?;
        for (b, p) in best.iter_mut().zip(p) {
            if b.label.is_none() || p > b.p_real {
                *b = Verdict {
                    p_real: p,
                    label: Some(l),
                };
            }
        }
    }
    Ok(best)
}

/// Image files as a model of `side` x `side` x `channels` reads them, as values `[n * channels
/// * side * side]` in [-1, 1].
pub fn load_images(paths: &[PathBuf], side: usize, channels: usize) -> Result<Vec<f32>, DataError> {
    let mut out = Vec::with_capacity(paths.len() * channels * side * side);
    for p in paths {
        let bytes = crate::data::load_image(p, side, channels)?;
        out.extend(bytes.iter().map(|&b| b as f32 / 127.5 - 1.0));
    }
    Ok(out)
}

/// The area under the ROC curve of scores that should be high for `positive` and low for
/// `negative`: the chance that a random positive outscores a random negative (ties count
/// half). 0.5 is a detector that cannot tell; NaN when either side is empty.
pub fn auc(positive: &[f32], negative: &[f32]) -> f64 {
    if positive.is_empty() || negative.is_empty() {
        return f64::NAN;
    }
    // Rank all scores together (Mann-Whitney U), averaging ranks over ties.
    let mut all: Vec<(f32, bool)> = positive
        .iter()
        .map(|&v| (v, true))
        .chain(negative.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += avg_rank * all[i..=j].iter().filter(|x| x.1).count() as f64;
        i = j + 1;
    }
    let (np, nn) = (positive.len() as f64, negative.len() as f64);
    (rank_sum - np * (np + 1.0) / 2.0) / (np * nn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_hand() {
        assert_eq!(auc(&[0.9, 0.8], &[0.1, 0.2]), 1.0);
        assert_eq!(auc(&[0.1, 0.2], &[0.9, 0.8]), 0.0);
        // Pairs (p, n): (0.6, 0.5) win, (0.6, 0.7) loss, (0.4, 0.5) loss, (0.4, 0.7) loss.
        assert_eq!(auc(&[0.6, 0.4], &[0.5, 0.7]), 0.25);
        // Ties count half.
        assert_eq!(auc(&[0.5], &[0.5]), 0.5);
        assert!(auc(&[], &[0.5]).is_nan());
    }
}

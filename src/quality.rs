//! The quality meter: a small classifier per data set, trained by latentlab itself, and the
//! scores it gives a generator (per-label accuracy, class coverage, and a Frechet distance
//! between the classifier's penultimate features of real and generated images).
//!
//! The Frechet distance here uses latentlab's own 128-feature classifier, so it is comparable
//! only between latentlab runs on the same data set, never with Inception-based FID figures.
//! KID and k-NN precision and recall ([`sample_metrics`]) use the same features, and each
//! score carries the same measures between two halves of the real images for reference.

pub mod collapse;
pub mod fidelity;
pub mod sample_metrics;
pub mod translation;
pub mod upscale;

use crate::checkpoint::{self, CheckpointError};
use crate::data::Dataset;
use crate::model::classifier::{Classifier, FEATURES};
use crate::model::{Generator, ModelConfig};
use crate::model::{ReadbackError, readback};
use crate::types::linalg::jacobi_eigen;
use crate::types::noise;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const CLASSIFIER_FILE: &str = "classifier.bpk";
pub const CLASSIFIER_MANIFEST: &str = "classifier.json";
/// Every file a classifier directory may hold.
pub const CLASSIFIER_FILES: &[&str] = &[CLASSIFIER_FILE, CLASSIFIER_MANIFEST];

#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Readback(#[from] ReadbackError),
    #[error(
        "no classifier for data set `{data}`: expected one in {searched}; train it with \
         `latentlab classifier --data <set> --out {searched}`"
    )]
    NoClassifier { data: String, searched: String },
    #[error("the classifier knows {classifier} classes, the model {model}")]
    Classes { classifier: usize, model: usize },
    #[error(
        "the classifier reads {meter} images, the model makes {model}; train a classifier at \
         the model's size (`latentlab classifier --size N --channels C`)"
    )]
    Shape { meter: String, model: String },
    #[error("scoring needs at least 2 generated images (got {0})")]
    TooFew(usize),
    #[error("scoring a translation needs a cyclegan run and its pair of sets (A <-> B)")]
    NotCycle,
}

/// A trained classifier and what is known about it.
#[derive(Debug)]
pub struct Meter {
    pub classifier: Classifier,
    pub info: ClassifierInfo,
}

/// What a classifier checkpoint records beside its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierInfo {
    pub format_version: u32,
    pub data: String,
    pub class_names: Vec<String>,
    pub train_len: usize,
    pub heldout_len: usize,
    pub heldout_accuracy: f32,
    pub steps: usize,
    pub seed: u64,
    /// The image side and channels it reads (classifiers from before shapes were data: 28, 1).
    #[serde(default = "digit_side")]
    pub image_size: usize,
    #[serde(default = "one_channel")]
    pub channels: usize,
}

fn digit_side() -> usize {
    crate::types::config::DIGIT_SIDE
}

fn one_channel() -> usize {
    1
}

/// Every 10th image is held out; the rest trains the classifier.
pub fn split(len: usize) -> (Vec<usize>, Vec<usize>) {
    (0..len).partition(|i| i % 10 != 9)
}

/// Features `[n * 128]` and predicted classes for images `[n, channels, side, side]` of the
/// classifier's shape, in chunks.
pub fn classify(
    c: &Classifier,
    images: &[f32],
    device: &Device,
) -> Result<(Vec<f32>, Vec<usize>), ReadbackError> {
    let (side, channels) = c.shape();
    let n = images.len() / (channels * side * side).max(1);
    let mut features = Vec::with_capacity(n * FEATURES);
    let mut predicted = Vec::with_capacity(n);
    for start in (0..n).step_by(256) {
        let m = (n - start).min(256);
        let x = crate::model::inference::image_chunk(images, start, m, c.shape(), device); // [m, channels, side, side]
        let (f, logits) = c.forward(x);
        features.extend(readback(f)?);
        let l = readback(logits)?;
        let k = l.len() / m;
        predicted.extend(l.chunks(k).map(|row| {
            row.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i)
        }));
    }
    Ok((features, predicted))
}

/// Accuracy of `c` on the images `idx` of `data`.
pub fn accuracy(
    c: &Classifier,
    data: &Dataset,
    idx: &[usize],
    device: &Device,
) -> Result<f32, ReadbackError> {
    let (_, predicted) = classify(c, &data.pixels(idx), device)?;
    let right = idx
        .iter()
        .zip(&predicted)
        .filter(|(i, p)| data.labels[**i] as usize == **p)
        .count();
    Ok(right as f32 / idx.len().max(1) as f32)
}

/// Write a classifier directory crash-safely; only a classifier directory (or an empty one)
/// is ever replaced.
pub fn save_classifier(
    dir: &Path,
    c: &Classifier,
    info: &ClassifierInfo,
    expect: Option<checkpoint::replace::Seen>,
) -> Result<(), CheckpointError> {
    checkpoint::save_module_dir(
        dir,
        "classifier",
        (CLASSIFIER_MANIFEST, CLASSIFIER_FILE, CLASSIFIER_FILES),
        c,
        info,
        expect,
    )
}

/// Parse and check `classifier.json` bytes (`path` names them in errors).
pub fn parse_classifier_info(text: &[u8], path: &Path) -> Result<ClassifierInfo, CheckpointError> {
    let info: ClassifierInfo =
        serde_json::from_slice(text).map_err(|e| CheckpointError::Manifest {
            path: path.into(),
            detail: e.to_string(),
        })?;
    if info.format_version > checkpoint::FORMAT_VERSION {
        return Err(CheckpointError::FutureVersion {
            path: path.into(),
            found: info.format_version,
        });
    }
    if !(1..=crate::model::MAX_CLASSES).contains(&info.class_names.len()) {
        return Err(CheckpointError::OutOfRange {
            path: path.into(),
            what: "class_names",
            detail: format!(
                "{} classes (1 to {})",
                info.class_names.len(),
                crate::model::MAX_CLASSES
            ),
        });
    }
    Ok(info)
}

pub fn load_classifier(dir: &Path, device: &Device) -> Result<Meter, CheckpointError> {
    checkpoint::replace::recover(dir)?;
    let _reading = checkpoint::replace::read_lock(dir);
    let path = dir.join(CLASSIFIER_MANIFEST);
    if !path.is_file() {
        return Err(checkpoint::not_a(dir, CLASSIFIER_MANIFEST));
    }
    let text = std::fs::read(&path).map_err(|source| CheckpointError::Io {
        path: path.clone(),
        source,
    })?;
    let info = parse_classifier_info(&text, &path)?;
    if !(crate::types::config::MIN_SIDE..=crate::types::config::MAX_SIDE).contains(&info.image_size)
        || !info.image_size.is_multiple_of(4)
        || !matches!(info.channels, 1 | 3)
    {
        return Err(CheckpointError::OutOfRange {
            path,
            what: "image_size/channels",
            detail: format!("{}x{}x{}", info.image_size, info.image_size, info.channels),
        });
    }
    let c = Classifier::new(
        info.class_names.len(),
        info.image_size,
        info.channels,
        device,
    );
    Ok(Meter {
        classifier: checkpoint::load_module(dir, CLASSIFIER_FILE, c)?,
        info,
    })
}

/// The classifier a score uses: the one chosen, or else the shipped one for data set `data`.
pub fn classifier_dir(chosen: Option<&Path>, data: &str) -> PathBuf {
    chosen.map_or_else(|| shipped_classifier_dir(data), Path::to_path_buf)
}

/// The shipped classifier for data set `name` (embedded for the data sets latentlab knows).
pub fn shipped_classifier_dir(name: &str) -> PathBuf {
    crate::checkpoint::shipped_dir(&format!("classifier-{name}"))
}

/// The meter's verdict on a set of generated images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub n: usize,
    /// Conditional models: (class name, share of images generated for it that the classifier
    /// assigns to it).
    pub per_label: Option<Vec<(String, f32)>>,
    pub overall_accuracy: Option<f32>,
    /// Classes predicted for at least 1% of the images.
    pub classes_covered: usize,
    pub classes: usize,
    /// Entropy of the predicted-class histogram, in bits (log2(classes) when perfectly even).
    pub entropy_bits: f32,
    /// Frechet distance between real and generated penultimate features (latentlab units).
    pub frechet: f64,
    /// KID on the same features (unbiased: near 0 when generated and real images match).
    #[serde(default)]
    pub kid: f64,
    /// k-NN precision (k = 3): the share of generated images on the real images' manifold.
    #[serde(default)]
    pub precision: f64,
    /// k-NN recall: the share of real images on the generated images' manifold.
    #[serde(default)]
    pub recall: f64,
    /// The same measures between two disjoint halves of the real images: what "as good as
    /// real" reads for this data set and classifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_vs_real: Option<Reference>,
    /// The images' mean pairwise pixel distance as a share of the real images' (1.0: as
    /// varied as the data; a collapsed generator reads near 0). See [`collapse`].
    #[serde(default)]
    pub diversity: f32,
    /// InfoGAN: for each value of the categorical code, the class the classifier names most
    /// often for its images and that class's share (the code's purity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_code: Option<Vec<CodeClass>>,
}

/// The measures between two halves of the real images.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// Images in each half (the Frechet distance grows as samples shrink, so compare it with
    /// a score on about as many images).
    pub n: usize,
    pub frechet: f64,
    pub kid: f64,
    pub precision: f64,
    pub recall: f64,
}

/// What one value of InfoGAN's categorical code draws, as the classifier sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeClass {
    pub code: usize,
    /// The majority class's name.
    pub class: String,
    /// The majority class's share of the code's images.
    pub purity: f32,
}

/// Per code value, the majority predicted class and its share.
fn code_purity(codes: &[u8], predicted: &[usize], class_names: &[String]) -> Vec<CodeClass> {
    let values = codes.iter().map(|&c| c as usize + 1).max().unwrap_or(0);
    let classes = class_names.len();
    (0..values)
        .map(|code| {
            let mut hist = vec![0usize; classes];
            for (_, &p) in codes
                .iter()
                .zip(predicted)
                .filter(|(c, _)| **c as usize == code)
            {
                hist[p.min(classes - 1)] += 1;
            }
            let total = hist.iter().sum::<usize>().max(1);
            let (best, count) = hist
                .iter()
                .enumerate()
                .max_by_key(|(_, h)| **h)
                .map_or((0, 0), |(i, h)| (i, *h));
            CodeClass {
                code,
                class: class_names.get(best).cloned().unwrap_or_default(),
                purity: count as f32 / total as f32,
            }
        })
        .collect()
}

/// Score images `[n, 784]` in [-1, 1] against `real` (images in [-1, 1]); `intended` holds the
/// label each image was generated for (conditional models), `codes` InfoGAN's categorical code.
/// Images each side of the diversity ratio (pairs grow with the square).
const DIVERSITY_IMAGES: usize = 500;

pub fn score_images(
    meter: &Meter,
    generated: &[f32],
    intended: Option<&[u8]>,
    codes: Option<&[u8]>,
    real: &[f32],
    device: &Device,
) -> Result<Score, ReadbackError> {
    let (c, class_names) = (&meter.classifier, &meter.info.class_names);
    let (side, channels) = c.shape();
    let n = generated.len() / (channels * side * side).max(1);
    let classes = class_names.len();
    let (gen_features, predicted) = classify(c, generated, device)?;
    let (real_features, _) = classify(c, real, device)?;
    let mut hist = vec![0usize; classes];
    for &p in &predicted {
        hist[p.min(classes - 1)] += 1;
    }
    let entropy_bits = hist
        .iter()
        .filter(|&&h| h > 0)
        .map(|&h| {
            let p = h as f64 / n as f64;
            p * (1.0 / p).log2()
        })
        .sum::<f64>() as f32;
    let classes_covered = hist.iter().filter(|&&h| h * 100 >= n).count();
    let (per_label, overall_accuracy) = match intended {
        Some(labels) => {
            let mut right = vec![0usize; classes];
            let mut total = vec![0usize; classes];
            for (&l, &p) in labels.iter().zip(&predicted) {
                total[l as usize] += 1;
                right[l as usize] += (l as usize == p) as usize;
            }
            let per: Vec<(String, f32)> = (0..classes)
                .map(|k| {
                    (
                        class_names[k].clone(),
                        right[k] as f32 / total[k].max(1) as f32,
                    )
                })
                .collect();
            let overall = right.iter().sum::<usize>() as f32 / n.max(1) as f32;
            (Some(per), Some(overall))
        }
        None => (None, None),
    };
    let (precision, recall) =
        sample_metrics::precision_recall(&real_features, &gen_features, FEATURES);
    // Alternate images into the two halves: held-out images are often sorted by class.
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (i, row) in real_features.chunks_exact(FEATURES).enumerate() {
        if i % 2 == 0 { &mut x } else { &mut y }.extend_from_slice(row);
    }
    let real_vs_real = (y.len() >= 2 * FEATURES).then(|| {
        let (x, y) = (&x[..y.len()], &y[..]);
        let (p, r) = sample_metrics::precision_recall(x, y, FEATURES);
        Reference {
            n: y.len() / FEATURES,
            frechet: frechet_distance(x, y, FEATURES),
            kid: sample_metrics::kid(x, y, FEATURES),
            precision: p,
            recall: r,
        }
    });
    let len = channels * side * side;
    let spread = |v: &[f32]| {
        let k = (v.len() / len.max(1)).min(DIVERSITY_IMAGES);
        collapse::mean_pairwise_distance(&v[..k * len], len)
    };
    let real_spread = spread(real);
    Ok(Score {
        n,
        diversity: if real_spread > 0.0 {
            spread(generated) / real_spread
        } else {
            f32::NAN
        },
        kid: sample_metrics::kid(&real_features, &gen_features, FEATURES),
        precision,
        recall,
        real_vs_real,
        per_label,
        overall_accuracy,
        classes_covered,
        classes,
        entropy_bits,
        frechet: frechet_distance(&real_features, &gen_features, FEATURES),
        per_code: codes.map(|c| code_purity(c, &predicted, class_names)),
    })
}

/// Generate `n` images from `g` (an equal share per label for conditional models) and score
/// them against the held-out split of `real`.
pub fn score_generator(
    g: &Generator,
    model: &ModelConfig,
    meter: &Meter,
    real: &Dataset,
    n: usize,
    seed: u64,
    device: &Device,
) -> Result<Score, QualityError> {
    if n < 2 {
        return Err(QualityError::TooFew(n));
    }
    let (side, channels) = meter.classifier.shape();
    if (side, channels) != (model.image_size, model.channels) {
        return Err(QualityError::Shape {
            meter: format!("{side}x{side}x{channels}"),
            model: format!("{0}x{0}x{1}", model.image_size, model.channels),
        });
    }
    let classes = meter.info.class_names.len();
    if model.is_conditional() && model.num_classes != classes {
        return Err(QualityError::Classes {
            classifier: classes,
            model: model.num_classes,
        });
    }
    let z = noise::gaussian(seed, n * model.latent_dim);
    // Conditional models: an equal share per label. InfoGAN: each categorical value in turn,
    // continuous codes at 0. Both cycle over the whole batch, across the chunks below.
    let cycling = (model.cond_dim() > 0).then(|| noise::cycling_labels(n, model.num_classes));
    let zeros = vec![0.0; model.codes];
    let mut generated = Vec::with_capacity(n * model.image_len());
    for start in (0..n).step_by(256) {
        let m = (n - start).min(256);
        let zs = &z[start * model.latent_dim..(start + m) * model.latent_dim];
        let labels = cycling
            .as_ref()
            .map(|l| noise::conditions(&l[start..start + m], model.num_classes, &zeros));
        generated.extend(crate::model::generate_with(
            g,
            model,
            device,
            zs,
            labels.as_deref(),
        )?);
    }
    let (_, heldout) = split(real.len());
    // Evenly spread over the held-out images: data sets are often sorted by class.
    let take = heldout.len().min(n.max(500));
    let spread: Vec<usize> = (0..take)
        .map(|i| heldout[i * heldout.len() / take])
        .collect();
    let real_px = real.pixels(&spread);
    let intended = cycling.as_deref().filter(|_| model.is_conditional());
    let codes = cycling.as_deref().filter(|_| model.kind.has_codes());
    Ok(score_images(
        meter, &generated, intended, codes, &real_px, device,
    )?)
}

/// Frechet distance between Gaussians fitted to two feature sets (`[n * dim]` each):
/// |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2).
pub fn frechet_distance(a: &[f32], b: &[f32], dim: usize) -> f64 {
    if a.iter().chain(b).any(|v| !v.is_finite()) {
        // A diverged generator has no distance worth reporting; NaN says so honestly.
        return f64::NAN;
    }
    let (mu1, s1) = mean_cov(a, dim);
    let (mu2, s2) = mean_cov(b, dim);
    let d2: f64 = mu1.iter().zip(&mu2).map(|(x, y)| (x - y) * (x - y)).sum();
    let root1 = sym_sqrt(&s1, dim);
    let m = matmul(&matmul(&root1, &s2, dim), &root1, dim);
    let (vals, _) = jacobi_eigen(&m, dim);
    let tr_cross: f64 = vals.iter().map(|v| v.max(0.0).sqrt()).sum();
    let tr = |s: &[f64]| (0..dim).map(|i| s[i * dim + i]).sum::<f64>();
    let d = d2 + tr(&s1) + tr(&s2) - 2.0 * tr_cross;
    // `max` would turn a NaN (a generator that outputs NaN) into a perfect 0.
    if d.is_nan() { f64::NAN } else { d.max(0.0) }
}

fn mean_cov(x: &[f32], dim: usize) -> (Vec<f64>, Vec<f64>) {
    let n = x.len() / dim;
    let mut mu = vec![0.0; dim];
    for row in x.chunks(dim) {
        for (m, &v) in mu.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    mu.iter_mut().for_each(|m| *m /= n.max(1) as f64);
    let mut cov = vec![0.0; dim * dim];
    for row in x.chunks(dim) {
        for i in 0..dim {
            let di = row[i] as f64 - mu[i];
            for j in i..dim {
                cov[i * dim + j] += di * (row[j] as f64 - mu[j]);
            }
        }
    }
    let denom = (n.max(2) - 1) as f64;
    for i in 0..dim {
        for j in i..dim {
            let v = cov[i * dim + j] / denom;
            cov[i * dim + j] = v;
            cov[j * dim + i] = v;
        }
    }
    (mu, cov)
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            for j in 0..n {
                c[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    c
}

/// Square root of a symmetric positive semi-definite matrix.
fn sym_sqrt(s: &[f64], n: usize) -> Vec<f64> {
    let (vals, vecs) = jacobi_eigen(s, n);
    let mut out = vec![0.0; n * n];
    for (k, v) in vals.iter().enumerate() {
        let r = v.max(0.0).sqrt();
        for i in 0..n {
            for j in 0..n {
                out[i * n + j] += r * vecs[i * n + k] * vecs[j * n + k];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frechet_of_identical_sets_is_zero_and_grows_with_shift() {
        let dim = 3;
        let a = noise::gaussian(1, 3000 * dim);
        assert!(frechet_distance(&a, &a, dim) < 1e-6);
        let b: Vec<f32> = a.iter().map(|v| v + 2.0).collect();
        // Shifting every dimension by 2 adds |mu1 - mu2|^2 = 3 * 4 = 12.
        let d = frechet_distance(&a, &b, dim);
        assert!((d - 12.0).abs() < 1e-6, "{d}");
        let c: Vec<f32> = a.iter().map(|v| v * 3.0).collect();
        // Scaling by 3: tr(S1 + 9 S1 - 2 * 3 S1) = 4 tr(S1) ~ 12 for unit variances.
        let d = frechet_distance(&a, &c, dim);
        assert!((d - 12.0).abs() < 1.0, "{d}");
        let mut nan = a.clone();
        nan[5] = f32::NAN;
        assert!(frechet_distance(&a, &nan, dim).is_nan());
    }
}

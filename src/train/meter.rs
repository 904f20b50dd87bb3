//! The quality meter for any data set. The scores need features of a network trained on the
//! data being judged: the shipped classifier where one matches the data set and its image
//! shape (the digit sets), else a feature network latentlab trains on the data itself the
//! first time a run on it is scored, and caches.
//!
//! How it is made: the meter's small classifier (`model::classifier`) at the data's shape, for
//! [`FEATURE_STEPS`] steps of batch 64 (Adam 1e-3). A labelled set (2 classes or more) trains
//! it to predict the labels. An unlabelled one trains it to predict which of four rotations
//! (0, 90, 180, 270 degrees) a picture was turned by (Gidaris et al. 2018), a task that needs
//! the objects' shapes and orientation, so its features tell real pictures from poor samples
//! without any label. Its 128 penultimate features feed the Frechet distance, KID and k-NN
//! precision and recall.
//!
//! Where it is cached: `meters/` in latentlab's cache directory (`~/.cache/latentlab/meters`
//! on Linux), one classifier directory per data content and shape (a hash of every pixel and
//! label, the side and the channels). Deleting the folder is always safe: the next score
//! trains the network again (tens of seconds on a laptop's CPU).

use super::TrainError;
use super::classifier::train_classifier;
use crate::data::Dataset;
use crate::quality::{self, Meter};
use crate::types::hash::{FNV_OFFSET, fnv1a};
use burn::prelude::*;
use std::path::{Path, PathBuf};

/// Training steps of a data set's own feature network.
pub const FEATURE_STEPS: usize = 1000;
/// Most images of an unlabelled set the rotation task uses (each in four rotations).
const ROTATION_IMAGES: usize = 5000;
/// The rotation task's classes.
pub const ROTATIONS: [&str; 4] = ["0°", "90°", "180°", "270°"];

/// Where the meter for `data` comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum MeterSource {
    /// A classifier directory: the one chosen, or the shipped one for the data set.
    Classifier(PathBuf),
    /// A feature network trained on the data earlier, read from the cache.
    Cached(PathBuf),
    /// Trained now (and cached at the path, when it could be written).
    Trained(Option<PathBuf>),
}

/// The meter for runs on `data` (at its shape): the `chosen` classifier directory, else the
/// shipped classifier of the data set if it reads pictures of this shape, else the data set's
/// own feature network, from the cache or trained now. `progress(step, loss)` reports training.
pub fn meter_for(
    chosen: Option<&Path>,
    data: &Dataset,
    device: &Device,
    progress: impl FnMut(usize, f32),
) -> Result<(Meter, MeterSource), TrainError> {
    let root = crate::dirs::cache_dir().map(|c| c.join("meters"));
    meter_in(chosen, data, root.as_deref(), device, progress)
}

/// [`meter_for`] with its feature networks cached under `cache` (`None`: not cached).
pub fn meter_in(
    chosen: Option<&Path>,
    data: &Dataset,
    cache: Option<&Path>,
    device: &Device,
    progress: impl FnMut(usize, f32),
) -> Result<(Meter, MeterSource), TrainError> {
    if let Some(dir) = chosen {
        let m = quality::load_classifier(dir, device)?;
        return Ok((m, MeterSource::Classifier(dir.into())));
    }
    let shape = (data.height, data.channels);
    let shipped = quality::shipped_classifier_dir(&data.name);
    if shipped.join(quality::CLASSIFIER_MANIFEST).is_file()
        && let Ok(m) = quality::load_classifier(&shipped, device)
        && m.classifier.shape() == shape
    {
        return Ok((m, MeterSource::Classifier(shipped)));
    }
    let cached = cache.map(|c| c.join(key(data)));
    if let Some(dir) = &cached
        && let Ok(m) = quality::load_classifier(dir, device)
    {
        return Ok((m, MeterSource::Cached(dir.clone())));
    }
    let (c, info) = if data.num_classes() >= 2 {
        train_classifier(data, FEATURE_STEPS, 0, device, progress)?
    } else {
        let turned = rotations(data);
        let (c, mut info) = train_classifier(&turned, FEATURE_STEPS, 0, device, progress)?;
        info.data = data.name.clone();
        (c, info)
    };
    // Best effort: without the cache the next score trains again, losing nothing.
    let written = cached.filter(|dir| quality::save_classifier(dir, &c, &info, None).is_ok());
    Ok((
        Meter {
            classifier: c,
            info,
        },
        MeterSource::Trained(written),
    ))
}

/// The cache entry's name: a hash of every pixel and label, and the shape.
fn key(data: &Dataset) -> String {
    let mut h = fnv1a(FNV_OFFSET, b"latentlab meter 1");
    h = fnv1a(h, &(data.height as u64).to_le_bytes());
    h = fnv1a(h, &(data.channels as u64).to_le_bytes());
    h = fnv1a(h, &data.labels);
    h = fnv1a(h, &data.images);
    format!("{h:016x}-{0}x{0}x{1}", data.height, data.channels)
}

/// Up to [`ROTATION_IMAGES`] of `data`'s pictures (evenly spread), each turned by 0, 90, 180
/// and 270 degrees, labelled by the turn.
pub fn rotations(data: &Dataset) -> Dataset {
    let (side, c) = (data.height, data.channels);
    let n = data.len().min(ROTATION_IMAGES);
    let plane = side * side;
    let mut images = Vec::with_capacity(4 * n * data.image_len());
    let mut labels = Vec::with_capacity(4 * n);
    for i in 0..n {
        let img = data.image(i * data.len() / n.max(1));
        for turn in 0..4u8 {
            for k in 0..c {
                let p = &img[k * plane..(k + 1) * plane];
                images.extend((0..plane).map(|j| {
                    let (y, x) = (j / side, j % side);
                    // The source pixel that lands on (y, x) after `turn` quarter turns.
                    let (sy, sx) = match turn {
                        0 => (y, x),
                        1 => (x, side - 1 - y),
                        2 => (side - 1 - y, side - 1 - x),
                        _ => (side - 1 - x, y),
                    };
                    p[sy * side + sx]
                }));
            }
            labels.push(turn);
        }
    }
    Dataset {
        name: format!("{} (rotations)", data.name),
        height: side,
        width: side,
        channels: c,
        images,
        labels,
        class_names: ROTATIONS.iter().map(|s| s.to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four turns of a picture with one lit corner light each corner once, and four quarter
    /// turns are the identity.
    #[test]
    fn rotations_visit_every_corner() {
        let side = 4;
        let mut images = vec![0u8; side * side];
        images[0] = 255; // top left
        let d = Dataset {
            name: "corner".into(),
            height: side,
            width: side,
            channels: 1,
            images,
            labels: vec![0],
            class_names: vec!["x".into()],
        };
        let r = rotations(&d);
        assert_eq!(r.labels, vec![0, 1, 2, 3]);
        let lit: Vec<usize> = (0..4)
            .map(|i| r.image(i).iter().position(|&p| p == 255).unwrap_or(99))
            .collect();
        let mut sorted = lit.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 3, 12, 15], "{lit:?}");
    }
}

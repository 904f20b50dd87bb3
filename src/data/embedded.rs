//! The default data set compiled into the binary: 5,000 MNIST digits (see assets/mnist5k).

use super::{DataError, Dataset, idx};
use std::path::Path;

const IMAGES: &[u8] = include_bytes!("../../assets/mnist5k/mnist5k-images-idx3-ubyte.gz");
const LABELS: &[u8] = include_bytes!("../../assets/mnist5k/mnist5k-labels-idx1-ubyte.gz");

pub fn load() -> Result<Dataset, DataError> {
    let images_path = Path::new("<embedded>/mnist5k-images-idx3-ubyte.gz");
    let labels_path = Path::new("<embedded>/mnist5k-labels-idx1-ubyte.gz");
    let (n, height, width, images) = idx::parse_idx_images(images_path, IMAGES)?;
    let labels = idx::parse_idx_labels(labels_path, LABELS)?;
    idx::check_counts(images_path, n, labels_path, labels.len())?;
    Ok(Dataset {
        name: "mnist5k".into(),
        height,
        width,
        channels: 1,
        images,
        labels,
        class_names: super::numbered_classes(10),
    })
}

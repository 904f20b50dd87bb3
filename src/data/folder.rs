//! Image folders: one sub-folder per class holding .png/.jpg files, converted to grayscale and
//! resized to the model's square size.

use super::{DataError, Dataset, is_hidden};
use std::path::{Path, PathBuf};

/// Most pixel bytes a folder data set may hold (4 GiB, as for IDX files): a folder of millions
/// of images gives a named error instead of an allocation failure.
const MAX_PIXEL_BYTES: u64 = 1 << 32;
/// Largest side of the square images a folder is resized to.
const MAX_SIZE: usize = 1024;
/// Largest side of an image file accepted for decoding.
const MAX_DECODE_SIDE: u32 = 8192;
/// Most memory one image's decoder may allocate (an 8192x8192 RGBA image).
const MAX_DECODE_BYTES: u64 = 256 << 20;

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

/// The visible entries of `dir`, sorted (hidden and AppleDouble `._name` entries skipped).
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Io {
        path: dir.into(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !is_hidden(p))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Decode one image with limits, so a file whose header claims absurd dimensions is an
/// unreadable image rather than a huge allocation. The format is guessed from the content
/// first (falling back to the extension), so a mislabelled file still decodes.
fn decode(file: &Path) -> Result<image::DynamicImage, DataError> {
    let io = |source| DataError::Io {
        path: file.into(),
        source,
    };
    let mut reader = image::ImageReader::open(file)
        .map_err(io)?
        .with_guessed_format()
        .map_err(io)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_DECODE_SIDE);
    limits.max_image_height = Some(MAX_DECODE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader.decode().map_err(|e| DataError::UnreadableImage {
        path: file.into(),
        detail: e.to_string(),
    })
}

/// One image file as the data loader reads it (grayscale bytes, `[size * size]`), which must
/// already be `size` x `size`: a model's verdict on a resized image would be about a different
/// image.
pub fn load_image(file: &Path, size: usize) -> Result<Vec<u8>, DataError> {
    if !file.exists() {
        return Err(DataError::NotFound { path: file.into() });
    }
    let img = decode(file)?;
    if (img.width() as usize, img.height() as usize) != (size, size) {
        return Err(DataError::ImageSize {
            path: file.into(),
            width: img.width(),
            height: img.height(),
            size,
        });
    }
    Ok(img.into_luma8().into_raw())
}

pub(super) fn load(dir: &Path, size: usize) -> Result<Dataset, DataError> {
    if !(1..=MAX_SIZE).contains(&size) {
        return Err(DataError::BadDimensions {
            path: dir.into(),
            detail: format!("cannot resize images to {size}x{size} (expected 1..={MAX_SIZE})"),
        });
    }
    let image_len = size * size;
    let classes: Vec<PathBuf> = sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    let mut images = Vec::new();
    let mut labels = Vec::new();
    let mut class_names = Vec::new();
    for class_dir in &classes {
        let files: Vec<PathBuf> = sorted_entries(class_dir)?
            .into_iter()
            .filter(|p| p.is_file() && is_image(p))
            .collect();
        if files.is_empty() {
            continue;
        }
        if class_names.len() == 256 {
            return Err(DataError::BadDimensions {
                path: dir.into(),
                detail: "more than 256 class folders".into(),
            });
        }
        let label = class_names.len() as u8;
        class_names.push(
            class_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        for file in files {
            if (images.len() + image_len) as u64 > MAX_PIXEL_BYTES {
                return Err(DataError::BadDimensions {
                    path: dir.into(),
                    detail: format!(
                        "more than {} images of {size}x{size} pixels (limit {MAX_PIXEL_BYTES} bytes)",
                        labels.len()
                    ),
                });
            }
            let gray = decode(&file)?
                .resize_exact(
                    size as u32,
                    size as u32,
                    image::imageops::FilterType::Triangle,
                )
                .into_luma8();
            images.extend_from_slice(gray.as_raw());
            labels.push(label);
        }
    }
    if labels.is_empty() {
        return Err(DataError::EmptyFolder { path: dir.into() });
    }
    Ok(Dataset {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "folder".into()),
        height: size,
        width: size,
        images,
        labels,
        class_names,
    })
}

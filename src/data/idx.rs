//! The IDX format (LeCun's MNIST files), raw or gzip-compressed.

use super::{DataError, Dataset, numbered_classes, read_file};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

const MAGIC_IMAGES: u32 = 0x0000_0803; // u8 data, 3 dimensions
const MAGIC_LABELS: u32 = 0x0000_0801; // u8 data, 1 dimension

/// Decompress when the bytes start with the gzip signature; pass raw IDX through.
fn decompress(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|source| DataError::Gzip {
                path: path.into(),
                source,
            })?;
        Ok(out)
    } else if path.extension().is_some_and(|e| e == "gz") {
        Err(DataError::Gzip {
            path: path.into(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "missing gzip header"),
        })
    } else {
        Ok(bytes.to_vec())
    }
}

fn header(path: &Path, data: &[u8], dims: usize) -> Result<(u32, Vec<usize>), DataError> {
    let need = 4 + 4 * dims;
    if data.len() < need {
        return Err(DataError::Truncated {
            path: path.into(),
            expected: need,
            found: data.len(),
        });
    }
    let word = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    let magic = word(0);
    let sizes = (0..dims).map(|d| word(4 + 4 * d) as usize).collect();
    Ok((magic, sizes))
}

fn check_magic(
    path: &Path,
    found: u32,
    expected: u32,
    what: &'static str,
) -> Result<(), DataError> {
    if found == expected {
        Ok(())
    } else {
        Err(DataError::BadMagic {
            path: path.into(),
            found,
            expected,
            what,
        })
    }
}

fn payload<'a>(
    path: &Path,
    data: &'a [u8],
    offset: usize,
    len: usize,
) -> Result<&'a [u8], DataError> {
    let found = data.len() - offset;
    if found < len {
        return Err(DataError::Truncated {
            path: path.into(),
            expected: len,
            found,
        });
    }
    Ok(&data[offset..offset + len])
}

/// Parse an IDX3 image file: returns (count, height, width, pixels).
pub fn parse_idx_images(
    path: &Path,
    bytes: &[u8],
) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    let data = decompress(path, bytes)?;
    let (magic, dims) = header(path, &data, 3)?;
    check_magic(path, magic, MAGIC_IMAGES, "u8 images [n, rows, cols]")?;
    let (n, h, w) = (dims[0], dims[1], dims[2]);
    if h == 0 || w == 0 || h > 1024 || w > 1024 {
        return Err(DataError::BadDimensions {
            path: path.into(),
            detail: format!("images of {h}x{w} pixels (expected 1..=1024 on each side)"),
        });
    }
    let len = n
        .checked_mul(h * w)
        .ok_or_else(|| DataError::BadDimensions {
            path: path.into(),
            detail: format!("{n} images of {h}x{w} overflow memory"),
        })?;
    let pixels = payload(path, &data, 16, len)?.to_vec();
    Ok((n, h, w, pixels))
}

/// Parse an IDX1 label file.
pub fn parse_idx_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    let data = decompress(path, bytes)?;
    let (magic, dims) = header(path, &data, 1)?;
    check_magic(path, magic, MAGIC_LABELS, "u8 labels [n]")?;
    Ok(payload(path, &data, 8, dims[0])?.to_vec())
}

pub(super) fn check_counts(
    images_path: &Path,
    images: usize,
    labels_path: &Path,
    labels: usize,
) -> Result<(), DataError> {
    if images == labels {
        Ok(())
    } else {
        Err(DataError::CountMismatch {
            images_path: images_path.into(),
            images,
            labels_path: labels_path.into(),
            labels,
        })
    }
}

fn list(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Io {
        path: dir.into(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

fn is_images(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("images-idx3-ubyte") || n.contains("images.idx3-ubyte"))
}

pub(super) fn dir_has_idx(dir: &Path) -> Result<bool, DataError> {
    Ok(list(dir)?.iter().any(|p| is_images(p)))
}

/// Load the training split of an IDX directory (`train-*` preferred), with its labels when a
/// matching `*-labels-idx1-ubyte[.gz]` file sits beside it.
pub(super) fn load_dir(dir: &Path) -> Result<Dataset, DataError> {
    let files = list(dir)?;
    let candidates: Vec<&PathBuf> = files.iter().filter(|p| is_images(p)).collect();
    let images_path = candidates
        .iter()
        .find(|p| p.to_string_lossy().contains("train"))
        .or(candidates.first())
        .ok_or_else(|| DataError::NoIdxFiles { path: dir.into() })?;
    let (n, height, width, images) = parse_idx_images(images_path, &read_file(images_path)?)?;
    let name = images_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let labels_name = name.replace("images", "labels").replace("idx3", "idx1");
    let labels_path = dir.join(labels_name);
    let labels = if labels_path.is_file() {
        let labels = parse_idx_labels(&labels_path, &read_file(&labels_path)?)?;
        check_counts(images_path, n, &labels_path, labels.len())?;
        labels
    } else {
        vec![0; n]
    };
    let classes = labels.iter().copied().max().map_or(1, |m| m as usize + 1);
    Ok(Dataset {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "idx".into()),
        height,
        width,
        images,
        labels,
        class_names: numbered_classes(classes),
    })
}

//! Image folders: one sub-folder per class holding .png/.jpg files, converted to grayscale and
//! resized to the model's square size.

use super::{DataError, Dataset};
use std::path::{Path, PathBuf};

fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Io {
        path: dir.into(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    Ok(paths)
}

pub(super) fn load(dir: &Path, size: usize) -> Result<Dataset, DataError> {
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
            let img = image::open(&file).map_err(|e| DataError::UnreadableImage {
                path: file.clone(),
                detail: e.to_string(),
            })?;
            let gray = img
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

//! Decoded image folders, cached by the folder's content and the size they were decoded at, so
//! the second start on the same folder skips decoding. One file per (folder content, size) in
//! `folders/` of latentlab's cache directory (`~/.cache/latentlab/folders` on Linux, or
//! `$XDG_CACHE_HOME/latentlab/folders`). Deleting that folder is always safe: it is rebuilt
//! on the next load.
//!
//! The key hashes every picture's path relative to the folder, byte length, modification
//! and change times and inode, the class names, the size and how pictures are prepared:
//! adding, removing, renaming or editing a picture makes a new key. Old entries are not
//! removed by latentlab; delete the folder to reclaim the space. A cache file that does not read back whole (truncated, another version) is
//! ignored and the folder decoded again.

use super::folder::Skipped;
use super::{DataError, Dataset};
use crate::types::hash::{FNV_OFFSET, fnv1a as fnv};
use std::path::{Path, PathBuf};

/// The first bytes of a cache file; bumped with the layout.
const MAGIC: &[u8; 8] = b"LLFOLD02";
/// Bumped whenever a picture is prepared differently (crop, filter, background, minimum
/// size), so no cache from an older way of decoding is served; the crate version too.
const PIPELINE: &str = concat!("crop-lanczos3-black-min8-rgb ", env!("CARGO_PKG_VERSION"));

/// The cache file of the folder `dir` whose pictures are `files` (label, path), decoded at
/// `size`, inside `root`.
pub(super) fn path_for(
    root: &Path,
    dir: &Path,
    files: &[(u8, PathBuf)],
    class_names: &[String],
    size: usize,
) -> PathBuf {
    let mut h = fnv(FNV_OFFSET, MAGIC);
    h = fnv(h, PIPELINE.as_bytes());
    h = fnv(h, &(size as u64).to_le_bytes());
    for name in class_names {
        h = fnv(h, name.as_bytes());
        h = fnv(h, &[0]);
    }
    for (label, file) in files {
        let rel = file.strip_prefix(dir).unwrap_or(file);
        h = fnv(h, rel.to_string_lossy().as_bytes());
        h = fnv(h, &[0, *label]);
        if let Ok(m) = std::fs::metadata(file) {
            h = fnv(h, &m.len().to_le_bytes());
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .unwrap_or_default();
            h = fnv(h, &t.as_nanos().to_le_bytes());
            // A file replaced or rewritten with its old length and date (`cp -p`) still
            // gets a new inode or change time.
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                h = fnv(h, &m.ino().to_le_bytes());
                h = fnv(h, &m.ctime().to_le_bytes());
                h = fnv(h, &m.ctime_nsec().to_le_bytes());
            }
        }
    }
    root.join(format!("{h:016x}-{size}px.bin"))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    name: String,
    size: usize,
    channels: usize,
    count: usize,
    class_names: Vec<String>,
    skipped_count: usize,
    skipped_first: Vec<(PathBuf, String)>,
}

/// The data set and report cached at `path`, if it reads back whole.
pub(super) fn read(path: &Path) -> Option<(Dataset, Skipped)> {
    let mut bytes = std::fs::read(path).ok()?;
    let rest = bytes.strip_prefix(MAGIC)?;
    let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let header: Header = serde_json::from_slice(rest.get(4..4 + len)?).ok()?;
    let body_at = MAGIC.len() + 4 + len;
    let image_len = header
        .size
        .checked_mul(header.size)?
        .checked_mul(header.channels)?;
    let pixels = header.count.checked_mul(image_len)?;
    if bytes.len().checked_sub(body_at)? != header.count.checked_add(pixels)? {
        return None;
    }
    let labels = bytes[body_at..body_at + header.count].to_vec();
    if labels
        .iter()
        .any(|&l| usize::from(l) >= header.class_names.len())
    {
        return None;
    }
    // The pixels stay in the buffer they were read into: a large set is not held twice.
    bytes.drain(..body_at + header.count);
    let data = Dataset {
        name: header.name,
        height: header.size,
        width: header.size,
        channels: header.channels,
        images: bytes,
        labels,
        class_names: header.class_names,
    };
    let skipped = Skipped {
        count: header.skipped_count,
        first: header.skipped_first,
    };
    Some((data, skipped))
}

/// Write `data` and its report to `path` (crash-safely). A failure only costs the next load
/// its speed, so the caller may ignore it.
pub(super) fn write(path: &Path, data: &Dataset, skipped: &Skipped) -> Result<(), DataError> {
    let header = Header {
        name: data.name.clone(),
        size: data.height,
        channels: data.channels,
        count: data.len(),
        class_names: data.class_names.clone(),
        skipped_count: skipped.count,
        skipped_first: skipped.first.clone(),
    };
    let json = serde_json::to_vec(&header).map_err(|e| DataError::Io {
        path: path.into(),
        source: std::io::Error::other(e),
    })?;
    let mut bytes = Vec::with_capacity(16 + json.len() + data.labels.len() + data.images.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(json.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&json);
    bytes.extend_from_slice(&data.labels);
    bytes.extend_from_slice(&data.images);
    let io = |source| DataError::Io {
        path: path.into(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    // A temporary sibling, then a rename: a reader never sees half a file.
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
}

/// Where folder caches go: `folders/` in latentlab's cache directory.
pub fn default_root() -> Option<PathBuf> {
    crate::dirs::cache_dir().map(|d| d.join("folders"))
}

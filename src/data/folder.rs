//! Image folders: one sub-folder per class holding PNG, JPEG, WebP, BMP or GIF (first frame)
//! pictures, decoded on all cores, centre-cropped and resized without aliasing to the model's
//! square size, in colour (a folder of grey pictures loads grey). Unreadable, tiny or absurd files are skipped and reported
//! ([`Skipped`]), or refused with `--strict`.

use super::{DataError, Dataset, is_hidden};
use std::path::{Path, PathBuf};

/// Most pixel bytes a folder data set may hold (4 GiB, as for IDX files): a folder of millions
/// of images gives a named error instead of an allocation failure.
const MAX_PIXEL_BYTES: u64 = 1 << 32;
/// The side folder pictures are resized to unless the user names one (`--size`).
pub const DEFAULT_SIDE: usize = 64;
/// Largest side of the square images a folder is resized to.
const MAX_SIZE: usize = 1024;
/// Largest side of an image file accepted for decoding.
const MAX_DECODE_SIDE: u32 = 8192;
/// Most memory one image's decoder may allocate (an 8192x8192 RGBA image).
const MAX_DECODE_BYTES: u64 = 256 << 20;

fn is_image(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "png" | "jpg" | "jpeg" | "webp" | "bmp" | "gif"
        )
    })
}

/// The folder's own name (`folder` when it has none, as `/` has not).
fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "folder".into())
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

/// One image file as a model of `channels` reads it (planes `[channels, size, size]`: grey is
/// the luma, colour RGB on black), which must already be `size` x `size`: a model's verdict on
/// a resized image would be about a different image.
pub fn load_image(file: &Path, size: usize, channels: usize) -> Result<Vec<u8>, DataError> {
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
    Ok(planes(img, channels))
}

/// One picture of any shape with each side from `min` to `max` pixels, as [`load_image`]
/// reads it: planes `[channels, height, width]`, with its width and height.
pub fn load_picture(
    file: &Path,
    channels: usize,
    (min, max): (u32, u32),
) -> Result<(Vec<u8>, usize, usize), DataError> {
    if !file.exists() {
        return Err(DataError::NotFound { path: file.into() });
    }
    let img = decode(file)?;
    let (width, height) = (img.width(), img.height());
    if ![width, height].iter().all(|s| (min..=max).contains(s)) {
        return Err(DataError::PictureSize {
            path: file.into(),
            width,
            height,
            min,
            max,
        });
    }
    Ok((planes(img, channels), width as usize, height as usize))
}

/// `img` as `channels` planes: grey is the luma, colour RGB, both on black.
fn planes(img: image::DynamicImage, channels: usize) -> Vec<u8> {
    let opaque = image::DynamicImage::ImageRgba8(on_black(img));
    if channels == 3 {
        super::planar_from_interleaved(&opaque.into_rgb8().into_raw(), 3)
    } else {
        opaque.into_luma8().into_raw()
    }
}

/// `img` with its transparency composited on black (the background of the built-in digit
/// sets), as every picture the models read is.
fn on_black(img: image::DynamicImage) -> image::RgbaImage {
    let mut rgba = img.into_rgba8();
    for p in rgba.pixels_mut() {
        let a = u16::from(p[3]);
        for c in 0..3 {
            p[c] = ((u16::from(p[c]) * a + 127) / 255) as u8;
        }
        p[3] = 255;
    }
    rgba
}

/// Files a folder load skipped (unreadable, too small, absurd headers), for the user's report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Skipped {
    /// How many files were skipped.
    pub count: usize,
    /// The first few, with the reason each was skipped.
    pub first: Vec<(PathBuf, String)>,
}

/// How many skipped files a report names.
const NAMED_SKIPS: usize = 5;
/// The smallest side of a picture worth training on; smaller files are skipped.
const MIN_SIDE: u32 = 8;

impl Skipped {
    /// One line for a user: how many, and the first few by name with the reason.
    pub fn describe(&self) -> String {
        let named: Vec<String> = self
            .first
            .iter()
            .map(|(p, why)| format!("{} ({why})", p.display()))
            .collect();
        let more = self.count.saturating_sub(self.first.len());
        format!(
            "skipped {} unreadable image file{}: {}{}",
            self.count,
            if self.count == 1 { "" } else { "s" },
            named.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        )
    }
}

/// One picture as training data: alpha composited on black (the background of the
/// built-in digit sets), centre-cropped to a square, resized to `size` with a filter that
/// does not alias (Lanczos, widened when shrinking): RGB planes `[3, size, size]`.
fn prepare(file: &Path, size: usize) -> Result<Vec<u8>, String> {
    let img = decode(file).map_err(|e| match e {
        DataError::UnreadableImage { detail, .. } => detail,
        other => other.to_string(),
    })?;
    let (w, h) = (img.width(), img.height());
    if w < MIN_SIDE || h < MIN_SIDE {
        return Err(format!(
            "{w}x{h} pixels, smaller than {MIN_SIDE}x{MIN_SIDE}"
        ));
    }
    let rgba = on_black(img);
    let side = w.min(h);
    let cropped =
        image::imageops::crop_imm(&rgba, (w - side) / 2, (h - side) / 2, side, side).to_image();
    let resized = image::imageops::resize(
        &cropped,
        size as u32,
        size as u32,
        image::imageops::FilterType::Lanczos3,
    );
    let rgb = image::DynamicImage::ImageRgba8(resized)
        .into_rgb8()
        .into_raw();
    Ok(super::planar_from_interleaved(&rgb, 3))
}

/// Whether every picture's three planes are equal (a folder of grey pictures).
fn all_grey(images: &[u8], plane: usize) -> bool {
    images.chunks_exact(3 * plane.max(1)).all(|img| {
        let (r, rest) = img.split_at(plane);
        let (g, b) = rest.split_at(plane);
        r == g && g == b
    })
}

/// How a folder is loaded: strictness, the cache, and a progress report.
#[derive(Default)]
pub struct LoadOptions<'a> {
    /// Any unusable picture is an error instead of being skipped.
    pub strict: bool,
    /// Where decoded folders are cached (see [`super::cache`]); `None`: no cache.
    pub cache: Option<PathBuf>,
    /// Called with (pictures decoded, pictures in all) as decoding goes, from any thread.
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
}

pub(super) fn load(
    dir: &Path,
    size: usize,
    opts: &LoadOptions<'_>,
) -> Result<(Dataset, Skipped), DataError> {
    use rayon::prelude::*;
    let strict = opts.strict;
    if !(1..=MAX_SIZE).contains(&size) {
        return Err(DataError::BadDimensions {
            path: dir.into(),
            detail: format!("cannot resize images to {size}x{size} (expected 1..={MAX_SIZE})"),
        });
    }
    // Decoded as colour; a folder of grey pictures is made grey again at the end.
    let image_len = 3 * size * size;
    let entries = sorted_entries(dir)?;
    let classes: Vec<&PathBuf> = entries.iter().filter(|p| p.is_dir()).collect();
    // (label, file) for every picture, in class then name order.
    let mut files: Vec<(u8, PathBuf)> = Vec::new();
    let mut class_names = Vec::new();
    for class_dir in &classes {
        let found: Vec<PathBuf> = sorted_entries(class_dir)?
            .into_iter()
            .filter(|p| p.is_file() && is_image(p))
            .collect();
        if found.is_empty() {
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
        files.extend(found.into_iter().map(|f| (label, f)));
    }
    if files.is_empty() {
        // No class folders: the pictures in the folder itself, as one unlabelled class.
        files = entries
            .iter()
            .filter(|p| p.is_file() && is_image(p))
            .map(|f| (0, f.clone()))
            .collect();
        if !files.is_empty() {
            class_names.push(folder_name(dir));
        }
    }
    // The memory bound is checked before any decoding.
    if (files.len() as u64).saturating_mul(image_len as u64) > MAX_PIXEL_BYTES {
        return Err(DataError::BadDimensions {
            path: dir.into(),
            detail: format!(
                "{} colour images of {size}x{size} pixels need more than the {MAX_PIXEL_BYTES} bytes \
                 latentlab holds in memory; use a smaller size or fewer images",
                files.len()
            ),
        });
    }
    let cached = opts
        .cache
        .as_ref()
        .map(|root| super::cache::path_for(root, dir, &files, &class_names, size));
    if let Some((data, skipped)) = cached.as_deref().and_then(super::cache::read) {
        return match skipped.first.first() {
            Some((path, why)) if strict => Err(DataError::UnreadableImage {
                path: path.clone(),
                detail: why.clone(),
            }),
            _ => Ok((data, skipped)),
        };
    }
    // Decoding is most of the time: all cores, order kept.
    let done = std::sync::atomic::AtomicUsize::new(0);
    let decoded: Vec<Result<Vec<u8>, String>> = files
        .par_iter()
        .map(|(_, f)| {
            let px = prepare(f, size);
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if let Some(report) = opts.progress {
                report(n, files.len());
            }
            px
        })
        .collect();
    let mut images = Vec::with_capacity(files.len() * image_len);
    let mut labels = Vec::with_capacity(files.len());
    let mut skipped = Skipped::default();
    for ((label, file), result) in files.iter().zip(decoded) {
        match result {
            Ok(px) => {
                images.extend_from_slice(&px);
                labels.push(*label);
            }
            Err(why) => {
                if strict {
                    return Err(DataError::UnreadableImage {
                        path: file.clone(),
                        detail: why,
                    });
                }
                skipped.count += 1;
                if skipped.first.len() < NAMED_SKIPS {
                    skipped.first.push((file.clone(), why));
                }
            }
        }
    }
    if labels.is_empty() {
        // Nothing to train on: the first unreadable file says why.
        return Err(match skipped.first.into_iter().next() {
            Some((path, detail)) => DataError::UnreadableImage { path, detail },
            None => DataError::EmptyFolder { path: dir.into() },
        });
    }
    let data = Dataset {
        name: folder_name(dir),
        height: size,
        width: size,
        channels: 3,
        images,
        labels,
        class_names,
    };
    let data = if all_grey(&data.images, size * size) {
        data.to_channels(1)
    } else {
        data
    };
    if let Some(path) = cached {
        // Best effort: without the cache the next load decodes again, losing nothing.
        let _ = super::cache::write(&path, &data, &skipped);
    }
    Ok((data, skipped))
}

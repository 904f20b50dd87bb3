//! Writing images: grayscale PNGs with latentlab's metadata in tEXt chunks.

use crate::types::grid::GrayImage;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: PNG encoding failed: {detail}")]
    Encode { path: PathBuf, detail: String },
}

/// Encode `img` as an 8-bit grayscale PNG with `metadata` as tEXt key/value pairs. The output
/// depends only on the inputs, so the same image and metadata give identical bytes.
pub fn png_bytes(
    img: &GrayImage,
    metadata: &[(&str, String)],
) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width as u32, img.height as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        for (k, v) in metadata {
            enc.add_text_chunk(format!("latentlab:{k}"), v.clone())?;
        }
        let mut w = enc.write_header()?;
        w.write_image_data(&img.pixels)?;
        w.finish()?;
    }
    Ok(out)
}

/// Write a PNG file (to a temporary name first, then renamed into place).
pub fn write_png(
    path: &Path,
    img: &GrayImage,
    metadata: &[(&str, String)],
) -> Result<(), ExportError> {
    let bytes = png_bytes(img, metadata).map_err(|e| ExportError::Encode {
        path: path.into(),
        detail: e.to_string(),
    })?;
    write_atomic(path, &bytes)
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a PNG file: {detail}")]
    NotPng { path: PathBuf, detail: String },
    #[error("{path}: this PNG carries no latent vector (only images exported by latentlab do)")]
    NoLatent { path: PathBuf },
    #[error("{path}: malformed latentlab:{key} metadata: {detail}")]
    Malformed {
        path: PathBuf,
        key: &'static str,
        detail: String,
    },
}

/// Most bytes the PNG decoder may allocate while reading metadata (text chunks included).
const PNG_DECODE_LIMIT: usize = 64 << 20;
/// Largest PNG file `read_latent` reads; exported images are a few kilobytes.
const MAX_PNG_FILE_BYTES: u64 = 256 << 20;
/// Most numbers a `latentlab:z` vector may hold.
pub const MAX_LATENT_LEN: usize = 65_536;
/// Most numbers a `latentlab:label_mix` vector may hold (one per class, at most 256 classes).
pub const MAX_LABEL_MIX_LEN: usize = 256;

/// The `latentlab:*` tEXt pairs of a PNG (prefix removed), in file order. Only the chunks
/// before the image data are read, within a fixed allocation limit.
pub fn png_metadata(bytes: &[u8], path: &Path) -> Result<Vec<(String, String)>, ImportError> {
    let not_png = |e: png::DecodingError| ImportError::NotPng {
        path: path.into(),
        detail: e.to_string(),
    };
    let limits = png::Limits {
        bytes: PNG_DECODE_LIMIT,
    };
    let reader = png::Decoder::new_with_limits(std::io::Cursor::new(bytes), limits)
        .read_info()
        .map_err(not_png)?;
    Ok(reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .filter_map(|t| {
            t.keyword
                .strip_prefix("latentlab:")
                .map(|k| (k.to_string(), t.text.clone()))
        })
        .collect())
}

/// A latent vector and soft label read back from an exported PNG.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentRecord {
    pub z: Vec<f32>,
    pub label: Option<Vec<f32>>,
    pub model: Option<String>,
    pub checkpoint: Option<String>,
    pub seed: Option<u64>,
}

/// Numbers as written in metadata: comma-separated.
pub fn format_floats(v: &[f32]) -> String {
    v.iter()
        .map(|x| format!("{x}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parse comma-separated finite numbers, at most `max` of them (counted before allocating).
fn parse_floats(s: &str, max: usize) -> Result<Vec<f32>, String> {
    let count = s.split(',').count();
    if count > max {
        return Err(format!("{count} numbers (at most {max} allowed)"));
    }
    s.split(',')
        .map(|p| {
            // Quote at most a few characters of a bad entry: it may be megabytes long.
            let shown = || p.chars().take(32).collect::<String>();
            let v: f32 = p
                .trim()
                .parse()
                .map_err(|_| format!("`{}` is not a number", shown()))?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(format!("`{}` is not finite", shown()))
            }
        })
        .collect()
}

/// Read the latent vector (`latentlab:z`) and friends from PNG bytes; `path` names them in
/// errors. Pure (no file access), so hostile input can be tested directly.
pub fn parse_latent(bytes: &[u8], path: &Path) -> Result<LatentRecord, ImportError> {
    let meta = png_metadata(bytes, path)?;
    let get = |k: &str| {
        meta.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let z = get("z").ok_or_else(|| ImportError::NoLatent { path: path.into() })?;
    let malformed = |key: &'static str| {
        move |detail: String| ImportError::Malformed {
            path: path.into(),
            key,
            detail,
        }
    };
    let z = parse_floats(&z, MAX_LATENT_LEN).map_err(malformed("z"))?;
    let label = get("label_mix")
        .map(|s| parse_floats(&s, MAX_LABEL_MIX_LEN))
        .transpose()
        .map_err(malformed("label_mix"))?;
    let seed = get("seed")
        .map(|s| s.trim().parse::<u64>().map_err(|e| e.to_string()))
        .transpose()
        .map_err(malformed("seed"))?;
    Ok(LatentRecord {
        z,
        label,
        model: get("model"),
        checkpoint: get("checkpoint"),
        seed,
    })
}

/// Read the latent vector (`latentlab:z`) and friends from an exported PNG file.
pub fn read_latent(path: &Path) -> Result<LatentRecord, ImportError> {
    use std::io::Read;
    let io = |source| ImportError::Io {
        path: path.into(),
        source,
    };
    // Bounded read: a huge file given by mistake is refused, not loaded whole.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_PNG_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_PNG_FILE_BYTES {
        return Err(ImportError::NotPng {
            path: path.into(),
            detail: format!("larger than {MAX_PNG_FILE_BYTES} bytes"),
        });
    }
    parse_latent(&bytes, path)
}

/// Encode grayscale frames (all the same size) as an endlessly looping animated GIF.
pub fn gif_bytes(frames: &[GrayImage], delay_ms: u32) -> Result<Vec<u8>, image::ImageError> {
    use image::codecs::gif::{GifEncoder, Repeat};
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut out, 10);
        enc.set_repeat(Repeat::Infinite)?;
        for f in frames {
            let rgba: Vec<u8> = f.pixels.iter().flat_map(|&p| [p, p, p, 255]).collect();
            let buf = image::RgbaImage::from_raw(f.width as u32, f.height as u32, rgba)
                .ok_or_else(|| {
                    image::ImageError::Parameter(image::error::ParameterError::from_kind(
                        image::error::ParameterErrorKind::DimensionMismatch,
                    ))
                })?;
            let delay = image::Delay::from_numer_denom_ms(delay_ms, 1);
            enc.encode_frame(image::Frame::from_parts(buf, 0, 0, delay))?;
        }
    }
    Ok(out)
}

/// Write `bytes` to `path` through a temporary sibling (fsynced, then renamed), so a failed
/// or interrupted write leaves no half file and never a truncated old one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let io = |source| ExportError::Io {
        path: path.into(),
        source,
    };
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    std::fs::rename(&tmp, path).map_err(io)
}

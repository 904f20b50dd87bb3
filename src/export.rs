//! Writing images: grayscale PNGs with latentlab's metadata in tEXt chunks.

use crate::types::grid::Picture;
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
    #[error(transparent)]
    Out(#[from] OutError),
}

/// Encode `img` as an 8-bit grey or RGB PNG with `metadata` as tEXt key/value pairs. The output
/// depends only on the inputs, so the same image and metadata give identical bytes.
pub fn png_bytes(
    img: &Picture,
    metadata: &[(&str, String)],
) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width as u32, img.height as u32);
        enc.set_color(if img.is_colour() {
            png::ColorType::Rgb
        } else {
            png::ColorType::Grayscale
        });
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

/// Write a PNG file (to a temporary name first, then renamed into place); an existing file
/// is replaced only with `force` (see [`write_out`]).
pub fn write_png(
    path: &Path,
    img: &Picture,
    metadata: &[(&str, String)],
    force: bool,
) -> Result<(), ExportError> {
    let bytes = png_bytes(img, metadata).map_err(|e| ExportError::Encode {
        path: path.into(),
        detail: e.to_string(),
    })?;
    Ok(write_out(path, &bytes, force)?)
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
    /// A style generator's controls (present when the export has `w_plus`).
    pub style: Option<Box<StyleRecord>>,
}

/// What an export of a style generator's image records beside z.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StyleRecord {
    /// Source A's w per level, `[levels * w_dim]`.
    pub w_plus: Vec<f32>,
    /// Set when A was a projected picture (or had W edits): `w_plus` stands for A, not z.
    pub a_from: Option<String>,
    pub truncation: f32,
    pub cutoff: Option<usize>,
    /// The levels whose style came from B.
    pub mix_layers: Vec<usize>,
    /// "seed N", or a picture's name (then `mix_w_plus` holds its w per level).
    pub mix_from: Option<String>,
    pub mix_w_plus: Option<Vec<f32>>,
    pub noise_seeds: Vec<u64>,
    pub noise_scales: Vec<f32>,
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
    let style = get("w_plus")
        .map(|w| -> Result<Box<StyleRecord>, ImportError> {
            let list = |key: &'static str| -> Result<Vec<usize>, ImportError> {
                let text = get(key).unwrap_or_default();
                text.split(',')
                    .filter(|p| !p.trim().is_empty())
                    .take(MAX_LABEL_MIX_LEN + 1)
                    .map(|p| {
                        p.trim()
                            .parse::<usize>()
                            .map_err(|e| malformed(key)(e.to_string()))
                    })
                    .collect()
            };
            Ok(Box::new(StyleRecord {
                w_plus: parse_floats(&w, MAX_LATENT_LEN).map_err(malformed("w_plus"))?,
                a_from: get("a_from"),
                truncation: get("truncation")
                    .map(|t| t.trim().parse::<f32>().map_err(|e| e.to_string()))
                    .transpose()
                    .map_err(malformed("truncation"))?
                    .unwrap_or(1.0),
                cutoff: get("cutoff")
                    .map(|t| t.trim().parse::<usize>().map_err(|e| e.to_string()))
                    .transpose()
                    .map_err(malformed("cutoff"))?,
                mix_layers: list("mix_layers")?,
                mix_from: get("mix_from"),
                mix_w_plus: get("mix_w_plus")
                    .map(|s| parse_floats(&s, MAX_LATENT_LEN))
                    .transpose()
                    .map_err(malformed("mix_w_plus"))?,
                noise_seeds: get("noise_seeds")
                    .unwrap_or_default()
                    .split(',')
                    .filter(|p| !p.trim().is_empty())
                    .take(MAX_LABEL_MIX_LEN + 1)
                    .map(|p| p.trim().parse::<u64>().map_err(|e| e.to_string()))
                    .collect::<Result<_, _>>()
                    .map_err(malformed("noise_seeds"))?,
                noise_scales: get("noise_scales")
                    .map(|s| parse_floats(&s, MAX_LABEL_MIX_LEN))
                    .transpose()
                    .map_err(malformed("noise_scales"))?
                    .unwrap_or_default(),
            }))
        })
        .transpose()?;
    Ok(LatentRecord {
        z,
        label,
        model: get("model"),
        checkpoint: get("checkpoint"),
        seed,
        style,
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

/// Encode grey or colour frames (all the same size) as an endlessly looping animated GIF.
pub fn gif_bytes(frames: &[Picture], delay_ms: u32) -> Result<Vec<u8>, image::ImageError> {
    use image::codecs::gif::{GifEncoder, Repeat};
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut out, 10);
        enc.set_repeat(Repeat::Infinite)?;
        for f in frames {
            let rgba = f.to_rgba();
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

/// Longest file name most file systems take (NAME_MAX on Linux, macOS and Windows).
pub const NAME_MAX: usize = 255;
/// Names longer than this get a shortened stem in their temporary siblings' names, which add
/// a dot, a tag such as `.tmp-`, a process id and a counter (at most 40 bytes).
const STEM_MAX: usize = NAME_MAX - 40;

/// The stem of `name` in the names of its temporary siblings and lock file: `name` itself, or
/// for a name too long to take a suffix, its first bytes and a hash of the whole, so a legal
/// long name still gets legal temporary names and two long names never share them.
pub fn sibling_stem(name: &str) -> std::borrow::Cow<'_, str> {
    if name.len() <= STEM_MAX {
        return name.into();
    }
    let mut cut = STEM_MAX - 17;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    // Stable across processes and versions, which recovery relies on.
    let hash = crate::types::hash::fnv1a(crate::types::hash::FNV_OFFSET, name.as_bytes());
    format!("{}~{hash:016x}", &name[..cut]).into()
}

/// Why an output file cannot be written where the user asked.
#[derive(Debug, thiserror::Error)]
pub enum OutError {
    #[error("{0} already exists; pass --force to overwrite it (nothing was changed)")]
    Exists(PathBuf),
    #[error("{0} is a directory; give a file name to write (nothing was changed)")]
    Directory(PathBuf),
    #[error(
        "{path} is {what}, not a regular file; latentlab replaces only regular files, even with \
         --force (nothing was changed)"
    )]
    NotRegular { path: PathBuf, what: &'static str },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_fifo() {
            return "a named pipe";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Check, before any work, that `path` may be written: nothing is there (not even a dangling
/// symbolic link), or a regular file is and `force` allows replacing it. A directory, a
/// device, a pipe or a link is never replaced.
pub fn check_out_file(path: &Path, force: bool) -> Result<(), OutError> {
    if path.file_name().is_none() {
        // `.`, `..` and `/`: directories, whatever they hold.
        return Err(OutError::Directory(path.into()));
    }
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(OutError::Io {
                path: path.into(),
                source,
            });
        }
    };
    if meta.is_dir() {
        return Err(OutError::Directory(path.into()));
    }
    if !meta.file_type().is_file() {
        return Err(OutError::NotRegular {
            path: path.into(),
            what: file_kind(&meta),
        });
    }
    if !force {
        return Err(OutError::Exists(path.into()));
    }
    Ok(())
}

/// Write `bytes` to `path` through a temporary sibling (fsynced, then renamed), so a failed
/// or interrupted write leaves no half file and never a truncated old one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    Ok(write_out(path, bytes, true)?)
}

/// [`write_atomic`] for a command's `--out`: what [`check_out_file`] refuses is refused again
/// here, where it counts; without `force` the file is linked into place, which fails rather
/// than replace anything that appeared meanwhile. The temporary sibling never outlives a
/// failure.
pub fn write_out(path: &Path, bytes: &[u8], force: bool) -> Result<(), OutError> {
    use std::io::Write;
    check_out_file(path, force)?;
    let io = |source| OutError::Io {
        path: path.into(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}-{n}",
        sibling_stem(&name),
        std::process::id()
    ));
    // create_new: never through a link or over a file someone placed at the temporary name.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()));
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            let _ = std::fs::remove_file(&tmp);
        }
        return Err(io(e));
    }
    let placed = if force {
        // check_out_file saw a regular file or nothing; rename never replaces a directory.
        std::fs::rename(&tmp, path)
    } else {
        std::fs::hard_link(&tmp, path).or_else(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Err(e),
            // A file system without hard links: the check above is all there is.
            _ if std::fs::symlink_metadata(path).is_err() => std::fs::rename(&tmp, path),
            _ => Err(e),
        })
    };
    let _ = std::fs::remove_file(&tmp);
    match placed {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(OutError::Exists(path.into()))
        }
        Err(e) => Err(io(e)),
    }
}

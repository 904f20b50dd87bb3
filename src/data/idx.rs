//! The IDX format (LeCun's MNIST files), raw or gzip-compressed.
//!
//! Headers are read and checked before any payload: a header's sizes decide how much is read,
//! so they are validated against hard limits and, for raw files, against the file's length
//! before anything is allocated. Gzip payloads are read through `take`, so a stream that
//! inflates past its header's promise stops one byte over instead of filling memory.

use super::{DataError, Dataset, numbered_classes};
use flate2::read::GzDecoder;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

const MAGIC_IMAGES: u32 = 0x0000_0803; // u8 data, 3 dimensions
const MAGIC_LABELS: u32 = 0x0000_0801; // u8 data, 1 dimension
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Largest side of an IDX image.
const MAX_SIDE: u64 = 1024;
/// Most pixel bytes one image file may hold (4 GiB): far above any real set (EMNIST is about
/// 0.5 GiB), low enough that a hostile header cannot request an absurd allocation.
const MAX_IMAGE_BYTES: u64 = 1 << 32;
/// Most labels one label file may hold.
const MAX_LABELS: u64 = 1 << 31;

/// An IDX stream after its first bytes were sniffed.
enum Stream<R: Read> {
    /// Uncompressed bytes; `len` is the whole input's length (file size or slice length).
    Raw { reader: R, len: u64 },
    /// A gzip stream: its inflated length is only known by reading it.
    /// Boxed: the decoder's state is large beside a plain reader.
    Gzip(Box<GzDecoder<R>>),
}

impl<R: Read> Stream<R> {
    fn error(&self, path: &Path, source: std::io::Error) -> DataError {
        match self {
            Stream::Raw { .. } => DataError::Io {
                path: path.into(),
                source,
            },
            Stream::Gzip(_) => DataError::Gzip {
                path: path.into(),
                source,
            },
        }
    }

    fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Raw { reader, .. } => reader.read(buf),
            Stream::Gzip(gz) => gz.read(buf),
        }
    }

    /// Fill `buf` as far as the stream allows; returns how many bytes were read.
    fn fill(&mut self, path: &Path, buf: &mut [u8]) -> Result<usize, DataError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.read_some(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.error(path, e)),
            }
        }
        Ok(filled)
    }

    /// The magic number and `dims` sizes of the header.
    fn header<const DIMS: usize>(&mut self, path: &Path) -> Result<(u32, [u32; DIMS]), DataError> {
        let need = 4 + 4 * DIMS;
        let mut buf = [0u8; 16];
        let buf = &mut buf[..need.min(16)];
        let found = self.fill(path, buf)?;
        if found < need {
            return Err(DataError::Truncated {
                path: path.into(),
                expected: need,
                found,
            });
        }
        let word = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let mut sizes = [0u32; DIMS];
        for (d, size) in sizes.iter_mut().enumerate() {
            *size = word(4 + 4 * d);
        }
        Ok((word(0), sizes))
    }

    /// Read exactly `len` payload bytes following a `header_len`-byte header.
    fn payload(self, path: &Path, header_len: u64, len: u64) -> Result<Vec<u8>, DataError> {
        let too_big = || DataError::BadDimensions {
            path: path.into(),
            detail: format!("{len} bytes of data do not fit in memory on this machine"),
        };
        let expected = usize::try_from(len).map_err(|_| too_big())?;
        match self {
            Stream::Raw { reader, len: total } => {
                // The input's length is known: compare before allocating.
                let available = total.saturating_sub(header_len);
                if available < len {
                    return Err(DataError::Truncated {
                        path: path.into(),
                        expected,
                        found: usize::try_from(available).unwrap_or(usize::MAX),
                    });
                }
                let mut out = Vec::new();
                out.try_reserve_exact(expected).map_err(|_| too_big())?;
                reader
                    .take(len)
                    .read_to_end(&mut out)
                    .map_err(|source| DataError::Io {
                        path: path.into(),
                        source,
                    })?;
                // A file that shrank while being read comes out short.
                exactly(path, out, expected)
            }
            Stream::Gzip(gz) => {
                // No capacity from the header: the vector grows only as real bytes inflate,
                // and one byte past the promise is enough to tell a bomb from a match.
                let mut out = Vec::new();
                gz.take(len.saturating_add(1))
                    .read_to_end(&mut out)
                    .map_err(|source| DataError::Gzip {
                        path: path.into(),
                        source,
                    })?;
                exactly(path, out, expected)
            }
        }
    }
}

/// `out` when it holds exactly the `expected` bytes a header promised.
fn exactly(path: &Path, out: Vec<u8>, expected: usize) -> Result<Vec<u8>, DataError> {
    match out.len().cmp(&expected) {
        std::cmp::Ordering::Equal => Ok(out),
        std::cmp::Ordering::Greater => Err(DataError::TooLarge {
            path: path.into(),
            expected,
            detail: "reading stopped one byte past it".into(),
        }),
        std::cmp::Ordering::Less => Err(DataError::Truncated {
            path: path.into(),
            expected,
            found: out.len(),
        }),
    }
}

/// Sniff the gzip signature and hand the whole input (sniffed bytes included) to `f`.
/// `len` is the input's total length, used to check raw payloads before allocating.
fn with_stream<R: Read, T>(
    path: &Path,
    mut reader: R,
    len: u64,
    f: impl FnOnce(Stream<std::io::Chain<&[u8], R>>) -> Result<T, DataError>,
) -> Result<T, DataError> {
    let mut prefix = [0u8; 2];
    let mut got = 0;
    while got < prefix.len() {
        match reader.read(&mut prefix[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(DataError::Io {
                    path: path.into(),
                    source,
                });
            }
        }
    }
    let whole = (&prefix[..got]).chain(reader);
    if prefix[..got] == GZIP_MAGIC {
        f(Stream::Gzip(Box::new(GzDecoder::new(whole))))
    } else if path.extension().is_some_and(|e| e == "gz") {
        Err(DataError::Gzip {
            path: path.into(),
            source: std::io::Error::new(ErrorKind::InvalidData, "missing gzip header"),
        })
    } else {
        f(Stream::Raw { reader: whole, len })
    }
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

fn read_images<R: Read>(
    path: &Path,
    mut stream: Stream<R>,
) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    let (magic, [n, h, w]) = stream.header::<3>(path)?;
    check_magic(path, magic, MAGIC_IMAGES, "u8 images [n, rows, cols]")?;
    let (n, h, w) = (u64::from(n), u64::from(h), u64::from(w));
    if !(1..=MAX_SIDE).contains(&h) || !(1..=MAX_SIDE).contains(&w) {
        return Err(DataError::BadDimensions {
            path: path.into(),
            detail: format!("images of {h}x{w} pixels (expected 1..=1024 on each side)"),
        });
    }
    let len = n
        .checked_mul(h * w)
        .filter(|&len| len <= MAX_IMAGE_BYTES)
        .ok_or_else(|| DataError::BadDimensions {
            path: path.into(),
            detail: format!(
                "{n} images of {h}x{w} pixels exceed the limit of {MAX_IMAGE_BYTES} bytes"
            ),
        })?;
    let pixels = stream.payload(path, 16, len)?;
    // All three fit in usize: each is at most the payload length, which `payload` checked.
    let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    Ok((size(n), size(h), size(w), pixels))
}

fn read_labels<R: Read>(path: &Path, mut stream: Stream<R>) -> Result<Vec<u8>, DataError> {
    let (magic, [n]) = stream.header::<1>(path)?;
    check_magic(path, magic, MAGIC_LABELS, "u8 labels [n]")?;
    let n = u64::from(n);
    if n > MAX_LABELS {
        return Err(DataError::BadDimensions {
            path: path.into(),
            detail: format!("{n} labels exceed the limit of {MAX_LABELS}"),
        });
    }
    stream.payload(path, 8, n)
}

/// Parse an IDX3 image file held in memory: returns (count, height, width, pixels).
pub fn parse_idx_images(
    path: &Path,
    bytes: &[u8],
) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    with_stream(path, bytes, bytes.len() as u64, |s| read_images(path, s))
}

/// Parse an IDX1 label file held in memory.
pub fn parse_idx_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    with_stream(path, bytes, bytes.len() as u64, |s| read_labels(path, s))
}

/// Open `path` and hand its reader and length to `f`.
fn with_file<T>(
    path: &Path,
    f: impl FnOnce(std::io::BufReader<std::fs::File>, u64) -> Result<T, DataError>,
) -> Result<T, DataError> {
    let io = |source| DataError::Io {
        path: path.into(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    f(std::io::BufReader::new(file), len)
}

/// Read an IDX3 image file, header first: see [`parse_idx_images`].
pub(super) fn read_idx_images_file(
    path: &Path,
) -> Result<(usize, usize, usize, Vec<u8>), DataError> {
    with_file(path, |file, len| {
        with_stream(path, file, len, |s| read_images(path, s))
    })
}

/// Read an IDX1 label file, header first: see [`parse_idx_labels`].
pub(super) fn read_idx_labels_file(path: &Path) -> Result<Vec<u8>, DataError> {
    with_file(path, |file, len| {
        with_stream(path, file, len, |s| read_labels(path, s))
    })
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

/// The file name of `p` as text (empty when it has none).
fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The visible files of `dir`, sorted. Hidden files and macOS AppleDouble companions
/// (`._name`, resource forks that share the real file's name) are skipped.
fn list(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Io {
        path: dir.into(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !super::is_hidden(p) && p.is_file())
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

/// The training split among IDX image files: judged by the file name only (a directory named
/// `training` says nothing about which file is which). `train*` first, then `train` anywhere
/// in the name, then anything but the `t10k` test split, then the first file.
fn pick_training(candidates: &[&PathBuf]) -> Option<PathBuf> {
    let names: Vec<(String, &PathBuf)> = candidates.iter().map(|p| (name_of(p), *p)).collect();
    let rules: [fn(&str) -> bool; 4] = [
        |n: &str| n.starts_with("train"),
        |n: &str| n.contains("train"),
        |n: &str| !n.starts_with("t10k"),
        |_: &str| true,
    ];
    rules.iter().find_map(|rule| {
        names
            .iter()
            .find(|(name, _)| rule(name.as_str()))
            .map(|(_, p)| p.to_path_buf())
    })
}

/// Load the training split of an IDX directory (`train-*` preferred), with its labels when a
/// matching `*-labels-idx1-ubyte[.gz]` file sits beside it.
pub(super) fn load_dir(dir: &Path) -> Result<Dataset, DataError> {
    let files = list(dir)?;
    let candidates: Vec<&PathBuf> = files.iter().filter(|p| is_images(p)).collect();
    let images_path =
        pick_training(&candidates).ok_or_else(|| DataError::NoIdxFiles { path: dir.into() })?;
    let (n, height, width, images) = read_idx_images_file(&images_path)?;
    let labels_name = name_of(&images_path)
        .replace("images", "labels")
        .replace("idx3", "idx1");
    let labels_path = dir.join(labels_name);
    let labels = if labels_path.is_file() {
        let labels = read_idx_labels_file(&labels_path)?;
        check_counts(&images_path, n, &labels_path, labels.len())?;
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
        channels: 1,
        images,
        labels,
        class_names: numbered_classes(classes),
    })
}

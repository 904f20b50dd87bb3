//! Data sets: u8 images with labels and class names, loaded from the embedded default, the
//! Debian Fashion-MNIST package, an IDX directory or an image folder.

mod batches;
pub mod cache;
mod embedded;
mod folder;
pub use folder::{LoadOptions, Skipped, load_image, load_picture};
mod idx;
pub mod pairs;
pub mod resample;
pub mod shapes;

use std::path::{Path, PathBuf};

pub use batches::Batcher;
pub use idx::{parse_idx_images, parse_idx_labels};

/// Where Debian's `dataset-fashion-mnist` package installs its IDX files.
pub const FASHION_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's class names, in label order.
pub const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Everything that can go wrong while loading a data set. Each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid gzip stream ({source})")]
    Gzip {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: wrong IDX magic number 0x{found:08x} (expected 0x{expected:08x} for {what})")]
    BadMagic {
        path: PathBuf,
        found: u32,
        expected: u32,
        what: &'static str,
    },
    #[error("{path}: wrong dimensions: {detail}")]
    BadDimensions { path: PathBuf, detail: String },
    #[error("{path}: truncated: header promises {expected} bytes of data, file holds {found}")]
    Truncated {
        path: PathBuf,
        expected: usize,
        found: usize,
    },
    #[error(
        "{path}: decompresses past the {expected} bytes its IDX header implies \
         (possible decompression bomb): {detail}"
    )]
    TooLarge {
        path: PathBuf,
        expected: usize,
        detail: String,
    },
    #[error(
        "image/label count mismatch: {images_path} holds {images} images but {labels_path} holds {labels} labels"
    )]
    CountMismatch {
        images_path: PathBuf,
        images: usize,
        labels_path: PathBuf,
        labels: usize,
    },
    #[error("{path}: label {label} at index {index} is out of range (at most 255 classes)")]
    BadLabel {
        path: PathBuf,
        index: usize,
        label: u8,
    },
    #[error("{path}: no IDX image file (*-images-idx3-ubyte or *-images-idx3-ubyte.gz) found")]
    NoIdxFiles { path: PathBuf },
    #[error(
        "{path}: no pictures: expected .png/.jpg/.webp/.bmp/.gif files, in one sub-folder per \
         class or in the folder itself"
    )]
    EmptyFolder { path: PathBuf },
    #[error("{path}: unreadable image: {detail}")]
    UnreadableImage { path: PathBuf, detail: String },
    #[error("{path}: the image is {width}x{height}; the model takes {size}x{size} images")]
    ImageSize {
        path: PathBuf,
        width: u32,
        height: u32,
        size: usize,
    },
    #[error("{path}: no such file or directory")]
    NotFound { path: PathBuf },
    #[error("no shape called `{name}` in the shapes set (it has {known})")]
    UnknownShape { name: String, known: String },
    #[error(
        "{path}: the image is {width}x{height}; this model takes pictures of {min} to {max} \
         pixels a side"
    )]
    PictureSize {
        path: PathBuf,
        width: u32,
        height: u32,
        min: u32,
        max: u32,
    },
    #[error(
        "Fashion-MNIST is not installed: expected IDX files in {FASHION_DIR} \
         (install the Debian package `dataset-fashion-mnist`: sudo apt-get install dataset-fashion-mnist)"
    )]
    FashionMissing,
}

/// A data set in memory: `len` images of `channels` planes (1 grey, 3 RGB) of `height` x
/// `width` u8 pixels (each image `[channels, height, width]`, the layout of the models' input
/// tensors), with one label each (0 for unlabelled data) and the names of the classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    pub class_names: Vec<String>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Values per image: `channels * height * width`.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The same images with `channels` planes: grey copied into R, G and B, or colour made
    /// grey by its luma (ITU-R BT.601 weights, as the `image` crate does).
    pub fn to_channels(mut self, channels: usize) -> Self {
        if channels == self.channels || !matches!(channels, 1 | 3) {
            return self;
        }
        let plane = self.height * self.width;
        let from = self.image_len();
        let mut out = Vec::with_capacity(self.len() * channels * plane);
        for img in self.images.chunks_exact(from.max(1)) {
            if channels == 3 {
                for _ in 0..3 {
                    out.extend_from_slice(img);
                }
            } else {
                let (r, rest) = img.split_at(plane);
                let (g, b) = rest.split_at(plane);
                out.extend(r.iter().zip(g).zip(b).map(|((&r, &g), &b)| {
                    ((299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b) + 500) / 1000)
                        as u8
                }));
            }
        }
        self.images = out;
        self.channels = channels;
        self
    }

    /// The same images at `size` x `size`, each plane resized with the Lanczos filter (the
    /// built-in 28-px sets at another size; folders are decoded at their size directly).
    pub fn resized(mut self, size: usize) -> Self {
        if size == self.height && size == self.width || size == 0 {
            return self;
        }
        use rayon::prelude::*;
        let (h, w) = (self.height as u32, self.width as u32);
        let plane = self.height * self.width;
        self.images = self
            .images
            .par_chunks_exact(plane.max(1))
            .flat_map_iter(|p| {
                let img = image::GrayImage::from_raw(w, h, p.to_vec()).unwrap_or_default();
                let filter = image::imageops::FilterType::Lanczos3;
                image::imageops::resize(&img, size as u32, size as u32, filter).into_raw()
            })
            .collect();
        self.height = size;
        self.width = size;
        self
    }

    /// The pixels of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        let n = self.image_len();
        &self.images[index * n..(index + 1) * n]
    }

    /// Images `idx` as f32 pixels scaled to [-1, 1], `[idx.len() * h * w]`.
    pub fn pixels(&self, idx: &[usize]) -> Vec<f32> {
        idx.iter()
            .flat_map(|&i| self.image(i).iter().map(|&p| p as f32 / 127.5 - 1.0))
            .collect()
    }

    /// Keep only the first `n` images (for quick experiments and tests).
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.len());
        self.images.truncate(n * self.image_len());
        self.labels.truncate(n);
    }
}

/// How many images are held out of training where a run needs images it never saw: a tenth
/// of the data, at most 500. A Boltzmann machine's free-energy gap takes them from the end of
/// the data set (its runs are grey 28-px digits, in random order); a super-resolution run
/// spreads them ([`held_out_spread`]).
pub fn held_out(len: usize) -> usize {
    (len / 10).min(500)
}

/// The indices of a super-resolution run's held-out images: as many as [`held_out`], spread
/// evenly over the data set (every 10th at most), so that a folder read class by class holds
/// out images of every class, not only the last one's.
pub fn held_out_spread(len: usize) -> Vec<usize> {
    let count = held_out(len);
    if count == 0 {
        return Vec::new();
    }
    let stride = len / count;
    (0..count).map(|j| j * stride + stride - 1).collect()
}

/// The indices a super-resolution run trains on: all but [`held_out_spread`]'s.
pub fn trained_on(len: usize) -> Vec<usize> {
    let held = held_out_spread(len);
    let mut next = held.iter().peekable();
    (0..len)
        .filter(|i| {
            let out = next.peek() == Some(&i);
            if out {
                next.next();
            }
            !out
        })
        .collect()
}

/// The data set a user names on the command line or picks in the app.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum DataSource {
    /// The 5,000 MNIST digits compiled into the binary.
    Default,
    /// Fashion-MNIST from Debian's `dataset-fashion-mnist` package.
    Fashion,
    /// The procedural shapes with known factors ([`shapes`]), 20,000 images.
    Shapes,
    /// An IDX directory, or an image folder: one sub-folder per class, or the pictures alone.
    Path(PathBuf),
    /// The embedded digits over coloured, textured grounds ([`pairs::colour_digits`]).
    ColourDigits,
    /// The shapes set restricted to one shape (`shapes:circle`).
    ShapesOf(String),
    /// Two sets for unpaired translation, labelled by domain ([`pairs::load_pair`]).
    Pair(Box<DataSource>, Box<DataSource>),
}

impl std::str::FromStr for DataSource {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((a, b)) = s.split_once(pairs::PAIR_SEPARATOR) {
            let (Ok(a), Ok(b)) = (a.parse(), b.parse());
            return Ok(DataSource::Pair(Box::new(a), Box::new(b)));
        }
        Ok(match s {
            "default" => DataSource::Default,
            "fashion" => DataSource::Fashion,
            "shapes" => DataSource::Shapes,
            "colour-digits" => DataSource::ColourDigits,
            other => match other.strip_prefix("shapes:") {
                Some(class) => DataSource::ShapesOf(class.into()),
                None => DataSource::Path(PathBuf::from(other)),
            },
        })
    }
}

impl std::fmt::Display for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSource::Default => f.write_str("default"),
            DataSource::Fashion => f.write_str("fashion"),
            DataSource::Shapes => f.write_str("shapes"),
            DataSource::Path(p) => write!(f, "{}", p.display()),
            DataSource::ColourDigits => f.write_str("colour-digits"),
            DataSource::ShapesOf(class) => write!(f, "shapes:{class}"),
            DataSource::Pair(a, b) => write!(f, "{a}{}{b}", pairs::PAIR_SEPARATOR),
        }
    }
}

impl DataSource {
    /// [`DataSource::load`], then made `channels` deep (see [`Dataset::to_channels`]).
    pub fn load_shaped(&self, size: usize, channels: usize) -> Result<Dataset, DataError> {
        Ok(self.load(size)?.to_channels(channels))
    }

    /// Load the data set at `size` x `size` (folder pictures are decoded at that size, fixed-size
    /// sets resized), in its own channels: grey sets and folders of grey pictures have 1.
    pub fn load(&self, size: usize) -> Result<Dataset, DataError> {
        self.load_with(size, false).map(|(d, _)| d)
    }

    /// [`DataSource::load`], also returning what an image folder skipped (unreadable, tiny
    /// or absurd files); with `strict`, any such file is an error instead.
    pub fn load_with(&self, size: usize, strict: bool) -> Result<(Dataset, Skipped), DataError> {
        self.load_opts(
            Some(size),
            &LoadOptions {
                strict,
                ..LoadOptions::default()
            },
        )
    }

    /// [`DataSource::load_with`] with every option: a folder cache and a progress report.
    /// `size` `None` loads the data at its own side: 28 for the digit sets, an IDX file's own,
    /// 32 for the shapes, 64 for a folder of pictures.
    pub fn load_opts(
        &self,
        size: Option<usize>,
        opts: &LoadOptions<'_>,
    ) -> Result<(Dataset, Skipped), DataError> {
        let resized = |d: Dataset| match size {
            Some(s) => d.resized(s),
            None => d,
        };
        let data = match self {
            DataSource::Default => resized(embedded::load()?),
            DataSource::Fashion => resized(fashion()?),
            DataSource::Shapes => shapes::dataset(
                shapes::DEFAULT_LEN,
                size.unwrap_or(shapes::DEFAULT_SIDE),
                shapes::DEFAULT_SEED,
            ),
            DataSource::Path(path) => return load_path(path, size, opts),
            DataSource::ColourDigits => resized(pairs::colour_digits()?),
            DataSource::ShapesOf(class) => {
                pairs::shapes_of(class, size.unwrap_or(shapes::DEFAULT_SIDE))?
            }
            DataSource::Pair(a, b) => pairs::load_pair(a, b, size)?,
        };
        Ok((data, Skipped::default()))
    }
}

/// Fashion-MNIST from Debian's `dataset-fashion-mnist`.
fn fashion() -> Result<Dataset, DataError> {
    let dir = Path::new(FASHION_DIR);
    if !dir.is_dir() {
        return Err(DataError::FashionMissing);
    }
    let mut data = idx::load_dir(dir)?;
    data.name = "fashion-mnist".into();
    data.class_names = FASHION_CLASSES.iter().map(|s| s.to_string()).collect();
    Ok(data)
}

fn load_path(
    path: &Path,
    size: Option<usize>,
    opts: &LoadOptions<'_>,
) -> Result<(Dataset, Skipped), DataError> {
    if !path.exists() {
        return Err(DataError::NotFound { path: path.into() });
    }
    if path.is_dir() && idx::dir_has_idx(path)? {
        let data = idx::load_dir(path)?;
        let data = match size {
            Some(s) => data.resized(s),
            None => data,
        };
        Ok((data, Skipped::default()))
    } else if path.is_dir() {
        folder::load(path, size.unwrap_or(folder::DEFAULT_SIDE), opts)
    } else {
        Err(DataError::BadDimensions {
            path: path.into(),
            detail: "expected a directory (of IDX files or of pictures), found a file".into(),
        })
    }
}

/// Interleaved pixels (`[h, w, channels]`, as image files hold them) as planes
/// (`[channels, h, w]`, as a [`Dataset`] holds them).
pub fn planar_from_interleaved(px: &[u8], channels: usize) -> Vec<u8> {
    let channels = channels.max(1);
    (0..channels)
        .flat_map(|c| px.iter().skip(c).step_by(channels).copied())
        .collect()
}

/// Hidden entries (`.name`), which include macOS AppleDouble companions (`._name`): these
/// share a real file's name and extension but hold resource-fork bytes, not data.
pub(crate) fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// Digits "0".."9" style names for `n` numbered classes.
pub(crate) fn numbered_classes(n: usize) -> Vec<String> {
    (0..n).map(|i| i.to_string()).collect()
}

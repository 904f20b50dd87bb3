//! Named directions in latent space and the `dirs.json` file that holds them: reading with
//! named errors, writing crash-safely, and moving latents along them (`sample --edit`, the
//! Explore tab's direction sliders).

use crate::export::{self, ExportError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Files larger than this are refused before parsing (a direction for a 1,000-dimensional
/// latent is about 20 kB of JSON).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// A file with more directions than this is refused.
pub const MAX_DIRECTIONS: usize = 4096;
/// Largest sigma a direction may carry: latents are drawn from N(0, 1), so a real spread is
/// of order 1, and a huge one would only push a latent to infinity.
pub const MAX_SIGMA: f32 = 1e6;
/// Largest `--edit` amount, in sigmas.
pub const MAX_EDIT_AMOUNT: f32 = 1e4;

/// A unit vector in latent space with a name and a scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Direction {
    pub name: String,
    pub vector: Vec<f32>,
    /// Standard deviation of the sampled latents' projections onto `vector`: slider amounts
    /// are in units of it.
    pub sigma: f32,
    /// Share of the total variance (of G's first hidden activations, or of a VAE's codes) this
    /// principal direction explains; `None` for attribute vectors.
    #[serde(default)]
    pub explained_variance: Option<f32>,
    /// How it was found ("pca", "labels 3 -> 7", "examples"); informational.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// Which latent a file's directions move: the noise z, or a style generator's w (added to the
/// w of every level, as GANSpace edits StyleGAN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DirSpace {
    #[default]
    Z,
    W,
}

impl DirSpace {
    fn is_z(&self) -> bool {
        *self == DirSpace::Z
    }
}

/// A model's latent sizes: z's, and w's for a style generator (0 for any other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatentDims {
    pub z: usize,
    pub w: usize,
}

impl LatentDims {
    pub fn of(model: &crate::model::ModelConfig) -> Self {
        let w = if model.kind == crate::model::ModelKind::Stylegan {
            crate::model::style::w_dim(model)
        } else {
            0
        };
        Self {
            z: model.latent_dim,
            w,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DirectionsFile {
    /// Absent in files from before W directions: z.
    #[serde(default, skip_serializing_if = "DirSpace::is_z")]
    pub space: DirSpace,
    pub directions: Vec<Direction>,
    /// The run they were computed for (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectionsError {
    #[error("cannot read directions file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is larger than {MAX_FILE_BYTES} bytes; not a directions file")]
    TooLarge { path: PathBuf },
    #[error("{path} is not a directions file ({detail})")]
    Parse { path: PathBuf, detail: String },
    #[error("{path} holds no directions")]
    Empty { path: PathBuf },
    #[error("{path}: direction {index} has {got} numbers, the model's latent has {want}")]
    WrongLength {
        path: PathBuf,
        index: usize,
        got: usize,
        want: usize,
    },
    #[error("{path}: direction {index} ({name}) {detail}")]
    BadDirection {
        path: PathBuf,
        index: usize,
        name: String,
        detail: String,
    },
    #[error("{path}: no direction {index} (the file has {count}: 0-{})", count.saturating_sub(1))]
    NoSuchIndex {
        path: PathBuf,
        index: usize,
        count: usize,
    },
    #[error("--edit `{0}`: expected FILE.json:INDEX=AMOUNT, e.g. dirs.json:0=2.5")]
    EditSyntax(String),
    #[error(transparent)]
    Write(#[from] ExportError),
    #[error(transparent)]
    Out(#[from] export::OutError),
    #[error("--edit `{edit}` moves the latent out of range ({detail})")]
    EditRange { edit: String, detail: String },
    #[error("{path} holds directions in W, and this model has no W (only a style generator has)")]
    NoW { path: PathBuf },
    #[error("{0}")]
    Compute(String),
    #[error("cancelled")]
    Cancelled,
}

impl DirectionsFile {
    /// Check every direction: finite, non-zero, positive sigma, and (when `dims` is known) the
    /// size of the latent of the file's space.
    pub fn validate(&self, path: &Path, dims: Option<LatentDims>) -> Result<(), DirectionsError> {
        if self.directions.is_empty() {
            return Err(DirectionsError::Empty { path: path.into() });
        }
        if self.directions.len() > MAX_DIRECTIONS {
            return Err(DirectionsError::Parse {
                path: path.into(),
                detail: format!(
                    "{} directions, at most {MAX_DIRECTIONS}",
                    self.directions.len()
                ),
            });
        }
        let want = match (dims, self.space) {
            (None, _) => self.directions[0].vector.len(),
            (Some(d), DirSpace::Z) => d.z,
            (Some(d), DirSpace::W) if d.w > 0 => d.w,
            (Some(_), DirSpace::W) => return Err(DirectionsError::NoW { path: path.into() }),
        };
        for (index, d) in self.directions.iter().enumerate() {
            if d.vector.len() != want {
                return Err(DirectionsError::WrongLength {
                    path: path.into(),
                    index,
                    got: d.vector.len(),
                    want,
                });
            }
            let bad = |detail: &str| DirectionsError::BadDirection {
                path: path.into(),
                index,
                name: d.name.chars().take(64).collect(),
                detail: detail.into(),
            };
            if d.vector.iter().any(|v| !v.is_finite()) {
                return Err(bad("has a non-finite number"));
            }
            if norm(&d.vector) < 1e-6 {
                return Err(bad("is the zero vector"));
            }
            if !(d.sigma.is_finite() && d.sigma > 0.0) {
                return Err(bad("has a sigma that is not a positive number"));
            }
            if d.sigma > MAX_SIGMA {
                return Err(bad(&format!(
                    "has sigma {}, more than {MAX_SIGMA}",
                    d.sigma
                )));
            }
        }
        Ok(())
    }

    /// Parse and check `bytes` (named `path` in errors); vectors come back unit length.
    pub fn parse(
        bytes: &[u8],
        path: &Path,
        dims: Option<LatentDims>,
    ) -> Result<Self, DirectionsError> {
        let mut f: DirectionsFile =
            serde_json::from_slice(bytes).map_err(|e| DirectionsError::Parse {
                path: path.into(),
                detail: e.to_string(),
            })?;
        f.validate(path, dims)?;
        for d in &mut f.directions {
            normalize(&mut d.vector);
        }
        Ok(f)
    }

    pub fn read(path: &Path, dims: Option<LatentDims>) -> Result<Self, DirectionsError> {
        use std::io::Read;
        let io = |source| DirectionsError::Io {
            path: path.into(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .map_err(io)?
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(DirectionsError::TooLarge { path: path.into() });
        }
        Self::parse(&bytes, path, dims)
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Check by the rules [`DirectionsFile::read`] applies, then write crash-safely (a
    /// temporary sibling, then a rename; an existing regular file only with `force`), so no
    /// file is written that its own reader would refuse.
    pub fn write(&self, path: &Path, force: bool) -> Result<(), DirectionsError> {
        self.validate(path, None)?;
        Ok(export::write_out(path, &self.to_json(), force)?)
    }
}

/// Where the app caches a run's directions: a sibling of the run directory, so the run itself
/// (whose files a save replaces as a whole) is never touched.
pub fn cache_path(run_dir: &Path) -> Option<PathBuf> {
    let name = run_dir.file_name()?.to_string_lossy().into_owned();
    Some(run_dir.with_file_name(format!("{name}.directions.json")))
}

/// The Euclidean length, summed in f64 so entries up to f32's largest do not overflow to
/// infinity (which would normalise the vector to zeros).
pub fn norm(v: &[f32]) -> f32 {
    norm64(v) as f32
}

fn norm64(v: &[f32]) -> f64 {
    v.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

pub fn normalize(v: &mut [f32]) {
    let n = norm64(v);
    if n > 0.0 && n.is_finite() {
        v.iter_mut().for_each(|x| *x = (f64::from(*x) / n) as f32);
    }
}

/// One `--edit FILE.json:INDEX=AMOUNT`.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    pub file: PathBuf,
    pub index: usize,
    /// In units of the direction's sigma.
    pub amount: f32,
}

impl std::str::FromStr for Edit {
    type Err = DirectionsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DirectionsError::EditSyntax(s.chars().take(200).collect());
        // The last ':' splits, so a path may hold colons (C:\...).
        let (file, rest) = s.rsplit_once(':').ok_or_else(bad)?;
        let (index, amount) = rest.split_once('=').ok_or_else(bad)?;
        let index = index.trim().parse().map_err(|_| bad())?;
        let amount: f32 = amount.trim().parse().map_err(|_| bad())?;
        if file.is_empty() || !amount.is_finite() {
            return Err(bad());
        }
        if amount.abs() > MAX_EDIT_AMOUNT {
            return Err(DirectionsError::EditRange {
                edit: s.chars().take(200).collect(),
                detail: format!("{amount} sigmas; at most {MAX_EDIT_AMOUNT}"),
            });
        }
        Ok(Edit {
            file: file.into(),
            index,
            amount,
        })
    }
}

impl std::fmt::Display for Edit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}={}", self.file.display(), self.index, self.amount)
    }
}

/// The offsets `amount * sigma * vector` of the edits, summed per space: `([z], [w])` (the w
/// offset is empty for a model without W). Files are read once each and checked against
/// `dims`.
pub fn edit_offset(
    edits: &[Edit],
    dims: LatentDims,
) -> Result<(Vec<f32>, Vec<f32>), DirectionsError> {
    let mut files: Vec<(PathBuf, DirectionsFile)> = Vec::new();
    let mut offsets = (vec![0.0; dims.z], vec![0.0; dims.w]);
    for e in edits {
        if !files.iter().any(|(p, _)| *p == e.file) {
            let f = DirectionsFile::read(&e.file, Some(dims))?;
            files.push((e.file.clone(), f));
        }
        let Some((_, f)) = files.iter().find(|(p, _)| *p == e.file) else {
            continue;
        };
        let d = f
            .directions
            .get(e.index)
            .ok_or_else(|| DirectionsError::NoSuchIndex {
                path: e.file.clone(),
                index: e.index,
                count: f.directions.len(),
            })?;
        let offset = match f.space {
            DirSpace::Z => &mut offsets.0,
            DirSpace::W => &mut offsets.1,
        };
        add_scaled(offset, &d.vector, e.amount * d.sigma);
        if let Some(v) = offset.iter().find(|v| !v.is_finite()) {
            return Err(DirectionsError::EditRange {
                edit: e.to_string(),
                detail: format!("an entry of the offset became {v}"),
            });
        }
    }
    Ok(offsets)
}

/// `acc += scale * v`.
pub fn add_scaled(acc: &mut [f32], v: &[f32], scale: f32) {
    acc.iter_mut().zip(v).for_each(|(a, x)| *a += scale * x);
}

/// Add `offset` (`[latent]`) to every row of `z` (`[n * latent]`).
pub fn shift_rows(z: &mut [f32], offset: &[f32]) {
    for row in z.chunks_mut(offset.len().max(1)) {
        row.iter_mut().zip(offset).for_each(|(a, o)| *a += o);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str, vector: Vec<f32>) -> Direction {
        Direction {
            name: name.into(),
            vector,
            sigma: 1.0,
            explained_variance: Some(0.5),
            origin: None,
        }
    }

    #[test]
    fn round_trips_and_normalises() {
        let f = DirectionsFile {
            space: DirSpace::Z,
            directions: vec![one("slant", vec![0.6, 0.8]), one("width", vec![-0.8, 0.6])],
            checkpoint: Some("runs/x".into()),
        };
        let dims = |z, w| Some(LatentDims { z, w });
        let back = DirectionsFile::parse(&f.to_json(), Path::new("d.json"), dims(2, 0)).unwrap();
        assert_eq!(back, f);
        // W directions are checked against w's size, and refused by a model without W.
        let w = DirectionsFile {
            space: DirSpace::W,
            ..f.clone()
        };
        let p = Path::new("w.json");
        assert_eq!(
            DirectionsFile::parse(&w.to_json(), p, dims(5, 2)).unwrap(),
            w
        );
        assert!(matches!(
            DirectionsFile::parse(&w.to_json(), p, dims(2, 0)),
            Err(DirectionsError::NoW { .. })
        ));
        assert!(matches!(
            DirectionsFile::parse(&w.to_json(), p, dims(2, 3)),
            Err(DirectionsError::WrongLength { want: 3, .. })
        ));
        let scaled =
            br#"{"directions":[{"name":"a","vector":[3,4],"sigma":2,"explained_variance":null}]}"#;
        let g = DirectionsFile::parse(scaled, Path::new("d.json"), None).unwrap();
        assert_eq!(g.directions[0].vector, vec![0.6, 0.8]);
    }

    #[test]
    fn bad_files_give_named_errors() {
        let p = Path::new("d.json");
        let parse = |s: &str, dim| DirectionsFile::parse(s.as_bytes(), p, dim).unwrap_err();
        assert!(matches!(
            parse("not json", None),
            DirectionsError::Parse { .. }
        ));
        assert!(matches!(
            parse(r#"{"directions":[]}"#, None),
            DirectionsError::Empty { .. }
        ));
        let d = |v: &str, sigma: &str| {
            format!(r#"{{"directions":[{{"name":"a","vector":{v},"sigma":{sigma}}}]}}"#)
        };
        assert!(matches!(
            parse(&d("[1,0,0]", "1"), Some(LatentDims { z: 2, w: 0 })),
            DirectionsError::WrongLength {
                got: 3,
                want: 2,
                ..
            }
        ));
        assert!(matches!(
            parse(&d("[0,0]", "1"), None),
            DirectionsError::BadDirection { .. }
        ));
        assert!(matches!(
            parse(&d("[1,0]", "-1"), None),
            DirectionsError::BadDirection { .. }
        ));
    }

    #[test]
    fn edits_parse_and_reject_junk() {
        let e: Edit = "C:/x/dirs.json:3=-1.5".parse().unwrap();
        assert_eq!(e.file, PathBuf::from("C:/x/dirs.json"));
        assert_eq!((e.index, e.amount), (3, -1.5));
        for bad in [
            "dirs.json",
            "dirs.json:a=1",
            "dirs.json:1",
            ":1=2",
            "d.json:1=inf",
        ] {
            assert!(bad.parse::<Edit>().is_err(), "{bad}");
        }
    }
}

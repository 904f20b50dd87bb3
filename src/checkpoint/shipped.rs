//! Shipped runs and classifiers, found wherever latentlab was installed.
//!
//! Lookup order for a shipped name: the platform's data directory
//! (`$XDG_DATA_HOME/latentlab/checkpoints/NAME`, `~/.local/share/...` on Linux), a `checkpoints/`
//! folder next to the executable (or `../share/latentlab/checkpoints` beside its `bin/`), the
//! source checkout the binary was built from, and finally the copy embedded in the binary, which
//! is unpacked once into the platform's cache directory. What the default experience needs (the
//! MNIST conditional GAN and the meter's classifiers) is embedded, so a copied or
//! `cargo install`ed binary works from any directory.

use std::path::{Path, PathBuf};

/// Files of one shipped directory and the file that marks it complete.
struct Embedded {
    name: &'static str,
    marker: &'static str,
    files: &'static [(&'static str, &'static [u8])],
}

macro_rules! shipped_file {
    ($dir:literal, $file:literal) => {
        (
            $file,
            include_bytes!(concat!("../../checkpoints/", $dir, "/", $file)) as &[u8],
        )
    };
}

const EMBEDDED: &[Embedded] = &[
    Embedded {
        name: "mnist-cdcgan",
        marker: super::MANIFEST,
        files: &[
            shipped_file!("mnist-cdcgan", "generator-ema.bpk"),
            shipped_file!("mnist-cdcgan", "discriminator.bpk"),
            shipped_file!("mnist-cdcgan", "samples.png"),
            shipped_file!("mnist-cdcgan", "manifest.json"),
        ],
    },
    Embedded {
        name: "shapes-dcgan",
        marker: super::MANIFEST,
        files: &[
            shipped_file!("shapes-dcgan", "generator-ema.bpk"),
            shipped_file!("shapes-dcgan", "discriminator.bpk"),
            shipped_file!("shapes-dcgan", "samples.png"),
            shipped_file!("shapes-dcgan", "manifest.json"),
        ],
    },
    Embedded {
        name: "classifier-mnist5k",
        marker: "classifier.json",
        files: &[
            shipped_file!("classifier-mnist5k", "classifier.bpk"),
            shipped_file!("classifier-mnist5k", "classifier.json"),
        ],
    },
    Embedded {
        name: "classifier-shapes",
        marker: "classifier.json",
        files: &[
            shipped_file!("classifier-shapes", "classifier.bpk"),
            shipped_file!("classifier-shapes", "classifier.json"),
        ],
    },
    Embedded {
        name: "classifier-fashion-mnist",
        marker: "classifier.json",
        files: &[
            shipped_file!("classifier-fashion-mnist", "classifier.bpk"),
            shipped_file!("classifier-fashion-mnist", "classifier.json"),
        ],
    },
];

/// Every name latentlab ships, embedded or not.
pub const NAMES: &[&str] = &[
    "mnist-cdcgan",
    "mnist-dcgan",
    "mnist-acgan",
    "mnist-infogan",
    "mnist-vae2d",
    "fashion-dcgan",
    "mnist-rbm",
    "mnist-dbn",
    "shapes-dcgan",
    "shapes-stylegan",
    "mnist-stylegan",
    "shapes-srgan",
    "digits-cyclegan",
    "fashion-cyclegan",
    "mnist-lapgan",
    "classifier-mnist5k",
    "classifier-fashion-mnist",
    "classifier-shapes",
];

/// Where a shipped directory was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    DataDir,
    BesideExecutable,
    SourceCheckout,
    /// Unpacked from the binary into this cache directory.
    Embedded,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::DataDir => "the platform data directory",
            Origin::BesideExecutable => "the checkpoints folder next to the executable",
            Origin::SourceCheckout => "the source checkout latentlab was built from",
            Origin::Embedded => "the copy embedded in the latentlab binary",
        })
    }
}

pub use crate::dirs::{cache_dir, data_dir};

/// The places a shipped directory may sit on disk, in lookup order.
fn candidates(name: &str) -> Vec<(PathBuf, Origin)> {
    let mut out = Vec::new();
    if let Some(d) = data_dir() {
        out.push((d.join("checkpoints").join(name), Origin::DataDir));
    }
    if let Some(bin) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push((bin.join("checkpoints").join(name), Origin::BesideExecutable));
        out.push((
            bin.join("../share/latentlab/checkpoints").join(name),
            Origin::BesideExecutable,
        ));
    }
    out.push((
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("checkpoints")
            .join(name),
        Origin::SourceCheckout,
    ));
    out
}

fn marker_of(name: &str) -> &'static str {
    if name.starts_with("classifier-") {
        "classifier.json"
    } else {
        super::MANIFEST
    }
}

/// Find shipped directory `name`: on disk, or unpacked from the binary.
///
/// `LATENTLAB_SHIPPED_FROM=embedded` skips the copies on disk (a stale copy in the data
/// directory, or checking what an installed binary sees).
pub fn locate(name: &str) -> Option<(PathBuf, Origin)> {
    let marker = marker_of(name);
    let on_disk = std::env::var("LATENTLAB_SHIPPED_FROM").map_or(true, |v| v != "embedded");
    if on_disk
        && let Some(found) = candidates(name)
            .into_iter()
            .find(|(p, _)| p.join(marker).is_file())
    {
        return Some(found);
    }
    unpack(name).map(|p| (p, Origin::Embedded))
}

/// Shipped directory `name`, or where it was expected (for the error a load then gives).
pub fn dir(name: &str) -> PathBuf {
    locate(name).map(|(p, _)| p).unwrap_or_else(|| {
        data_dir()
            .map(|d| d.join("checkpoints"))
            .unwrap_or_else(|| PathBuf::from("checkpoints"))
            .join(name)
    })
}

/// Unpack the embedded copy of `name` into the cache (once per version), or a temporary
/// directory when the cache is not writable.
fn unpack(name: &str) -> Option<PathBuf> {
    let e = EMBEDDED.iter().find(|e| e.name == name)?;
    let marker_bytes = e.files.iter().find(|(f, _)| *f == e.marker)?.1;
    let known: Vec<&str> = e.files.iter().map(|(f, _)| *f).collect();
    unpack_dirs(name).into_iter().find(|dir| {
        // A copy whose marker matches is complete: write_dir swaps whole directories in.
        std::fs::read(dir.join(e.marker)).is_ok_and(|b| b == marker_bytes)
            || super::replace::write_dir(dir, e.marker, &known, e.files).is_ok()
    })
}

/// Where the embedded copy of `name` is unpacked: the cache, else a temporary directory.
fn unpack_dirs(name: &str) -> Vec<PathBuf> {
    let version = concat!("shipped-", env!("CARGO_PKG_VERSION"));
    cache_dir()
        .into_iter()
        .chain([std::env::temp_dir().join("latentlab")])
        .map(|base| base.join(version).join(name))
        .collect()
}

/// When `dir` is (a copy of) a shipped directory, its name and origin. Only looks: nothing is
/// unpacked to answer.
pub fn describe(dir: &Path) -> Option<(&'static str, Origin)> {
    let canon = std::fs::canonicalize(dir).ok()?;
    let same = |p: &Path| std::fs::canonicalize(p).is_ok_and(|p| p == canon);
    NAMES.iter().find_map(|&name| {
        candidates(name)
            .into_iter()
            .find(|(p, _)| same(p))
            .or_else(|| {
                unpack_dirs(name)
                    .iter()
                    .any(|p| same(p))
                    .then_some((PathBuf::new(), Origin::Embedded))
            })
            .map(|(_, origin)| (name, origin))
    })
}

/// A run argument as the user typed it: an existing path, or else a shipped name.
pub fn resolve(arg: &Path) -> PathBuf {
    if arg.exists() {
        return arg.to_path_buf();
    }
    match arg.to_str() {
        Some(name) if NAMES.contains(&name) => dir(name),
        _ => arg.to_path_buf(),
    }
}

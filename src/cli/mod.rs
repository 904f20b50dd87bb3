//! The command line's subcommands (argument types and `main` are in `main.rs`).

pub mod bench;
pub mod detect;
pub mod inspect;
pub mod latent;
pub mod output;
pub mod pytorch;
pub mod runs;
#[cfg(feature = "remote")]
pub mod serve;
pub mod train;
pub mod upscale;
pub mod values;

use anyhow::{Context, Result, bail};
use latentlab::checkpoint::{self, lease::Lease, replace};
use std::path::Path;

/// Where a command's tensors run: `--device` and `--token-file`.
#[derive(clap::Args, Debug, Clone)]
pub struct DeviceArgs {
    /// cpu (burn flex: the same seed gives the same bytes everywhere), auto, wgpu, or a
    /// `latentlab serve` server: remote:ws://HOST:PORT, remote:iroh:ID or
    /// remote:iroh:ID@HOST:PORT (its token from
    /// LATENTLAB_TOKEN or --token-file).
    #[arg(long, default_value = "cpu")]
    pub device: latentlab::device::DeviceChoice,
    /// The file holding a remote server's token (when LATENTLAB_TOKEN is not set).
    #[arg(long)]
    pub token_file: Option<std::path::PathBuf>,
}

impl DeviceArgs {
    /// The device, connected (a remote one within a timeout, or a named error).
    pub fn select(&self) -> Result<burn::tensor::Device> {
        let s = latentlab::device::select(&self.device, self.token_file.as_deref())?;
        Ok(s.device)
    }
}

/// Claim and check a command's output directory (a classifier's, a detector's: marked by
/// `marker`, holding `files`) before any work: refused while another latentlab process uses
/// it, when it is not of this kind, when it holds one and `force` is not given, or when a save
/// could not be written beside it. Returns the claim (hold it until the save) and what is
/// there now, which the save expects to find still.
pub fn claim_out(
    out: &Path,
    marker: &str,
    files: &[&str],
    force: bool,
) -> Result<(Lease, replace::Seen)> {
    let lease = checkpoint::lease::acquire(out)?;
    replace::recover(out)?;
    if replace::target(out, marker, files)? == replace::Target::Owned && !force {
        bail!(
            "{} already holds a {}; pass --force to replace it (nothing was changed)",
            out.display(),
            replace::kind_name(marker)
        );
    }
    replace::probe(out, files).with_context(|| format!("{} cannot be saved to", out.display()))?;
    Ok((lease, replace::seen(out)?))
}

/// Refuse a command that draws from a latent space (`what`) for an image-to-image run, which
/// has none, naming what to use instead.
pub fn refuse_image_to_image(
    run: &Path,
    model: &latentlab::model::ModelConfig,
    what: &str,
) -> Result<()> {
    if model.kind.is_image_to_image() {
        let (does, command) = if model.kind == latentlab::model::ModelKind::Cyclegan {
            ("translates pictures between two sets", "translate")
        } else {
            ("enlarges pictures", "upscale")
        };
        bail!(
            "{} is an image-to-image run ({}): it {does} and has no latent space to {what}; use \
             `latentlab {command} --checkpoint {} PICTURE... --out DIR`, or the app's Translate tab",
            run.display(),
            model.kind.name(),
            run.display()
        );
    }
    Ok(())
}

/// Refuse to write images whose pixels are not all finite numbers (a generator that
/// overflowed would otherwise give an all-black file and exit 0).
pub fn check_pixels(values: &[f32]) -> Result<()> {
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        bail!(
            "the generator produced a non-finite pixel ({v}); nothing was written. Its weights \
             or the latent (an --edit amount, a direction's sigma) are out of range"
        );
    }
    Ok(())
}

/// An error and its causes for the terminal, `: `-joined, leaving out a cause that the text
/// before it already ends with (many errors quote their source, which would print it twice).
pub fn describe(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if text.ends_with(&c) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&c);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_cause_prints_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(checkpoint::CheckpointError::Io {
            path: "run/g.bpk".into(),
            source: io,
        })
        .context("loading checkpoint run");
        assert_eq!(
            describe(&e),
            "loading checkpoint run: run/g.bpk: no such file"
        );
    }
}

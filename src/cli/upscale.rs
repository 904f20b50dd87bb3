//! `latentlab upscale` (a super-resolution run enlarges pictures) and `score` for such a run
//! (PSNR and SSIM against bicubic on held-out images).

use anyhow::{Context, Result, bail};
use latentlab::checkpoint::{self, Manifest};
use latentlab::data::Dataset;
use latentlab::model::Generator;
use latentlab::quality::{Meter, upscale::UpscaleScore};
use latentlab::types::grid::Picture;
use std::path::PathBuf;

use latentlab::explore::translate::PICTURE_SIDES;

#[derive(clap::Args)]
pub struct UpscaleArgs {
    /// A super-resolution run (`train --model srgan`), or a shipped run's name.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Pictures to enlarge (PNG, JPEG, WebP, BMP, GIF; any shape, 4 to 256 pixels a side;
    /// colour or grey as the run was trained).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Directory to write NAME.png into (created).
    #[arg(long)]
    out: PathBuf,
    /// Also write NAME-bicubic.png, the bicubic enlargement, to compare.
    #[arg(long)]
    bicubic: bool,
    /// Replace files already in --out.
    #[arg(long)]
    force: bool,
}

pub fn upscale(a: UpscaleArgs) -> Result<()> {
    let device = burn::tensor::Device::flex();
    let run = checkpoint::shipped::resolve(&a.checkpoint);
    let (manifest, g) = checkpoint::load_generator(&run, &device)
        .with_context(|| format!("loading checkpoint {}", run.display()))?;
    let model = manifest.model().clone();
    if g.upscaler().is_none() {
        bail!(
            "{} is a {} run; upscale takes a super-resolution run (train one with --model srgan)",
            run.display(),
            model.kind.name()
        );
    }
    // Every name first: two inputs called the same would overwrite each other.
    let mut names = std::collections::BTreeMap::new();
    for p in &a.images {
        let stem = p
            .file_stem()
            .and_then(|s| s.to_str())
            .with_context(|| format!("{}: not a file name", p.display()))?;
        if let Some(other) = names.insert(stem.to_string(), p) {
            bail!(
                "{} and {} would both be written as {stem}.png; rename one (nothing was written)",
                other.display(),
                p.display()
            );
        }
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let scale = model.scale;
    for p in &a.images {
        let (bytes, w, h) = latentlab::data::load_picture(p, model.channels, PICTURE_SIDES)?;
        let pixels: Vec<f32> = bytes.iter().map(|&b| f32::from(b) / 127.5 - 1.0).collect();
        let out = latentlab::model::upscale_with(&g, &device, &pixels, (w, h))
            .context("not a super-resolution net")??;
        super::check_pixels(&out)?;
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
        let meta = [
            ("latentlab-model", model.kind.name().to_string()),
            ("latentlab-checkpoint", run.display().to_string()),
            ("latentlab-input", p.display().to_string()),
            ("latentlab-scale", scale.to_string()),
        ];
        let picture = Picture::from_planes(&out, model.channels, w * scale, h * scale);
        let dest = a.out.join(format!("{stem}.png"));
        latentlab::export::write_png(&dest, &picture, &meta, a.force)?;
        say!("{} ({w}x{h}) -> {}", p.display(), dest.display());
        if a.bicubic {
            let big =
                latentlab::data::resample::bicubic_resize(&pixels, model.channels, (w, h), scale);
            let picture = Picture::from_planes(&big, model.channels, w * scale, h * scale);
            let dest = a.out.join(format!("{stem}-bicubic.png"));
            latentlab::export::write_png(&dest, &picture, &meta, a.force)?;
        }
    }
    Ok(())
}

/// Print `score` for a super-resolution run.
pub fn score(
    label: &str,
    manifest: &Manifest,
    g: &Generator,
    real: &Dataset,
    meter: (&Meter, &str),
    n: usize,
) -> Result<()> {
    let device = burn::tensor::Device::flex();
    let model = manifest.model();
    let s: UpscaleScore =
        latentlab::quality::upscale::score_upscaler(g, model, real, n, Some(meter.0), &device)?;
    let low = model.low_side();
    out!(
        "{label} ({} steps): {}x from {low} px to {} px, on {} held-out images:",
        manifest.step,
        s.scale,
        model.image_size,
        s.n
    );
    out!(
        "  {:<8} PSNR {:6.2} dB   SSIM {:.4}",
        model.kind.name(),
        s.model.psnr,
        s.model.ssim
    );
    out!(
        "  {:<8} PSNR {:6.2} dB   SSIM {:.4}",
        "bicubic",
        s.bicubic.psnr,
        s.bicubic.ssim
    );
    if !s.model.psnr.is_finite() {
        bail!("the generator produced non-finite images, so it cannot be scored");
    }
    if let Some((net, bicubic)) = &s.meter {
        out!("  rated by {} against the originals:", meter.1);
        for (name, r) in [(model.kind.name(), net), ("bicubic", bicubic)] {
            let acc = r
                .overall_accuracy
                .map(|a| format!("label read correctly {:5.1}%; ", 100.0 * a))
                .unwrap_or_default();
            out!(
                "  {name:<8} {acc}Frechet {:.2}, KID {:.4}, precision {:.3}, recall {:.3}",
                r.frechet,
                r.kid,
                r.precision,
                r.recall
            );
        }
    }
    Ok(())
}

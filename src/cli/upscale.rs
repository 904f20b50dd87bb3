//! The image-to-image commands: `latentlab upscale` (a super-resolution run enlarges
//! pictures), `latentlab translate` (a CycleGAN turns pictures of one set into the other's),
//! and `score` for such runs (PSNR and SSIM against bicubic; cycle error and the meter).

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

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Direction {
    /// From set A (`--data`) to set B (`--data-b`).
    A2b,
    /// From set B to set A.
    B2a,
}

#[derive(clap::Args)]
pub struct TranslateArgs {
    /// A CycleGAN run (`train --model cyclegan`), or a shipped run's name.
    #[arg(long)]
    checkpoint: PathBuf,
    /// a2b or b2a.
    #[arg(long, value_enum, default_value = "a2b")]
    direction: Direction,
    /// Pictures to translate (any shape whose sides are multiples of 4, 4 to 256 pixels;
    /// colour or grey as the run was trained).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Directory to write NAME.png into (created).
    #[arg(long)]
    out: PathBuf,
    /// Replace files already in --out.
    #[arg(long)]
    force: bool,
}

/// Every input's output name (its stem), refusing two inputs that would share one.
fn output_names(images: &[PathBuf]) -> Result<Vec<String>> {
    let mut seen = std::collections::BTreeMap::new();
    let mut names = Vec::new();
    for p in images {
        let stem = p
            .file_stem()
            .and_then(|s| s.to_str())
            .with_context(|| format!("{}: not a file name", p.display()))?;
        if let Some(other) = seen.insert(stem.to_string(), p) {
            bail!(
                "{} and {} would both be written as {stem}.png; rename one (nothing was written)",
                other.display(),
                p.display()
            );
        }
        names.push(stem.to_string());
    }
    Ok(names)
}

pub fn translate(a: TranslateArgs) -> Result<()> {
    let device = burn::tensor::Device::flex();
    let run = checkpoint::shipped::resolve(&a.checkpoint);
    let (manifest, g) = checkpoint::load_generator(&run, &device)
        .with_context(|| format!("loading checkpoint {}", run.display()))?;
    let model = manifest.model().clone();
    if g.translator().is_none() {
        bail!(
            "{} is a {} run; translate takes a CycleGAN run (train one with --model cyclegan)",
            run.display(),
            model.kind.name()
        );
    }
    let names = output_names(&a.images)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let a_to_b = a.direction == Direction::A2b;
    let direction = if a_to_b { "a2b" } else { "b2a" };
    for (p, stem) in a.images.iter().zip(names) {
        let (bytes, w, h) = latentlab::data::load_picture(p, model.channels, PICTURE_SIDES)?;
        if w % 4 != 0 || h % 4 != 0 {
            bail!(
                "{}: the picture is {w}x{h}; a CycleGAN takes sides that are multiples of 4 \
                 (crop or resize it; nothing more was written)",
                p.display()
            );
        }
        let pixels: Vec<f32> = bytes.iter().map(|&b| f32::from(b) / 127.5 - 1.0).collect();
        let out = latentlab::model::translate_with(&g, &device, &pixels, (w, h), a_to_b)
            .context("not a CycleGAN")??;
        super::check_pixels(&out)?;
        let meta = [
            ("latentlab-model", model.kind.name().to_string()),
            ("latentlab-checkpoint", run.display().to_string()),
            ("latentlab-input", p.display().to_string()),
            ("latentlab-direction", direction.to_string()),
        ];
        let dest = a.out.join(format!("{stem}.png"));
        let picture = Picture::from_planes(&out, model.channels, w, h);
        latentlab::export::write_png(&dest, &picture, &meta, a.force)?;
        say!(
            "{} ({w}x{h}, {direction}) -> {}",
            p.display(),
            dest.display()
        );
    }
    Ok(())
}

/// Print `score` for a CycleGAN run: the cycle errors and set A's meter on the round trips.
pub fn score_cycle(
    label: &str,
    manifest: &Manifest,
    g: &Generator,
    n: usize,
    classifier: Option<&std::path::Path>,
) -> Result<()> {
    let device = burn::tensor::Device::flex();
    let model = manifest.model();
    let source: latentlab::data::DataSource = manifest.data.source.parse()?;
    let latentlab::data::DataSource::Pair(set_a, _) = &source else {
        bail!("{label} was trained on `{source}`, which is not a pair of sets (A <-> B)");
    };
    let pair = source
        .load_shaped(model.image_size, model.channels)
        .with_context(|| format!("loading `{source}`"))?;
    let a_data = set_a
        .load_shaped(model.image_size, model.channels)
        .with_context(|| format!("loading `{set_a}`"))?;
    let meter = latentlab::train::meter::meter_for(classifier, &a_data, &device, |step, _| {
        if step == 100 {
            say!(
                "no classifier for `{set_a}` at this shape yet: training its feature network once"
            );
        }
    });
    let meter = match meter {
        Ok((m, _)) => Some(m),
        Err(e) => {
            say!("warning: no meter for `{set_a}` ({e}); the class measures are left out");
            None
        }
    };
    let s =
        latentlab::quality::translation::score_cycle(g, model, &pair, n, meter.as_ref(), &device)?;
    out!(
        "{label} ({} steps): `{source}` on {} held-out A and {} B images:",
        manifest.step,
        s.n_a,
        s.n_b
    );
    out!(
        "  cycle error A -> B -> A {:.4}, B -> A -> B {:.4} (mean absolute, pixels in [0, 1])",
        s.cycle_a,
        s.cycle_b
    );
    if let (Some(same), Some(conf), Some(real)) =
        (s.same_class_a, s.confidence_b_to_a, s.confidence_real_a)
    {
        out!(
            "  `{set_a}` meter: the class of {:.1}% of A images survives the round trip",
            100.0 * same
        );
        out!(
            "  its mean confidence on B -> A outputs {:.3} (on real A images {:.3})",
            conf,
            real
        );
    }
    Ok(())
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
    output_names(&a.images)?;
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

//! Latent-space commands: `directions` (GANSpace PCA directions and attribute vectors) and
//! `encode` (a real image's latent and reconstruction).

use crate::{DirectionsArgs, EncodeArgs};
use anyhow::{Context, Result, bail};
use latentlab::checkpoint::{self, Manifest};
use latentlab::data::DataSource;
use latentlab::explore::directions::{DirSpace, Direction, DirectionsFile, LatentDims};
use latentlab::explore::project::Space;
use latentlab::explore::{attributes, invert, pca};
use latentlab::export;
use latentlab::model::vae::VaeEncoder;
use latentlab::model::{Generator, ModelConfig, ModelKind, readback};
use latentlab::quality;
use latentlab::types::{grid, noise};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One condition row for every image: `--label` for a conditional model, `--code` (continuous
/// codes 0) for InfoGAN, nothing otherwise.
fn fixed_condition(
    model: &ModelConfig,
    manifest: &Manifest,
    label: Option<usize>,
    code: Option<usize>,
) -> Result<Option<Vec<f32>>> {
    let classes = model.num_classes;
    if model.kind.has_codes() {
        if label.is_some() {
            bail!("--label: InfoGAN has no classes; use --code to fix its categorical code");
        }
        let k = code.unwrap_or(0);
        if k >= classes {
            bail!(
                "--code {k} is out of range: this InfoGAN's code takes 0-{}",
                classes - 1
            );
        }
        return Ok(Some(noise::conditions(
            &[k as u8],
            classes,
            &vec![0.0; model.codes],
        )));
    }
    if code.is_some() {
        bail!("--code: model {} has no latent codes", model.kind.name());
    }
    match (label, model.is_conditional()) {
        (Some(_), false) => bail!(
            "--label: model {} is not conditional (it has no classes)",
            model.kind.name()
        ),
        (Some(l), true) if l >= classes => bail!(
            "--label {l} is out of range: this checkpoint has {classes} classes (0-{}: {})",
            classes - 1,
            manifest.class_names.join(", ")
        ),
        (l, true) => Ok(Some(noise::one_hot(&[l.unwrap_or(0) as u8], classes))),
        (None, false) => Ok(None),
    }
}

/// The run `arg` names (a directory or a shipped name): its directory, manifest and generator
/// on the CPU, after checking that `out` may be written.
fn open_run(
    arg: &Path,
    out: &Path,
    force: bool,
    device: &burn::tensor::Device,
) -> Result<(PathBuf, Manifest, Generator)> {
    export::check_out_file(out, force)?;
    let dir = checkpoint::shipped::resolve(arg);
    let (manifest, g) = checkpoint::load_generator(&dir, device)
        .with_context(|| format!("loading checkpoint {}", arg.display()))?;
    super::refuse_image_to_image(arg, manifest.model(), "find directions in or encode into")?;
    if manifest.model().kind.is_boltzmann() {
        bail!(
            "{} is a Boltzmann machine ({}): it has no latent space to find directions in or              encode into; explore it with Gibbs chains instead (the app's Explore tab, or              `latentlab sample --gibbs`)",
            arg.display(),
            manifest.model().kind.name()
        );
    }
    Ok((dir, manifest, g))
}

pub fn directions(a: DirectionsArgs) -> Result<()> {
    let device = a.compute.select()?;
    let (dir, manifest, g) = open_run(&a.checkpoint, &a.out, a.force, &device)?;
    let model = manifest.model().clone();
    // The same rule as sample's and encode's: --label only for a conditional model, --code
    // only for InfoGAN (a VAE takes neither).
    let cond = fixed_condition(&model, &manifest, a.label, a.code)?;
    let started = Instant::now();
    let mut found: Vec<Direction> = Vec::new();
    let style = match (&g, a.space) {
        (Generator::Style(sg), DirSpace::W) => Some(sg),
        (_, DirSpace::W) => bail!(
            "--space w: model {} has no W (only a style generator, stylegan, has)",
            model.kind.name()
        ),
        _ => None,
    };
    if style.is_some() && !a.attribute.is_empty() {
        bail!("--attribute vectors move z; leave out --space w to compute them");
    }
    if a.k > 0 {
        found = if let Some(sg) = style {
            pca::w_directions(
                sg,
                &model,
                cond.as_deref(),
                a.n as usize,
                a.k as usize,
                a.seed,
                &device,
                |_| true,
            )?
        } else if model.kind == ModelKind::Vae {
            vae_directions(&dir, &manifest, a.n as usize, a.k as usize, a.seed, &device)?
        } else {
            pca::generator_directions(
                &g,
                &model,
                cond.as_deref(),
                a.n as usize,
                a.k as usize,
                a.seed,
                &device,
                |_| true,
            )?
        };
    }
    for pair in &a.attribute {
        let (from, to) = *pair;
        if model.is_conditional() || model.kind.has_codes() {
            bail!(
                "--attribute: model {} already takes its class as an input; attribute vectors \
                 from labels are for unconditional models",
                model.kind.name()
            );
        }
        let cdir = quality::classifier_dir(None, &manifest.data.name);
        if !cdir.join(quality::CLASSIFIER_MANIFEST).is_file() {
            return Err(quality::QualityError::NoClassifier {
                data: manifest.data.name.clone(),
                searched: cdir.display().to_string(),
            }
            .into());
        }
        let meter = quality::load_classifier(&cdir, &device)
            .with_context(|| format!("loading classifier {}", cdir.display()))?;
        found.push(attributes::from_labels(
            &g,
            &model,
            &meter.classifier,
            &manifest.class_names,
            from,
            to,
            a.n as usize,
            a.seed,
            &device,
        )?);
    }
    if found.is_empty() {
        bail!("nothing to compute: --k is 0 and no --attribute was given");
    }
    let file = DirectionsFile {
        space: a.space,
        directions: found,
        checkpoint: Some(a.checkpoint.display().to_string()),
    };
    file.validate(&a.out, Some(LatentDims::of(&model)))
        .with_context(|| {
            format!(
                "the directions of {} would be refused by `sample --edit` (is the run \
                 trained?); nothing was written",
                a.checkpoint.display()
            )
        })?;
    file.write(&a.out, a.force)?;
    out!(
        "{} directions for {} in {:.1} s (from {} samples):",
        file.directions.len(),
        a.checkpoint.display(),
        started.elapsed().as_secs_f64(),
        a.n
    );
    for (i, d) in file.directions.iter().enumerate() {
        match d.explained_variance {
            Some(v) => out!(
                "  {i:>3}  {:<12} explained variance {:6.2}%  sigma {:.3}",
                d.name,
                100.0 * v,
                d.sigma
            ),
            None => out!(
                "  {i:>3}  {:<12} sigma {:.3}  ({})",
                d.name,
                d.sigma,
                d.origin.as_deref().unwrap_or("")
            ),
        }
    }
    if manifest.data.name == "shapes" && model.channels == 3 {
        factor_table(
            &g,
            &model,
            a.space,
            &file.directions,
            cond.as_deref(),
            a.seed,
            &device,
        )?;
    }
    out!("wrote {}", a.out.display());
    Ok(())
}

/// Print which known factor of the shapes set each direction moves most.
fn factor_table(
    g: &Generator,
    model: &ModelConfig,
    space: DirSpace,
    dirs: &[Direction],
    cond: Option<&[f32]>,
    seed: u64,
    device: &burn::tensor::Device,
) -> Result<()> {
    use latentlab::explore::factors::{self, FACTORS, SAMPLES};
    let rows = factors::shapes_table(g, model, space, dirs, cond, seed, device)?;
    out!(
        "which factor each direction moves (share of the factor's range between -2 and +2 \
         sigma, mean of {SAMPLES} samples):"
    );
    out!(
        "  {:<12} {}  moves most",
        "direction",
        FACTORS.map(|f| format!("{f:>16}")).join("")
    );
    for r in &rows {
        let cells: String = r
            .effects
            .iter()
            .map(|e| e.map_or(format!("{:>16}", "-"), |e| format!("{e:>16.2}")))
            .collect();
        let most = r.most().map_or("-".to_string(), |(f, _)| f.to_string());
        out!("  {:<12} {cells}  {most}", r.direction);
    }
    if let Some(share) = factors::mean_share_of_most(&rows) {
        out!(
            "mean share of each direction's effect on the factor it moves most: {share:.3} \
             (1: one factor each; {:.3}: all equally)",
            1.0 / FACTORS.len() as f32
        );
    }
    Ok(())
}

/// A VAE's directions: PCA of the encoder's means over (up to `n` of) its data set.
fn vae_directions(
    dir: &Path,
    manifest: &Manifest,
    n: usize,
    k: usize,
    seed: u64,
    device: &burn::tensor::Device,
) -> Result<Vec<Direction>> {
    let device = device.clone();
    let model = manifest.model();
    let encoder =
        checkpoint::load_module(dir, checkpoint::ENCODER, VaeEncoder::new(model, &device))
            .with_context(|| format!("the VAE's encoder in {}", dir.display()))?;
    let source: DataSource = manifest.data.source.parse()?;
    let (side, channels) = (model.image_size, model.channels);
    let data = source
        .load_shaped(side, channels)
        .with_context(|| format!("loading `{source}` to encode"))?;
    let n = n.min(data.len()).max(2);
    let idx: Vec<usize> = (0..n).map(|i| i * data.len() / n).collect();
    let mut mu = Vec::new();
    for chunk in idx.chunks(500) {
        let x = burn::tensor::Tensor::<4>::from_data(
            burn::tensor::TensorData::new(data.pixels(chunk), [chunk.len(), channels, side, side]),
            &device,
        ); // [chunk, channels, side, side]
        mu.extend(readback(encoder.forward(x).0)?);
    }
    Ok(pca::directions_of_codes(
        &mu,
        model.latent_dim,
        k,
        seed,
        &device,
    )?)
}

pub fn encode(a: EncodeArgs) -> Result<()> {
    let device = a.compute.select()?;
    let (dir, manifest, g) = open_run(&a.checkpoint, &a.out, a.force, &device)?;
    let model = manifest.model().clone();
    let (source_name, target) = match (&a.image, a.data_index) {
        (Some(path), None) => (
            path.display().to_string(),
            latentlab::detect::load_images(
                std::slice::from_ref(path),
                model.image_size,
                model.channels,
            )?,
        ),
        (None, Some(i)) => {
            let source: DataSource = manifest.data.source.parse()?;
            let data = source.load_shaped(model.image_size, model.channels)?;
            if i >= data.len() {
                bail!(
                    "--data-index {i}: the data set `{source}` has {} images",
                    data.len()
                );
            }
            (format!("{source} image {i}"), data.pixels(&[i]))
        }
        _ => bail!("give one image file, or --data-index to pick one from the run's data set"),
    };
    let started = Instant::now();
    let cond = if model.is_conditional() && a.label.is_none() {
        bail!(
            "model {} is conditional: pass --label with the image's class (0-{})",
            model.kind.name(),
            model.num_classes - 1
        );
    } else {
        fixed_condition(&model, &manifest, a.label, a.code)?
    };
    if a.space != Space::Z {
        return encode_style(
            &a,
            &g,
            &model,
            &manifest,
            &target,
            cond.as_deref(),
            &source_name,
        );
    }
    let result = if model.kind == ModelKind::Vae {
        let encoder =
            checkpoint::load_module(&dir, checkpoint::ENCODER, VaeEncoder::new(&model, &device))
                .with_context(|| format!("the VAE's encoder in {}", dir.display()))?;
        invert::encode_vae(&encoder, &g, &model, &target)?
    } else {
        let opts = invert::InvertOptions {
            steps: a.steps as usize,
            restarts: a.restarts as usize,
            seed: a.seed,
        };
        invert::invert(&g, &model, &target, cond.as_deref(), &opts, |_, _| true)?
    };
    let seconds = started.elapsed().as_secs_f64();
    let image = grid::grid(
        &result.reconstruction,
        1,
        model.image_size,
        model.channels,
        1,
    );
    let mut meta = vec![
        ("z", export::format_floats(&result.z)),
        ("model", model.kind.name().to_string()),
        ("checkpoint", a.checkpoint.display().to_string()),
        ("step", manifest.step.to_string()),
        ("encoded_from", source_name.clone()),
        ("pixel_mse", format!("{:.6}", result.pixel_mse)),
        ("steps", result.steps.to_string()),
        ("restarts", result.restarts.to_string()),
    ];
    if let Some(c) = &cond {
        meta.push(("label_mix", export::format_floats(c)));
    }
    crate::cli::check_pixels(&result.reconstruction)?;
    export::write_png(&a.out, &image, &meta, a.force)?;
    if model.kind == ModelKind::Vae {
        out!("encoded {source_name} with the VAE's encoder in {seconds:.2} s");
    } else {
        out!(
            "encoded {source_name}: {} Adam steps x {} restarts in {seconds:.2} s",
            result.steps,
            result.restarts
        );
    }
    out!(
        "  pixel error: mean squared {:.5} (RMS {:.3}) on [0, 1] intensities",
        result.pixel_mse,
        result.pixel_mse.sqrt()
    );
    out!(
        "wrote {} (its latent is in the PNG metadata)",
        a.out.display()
    );
    Ok(())
}

/// `encode --space w|w+`: a picture projected into a style generator's W or W+.
fn encode_style(
    a: &EncodeArgs,
    g: &Generator,
    model: &ModelConfig,
    manifest: &Manifest,
    target: &[f32],
    cond: Option<&[f32]>,
    source_name: &str,
) -> Result<()> {
    let started = Instant::now();
    let opts = invert::InvertOptions {
        steps: a.steps as usize,
        restarts: a.restarts as usize,
        seed: a.seed,
    };
    let p =
        latentlab::explore::project::project(g, model, target, cond, a.space, &opts, |_, _| true)?;
    let seconds = started.elapsed().as_secs_f64();
    let image = grid::grid(&p.reconstruction, 1, model.image_size, model.channels, 1);
    let (key, name) = match a.space {
        Space::WPlus => ("w_plus", "W+"),
        _ => ("w", "W"),
    };
    let mut meta = vec![
        (key, export::format_floats(&p.ws)),
        ("space", name.to_string()),
        ("levels", p.levels.to_string()),
        ("model", model.kind.name().to_string()),
        ("checkpoint", a.checkpoint.display().to_string()),
        ("step", manifest.step.to_string()),
        ("encoded_from", source_name.to_string()),
        ("pixel_mse", format!("{:.6}", p.pixel_mse)),
        ("steps", p.steps.to_string()),
        ("restarts", p.restarts.to_string()),
        ("noise_seed", "0".to_string()),
    ];
    if let Some(c) = cond {
        meta.push(("label_mix", export::format_floats(c)));
    }
    crate::cli::check_pixels(&p.reconstruction)?;
    export::write_png(&a.out, &image, &meta, a.force)?;
    out!(
        "projected {source_name} into {name}: {} Adam steps x {} restarts in {seconds:.2} s",
        p.steps,
        p.restarts
    );
    out!(
        "  pixel error: mean squared {:.5} (RMS {:.3}) on [0, 1] intensities",
        p.pixel_mse,
        p.pixel_mse.sqrt()
    );
    out!(
        "wrote {} (its {name} latent is in the PNG metadata)",
        a.out.display()
    );
    Ok(())
}

//! Commands on saved runs and classifiers: sample, score, and training the meter's classifier
//! (`inspect` is in `inspect.rs`).

use crate::{ClassifierArgs, SampleArgs, ScoreArgs};
use anyhow::{Context, Result, bail};
use latentlab::checkpoint;
use latentlab::data::DataSource;
use latentlab::explore::directions;
use latentlab::export;
use latentlab::types::{grid, noise};

pub fn sample(a: SampleArgs) -> Result<()> {
    let (n, cols) = (a.n as usize, a.cols as usize);
    export::check_out_file(&a.out, a.force)?;
    let dir = checkpoint::shipped::resolve(&a.checkpoint);
    // The CPU by default, where the same seed gives the same bytes everywhere.
    let device = a.compute.select()?;
    let (manifest, g) = checkpoint::load_generator(&dir, &device)
        .with_context(|| format!("loading checkpoint {}", a.checkpoint.display()))?;
    let model = manifest.model();
    super::refuse_image_to_image(&a.checkpoint, model, "sample from")?;
    let labels = if model.kind.has_codes() {
        if a.label.is_some() {
            bail!("--label: InfoGAN has no classes; use --code and --cont to set its codes");
        }
        Some(info_codes(&a, model, n)?)
    } else if a.code.is_some() || a.cont.is_some() {
        bail!(
            "--code and --cont: model {} has no latent codes (only infogan has)",
            model.kind.name()
        )
    } else {
        sample_labels(&a, &manifest, n)?
    };
    let mut z = noise::gaussian(a.seed, n * model.latent_dim);
    let mut w_offset = Vec::new();
    if !a.edit.is_empty() {
        let (offset, w) = directions::edit_offset(&a.edit, directions::LatentDims::of(model))?;
        directions::shift_rows(&mut z, &offset);
        w_offset = w;
    }
    let g = match (g, a.gibbs) {
        (latentlab::model::Generator::Boltzmann(m), steps) => {
            // The seed also seeds the Gibbs coin flips: the same bytes again.
            let steps = steps.map_or(m.gibbs, |s| s as usize);
            latentlab::model::Generator::Boltzmann(m.with_gibbs(steps).with_seed(a.seed))
        }
        (_, Some(_)) => bail!(
            "--gibbs: model {} is not a Boltzmann machine (only rbm, dbn and dbm sample by Gibbs steps)",
            model.kind.name()
        ),
        (g, None) => g,
    };
    let gibbs_steps = match &g {
        latentlab::model::Generator::Boltzmann(m) => Some(m.gibbs),
        _ => None,
    };
    let style = style_spec(&a, &g, model, &z, labels.as_deref(), w_offset)?;
    let values = match (&g, &style) {
        (latentlab::model::Generator::Style(sg), Some(spec)) => {
            latentlab::explore::style::render(sg, model, spec, &device)?.0
        }
        _ => latentlab::model::generate_with(&g, model, &device, &z, labels.as_deref())?,
    };
    let grid = grid::grid(&values, n, model.image_size, model.channels, cols);
    let mut meta = vec![
        ("model", model.kind.name().to_string()),
        ("checkpoint", a.checkpoint.display().to_string()),
        ("step", manifest.step.to_string()),
        ("seed", a.seed.to_string()),
        ("n", n.to_string()),
    ];
    if let Some(l) = a.label {
        meta.push(("label", l.to_string()));
    }
    if let Some(steps) = gibbs_steps {
        meta.push(("gibbs_steps", steps.to_string()));
    }
    if !a.edit.is_empty() {
        let edits: Vec<String> = a.edit.iter().map(ToString::to_string).collect();
        meta.push(("edits", edits.join(" ")));
    }
    if let Some(k) = a.code {
        meta.push(("code", k.to_string()));
    }
    if let Some(c) = &a.cont {
        meta.push(("cont", export::format_floats(c)));
    }
    if style.is_some() {
        meta.push(("truncation", a.truncation.unwrap_or(1.0).to_string()));
        if let Some(c) = a.cutoff {
            meta.push(("cutoff", c.to_string()));
        }
        if let Some(m) = a.mix_from {
            let r = a.mix_layers.clone().unwrap_or(0..2);
            meta.push(("mix_from", m.to_string()));
            meta.push(("mix_layers", format!("{}..{}", r.start, r.end)));
        }
        meta.push(("noise_seed", a.noise_seed.unwrap_or(0).to_string()));
    }
    crate::cli::check_pixels(&values)?;
    export::write_png(&a.out, &grid, &meta, a.force)?;
    out!(
        "wrote {} ({}x{} px, {} images)",
        a.out.display(),
        grid.width,
        grid.height,
        n
    );
    Ok(())
}

/// A style generator's controls from the flags for latents `z` and conditions `labels`
/// (`None` when no flag is given, or the model is not one; the flags on any other model are
/// an error).
fn style_spec(
    a: &SampleArgs,
    g: &latentlab::model::Generator,
    model: &latentlab::model::ModelConfig,
    z: &[f32],
    labels: Option<&[f32]>,
    w_offset: Vec<f32>,
) -> Result<Option<latentlab::explore::style::StyleSpec>> {
    use latentlab::explore::style::{Source, StyleSpec};
    let given = a.truncation.is_some()
        || a.cutoff.is_some()
        || a.mix_from.is_some()
        || a.mix_layers.is_some()
        || a.noise_seed.is_some()
        || w_offset.iter().any(|&v| v != 0.0);
    let latentlab::model::Generator::Style(sg) = g else {
        if given {
            bail!(
                "--truncation, --cutoff, --mix-from, --mix-layers and --noise-seed: model {} is not a style generator (only stylegan has them)",
                model.kind.name()
            );
        }
        return Ok(None);
    };
    if !given {
        return Ok(None);
    }
    let levels = sg.num_levels();
    if a.mix_layers.is_some() && a.mix_from.is_none() {
        bail!("--mix-layers needs --mix-from SEED (the source of those levels' styles)");
    }
    let range = a.mix_layers.clone().unwrap_or(0..2.min(levels));
    if a.mix_from.is_some() && range.end > levels {
        bail!(
            "--mix-layers {}..{}: this generator has {levels} levels (0-{})",
            range.start,
            range.end,
            levels - 1
        );
    }
    // Source B: the same latent row for every image, each image's own condition.
    let b = a.mix_from.map(|seed| {
        let row = noise::gaussian(seed, model.latent_dim);
        Source {
            z: row.repeat(a.n as usize),
            label: labels.map(<[f32]>::to_vec),
            ws: None,
        }
    });
    Ok(Some(StyleSpec {
        a: Source {
            z: z.to_vec(),
            label: labels.map(<[f32]>::to_vec),
            ws: None,
        },
        w_offset,
        layouts: vec![
            (0..levels)
                .map(|l| b.is_some() && range.contains(&l))
                .collect(),
        ],
        b,
        psi: a.truncation.unwrap_or(1.0) as f32,
        cutoff: a.cutoff,
        noise_seeds: vec![a.noise_seed.unwrap_or(0)],
        noise_scales: Vec::new(),
    }))
}

/// InfoGAN's code rows for `n` images from `--code` (or cycling values) and `--cont` (or 0).
fn info_codes(a: &SampleArgs, model: &latentlab::model::ModelConfig, n: usize) -> Result<Vec<f32>> {
    let categories = model.num_classes;
    if let Some(k) = a.code
        && k >= categories
    {
        bail!(
            "--code {k} is out of range: this InfoGAN's code takes 0-{}",
            categories - 1
        );
    }
    let cont = match &a.cont {
        Some(c) if c.len() != model.codes => bail!(
            "--cont: this InfoGAN has {} continuous codes, got {} values",
            model.codes,
            c.len()
        ),
        Some(c) if c.iter().any(|v| !v.is_finite()) => bail!("--cont: values must be finite"),
        Some(c) => c.clone(),
        None => vec![0.0; model.codes],
    };
    let cats = match a.code {
        Some(k) => vec![k as u8; n],
        None => noise::cycling_labels(n, categories),
    };
    Ok(noise::conditions(&cats, categories, &cont))
}

/// Soft labels for `--label` on a conditional model (`None`: cycle through the classes).
fn sample_labels(
    a: &SampleArgs,
    manifest: &checkpoint::Manifest,
    n: usize,
) -> Result<Option<Vec<f32>>> {
    let model = manifest.model();
    Ok(match (a.label, model.is_conditional()) {
        (Some(_), false) => bail!(
            "--label: model {} is not conditional (it has no classes)",
            model.kind.name()
        ),
        (Some(l), true) if l >= model.num_classes => bail!(
            "--label {l} is out of range: this checkpoint has {} classes (0-{}: {})",
            model.num_classes,
            model.num_classes - 1,
            manifest.class_names.join(", ")
        ),
        (Some(l), true) => Some(noise::one_hot(&vec![l as u8; n], model.num_classes)),
        (None, _) => None,
    })
}

pub fn classifier(a: ClassifierArgs) -> Result<()> {
    use latentlab::quality;
    let (_lease, seen) = crate::cli::claim_out(
        &a.out,
        quality::CLASSIFIER_MANIFEST,
        quality::CLASSIFIER_FILES,
        a.force,
    )?;
    let data = a
        .data
        .load_opts(a.size, &Default::default())
        .map(|(d, _)| d)
        .with_context(|| format!("loading data set `{}`", a.data))?;
    let data = match a.channels {
        Some(c) => data.to_channels(c),
        None => data,
    };
    let device = burn::tensor::Device::flex();
    let started = std::time::Instant::now();
    let steps = a.steps as usize;
    let (c, info) = latentlab::train::classifier::train_classifier(
        &data,
        steps,
        a.seed,
        &device,
        |step, loss| say!("step {step}: cross-entropy {loss:.4}"),
    )?;
    quality::save_classifier(&a.out, &c, &info, Some(seen))?;
    out!(
        "classifier for {}: held-out accuracy {:.2}% on {} images (trained on {} for {} steps in {:.0} s); wrote {}",
        info.data,
        100.0 * info.heldout_accuracy,
        info.heldout_len,
        info.train_len,
        info.steps,
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}

pub fn score(a: ScoreArgs) -> Result<()> {
    use latentlab::quality;
    let device = a.compute.select()?;
    let run = checkpoint::shipped::resolve(&a.checkpoint);
    let (manifest, g) = checkpoint::load_generator(&run, &device)
        .with_context(|| format!("loading checkpoint {}", run.display()))?;
    if manifest.model().kind == latentlab::model::ModelKind::Cyclegan {
        let label = a.checkpoint.display().to_string();
        let n = a.n as usize;
        return super::upscale::score_cycle(&label, &manifest, &g, n, a.classifier.as_deref());
    }
    let source: DataSource = manifest.data.source.parse()?;
    let shape = manifest.model();
    let real = source
        .load_shaped(shape.image_size, shape.channels)
        .with_context(|| format!("loading the real images of `{source}`"))?;
    let (meter, from) = latentlab::train::meter::meter_for(
        a.classifier.as_deref(),
        &real,
        &device,
        |step, loss| {
            if step == 100 {
                say!("no classifier for this data set and shape yet: training its feature network once ({} steps)", latentlab::train::meter::FEATURE_STEPS);
            }
            if step % 500 == 0 {
                say!("  feature network step {step}: loss {loss:.4}");
            }
        },
    )
    .context("preparing the quality meter")?;
    let info = &meter.info;
    let rotation = info
        .class_names
        .iter()
        .map(String::as_str)
        .eq(latentlab::train::meter::ROTATIONS);
    if rotation && info.heldout_accuracy < 0.4 {
        // Four rotations: 25% is chance. Pictures without an upright give weak features.
        say!(
            "warning: the feature network tells rotations apart only {:.0}% of the time (25% is \
             chance): these pictures have no clear upright, so the figures below say little; \
             a labelled folder (one sub-folder per class) gives a better meter",
            100.0 * info.heldout_accuracy
        );
    }
    // A Boltzmann machine's coin flips follow the seed too: a score repeats exactly.
    let g = match (g, a.gibbs) {
        (latentlab::model::Generator::Boltzmann(m), steps) => {
            let steps = steps.map_or(m.gibbs, |s| s as usize);
            latentlab::model::Generator::Boltzmann(m.with_seed(a.seed).with_gibbs(steps))
        }
        (_, Some(_)) => bail!(
            "--gibbs: model {} is not a Boltzmann machine (only rbm, dbn and dbm sample by Gibbs steps)",
            manifest.model().kind.name()
        ),
        (g, None) => g,
    };
    if manifest.model().kind.is_image_to_image() {
        let name = format!("the {} meter", info.data);
        let label = a.checkpoint.display().to_string();
        let n = a.n as usize;
        return super::upscale::score(&label, &manifest, &g, &real, (&meter, &name), n);
    }
    let s = quality::score_generator(
        &g,
        manifest.model(),
        &meter,
        &real,
        a.n as usize,
        a.seed,
        &device,
    )?;
    let meter_name = match &from {
        latentlab::train::meter::MeterSource::Classifier(_) => {
            format!("the {} classifier", info.data)
        }
        _ if rotation => format!(
            "{}'s own feature network (trained to tell rotations; the set has no labels)",
            info.data
        ),
        _ => format!(
            "{}'s own feature network (trained on its labels)",
            info.data
        ),
    };
    out!(
        "{} ({} steps) rated by {meter_name} (held-out accuracy {:.1}%) on {} images:",
        a.checkpoint.display(),
        manifest.step,
        100.0 * info.heldout_accuracy,
        s.n
    );
    match &from {
        latentlab::train::meter::MeterSource::Trained(Some(p))
        | latentlab::train::meter::MeterSource::Cached(p) => {
            say!("meter cached in {}", p.display())
        }
        _ => {}
    }
    if let (Some(per), Some(all)) = (&s.per_label, s.overall_accuracy) {
        for (name, acc) in per {
            out!("  label {name:<12} accuracy {:5.1}%", 100.0 * acc);
        }
        out!("  overall            accuracy {:5.1}%", 100.0 * all);
    }
    if let Some(codes) = &s.per_code {
        for c in codes {
            out!(
                "  code {:<2} draws {:<12} purity {:5.1}%",
                c.code,
                c.class,
                100.0 * c.purity
            );
        }
        let mut distinct: Vec<&str> = codes.iter().map(|c| c.class.as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        out!(
            "  the {} code values draw {} distinct classes; mean purity {:.1}%",
            codes.len(),
            distinct.len(),
            100.0 * codes.iter().map(|c| c.purity).sum::<f32>() / codes.len().max(1) as f32
        );
    }
    if !rotation {
        out!(
            "  classes covered {}/{}; predicted-class entropy {:.2} bits (max {:.2})",
            s.classes_covered,
            s.classes,
            s.entropy_bits,
            (s.classes as f32).log2()
        );
    }
    if s.diversity.is_finite() {
        out!(
            "  sample diversity {:.2} of the data's (mean pairwise pixel distance; the mode-collapse alarm sounds under {})",
            s.diversity,
            latentlab::quality::collapse::DIVERSITY_FLOOR
        );
    }
    out!(
        "  Frechet distance to real held-out images: {:.2} (latentlab classifier features; comparable only between latentlab runs)",
        s.frechet
    );
    out!(
        "  KID {:.4}; precision {:.3}, recall {:.3} (k-NN manifolds, k = 3)",
        s.kid,
        s.precision,
        s.recall
    );
    if let Some(r) = &s.real_vs_real {
        out!(
            "  real against real (two halves of {} held-out images each, for reference): Frechet {:.2}, KID {:.4}, precision {:.3}, recall {:.3}",
            r.n,
            r.frechet,
            r.kid,
            r.precision,
            r.recall
        );
    }
    if !s.frechet.is_finite() {
        bail!("the generator produced non-finite images, so it cannot be scored");
    }
    Ok(())
}

//! `latentlab detect` (a discriminator's verdict on image files) and `latentlab detector`
//! (training a dedicated real/fake detector against one generator).

use crate::{DetectArgs, DetectorArgs};
use anyhow::{Context, Result};
use latentlab::checkpoint;
use latentlab::detect::{self, DetectorInfo};

pub fn detect(a: DetectArgs) -> Result<()> {
    let device = a.compute.select()?;
    let dir = checkpoint::shipped::resolve(&a.checkpoint);
    let detector = detect::load(&dir, &device)
        .with_context(|| format!("loading the detector in {}", dir.display()))?;
    say!("detector: {}", detector.describe());
    let m = detector.model();
    let images = detect::load_images(&a.images, m.image_size, m.channels)?;
    let verdicts = detector.p_real(&images, a.label, &device)?;
    for (path, v) in a.images.iter().zip(verdicts) {
        match (v.label, a.label) {
            // The best label over all classes is part of the answer.
            (Some(l), None) => {
                out!("{}\t{:.4}\tlabel {l}", path.display(), v.p_real)
            }
            _ => out!("{}\t{:.4}", path.display(), v.p_real),
        }
    }
    Ok(())
}

pub fn detector(a: DetectorArgs) -> Result<()> {
    let (_lease, seen) = crate::cli::claim_out(
        &a.out,
        detect::DETECTOR_MANIFEST,
        detect::DETECTOR_FILES,
        a.force,
    )?;
    let device = a.compute.select()?;
    let run = checkpoint::shipped::resolve(&a.fakes_from);
    let (manifest, g) = checkpoint::load_generator(&run, &device)
        .with_context(|| format!("loading the generator of {}", run.display()))?;
    crate::cli::refuse_image_to_image(&a.fakes_from, manifest.model(), "draw fakes from")?;
    let source = match a.data {
        Some(d) => d,
        None => manifest.data.source.parse()?,
    };
    let shape = manifest.model();
    let data = source
        .load_shaped(shape.image_size, shape.channels)
        .with_context(|| format!("loading data set `{source}`"))?;
    let started = std::time::Instant::now();
    let (d, model, held) = latentlab::train::detector::train_detector(
        &data,
        &g,
        manifest.model(),
        a.steps as usize,
        a.seed,
        &device,
        |step, loss| say!("step {step}: loss {loss:.4}"),
    )?;
    let info = DetectorInfo {
        format_version: checkpoint::FORMAT_VERSION,
        model,
        data: data.name.clone(),
        data_source: source.to_string(),
        fakes_from: run.display().to_string(),
        fakes_step: manifest.step,
        steps: a.steps as usize,
        seed: a.seed,
        heldout_real: held.real,
        heldout_fake: held.fake,
        heldout_auc: held.auc,
        heldout_accuracy: held.accuracy,
    };
    detect::save(&a.out, &d, &info, Some(seen))?;
    out!(
        "detector for {} fakes (step {}) against {}: held-out AUC {:.4}, accuracy {:.2}% on {} real and {} fake images ({} steps in {:.0} s); wrote {}",
        manifest.model().kind.name(),
        manifest.step,
        data.name,
        held.auc,
        100.0 * held.accuracy,
        held.real,
        held.fake,
        a.steps,
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}

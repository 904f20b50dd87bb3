//! `latentlab train`: refuse an `--out` that could lose work, run the session with a progress
//! bar, save on signals, and turn its events into exit codes.

use crate::{EXIT_DIVERGED, EXIT_INTERRUPTED, Fatal, TrainArgs};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use latentlab::checkpoint;
use latentlab::data::DataSource;
use latentlab::model::ModelKind;
use latentlab::train::{Command, Event, RunSpec, TrainingHandle};
use std::sync::Arc;

/// What `--out` holds and what the run continues from.
struct OutCheck {
    /// The step the run starts from.
    start_step: u64,
    /// The resumed run's manifest.
    saved: Option<checkpoint::Manifest>,
    /// This process's claim on `--out`, held until it exits.
    _lease: checkpoint::lease::Lease,
}

/// Refuse `--out` before any work when writing there could lose something: a directory
/// another latentlab process is using, a run without --resume or --force, a directory that
/// is not a run, or one a save could not be written beside (a name too long, no permission).
fn check_out(a: &TrainArgs) -> Result<OutCheck> {
    use checkpoint::replace::{self, Target};
    let out = &a.out;
    // The claim first, so two runs started at the same moment cannot both pass the checks.
    let lease = checkpoint::lease::acquire(out)?;
    replace::recover(out)?;
    let found = replace::target(out, checkpoint::MANIFEST, checkpoint::RUN_FILES)?;
    let saved = match (found, a.resume) {
        (Target::Owned, true) => {
            let m = checkpoint::read_manifest(out)
                .with_context(|| format!("--resume: reading {}", out.display()))?;
            say!(
                "resuming {} ({} / {}) at step {}",
                out.display(),
                m.train.model.kind.name(),
                m.train.loss.name(),
                m.step
            );
            Some(m)
        }
        (_, true) => bail!("--resume: {} holds no run to continue", out.display()),
        (Target::Owned, false) if !a.force => {
            let what = checkpoint::read_manifest(out)
                .map(|m| format!("a run at step {}", m.step))
                .unwrap_or_else(|e| format!("a run ({e})"));
            bail!(
                "{} already holds {what}; pass --resume to continue it or --force to replace it \
                 (nothing was changed)",
                out.display()
            )
        }
        _ => None,
    };
    replace::probe(out, checkpoint::RUN_FILES)
        .with_context(|| format!("{} cannot be saved to", out.display()))?;
    Ok(OutCheck {
        start_step: saved.as_ref().map_or(0, |m| m.step),
        saved,
        _lease: lease,
    })
}

/// The data a run trains on: a resumed run's own (a different explicit `--data` is refused:
/// switching data sets under a run is a new run), else `--data`.
fn data_source(a: &TrainArgs, saved: Option<&checkpoint::Manifest>) -> Result<DataSource> {
    let given = canonical(a.run.data_for_run());
    let Some(m) = saved else {
        return Ok(given);
    };
    let own: DataSource = m.data.source.parse().with_context(|| {
        format!(
            "--resume: {} was trained on `{}`, which cannot be read as a data set",
            a.out.display(),
            m.data.source
        )
    })?;
    if a.data_given && given != canonical(own.clone()) {
        bail!(
            "--resume: {} was trained on `{own}`, not `{}`; a resumed run continues on its own \
             data. Leave out --data, or start a new run on `{}` (a new --out, or --force to \
             replace this one); nothing was changed",
            a.out.display(),
            given,
            given
        );
    }
    Ok(own)
}

/// Load the run's data at `size`: an image folder from the cache when it was decoded before,
/// else decoded on all cores with a progress bar.
fn load_data(
    source: &DataSource,
    size: Option<usize>,
    strict: bool,
) -> Result<(latentlab::data::Dataset, latentlab::data::Skipped)> {
    let bar = ProgressBar::hidden();
    bar.set_style(
        ProgressStyle::with_template("decoding {bar:30} {pos}/{len} pictures  [{elapsed_precise}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Shown only once a folder is being decoded (built-in sets and cache hits report nothing).
    let shown = std::sync::Once::new();
    let progress = |_done: usize, total: usize| {
        shown.call_once(|| {
            bar.set_length(total as u64);
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        });
        // One call per decoded picture, from any thread, in any order.
        bar.inc(1);
    };
    let opts = latentlab::data::LoadOptions {
        strict,
        cache: latentlab::data::cache::default_root(),
        progress: Some(&progress),
    };
    let loaded = source
        .load_opts(size, &opts)
        .with_context(|| format!("loading data set `{source}`"));
    bar.finish_and_clear();
    loaded
}

/// A folder or IDX set by its absolute path, so the manifest names the same data wherever
/// `--resume` is run from.
fn canonical(d: DataSource) -> DataSource {
    match d {
        DataSource::Path(p) => DataSource::Path(std::fs::canonicalize(&p).unwrap_or(p)),
        other => other,
    }
}

/// Refuse a schedule that would train at a rate of zero: steps past a decaying schedule's
/// end (a resumed run asked for more steps than its schedule spans), or a warm-up as long as
/// the decay.
fn check_schedule(
    s: &latentlab::types::schedule::LrSchedule,
    start: u64,
    total: u64,
) -> Result<()> {
    if s.is_constant() {
        return Ok(());
    }
    if s.shape != latentlab::types::schedule::LrShape::Constant && total > s.end {
        bail!(
            "the run's {} schedule reaches a learning rate of zero at step {}, and --steps would              train to step {total}; give --lr-schedule (and --warmup) again to start a new              schedule from step {start} to {total}, or ask for at most {} steps",
            s.shape.name(),
            s.end,
            s.end.saturating_sub(start)
        );
    }
    if s.shape != latentlab::types::schedule::LrShape::Constant
        && s.warmup >= s.end.saturating_sub(s.start)
    {
        bail!(
            "--warmup {} is as long as the schedule itself ({} steps); make it shorter",
            s.warmup,
            s.end.saturating_sub(s.start)
        );
    }
    say!("learning rate: {}", s.describe());
    Ok(())
}

pub fn train(a: TrainArgs) -> Result<()> {
    let checked = check_out(&a)?;
    let (start_step, saved) = (checked.start_step, checked.saved.as_ref());
    let source = data_source(&a, saved)?;
    let run = &a.run;
    // A resumed run keeps its own image shape; a new one takes --size and --channels, or
    // else the data's own.
    let saved_shape = saved.map(|m| (m.train.model.image_size, m.train.model.channels));
    if let Some((size, channels)) = saved_shape {
        let asked = (run.size.unwrap_or(size), run.channels.unwrap_or(channels));
        if asked != (size, channels) {
            anyhow::bail!(
                "{} was trained on {size}x{size}x{channels} images; --resume keeps that shape \
                 (drop --size/--channels, or train a new run with --out elsewhere)",
                a.out.display()
            );
        }
    }
    let size = saved_shape.map(|s| s.0).or(run.size);
    let (data, skipped) = load_data(&source, size, run.strict)?;
    if skipped.count > 0 {
        say!("warning: {} (--strict refuses them)", skipped.describe());
    }
    let data = match saved_shape {
        Some((_, channels)) => data.to_channels(channels),
        None => run.shaped(data),
    };
    let total = start_step.saturating_add(a.steps);
    let mut config = run.config_for(&data);
    config.schedule = run.schedule(0, total);
    // A resumed run keeps its saved config; only learning rates and a schedule given here
    // replace its own.
    let lr_override = saved.and_then(|saved| run.lr_override(&saved.train));
    let schedule_override = saved.and_then(|_| run.schedule_override(start_step, total));
    let cd_override = saved.and_then(|saved| run.boltzmann.cd_override(&saved.train));
    let schedule = match (schedule_override, saved) {
        (Some(s), _) => s,
        (None, Some(m)) => m.train.schedule,
        (None, None) => config.schedule,
    };
    check_schedule(&schedule, start_step, total)?;
    say!(
        "data: {} ({} images {}x{}x{}, {} classes)",
        data.name,
        data.len(),
        data.width,
        data.height,
        data.channels,
        data.num_classes()
    );
    let spec = RunSpec {
        config,
        data: Arc::new(data),
        data_source: source.to_string(),
        device: run.device.clone(),
        token_file: run.token_file.clone(),
        resume_from: a.resume.then(|| a.out.clone()),
        out_dir: Some(a.out.clone()),
        max_steps: Some(total),
        autostart: true,
        score_every: run.score_every,
        classifier: None,
        lr_override,
        schedule_override,
        cd_override,
        detect_every: 0,
    };
    let handle = TrainingHandle::spawn(None).context("starting the training thread")?;
    // The first signal stops and saves; a second exits at once, leaving the last complete
    // checkpoint as it is.
    let interrupted = {
        let stop = handle.commands.clone();
        latentlab::signals::on_termination(move |n| {
            if n == 1 {
                latentlab::signals::request_stop();
                let _ = stop.send(Command::Stop);
                say!("\nstopping: saving the run (signal again to exit without saving)");
            } else {
                say!("\nexiting without saving; the last saved checkpoint is kept");
                latentlab::signals::exit_now();
            }
        })
        .context("installing the signal handler")?
    };
    handle.send(Command::Start(Box::new(spec)));

    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise}, ETA {eta}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(start_step);
    let started = std::time::Instant::now();
    let mut outcome: Option<Fatal> = None;
    let mut last_save_failed: Option<String> = None;
    let mut save_in_flight = false;
    let mut finished_at = None;
    let mut rates = Vec::new();
    // From the run itself once it has started (a resumed run keeps its own model).
    let mut vae = run.model == ModelKind::Vae;
    let mut boltzmann = run.model.is_boltzmann();
    let mut layers = 0;
    let mut last_gap = None;
    let mut diversity: Option<f32> = None;
    let mut phase = None;
    // "the last good checkpoint (step N) is kept (in DIR)", for the messages that end a run.
    let kept_in = |last_good_step| {
        format!(
            "{} (in {})",
            latentlab::train::messages::kept_text(last_good_step),
            a.out.display()
        )
    };
    for event in handle.events.iter() {
        match event {
            Event::Started {
                device,
                step,
                model,
                ..
            } => {
                vae = model.kind == ModelKind::Vae;
                boltzmann = model.kind.is_boltzmann();
                layers = model.layers.len();
                bar.suspend(|| {
                    if boltzmann {
                        say!(
                            "device: {device}\nmodel: {} (784 visible, hidden {:?}{}), from step {step}",
                            model.kind.name(),
                            model.layers,
                            if model.num_classes > 0 {
                                format!(", {} label units", model.num_classes)
                            } else {
                                String::new()
                            }
                        )
                    } else {
                        say!(
                            "device: {device}\nmodel: {} (latent {}, width {}), from step {step}",
                            model.kind.name(),
                            model.latent_dim,
                            model.width
                        )
                    }
                });
            }
            Event::Step(m) => {
                bar.set_position(m.step);
                rates.push(f64::from(m.examples_per_sec));
                if m.layer.is_some() && m.layer != phase {
                    phase = m.layer;
                    let l = m.layer.unwrap_or(0) as usize;
                    bar.suspend(|| {
                        if l >= layers {
                            say!("phase {}: joint training of all layers, from step {}", l + 1, m.step)
                        } else {
                            say!("phase {}: training hidden layer {} of {layers}, from step {}", l + 1, l + 1, m.step)
                        }
                    });
                }
                last_gap = m.free_energy_gap.or(last_gap);
                bar.set_message(if boltzmann {
                    format!(
                        "recon {:.4}  PLL {:.1}  F gap {}  {:.0} ex/s",
                        m.reconstruction(),
                        m.pseudo_log_likelihood(),
                        last_gap.map_or("-".into(), |g| format!("{g:.2}")),
                        m.examples_per_sec
                    )
                } else if let Some(psnr) = m.psnr {
                    format!(
                        "PSNR {psnr:.2} dB  content {:.5}  loss_D {:.3}  D(x) {:.2}  D(G(x)) {:.2}  {:.0} ex/s",
                        m.content_loss.unwrap_or(f32::NAN),
                        m.loss_d,
                        m.d_real,
                        m.d_fake_after,
                        m.examples_per_sec
                    )
                } else if let Some(cycle) = m.content_loss {
                    format!(
                        "cycle error {cycle:.4}  loss_D {:.3}  loss_G {:.3}  {:.0} ex/s",
                        m.loss_d,
                        m.loss_g,
                        m.examples_per_sec
                    )
                } else if vae {
                    format!(
                        "reconstruction {:.2}  KL {:.2}  {:.0} ex/s",
                        m.reconstruction(),
                        m.kl(),
                        m.examples_per_sec
                    )
                } else {
                    format!(
                        "loss_D {:.3}  loss_G {:.3}  D(x) {:.2}  D(G(z)) {:.2}  {}{}{:.0} ex/s",
                        m.loss_d,
                        m.loss_g,
                        m.d_real,
                        m.d_fake_after,
                        match (m.class_acc_real, m.class_acc_fake) {
                            (Some(r), Some(f)) => format!("class acc {r:.2}/{f:.2}  "),
                            _ => String::new(),
                        },
                        diversity.map_or(String::new(), |d| format!("diversity {d:.2}  ")),
                        m.examples_per_sec
                    )
                });
                // At most one periodic save in flight: on a loaded machine queued saves would
                // otherwise pile up ahead of a Stop and delay it by their fsyncs.
                if a.save_every > 0
                    && m.step.is_multiple_of(a.save_every)
                    && m.step < total
                    && !save_in_flight
                {
                    save_in_flight = true;
                    handle.send(Command::Save(a.out.clone()));
                }
            }
            Event::Quality { step, score } => bar.suspend(|| {
                let accuracy = score
                    .overall_accuracy
                    .map(|a| format!("label accuracy {:.1}%, ", 100.0 * a))
                    .unwrap_or_default();
                say!(
                    "quality at step {step}: {accuracy}{}/{} classes, entropy {:.2} bits, Frechet {:.1}",
                    score.classes_covered, score.classes, score.entropy_bits, score.frechet
                )
            }),
            Event::Diversity { ratio, .. } => diversity = Some(ratio),
            // The run goes on: the user decides.
            Event::Collapse { step, sign } => {
                bar.suspend(|| say!("warning at step {step}: {}", sign.describe()))
            }
            Event::Saved { path, step } => {
                save_in_flight = false;
                last_save_failed = None;
                bar.suspend(|| say!("saved step {step} to {}", path.display()))
            }
            Event::SaveFailed { path, error } => {
                save_in_flight = false;
                bar.suspend(|| say!("save to {} failed: {error}", path.display()));
                last_save_failed = Some(format!("saving to {}: {error}", path.display()));
            }
            // Informational: the run goes on.
            Event::Warning(w) => bar.suspend(|| say!("warning: {w}")),
            Event::Diverged {
                step,
                loss,
                value,
                last_good_step,
            } => {
                let kept = kept_in(last_good_step);
                outcome = Some(Fatal {
                    code: EXIT_DIVERGED,
                    message: format!(
                        "training diverged at step {step}: {loss} = {value}; {kept}. Try a lower \
                         --lr (with --resume to continue from the checkpoint)"
                    ),
                });
                break;
            }
            Event::RemoteLost {
                server,
                error,
                last_good_step,
            } => {
                let kept = kept_in(last_good_step);
                outcome = Some(Fatal {
                    code: crate::EXIT_REMOTE_LOST,
                    message: format!(
                        "the server at {server} stopped answering ({error}); {kept}. When it is \
                         back, continue with the same command and --resume"
                    ),
                });
                break;
            }
            Event::Failed(e) => {
                outcome = Some(Fatal {
                    code: 1,
                    message: format!("training failed: {e}"),
                });
                break;
            }
            Event::Finished { step } => {
                bar.finish();
                finished_at = Some(step);
                let secs = started.elapsed().as_secs_f64();
                let median = latentlab::types::stats::median(&rates);
                say!("finished at step {step} in {secs:.1} s (median {median:.0} examples/s)");
                break;
            }
            _ => {}
        }
    }
    handle.shutdown();
    if let Some(f) = outcome {
        return Err(f.into());
    }
    if let Some(e) = last_save_failed {
        bail!("the run was not saved: {e}");
    }
    let Some(final_step) = finished_at else {
        bail!("the training thread ended without finishing the run");
    };
    if final_step < total && interrupted.load(std::sync::atomic::Ordering::SeqCst) > 0 {
        return Err(Fatal {
            code: EXIT_INTERRUPTED,
            message: format!(
                "interrupted before step {total}; the run so far is saved in {}",
                a.out.display()
            ),
        }
        .into());
    }
    Ok(())
}

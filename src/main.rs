//! The `latentlab` command line: the desktop app (no subcommand), and train, sample, bench,
//! score and inspect for scripts and machines without a display.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use latentlab::checkpoint;
use latentlab::data::DataSource;
use latentlab::device::DeviceChoice;
use latentlab::export;
use latentlab::model::{IMAGE_SIZE, ModelKind};
use latentlab::train::objective::Loss;
use latentlab::train::{Command, Event, RunSpec, TrainConfig, TrainingHandle};
use latentlab::types::{grid, noise};
use std::path::PathBuf;
use std::sync::Arc;

/// `eprintln!` that cannot panic: stderr may be a closed terminal (after SIGHUP) or a broken
/// pipe, and a message must never cost the run its save.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

// Training frees and re-allocates the same large buffers every step; glibc's malloc returns
// them to the OS and page-faults them back in, mimalloc keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "latentlab",
    version,
    about = "Train and explore generative image models (GANs and VAEs) on the CPU or a GPU",
    long_about = "Train and explore generative image models (GANs and VAEs).\n\n\
        With no subcommand, the desktop app opens.\n\n\
        Quick start:\n  \
        latentlab train --model cdcgan --steps 3000 --out runs/digits\n  \
        latentlab sample --checkpoint runs/digits --label 7 --n 64 --cols 8 --out sevens.png\n  \
        latentlab inspect runs/digits",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

const EXIT_CODES: &str = "Exit codes:\n  \
    0    done as asked\n  \
    1    error: bad input, or a load, save or score that failed (nothing was overwritten)\n  \
    2    usage error (unknown flag or bad value)\n  \
    3    training diverged (a loss became NaN or infinite); the last good checkpoint is kept\n  \
    130  interrupted by Ctrl-C, SIGTERM or SIGHUP after saving; a second signal exits at once \
    without saving (the last good checkpoint is kept)\n\n\
    Your files: `train --out DIR` creates a run directory. An existing run there is continued \
    with --resume or replaced with --force; without either, train refuses before it starts. A \
    directory that is not a latentlab run is never written into.";

/// An error that ends the program with a specific exit code (see `EXIT_CODES`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Fatal {
    code: i32,
    message: String,
}

const EXIT_DIVERGED: i32 = 3;
use latentlab::signals::EXIT_INTERRUPTED;

#[derive(Subcommand)]
enum Cmd {
    /// Train a model and save it as a run directory (Ctrl-C, SIGTERM and SIGHUP save and exit).
    #[command(after_help = EXIT_CODES)]
    Train(TrainArgs),
    /// Generate a grid of images from a saved run.
    Sample(SampleArgs),
    /// Measure training throughput and generator latency (median of several timed runs).
    Bench(BenchArgs),
    /// Rate a saved generator with the data set's classifier: per-label accuracy (conditional
    /// models), class coverage and a Frechet distance to real images.
    Score(ScoreArgs),
    /// Train the quality meter's classifier for a data set (held-out accuracy is reported).
    Classifier(ClassifierArgs),
    /// Describe a saved run (a directory, or a shipped run's name such as mnist-cdcgan).
    Inspect {
        /// The run directory (as written by `train --out`), or a shipped run's name.
        dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Model family: mlp, dcgan (DCGAN-28), cmlp / cdcgan (conditional on the class), vae.
    #[arg(long, value_enum, default_value = "dcgan")]
    model: ModelKind,
    /// GAN objective (ignored by the VAE).
    #[arg(long, value_enum, default_value = "nonsat")]
    loss: Loss,
    /// `default` (5,000 embedded MNIST digits), `fashion` (Debian's dataset-fashion-mnist),
    /// or a directory of IDX files or of one image sub-folder per class.
    #[arg(long, default_value = "default")]
    data: DataSource,
    /// Steps to run in this invocation (one step = one D and one G update, or one VAE update).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1 << 40))]
    steps: u64,
    /// Examples per batch (1 to 4096).
    #[arg(long, default_value_t = 64, value_parser = batch_size)]
    batch: usize,
    /// Learning rate of both networks (default: 2e-4 for GANs, 1e-4 for WGAN-GP, 1e-3 for the
    /// VAE). With --resume it replaces the saved learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Seed for initialisation, noise and data order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// auto: wgpu on a real GPU, the CPU otherwise; cpu: burn's flex backend; wgpu: force wgpu.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceChoice,
    /// Report a fixed-noise sample grid (saved as samples.png in the run) every K steps.
    #[arg(long, default_value_t = 100)]
    sample_every: u64,
    /// Latent size (default 100 for GANs, 2 for the VAE).
    #[arg(long)]
    latent: Option<usize>,
    /// Base width of the networks (default: 64 for DCGAN-28, 256 for the MLPs, 32 for the VAE).
    #[arg(long)]
    width: Option<usize>,
    /// Run directory to write (created; a run there is replaced crash-safely at each save). A
    /// directory that holds other files is refused.
    #[arg(long)]
    out: PathBuf,
    /// Continue the run already in --out (its config wins over the flags above, except --lr).
    #[arg(long, conflicts_with = "force")]
    resume: bool,
    /// Replace the run already in --out with a fresh one.
    #[arg(long)]
    force: bool,
    /// Also save a checkpoint every N steps (0: only at the end).
    #[arg(long, default_value_t = 0)]
    save_every: u64,
    /// Rate the generator with the quality meter every N steps (0: never).
    #[arg(long, default_value_t = 0)]
    score_every: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BenchDevice {
    Cpu,
    Wgpu,
    All,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Models to measure, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "mlp,dcgan,cdcgan,vae"
    )]
    models: Vec<ModelKind>,
    /// cpu (burn flex), wgpu (a real GPU), or all (both; wgpu skipped when there is no GPU).
    #[arg(long, value_enum, default_value = "cpu")]
    device: BenchDevice,
    /// Examples per training step (1 to 4096).
    #[arg(long, default_value_t = 64, value_parser = batch_size)]
    batch: usize,
    /// Training steps per timed run.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    steps: u64,
    /// Timed runs per measurement; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    runs: u64,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// First measure each GAN with the work-saving step options off, as the reference row.
    #[arg(long)]
    baseline: bool,
}

#[derive(clap::Args)]
struct ScoreArgs {
    /// Run directory to rate.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Images to generate (an equal share per label for conditional models; 2 to 100000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(2..=100_000))]
    n: u64,
    /// Classifier directory (default: the shipped one for the run's data set).
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Seed of the latent noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[derive(clap::Args)]
struct ClassifierArgs {
    /// Data set, as for `train`.
    #[arg(long, default_value = "default")]
    data: DataSource,
    /// Training steps of batch 64.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    steps: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory to write (classifier.bpk and classifier.json).
    #[arg(long)]
    out: PathBuf,
    /// Replace the classifier already in --out.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct SampleArgs {
    /// Run directory to sample from.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Number of images (1 to 4096).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    n: u64,
    /// Columns in the grid (images are separated by 2-pixel gaps).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=4096))]
    cols: u64,
    /// Class label for conditional models (0-based index; default: cycle through the classes).
    #[arg(long)]
    label: Option<usize>,
    /// Seed of the latent noise: the same seed writes a byte-identical file.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// PNG file to write (an existing file is kept unless --force).
    #[arg(long)]
    out: PathBuf,
    /// Overwrite --out if it exists.
    #[arg(long)]
    force: bool,
}

fn batch_size(s: &str) -> Result<usize, String> {
    let max = checkpoint::MAX_BATCH;
    match s.parse::<usize>() {
        Ok(b) if (1..=max).contains(&b) => Ok(b),
        _ => Err(format!("`{s}` is not a batch size from 1 to {max}")),
    }
}

fn main() {
    // Before any thread starts: these set process-wide state.
    latentlab::device::pin_default_device_to_cpu();
    latentlab::device::configure_cpu_threads();
    if let Err(e) = run() {
        let code = e.downcast_ref::<Fatal>().map_or(1, |f| f.code);
        say!("error: {e:#}");
        std::process::exit(code);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::Train(a)) => train(a),
        Some(Cmd::Sample(a)) => sample(a),
        Some(Cmd::Inspect { dir }) => inspect(&checkpoint::shipped::resolve(&dir)),
        Some(Cmd::Bench(a)) => bench(a),
        Some(Cmd::Score(a)) => score(a),
        Some(Cmd::Classifier(a)) => classifier(a),
        None => latentlab::ui::run(latentlab::ui::AppOptions::for_launch()),
    }
}

/// Refuse `--out` before any work when writing there could lose something; returns the step a
/// resumed run starts from.
fn check_out(a: &TrainArgs) -> Result<u64> {
    use checkpoint::replace::{self, Target};
    let out = &a.out;
    replace::recover(out, checkpoint::MANIFEST)?;
    let found = replace::target(out, checkpoint::MANIFEST, checkpoint::RUN_FILES)?;
    match (found, a.resume) {
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
            Ok(m.step)
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
        _ => Ok(0),
    }
}

fn train(a: TrainArgs) -> Result<()> {
    let start_step = check_out(&a)?;
    if let Some(lr) = a.lr
        && !(lr.is_finite() && lr > 0.0 && (lr as f32).is_finite())
    {
        bail!("--lr must be a positive finite number (got {lr})");
    }
    let data = a
        .data
        .load(IMAGE_SIZE)
        .with_context(|| format!("loading data set `{}`", a.data))?;
    let mut config = TrainConfig::new(a.model, a.loss, data.num_classes());
    config.batch = a.batch;
    config.seed = a.seed;
    config.sample_every = a.sample_every;
    if let Some(lr) = a.lr {
        config.lr_g = lr;
        config.lr_d = lr;
    }
    if let Some(l) = a.latent {
        config.model.latent_dim = l;
    }
    if let Some(w) = a.width {
        config.model.width = w;
    }
    say!(
        "data: {} ({} images {}x{}, {} classes)",
        data.name,
        data.len(),
        data.width,
        data.height,
        data.num_classes()
    );
    let total = start_step.saturating_add(a.steps);
    let spec = RunSpec {
        config,
        data: Arc::new(data),
        data_source: a.data.to_string(),
        device: a.device,
        resume_from: a.resume.then(|| a.out.clone()),
        out_dir: Some(a.out.clone()),
        max_steps: Some(total),
        autostart: true,
        score_every: a.score_every,
        classifier: None,
        lr_override: a.lr.filter(|_| a.resume).map(|lr| (lr, lr)),
    };
    let handle = TrainingHandle::spawn(None).context("starting the training thread")?;
    // The first signal stops and saves; a second exits at once, leaving the last complete
    // checkpoint as it is.
    let interrupted = {
        let stop = handle.commands.clone();
        latentlab::signals::on_termination(move |n| {
            if n == 1 {
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
    let mut finished_at = None;
    let mut rates = Vec::new();
    // From the run itself once it has started (a resumed run keeps its own model).
    let mut vae = a.model == ModelKind::Vae;
    for event in handle.events.iter() {
        match event {
            Event::Started {
                device,
                step,
                model,
                ..
            } => {
                vae = model.kind == ModelKind::Vae;
                bar.suspend(|| {
                    say!(
                        "device: {device}\nmodel: {} (latent {}, width {}), from step {step}",
                        model.kind.name(),
                        model.latent_dim,
                        model.width
                    )
                });
            }
            Event::Step(m) => {
                bar.set_position(m.step);
                rates.push(f64::from(m.examples_per_sec));
                bar.set_message(if vae {
                    format!(
                        "reconstruction {:.2}  KL {:.2}  {:.0} ex/s",
                        m.reconstruction(),
                        m.kl(),
                        m.examples_per_sec
                    )
                } else {
                    format!(
                        "loss_D {:.3}  loss_G {:.3}  D(x) {:.2}  D(G(z)) {:.2}  {:.0} ex/s",
                        m.loss_d, m.loss_g, m.d_real, m.d_fake_after, m.examples_per_sec
                    )
                });
                if a.save_every > 0 && m.step.is_multiple_of(a.save_every) && m.step < total {
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
            Event::Saved { path, step } => {
                last_save_failed = None;
                bar.suspend(|| say!("saved step {step} to {}", path.display()))
            }
            Event::SaveFailed { path, error } => {
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
                let kept = format!(
                    "{} (in {})",
                    latentlab::train::messages::kept_text(last_good_step),
                    a.out.display()
                );
                outcome = Some(Fatal {
                    code: EXIT_DIVERGED,
                    message: format!(
                        "training diverged at step {step}: {loss} = {value}; {kept}. Try a lower \
                         --lr (with --resume to continue from the checkpoint)"
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

fn sample(a: SampleArgs) -> Result<()> {
    let (n, cols) = (a.n as usize, a.cols as usize);
    let dir = checkpoint::shipped::resolve(&a.checkpoint);
    // Sampling always runs on the CPU so the same seed gives the same bytes everywhere.
    let device = burn::tensor::Device::flex();
    let (manifest, g) = checkpoint::load_generator(&dir, &device)
        .with_context(|| format!("loading checkpoint {}", a.checkpoint.display()))?;
    let model = manifest.model();
    let labels = match (a.label, model.kind.is_conditional()) {
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
    };
    let z = noise::gaussian(a.seed, n * model.latent_dim);
    let values = latentlab::model::generate_with(&g, model, &device, &z, labels.as_deref())?;
    let grid = grid::grid(&values, n, model.image_size, cols);
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
    if a.out.exists() && !a.force {
        bail!(
            "{} already exists; pass --force to overwrite it (nothing was changed)",
            a.out.display()
        );
    }
    export::write_png(&a.out, &grid, &meta)?;
    println!(
        "wrote {} ({}x{} px, {} images)",
        a.out.display(),
        grid.width,
        grid.height,
        n
    );
    Ok(())
}

fn bench(a: BenchArgs) -> Result<()> {
    use latentlab::bench::{self, BenchError, BenchOptions};
    let devices = match a.device {
        BenchDevice::Cpu => vec![DeviceChoice::Cpu],
        BenchDevice::Wgpu => vec![DeviceChoice::Wgpu],
        BenchDevice::All => vec![DeviceChoice::Cpu, DeviceChoice::Wgpu],
    };
    let opts = BenchOptions {
        models: a.models.clone(),
        devices: devices.clone(),
        batch: a.batch,
        steps: a.steps as usize,
        runs: a.runs as usize,
        ..BenchOptions::default()
    };
    say!(
        "warm-up {} steps, then the median of {} runs of {} steps; generator latency includes \
         the read-back and the conversion to an image",
        opts.warmup,
        opts.runs,
        opts.steps
    );
    let mut runs = Vec::new();
    for &device in &devices {
        let plans = opts.models.iter().flat_map(|&m| {
            let base = (a.baseline && m.is_gan()).then_some((m, bench::Speedups::NONE));
            base.into_iter().chain([(m, bench::Speedups::ALL)])
        });
        for (model, speedups) in plans {
            match bench::bench_one(model, device, &opts, speedups) {
                Ok(r) => {
                    say!(
                        "{} on {}: {:.1} examples/s",
                        r.model,
                        r.device_name,
                        r.train_examples_per_sec
                    );
                    runs.push(r);
                }
                Err(BenchError::NoGpu(why)) if a.device == BenchDevice::All => {
                    say!("skipping wgpu: no real GPU ({why})");
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    print!("{}", bench::table(&runs));
    if let Some(path) = a.json {
        let text = serde_json::to_string_pretty(&bench::BenchReport { runs })?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        say!("wrote {}", path.display());
    }
    Ok(())
}

fn classifier(a: ClassifierArgs) -> Result<()> {
    use checkpoint::replace::{self, Target};
    use latentlab::quality;
    replace::recover(&a.out, quality::CLASSIFIER_MANIFEST)?;
    let found = replace::target(
        &a.out,
        quality::CLASSIFIER_MANIFEST,
        quality::CLASSIFIER_FILES,
    )?;
    if found == Target::Owned && !a.force {
        bail!(
            "{} already holds a classifier; pass --force to replace it (nothing was changed)",
            a.out.display()
        );
    }
    let data = a
        .data
        .load(IMAGE_SIZE)
        .with_context(|| format!("loading data set `{}`", a.data))?;
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
    quality::save_classifier(&a.out, &c, &info)?;
    println!(
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

fn score(a: ScoreArgs) -> Result<()> {
    use latentlab::quality;
    let device = burn::tensor::Device::flex();
    let run = checkpoint::shipped::resolve(&a.checkpoint);
    let (manifest, g) = checkpoint::load_generator(&run, &device)
        .with_context(|| format!("loading checkpoint {}", run.display()))?;
    let dir = a
        .classifier
        .clone()
        .unwrap_or_else(|| quality::shipped_classifier_dir(&manifest.data.name));
    if !dir.join(quality::CLASSIFIER_MANIFEST).is_file() {
        return Err(quality::QualityError::NoClassifier {
            data: manifest.data.name.clone(),
            searched: dir.display().to_string(),
        }
        .into());
    }
    let meter = quality::load_classifier(&dir, &device)
        .with_context(|| format!("loading classifier {}", dir.display()))?;
    let info = &meter.info;
    let source: DataSource = manifest.data.source.parse()?;
    let real = source
        .load(IMAGE_SIZE)
        .with_context(|| format!("loading the real images of `{source}`"))?;
    let s = quality::score_generator(
        &g,
        manifest.model(),
        &meter,
        &real,
        a.n as usize,
        a.seed,
        &device,
    )?;
    println!(
        "{} ({} steps) rated by the {} classifier (held-out accuracy {:.1}%) on {} images:",
        a.checkpoint.display(),
        manifest.step,
        info.data,
        100.0 * info.heldout_accuracy,
        s.n
    );
    if let (Some(per), Some(all)) = (&s.per_label, s.overall_accuracy) {
        for (name, acc) in per {
            println!("  label {name:<12} accuracy {:5.1}%", 100.0 * acc);
        }
        println!("  overall            accuracy {:5.1}%", 100.0 * all);
    }
    println!(
        "  classes covered {}/{}; predicted-class entropy {:.2} bits (max {:.2})",
        s.classes_covered,
        s.classes,
        s.entropy_bits,
        (s.classes as f32).log2()
    );
    println!(
        "  Frechet distance to real held-out images: {:.2} (latentlab classifier features; comparable only between latentlab runs)",
        s.frechet
    );
    if !s.frechet.is_finite() {
        bail!("the generator produced non-finite images, so it cannot be scored");
    }
    Ok(())
}

fn inspect(dir: &std::path::Path) -> Result<()> {
    let m =
        checkpoint::read_manifest(dir).with_context(|| format!("inspecting {}", dir.display()))?;
    let t = &m.train;
    let model = &t.model;
    println!("run directory {}", dir.display());
    if let Some((name, origin)) = checkpoint::shipped::describe(dir) {
        println!("  shipped:   {name}, found in {origin}");
    }
    println!(
        "  model:     {} (latent size {}, width {}{})",
        model.kind.name(),
        model.latent_dim,
        model.width,
        if model.kind.is_conditional() {
            format!(", conditional on {} classes", model.num_classes)
        } else {
            String::new()
        }
    );
    if model.kind.is_gan() {
        println!("  loss:      {}", t.loss.name());
    }
    println!(
        "  data:      {} from `{}` ({} images {}x{}); classes: {}",
        m.data.name,
        m.data.source,
        m.data.len,
        m.data.width,
        m.data.height,
        m.class_names.join(", ")
    );
    println!(
        "  trained:   {} steps, {} examples seen, batch {}, lr G {} / D {}, Adam betas ({}, {}), seed {}",
        m.step, m.examples_seen, t.batch, t.lr_g, t.lr_d, t.beta1, t.beta2, t.seed
    );
    if let Some(last) = m.history.last() {
        if model.kind.is_gan() {
            println!(
                "  last step: loss_D {:.4}, loss_G {:.4}, D(x) {:.3}, D(G(z)) {:.3}, {:.0} examples/s",
                last.loss_d, last.loss_g, last.d_real, last.d_fake_after, last.examples_per_sec
            );
        } else {
            println!(
                "  last step: reconstruction {:.2}, KL {:.2} (per image), {:.0} examples/s",
                last.reconstruction(),
                last.kl(),
                last.examples_per_sec
            );
        }
    }
    println!(
        "  format:    version {}, written by latentlab {} at unix time {}",
        m.format_version, m.crate_version, m.created_unix_secs
    );
    Ok(())
}

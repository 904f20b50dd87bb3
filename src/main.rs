//! The `latentlab` command line: the desktop app (no subcommand), and train, sample, bench,
//! score and inspect for scripts and machines without a display.

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};
use latentlab::checkpoint;
use latentlab::data::DataSource;
use latentlab::model::ModelKind;
use latentlab::train::RunOptions;
use std::path::PathBuf;

/// `eprintln!` that cannot panic: stderr may be a closed terminal (after SIGHUP) or a broken
/// pipe, and a message must never cost the run its save.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `println!` that cannot panic: a command's result line, flushed; a closed pipe ends the
/// command quietly and a full stdout is an error (see `cli::output`). Use inside a function
/// returning `anyhow::Result`.
macro_rules! out {
    () => {
        $crate::cli::output::line(format_args!(""))?
    };
    ($($arg:tt)*) => {
        $crate::cli::output::line(format_args!($($arg)*))?
    };
}

mod cli;
use cli::values::{BenchDevice, bench_device, class_pair, level_range, psi, remote_address};

// Training frees and re-allocates the same large buffers every step; glibc's malloc returns
// them to the OS and page-faults them back in, mimalloc keeps them (see `keep_freed_memory`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tells mimalloc never to hand freed memory back to the OS. By default it does so after a
/// delay, and a training step's buffers then come back as fresh pages the kernel must zero: with
/// the default, 500 more DCGAN and VAE steps cost 57,000 more page faults, and zeroing pages took
/// 10% of the VAE's CPU time. Memory stays at the run's peak, which is unchanged (DCGAN's bench:
/// 190 MiB peak RSS either way).
fn keep_freed_memory() {
    // mimalloc.h (v3, as vendored by libmimalloc-sys 0.1.49): `mi_option_purge_delay` is the
    // 16th option, default 1000 (ms, in options.c), and -1 means "never purge". The crate
    // exports no constant for it.
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    const DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 1000;
    unsafe extern "C" {
        fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return; // the user's own setting wins
    }
    // SAFETY: mimalloc's documented option getter and setter, linked in with the allocator
    // itself; they only read and store the value, and run before any other thread starts.
    // Only an option at the purge delay's default is changed, so a renumbered enum in another
    // mimalloc leaves its options alone rather than setting the wrong one.
    unsafe {
        if mi_option_get(MI_OPTION_PURGE_DELAY) == DEFAULT_PURGE_DELAY_MS {
            mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

#[derive(Parser)]
#[command(
    name = "latentlab",
    version,
    about = "Train and explore generative image models (GANs, VAEs and Boltzmann machines) on the CPU or a GPU",
    long_about = "Train and explore generative image models (GANs, VAEs and Boltzmann machines).\n\n\
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
    4    the remote server (--device remote:...) stopped answering mid-run; the last good \
    checkpoint is kept (--save-every N bounds what is lost), and --resume continues from it\n  \
    130  interrupted by Ctrl-C, SIGTERM or SIGHUP: train saves first (a second signal exits at \
    once without saving; the last good checkpoint is kept); other commands stop at once and \
    write nothing\n\n\
    A closed pipe on standard output (`latentlab inspect | head -1`) ends a command quietly \
    with 0; a full one (`> /dev/full`) is an error (1).\n\n\
    Your files: `train --out DIR` creates a run directory. An existing run there is continued \
    with --resume (on the run's own data) or replaced with --force; without either, train \
    refuses before it starts. A directory that is not a latentlab run is never written into, \
    and one in use by another latentlab process is refused, naming it. An --out file is \
    replaced only with --force, and only if it is a regular file.";

/// An error that ends the program with a specific exit code (see `EXIT_CODES`).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Fatal {
    code: i32,
    message: String,
}

const EXIT_DIVERGED: i32 = 3;
const EXIT_REMOTE_LOST: i32 = 4;
use latentlab::signals::EXIT_INTERRUPTED;

#[derive(Subcommand)]
enum Cmd {
    /// Open the desktop app (the same as no subcommand), optionally on a checkpoint, with the
    /// Train form set by train flags, or starting a run at once (--start).
    App(AppArgs),
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
    /// Ask a discriminator whether images are real: prints PATH<TAB>P(real) per image.
    Detect(DetectArgs),
    /// Train a dedicated real/fake detector on real images against one generator's fakes.
    Detector(DetectorArgs),
    /// Principal directions of a generator's latent space (GANSpace PCA; for a VAE, PCA of the
    /// encoded data) and attribute vectors, written as JSON for `sample --edit` and the app.
    Directions(DirectionsArgs),
    /// Find the latent of a real image: a VAE's encoder, or for a GAN Adam on z from several
    /// random starts. Writes the reconstruction with its latent in the PNG metadata.
    Encode(EncodeArgs),
    /// Enlarge pictures with a super-resolution run (`train --model srgan`), 2x or 4x.
    Upscale(cli::upscale::UpscaleArgs),
    /// Translate pictures between a CycleGAN run's two sets (`train --model cyclegan`).
    Translate(cli::upscale::TranslateArgs),
    /// Serve this machine's CPU or GPU to other machines' latentlab (`--device remote:...`)
    /// until Ctrl-C or SIGTERM.
    #[cfg(feature = "remote")]
    Serve(cli::serve::ServeArgs),
    /// Describe a saved run (a directory, or a shipped run's name such as mnist-cdcgan).
    Inspect {
        /// The run directory (as written by `train --out`), or a shipped run's name.
        dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct AppArgs {
    /// Start training as soon as the window opens, with the train flags below (or the
    /// remembered Train settings when none is given).
    #[arg(long)]
    start: bool,
    /// Open this run directory (or a shipped run's name) in Explore.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Train flags, as for `latentlab train`: when any differs from its default, they replace
    /// the remembered Train settings.
    #[command(flatten)]
    run: RunOptions,
}

#[derive(clap::Args)]
struct TrainArgs {
    #[command(flatten)]
    run: RunOptions,
    /// Steps to run in this invocation (one step = one D and one G update, or one VAE update).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1 << 40))]
    steps: u64,
    /// Run directory to write (created; a run there is replaced crash-safely at each save). A
    /// directory that holds other files is refused.
    #[arg(long)]
    out: PathBuf,
    /// Continue the run already in --out (its config wins over the flags above, except the
    /// learning rates).
    #[arg(long, conflicts_with = "force")]
    resume: bool,
    /// Replace the run already in --out with a fresh one.
    #[arg(long)]
    force: bool,
    /// Also save a checkpoint every N steps (0: only at the end).
    #[arg(long, default_value_t = 0)]
    save_every: u64,
    /// Whether --data was given on the command line (not a flag: set from the parse).
    #[arg(skip)]
    data_given: bool,
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
    /// cpu (burn flex), wgpu (a real GPU), all (both; wgpu skipped when there is no GPU), or
    /// remote:ws://HOST:PORT (the same as --remote, alone).
    #[arg(long, default_value = "cpu", value_parser = bench_device)]
    device: BenchDevice,
    /// Examples per training step (1 to 4096).
    #[arg(long, default_value_t = 64, value_parser = latentlab::train::options::batch_size)]
    batch: usize,
    /// Training steps per timed run.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    steps: u64,
    /// Timed runs per measurement; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1000))]
    runs: u64,
    /// Image side of the synthetic data and the models (16 to 128 in steps of 4).
    #[arg(long, default_value_t = 28, value_parser = latentlab::train::options::image_side)]
    size: usize,
    /// 1 (grey) or 3 (colour).
    #[arg(long, default_value_t = 1, value_parser = latentlab::train::options::channel_count)]
    channels: usize,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also measure each model through a `latentlab serve` server at ws://HOST:PORT (or
    /// iroh:ID), beside the same step on the CPU here, and print the per-step overhead.
    #[arg(long, value_name = "ADDRESS", value_parser = remote_address)]
    remote: Option<String>,
    /// The remote server's token file (when LATENTLAB_TOKEN is not set).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// First measure each GAN and the VAE with the work-saving step options (and the CPU kernels)
    /// off, as the reference row.
    #[arg(long)]
    baseline: bool,
    /// Skip the PyTorch side (tests/reference/pytorch_ref.py, run after each model when
    /// python3 can import torch; skipped with a message otherwise).
    #[arg(long)]
    no_pytorch: bool,
    /// The Python that runs the PyTorch side.
    #[arg(long, default_value = "python3")]
    python: String,
    /// PyTorch's threads (default: the CPU cores).
    #[arg(long)]
    torch_threads: Option<usize>,
}

#[derive(clap::Args)]
struct ScoreArgs {
    #[command(flatten)]
    compute: cli::DeviceArgs,
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
    /// Boltzmann machines: Gibbs steps each chain runs from noise (default: the run's, 500
    /// unless it was trained with --sample-gibbs).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    gibbs: Option<u64>,
}

#[derive(clap::Args)]
struct ClassifierArgs {
    /// Data set, as for `train`.
    #[arg(long, default_value = "default")]
    data: DataSource,
    /// Image side, as for `train` (default: the data's own); it must be the side of the runs
    /// it will score.
    #[arg(long, value_parser = latentlab::train::options::image_side)]
    size: Option<usize>,
    /// 1 or 3, as for `train` (default: the data's own).
    #[arg(long, value_parser = latentlab::train::options::channel_count)]
    channels: Option<usize>,
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
struct DetectArgs {
    #[command(flatten)]
    compute: cli::DeviceArgs,
    /// A GAN run (its discriminator is asked) or a detector directory from `latentlab detector`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The class to judge the images as, for a conditional D (default: every class, keeping
    /// the most real-looking, which is printed as a third column).
    #[arg(long)]
    label: Option<usize>,
    /// 28x28 images (PNG or JPEG; colour is converted to grayscale as the data loader does).
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

#[derive(clap::Args)]
struct DetectorArgs {
    #[command(flatten)]
    compute: cli::DeviceArgs,
    /// The GAN run whose generator makes the fakes.
    #[arg(long)]
    fakes_from: PathBuf,
    /// The real images, as for `train` (default: the run's own data set).
    #[arg(long)]
    data: Option<DataSource>,
    /// Training steps (32 real and 32 fake images each).
    #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    steps: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Directory to write (detector.bpk and detector.json).
    #[arg(long)]
    out: PathBuf,
    /// Replace the detector already in --out.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct SampleArgs {
    #[command(flatten)]
    compute: cli::DeviceArgs,
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
    /// InfoGAN: the categorical code's value for every image (default: cycle through them).
    #[arg(long)]
    code: Option<usize>,
    /// InfoGAN: the continuous codes' values, comma-separated (default: all 0; training drew
    /// them from [-1, 1]).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    cont: Option<Vec<f32>>,
    /// Seed of the latent noise: the same seed writes a byte-identical file.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Boltzmann machines (rbm, dbn, dbm): Gibbs steps each chain runs from noise before its
    /// image is taken (default: the run's, 500 unless it was trained with --sample-gibbs).
    /// A DBN with label units takes --label to clamp a class.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    gibbs: Option<u64>,
    /// Move every latent AMOUNT sigmas along direction INDEX of a file from `latentlab
    /// directions` (repeatable; recorded in the PNG metadata).
    #[arg(
        long,
        value_name = "FILE.json:INDEX=AMOUNT",
        allow_hyphen_values = true
    )]
    edit: Vec<latentlab::explore::directions::Edit>,
    /// stylegan: move each w toward the average w, `w_avg + PSI (w - w_avg)`, -1 to 2 (1: off;
    /// 0: the average image; below 1 trades variety for typical images).
    #[arg(long, value_name = "PSI", allow_hyphen_values = true, value_parser = psi, help_heading = "Style generator (stylegan)")]
    truncation: Option<f64>,
    /// stylegan: truncate only the levels below L (0 is the coarsest; default: all).
    #[arg(long, value_name = "L", help_heading = "Style generator (stylegan)")]
    cutoff: Option<usize>,
    /// stylegan: a second source whose styles the images take at --mix-layers: the latent
    /// noise of this seed (the same row for each image).
    #[arg(long, value_name = "SEED", help_heading = "Style generator (stylegan)")]
    mix_from: Option<u64>,
    /// stylegan: the levels (A..B, end excluded; 0 the coarsest) whose style comes from
    /// --mix-from (default 0..2: the coarse levels).
    #[arg(long, value_name = "A..B", value_parser = level_range, help_heading = "Style generator (stylegan)")]
    mix_layers: Option<std::ops::Range<usize>>,
    /// stylegan: seed of the per-pixel noise (default 0).
    #[arg(long, value_name = "SEED", help_heading = "Style generator (stylegan)")]
    noise_seed: Option<u64>,
    /// PNG file to write (an existing file is kept unless --force).
    #[arg(long)]
    out: PathBuf,
    /// Overwrite --out if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct DirectionsArgs {
    #[command(flatten)]
    compute: cli::DeviceArgs,
    /// Run directory (or a shipped run's name such as mnist-dcgan).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Latents sampled (GAN), or data images encoded (VAE); 10 to 100000.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(10..=100_000))]
    n: u64,
    /// Principal directions to keep (0: only --attribute vectors).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=512))]
    k: u64,
    /// Conditional models: the class every sample takes (default 0).
    #[arg(long)]
    label: Option<usize>,
    /// InfoGAN: the categorical code every sample takes (default 0; continuous codes 0).
    #[arg(long)]
    code: Option<usize>,
    /// Also an attribute vector FROM:TO ("more like class TO than FROM"), from the shipped
    /// classifier's labels of --n generated images (unconditional models; repeatable).
    #[arg(long, value_parser = class_pair)]
    attribute: Vec<(usize, usize)>,
    /// The latent the directions move: z (every generator; for stylegan, the principal
    /// directions of W carried back to z) or w (stylegan: principal directions of W, added to
    /// w at every level).
    #[arg(long, value_enum, default_value_t = latentlab::explore::directions::DirSpace::Z)]
    space: latentlab::explore::directions::DirSpace,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// JSON file to write (an existing file is kept unless --force).
    #[arg(long)]
    out: PathBuf,
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct EncodeArgs {
    #[command(flatten)]
    compute: cli::DeviceArgs,
    /// Run directory (or a shipped run's name).
    #[arg(long)]
    checkpoint: PathBuf,
    /// A picture (PNG, JPEG, WebP, BMP or GIF), centre-cropped and resized to the model's side,
    /// and made grey for a grey model.
    #[arg(conflicts_with = "data_index")]
    image: Option<PathBuf>,
    /// Instead of a file: image I of the run's own data set.
    #[arg(long)]
    data_index: Option<usize>,
    /// Adam steps on z (GANs).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    steps: u64,
    /// Random starts, optimised together; the best is kept (GANs).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    restarts: u64,
    /// The latent to find: z, or for a style generator W (one w for every level) or W+ (one
    /// w per level: a closer fit).
    #[arg(long, value_enum, default_value = "z")]
    space: latentlab::explore::project::Space,
    /// Conditional models: the image's class (required).
    #[arg(long)]
    label: Option<usize>,
    /// InfoGAN: the categorical code to hold fixed (default 0).
    #[arg(long)]
    code: Option<usize>,
    /// Seed of the random starts.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// PNG to write: the reconstruction (an existing file is kept unless --force).
    #[arg(long)]
    out: PathBuf,
    #[arg(long)]
    force: bool,
}

fn main() {
    // Before any thread starts: these set process-wide state. A server outlives its sessions,
    // each on threads of its own: it gives freed memory back (with the delay, measured: 20
    // client sessions grew a never-purging server by up to 41 MB).
    if std::env::args_os().nth(1).is_none_or(|a| a != "serve") {
        keep_freed_memory();
    } else if std::env::var_os("RUST_LOG").is_none() {
        // burn's server logs at info; its line naming the private loopback port behind
        // `serve`'s front door would read as the address to connect to.
        // SAFETY: called at start-up while the process is single-threaded.
        unsafe {
            std::env::set_var(
                "RUST_LOG",
                "info,wgpu=warn,burn_communication::websocket::server=warn",
            )
        };
    }
    latentlab::device::pin_default_device_to_cpu();
    latentlab::device::configure_cpu_threads();
    if let Err(e) = run() {
        if e.downcast_ref::<cli::output::StdoutClosed>().is_some() {
            // The reader of a pipe took what it wanted (`| head -1`): not an error.
            std::process::exit(0);
        }
        let code = e.downcast_ref::<Fatal>().map_or(1, |f| f.code);
        say!("error: {}", cli::describe(&e));
        std::process::exit(code);
    }
}

/// `latentlab app`'s flags as the app's start options.
#[cfg(feature = "app")]
fn app_options(a: AppArgs) -> Result<latentlab::ui::AppOptions> {
    let mut options = latentlab::ui::AppOptions::for_launch();
    if let Some(dir) = a.checkpoint {
        let dir = checkpoint::shipped::resolve(&dir);
        // Refused here, with the reason, rather than as a notice in a window.
        checkpoint::read_manifest(&dir).with_context(|| format!("opening {}", dir.display()))?;
        options.open_checkpoint = Some(dir);
    }
    if a.run != RunOptions::default() {
        options.run = Some(a.run);
    }
    options.autostart = a.start;
    Ok(options)
}

/// Commands other than `train` and the app have nothing to save half-way: a termination
/// signal stops them at once with the documented 130, and whatever they were writing is
/// crash-safe (the old file or directory stays, or the new one is complete).
fn stop_on_signal() -> Result<()> {
    latentlab::signals::on_termination(|_| {
        say!("\ninterrupted; nothing more was written");
        latentlab::signals::exit_now();
    })
    .context("installing the signal handler")?;
    Ok(())
}

fn run() -> Result<()> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(Cmd::Train(a)) = &mut cli.command {
        a.data_given = matches
            .subcommand_matches("train")
            .and_then(|m| m.value_source("data"))
            == Some(clap::parser::ValueSource::CommandLine);
    }
    match &cli.command {
        Some(Cmd::Train(_) | Cmd::App(_)) | None => {}
        // burn's server handles Ctrl-C and SIGTERM itself, ending its sessions first.
        #[cfg(feature = "remote")]
        Some(Cmd::Serve(_)) => {}
        Some(_) => stop_on_signal()?,
    }
    match cli.command {
        Some(Cmd::Train(a)) => cli::train::train(a),
        Some(Cmd::Sample(a)) => cli::runs::sample(a),
        Some(Cmd::Inspect { dir }) => cli::inspect::inspect(&checkpoint::shipped::resolve(&dir)),
        Some(Cmd::Bench(a)) => cli::bench::bench(a),
        Some(Cmd::Score(a)) => cli::runs::score(a),
        Some(Cmd::Classifier(a)) => cli::runs::classifier(a),
        Some(Cmd::Detect(a)) => cli::detect::detect(a),
        Some(Cmd::Detector(a)) => cli::detect::detector(a),
        Some(Cmd::Directions(a)) => cli::latent::directions(a),
        Some(Cmd::Encode(a)) => cli::latent::encode(a),
        Some(Cmd::Upscale(a)) => cli::upscale::upscale(a),
        Some(Cmd::Translate(a)) => cli::upscale::translate(a),
        #[cfg(feature = "remote")]
        Some(Cmd::Serve(a)) => cli::serve::serve(a),
        #[cfg(feature = "app")]
        None => latentlab::ui::run(latentlab::ui::AppOptions::for_launch()),
        #[cfg(feature = "app")]
        Some(Cmd::App(a)) => latentlab::ui::run(app_options(a)?),
        #[cfg(not(feature = "app"))]
        Some(Cmd::App(_)) | None => anyhow::bail!(
            "this latentlab was built without the desktop app (cargo feature `app`); use a \
             subcommand, see --help"
        ),
    }
}

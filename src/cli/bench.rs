//! `latentlab bench`: training throughput and generator latency, as medians.

use super::values::BenchDevice;
use crate::BenchArgs;
use anyhow::{Context, Result};
use latentlab::device::DeviceChoice;

pub fn bench(mut a: BenchArgs) -> Result<()> {
    use latentlab::bench::{self, BenchError, BenchOptions};
    let devices = match &a.device {
        BenchDevice::Cpu => vec![DeviceChoice::Cpu],
        BenchDevice::Wgpu => vec![DeviceChoice::Wgpu],
        BenchDevice::All => vec![DeviceChoice::Cpu, DeviceChoice::Wgpu],
        // Only the remote comparison below.
        BenchDevice::Remote(address) => {
            a.remote = Some(address.clone());
            vec![]
        }
    };
    let opts = BenchOptions {
        models: a.models.clone(),
        devices: devices.clone(),
        batch: a.batch,
        steps: a.steps as usize,
        runs: a.runs as usize,
        size: a.size,
        channels: a.channels,
        ..BenchOptions::default()
    };
    say!(
        "{0}x{0}x{1} images; warm-up {2} steps, then the median of {3} runs of {4} steps; \
         generator latency includes the read-back and the conversion to an image",
        opts.size,
        opts.channels,
        opts.warmup,
        opts.runs,
        opts.steps
    );
    let torch = if a.no_pytorch {
        None
    } else {
        match super::pytorch::unavailable(&a.python) {
            None => Some(
                a.torch_threads
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
            ),
            Some(why) => {
                say!("PyTorch side skipped: {why}");
                None
            }
        }
    };
    let mut runs = Vec::new();
    let mut references = Vec::new();
    for device in &devices {
        let plans = opts.models.iter().flat_map(|&m| {
            let base = (a.baseline && !m.is_boltzmann()).then_some((m, bench::Speedups::NONE));
            base.into_iter().chain([(m, bench::Speedups::ALL)])
        });
        for (model, speedups) in plans {
            match bench::bench_one(model, device, None, &opts, speedups) {
                Ok(r) => {
                    say!(
                        "{} on {}: {:.1} examples/s",
                        r.model,
                        r.device_name,
                        r.train_examples_per_sec
                    );
                    let has_reference = super::pytorch::MODELS.contains(&model.name());
                    if torch.is_some() && !has_reference && speedups == bench::Speedups::ALL {
                        say!("no PyTorch reference for {}", model.name());
                    }
                    let reference =
                        torch.filter(|_| speedups == bench::Speedups::ALL && has_reference);
                    runs.push(r);
                    // Right after latentlab's own row: the two share the machine's state.
                    if let Some(threads) = reference {
                        let plan = super::pytorch::Plan {
                            python: &a.python,
                            device: if *device == DeviceChoice::Wgpu {
                                "cuda"
                            } else {
                                "cpu"
                            },
                            threads,
                            batch: opts.batch,
                            steps: opts.steps,
                            runs: opts.runs,
                            warmup: opts.warmup,
                            size: opts.size,
                            channels: opts.channels,
                        };
                        match super::pytorch::run(model.name(), &plan) {
                            Ok(p) => {
                                say!(
                                    "{} in {} ({} threads): {:.1} examples/s",
                                    p.model,
                                    p.framework,
                                    p.threads,
                                    p.train_examples_per_sec
                                );
                                references.push(p);
                            }
                            Err(e) => say!("{}", super::describe(&e)),
                        }
                    }
                }
                Err(BenchError::NoGpu(why)) if a.device == BenchDevice::All => {
                    say!("skipping wgpu: no real GPU ({why})");
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    if let Some(address) = &a.remote {
        let remote = DeviceChoice::Remote(address.clone());
        for &model in &opts.models {
            // The same step on both sides: a remote device cannot use the CPU kernels.
            for device in [&DeviceChoice::Cpu, &remote] {
                let r = bench::bench_one(
                    model,
                    device,
                    a.token_file.as_deref(),
                    &opts,
                    bench::Speedups::PORTABLE,
                )?;
                say!(
                    "{} on {} (no CPU kernels): {:.1} examples/s",
                    r.model,
                    r.device_name,
                    r.train_examples_per_sec
                );
                runs.push(r);
            }
        }
    }
    crate::cli::output::text(&bench::table(&runs))?;
    if a.remote.is_some() {
        out!();
        crate::cli::output::text(&bench::overhead_table(&runs))?;
    }
    if !references.is_empty() {
        out!();
        crate::cli::output::text(&bench::ratio_table(&runs, &references))?;
    }
    if let Some(path) = a.json {
        let text = serde_json::to_string_pretty(&bench::BenchReport { runs, references })?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        say!("wrote {}", path.display());
    }
    Ok(())
}

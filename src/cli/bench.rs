//! `latentlab bench`: training throughput and generator latency, as medians.

use crate::{BenchArgs, BenchDevice};
use anyhow::{Context, Result};
use latentlab::device::DeviceChoice;

pub fn bench(a: BenchArgs) -> Result<()> {
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

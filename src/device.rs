//! Choosing where tensors live: burn's pure-Rust CPU backend (`flex`) or wgpu on a real GPU.

use burn::tensor::{Device, DeviceKind};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// wgpu when a real GPU adapter exists, otherwise the CPU.
    #[default]
    Auto,
    /// burn's pure-Rust CPU backend (flex).
    Cpu,
    /// wgpu, even on a software (CPU) adapter such as llvmpipe.
    Wgpu,
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error(
        "the GPU device (wgpu) was asked for, but no wgpu adapter was found (no Vulkan, GL or Metal \
         driver); train on the CPU instead"
    )]
    NoAdapter,
}

/// A chosen device and a sentence saying what it is.
#[derive(Debug, Clone)]
pub struct Selected {
    pub device: Device,
    pub description: String,
    pub is_gpu: bool,
}

/// One wgpu adapter as the system reports it.
#[derive(Debug, Clone)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub kind: wgpu::DeviceType,
}

/// Every wgpu adapter on this machine (cheap: opens no device).
pub fn adapters() -> Vec<AdapterSummary> {
    // burn trains through Vulkan, Metal or DX12; leaving GL out also spares the user EGL's
    // start-up complaints on machines without a display.
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::PRIMARY;
    let instance = wgpu::Instance::new(desc);
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY))
        .into_iter()
        .map(|a| {
            let info = a.get_info();
            AdapterSummary {
                name: info.name,
                backend: format!("{:?}", info.backend),
                kind: info.device_type,
            }
        })
        .collect()
}

fn cpu(reason: &str) -> Selected {
    Selected {
        device: Device::flex(),
        description: format!("cpu (burn flex, {} threads){reason}", threads()),
        is_gpu: false,
    }
}

fn threads() -> usize {
    rayon::current_num_threads()
}

/// Make burn's `Device::default()` the CPU unless `BURN_DEVICE` already names one.
///
/// latentlab always passes its device explicitly, but burn 0.22 materialises a loaded optimiser
/// state on `Device::default()`, which with the `wgpu` feature is wgpu, and panics on a machine
/// without any wgpu adapter. The state moves to the training device at the next step anyway.
/// Call once at start-up, before other threads exist (it sets an environment variable).
pub fn pin_default_device_to_cpu() {
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: called at start-up while the process is single-threaded.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
}

/// Size burn flex's CPU thread pool: two threads per core unless `RAYON_NUM_THREADS` says
/// otherwise. Measured on a 2-core machine, 4 threads trained DCGAN-28 faster than 2: the
/// extra chunks keep both cores busy when one is briefly taken by something else. Call once,
/// at start-up, before any tensor work.
pub fn configure_cpu_threads() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Fails only if a pool already exists, which then stays as it is.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(2 * cores)
        .build_global();
}

fn gpu_kind(kind: wgpu::DeviceType) -> Option<DeviceKind> {
    match kind {
        wgpu::DeviceType::DiscreteGpu => Some(DeviceKind::DiscreteGpu(0)),
        wgpu::DeviceType::IntegratedGpu => Some(DeviceKind::IntegratedGpu(0)),
        wgpu::DeviceType::VirtualGpu => Some(DeviceKind::VirtualGpu(0)),
        _ => None,
    }
}

/// Pick the device for `choice`. `auto` takes wgpu only for a real GPU: a CPU adapter such as
/// llvmpipe trains DCGAN-28 about 50 times slower than flex.
pub fn select(choice: DeviceChoice) -> Result<Selected, DeviceError> {
    if choice == DeviceChoice::Cpu {
        return Ok(cpu(""));
    }
    let found = adapters();
    // Discrete before integrated before virtual.
    let rank = |k: wgpu::DeviceType| match k {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        _ => 3,
    };
    let best = found.iter().min_by_key(|a| rank(a.kind));
    match (best, choice) {
        (Some(a), _) if gpu_kind(a.kind).is_some() => Ok(Selected {
            device: Device::wgpu(gpu_kind(a.kind).unwrap_or_default()),
            description: format!("wgpu on {} ({:?}, {})", a.name, a.kind, a.backend),
            is_gpu: true,
        }),
        (Some(a), DeviceChoice::Wgpu) => Ok(Selected {
            device: Device::wgpu(DeviceKind::Cpu),
            description: format!(
                "wgpu on {} (software adapter, {}: expect it to be far slower than the CPU backend)",
                a.name, a.backend
            ),
            is_gpu: false,
        }),
        (None, DeviceChoice::Wgpu) => Err(DeviceError::NoAdapter),
        (Some(a), _) => Ok(cpu(&format!(
            "; the only wgpu adapter is {} (a CPU adapter), slower than flex",
            a.name
        ))),
        (None, _) => Ok(cpu("; no GPU adapter found")),
    }
}

//! Choosing where tensors live: burn's pure-Rust CPU backend (`flex`) or wgpu on a real GPU.

use burn::tensor::{Device, DeviceKind};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// wgpu when a real GPU adapter exists, otherwise the CPU.
    #[default]
    Auto,
    /// burn's pure-Rust CPU backend (flex).
    Cpu,
    /// wgpu, even on a software (CPU) adapter such as llvmpipe.
    Wgpu,
    /// Device 0 of a `latentlab serve` server: `ws://HOST:PORT` or `iroh:ID` (what follows
    /// `remote:` on the command line).
    Remote(String),
}

impl DeviceChoice {
    /// The name the command line takes: `auto`, `cpu`, `wgpu` or `remote:ADDRESS`.
    pub fn name(&self) -> String {
        match self {
            Self::Auto => "auto".into(),
            Self::Cpu => "cpu".into(),
            Self::Wgpu => "wgpu".into(),
            Self::Remote(a) => format!("remote:{a}"),
        }
    }

    pub fn is_remote(&self) -> bool {
        matches!(self, Self::Remote(_))
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "wgpu" => Ok(Self::Wgpu),
            _ => match s.strip_prefix("remote:") {
                Some(a) => crate::remote::Address::parse(a)
                    .map(|_| Self::Remote(a.trim_end_matches('/').into()))
                    .map_err(|e| e.to_string()),
                None => Err(format!(
                    "`{s}` is not a device: use auto, cpu, wgpu, remote:ws://HOST:PORT, \
                     remote:iroh:ID or remote:iroh:ID@HOST:PORT"
                )),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error(
        "the GPU device (wgpu) was asked for, but no wgpu adapter was found (no Vulkan, GL or Metal \
         driver); train on the CPU instead"
    )]
    NoAdapter,
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
}

/// A chosen device and a sentence saying what it is.
#[derive(Debug, Clone)]
pub struct Selected {
    pub device: Device,
    pub description: String,
    pub is_gpu: bool,
    /// The server's address, for a remote device.
    pub remote: Option<String>,
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
        remote: None,
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

/// Whether `device` answers a read: a remote server may have gone away (burn's read then fails,
/// or panics, which counts as no answer).
pub fn answers(device: &Device) -> bool {
    let device = device.clone().without_autodiff();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        burn::tensor::Tensor::<1>::zeros([1], &device)
            .try_into_data()
            .is_ok()
    }))
    .unwrap_or(false)
}

/// Pick the device for `choice`. `auto` takes wgpu only for a real GPU: a CPU adapter such as
/// llvmpipe trains DCGAN-28 about 50 times slower than flex.
/// A remote device's token comes from `LATENTLAB_TOKEN` or `token_file`.
pub fn select(choice: &DeviceChoice, token_file: Option<&Path>) -> Result<Selected, DeviceError> {
    match choice {
        DeviceChoice::Cpu => return Ok(cpu("")),
        DeviceChoice::Remote(a) => {
            let address = crate::remote::Address::parse(a)?;
            let device = crate::remote::connect(&address, token_file)?;
            return Ok(Selected {
                device,
                description: format!("remote: device 0 of the server at {address}"),
                is_gpu: false,
                remote: Some(address.to_string()),
            });
        }
        _ => {}
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
            remote: None,
        }),
        (Some(a), DeviceChoice::Wgpu) => Ok(Selected {
            device: Device::wgpu(DeviceKind::Cpu),
            description: format!(
                "wgpu on {} (software adapter, {}: expect it to be far slower than the CPU backend)",
                a.name, a.backend
            ),
            is_gpu: false,
            remote: None,
        }),
        (None, DeviceChoice::Wgpu) => Err(DeviceError::NoAdapter),
        (Some(a), _) => Ok(cpu(&format!(
            "; the only wgpu adapter is {} (a CPU adapter), slower than flex",
            a.name
        ))),
        (None, _) => Ok(cpu("; no GPU adapter found")),
    }
}

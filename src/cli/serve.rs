//! `latentlab serve`: run a burn remote server on this machine's CPU or GPU.

use anyhow::{Result, bail};
use latentlab::remote::server::{self, ServeOptions, TransportKind};
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServeDevice {
    /// A real GPU through wgpu (refused when there is none).
    Gpu,
    /// burn's CPU backend (flex).
    Cpu,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The device the clients' tensors run on.
    #[arg(long, value_enum, default_value = "gpu")]
    device: ServeDevice,
    /// websocket (a TCP port; unencrypted) or iroh (encrypted; reached by the printed id).
    #[arg(long, value_enum, default_value = "websocket")]
    transport: TransportKind,
    /// The port to listen on (0: any free port, printed). Iroh: its UDP port (default: any).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// The address to listen on (WebSocket). Loopback unless given: WebSocket is unencrypted.
    /// Iroh listens on every interface; with --relays disabled this is the address it prints.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Iroh: public (n0's relays find the server by its id; needs the internet), disabled
    /// (clients dial --port directly: a network without the internet) or a relay's URL.
    #[arg(long, default_value = "public")]
    relays: String,
    /// The token file (default: server-token in latentlab's data directory, made with a random
    /// token and mode 0600 on the first start). At least 16 characters.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// The most client sessions at once (WebSocket and Iroh); more are refused until one ends.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1024))]
    max_sessions: u64,
}

pub fn serve(a: ServeArgs) -> Result<()> {
    use latentlab::device::{self, DeviceChoice};
    let selected = match a.device {
        ServeDevice::Cpu => device::select(&DeviceChoice::Cpu, None)?,
        ServeDevice::Gpu => {
            let s = device::select(&DeviceChoice::Wgpu, None)?;
            if !s.is_gpu {
                bail!(
                    "--device gpu: no real GPU here ({}); serve the CPU with --device cpu",
                    s.description
                );
            }
            s
        }
    };
    let opts = ServeOptions {
        device: selected.device,
        transport: a.transport,
        bind: a.bind,
        port: a.port,
        token_file: a.token_file,
        max_sessions: a.max_sessions as usize,
        relays: a.relays,
    };
    let description = selected.description;
    let mut printed = Ok(());
    server::serve(opts, |ready| {
        for w in &ready.warnings {
            say!("warning: {w}");
        }
        printed = (|| -> Result<()> {
            out!("serving {description}");
            for line in &ready.lines {
                out!("{line}");
            }
            out!("stop with Ctrl-C or SIGTERM");
            Ok(())
        })();
    })?;
    printed
}

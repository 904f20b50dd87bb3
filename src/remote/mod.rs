//! Training on another machine's devices through burn's remote backend: the client side (an
//! address, a token, a connect with a timeout) here, the server (`latentlab serve`) in
//! [`server`]. Autodiff stays on the client; only primitive tensor operations travel.
//!
//! burn 0.22.1 caches a session per (address, credential) for the life of the process, and
//! never reconnects a dead one. So a client that lost a server ([`forget`]) presents its token
//! with a reconnect number next time ([`token::credential`]), which the server accepts as the
//! token: the app's next Start or Resume reaches a server that is back without a restart.
//!
//! Round trips. A step already waits for one read-back (its losses, read together); the
//! rest of its operations stream to the server without waiting. burn's `fusion` feature of the
//! remote backend (cargo feature `remote-fusion`) also caches a step's recurring groups of
//! operations on the server and then sends only their ids. Measured on 2026-12-07, 2-core
//! machine, loopback CPU server, `bench --models dcgan,mlp --device remote:...`, batch 64, two
//! invocations of each build alternated (overhead = remote minus local ms per step):
//!
//! | build | dcgan overhead | mlp overhead | mlp remote ms/step | generator b1 / b64 ms |
//! |---|---|---|---|---|
//! | without fusion | 25.68, 12.85 | 15.69, 12.43 | 36.51, 34.25 | 0.52 / 10.95, 0.51 / 9.33 |
//! | with fusion | 21.04, 29.39 | 5.48, 8.00 | 32.37, 31.11 | 0.77 / 18.48, 0.80 / 23.40 |
//!
//! Fusion halved the MLP's overhead, did nothing clear for the DCGAN (its steps are
//! dominated by compute, and the two runs of each build spread wider than their difference),
//! and doubled the generator's round trip at batch 64, which is what Explore's slider waits
//! for. So it stays off by default. The remote tests pass with it, losses still within a
//! relative 1e-5 of local training (as without it: the server may group float sums
//! differently).
//!
//! Transports, same machine, 2026-12-07, `bench --models dcgan,mlp --no-pytorch`, overhead per
//! step in ms (invocations alternated):
//!
//! | path | dcgan | mlp | generator b64 round trip |
//! |---|---|---|---|
//! | Iroh, relays disabled (QUIC over loopback UDP) | 18.57, 19.80 | 10.07, 5.97 | 10.05, 9.23 |
//! | WebSocket through `serve`'s front door ([`proxy`]) | 30.74, 25.46; 34.87, 29.37 | 15.64, 17.44; 19.71, 18.57 | 8.74, 7.96 |
//! | WebSocket straight to burn's private port (no session limit) | 26.22, 37.58 | 14.92, 15.13 | |
//! | Iroh, counting sessions from burn's telemetry (what `serve` does now, [`sessions`]) | 18.83, 21.03 | 13.07, 8.94 | 8.74, 8.90 |
//!
//! The front door's two copies cost about 4 ms per MLP step (within the noise for the DCGAN),
//! not enough to offer a way around it; Iroh's QUIC streams beat burn's WebSocket link even so.
//! Listening to the telemetry (burn then describes every operation) cost at most a few ms per
//! MLP step, inside this machine's spread.

pub mod token;

#[cfg(feature = "remote")]
pub mod proxy;
#[cfg(feature = "remote")]
pub mod server;
#[cfg(feature = "remote")]
pub mod sessions;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The environment variable a client's token comes from (before `--token-file`).
pub const TOKEN_ENV: &str = "LATENTLAB_TOKEN";

/// How long a connect may take before it is given up (burn retries a refused connection for
/// about 16 s on its own).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "`{0}` is not a remote address: use remote:ws://HOST:PORT, remote:iroh:ID or \
         remote:iroh:ID@HOST:PORT (as `latentlab serve` prints it)"
    )]
    BadAddress(String),
    #[error(
        "no token for the server at {0}: set {TOKEN_ENV} or pass --token-file (the server \
         printed where its token is)"
    )]
    NoToken(String),
    #[error("the server at {address} refused the token (check {TOKEN_ENV} or --token-file)")]
    Unauthorized { address: String },
    /// Iroh says only "refused": a wrong token and a full server look the same to the client.
    #[error(
        "the server at {address} refused the session: the token is wrong (check {TOKEN_ENV} or \
         --token-file), or the server is at its --max-sessions (try again when a client ends)"
    )]
    Refused { address: String },
    #[error(
        "the server at {0} is at its --max-sessions: it serves that many clients at once; try \
         again when one ends"
    )]
    Busy(String),
    #[error("could not reach the server at {address}: {reason}")]
    Unreachable { address: String, reason: String },
    #[error("the server at {address} did not answer within {secs} s")]
    Timeout { address: String, secs: u64 },
    #[error(
        "this latentlab was built without the remote backend (cargo feature `remote`), so it \
         cannot reach {0}"
    )]
    NotBuilt(String),
    #[error(transparent)]
    Token(#[from] token::TokenError),
}

/// Where a remote server is, as the user wrote it after `remote:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `ws://HOST:PORT`.
    WebSocket(String),
    /// `iroh:ID`: the server's Iroh endpoint id, found through n0's public relays; or
    /// `iroh:ID@HOST:PORT`: dialled directly at that UDP address with relays off (a server
    /// started with `--relays disabled`, on a network without the internet).
    Iroh { id: String, direct: Option<String> },
}

/// `HOST:PORT` with a host and a valid port, or `None`.
fn host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ok = !host.is_empty() && !host.contains(['/', '?', '#', ' ', '@']);
    Some((host, port.parse().ok()?)).filter(|_| ok)
}

impl Address {
    /// `ws://HOST:PORT`, `iroh:ID` or `iroh:ID@HOST:PORT`.
    pub fn parse(s: &str) -> Result<Self, RemoteError> {
        let bad = || RemoteError::BadAddress(format!("remote:{s}"));
        if let Some(rest) = s.strip_prefix("iroh:") {
            let (id, direct) = match rest.split_once('@') {
                Some((id, direct)) => (id, Some(direct)),
                None => (rest, None),
            };
            let ok = !id.is_empty()
                && id.chars().all(|c| c.is_ascii_alphanumeric())
                && direct.is_none_or(|d| host_port(d).is_some());
            return if ok {
                Ok(Self::Iroh {
                    id: id.into(),
                    direct: direct.map(Into::into),
                })
            } else {
                Err(bad())
            };
        }
        let rest = s.strip_prefix("ws://").ok_or_else(bad)?;
        host_port(rest.trim_end_matches('/')).ok_or_else(bad)?;
        Ok(Self::WebSocket(s.trim_end_matches('/').into()))
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::WebSocket(url) => write!(f, "{url}"),
            Self::Iroh { id, direct: None } => write!(f, "iroh:{id}"),
            Self::Iroh {
                id,
                direct: Some(d),
            } => write!(f, "iroh:{id}@{d}"),
        }
    }
}

/// The client's token: `LATENTLAB_TOKEN` when set, otherwise the first line of `token_file`.
/// It is held only in memory: never written to settings, manifests or logs.
pub fn client_token(address: &Address, token_file: Option<&Path>) -> Result<String, RemoteError> {
    if let Some(t) = std::env::var_os(TOKEN_ENV).filter(|t| !t.is_empty()) {
        return Ok(token::check(&t.to_string_lossy())?);
    }
    match token_file {
        Some(path) => Ok(token::read(path)?),
        None => Err(RemoteError::NoToken(address.to_string())),
    }
}

/// How many times this process lost each server (by its address as written): the reconnect
/// number its next credential carries.
static LOST: std::sync::Mutex<Vec<(String, u32)>> = std::sync::Mutex::new(Vec::new());

fn reconnects(address: &str) -> u32 {
    let lost = LOST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    lost.iter()
        .find(|(a, _)| a == address)
        .map_or(0, |&(_, n)| n)
}

/// Forget the session with the server at `address` (as [`Address`] displays it), which stopped
/// answering: the next [`connect`] opens a new one.
pub fn forget(address: &str) {
    let mut lost = LOST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match lost.iter_mut().find(|(a, _)| a == address) {
        Some((_, n)) => *n = n.saturating_add(1),
        None => lost.push((address.into(), 1)),
    }
}

/// A device on the server at `address` (device 0 there), connected and authorized, or a named
/// error within [`CONNECT_TIMEOUT`].
pub fn connect(
    address: &Address,
    token_file: Option<&Path>,
) -> Result<burn::tensor::Device, RemoteError> {
    let token = client_token(address, token_file)?;
    connect_with(address, token, CONNECT_TIMEOUT)
}

#[cfg(feature = "remote")]
fn connect_with(
    address: &Address,
    token: String,
    timeout: Duration,
) -> Result<burn::tensor::Device, RemoteError> {
    use burn::remote::ConnectError;
    let credential = token::credential(&token, reconnects(&address.to_string()));
    let target = address.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    // burn's connect, and a host name's lookup, may wait on the OS for an unanswering host:
    // bounded here instead.
    std::thread::spawn(move || {
        let outcome = host_for(&target).map(|host| {
            burn::tensor::Device::remote_options(&host.with_credential(credential)).init()
        });
        let _ = tx.send(outcome);
    });
    let name = address.to_string();
    match rx.recv_timeout(timeout) {
        Ok(Err(e)) => Err(e),
        Ok(Ok(Ok(device))) => Ok(device),
        Ok(Ok(Err(ConnectError::Unauthorized))) => Err(match address {
            Address::Iroh { .. } => RemoteError::Refused { address: name },
            Address::WebSocket(_) => RemoteError::Unauthorized { address: name },
        }),
        // The front door's answer beyond its session limit (see `proxy`).
        Ok(Ok(Err(e))) if e.to_string().contains("503") => Err(RemoteError::Busy(name)),
        Ok(Ok(Err(e))) => Err(RemoteError::Unreachable {
            address: name,
            reason: e.to_string(),
        }),
        Err(_) => Err(RemoteError::Timeout {
            address: name,
            secs: timeout.as_secs(),
        }),
    }
}

/// How burn reaches `address`.
#[cfg(feature = "remote")]
fn host_for(address: &Address) -> Result<burn::remote::RemoteHost, RemoteError> {
    use burn::remote::{IrohHost, IrohRelays, RemoteHost};
    let (id, direct) = match address {
        Address::WebSocket(url) => return Ok(RemoteHost::websocket(url)),
        Address::Iroh { id, direct } => (id, direct),
    };
    let id: burn::remote::EndpointId = id
        .parse()
        .map_err(|_| RemoteError::BadAddress(format!("remote:{address}")))?;
    let Some(direct) = direct else {
        return Ok(RemoteHost::iroh(id));
    };
    // Every address the name resolves to: the server may listen on only one of IPv4 and IPv6.
    let addrs = std::net::ToSocketAddrs::to_socket_addrs(direct.as_str()).map_err(|e| {
        RemoteError::Unreachable {
            address: address.to_string(),
            reason: e.to_string(),
        }
    })?;
    let host = addrs.fold(
        IrohHost::new(id).with_relays(IrohRelays::Disabled),
        IrohHost::with_address,
    );
    Ok(RemoteHost::iroh(host))
}

#[cfg(not(feature = "remote"))]
fn connect_with(
    address: &Address,
    _token: String,
    _timeout: Duration,
) -> Result<burn::tensor::Device, RemoteError> {
    Err(RemoteError::NotBuilt(address.to_string()))
}

/// Where a server keeps its token unless told otherwise: `<data dir>/server-token`.
pub fn default_token_file() -> Option<PathBuf> {
    crate::dirs::data_dir().map(|d| d.join("server-token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_or_are_refused_by_name() {
        assert_eq!(
            Address::parse("ws://gpu.lab:3000").ok(),
            Some(Address::WebSocket("ws://gpu.lab:3000".into()))
        );
        assert!(matches!(
            Address::parse("iroh:abc123"),
            Ok(Address::Iroh { direct: None, .. })
        ));
        let direct = Address::parse("iroh:abc123@10.0.0.2:3000").unwrap();
        assert_eq!(direct.to_string(), "iroh:abc123@10.0.0.2:3000");
        assert!(matches!(
            direct,
            Address::Iroh {
                direct: Some(_),
                ..
            }
        ));
        for bad in [
            "gpu:3000",
            "ws://gpu",
            "ws://:3000",
            "ws://gpu:99999",
            "iroh:",
            "iroh:abc@",
            "iroh:abc@host",
            "iroh:abc@host:70000",
            "http://x:1",
        ] {
            let e = Address::parse(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("is not a remote address"), "{bad}: {e}");
        }
    }
}

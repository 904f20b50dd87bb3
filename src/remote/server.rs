//! `latentlab serve`: this machine's CPU or GPU as a burn remote server for other machines'
//! latentlab. It blocks until Ctrl-C or SIGTERM (burn's server installs the handlers and ends
//! its sessions cleanly).

use super::proxy;
use super::sessions::Limit;
use super::token::{self, TokenError};
use burn::server::{
    AuthorizationRequest, Credential, IrohIdentity, IrohRelays, IrohTransport, PeerAuthorizer,
    RemoteServer, TokenAuthorizer, WebSocketTransport,
};
use burn::tensor::Device;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;

/// How clients reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportKind {
    /// A TCP port, unencrypted; bound to loopback unless --bind says otherwise.
    Websocket,
    /// Iroh (QUIC, end-to-end encrypted), dialled by the server's endpoint id.
    Iroh,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no place for the server's token: set HOME or pass --token-file")]
    NoTokenPlace,
    #[error("token file {path}: {source}")]
    Token { path: PathBuf, source: TokenError },
    #[error("the server's identity file {path}: {source}")]
    Identity {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the remote server stopped: {0}")]
    Serve(String),
    #[error("--relays {0}: expected public, disabled or a relay's URL")]
    Relays(String),
    #[error(
        "--relays disabled needs a fixed --port: clients dial that port, as nothing else tells them where the server is"
    )]
    RelaysNeedPort,
}

/// What `serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub device: Device,
    pub transport: TransportKind,
    pub bind: IpAddr,
    pub port: u16,
    pub token_file: Option<PathBuf>,
    pub max_sessions: usize,
    /// Iroh: `public` (n0's relays find the server by its id), `disabled` (direct connections
    /// only: a network without the internet) or a private relay's URL.
    pub relays: String,
}

/// What the server tells its user before it blocks: lines for standard output, and warnings.
pub struct Ready {
    pub lines: Vec<String>,
    pub warnings: Vec<String>,
}

/// Set up and run the server; `ready` is called once it listens, with what a client needs.
pub fn serve(opts: ServeOptions, ready: impl FnOnce(Ready)) -> Result<(), ServerError> {
    let token_path = match &opts.token_file {
        Some(p) => p.clone(),
        None => super::default_token_file().ok_or(ServerError::NoTokenPlace)?,
    };
    let (token, fresh) =
        token::load_or_create(&token_path).map_err(|source| ServerError::Token {
            path: token_path.clone(),
            source,
        })?;
    let authorizer = TokenAuthorizer::new(token).map_err(|_| ServerError::Token {
        path: token_path.clone(),
        source: TokenError::Empty,
    })?;
    // WebSocket's sessions are counted by the front door, Iroh's from burn's telemetry.
    let mut server = RemoteServer::new([opts.device.clone()]);
    let limit = match opts.transport {
        TransportKind::Websocket => None,
        TransportKind::Iroh => {
            let (limit, probe) = Limit::start(opts.max_sessions)
                .map_err(|e| ServerError::Serve(format!("the session counter: {e}")))?;
            server = server.with_telemetry(probe);
            Some(limit)
        }
    };
    let server = server.with_authorizer(Reconnects {
        token: authorizer,
        limit,
    });
    let mut lines = Vec::new();
    let mut warnings = Vec::new();
    let made = if fresh {
        " (new, readable only by you)"
    } else {
        ""
    };
    lines.push(format!("token: {}{made}", token_path.display()));
    let result = match opts.transport {
        TransportKind::Websocket => {
            let front_addr = SocketAddr::new(opts.bind, opts.port);
            let front = TcpListener::bind(front_addr).map_err(|source| ServerError::Bind {
                addr: front_addr,
                source,
            })?;
            let back_addr = SocketAddr::from(([127, 0, 0, 1], 0));
            let back = TcpListener::bind(back_addr).map_err(|source| ServerError::Bind {
                addr: back_addr,
                source,
            })?;
            let (front_addr, back_addr) = match (front.local_addr(), back.local_addr()) {
                (Ok(f), Ok(b)) => (f, b),
                (Err(source), _) | (_, Err(source)) => {
                    return Err(ServerError::Bind {
                        addr: front_addr,
                        source,
                    });
                }
            };
            if opts.relays != "public" {
                warnings.push("--relays applies to --transport iroh only".into());
            }
            if !opts.bind.is_loopback() {
                warnings.push(format!(
                    "listening on {} with WebSocket, which is not encrypted: anyone on the \
                     network path can read the token and the tensors. Use --transport iroh on a \
                     network you do not trust",
                    opts.bind
                ));
            }
            lines.push(format!("address: ws://{front_addr}"));
            lines.push(format!(
                "connect: {}=$(cat {}) latentlab train --device remote:ws://{front_addr} ...",
                super::TOKEN_ENV,
                token_path.display()
            ));
            lines.push(format!("sessions: at most {}", opts.max_sessions));
            let sessions = proxy::Sessions::default();
            let max = opts.max_sessions;
            std::thread::spawn(move || proxy::run(front, back_addr, max, sessions));
            ready(Ready { lines, warnings });
            server.serve(WebSocketTransport::from_listener(back))
        }
        TransportKind::Iroh => {
            let id_path = token_path.with_file_name("server-iroh.key");
            let identity =
                IrohIdentity::load_or_create(&id_path).map_err(|source| ServerError::Identity {
                    path: id_path.clone(),
                    source,
                })?;
            let relays: IrohRelays = opts
                .relays
                .parse()
                .map_err(|_| ServerError::Relays(opts.relays.clone()))?;
            let direct = relays == IrohRelays::Disabled;
            if direct && opts.port == 0 {
                return Err(ServerError::RelaysNeedPort);
            }
            let mut transport = IrohTransport::new(identity).with_relays(relays);
            if opts.port != 0 {
                transport = transport.with_port(opts.port);
            }
            // Without relays a client dials the address itself; the socket listens on every
            // interface, so --bind only names the address to print.
            let address = if direct {
                format!(
                    "iroh:{}@{}",
                    transport.id(),
                    SocketAddr::new(opts.bind, opts.port)
                )
            } else {
                format!("iroh:{}", transport.id())
            };
            lines.push(format!("address: {address}"));
            if direct && opts.bind.is_loopback() {
                lines.push(format!(
                    "from another machine: iroh:{}@HOST:{}, HOST being this machine's address",
                    transport.id(),
                    opts.port
                ));
            }
            lines.push(format!(
                "connect: {}=$(cat {}) latentlab train --device remote:{address} ...",
                super::TOKEN_ENV,
                token_path.display(),
            ));
            lines.push(format!("sessions: at most {}", opts.max_sessions));
            ready(Ready { lines, warnings });
            server.serve(transport)
        }
    };
    result.map_err(|e| ServerError::Serve(e.to_string()))
}

/// burn's token check, also letting in a client's reconnect credential (`TOKEN\nN`, see
/// [`token::credential`]) so a client that lost this server can open a fresh session.
/// Over Iroh it also holds `--max-sessions`, once the token is right.
struct Reconnects {
    token: TokenAuthorizer,
    limit: Option<Limit>,
}

impl PeerAuthorizer for Reconnects {
    fn authorize(&self, request: AuthorizationRequest<'_>) -> Result<(), String> {
        let Some(token) = token::token_part(request.credential.as_bytes()) else {
            return Err(format!(
                "{} presented a malformed credential",
                request.client
            ));
        };
        let client = request.client;
        self.token.authorize(AuthorizationRequest {
            credential: &Credential::from(token),
            ..request
        })?;
        match &self.limit {
            Some(limit) => limit.admit().map_err(|why| format!("{client}: {why}")),
            None => Ok(()),
        }
    }
}

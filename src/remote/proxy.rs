//! The WebSocket server's front door: it accepts connections on the address users reach and
//! forwards each to burn's server on a private loopback port, refusing any beyond
//! `max_sessions` with an HTTP 503. burn's server has no session limit of its own, and each
//! client session is exactly one WebSocket connection, so counting connections counts sessions.
//!
//! Forwarding costs two copies per message on loopback; it is included in the overhead that
//! `latentlab bench --remote` measures.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a refused client reads.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
Content-Length: 47\r\n\r\nthe latentlab server is at its --max-sessions\r\n";

/// Live forwarded connections.
#[derive(Clone, Default)]
pub struct Sessions(Arc<AtomicUsize>);

impl Sessions {
    pub fn live(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Held while a connection is forwarded; frees its place when dropped.
struct Place(Sessions);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Accept on `front` forever, forwarding each connection to `back` (burn's listener) while
/// fewer than `max_sessions` are live. Runs on the calling thread; each connection gets two
/// threads of its own, which end when either side closes.
pub fn run(front: TcpListener, back: SocketAddr, max_sessions: usize, sessions: Sessions) {
    for client in front.incoming() {
        let Ok(mut client) = client else { continue };
        let taken = sessions.0.fetch_add(1, Ordering::SeqCst);
        let place = Place(sessions.clone());
        if taken >= max_sessions {
            // Best effort: a client that went away already needs no answer.
            let _ = client.write_all(BUSY);
            let _ = client.shutdown(Shutdown::Both);
            drop(place);
            continue;
        }
        std::thread::spawn(move || forward(client, back, place));
    }
}

fn forward(client: TcpStream, back: SocketAddr, place: Place) {
    let Ok(server) = TcpStream::connect(back) else {
        return;
    };
    // Tensor operations are small messages: no Nagle delay on either leg.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || pump(client2, server2));
    pump(server, client);
    let _ = up.join();
    drop(place);
}

/// Copy `from` to `to` until either ends, then close both directions so the other pump ends.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

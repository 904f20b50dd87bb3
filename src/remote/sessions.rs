//! `--max-sessions` for an Iroh server. burn's Iroh transport has no hook for a session's end
//! (WebSocket has the [`super::proxy`] front door instead); its telemetry stream has one
//! (`SessionOpened`, `SessionClosed`). A thread drains that stream every few milliseconds and
//! keeps the count, and the authorizer refuses a session while the live ones, plus those it
//! let in that have not opened yet, reach the limit.
//!
//! The stream is a bounded broadcast channel that drops its oldest events when its reader
//! falls behind: with room for 65,536 events drained every 5 ms, a step of thousands of
//! operations is far from that. Listening makes burn describe every operation it runs; that
//! cost is in the Iroh figures of `src/remote/mod.rs`.

use burn::server::telemetry::{DrainStatus, TelemetryEvent, TelemetryProbe};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Events the stream holds for the reader.
const BACKLOG: usize = 1 << 16;
/// How often the reader drains it.
const DRAIN_EVERY: Duration = Duration::from_millis(5);
/// A session let in that has not opened within this is taken to have failed.
const PENDING_FOR: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Count {
    live: usize,
    /// When each session let in but not yet opened was let in, oldest first.
    pending: Vec<Instant>,
}

/// The limit and the count it is checked against.
#[derive(Clone)]
pub struct Limit {
    max: usize,
    count: Arc<Mutex<Count>>,
}

impl Limit {
    /// At most `max` sessions at once; the server must report to the returned probe. Starts
    /// the thread that keeps the count (it ends with the server's probe).
    pub fn start(max: usize) -> std::io::Result<(Self, TelemetryProbe)> {
        let (probe, mut stream) = TelemetryProbe::channel(BACKLOG);
        let limit = Self {
            max,
            count: Arc::default(),
        };
        let count = limit.count.clone();
        std::thread::Builder::new()
            .name("latentlab-sessions".into())
            .spawn(move || {
                let mut events = Vec::new();
                let mut warned = false;
                loop {
                    let status = stream.drain_into(&mut events);
                    count_events(
                        &count,
                        events.drain(..).map(|e| match *e {
                            TelemetryEvent::SessionOpened { .. } => 1,
                            TelemetryEvent::SessionClosed { .. } => -1,
                            _ => 0,
                        }),
                    );
                    match status {
                        DrainStatus::Closed => return,
                        DrainStatus::Open { lagged } if lagged > 0 && !warned => {
                            warned = true;
                            eprintln!(
                                "warning: the session count missed {lagged} events; \
                                 --max-sessions may be off until the server restarts"
                            );
                        }
                        DrainStatus::Open { .. } => {}
                    }
                    std::thread::sleep(DRAIN_EVERY);
                }
            })?;
        Ok((limit, probe))
    }

    /// Take a place for a session about to open, or say why there is none.
    pub fn admit(&self) -> Result<(), String> {
        let mut c = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        c.pending.retain(|t| now.duration_since(*t) < PENDING_FOR);
        if c.live + c.pending.len() >= self.max {
            return Err(format!(
                "refused a session: at its --max-sessions ({})",
                self.max
            ));
        }
        c.pending.push(now);
        Ok(())
    }
}

/// Apply opened (+1) and closed (-1) sessions to the count.
fn count_events(count: &Mutex<Count>, changes: impl Iterator<Item = i8>) {
    let mut c = count.lock().unwrap_or_else(PoisonError::into_inner);
    for change in changes {
        match change {
            1 => {
                c.live += 1;
                if !c.pending.is_empty() {
                    c.pending.remove(0);
                }
            }
            -1 => c.live = c.live.saturating_sub(1),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_taken_on_admission_and_freed_when_sessions_close() {
        let limit = Limit {
            max: 2,
            count: Arc::default(),
        };
        assert!(limit.admit().is_ok());
        assert!(limit.admit().is_ok());
        assert!(limit.admit().is_err(), "two let in, none opened yet");
        count_events(&limit.count, [1, 1].into_iter());
        assert!(limit.admit().is_err(), "two live");
        count_events(&limit.count, [-1].into_iter());
        assert!(limit.admit().is_ok(), "one closed");
    }
}

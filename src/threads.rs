//! Background threads the same way everywhere: a named thread that signals when it ends (so an
//! owner can wait for it with a bound), and an outbox that wakes the owner after each message.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// Called after every message a worker sends (the UI passes `ctx.request_repaint`).
pub type Notify = Arc<dyn Fn() + Send + Sync>;

/// How long dropping a worker's handle waits for the thread to finish what it is doing.
pub const DROP_WAIT: Duration = Duration::from_secs(10);

/// A worker's sending end: each message wakes the owner.
pub struct Outbox<T> {
    tx: Sender<T>,
    notify: Option<Notify>,
}

impl<T> Clone for Outbox<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            notify: self.notify.clone(),
        }
    }
}

impl<T> Outbox<T> {
    pub fn new(tx: Sender<T>, notify: Option<Notify>) -> Self {
        Self { tx, notify }
    }

    pub fn send(&self, v: T) {
        // A closed receiver only means nobody is listening any more.
        let _ = self.tx.send(v);
        if let Some(n) = &self.notify {
            n();
        }
    }
}

/// A named thread that can be waited for with a bound.
pub struct Thread {
    handle: Option<JoinHandle<()>>,
    /// Disconnects when the thread ends.
    done: Receiver<()>,
}

impl Thread {
    pub fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> std::io::Result<Self> {
        let (done_tx, done) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let _done = done_tx;
                body();
            })?;
        Ok(Self {
            handle: Some(handle),
            done,
        })
    }

    /// Wait at most `limit` for the thread to end (the caller has asked it to); false when it
    /// was still busy (it then ends on its own, unobserved).
    pub fn join_within(&mut self, limit: Duration) -> bool {
        match self.done.recv_timeout(limit) {
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            _ => {
                if let Some(t) = self.handle.take() {
                    let _ = t.join();
                }
                true
            }
        }
    }
}

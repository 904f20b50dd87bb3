//! Termination signals (SIGINT, SIGTERM, SIGHUP): counted and handed to one handler, so the
//! first can save and exit and a second can exit at once. A signal the caller ignores
//! (`nohup`, a background job) stays ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Exit code after a termination signal (128 + SIGINT, as shells report Ctrl-C).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Set by the first termination signal of a headless run: loops that may run long within one
/// training step (a Boltzmann machine's CD-k chain) end early, so the run stops and saves
/// promptly instead of finishing the step first.
static STOP: AtomicBool = AtomicBool::new(false);

/// Ask long loops to end early (see [`stop_requested`]).
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether a stop was asked for.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Exit at once with [`EXIT_INTERRUPTED`], skipping destructors and exit handlers (GPU
/// drivers' threads may still be running; saves are crash-safe, so nothing needs flushing).
pub fn exit_now() -> ! {
    #[cfg(unix)]
    // SAFETY: _exit(2) ends the process without touching Rust state.
    unsafe {
        libc::_exit(EXIT_INTERRUPTED)
    }
    #[cfg(not(unix))]
    std::process::exit(EXIT_INTERRUPTED)
}

/// Install `handler`, called on its own thread with the number of signals received so far
/// (1 for the first). Returns the shared count.
pub fn on_termination(
    handler: impl Fn(usize) + Send + 'static,
) -> Result<Arc<AtomicUsize>, ctrlc::Error> {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let ignored = ignored();
    ctrlc::set_handler(move || handler(seen.fetch_add(1, Ordering::SeqCst) + 1))?;
    // ctrlc installs its handler over an ignored disposition; put those back.
    ignore(&ignored);
    Ok(count)
}

/// The termination signals currently ignored.
#[cfg(unix)]
fn ignored() -> Vec<i32> {
    [libc::SIGINT, libc::SIGTERM, libc::SIGHUP]
        .into_iter()
        .filter(|&sig| {
            // SAFETY: a zeroed sigaction is a valid out-parameter, and a null new action makes
            // sigaction(2) only read the current disposition.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            let r = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
            r == 0 && old.sa_sigaction == libc::SIG_IGN
        })
        .collect()
}

#[cfg(unix)]
fn ignore(sigs: &[i32]) {
    for &sig in sigs {
        // SAFETY: setting SIG_IGN for a termination signal has no memory effects.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
}

#[cfg(not(unix))]
fn ignored() -> Vec<i32> {
    Vec::new()
}

#[cfg(not(unix))]
fn ignore(_: &[i32]) {}

//! The commands' results on standard output. A closed pipe (`latentlab inspect | head -1`)
//! ends the command quietly with exit 0, as a pipeline's reader asked for no more; any other
//! failure to write (`> /dev/full`) is a named error with exit 1. Never a panic: `println!`
//! panics on both.

use std::io::Write;

/// Standard output was closed by its reader: the command stops quietly.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct StdoutClosed;

/// Writing to standard output failed for another reason (a full disk, an I/O error).
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output: {0}")]
pub struct StdoutFailed(#[source] pub std::io::Error);

/// Write one line (flushed, so a failure shows here and not in an exit handler).
pub fn line(args: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    written.map_err(named)
}

/// Write `s` as it is (a table that ends its own lines).
pub fn text(s: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = out.write_all(s.as_bytes()).and_then(|()| out.flush());
    written.map_err(named)
}

fn named(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        anyhow::Error::new(StdoutClosed)
    } else {
        anyhow::Error::new(StdoutFailed(e))
    }
}

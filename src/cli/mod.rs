//! The command line's subcommands (argument types and `main` are in `main.rs`).

pub mod bench;
pub mod detect;
pub mod latent;
pub mod pytorch;
pub mod runs;
pub mod train;

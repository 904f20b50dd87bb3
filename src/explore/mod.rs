//! Latent vectors, interpolation paths and turning generated batches into images.

pub mod latent;
pub mod render;

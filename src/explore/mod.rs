//! Latent vectors, interpolation paths, image grids and the explorer's generator thread.

pub mod interpolate;
pub mod latent;
pub mod render;
pub mod worker;

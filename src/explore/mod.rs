//! Latent-space tools and the explorer's generator thread: interpolation paths, principal and
//! attribute directions, encoding real images, a Boltzmann machine's Gibbs chain, and the
//! worker that runs them off the UI.

pub mod attributes;
pub mod directions;
pub mod factors;
pub mod gibbs;
pub mod interpolate;
pub mod invert;
pub mod jobs;
pub mod pca;
pub mod project;
pub mod style;
pub mod sweep;
pub mod translate;
pub mod worker;

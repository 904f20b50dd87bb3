//! Interpolation paths and the explorer's generator thread.

pub mod interpolate;
pub mod worker;

//! Plain types every layer uses: configurations, per-step metrics, seeded noise and image
//! grids. No I/O, no threads, no tensors: data, models, the run format, the meter, training,
//! exploring and the UI all build on these.

pub mod cd_config;
pub mod config;
pub mod cycle_config;
pub mod grid;
pub mod hash;
pub mod linalg;
pub mod metrics;
pub mod noise;
pub mod pyramid_config;
pub mod schedule;
pub mod sr_config;
pub mod stats;
pub mod train_config;

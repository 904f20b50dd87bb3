//! latentlab: train and explore generative image models (GANs and VAEs) with burn.
//!
//! The engine (data, models, training, checkpoints) knows nothing of any UI; the training
//! session runs on its own thread and talks through typed command and event enums that carry
//! only plain data.

pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod detect;
pub mod device;
pub mod dirs;
pub mod explore;
pub mod export;
pub mod model;
pub mod quality;
pub mod remote;
pub mod signals;
pub mod threads;
pub mod train;
pub mod types;
#[cfg(feature = "app")]
pub mod ui;

//! How a CycleGAN run trains (stored in its manifest), with the bounds the flags put on it.

use serde::{Deserialize, Serialize};

/// Residual blocks in each CycleGAN generator unless told otherwise (the paper has 6 at
/// 128 px; 4 at 28-64 px on a CPU).
pub const DEFAULT_CYCLE_BLOCKS: usize = 4;
pub const MAX_CYCLE_WEIGHT: f64 = 1000.0;
pub const MAX_POOL: usize = 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleTrain {
    /// lambda: weight of the cycle-consistency loss |G_BA(G_AB(a)) - a| + |G_AB(G_BA(b)) - b|
    /// (the paper's 10).
    pub cycle_weight: f64,
    /// The identity loss |G_BA(a) - a| + |G_AB(b) - b| as a share of lambda (the paper's 0.5);
    /// it keeps colours from drifting (a colour inversion early in training is what it fixes).
    pub identity: f64,
    /// Past fakes each discriminator also learns from (Shrivastava et al. 2017; the paper's 50;
    /// 0 uses only the newest batch).
    pub pool: usize,
}

impl Default for CycleTrain {
    fn default() -> Self {
        Self {
            cycle_weight: 10.0,
            identity: 0.5,
            pool: 50,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "cyclegan's cycle weight must be 0 to {MAX_CYCLE_WEIGHT}, its identity share 0 to 10 and its \
     pool 0 to {MAX_POOL} images (got {cycle_weight}, {identity}, {pool})"
)]
pub struct CycleError {
    cycle_weight: f64,
    identity: f64,
    pool: usize,
}

impl CycleTrain {
    pub fn check(&self) -> Result<(), CycleError> {
        let ok = (0.0..=MAX_CYCLE_WEIGHT).contains(&self.cycle_weight)
            && (0.0..=10.0).contains(&self.identity)
            && self.pool <= MAX_POOL;
        if ok {
            Ok(())
        } else {
            Err(CycleError {
                cycle_weight: self.cycle_weight,
                identity: self.identity,
                pool: self.pool,
            })
        }
    }
}

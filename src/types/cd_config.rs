//! How a Boltzmann machine is trained (contrastive divergence), stored in its manifest, with
//! the bounds the command line puts on it.

use serde::{Deserialize, Serialize};

/// Contrastive-divergence training of a Boltzmann machine (Hinton 2002; Tieleman 2008 for
/// the persistent variant; Hinton's "practical guide" for momentum and weight decay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CdConfig {
    /// Gibbs steps in the negative phase (CD-k).
    pub k: usize,
    /// Persistent chains (PCD): the negative phase continues the previous update's chains
    /// instead of restarting at the data.
    pub persistent: bool,
    /// Persistent chains kept (PCD and the DBM's joint phase).
    pub chains: usize,
    pub momentum: f64,
    /// L2 weight decay on W (not the biases).
    pub weight_decay: f64,
    /// Updates per greedy phase (one hidden layer) of a DBN or a DBM's pre-training.
    pub layer_steps: u64,
    /// Gibbs steps that sampling runs from noise unless told otherwise.
    pub sample_gibbs: usize,
    /// PCD: persistent chains restarted from noise at each update, the same way sampling
    /// starts them (a run saved before this field reads 0: none).
    #[serde(default)]
    pub restarts: usize,
    /// PCD on a DBN's labelled top layer: persistent chain j holds class j mod classes in its
    /// label units instead of sampling them, so the layer learns P(units | label), which is
    /// what sampling with a clamped label draws (a run saved before this field reads false).
    #[serde(default)]
    pub label_chains: bool,
}

impl CdConfig {
    /// The bounds the command line puts on each field (`--cd-k` 1-1000, `--chains` 1-4096,
    /// `--sample-gibbs` 1-100000, momentum and weight decay in [0, 1]), for a manifest that
    /// was edited by hand: a CD-1e12 step would never end. Returns (field, detail).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(1..=MAX_CD_K).contains(&self.k) {
            return Err(("cd.k", format!("{} (1 to {MAX_CD_K})", self.k)));
        }
        if !(1..=MAX_CHAINS).contains(&self.chains) {
            return Err(("cd.chains", format!("{} (1 to {MAX_CHAINS})", self.chains)));
        }
        if !(1..=MAX_SAMPLE_GIBBS).contains(&self.sample_gibbs) {
            return Err((
                "cd.sample_gibbs",
                format!("{} (1 to {MAX_SAMPLE_GIBBS})", self.sample_gibbs),
            ));
        }
        if self.restarts > self.chains {
            return Err((
                "cd.restarts",
                format!("{} (0 to cd.chains, {})", self.restarts, self.chains),
            ));
        }
        if !(1..=1u64 << 50).contains(&self.layer_steps) {
            return Err(("cd.layer_steps", format!("{}", self.layer_steps)));
        }
        for (what, v) in [
            ("cd.momentum", self.momentum),
            ("cd.weight_decay", self.weight_decay),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err((what, format!("{v} (0 to 1)")));
            }
        }
        Ok(())
    }
}

/// Largest CD-k (`--cd-k`).
pub const MAX_CD_K: usize = 1000;
/// Most persistent chains (`--chains`).
pub const MAX_CHAINS: usize = 4096;
/// Most Gibbs steps a sample runs (`--sample-gibbs`, `sample --gibbs`).
pub const MAX_SAMPLE_GIBBS: usize = 100_000;

/// Gibbs steps from noise for a sample, unless a run or a command says otherwise.
pub const DEFAULT_SAMPLE_GIBBS: usize = 500;

impl Default for CdConfig {
    fn default() -> Self {
        Self {
            k: 1,
            persistent: false,
            chains: 100,
            momentum: 0.9,
            weight_decay: 2e-4,
            layer_steps: 2000,
            sample_gibbs: DEFAULT_SAMPLE_GIBBS,
            restarts: 0,
            label_chains: false,
        }
    }
}

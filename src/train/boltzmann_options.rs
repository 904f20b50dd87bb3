//! The flags and remembered settings of a Boltzmann machine's run (`--model rbm|dbn|dbm`):
//! layer sizes, label units and the contrastive-divergence recipe. Unset values are the
//! model's defaults ([`CdConfig::new`], [`ModelKind::default_layers`]).

use crate::types::config::{CdConfig, MAX_UNITS, ModelKind, TrainConfig};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub struct BoltzmannOptions {
    /// RBM: hidden units (default 500); the same as --layers N.
    #[arg(long, value_parser = units, help_heading = "Boltzmann machines (rbm, dbn, dbm)")]
    pub hidden: Option<usize>,
    /// DBN/DBM: hidden layer sizes, bottom first (default: dbn 500,500,2000; dbm 500,1000).
    #[arg(long, value_delimiter = ',', value_parser = units, help_heading = "Boltzmann machines (rbm, dbn, dbm)")]
    pub layers: Option<Vec<usize>>,
    /// DBN: the top RBM also takes the class label as softmax units, so a class can be clamped
    /// when sampling (Hinton et al. 2006). stylegan: the label enters the mapping network (and
    /// D by projection).
    #[arg(long, help_heading = "Boltzmann machines (rbm, dbn, dbm)")]
    pub labels: bool,
    /// Gibbs steps in each update's negative phase (CD-k; default 1).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1000), help_heading = "Boltzmann machines (rbm, dbn, dbm)")]
    pub cd_k: Option<u64>,
    /// Persistent contrastive divergence: the negative phase continues persistent chains
    /// instead of restarting at the data (a DBM's joint phase always does).
    #[arg(long, help_heading = "Boltzmann machines (rbm, dbn, dbm)")]
    pub pcd: bool,
    /// Persistent chains kept (default 100).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=4096), help_heading = "Boltzmann machines (rbm, dbn, dbm)")]
    pub chains: Option<u64>,
    /// Momentum after each phase's first 500 updates, which use 0.5 (default 0.9).
    #[arg(long, value_parser = unit_interval, help_heading = "Boltzmann machines (rbm, dbn, dbm)")]
    pub momentum: Option<f64>,
    /// L2 weight decay on the weights (default 2e-4).
    #[arg(long, value_parser = unit_interval, help_heading = "Boltzmann machines (rbm, dbn, dbm)")]
    pub weight_decay: Option<f64>,
    /// DBN/DBM: updates per greedy layer phase (default 2000); a DBN's top layer and a DBM's
    /// joint phase go on for the rest of the run.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1 << 50), help_heading = "Boltzmann machines (rbm, dbn, dbm)")]
    pub layer_steps: Option<u64>,
    /// Gibbs steps from noise for the run's samples (default 500).
    #[arg(long = "sample-gibbs", value_parser = clap::value_parser!(u64).range(1..=100_000), help_heading = "Boltzmann machines (rbm, dbn, dbm)")]
    pub sample_gibbs: Option<u64>,
    /// With --pcd: persistent chains restarted from noise at each update, as sampling starts
    /// them (default 0). Training then also sees, and unlearns, what a chain runs into in
    /// its first sweeps from noise, which is where `sample` starts: each chain lives
    /// --chains / N updates.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=4096), help_heading = "Boltzmann machines (rbm, dbn, dbm)")]
    pub chain_restarts: Option<u64>,
    /// DBN with --labels and --pcd: each persistent chain of the top layer keeps one class
    /// clamped (chain j: class j mod classes) instead of sampling its label, so the top layer
    /// learns to draw a given class, which is how `sample --label` and the meter use it.
    #[arg(long, help_heading = "Boltzmann machines (rbm, dbn, dbm)")]
    pub label_chains: bool,
}

impl BoltzmannOptions {
    /// Apply these options to `config` (a Boltzmann machine's; others are left alone).
    /// `num_classes` is the data set's, taken by a DBN with `--labels`.
    pub fn apply(&self, config: &mut TrainConfig, num_classes: usize) {
        let kind = config.model.kind;
        if kind == ModelKind::Stylegan && self.labels {
            config.model.num_classes = num_classes;
        }
        if !kind.is_boltzmann() {
            return;
        }
        if let Some(layers) = &self.layers {
            config.model.layers = layers.clone();
        } else if let Some(h) = self.hidden {
            config.model.layers = vec![h];
        }
        if kind == ModelKind::Dbn && self.labels {
            config.model.num_classes = num_classes;
        }
        let mut cd = CdConfig {
            persistent: self.pcd,
            ..CdConfig::default()
        };
        if let Some(k) = self.cd_k {
            cd.k = k as usize;
        }
        if let Some(c) = self.chains {
            cd.chains = c as usize;
        }
        if let Some(m) = self.momentum {
            cd.momentum = m;
        }
        if let Some(w) = self.weight_decay {
            cd.weight_decay = w;
        }
        if let Some(s) = self.layer_steps {
            cd.layer_steps = s;
        }
        if let Some(g) = self.sample_gibbs {
            cd.sample_gibbs = g as usize;
        }
        if let Some(r) = self.chain_restarts {
            cd.restarts = r as usize;
        }
        cd.label_chains = self.label_chains;
        config.cd = Some(cd);
    }
}

impl BoltzmannOptions {
    /// A resumed run's contrastive-divergence recipe with the chain settings given here
    /// (--chain-restarts, --label-chains) in place of its saved ones; `None` when neither was
    /// given or the run is not a Boltzmann machine.
    pub fn cd_override(&self, saved: &TrainConfig) -> Option<CdConfig> {
        let cd = saved.cd.as_ref()?;
        if self.chain_restarts.is_none() && !self.label_chains {
            return None;
        }
        let mut cd = cd.clone();
        if let Some(r) = self.chain_restarts {
            cd.restarts = r as usize;
        }
        cd.label_chains |= self.label_chains;
        Some(cd)
    }
}

fn units(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(u) if (1..=MAX_UNITS).contains(&u) => Ok(u),
        _ => Err(format!("`{s}` is not a unit count from 1 to {MAX_UNITS}")),
    }
}

fn unit_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a number from 0 to below 1")),
    }
}

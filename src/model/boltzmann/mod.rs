//! Boltzmann machines of binary units: the RBM, the deep belief network (a stack of RBMs whose
//! top one may also hold label units) and the deep Boltzmann machine (undirected layers). One
//! module holds any of them as a list of [`RbmLayer`]s, bottom first, so a checkpoint stores
//! them like any generator. Sampling is Gibbs sampling; nothing here needs autodiff.

mod layer;

pub use layer::{Coins, RbmLayer};

use crate::types::config::{ModelConfig, ModelKind, VISIBLE_UNITS};
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};

#[derive(Module, Debug)]
pub struct BoltzmannNet {
    /// Bottom first. Layer i joins units i and i + 1 (the pixels are units 0). A DBN's top layer
    /// sees its label units after the layer below's units; a DBM uses each layer's `vb` only on
    /// the bottom layer (the bias of the units between two layers is the lower layer's `hb`).
    pub layers: Vec<RbmLayer>,
    #[module(skip)]
    pub kind: ModelKind,
    /// A DBN's label units (0: none).
    #[module(skip)]
    pub classes: usize,
    /// Gibbs steps [`BoltzmannNet::sample`] runs from noise.
    #[module(skip)]
    pub gibbs: usize,
    /// Seeds [`BoltzmannNet::sample`]'s coin flips (with the noise it starts from).
    #[module(skip)]
    pub seed: u64,
}

/// The state of a batch of Gibbs chains: the unit layers the chain updates, bottom first.
/// RBM: [v, h]. DBN: [top visible (the layer below's units, then the label), top hidden].
/// DBM: [v, h1, ..., hL].
#[derive(Debug, Clone)]
pub struct Chain {
    pub units: Vec<Tensor<2>>,
}

/// What a chain is held to while it runs.
#[derive(Debug, Clone, Default)]
pub struct Clamp {
    /// A DBN's label, one-hot [batch, classes].
    pub label: Option<Tensor<2>>,
    /// First-hidden-layer units held fixed: `(mask, values)`, both [batch, hidden]; 1 in the
    /// mask keeps the unit at its value.
    pub hidden: Option<(Tensor<2>, Tensor<2>)>,
}

impl Clamp {
    pub fn label(label: Option<Tensor<2>>) -> Self {
        Self {
            label,
            hidden: None,
        }
    }

    fn apply_hidden(&self, h: Tensor<2>) -> Tensor<2> {
        match &self.hidden {
            Some((mask, values)) => {
                h.clone() + (values.clone() - h).mul(mask.clone()) // mask ? values : h
            }
            None => h,
        }
    }
}

impl BoltzmannNet {
    pub fn new(cfg: &ModelConfig, gibbs: usize, device: &Device) -> Self {
        let mut sizes = vec![VISIBLE_UNITS];
        sizes.extend(&cfg.layers);
        let top = cfg.layers.len().saturating_sub(1);
        let classes = if cfg.kind == ModelKind::Dbn {
            cfg.num_classes
        } else {
            0
        };
        let layers = (0..cfg.layers.len())
            .map(|i| {
                let extra = if i == top { classes } else { 0 };
                RbmLayer::new(sizes[i] + extra, sizes[i + 1], device)
            })
            .collect();
        Self {
            layers,
            kind: cfg.kind,
            classes,
            gibbs,
            seed: 0,
        }
    }

    /// The same machine with its samples' coin flips seeded by `seed`.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The same machine sampling with `gibbs` steps.
    pub fn with_gibbs(mut self, gibbs: usize) -> Self {
        self.gibbs = gibbs;
        self
    }

    pub fn device(&self) -> Device {
        self.layers[0].w.device()
    }

    fn top(&self) -> &RbmLayer {
        &self.layers[self.layers.len() - 1]
    }

    /// Probabilities of a DBN top layer's visible units from its hidden ones: the lower units
    /// are logistic, the label units one softmax group (held to `label` when given).
    fn top_visible(&self, h: Tensor<2>, label: Option<&Tensor<2>>, coins: &mut Coins) -> Tensor<2> {
        let x = self.top().visible_input(h, 1.0);
        if self.classes == 0 {
            return coins.bernoulli(sigmoid(x));
        }
        let [batch, n] = x.dims();
        let below = n - self.classes;
        let units = coins.bernoulli(sigmoid(x.clone().slice([0..batch, 0..below])));
        let label = match label {
            Some(l) => l.clone(),
            None => softmax(x.slice([0..batch, below..n]), 1),
        };
        Tensor::cat(vec![units, label], 1)
    }

    /// Chains started at the binary visible states `v` [batch, 784]: the units above are
    /// sampled bottom-up (a DBN's label starts uniform unless clamped).
    pub fn start(&self, v: Tensor<2>, clamp: &Clamp, coins: &mut Coins) -> Chain {
        let [batch, _] = v.dims();
        let device = v.device();
        let mut x = v;
        let mut units = vec![x.clone()];
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            if self.kind == ModelKind::Dbn && i == last && self.classes > 0 {
                x = match clamp.label.clone() {
                    // A clamped class alone drives the first top-level state: from the noise's
                    // state the chain would rarely leave the mode it starts in.
                    Some(label) => Tensor::cat(vec![x.zeros_like(), label], 1),
                    None => {
                        let uniform = Tensor::ones([batch, self.classes], &device)
                            .div_scalar(self.classes as f64);
                        Tensor::cat(vec![x, uniform], 1)
                    }
                };
            }
            // A DBM's middle layers get input from both sides; from the bottom alone, double it.
            let up = if self.kind == ModelKind::Dbm && i < last {
                2.0
            } else {
                1.0
            };
            let h = coins.bernoulli(sigmoid(layer.hidden_input(x.clone(), up)));
            let h = if i == 0 { clamp.apply_hidden(h) } else { h };
            if self.kind == ModelKind::Dbn && i == last {
                units = vec![x, h.clone()];
            } else {
                units.push(h.clone());
            }
            x = h;
        }
        if self.kind == ModelKind::Rbm {
            units.truncate(2);
        }
        Chain { units }
    }

    /// Run `steps` sweeps of block Gibbs sampling.
    pub fn gibbs(&self, mut chain: Chain, steps: usize, clamp: &Clamp, coins: &mut Coins) -> Chain {
        for _ in 0..steps {
            chain = self.sweep(chain, clamp, coins);
        }
        chain
    }

    /// One sweep. RBM and DBN: new visible units from the hidden ones, then new hidden units.
    /// DBM: the odd layers from their neighbours, then the even ones (v, h2, ...).
    fn sweep(&self, chain: Chain, clamp: &Clamp, coins: &mut Coins) -> Chain {
        let mut u = chain.units;
        match self.kind {
            ModelKind::Dbm => {
                for parity in [1, 0] {
                    for i in (parity..u.len()).step_by(2) {
                        let p = sigmoid(self.dbm_input(&u, i));
                        let s = coins.bernoulli(p);
                        u[i] = if i == 1 { clamp.apply_hidden(s) } else { s };
                    }
                }
            }
            _ => {
                let top = self.top();
                u[0] = if self.kind == ModelKind::Dbn {
                    self.top_visible(u[1].clone(), clamp.label.as_ref(), coins)
                } else {
                    coins.bernoulli(top.visible_probs(u[1].clone()))
                };
                let h = coins.bernoulli(top.hidden_probs(u[0].clone()));
                // The hidden units of a one-layer machine are the first hidden layer.
                u[1] = if self.layers.len() == 1 {
                    clamp.apply_hidden(h)
                } else {
                    h
                };
            }
        }
        Chain { units: u }
    }

    /// A DBM unit layer's total input from its neighbours and its bias, [batch, units].
    pub fn dbm_input(&self, units: &[Tensor<2>], i: usize) -> Tensor<2> {
        let n = self.layers.len();
        let mut x = if i == 0 {
            self.layers[0].vb.val().unsqueeze::<2>()
        } else {
            self.layers[i - 1].hb.val().unsqueeze::<2>()
        };
        if i > 0 {
            x = x + units[i - 1].clone().matmul(self.layers[i - 1].w.val());
        }
        if i < n {
            x = x + units[i + 1]
                .clone()
                .matmul(self.layers[i].w.val().transpose());
        }
        x
    }

    /// The chains' first hidden layer (clamped) and P(v | h1) [batch, 784]. A DBN passes its
    /// top-level state down through the directed layers (taking probabilities) on the way.
    pub fn observe(&self, chain: &Chain, clamp: &Clamp) -> (Tensor<2>, Tensor<2>) {
        let (h1, a) = self.visible_drive(chain, clamp);
        (h1, sigmoid(a))
    }

    /// The chains' first hidden layer (clamped) and the pixels' total input from it (and its
    /// bias), [batch, 784]: P(v | h1) is its logistic.
    pub fn visible_drive(&self, chain: &Chain, clamp: &Clamp) -> (Tensor<2>, Tensor<2>) {
        let h1 = match self.kind {
            ModelKind::Rbm | ModelKind::Dbm => chain.units[1].clone(),
            _ if self.layers.len() == 1 => chain.units[1].clone(),
            _ => {
                let top_v = chain.units[0].clone();
                let [batch, n] = top_v.dims();
                let mut x = top_v.slice([0..batch, 0..n - self.classes]);
                for layer in self.layers[1..self.layers.len() - 1].iter().rev() {
                    x = layer.visible_probs(x);
                }
                x
            }
        };
        let h1 = clamp.apply_hidden(h1);
        let a = if self.kind == ModelKind::Dbm {
            let mut units = chain.units.clone();
            units[1] = h1.clone();
            self.dbm_input(&units, 0)
        } else {
            let a = self.layers[0].visible_input(h1.clone(), 1.0);
            let [batch, _] = a.dims();
            // A one-layer DBN's visible units end with its label units.
            a.slice([0..batch, 0..VISIBLE_UNITS])
        };
        (h1, a)
    }

    /// How much switching each first-layer hidden unit would change the picture: for one
    /// chain's h1 [1, hidden] and pixel input `a` [1, 784], Σ_i |σ(a_i ± W_ij) - σ(a_i)| with
    /// the sign that flips unit j; [hidden].
    pub fn unit_effects(&self, h1: Tensor<2>, a: Tensor<2>) -> Tensor<1> {
        let w = self.layers[0].w.val(); // [visible, hidden]
        let [v, h] = w.dims();
        let w = w.slice([0..VISIBLE_UNITS.min(v), 0..h]);
        let flip = h1.mul_scalar(-2.0).add_scalar(1.0); // [1, hidden]: +1 turns on, -1 off
        let a_col = a.transpose(); // [784, 1]
        let moved = sigmoid(a_col.clone() + w.mul(flip)); // [784, hidden]
        (moved - sigmoid(a_col)).abs().sum_dim(0).reshape([h])
    }

    /// Images from noise: chains start at the binary states `z > 0` ([batch, 784]; Gaussian
    /// noise makes each pixel a fair coin), run [`Self::gibbs`] steps with the label clamped,
    /// and end on P(v | h). The coin flips are seeded by [`Self::seed`] and the noise itself,
    /// so the same noise gives the same images. Returns [batch, 1, 28, 28] in [-1, 1].
    pub fn sample(&self, z: Tensor<2>, label: Option<Tensor<2>>) -> Tensor<4> {
        let [batch, _] = z.dims();
        let mut coins = Coins::new(self.seed ^ noise_hash(&z));
        let clamp = Clamp::label(label.filter(|_| self.classes > 0));
        let chain = self.start(z.greater_elem(0.0).float(), &clamp, &mut coins);
        let chain = self.gibbs(chain, self.gibbs, &clamp, &mut coins);
        let (_, v) = self.observe(&chain, &clamp);
        let side = (VISIBLE_UNITS as f64).sqrt() as usize;
        v.mul_scalar(2.0)
            .sub_scalar(1.0)
            .reshape([batch, 1, side, side])
    }

    /// The first hidden layer's input from the noise state (for directions tools).
    pub fn first_hidden(&self, z: Tensor<2>) -> Tensor<2> {
        self.layers[0].hidden_input(z.greater_elem(0.0).float(), 1.0)
    }
}

/// A hash of a noise batch's values (its first row and its size), so different noise draws
/// different coins.
fn noise_hash(z: &Tensor<2>) -> u64 {
    let [batch, n] = z.dims();
    let first = z.clone().slice([0..batch.min(1), 0..n]);
    let values = crate::model::readback(first).unwrap_or_default();
    values
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64 ^ batch as u64, |h, v| {
            (h ^ u64::from(v.to_bits())).wrapping_mul(0x0100_0000_01b3)
        })
}

/// Human-readable description of a Boltzmann machine's layers, for `inspect`.
pub fn describe(cfg: &ModelConfig) -> Vec<String> {
    let mut sizes = vec![VISIBLE_UNITS];
    sizes.extend(&cfg.layers);
    let n = cfg.layers.len();
    (0..n)
        .map(|i| {
            let labels = if i + 1 == n && cfg.kind == ModelKind::Dbn && cfg.num_classes > 0 {
                cfg.num_classes
            } else {
                0
            };
            let visible = sizes[i] + labels;
            let kind = match cfg.kind {
                ModelKind::Dbm => "undirected",
                ModelKind::Dbn if i + 1 < n => "directed (its weights generate top-down)",
                _ => "RBM",
            };
            let with_labels = if labels > 0 {
                format!(" (incl. {labels} softmax label units)")
            } else {
                String::new()
            };
            format!(
                "layer {i}:   {visible} visible{with_labels} x {} hidden, {kind}, {} parameters",
                sizes[i + 1],
                visible * sizes[i + 1] + visible + sizes[i + 1]
            )
        })
        .collect()
}

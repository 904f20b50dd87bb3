//! Training Boltzmann machines without autodiff: contrastive divergence (CD-k) and persistent
//! CD on one RBM layer at a time (an RBM; a DBN's greedy phases; a DBM's pre-training with
//! doubled inputs), and a DBM's joint update (mean-field data term, persistent Gibbs chains
//! for the model term; Salakhutdinov & Hinton 2009). Updates are plain tensor arithmetic on
//! the parameters, with momentum and L2 weight decay.

use super::boltzmann_chains::{chain_classes, coin_pixels, restart_rows};
use super::{Nets, Trainer};
use crate::model::boltzmann::{BoltzmannNet, Chain, Clamp, Coins, RbmLayer};
use crate::model::readback;
use crate::train::{StepMetrics, TrainError};
use crate::types::config::{CdConfig, ModelKind, VISIBLE_UNITS};
use crate::types::noise;
use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, sigmoid, softmax};
use rand::Rng as _;

/// Momentum buffers and persistent chains: what an update carries besides the weights (saved
/// in place of an optimiser's state).
#[derive(Module, Debug)]
pub struct CdState {
    pub velocity: Vec<RbmLayer>,
    /// The current phase's persistent chains: one layer's hidden units [chains, hidden] while
    /// one RBM layer trains, every unit layer [v, h1, ..] in a DBM's joint phase.
    pub chains: Vec<Param<Tensor<2>>>,
}

impl CdState {
    pub fn new(net: &BoltzmannNet) -> Self {
        Self {
            velocity: net.layers.iter().map(RbmLayer::zeros_like).collect(),
            chains: Vec::new(),
        }
    }

    /// Zeros shaped as the state of a run saved after `step` updates, for loading it into.
    pub fn for_step(net: &BoltzmannNet, cd: &CdConfig, step: u64) -> Self {
        let mut state = Self::new(net);
        let n = net.layers.len();
        let (phase, phase_step) = phase_of(net.kind, n, cd, step);
        if phase_step == 0 {
            return state;
        }
        let device = net.device();
        let m = cd.chains.max(1);
        let sizes: Vec<usize> = match phase {
            Phase::Layer(i) if cd.persistent => vec![net.layers[i].hidden()],
            Phase::Layer(_) => Vec::new(),
            Phase::Joint => std::iter::once(net.layers[0].visible())
                .chain(net.layers.iter().map(RbmLayer::hidden))
                .collect(),
        };
        state.chains = sizes
            .into_iter()
            .map(|u| Param::from_tensor(Tensor::zeros([m, u], &device)))
            .collect();
        state
    }
}

/// Updates at the start of each phase that use momentum 0.5 before the configured value.
const MOMENTUM_WARMUP: u64 = 500;
/// The free-energy gap is measured every this many updates.
pub const GAP_EVERY: u64 = 50;
/// Images on each side of the gap.
const GAP_IMAGES: usize = 256;
/// Mean-field iterations for a DBM's data term.
const MEAN_FIELD_ITERS: usize = 10;
/// The joint phase's learning rate, as a fraction of the pre-training one.
pub const JOINT_LR_FRACTION: f64 = 0.1;

/// Which part of the schedule an update is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Training one RBM layer (index), alone.
    Layer(usize),
    /// A DBM's joint training.
    Joint,
}

/// The phase of update `step` (0-based) and the updates already spent in it.
pub fn phase_of(kind: ModelKind, layers: usize, cd: &CdConfig, step: u64) -> (Phase, u64) {
    let per = cd.layer_steps.max(1);
    let layer = (step / per) as usize;
    match kind {
        ModelKind::Rbm => (Phase::Layer(0), step),
        ModelKind::Dbm if layer >= layers => (Phase::Joint, step - per * layers as u64),
        _ if layer + 1 >= layers => {
            let i = layers - 1;
            (Phase::Layer(i), step - per * i as u64)
        }
        _ => (Phase::Layer(layer), step % per),
    }
}

/// Bottom-up and top-down input factors of layer `i` while it is trained alone: a DBM's
/// pre-training doubles the input its units will later get from the other side.
fn factors(kind: ModelKind, i: usize, n: usize) -> (f32, f32) {
    if kind != ModelKind::Dbm {
        return (1.0, 1.0);
    }
    let up = if i + 1 < n { 2.0 } else { 1.0 };
    let down = if i > 0 { 2.0 } else { 1.0 };
    (up, down)
}

/// What one update measured, on the device until one read-back.
struct Monitors {
    recon: Tensor<1>,
    pll: Tensor<1>,
    hidden_mean: Tensor<1>,
    weight_rms: Tensor<1>,
    gap: Option<Tensor<1>>,
}

fn mean_all(t: Tensor<2>) -> Tensor<1> {
    t.mean().reshape([1])
}

/// Column means, [n].
fn col_mean(t: Tensor<2>) -> Tensor<1> {
    let [_, n] = t.dims();
    t.mean_dim(0).reshape([n])
}

impl Trainer {
    /// One Boltzmann update; metrics as in [`StepMetrics`]'s Boltzmann fields.
    pub(super) fn boltzmann_step(&mut self) -> Result<StepMetrics, TrainError> {
        let cd = self.config.cd.clone().unwrap_or_default();
        let kind = self.config.model.kind;
        let Nets::Boltzmann { net, .. } = &self.nets else {
            return Err(TrainError::Readback(crate::model::ReadbackError(
                "not a Boltzmann machine".into(),
            )));
        };
        let n = net.layers.len();
        let (phase, phase_step) = phase_of(kind, n, &cd, self.step);
        // Derived from (seed, step): a resumed run draws what an unbroken one would.
        let mut coins = Coins::new(self.rng(0xb017).random());
        let (v0, labels) = self.binary_batch(&mut coins);
        let gap = (self.step + 1).is_multiple_of(GAP_EVERY) || self.step == 0;
        let monitors = match phase {
            Phase::Layer(i) => self.layer_update(i, phase_step, &cd, v0, labels, gap, &mut coins),
            Phase::Joint => self.joint_update(phase_step, &cd, v0, gap, &mut coins),
        };
        let mut parts = vec![
            monitors.recon,
            monitors.pll,
            monitors.hidden_mean,
            monitors.weight_rms,
        ];
        parts.extend(monitors.gap);
        let values = readback(Tensor::cat(parts, 0))?;
        let get = |i: usize| values.get(i).copied().unwrap_or(f32::NAN);
        Ok(StepMetrics {
            loss_d: get(0),
            loss_g: -get(1),
            hidden_mean: Some(get(2)),
            weight_rms: Some(get(3)),
            free_energy_gap: (values.len() > 4).then(|| get(4)),
            layer: Some(match phase {
                Phase::Layer(i) => i as u32,
                Phase::Joint => n as u32,
            }),
            ..StepMetrics::default()
        })
    }

    /// The next batch as binary pixels [batch, 784] (each pixel on with probability its
    /// intensity: stochastic binarisation) and one-hot labels when the machine takes them.
    fn binary_batch(&mut self, coins: &mut Coins) -> (Tensor<2>, Option<Tensor<2>>) {
        let b = self.config.batch;
        let (pixels, labels) = self.batcher.next_batch(&self.data, b);
        self.examples_seen += b as u64;
        let probs: Vec<f32> = pixels.iter().map(|p| (p + 1.0) / 2.0).collect();
        let n = probs.len() / b;
        let v = coins.bernoulli(Tensor::<2>::from_data(
            TensorData::new(probs, [b, n]),
            &self.device,
        ));
        let classes = self.config.model.num_classes;
        let label = (self.config.model.is_conditional()).then(|| {
            Tensor::<2>::from_data(
                TensorData::new(noise::one_hot(&labels, classes), [b, classes]),
                &self.device,
            )
        });
        (v, label)
    }

    /// Deterministic binary images (pixel > 1/2) and labels: the training side and the
    /// held-out side of the free-energy gap, each spread evenly over its images (a data set
    /// sorted by class gives both sides every class).
    fn gap_images(&self) -> [(Tensor<2>, Vec<u8>); 2] {
        let len = self.data.len();
        let held = crate::data::held_out_spread(len);
        let trained = crate::data::trained_on(len);
        let hold = held.len().min(GAP_IMAGES);
        let spread = |all: &[usize]| -> Vec<usize> {
            (0..hold.min(all.len()))
                .map(|i| all[i * all.len() / hold.max(1)])
                .collect()
        };
        let take = |idx: Vec<usize>| {
            let px: Vec<f32> = self
                .data
                .pixels(&idx)
                .iter()
                .map(|&p| if p > 0.0 { 1.0 } else { 0.0 })
                .collect();
            let n = px.len() / idx.len().max(1);
            let labels = idx.iter().map(|&i| self.data.labels[i]).collect();
            let t = Tensor::<2>::from_data(TensorData::new(px, [idx.len(), n]), &self.device);
            (t, labels)
        };
        [take(spread(&trained)), take(spread(&held))]
    }

    /// Data `v` [batch, 784] as the input of layer `i`: sampled up through the layers below
    /// (probabilities when `mean`), with the label appended for a DBN's top layer.
    fn layer_input(
        net: &BoltzmannNet,
        i: usize,
        v: Tensor<2>,
        labels: Option<Tensor<2>>,
        coins: Option<&mut Coins>,
    ) -> Tensor<2> {
        let mut coins = coins;
        let n = net.layers.len();
        let mut x = v;
        for (j, layer) in net.layers[..i].iter().enumerate() {
            let (up, _) = factors(net.kind, j, n);
            let p = sigmoid(layer.hidden_input(x, up));
            x = match coins.as_deref_mut() {
                Some(c) => c.bernoulli(p),
                None => p,
            };
        }
        match labels {
            Some(l) if i + 1 == n && net.classes > 0 => Tensor::cat(vec![x, l], 1),
            _ => x,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn layer_update(
        &mut self,
        i: usize,
        phase_step: u64,
        cd: &CdConfig,
        v: Tensor<2>,
        labels: Option<Tensor<2>>,
        gap: bool,
        coins: &mut Coins,
    ) -> Monitors {
        let gap_images = gap.then(|| self.gap_images());
        let lr = self.config.rates_at(self.step).0;
        let classes = self.config.model.num_classes;
        let device = self.device.clone();
        let Nets::Boltzmann { net, state } = &mut self.nets else {
            unreachable!("boltzmann_step checked the family")
        };
        let n = net.layers.len();
        let (up, down) = factors(net.kind, i, n);
        let label_units = if i + 1 == n { net.classes } else { 0 };
        let batch = v.dims()[0];
        // Shapes: v0 [batch, visible], ph0 [batch, hidden].
        let v0 = Self::layer_input(net, i, v, labels, Some(&mut *coins));
        let layer = &net.layers[i];
        let ph0 = sigmoid(layer.hidden_input(v0.clone(), up));
        let h0 = coins.bernoulli(ph0.clone());
        if phase_step == 0 {
            state.chains.clear();
        }
        let mut h = match state.chains.first() {
            Some(c) if cd.persistent => c.val(),
            _ if cd.persistent => {
                // New chains start from the data, one per chain (cycling the batch).
                let idx: Vec<i64> = (0..cd.chains.max(1)).map(|c| (c % batch) as i64).collect();
                let idx =
                    Tensor::<1, Int>::from_data(TensorData::new(idx.clone(), [idx.len()]), &device);
                h0.clone().select(0, idx)
            }
            _ => h0.clone(),
        };
        let m = h.dims()[0];
        // Chain j's own class when the chains hold their labels: [m, classes].
        let chain_labels = (cd.persistent && cd.label_chains && label_units > 0)
            .then(|| chain_classes(&(0..m).collect::<Vec<_>>(), label_units, &device));
        if cd.persistent && cd.restarts > 0 {
            let fresh = |rows: &[usize], coins: &mut Coins| {
                let r = rows.len();
                // As `BoltzmannNet::start` begins a sample: fair-coin pixels sent up, or for a
                // labelled top layer a class alone (chain j's class: j mod classes).
                let x = if label_units > 0 {
                    let below = layer.visible() - label_units;
                    let onehot = chain_classes(rows, label_units, &device);
                    Tensor::cat(vec![Tensor::zeros([r, below], &device), onehot], 1)
                } else {
                    let v = coin_pixels(r, VISIBLE_UNITS, &device, coins);
                    Self::layer_input(net, i, v, None, Some(&mut *coins))
                };
                coins.bernoulli(sigmoid(layer.hidden_input(x, up))) // [r, hidden]
            };
            h = restart_rows(h, cd.restarts, phase_step, |rows| fresh(rows, coins));
        }
        let visible = |h: Tensor<2>, coins: &mut Coins| {
            let x = layer.visible_input(h, down);
            if label_units == 0 {
                return coins.bernoulli(sigmoid(x));
            }
            let [b, m] = x.dims();
            let units = coins.bernoulli(sigmoid(x.clone().slice([0..b, 0..m - label_units])));
            let labels = match &chain_labels {
                Some(l) if l.dims()[0] == b => l.clone(),
                _ => softmax(x.slice([0..b, m - label_units..m]), 1),
            };
            Tensor::cat(vec![units, labels], 1)
        };
        let mut vk = v0.clone();
        let mut phk = ph0.clone();
        for i in 0..cd.k.max(1) {
            // A stop asked for mid-step ends the chain: the update is a shorter CD's.
            if i > 0 && crate::signals::stop_requested() {
                break;
            }
            vk = visible(h, coins);
            phk = sigmoid(layer.hidden_input(vk.clone(), up));
            h = coins.bernoulli(phk.clone());
        }
        if cd.persistent {
            state.chains = vec![Param::from_tensor(h)];
        }
        let chains = vk.dims()[0] as f64;
        let pos = v0
            .clone()
            .transpose()
            .matmul(ph0.clone())
            .div_scalar(batch as f64);
        let neg = vk
            .clone()
            .transpose()
            .matmul(phk.clone())
            .div_scalar(chains);
        let grads = RbmLayer::from_tensors(
            pos - neg - layer.w.val().mul_scalar(cd.weight_decay),
            col_mean(v0.clone()) - col_mean(vk),
            col_mean(ph0.clone()) - col_mean(phk),
        );
        let momentum = momentum_at(cd, phase_step);
        let recon =
            mean_all((v0.clone() - sigmoid(layer.visible_input(ph0.clone(), down))).powi_scalar(2));
        let monitors_layer = layer.clone();
        apply(
            &mut net.layers[i],
            &mut state.velocity[i],
            grads,
            lr,
            momentum,
        );
        let gap = gap_images.map(|[train, held]| {
            let lab = |l: &[u8]| {
                (classes > 0 && label_units > 0).then(|| {
                    Tensor::<2>::from_data(
                        TensorData::new(noise::one_hot(l, classes), [l.len(), classes]),
                        &device,
                    )
                })
            };
            let f_train = self.free_energy_at(i, train.0, lab(&train.1));
            let f_held = self.free_energy_at(i, held.0, lab(&held.1));
            (f_held.mean() - f_train.mean()).reshape([1])
        });
        Monitors {
            recon,
            pll: pseudo_log_likelihood(&monitors_layer, v0.clone(), coins),
            hidden_mean: mean_all(ph0),
            weight_rms: mean_all(monitors_layer.w.val().powi_scalar(2)).sqrt(),
            gap,
        }
    }

    /// Free energy of layer `i` on images propagated up to it (probabilities).
    fn free_energy_at(&self, i: usize, v: Tensor<2>, labels: Option<Tensor<2>>) -> Tensor<1> {
        let Nets::Boltzmann { net, .. } = &self.nets else {
            unreachable!("boltzmann_step checked the family")
        };
        let x = Self::layer_input(net, i, v, labels, None);
        net.layers[i].free_energy(x)
    }

    /// A DBM's joint update: mean-field posteriors for the data, persistent chains for the
    /// model, one gradient step on every layer.
    fn joint_update(
        &mut self,
        phase_step: u64,
        cd: &CdConfig,
        v0: Tensor<2>,
        gap: bool,
        coins: &mut Coins,
    ) -> Monitors {
        let gap_images = gap.then(|| self.gap_images());
        let lr = self.config.rates_at(self.step).0 * JOINT_LR_FRACTION;
        let device = self.device.clone();
        let Nets::Boltzmann { net, state } = &mut self.nets else {
            unreachable!("boltzmann_step checked the family")
        };
        let n = net.layers.len();
        let batch = v0.dims()[0];
        // mu: [v, mu1, .., muL], initialised by a doubled bottom-up pass.
        let mut mu = vec![v0.clone()];
        for (j, layer) in net.layers.iter().enumerate() {
            let up = if j + 1 < n { 2.0 } else { 1.0 };
            let next = sigmoid(layer.hidden_input(mu[j].clone(), up));
            mu.push(next);
        }
        for _ in 0..MEAN_FIELD_ITERS {
            for i in 1..=n {
                mu[i] = sigmoid(net.dbm_input(&mu, i));
            }
        }
        if phase_step == 0 || state.chains.len() != n + 1 {
            let m = cd.chains.max(1);
            let idx: Vec<i64> = (0..m).map(|c| (c % batch) as i64).collect();
            let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [m]), &device);
            let start = net.start(v0.clone().select(0, idx), &Clamp::default(), coins);
            state.chains = start.units.into_iter().map(Param::from_tensor).collect();
        }
        let mut units: Vec<Tensor<2>> = state.chains.iter().map(|c| c.val()).collect();
        if cd.restarts > 0 {
            let pixels = units[0].dims()[1];
            let fresh = |r: usize, coins: &mut Coins| {
                let v = coin_pixels(r, pixels, &device, coins);
                net.start(v, &Clamp::default(), coins).units
            };
            let m = units[0].dims()[0];
            let r = cd.restarts.min(m);
            let new = fresh(r, coins);
            units = units
                .into_iter()
                .zip(new)
                .map(|(u, f)| restart_rows(u, r, phase_step, |_| f.clone()))
                .collect();
        }
        let chain = Chain { units };
        let mut chain = net.gibbs(chain, 1, &Clamp::default(), coins);
        for _ in 1..cd.k.max(1) {
            // A stop asked for mid-step ends the chain: the update is a shorter CD's.
            if crate::signals::stop_requested() {
                break;
            }
            chain = net.gibbs(chain, 1, &Clamp::default(), coins);
        }
        let m = chain.units[0].dims()[0] as f64;
        let momentum = momentum_at(cd, phase_step);
        let recon = mean_all((v0.clone() - sigmoid(net.dbm_input(&mu, 0))).powi_scalar(2));
        let hidden_mean = mean_all(mu[1].clone());
        let bottom = net.layers[0].clone();
        for i in 0..n {
            let c = &chain.units;
            let pos = mu[i]
                .clone()
                .transpose()
                .matmul(mu[i + 1].clone())
                .div_scalar(batch as f64);
            let neg = c[i]
                .clone()
                .transpose()
                .matmul(c[i + 1].clone())
                .div_scalar(m);
            let layer = &net.layers[i];
            let dvb = if i == 0 {
                col_mean(mu[0].clone()) - col_mean(c[0].clone())
            } else {
                layer.vb.val().zeros_like()
            };
            let grads = RbmLayer::from_tensors(
                pos - neg - layer.w.val().mul_scalar(cd.weight_decay),
                dvb,
                col_mean(mu[i + 1].clone()) - col_mean(c[i + 1].clone()),
            );
            apply(
                &mut net.layers[i],
                &mut state.velocity[i],
                grads,
                lr,
                momentum,
            );
        }
        state.chains = chain.units.into_iter().map(Param::from_tensor).collect();
        let gap = gap_images.map(|[train, held]| {
            (bottom.free_energy(held.0).mean() - bottom.free_energy(train.0).mean()).reshape([1])
        });
        Monitors {
            recon,
            pll: pseudo_log_likelihood(&bottom, v0, coins),
            hidden_mean,
            weight_rms: mean_all(bottom.w.val().powi_scalar(2)).sqrt(),
            gap,
        }
    }
}

/// 0.5 for the first updates of a phase (the weights are still far from anywhere), then the
/// configured momentum.
fn momentum_at(cd: &CdConfig, phase_step: u64) -> f64 {
    if phase_step < MOMENTUM_WARMUP {
        0.5
    } else {
        cd.momentum
    }
}

/// `param += velocity`, with `velocity = momentum · velocity + lr · grad`.
fn apply(layer: &mut RbmLayer, velocity: &mut RbmLayer, grads: RbmLayer, lr: f64, momentum: f64) {
    let step = |v: Tensor<2>, g: Tensor<2>| v.mul_scalar(momentum) + g.mul_scalar(lr);
    let step1 = |v: Tensor<1>, g: Tensor<1>| v.mul_scalar(momentum) + g.mul_scalar(lr);
    let vw = step(velocity.w.val(), grads.w.val());
    let vvb = step1(velocity.vb.val(), grads.vb.val());
    let vhb = step1(velocity.hb.val(), grads.hb.val());
    *layer = RbmLayer::from_tensors(
        layer.w.val() + vw.clone(),
        layer.vb.val() + vvb.clone(),
        layer.hb.val() + vhb.clone(),
    );
    *velocity = RbmLayer::from_tensors(vw, vvb, vhb);
}

/// The stochastic pseudo-log-likelihood per image: for one random unit i of each row,
/// n · log P(v_i | v_-i) = n · log σ(F(v with i flipped) - F(v)), [1].
pub fn pseudo_log_likelihood(layer: &RbmLayer, v: Tensor<2>, coins: &mut Coins) -> Tensor<1> {
    let [batch, n] = v.dims();
    let mut mask = vec![0.0f32; batch * n];
    for row in 0..batch {
        mask[row * n + coins.index(n)] = 1.0;
    }
    let mask = Tensor::<2>::from_data(TensorData::new(mask, [batch, n]), &v.device());
    // Flip: v + m - 2·v·m.
    let flipped = v.clone() + mask.clone() - v.clone().mul(mask).mul_scalar(2.0);
    let diff = layer.free_energy(flipped) - layer.free_energy(v);
    log_sigmoid(diff).mean().mul_scalar(n as f64).reshape([1])
}

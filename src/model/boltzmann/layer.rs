//! One restricted Boltzmann machine layer: binary visible and hidden units joined by W, each
//! with a bias. The energy is E(v, h) = -v·b_v - h·b_h - vᵀWh.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{sigmoid, softplus};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Module, Debug)]
pub struct RbmLayer {
    /// [visible, hidden]
    pub w: Param<Tensor<2>>,
    /// [visible]
    pub vb: Param<Tensor<1>>,
    /// [hidden]
    pub hb: Param<Tensor<1>>,
}

impl RbmLayer {
    /// W ~ N(0, 0.01²) and zero biases (Hinton's practical guide).
    pub fn new(visible: usize, hidden: usize, device: &Device) -> Self {
        Self::from_tensors(
            Tensor::random([visible, hidden], Distribution::Normal(0.0, 0.01), device),
            Tensor::zeros([visible], device),
            Tensor::zeros([hidden], device),
        )
    }

    /// A layer of zeros shaped like `self` (momentum buffers start so).
    pub fn zeros_like(&self) -> Self {
        let [v, h] = self.w.dims();
        let device = self.w.device();
        Self::from_tensors(
            Tensor::zeros([v, h], &device),
            Tensor::zeros([v], &device),
            Tensor::zeros([h], &device),
        )
    }

    pub fn from_tensors(w: Tensor<2>, vb: Tensor<1>, hb: Tensor<1>) -> Self {
        Self {
            w: Param::from_tensor(w),
            vb: Param::from_tensor(vb),
            hb: Param::from_tensor(hb),
        }
    }

    pub fn visible(&self) -> usize {
        self.w.dims()[0]
    }

    pub fn hidden(&self) -> usize {
        self.w.dims()[1]
    }

    /// The hidden units' total input `up · vW + b_h`, [batch, hidden]. `up` is 2 for a DBM
    /// layer pre-trained with doubled bottom-up input (Salakhutdinov & Hinton 2009), else 1.
    pub fn hidden_input(&self, v: Tensor<2>, up: f32) -> Tensor<2> {
        let x = v.matmul(self.w.val());
        let x = if up == 1.0 { x } else { x.mul_scalar(up) };
        x + self.hb.val().unsqueeze::<2>()
    }

    /// The visible units' total input `down · hWᵀ + b_v`, [batch, visible].
    pub fn visible_input(&self, h: Tensor<2>, down: f32) -> Tensor<2> {
        let x = h.matmul(self.w.val().transpose());
        let x = if down == 1.0 { x } else { x.mul_scalar(down) };
        x + self.vb.val().unsqueeze::<2>()
    }

    /// P(h = 1 | v), [batch, hidden].
    pub fn hidden_probs(&self, v: Tensor<2>) -> Tensor<2> {
        sigmoid(self.hidden_input(v, 1.0))
    }

    /// P(v = 1 | h), [batch, visible].
    pub fn visible_probs(&self, h: Tensor<2>) -> Tensor<2> {
        sigmoid(self.visible_input(h, 1.0))
    }

    /// The free energy F(v) = -v·b_v - Σ_j softplus(b_h,j + (vW)_j), with
    /// P(v) ∝ exp(-F(v)); [batch].
    pub fn free_energy(&self, v: Tensor<2>) -> Tensor<1> {
        let [batch, _] = v.dims();
        let bias_term = v.clone().matmul(self.vb.val().unsqueeze_dim::<2>(1)); // [batch, 1]
        let hidden_term = softplus(self.hidden_input(v, 1.0), 1.0).sum_dim(1); // [batch, 1]
        (bias_term + hidden_term).neg().reshape([batch])
    }
}

/// The coin flips of Gibbs sampling, from a seeded generator of its own: the device's shared
/// generator would make a run's draws depend on what other threads draw (and theirs on ours).
#[derive(Debug, Clone)]
pub struct Coins {
    rng: StdRng,
}

impl Coins {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A uniform index below `n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n.max(1))
    }

    /// Binary samples with P(1) = `p`.
    pub fn bernoulli<const D: usize>(&mut self, p: Tensor<D>) -> Tensor<D> {
        let shape = p.shape();
        let u: Vec<f32> = (0..shape.num_elements())
            .map(|_| self.rng.random::<f32>())
            .collect();
        let u = Tensor::<D>::from_data(TensorData::new(u, shape), &p.device());
        p.greater(u).float()
    }
}

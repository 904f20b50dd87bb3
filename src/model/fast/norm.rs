//! Batch normalisation (training mode) followed by a (leaky) ReLU, as one operation.
//!
//! Why: burn's default batch norm transposes the whole activation twice forward and twice
//! backward to reduce per channel, and the activation adds more passes and graph nodes. Here
//! each direction is two passes over the data, parallel over channels, on burn-flex's storage.
//! The function is `act(BatchNorm(x))` with `act(v) = v` for v > 0 and `slope * v` otherwise
//! (slope 0 is ReLU); batch statistics use the biased variance, as burn's `BatchNorm` does, and
//! the running statistics are updated the same way.

use super::wanted;
use crate::model::leaky_relu;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, Dispatch, Flex, TensorMetadata, backend_extension,
};
use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::relu;
use rayon::prelude::*;

/// `act(bn(x))` in training mode; burn's layer and activation when the extension does not apply.
pub fn batch_norm_act(bn: &BatchNorm, x: Tensor<4>, slope: f64) -> Tensor<4> {
    let device = x.device();
    let training = device.is_autodiff() && bn.training.val().is_enabled();
    if !(training && super::which("norm") && x.dtype() == burn::tensor::DType::F32 && wanted(&device)) {
        let y = bn.forward(x);
        return if slope == 0.0 { relu(y) } else { leaky_relu(y, slope) };
    }
    let (y, mean, var) = <Dispatch as FastNorm>::batch_norm_act(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
        slope,
    );
    let (mean, var) = (Tensor::<1>::from_dispatch(mean), Tensor::<1>::from_dispatch(var));
    let m = bn.momentum;
    let running = |old: Tensor<1>, new: Tensor<1>| {
        old.to_device(&device)
            .mul_scalar(1.0 - m)
            .add(new.detach().mul_scalar(m))
            .detach()
    };
    bn.running_mean
        .update(running(bn.running_mean.value_sync(), mean));
    bn.running_var.update(running(bn.running_var.value_sync(), var));
    Tensor::from_dispatch(y)
}

#[backend_extension(Flex, Autodiff)]
pub trait FastNorm: Backend {
    /// `x`: [n, c, h, w]; `gamma`, `beta`: [c]. Returns the activated output [n, c, h, w] and
    /// the batch mean and biased variance, [c] each.
    fn batch_norm_act(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        slope: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// Gradients of [`FastNorm::batch_norm_act`] for `x`, `gamma` and `beta`.
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_act_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        epsilon: f64,
        slope: f64,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// Row-major f32 values of a flex tensor (copied only when it is a strided view).
fn values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(
            t.to_contiguous()
                .as_slice::<f32>()
                .map(<[f32]>::to_vec)
                .unwrap_or_default(),
        ),
    }
}

fn tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Per-channel mean and biased variance of x viewed as [n, c, s]: f32 within a block of s
/// values (vectorised), f64 across blocks.
fn statistics(x: &[f32], n: usize, c: usize, s: usize) -> (Vec<f32>, Vec<f32>) {
    let count = (n * s) as f64;
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let block = |b: usize| &x[(b * c + ch) * s..(b * c + ch + 1) * s];
            let sum: f64 = (0..n).map(|b| block(b).iter().sum::<f32>() as f64).sum();
            let mean = (sum / count) as f32;
            let squares: f64 = (0..n)
                .map(|b| block(b).iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() as f64)
                .sum();
            (mean, (squares / count) as f32)
        })
        .unzip()
}

fn dims(x: &FlexTensor) -> (usize, usize, usize) {
    let shape = x.shape();
    let (n, c) = (shape[0], shape[1]);
    (n, c, shape.num_elements() / (n * c).max(1))
}

/// One channel's constants: the normalised value is `(v - mean) * inv`, the pre-activation
/// `xhat * gamma + beta`.
#[derive(Clone, Copy)]
struct Channel {
    mean: f32,
    inv: f32,
    gamma: f32,
    beta: f32,
}

impl Channel {
    fn all(mean: &[f32], var: &[f32], gamma: &[f32], beta: &[f32], epsilon: f64) -> Vec<Self> {
        (0..mean.len())
            .map(|ch| Channel {
                mean: mean[ch],
                inv: 1.0 / (var[ch] + epsilon as f32).sqrt(),
                gamma: gamma[ch],
                beta: beta[ch],
            })
            .collect()
    }
}

impl Channel {
    fn scale_shift(self) -> (f32, f32) {
        let scale = self.gamma * self.inv;
        (scale, self.beta - self.mean * scale)
    }
}

// The three inner loops, kept as plain functions over slices so they vectorise.
#[inline(never)]
fn forward_block(out: &mut [f32], inp: &[f32], k: Channel, slope: f32) {
    let (scale, shift) = k.scale_shift();
    for (o, &v) in out.iter_mut().zip(inp) {
        let pre = v * scale + shift;
        *o = if pre > 0.0 { pre } else { slope * pre };
    }
}

#[inline(never)]
fn sums_block(xs: &[f32], dys: &[f32], k: Channel, slope: f32) -> (f32, f32) {
    let (scale, shift) = k.scale_shift();
    let (mut sum, mut sum_xhat) = (0f32, 0f32);
    for (&v, &dy) in xs.iter().zip(dys) {
        let g = if v * scale + shift > 0.0 { dy } else { slope * dy };
        sum += g;
        sum_xhat += g * (v - k.mean) * k.inv;
    }
    (sum, sum_xhat)
}

#[inline(never)]
fn grad_block(out: &mut [f32], xs: &[f32], dys: &[f32], k: Channel, slope: f32, means: (f32, f32)) {
    let (scale, shift) = k.scale_shift();
    let (mean_g, mean_gx) = means;
    for ((o, &v), &dy) in out.iter_mut().zip(xs).zip(dys) {
        let g = if v * scale + shift > 0.0 { dy } else { slope * dy };
        *o = scale * (g - mean_g - (v - k.mean) * k.inv * mean_gx);
    }
}

impl FastNorm for Flex {
    fn batch_norm_act(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        slope: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let shape = x.shape().to_vec();
        let (n, c, s) = dims(&x);
        let xv = values(&x);
        let (mean, var) = statistics(&xv, n, c, s);
        let chans = Channel::all(&mean, &var, &values(&gamma), &values(&beta), epsilon);
        let slope = slope as f32;
        let mut y = vec![0f32; xv.len()];
        y.par_chunks_mut(s.max(1))
            .zip(xv.par_chunks(s.max(1)))
            .enumerate()
            .for_each(|(i, (out, inp))| forward_block(out, inp, chans[i % c], slope));
        (tensor(y, shape), tensor(mean, vec![c]), tensor(var, vec![c]))
    }

    fn batch_norm_act_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        mean: FlexTensor,
        var: FlexTensor,
        epsilon: f64,
        slope: f64,
        grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let shape = x.shape().to_vec();
        let (n, c, s) = dims(&x);
        let (xv, dyv) = (values(&x), values(&grad));
        let chans = Channel::all(
            &values(&mean),
            &values(&var),
            &values(&gamma),
            &values(&beta),
            epsilon,
        );
        let slope = slope as f32;
        // Per channel: the sums of the pre-activation gradient and of it times xhat.
        let (dbeta, dgamma): (Vec<f32>, Vec<f32>) = (0..c)
            .into_par_iter()
            .map(|ch| {
                let k = chans[ch];
                let (mut sum, mut sum_xhat) = (0f64, 0f64);
                for b in 0..n {
                    let at = (b * c + ch) * s;
                    let (bs, bx) = sums_block(&xv[at..at + s], &dyv[at..at + s], k, slope);
                    sum += bs as f64;
                    sum_xhat += bx as f64;
                }
                (sum as f32, sum_xhat as f32)
            })
            .unzip();
        let count = (n * s) as f32;
        let mut dx = vec![0f32; xv.len()];
        dx.par_chunks_mut(s.max(1))
            .zip(xv.par_chunks(s.max(1)).zip(dyv.par_chunks(s.max(1))))
            .enumerate()
            .for_each(|(i, (out, (xs, dys)))| {
                let ch = i % c;
                let means = (dbeta[ch] / count, dgamma[ch] / count);
                grad_block(out, xs, dys, chans[ch], slope, means);
            });
        (
            tensor(dx, shape),
            tensor(dgamma, vec![c]),
            tensor(dbeta, vec![c]),
        )
    }
}

#[derive(Debug)]
struct NormBackward;

/// Checkpointed x, gamma, beta; the batch statistics; epsilon and slope.
type State<T> = (NodeId, NodeId, NodeId, T, T, f64, f64);

impl<B: Backend + FastNorm> Backward<B, 3> for NormBackward {
    type State = State<FloatTensor<B>>;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (xs, gs, bs, mean, var, epsilon, slope) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(xs);
        let gamma = checkpointer.retrieve_node_output::<FloatTensor<B>>(gs);
        let beta = checkpointer.retrieve_node_output::<FloatTensor<B>>(bs);
        let (dx, dgamma, dbeta) =
            B::batch_norm_act_backward(x, gamma, beta, mean, var, epsilon, slope, grad);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_gamma {
            grads.register::<B>(node.id, dgamma);
        }
        if let Some(node) = node_beta {
            grads.register::<B>(node.id, dbeta);
        }
    }
}

impl<B: Backend + FastNorm, C: CheckpointStrategy> FastNorm for Autodiff<B, C> {
    fn batch_norm_act(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        slope: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let prep = NormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        match prep {
            OpsKind::Tracked(mut prep) => {
                let state = (
                    prep.checkpoint(&x),
                    prep.checkpoint(&gamma),
                    prep.checkpoint(&beta),
                );
                let (y, mean, var) = B::batch_norm_act(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                    slope,
                );
                let full = (
                    state.0,
                    state.1,
                    state.2,
                    mean.clone(),
                    var.clone(),
                    epsilon,
                    slope,
                );
                (
                    prep.finish(full, y),
                    Self::from_inner(mean),
                    Self::from_inner(var),
                )
            }
            OpsKind::UnTracked(prep) => {
                let (y, mean, var) = B::batch_norm_act(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                    slope,
                );
                (prep.finish(y), Self::from_inner(mean), Self::from_inner(var))
            }
        }
    }

    fn batch_norm_act_backward(
        _x: FloatTensor<Self>,
        _gamma: FloatTensor<Self>,
        _beta: FloatTensor<Self>,
        _mean: FloatTensor<Self>,
        _var: FloatTensor<Self>,
        _epsilon: f64,
        _slope: f64,
        _grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        // Second derivatives of this layer are never taken (WGAN-GP uses finite differences).
        unreachable!("batch_norm_act_backward is not differentiable")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::BatchNormConfig;
    use burn::tensor::Distribution;

    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    /// Output, gradients and running statistics agree with burn's BatchNorm + activation.
    fn check(slope: f64) {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([4, 3, 5, 5], Distribution::Normal(1.0, 2.0), &device);
        let mix = Tensor::<4>::random([4, 3, 5, 5], Distribution::Normal(0.0, 1.0), &device);
        let make = || {
            let bn = BatchNormConfig::new(3).init(&device);
            // Non-trivial affine parameters, identical in both copies.
            let gamma = Tensor::<1>::from_floats([0.5, -1.5, 2.0], &device);
            let beta = Tensor::<1>::from_floats([0.1, 0.0, -0.3], &device);
            BatchNorm {
                gamma: bn.gamma.map(|_| gamma.require_grad()),
                beta: bn.beta.map(|_| beta.require_grad()),
                ..bn
            }
        };
        let run = |ours: bool| {
            let bn = make();
            let xg = x.clone().require_grad();
            let y = if ours {
                batch_norm_act(&bn, xg.clone(), slope)
            } else {
                let y = bn.forward(xg.clone());
                if slope == 0.0 { relu(y) } else { leaky_relu(y, slope) }
            };
            let grads = (y.clone() * mix.clone()).sum().backward();
            (
                y.inner(),
                xg.grad(&grads).expect("x gradient"),
                bn.gamma.val().grad(&grads).expect("gamma gradient"),
                bn.beta.val().grad(&grads).expect("beta gradient"),
                bn.running_mean.value_sync(),
                bn.running_var.value_sync(),
            )
        };
        let (y0, gx0, gg0, gb0, rm0, rv0) = run(false);
        let (y1, gx1, gg1, gb1, rm1, rv1) = run(true);
        assert!(max_diff(y0, y1) < 1e-4, "output");
        assert!(max_diff(gx0, gx1) < 1e-4, "input gradient");
        assert!(max_diff(gg0, gg1) < 1e-3, "gamma gradient");
        assert!(max_diff(gb0, gb1) < 1e-3, "beta gradient");
        assert!(max_diff(rm0.clone(), rm1) < 1e-5, "running mean");
        assert!(rm0.abs().max().into_scalar::<f32>() > 0.01, "running mean moved");
        assert!(max_diff(rv0, rv1) < 1e-4, "running variance");
    }

    #[test]
    fn batch_norm_relu_matches_burn() {
        check(0.0);
    }

    #[test]
    fn batch_norm_leaky_relu_matches_burn() {
        check(0.2);
    }
}

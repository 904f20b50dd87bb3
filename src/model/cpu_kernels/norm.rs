//! Batch normalisation (training mode) followed by a (leaky) ReLU, as one operation.
//!
//! Why: burn's default batch norm transposes the whole activation twice forward and twice
//! backward to reduce per channel, and the activation adds more passes and graph nodes. Here
//! each direction is two passes over channels-last data (vectorised across channels), on
//! burn-flex's storage.
//! The function is `act(BatchNorm(x))` with `act(v) = v` for v > 0 and `slope * v` otherwise
//! (slope 0 is ReLU); batch statistics use the biased variance, as burn's `BatchNorm` does, and
//! the running statistics are updated the same way.

use super::{f32s, par_filled, register_grads, tensor, wanted};
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
use burn::tensor::activation::relu;
use rayon::prelude::*;

/// `act(bn(x))` in training mode on channels-last `x` [n, h, w, c]; burn's layer and
/// activation (through NCHW) when the extension does not apply.
pub fn batch_norm_act(bn: &BatchNorm, x: Tensor<4>, slope: f64) -> Tensor<4> {
    let device = x.device();
    let training = device.is_autodiff() && bn.training.val().is_enabled();
    if !(training && x.dtype() == burn::tensor::DType::F32 && wanted(&device)) {
        let y = bn.forward(x.permute([0, 3, 1, 2]));
        let y = if slope == 0.0 {
            relu(y)
        } else {
            leaky_relu(y, slope)
        };
        return y.permute([0, 2, 3, 1]);
    }
    let (y, mean, var) = <Dispatch as FastNorm>::batch_norm_act(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        bn.epsilon,
        slope,
    );
    let (mean, var) = (
        Tensor::<1>::from_dispatch(mean),
        Tensor::<1>::from_dispatch(var),
    );
    let m = bn.momentum;
    let running = |old: Tensor<1>, new: Tensor<1>| {
        old.to_device(&device)
            .mul_scalar(1.0 - m)
            .add(new.detach().mul_scalar(m))
            .detach()
    };
    bn.running_mean
        .update(running(bn.running_mean.value_sync(), mean));
    bn.running_var
        .update(running(bn.running_var.value_sync(), var));
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

/// Rows per parallel task when reducing over rows.
const CHUNK_ROWS: usize = 256;

/// Per-channel sums over all rows of `[rows, c]` data of two quantities computed per element:
/// f32 within a chunk of rows (vectorised across channels), f64 across chunks. The chunks are
/// added in order, not by rayon's `reduce`, whose grouping follows work stealing: the same
/// data must give the same bits, or a resumed run drifts from an unbroken one.
fn channel_sums(
    rows: usize,
    c: usize,
    add: impl Fn(usize, &mut [f32], &mut [f32]) + Sync,
) -> (Vec<f64>, Vec<f64>) {
    let widen = |v: Vec<f32>| v.into_iter().map(f64::from).collect::<Vec<f64>>();
    let merge = |mut x: Vec<f64>, y: Vec<f64>| {
        x.iter_mut().zip(y).for_each(|(x, y)| *x += y);
        x
    };
    let chunks: Vec<(Vec<f64>, Vec<f64>)> = (0..rows.div_ceil(CHUNK_ROWS))
        .into_par_iter()
        .map(|chunk| {
            let (mut a, mut b) = (vec![0f32; c], vec![0f32; c]);
            for r in chunk * CHUNK_ROWS..((chunk + 1) * CHUNK_ROWS).min(rows) {
                add(r, &mut a, &mut b);
            }
            (widen(a), widen(b))
        })
        .collect();
    chunks
        .into_iter()
        .fold((vec![0f64; c], vec![0f64; c]), |(sa, sb), (a, b)| {
            (merge(sa, a), merge(sb, b))
        })
}

/// Channels-last data as (rows, channels).
fn dims(x: &FlexTensor) -> (usize, usize) {
    let shape = x.shape();
    let c = shape[shape.num_dims() - 1];
    (shape.num_elements() / c.max(1), c)
}

/// Per-channel constants: pre-activation `v * scale + shift`, normalised value
/// `(v - mean) * inv`.
struct Channels {
    mean: Vec<f32>,
    inv: Vec<f32>,
    scale: Vec<f32>,
    shift: Vec<f32>,
}

impl Channels {
    fn new(mean: &[f32], var: &[f32], gamma: &[f32], beta: &[f32], epsilon: f64) -> Self {
        let inv: Vec<f32> = var
            .iter()
            .map(|&v| 1.0 / (v + epsilon as f32).sqrt())
            .collect();
        let scale: Vec<f32> = gamma.iter().zip(&inv).map(|(g, i)| g * i).collect();
        let shift = (0..mean.len())
            .map(|ch| beta[ch] - mean[ch] * scale[ch])
            .collect();
        Self {
            mean: mean.to_vec(),
            inv,
            scale,
            shift,
        }
    }
}

// The inner loops: plain functions over whole rows of c channels, so they vectorise.

#[inline(never)]
fn add_row(acc: &mut [f32], row: &[f32]) {
    for (a, &v) in acc.iter_mut().zip(row) {
        *a += v;
    }
}

#[inline(never)]
fn add_squares(acc: &mut [f32], row: &[f32], mean: &[f32]) {
    for ((a, &v), &m) in acc.iter_mut().zip(row).zip(mean) {
        *a += (v - m) * (v - m);
    }
}

#[inline(never)]
fn forward_rows(out: &mut [f32], inp: &[f32], k: &Channels, slope: f32) {
    let c = k.scale.len();
    for (o_row, x_row) in out.chunks_exact_mut(c).zip(inp.chunks_exact(c)) {
        for (((o, &v), &sc), &sh) in o_row.iter_mut().zip(x_row).zip(&k.scale).zip(&k.shift) {
            let pre = v * sc + sh;
            *o = if pre > 0.0 { pre } else { slope * pre };
        }
    }
}

/// Adds one row's gradient before the activation (`a`) and that times xhat (`b`).
#[inline(never)]
fn grad_sums_row(a: &mut [f32], b: &mut [f32], xs: &[f32], dys: &[f32], k: &Channels, slope: f32) {
    let c = a.len();
    let (xs, dys, b) = (&xs[..c], &dys[..c], &mut b[..c]);
    let (scale, shift, mean, inv) = (&k.scale[..c], &k.shift[..c], &k.mean[..c], &k.inv[..c]);
    for ch in 0..c {
        let v = xs[ch];
        let g = if v * scale[ch] + shift[ch] > 0.0 {
            dys[ch]
        } else {
            slope * dys[ch]
        };
        a[ch] += g;
        b[ch] += g * (v - mean[ch]) * inv[ch];
    }
}

#[inline(never)]
fn grad_rows(
    out: &mut [f32],
    xs: &[f32],
    dys: &[f32],
    k: &Channels,
    slope: f32,
    (mean_g, mean_gx): (&[f32], &[f32]),
) {
    let c = k.scale.len();
    let (scale, shift, mean, inv) = (&k.scale[..c], &k.shift[..c], &k.mean[..c], &k.inv[..c]);
    let (mean_g, mean_gx) = (&mean_g[..c], &mean_gx[..c]);
    for ((o_row, x_row), dy_row) in out
        .chunks_exact_mut(c)
        .zip(xs.chunks_exact(c))
        .zip(dys.chunks_exact(c))
    {
        let (o_row, x_row, dy_row) = (&mut o_row[..c], &x_row[..c], &dy_row[..c]);
        for ch in 0..c {
            let v = x_row[ch];
            let g = if v * scale[ch] + shift[ch] > 0.0 {
                dy_row[ch]
            } else {
                slope * dy_row[ch]
            };
            let xhat = (v - mean[ch]) * inv[ch];
            o_row[ch] = scale[ch] * (g - mean_g[ch] - xhat * mean_gx[ch]);
        }
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
        let (rows, c) = dims(&x);
        let xv = f32s(&x);
        let count = rows as f64;
        let (sums, _) = channel_sums(rows, c, |r, a, _| add_row(a, &xv[r * c..(r + 1) * c]));
        let mean: Vec<f32> = sums.iter().map(|&s| (s / count) as f32).collect();
        let (squares, _) = channel_sums(rows, c, |r, a, _| {
            add_squares(a, &xv[r * c..(r + 1) * c], &mean)
        });
        let var: Vec<f32> = squares.iter().map(|&s| (s / count) as f32).collect();
        let k = Channels::new(&mean, &var, &f32s(&gamma), &f32s(&beta), epsilon);
        let slope = slope as f32;
        let step = (CHUNK_ROWS * c).max(1);
        let y = par_filled(xv.len(), step, |i, out| {
            forward_rows(out, &xv[i * step..][..out.len()], &k, slope)
        });
        (
            tensor(y, shape),
            tensor(mean, vec![c]),
            tensor(var, vec![c]),
        )
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
        let (rows, c) = dims(&x);
        let (xv, dyv) = (f32s(&x), f32s(&grad));
        let k = Channels::new(
            &f32s(&mean),
            &f32s(&var),
            &f32s(&gamma),
            &f32s(&beta),
            epsilon,
        );
        let slope = slope as f32;
        let (sum_g, sum_gx) = channel_sums(rows, c, |r, a, b| {
            grad_sums_row(
                a,
                b,
                &xv[r * c..(r + 1) * c],
                &dyv[r * c..(r + 1) * c],
                &k,
                slope,
            )
        });
        let count = rows as f64;
        let mean_g: Vec<f32> = sum_g.iter().map(|&s| (s / count) as f32).collect();
        let mean_gx: Vec<f32> = sum_gx.iter().map(|&s| (s / count) as f32).collect();
        assert_eq!(xv.len(), dyv.len(), "one gradient per output");
        let step = (CHUNK_ROWS * c).max(1);
        let dx = par_filled(xv.len(), step, |i, out| {
            let (xs, dys) = (&xv[i * step..][..out.len()], &dyv[i * step..][..out.len()]);
            grad_rows(out, xs, dys, &k, slope, (&mean_g, &mean_gx))
        });
        let dgamma = sum_gx.iter().map(|&s| s as f32).collect();
        let dbeta = sum_g.iter().map(|&s| s as f32).collect();
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
        let ids = [node_x, node_gamma, node_beta].map(|n| n.map(|n| n.id));
        register_grads::<B>(grads, ids, [dx, dgamma, dbeta]);
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
                (
                    prep.finish(y),
                    Self::from_inner(mean),
                    Self::from_inner(var),
                )
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
                batch_norm_act(&bn, xg.clone().permute([0, 2, 3, 1]), slope).permute([0, 3, 1, 2])
            } else {
                let y = bn.forward(xg.clone());
                if slope == 0.0 {
                    relu(y)
                } else {
                    leaky_relu(y, slope)
                }
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
        assert!(
            rm0.abs().max().into_scalar::<f32>() > 0.01,
            "running mean moved"
        );
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

//! Leaky ReLU as one operation with its own backward pass.
//!
//! Why: burn 0.22's autodiff has no leaky-ReLU op; composed from tensor operations it costs four
//! passes over the activation forward and as many backward. Here it is one pass each way.

use super::{f32s, par_filled, tensor, wanted};
use crate::model::leaky_relu;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;
use burn::tensor::DType;

/// `max(x, 0) + slope * min(x, 0)` for `0 <= slope < 1`, element-wise.
pub fn leaky<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    if (0.0..1.0).contains(&slope) && x.dtype() == DType::F32 && wanted(&x.device()) {
        Tensor::from_dispatch(<Dispatch as FastActivation>::leaky_relu_fused(
            x.into_dispatch(),
            slope,
        ))
    } else {
        leaky_relu(x, slope)
    }
}

/// `tanh(x)`, element-wise, split across the thread pool (burn's runs libm's tanh on one
/// thread; the values are the same).
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if x.dtype() == DType::F32 && wanted(&x.device()) {
        Tensor::from_dispatch(<Dispatch as FastActivation>::tanh_fused(x.into_dispatch()))
    } else {
        burn::tensor::activation::tanh(x)
    }
}

#[backend_extension(Flex, Autodiff)]
pub trait FastActivation: Backend {
    fn tanh_fused(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// The input gradient from the forward output `y`: `(1 - y^2) grad`.
    fn tanh_fused_backward(y: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;

    fn leaky_relu_fused(x: FloatTensor<Self>, slope: f64) -> FloatTensor<Self>;

    /// The input gradient, from the forward output `y` (same sign as the input) and `grad`.
    fn leaky_relu_fused_backward(
        y: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        slope: f64,
    ) -> FloatTensor<Self>;
}

const CHUNK: usize = 16 * 1024;

#[inline(never)]
fn forward_chunk(out: &mut [f32], x: &[f32], slope: f32) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = if v > 0.0 { v } else { slope * v };
    }
}

#[inline(never)]
fn backward_chunk(out: &mut [f32], y: &[f32], dy: &[f32], slope: f32) {
    for ((o, &v), &g) in out.iter_mut().zip(y).zip(dy) {
        *o = if v > 0.0 { g } else { slope * g };
    }
}

impl FastActivation for Flex {
    fn tanh_fused(x: FlexTensor) -> FlexTensor {
        let shape = x.shape().to_vec();
        let xv = f32s(&x);
        let y = par_filled(xv.len(), CHUNK, |i, o| {
            let x = &xv[i * CHUNK..][..o.len()];
            o.iter_mut().zip(x).for_each(|(o, &v)| *o = v.tanh());
        });
        tensor(y, shape)
    }

    fn tanh_fused_backward(y: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let shape = y.shape().to_vec();
        let (yv, gv) = (f32s(&y), f32s(&grad));
        assert_eq!(yv.len(), gv.len(), "one gradient per output");
        let dx = par_filled(yv.len(), CHUNK, |i, o| {
            let (y, g) = (&yv[i * CHUNK..][..o.len()], &gv[i * CHUNK..][..o.len()]);
            for ((o, &y), &g) in o.iter_mut().zip(y).zip(g) {
                *o = (1.0 - y * y) * g;
            }
        });
        tensor(dx, shape)
    }

    fn leaky_relu_fused(x: FlexTensor, slope: f64) -> FlexTensor {
        let shape = x.shape().to_vec();
        let xv = f32s(&x);
        let y = par_filled(xv.len(), CHUNK, |i, o| {
            forward_chunk(o, &xv[i * CHUNK..][..o.len()], slope as f32)
        });
        tensor(y, shape)
    }

    fn leaky_relu_fused_backward(y: FlexTensor, grad: FlexTensor, slope: f64) -> FlexTensor {
        let shape = y.shape().to_vec();
        let (yv, gv) = (f32s(&y), f32s(&grad));
        assert_eq!(yv.len(), gv.len(), "one gradient per output");
        let dx = par_filled(yv.len(), CHUNK, |i, o| {
            let (y, g) = (&yv[i * CHUNK..][..o.len()], &gv[i * CHUNK..][..o.len()]);
            backward_chunk(o, y, g, slope as f32)
        });
        tensor(dx, shape)
    }
}

#[derive(Debug)]
struct TanhBackward;

impl<B: Backend + FastActivation> Backward<B, 1> for TanhBackward {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let y = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::tanh_fused_backward(y, grad)
        });
    }
}

#[derive(Debug)]
struct LeakyBackward;

impl<B: Backend + FastActivation> Backward<B, 1> for LeakyBackward {
    type State = (FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (y, slope) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::leaky_relu_fused_backward(y, grad, slope)
        });
    }
}

impl<B: Backend + FastActivation, C: CheckpointStrategy> FastActivation for Autodiff<B, C> {
    fn tanh_fused(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match TanhBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::tanh_fused(x.into_primitive());
                prep.finish(y.clone(), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::tanh_fused(x.into_primitive())),
        }
    }

    fn tanh_fused_backward(_: FloatTensor<Self>, _: FloatTensor<Self>) -> FloatTensor<Self> {
        unreachable!("called on the inner backend only")
    }

    fn leaky_relu_fused(x: FloatTensor<Self>, slope: f64) -> FloatTensor<Self> {
        match LeakyBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::leaky_relu_fused(x.into_primitive(), slope);
                prep.finish((y.clone(), slope), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::leaky_relu_fused(x.into_primitive(), slope)),
        }
    }

    fn leaky_relu_fused_backward(
        _: FloatTensor<Self>,
        _: FloatTensor<Self>,
        _: f64,
    ) -> FloatTensor<Self> {
        unreachable!("called on the inner backend only")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn leaky_relu_matches_burn() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([2, 3, 4, 5], Distribution::Normal(0.0, 1.0), &device);
        let mix = Tensor::<4>::random([2, 3, 4, 5], Distribution::Normal(0.0, 1.0), &device);
        assert!(wanted(&device), "the fused path is the one under test");
        let run = |ours: bool| {
            let xg = x.clone().require_grad();
            let y = if ours {
                leaky(xg.clone(), 0.2)
            } else {
                burn::tensor::activation::leaky_relu(xg.clone(), 0.2)
            };
            let grads = (y.clone() * mix.clone()).sum().backward();
            (y.inner(), xg.grad(&grads).expect("gradient"))
        };
        let ((y0, g0), (y1, g1)) = (run(false), run(true));
        assert!((y0 - y1).abs().max().into_scalar::<f32>() < 1e-6);
        assert!((g0 - g1).abs().max().into_scalar::<f32>() < 1e-6);
    }

    #[test]
    fn tanh_matches_burn() {
        let device = Device::flex().autodiff();
        let host = |salt: usize| {
            let v: Vec<f32> = (0..3 * 40_000)
                .map(|i| ((i * 29 + salt) % 97) as f32 / 16.0 - 3.0)
                .collect();
            Tensor::<2>::from_data(burn::tensor::TensorData::new(v, [3, 40_000]), &device)
        };
        let (x, mix) = (host(1), host(2));
        assert!(wanted(&device), "the fused path is the one under test");
        let run = |ours: bool| {
            let xg = x.clone().require_grad();
            let y = if ours {
                tanh(xg.clone())
            } else {
                burn::tensor::activation::tanh(xg.clone())
            };
            let grads = (y.clone() * mix.clone()).sum().backward();
            (y.inner(), xg.grad(&grads).expect("gradient"))
        };
        let ((y0, g0), (y1, g1)) = (run(false), run(true));
        assert!((y0 - y1).abs().max().into_scalar::<f32>() < 1e-6);
        assert!((g0 - g1).abs().max().into_scalar::<f32>() < 1e-5);
    }
}

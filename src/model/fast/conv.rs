//! The two DCGAN-28 convolutions (kernel 4, stride 2, padding 1) as a burn backend extension
//! whose backward pass computes the weight gradient as one matrix product.
//!
//! Why: burn 0.22 differentiates a convolution's weight through another convolution (for the
//! transposed one, a dilated convolution whose "kernel" is the whole input), which burn-flex
//! runs as many small products. Here the weight gradient is `im2col(a)^T @ b` over the whole
//! batch: the windows are a zero-copy `unfold` view copied once with channels innermost, then
//! one well-shaped GEMM. The forward pass and the input gradient stay burn's own kernels. The
//! mathematics are those of `Conv2d`/`ConvTranspose2d` (the tests compare values and all three
//! gradients), and the weights keep burn's layouts, so checkpoints are unchanged.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use super::wanted;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::tensor::TensorData;
use rayon::prelude::*;

/// `layer.forward(x)`, through [`FastConv::conv_k4s2p1`] when the layer has that shape.
pub fn conv(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let fits = layer.kernel_size == [4, 4]
        && layer.stride == [2, 2]
        && layer.dilation == [1, 1]
        && layer.groups == 1
        && layer.padding == PaddingConfig2d::Explicit(1, 1, 1, 1)
        && h % 2 == 0
        && w % 2 == 0;
    match &layer.bias {
        Some(bias) if fits && super::which("down") && wanted(&x.device()) => Tensor::from_dispatch(
            <Dispatch as FastConv>::conv_k4s2p1(
                x.into_dispatch(),
                layer.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
            ),
        ),
        _ => layer.forward(x),
    }
}

/// `layer.forward(x)`, through [`FastConv::conv_transpose_k4s2p1`] when the layer has that
/// shape.
pub fn conv_transpose(layer: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let fits = layer.kernel_size == [4, 4]
        && layer.stride == [2, 2]
        && layer.dilation == [1, 1]
        && layer.groups == 1
        && layer.padding == [1, 1]
        && layer.padding_out == [0, 0];
    match &layer.bias {
        Some(bias) if fits && super::which("up") && wanted(&x.device()) => Tensor::from_dispatch(
            <Dispatch as FastConv>::conv_transpose_k4s2p1(
                x.into_dispatch(),
                layer.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
            ),
        ),
        _ => layer.forward(x),
    }
}

/// Convolutions with kernel 4, stride 2, padding 1, with a bias, and their gradients.
#[backend_extension(Flex, Autodiff)]
pub trait FastConv: Backend {
    /// `x`: [n, cin, 2h, 2w]; `weight`: [cout, cin, 4, 4]; `bias`: [cout] -> [n, cout, h, w].
    fn conv_k4s2p1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `x`: [n, cin, h, w]; `weight`: [cin, cout, 4, 4]; `bias`: [cout] -> [n, cout, 2h, 2w].
    fn conv_transpose_k4s2p1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// Gradient of [`FastConv::conv_k4s2p1`] for `weight`, given its output gradient.
    fn conv_k4s2p1_weight_grad(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self>;

    /// Gradient of [`FastConv::conv_transpose_k4s2p1`] for `weight`.
    fn conv_transpose_k4s2p1_weight_grad(
        x: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// A convolution's input gradient is the transposed convolution of its output gradient
    /// with the same weight, and the other way round; no bias.
    fn conv_k4s2p1_no_bias(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;

    /// See [`FastConv::conv_k4s2p1_no_bias`].
    fn conv_transpose_k4s2p1_no_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

impl FastConv for Flex {
    fn conv_k4s2p1(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        add_bias(Self::conv_k4s2p1_no_bias(x, weight), bias)
    }

    fn conv_transpose_k4s2p1(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        add_bias(Self::conv_transpose_k4s2p1_no_bias(x, weight), bias)
    }

    /// `dW[cout, (kh, kw, cin)] = dy_rows^T @ im2col(x)`.
    fn conv_k4s2p1_weight_grad(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let [_, cin, _, _] = x.shape().dims();
        let cout = grad.shape()[1];
        let dw = Flex::float_matmul(Flex::float_transpose(rows(grad)), im2col(x));
        let dw = Flex::float_reshape(dw, [cout, 4, 4, cin].into());
        Flex::float_permute(dw, &[0, 3, 1, 2]).to_contiguous() // [cout, cin, 4, 4]
    }

    /// `dW[cin, (kh, kw, cout)] = x_rows^T @ im2col(dy)`.
    fn conv_transpose_k4s2p1_weight_grad(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
        let [_, cin, _, _] = x.shape().dims();
        let cout = grad.shape()[1];
        let dw = Flex::float_matmul(Flex::float_transpose(rows(x)), im2col(grad));
        let dw = Flex::float_reshape(dw, [cin, 4, 4, cout].into());
        Flex::float_permute(dw, &[0, 3, 1, 2]).to_contiguous() // [cin, cout, 4, 4]
    }

    /// `y_rows = im2col(x) @ W`, W the weight as [(kh, kw, cin), cout]; back to NCHW.
    fn conv_k4s2p1_no_bias(x: FlexTensor, weight: FlexTensor) -> FlexTensor {
        let [n, cin, hh, ww] = x.shape().dims();
        let cout = weight.shape()[0];
        let wm = Flex::float_permute(weight, &[2, 3, 1, 0]).to_contiguous(); // [kh, kw, cin, cout]
        let wm = Flex::float_reshape(wm, [16 * cin, cout].into());
        let y = Flex::float_matmul(im2col(x), wm); // [n*h*w, cout]
        let y = Flex::float_reshape(y, [n, hh / 2, ww / 2, cout].into());
        Flex::float_permute(y, &[0, 3, 1, 2]).to_contiguous() // [n, cout, h, w]
    }

    /// `col2im(x_rows @ W)`, W the weight as [cin, (kh, kw, cout)]; back to NCHW.
    fn conv_transpose_k4s2p1_no_bias(x: FlexTensor, weight: FlexTensor) -> FlexTensor {
        let [n, cin, h, w] = x.shape().dims();
        let cout = weight.shape()[1];
        let wm = Flex::float_permute(weight, &[0, 2, 3, 1]).to_contiguous(); // [cin, kh, kw, cout]
        let wm = Flex::float_reshape(wm, [cin, 16 * cout].into());
        let cols = Flex::float_matmul(rows(x), wm); // [n*h*w, (kh, kw, cout)]
        let y = col2im(&cols, n, cout, h, w); // [n, 2h, 2w, cout]
        Flex::float_permute(y, &[0, 3, 1, 2]).to_contiguous() // [n, cout, 2h, 2w]
    }
}

/// `x`: [n, c, h, w] -> [n*h*w, c] (a copy).
fn rows(x: FlexTensor) -> FlexTensor {
    let [n, c, h, w] = x.shape().dims();
    let x = Flex::float_permute(x, &[0, 2, 3, 1]).to_contiguous();
    Flex::float_reshape(x, [n * h * w, c].into())
}

fn add_bias(y: FlexTensor, bias: FlexTensor) -> FlexTensor {
    let c = bias.shape()[0];
    Flex::float_add(y, Flex::float_reshape(bias, [1, c, 1, 1].into()))
}

fn f32s(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(
            t.to_contiguous().as_slice::<f32>().map(<[f32]>::to_vec).unwrap_or_default(),
        ),
    }
}

/// Input index `2 i + k - 1` of kernel tap `k` at output `i`, if inside `0..size`.
fn tap(i: usize, k: usize, size: usize) -> Option<usize> {
    (2 * i + k).checked_sub(1).filter(|&v| v < size)
}

/// The 4x4, stride-2 windows of `x` (zero padding 1), one row per output pixel:
/// [n, c, 2h, 2w] -> [n*h*w, (kh, kw, c)]. Channels-last, so every tap is one contiguous
/// copy of c values.
fn im2col(x: FlexTensor) -> FlexTensor {
    let [n, c, hh, ww] = x.shape().dims();
    let (h, w) = (hh / 2, ww / 2);
    let xr = rows(x); // [n*2h*2w, c]
    let xv = f32s(&xr);
    let row = 16 * c;
    let mut out = vec![0f32; n * h * w * row];
    out.par_chunks_mut((h * w * row).max(1))
        .enumerate()
        .for_each(|(b, dst)| {
            let img = &xv[b * hh * ww * c..(b + 1) * hh * ww * c];
            for (cell, dst) in dst.chunks_exact_mut(row).enumerate() {
                let (i, j) = (cell / w, cell % w);
                for kh in 0..4 {
                    let Some(y) = tap(i, kh, hh) else { continue };
                    for kw in 0..4 {
                        if let Some(xx) = tap(j, kw, ww) {
                            let src = &img[(y * ww + xx) * c..][..c];
                            dst[(kh * 4 + kw) * c..][..c].copy_from_slice(src);
                        }
                    }
                }
            }
        });
    FlexTensor::from_data(TensorData::new(out, [n * h * w, row]))
}

/// The adjoint of [`im2col`]: scatter-add [n*h*w, (kh, kw, c)] into channels-last
/// [n, 2h, 2w, c].
fn col2im(cols: &FlexTensor, n: usize, c: usize, h: usize, w: usize) -> FlexTensor {
    let (hh, ww) = (2 * h, 2 * w);
    let cv = f32s(cols);
    let row = 16 * c;
    let mut out = vec![0f32; n * hh * ww * c];
    out.par_chunks_mut((hh * ww * c).max(1))
        .enumerate()
        .for_each(|(b, img)| {
            let src = &cv[b * h * w * row..(b + 1) * h * w * row];
            for (cell, src) in src.chunks_exact(row).enumerate() {
                let (i, j) = (cell / w, cell % w);
                for kh in 0..4 {
                    let Some(y) = tap(i, kh, hh) else { continue };
                    for kw in 0..4 {
                        if let Some(xx) = tap(j, kw, ww) {
                            let dst = &mut img[(y * ww + xx) * c..][..c];
                            for (d, &v) in dst.iter_mut().zip(&src[(kh * 4 + kw) * c..][..c]) {
                                *d += v;
                            }
                        }
                    }
                }
            }
        });
    FlexTensor::from_data(TensorData::new(out, [n, hh, ww, c]))
}

/// Gradient of a [c] bias from the output gradient [n, c, h, w].
fn bias_grad<B: Backend>(grad: FloatTensor<B>) -> FloatTensor<B> {
    let c = grad.shape()[1];
    let g = B::float_sum_dim(B::float_sum_dim(grad, 3), 2); // [n, c, 1, 1]
    B::float_reshape(B::float_sum_dim(g, 0), [c].into())
}

#[derive(Debug)]
struct ConvBackward;

#[derive(Debug)]
struct ConvTransposeBackward;

type State = (NodeId, NodeId);

impl<B: Backend + FastConv> Backward<B, 3> for ConvBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, w_state) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(w_state);
        if let Some(node) = node_x {
            let dx = B::conv_transpose_k4s2p1_no_bias(grad.clone(), weight);
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_w {
            grads.register::<B>(node.id, B::conv_k4s2p1_weight_grad(x, grad.clone()));
        }
        if let Some(node) = node_b {
            grads.register::<B>(node.id, bias_grad::<B>(grad));
        }
    }
}

impl<B: Backend + FastConv> Backward<B, 3> for ConvTransposeBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x_state, w_state) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(w_state);
        if let Some(node) = node_x {
            let dx = B::conv_k4s2p1_no_bias(grad.clone(), weight);
            grads.register::<B>(node.id, dx);
        }
        if let Some(node) = node_w {
            grads.register::<B>(node.id, B::conv_transpose_k4s2p1_weight_grad(x, grad.clone()));
        }
        if let Some(node) = node_b {
            grads.register::<B>(node.id, bias_grad::<B>(grad));
        }
    }
}

impl<B: Backend + FastConv, C: CheckpointStrategy> FastConv for Autodiff<B, C> {
    fn conv_k4s2p1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match ConvBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight));
                let out = B::conv_k4s2p1(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                );
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv_k4s2p1(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            )),
        }
    }

    fn conv_transpose_k4s2p1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match ConvTransposeBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight));
                let out = B::conv_transpose_k4s2p1(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                );
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv_transpose_k4s2p1(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            )),
        }
    }

    // The gradient helpers run on the inner backend inside the backward pass only.
    fn conv_k4s2p1_weight_grad(_: FloatTensor<Self>, _: FloatTensor<Self>) -> FloatTensor<Self> {
        unreachable!("called on the inner backend only")
    }

    fn conv_transpose_k4s2p1_weight_grad(
        _: FloatTensor<Self>,
        _: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        unreachable!("called on the inner backend only")
    }

    fn conv_k4s2p1_no_bias(_: FloatTensor<Self>, _: FloatTensor<Self>) -> FloatTensor<Self> {
        unreachable!("called on the inner backend only")
    }

    fn conv_transpose_k4s2p1_no_bias(
        _: FloatTensor<Self>,
        _: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        unreachable!("called on the inner backend only")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
    use burn::tensor::Distribution;

    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    /// Values and the gradients of input, weight and bias agree with burn's own layer.
    fn check(transpose: bool, cin: usize, cout: usize, side: usize) {
        let device = Device::flex().autodiff();
        let normal = Distribution::Normal(0.0, 1.0);
        let x = Tensor::<4>::random([3, cin, side, side], normal, &device);
        let out_side = if transpose { side * 2 } else { side / 2 };
        // A weighting that differs per output element, so every gradient path is exercised.
        let mix = Tensor::<4>::random([3, cout, out_side, out_side], normal, &device);
        let up = ConvTranspose2dConfig::new([cin, cout], [4, 4])
            .with_stride([2, 2])
            .with_padding([1, 1])
            .with_initializer(burn::nn::Initializer::Normal { mean: 0.0, std: 1.0 })
            .init(&device);
        let down = Conv2dConfig::new([cin, cout], [4, 4])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_initializer(burn::nn::Initializer::Normal { mean: 0.0, std: 1.0 })
            .init(&device);
        let run = |ours: bool| {
            let x = x.clone().require_grad();
            let (y, w, b) = match (transpose, ours) {
                (true, true) => (conv_transpose(&up, x.clone()), &up.weight, &up.bias),
                (true, false) => (up.forward(x.clone()), &up.weight, &up.bias),
                (false, true) => (conv(&down, x.clone()), &down.weight, &down.bias),
                (false, false) => (down.forward(x.clone()), &down.weight, &down.bias),
            };
            let grads = (y.clone() * mix.clone()).sum().backward();
            let b = b.as_ref().expect("layers have a bias").val();
            (
                y.inner(),
                x.grad(&grads).expect("input gradient"),
                w.val().grad(&grads).expect("weight gradient"),
                b.grad(&grads).expect("bias gradient"),
            )
        };
        let (y0, gx0, gw0, gb0) = run(false);
        let (y1, gx1, gw1, gb1) = run(true);
        assert_eq!(y1.dims(), [3, cout, out_side, out_side]);
        assert!(max_diff(y0, y1) < 1e-3, "values");
        assert!(max_diff(gx0, gx1) < 1e-3, "input gradient");
        assert!(max_diff(gw0.clone(), gw1) < 1e-2, "weight gradient");
        assert!(gw0.abs().max().into_scalar::<f32>() > 0.1, "a weight gradient to compare");
        assert!(max_diff(gb0, gb1) < 1e-2, "bias gradient");
    }

    #[test]
    fn transposed_convolution_matches_burn() {
        check(true, 5, 3, 7);
        check(true, 4, 1, 6);
    }

    #[test]
    fn strided_convolution_matches_burn() {
        check(false, 3, 5, 14);
        check(false, 11, 4, 8);
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use burn::tensor::Distribution;
    use std::time::Instant;

    fn time(label: &str, mut f: impl FnMut()) {
        f();
        let mut v: Vec<f64> = (0..15)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        v.sort_by(f64::total_cmp);
        println!("{label}: median {:.2} ms", v[7]);
    }

    #[test]
    #[ignore]
    fn layer_times() {
        let dev = Device::flex().autodiff();
        let n = Distribution::Normal(0.0, 1.0);
        let up1 = crate::model::dcgan::up(128, 64, &dev);
        let up2 = crate::model::dcgan::up(64, 1, &dev);
        let c1 = crate::model::dcgan::down(1, 64, &dev);
        let c2 = crate::model::dcgan::down(64, 128, &dev);
        let bn1 = burn::nn::BatchNormConfig::new(64).init(&dev);
        let bn2 = burn::nn::BatchNormConfig::new(128).init(&dev);
        let x_up1 = Tensor::<4>::random([64, 128, 7, 7], n, &dev);
        let x_up2 = Tensor::<4>::random([64, 64, 14, 14], n, &dev);
        let x_c1 = Tensor::<4>::random([64, 1, 28, 28], n, &dev);
        let x_c2 = Tensor::<4>::random([64, 64, 14, 14], n, &dev);
        for on in [false, true, false, true] {
            super::super::set_enabled(on);
            let tag = if on { "ours" } else { "burn" };
            let run = |label: &str, x: &Tensor<4>, f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
                time(&format!("{tag} {label} fwd"), || {
                    let _ = f(x.clone()).sum().into_scalar::<f32>();
                });
                time(&format!("{tag} {label} fwd+bwd"), || {
                    let xg = x.clone().require_grad();
                    let g = f(xg.clone()).sum().backward();
                    let _ = xg.grad(&g);
                });
            };
            run("up1", &x_up1, &|x| conv_transpose(&up1, x));
            run("up2", &x_up2, &|x| conv_transpose(&up2, x));
            run("conv1", &x_c1, &|x| conv(&c1, x));
            run("conv2", &x_c2, &|x| conv(&c2, x));
            run("bn1+relu", &x_up2, &|x| super::super::norm::batch_norm_act(&bn1, x, 0.0));
            run("bn2+leaky", &x_up1, &|x| super::super::norm::batch_norm_act(&bn2, x, 0.2));
        }
    }
}

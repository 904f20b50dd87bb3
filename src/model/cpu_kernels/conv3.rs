//! The 3x3, stride-1, "same" convolution on channels-last activations (the style generator's
//! layers), as a burn backend extension with its own backward pass.
//!
//! Why: burn-flex runs `conv2d` as one small product per image, and the same function built
//! from burn's tensor operations (nine shifted copies side by side, one product) spends its
//! time in layout copies and their gradients. Here the window matrix is written once by
//! `im2col`, the input gradient gathered once by `col2im` (each kernel row's three taps as one
//! run), and the products read transposes through strides. The weight keeps burn's layout
//! `[out, in, 3, 3]`.

use super::layout;
use super::matmul::{column_sums, matmul, plain, tr};
use super::{backward_xwb, f32s, par_filled, tensor, track_xwb, wanted};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;
use burn::tensor::DType;

/// `x` [n, h, w, in] convolved with `weight` [out, in, 3, 3] (zero padding 1) plus `bias`
/// [out]: [n, h, w, out]. Through the extension on burn's CPU backend, else burn's `conv2d`.
pub fn conv3x3(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>) -> Tensor<4> {
    if x.dtype() == DType::F32 && wanted(&x.device()) {
        super::count_dispatch();
        return Tensor::from_dispatch(<Dispatch as FastConv3>::conv3x3(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
        ));
    }
    let options = burn::tensor::ops::ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
    burn::tensor::module::conv2d(x.permute([0, 3, 1, 2]), weight, Some(bias), options)
        .permute([0, 2, 3, 1])
}

#[backend_extension(Flex, Autodiff)]
pub trait FastConv3: Backend {
    fn conv3x3(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// Gradients for input, weight and bias; unwanted ones come back empty.
    fn conv3x3_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        want_x: bool,
        want_weight: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// [out, in, 3, 3] -> [out, (ky, kx, in)], stored.
fn matrix_transposed(weight: &FlexTensor) -> FlexTensor {
    let [out, inp, _, _] = weight.shape().dims();
    let m = layout::swap_last_two(weight, [out, inp, 9]); // [out, (ky, kx), in]
    Flex::float_reshape(m, [out, 9 * inp].into())
}

impl FastConv3 for Flex {
    fn conv3x3(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let [n, h, w, _] = x.shape().dims();
        let [out, inp, _, _] = weight.shape().dims();
        let cols = im2col(&x); // [n*h*w, (ky, kx, in)]
        let m = layout::transpose(&matrix_transposed(&weight), [out, 9 * inp]); // [(ky, kx, in), out]
        let y = matmul(plain(&cols), plain(&m), Some(&bias));
        Flex::float_reshape(y, [n, h, w, out].into())
    }

    fn conv3x3_backward(
        x: FlexTensor,
        weight: FlexTensor,
        grad: FlexTensor,
        want_x: bool,
        want_weight: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let [n, h, w, inp] = x.shape().dims();
        let out = weight.shape()[0];
        let g = Flex::float_reshape(grad.to_contiguous(), [n * h * w, out].into()); // [n*h*w, out]
        let empty = || tensor(Vec::new(), [0]);
        let dx = if want_x {
            let dcols = matmul(plain(&g), plain(&matrix_transposed(&weight)), None); // [n*h*w, (ky, kx, in)]
            col2im(&dcols, [n, h, w, inp])
        } else {
            empty()
        };
        let dw = if want_weight {
            let cols = im2col(&x);
            let dm = matmul(tr(&g), plain(&cols), None); // [out, (ky, kx, in)]
            let dw = layout::swap_last_two(&dm, [out, 9, inp]); // [out, in, (ky, kx)]
            Flex::float_reshape(dw, [out, inp, 3, 3].into())
        } else {
            empty()
        };
        (dx, dw, column_sums(g))
    }
}

/// The 3x3 windows (zero padding 1) of channels-last `x`, one row per pixel:
/// [n, h, w, c] -> [n*h*w, (ky, kx, c)]. A kernel row's three taps are one run of up to 3c
/// values.
fn im2col(x: &FlexTensor) -> FlexTensor {
    let [n, h, w, c] = x.shape().dims();
    let xv = f32s(x);
    let row = 9 * c;
    let out = par_filled(n * h * w * row, h * w * row, |b, dst| {
        let img = &xv[b * h * w * c..(b + 1) * h * w * c];
        for (p, cell) in dst.chunks_exact_mut(row).enumerate() {
            let (y, x0) = (p / w, p % w);
            for (ky, taps) in cell.chunks_exact_mut(3 * c).enumerate() {
                let Some(sy) = (y + ky).checked_sub(1).filter(|&v| v < h) else {
                    continue; // zero (already)
                };
                // Columns x0 - 1 .. x0 + 1, clipped at the edges.
                let first = x0.saturating_sub(1);
                let last = (x0 + 2).min(w); // exclusive
                let skip = if x0 == 0 { c } else { 0 };
                let src = &img[(sy * w + first) * c..(sy * w + last) * c];
                taps[skip..skip + src.len()].copy_from_slice(src);
            }
        }
    });
    tensor(out, [n * h * w, row])
}

/// The adjoint of [`im2col`]: [n*h*w, (ky, kx, c)] summed into [n, h, w, c].
fn col2im(cols: &FlexTensor, [n, h, w, c]: [usize; 4]) -> FlexTensor {
    let cv = f32s(cols);
    let row = 9 * c;
    let out = par_filled(n * h * w * c, h * w * c, |b, img| {
        let src = &cv[b * h * w * row..(b + 1) * h * w * row];
        for (y, img_row) in img.chunks_exact_mut(w * c).enumerate() {
            for ky in 0..3 {
                // Pixel row sy's tap ky lands on row y = sy + ky - 1.
                let Some(sy) = (y + 1).checked_sub(ky).filter(|&v| v < h) else {
                    continue;
                };
                for sx in 0..w {
                    let taps = &src[((sy * w + sx) * 9 + ky * 3) * c..][..3 * c]; // [kx, c]
                    let first = sx.saturating_sub(1);
                    let last = (sx + 2).min(w);
                    let skip = if sx == 0 { c } else { 0 };
                    let dst = &mut img_row[first * c..last * c];
                    for (d, &v) in dst.iter_mut().zip(&taps[skip..]) {
                        *d += v;
                    }
                }
            }
        }
    });
    tensor(out, [n, h, w, c])
}

#[derive(Debug)]
struct Conv3Backward;

impl<B: Backend + FastConv3> Backward<B, 3> for Conv3Backward {
    type State = (
        burn::backend::autodiff::NodeId,
        burn::backend::autodiff::NodeId,
    );

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, c: &mut Checkpointer) {
        backward_xwb::<B>(ops, grads, c, B::conv3x3_backward);
    }
}

impl<B: Backend + FastConv3, C: CheckpointStrategy> FastConv3 for Autodiff<B, C> {
    fn conv3x3(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        track_xwb::<B, C, _>(Conv3Backward, [x, weight, bias], B::conv3x3)
    }

    // Runs on the inner backend, inside the backward pass only.
    fn conv3x3_backward(
        _: FloatTensor<Self>,
        _: FloatTensor<Self>,
        _: FloatTensor<Self>,
        _: bool,
        _: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called on the inner backend only")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    /// Values and all three gradients match burn's `conv2d` (1 to 4 channels, odd and even
    /// sides, down to 1x1 where every tap but the centre is padding).
    #[test]
    fn matches_burns_convolution_and_its_gradients() {
        for (cin, cout, h, w) in [(3, 5, 6, 7), (4, 2, 1, 1), (1, 3, 2, 5)] {
            let device = Device::flex().autodiff();
            let normal = Distribution::Normal(0.0, 1.0);
            let x = Tensor::<4>::random([2, h, w, cin], normal, &device);
            let weight = Tensor::<4>::random([cout, cin, 3, 3], normal, &device);
            let bias = Tensor::<1>::random([cout], normal, &device);
            let mix = Tensor::<4>::random([2, h, w, cout], normal, &device);
            let run = |ours: bool| {
                let (x, wt, b) = (
                    x.clone().require_grad(),
                    weight.clone().require_grad(),
                    bias.clone().require_grad(),
                );
                let y = if ours {
                    conv3x3(x.clone(), wt.clone(), b.clone())
                } else {
                    let _off = super::super::Scope::set(false);
                    conv3x3(x.clone(), wt.clone(), b.clone())
                };
                let grads = (y.clone() * mix.clone()).sum().backward();
                let g = |t: Tensor<4>| t.grad(&grads).expect("gradient");
                (
                    y.inner(),
                    g(x),
                    g(wt),
                    b.grad(&grads).expect("bias gradient"),
                )
            };
            let before = super::super::dispatched_here();
            let (y1, gx1, gw1, gb1) = run(true);
            assert!(
                super::super::dispatched_here() > before,
                "the extension ran"
            );
            let (y0, gx0, gw0, gb0) = run(false);
            let close = |a: Tensor<4>, b: Tensor<4>, what: &str| {
                let d = (a - b).abs().max().into_scalar::<f32>();
                assert!(d < 1e-3, "[{cin}->{cout}, {h}x{w}] {what}: off by {d}");
            };
            close(y0, y1, "values");
            close(gx0, gx1, "input gradient");
            close(gw0, gw1, "weight gradient");
            let d = (gb0 - gb1).abs().max().into_scalar::<f32>();
            assert!(d < 1e-3, "bias gradient off by {d}");
        }
    }
}

//! The DCGAN convolutions (kernel 4, stride 2, padding 1, any even side and any channel count) on channels-last
//! activations, as a burn backend extension with its own backward pass.
//!
//! Why: burn-flex runs a convolution as one small matrix product per image on NCHW data,
//! converting layouts around each, and burn differentiates a transposed convolution's weight
//! through a dilated convolution. Here activations stay [n, h, w, c] between layers, so every
//! kernel tap is a contiguous run of channels: the forward pass is one `im2col` copy (or one
//! `col2im` scatter-add) and one GEMM over the whole batch, and the backward pass reuses the
//! forward's window matrix for the weight gradient. The mathematics are those of
//! `Conv2d`/`ConvTranspose2d` (the tests compare values and all three gradients) and the
//! weights keep burn's layouts, so checkpoints are unchanged.

use super::layout;
use super::matmul::{column_sums, matmul, plain, repeat_rows, tr};
use super::{backward_xwb, f32s, par_filled, register_grads, tensor, track_xwb, wanted};
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, Dispatch, Flex, TensorMetadata, backend_extension,
};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn::tensor::DType;
use rayon::prelude::*;
use std::mem::MaybeUninit;

pub(crate) fn conv_fits(layer: &Conv2d) -> bool {
    layer.kernel_size == [4, 4]
        && layer.stride == [2, 2]
        && layer.dilation == [1, 1]
        && layer.groups == 1
        && layer.padding == PaddingConfig2d::Explicit(1, 1, 1, 1)
        && layer.bias.is_some()
}

fn conv_transpose_fits(layer: &ConvTranspose2d) -> bool {
    layer.kernel_size == [4, 4]
        && layer.stride == [2, 2]
        && layer.dilation == [1, 1]
        && layer.groups == 1
        && layer.padding == [1, 1]
        && layer.padding_out == [0, 0]
        && layer.bias.is_some()
}

fn to_nchw(x: Tensor<4>) -> Tensor<4> {
    x.permute([0, 3, 1, 2])
}

fn to_nhwc(x: Tensor<4>) -> Tensor<4> {
    x.permute([0, 2, 3, 1])
}

/// `layer` applied to channels-last `x`: [n, 2h, 2w, cin] -> [n, h, w, cout].
pub fn conv(layer: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [_, hh, ww, _] = x.dims();
    let fits = conv_fits(layer) && hh % 2 == 0 && ww % 2 == 0;
    match &layer.bias {
        Some(bias) if fits && x.dtype() == DType::F32 && wanted(&x.device()) => {
            conv_parts(x, layer.weight.val(), bias.val())
        }
        _ => to_nhwc(layer.forward(to_nchw(x))),
    }
}

/// The kernel-4, stride-2, padding-1 convolution of channels-last `x` [n, 2h, 2w, cin] with
/// `weight` [cout, cin, 4, 4] and `bias` [cout], through the extension (callers check it fits).
pub(crate) fn conv_parts(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>) -> Tensor<4> {
    let (y, _cols) = <Dispatch as FastConv>::conv_k4s2p1(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    );
    Tensor::from_dispatch(y)
}

/// `layer` applied to channels-last `x`: [n, h, w, cin] -> [n, 2h, 2w, cout].
pub fn conv_transpose(layer: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    match &layer.bias {
        Some(bias)
            if conv_transpose_fits(layer) && x.dtype() == DType::F32 && wanted(&x.device()) =>
        {
            Tensor::from_dispatch(<Dispatch as FastConv>::conv_transpose_k4s2p1(
                x.into_dispatch(),
                layer.weight.val().into_dispatch(),
                bias.val().into_dispatch(),
            ))
        }
        _ => to_nhwc(layer.forward(to_nchw(x))),
    }
}

/// Convolutions with kernel 4, stride 2, padding 1 and a bias on channels-last tensors, and
/// their gradients.
#[backend_extension(Flex, Autodiff)]
pub trait FastConv: Backend {
    /// `x`: [n, 2h, 2w, cin]; `weight`: [cout, cin, 4, 4]; `bias`: [cout]. Returns the output
    /// [n, h, w, cout] and the window matrix [n*h*w, (kh, kw, cin)] the weight gradient needs.
    fn conv_k4s2p1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// `x`: [n, h, w, cin]; `weight`: [cin, cout, 4, 4]; `bias`: [cout] -> [n, 2h, 2w, cout].
    fn conv_transpose_k4s2p1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// Gradients of [`FastConv::conv_k4s2p1`] for input, weight and bias; `cols` is its window
    /// matrix. Unwanted gradients come back as empty tensors.
    fn conv_k4s2p1_backward(
        cols: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        want_x: bool,
        want_weight: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// Gradients of [`FastConv::conv_transpose_k4s2p1`] for input, weight and bias.
    fn conv_transpose_k4s2p1_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        want_x: bool,
        want_weight: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

fn empty() -> FlexTensor {
    tensor(Vec::new(), [0])
}

/// A conv weight [cout, cin, 4, 4] as the matrix [(kh, kw, cin), cout].
fn conv_matrix(weight: FlexTensor) -> FlexTensor {
    let [cout, cin, _, _] = weight.shape().dims();
    layout::transpose(&conv_matrix_transposed(weight), [cout, 16 * cin])
}

/// [`conv_matrix`] transposed, [cout, (kh, kw, cin)], stored as such: gemm reads it faster
/// than the transposed view (3.04 against 2.75 ms a call on DCGAN's conv2).
fn conv_matrix_transposed(weight: FlexTensor) -> FlexTensor {
    let [cout, cin, _, _] = weight.shape().dims();
    let wm = layout::swap_last_two(&weight, [cout, cin, 16]); // [cout, (kh, kw), cin]
    Flex::float_reshape(wm, [cout, 16 * cin].into())
}

/// A transposed-conv weight [cin, cout, 4, 4] as the matrix [cin, (kh, kw, cout)].
fn transpose_matrix(weight: FlexTensor) -> FlexTensor {
    let [cin, cout, _, _] = weight.shape().dims();
    let wm = layout::swap_last_two(&weight, [cin, cout, 16]); // [cin, (kh, kw), cout]
    Flex::float_reshape(wm, [cin, 16 * cout].into())
}

/// A weight gradient from its matrix [a, (kh, kw, b)] back to burn's [a, b, 4, 4].
fn weight_from_matrix(dw: FlexTensor, [a, b]: [usize; 2]) -> FlexTensor {
    let dw = layout::swap_last_two(&dw, [a, 16, b]); // [a, b, (kh, kw)]
    Flex::float_reshape(dw, [a, b, 4, 4].into())
}

/// `t`: [.., c] -> [rows, c] (no copy when contiguous).
fn matrix(t: FlexTensor) -> FlexTensor {
    let shape = t.shape();
    let c = shape[shape.num_dims() - 1];
    let rows = shape.num_elements() / c.max(1);
    Flex::float_reshape(t, [rows, c].into())
}

impl FastConv for Flex {
    fn conv_k4s2p1(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
    ) -> (FlexTensor, FlexTensor) {
        let [n, hh, ww, _] = x.shape().dims();
        let cout = weight.shape()[0];
        let cols = im2col(&x); // [n*h*w, (kh, kw, cin)]
        let y = matmul(plain(&cols), plain(&conv_matrix(weight)), Some(&bias));
        (
            Flex::float_reshape(y, [n, hh / 2, ww / 2, cout].into()),
            cols,
        )
    }

    fn conv_transpose_k4s2p1(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let [n, h, w, _] = x.shape().dims();
        let cout = weight.shape()[1];
        let cols = matmul(plain(&matrix(x)), plain(&transpose_matrix(weight)), None); // [n*h*w, (kh, kw, cout)]
        col2im(&cols, n, cout, h, w, Some(&bias)) // [n, 2h, 2w, cout]
    }

    fn conv_k4s2p1_backward(
        cols: FlexTensor,
        weight: FlexTensor,
        grad: FlexTensor,
        want_x: bool,
        want_weight: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let [n, h, w, cout] = grad.shape().dims();
        let cin = weight.shape()[1];
        let g = matrix(grad); // [n*h*w, cout]
        let dx = if want_x {
            let dcols = matmul(plain(&g), plain(&conv_matrix_transposed(weight)), None);
            col2im(&dcols, n, cin, h, w, None) // [n, 2h, 2w, cin]
        } else {
            empty()
        };
        let dw = if want_weight {
            let dw = matmul(tr(&g), plain(&cols), None); // [cout, (kh, kw, cin)]
            weight_from_matrix(dw, [cout, cin]) // [cout, cin, 4, 4]
        } else {
            empty()
        };
        (dx, dw, column_sums(g))
    }

    fn conv_transpose_k4s2p1_backward(
        x: FlexTensor,
        weight: FlexTensor,
        grad: FlexTensor,
        want_x: bool,
        want_weight: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let [n, h, w, cin] = x.shape().dims();
        let cout = weight.shape()[1];
        let bias = column_sums(matrix(grad.clone()));
        let cols = im2col(&grad); // [n*h*w, (kh, kw, cout)]
        let dx = if want_x {
            let dx = matmul(plain(&cols), tr(&transpose_matrix(weight)), None);
            Flex::float_reshape(dx, [n, h, w, cin].into())
        } else {
            empty()
        };
        let dw = if want_weight {
            let dw = matmul(tr(&matrix(x)), plain(&cols), None); // [cin, (kh, kw, cout)]
            weight_from_matrix(dw, [cin, cout]) // [cin, cout, 4, 4]
        } else {
            empty()
        };
        (dx, dw, bias)
    }
}

/// Input index `2 i + k - 1` of kernel tap `k` at output `i`, if inside `0..size`.
fn tap(i: usize, k: usize, size: usize) -> Option<usize> {
    (2 * i + k).checked_sub(1).filter(|&v| v < size)
}

/// The 4x4, stride-2 windows (zero padding 1) of channels-last `x`, one row per output pixel:
/// [n, 2h, 2w, c] -> [n*h*w, (kh, kw, c)]. Every tap is one contiguous copy of c values.
fn im2col(x: &FlexTensor) -> FlexTensor {
    let [n, hh, ww, c] = x.shape().dims();
    let (h, w) = (hh / 2, ww / 2);
    let xv = f32s(x);
    let row = 16 * c;
    let total = n * h * w * row;
    assert_eq!(xv.len(), n * hh * ww * c, "input holds its shape's values");
    // Written once, with no zeroing pass first: every tap of every cell is either copied or
    // set to zero (padding).
    let mut out: Vec<f32> = Vec::with_capacity(total);
    out.spare_capacity_mut()[..total]
        .par_chunks_mut((h * w * row).max(1))
        .enumerate()
        .for_each(|(b, dst)| {
            im2col_image(
                &xv[b * hh * ww * c..(b + 1) * hh * ww * c],
                dst,
                [hh, ww, c],
            )
        });
    // SAFETY: the chunks cover all `total` slots and `im2col_image` writes every slot of its
    // chunk (16 taps of c values for each of the h*w cells).
    unsafe { out.set_len(total) };
    tensor(out, [n * h * w, row])
}

/// The adjoint of [`im2col`]: sums [n*h*w, (kh, kw, c)] into [n, 2h, 2w, c], each output
/// pixel gathering the (at most four) taps that land on it, on top of `bias` when given.
fn col2im(
    cols: &FlexTensor,
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    bias: Option<&FlexTensor>,
) -> FlexTensor {
    let (hh, ww) = (2 * h, 2 * w);
    let cv = f32s(cols);
    let row = 16 * c;
    assert_eq!(
        cv.len(),
        n * h * w * row,
        "window matrix holds its shape's values"
    );
    let bias = bias.map(f32s);
    if let Some(b) = &bias {
        assert_eq!(b.len(), c, "one bias per channel");
    }
    let image = hh * ww * c;
    let out = par_filled(n * image, image, |b, img| {
        col2im_image(
            &cv[b * h * w * row..(b + 1) * h * w * row],
            img,
            [hh, ww, c],
            bias.as_deref(),
        )
    });
    tensor(out, [n, hh, ww, c])
}

/// The (cell row or column, tap) pairs whose window covers input row or column `p` of `size`:
/// the inverse of [`tap`], every `(i, k)` with `2 i + k - 1 = p` inside the grid (at most two).
fn covering(p: usize, size: usize) -> impl Iterator<Item = (usize, usize)> + Clone {
    (0..4).filter_map(move |k| {
        let twice = (p + 1).checked_sub(k)?; // 2 i
        (twice.is_multiple_of(2) && twice / 2 < size / 2).then_some((twice / 2, k))
    })
}

/// One image of [`im2col`]: `img` [2h, 2w, c] -> `dst` [h*w, (kh, kw, c)].
#[inline(never)]
fn im2col_image(img: &[f32], dst: &mut [MaybeUninit<f32>], [hh, ww, c]: [usize; 3]) {
    let cells = (hh / 2) * (ww / 2);
    assert_eq!(dst.len(), cells * 16 * c, "one row of 16 taps per cell");
    let write = |dst: &mut [MaybeUninit<f32>], src: &[f32]| {
        for (d, &v) in dst.iter_mut().zip(src) {
            d.write(v);
        }
    };
    let zero = |dst: &mut [MaybeUninit<f32>]| {
        for d in dst {
            d.write(0.0);
        }
    };
    for (cell, dst) in dst.chunks_exact_mut(16 * c).enumerate() {
        let (i, j) = (cell / (ww / 2), cell % (ww / 2));
        // A kernel row's four taps read four neighbouring pixels (2j - 1 to 2j + 2): one copy
        // of up to 4c values, with zeros where the window hangs over the left or right edge.
        let first = (2 * j).checked_sub(1); // column of tap 0, if inside
        let left = usize::from(first.is_none()); // taps left of the image
        let right = usize::from(2 * j + 2 >= ww); // taps right of it
        for (ky, dst) in dst.chunks_exact_mut(4 * c).enumerate() {
            match tap(i, ky, hh) {
                Some(y) => {
                    let x0 = first.unwrap_or(0);
                    let inside = 4 - left - right;
                    let (pad_l, rest) = dst.split_at_mut(left * c);
                    let (body, pad_r) = rest.split_at_mut(inside * c);
                    zero(pad_l);
                    write(body, &img[(y * ww + x0) * c..][..inside * c]);
                    zero(pad_r);
                }
                None => zero(dst),
            }
        }
    }
}

/// One image of [`col2im`]: `src` [h*w, (kh, kw, c)] summed into the zeroed `img` [2h, 2w, c]
/// on top of `bias`. A cell's four taps of one kernel row land on four neighbouring pixels of
/// one image row, so each is one add of 4c contiguous values (clipped at the left and right
/// edges) into a row that stays in cache: about twice as fast as gathering per pixel at 64 px.
#[inline(never)]
fn col2im_image(src: &[f32], img: &mut [f32], [hh, ww, c]: [usize; 3], bias: Option<&[f32]>) {
    let w = ww / 2;
    let bias_row = bias.map(|b| repeat_rows(b, ww)); // [2w, c]
    for (y, img_row) in img.chunks_exact_mut(ww * c).enumerate() {
        if let Some(b) = &bias_row {
            img_row.copy_from_slice(b);
        }
        for (i, ky) in covering(y, hh) {
            for j in 0..w {
                let taps = &src[((i * w + j) * 16 + ky * 4) * c..][..4 * c]; // [kw, c]
                // Tap kx lands on column 2j + kx - 1: the first hangs over the left edge at
                // j = 0, the last over the right edge at j = w - 1.
                let skip = if j == 0 { c } else { 0 };
                let start = (2 * j).saturating_sub(1) * c;
                let end = ((2 * j + 3) * c).min(ww * c);
                let dst = &mut img_row[start..end];
                for (d, &v) in dst.iter_mut().zip(&taps[skip..]) {
                    *d += v;
                }
            }
        }
    }
}

#[derive(Debug)]
struct ConvBackward;

#[derive(Debug)]
struct ConvTransposeBackward;

impl<B: Backend + FastConv> Backward<B, 3> for ConvBackward {
    /// The window matrix and the checkpointed weight.
    type State = (FloatTensor<B>, NodeId);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (cols, w_state) = ops.state;
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(w_state);
        let (dx, dw, db) =
            B::conv_k4s2p1_backward(cols, weight, grad, node_x.is_some(), node_w.is_some());
        let ids = [node_x, node_w, node_b].map(|n| n.map(|n| n.id));
        register_grads::<B>(grads, ids, [dx, dw, db]);
    }
}

impl<B: Backend + FastConv> Backward<B, 3> for ConvTransposeBackward {
    type State = (NodeId, NodeId);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, c: &mut Checkpointer) {
        backward_xwb::<B>(ops, grads, c, B::conv_transpose_k4s2p1_backward);
    }
}

impl<B: Backend + FastConv, C: CheckpointStrategy> FastConv for Autodiff<B, C> {
    fn conv_k4s2p1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let prep = ConvBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful();
        let (x, bias) = (x.into_primitive(), bias.into_primitive());
        match prep {
            OpsKind::Tracked(mut prep) => {
                let w_state = prep.checkpoint(&weight);
                let (y, cols) = B::conv_k4s2p1(x, weight.into_primitive(), bias);
                let state = (cols.clone(), w_state);
                (prep.finish(state, y), Self::from_inner(cols))
            }
            OpsKind::UnTracked(prep) => {
                let (y, cols) = B::conv_k4s2p1(x, weight.into_primitive(), bias);
                (prep.finish(y), Self::from_inner(cols))
            }
        }
    }

    fn conv_transpose_k4s2p1(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        track_xwb::<B, C, _>(
            ConvTransposeBackward,
            [x, weight, bias],
            B::conv_transpose_k4s2p1,
        )
    }

    // The backward helpers run on the inner backend, inside the backward pass only.
    fn conv_k4s2p1_backward(
        _: FloatTensor<Self>,
        _: FloatTensor<Self>,
        _: FloatTensor<Self>,
        _: bool,
        _: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("called on the inner backend only")
    }

    fn conv_transpose_k4s2p1_backward(
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
            .with_initializer(burn::nn::Initializer::Normal {
                mean: 0.0,
                std: 1.0,
            })
            .init(&device);
        let down = Conv2dConfig::new([cin, cout], [4, 4])
            .with_stride([2, 2])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_initializer(burn::nn::Initializer::Normal {
                mean: 0.0,
                std: 1.0,
            })
            .init(&device);
        let run = |ours: bool| {
            let x = x.clone().require_grad();
            let (y, w, b) = match (transpose, ours) {
                (true, true) => (
                    to_nchw(conv_transpose(&up, to_nhwc(x.clone()))),
                    &up.weight,
                    &up.bias,
                ),
                (true, false) => (up.forward(x.clone()), &up.weight, &up.bias),
                (false, true) => (
                    to_nchw(conv(&down, to_nhwc(x.clone()))),
                    &down.weight,
                    &down.bias,
                ),
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
        assert!(
            gw0.abs().max().into_scalar::<f32>() > 0.1,
            "a weight gradient to compare"
        );
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

//! latentlab's own CPU kernels for the layers the DCGAN family, the MLP GAN and the VAE spend
//! their time in, at every image side and both channel counts (the convolutions take any even
//! side and any channels; the label planes, batch norm and heads any shape), as burn backend
//! extensions (implemented for burn-flex and its autodiff wrapper), and the
//! plain-tensor helpers the fused parameter updates (Adam, the generator average) use. Each
//! computes the same function and gradients as the burn operations it stands in for; on any other
//! device, or when a trainer turns them off, burn's operations run instead.
//!
//! ## The levers, as measured
//!
//! What makes the CPU path fast, each measured with `bench` (`src/model/cpu_kernels/`,
//! `src/train/fused_adam.rs`):
//! - burn's CPU backend multiplies matrices with the `gemm` crate; latentlab turns on its AVX-512
//!   kernels (burn-flex's `x86-v4` feature, picked at run time, AVX2 elsewhere): 1.3-1.7x on
//!   the training shapes.
//! - DCGAN-28's and the VAE's strided convolutions run as one `im2col`/`col2im` copy plus one
//!   matrix product over the whole batch on channels-last activations, with batch norm fused into
//!   its (leaky) ReLU; the MLP's layers are one fused linear operation each. Each has its own
//!   backward pass, and their matrix products write straight into their own buffers (burn's
//!   matmul zeroes its output and copies it once more; a transposed operand is read through its
//!   strides instead of copied).
//! - Adam and the generator's moving average are one multi-threaded pass per parameter (writing
//!   new weights to a fresh buffer while the module still holds the old ones), bit for bit what
//!   burn's Adam computes (a test checks the bits), with burn's optimizer state, so checkpoints
//!   are unchanged.
//! - A conditional D's label planes are constant per class, so their share of its first
//!   convolution is the labels mixing ten per-class maps (one small convolution of ten one-class
//!   pictures), instead of ten of the layer's eleven input channels for every image.
//! - The generator's output `tanh` is one parallel pass with its own backward pass, and `im2col`
//!   writes each slot once instead of zeroing its matrix first. The other kernels' outputs are
//!   zeroed by the thread that fills them, just before (not by one thread first), and `col2im`
//!   gathers each pixel's four taps and writes it once. `im2col` copies each kernel row's four
//!   neighbouring pixels as one run (one copy of 4c values instead of four of c).
//! - A weight gradient is a long sum over every pixel of the batch into a small matrix; `gemm`
//!   splits only the output across threads, so latentlab runs each half of the sum on its own
//!   thread and adds the halves (DCGAN's conv2: 4.7 to about 3.3 ms a call). The MLP's input
//!   gradients run `gemm` on the transposed problem (1.25 to 0.5 ms for its widest layer), and
//!   DCGAN's discriminator heads read the channels-last features with their weight rows
//!   reordered instead of permuting the features.
//! - mimalloc is told never to hand freed memory back to the OS (unless you set
//!   `MIMALLOC_PURGE_DELAY` yourself): by default it does so after a delay, and every training
//!   step then page-faulted its buffers back in (zeroing pages took 10% of the VAE's CPU time).
//!   The peak memory is the same (DCGAN's bench: 190 MiB).
//!
//! ## At 32 and 64 px colour (2026-12-06)
//!
//! DCGAN-64's step is 145.4 GFLOP at batch 64 (counted in the matrix products). `gemm` runs
//! DCGAN-64's shapes at 360-400 GFLOP/s on both cores in isolation, and at 230-300 inside a
//! step (its operands come from memory, not cache), where the products took 67% of the step.
//! What the other third was, in `perf` (`bench --size 64 --channels 3`, training only):
//! - 8.5%: the weights' layout changes (a weight to its matrix, a weight gradient back) through
//!   burn-flex's strided `to_contiguous`. [`layout`]'s two parallel transposes replaced them: the
//!   step's share outside the products fell from 33-36% to 24-25%, and the transposes now take
//!   2.6%.
//! - 4.3%: `col2im`, gathering four taps per pixel with a loop per pixel (a function call per
//!   pixel to zero it, dozens of iterator steps for 3 channels). It now adds each cell's four
//!   taps of a kernel row as one run of 4c values into a row held in cache: 3.6%, bound by
//!   reading the window matrix (four values read per value written).
//! - What is left is the window matrices' memory traffic (`im2col`'s copies, 4-5%; `col2im`,
//!   3.6%; zeroing, 3%), `gemm`'s operand packing (3-4%), batch norm (3.5%) and Adam (1%).
//!   Convolving without materialising the windows (as oneDNN does) is the next lever.
//! - The thread count (two per core, or one) made no difference beyond this machine's noise at
//!   28, 32 or 64 px (three alternating runs each).
//!
//! On 2026-12-07, with nothing else running, eight invocations in a row put latentlab ahead at
//! both sizes every time: 1.10-1.21x at 32 px (median 1.17x, about 500 against 430 examples/s)
//! and 1.06-1.11x at 64 px (median 1.11x, about 97 against 89); the day before, on a noisier
//! machine, the medians were 0.99x and 1.03x. The only kernel change between the two days was
//! batch norm's channel sums added in order, so the windows' memory traffic above is still the
//! lever if the margin matters.
//!
//! They compute the same functions and gradients as burn's layers (the tests compare them) and read
//! and write the same checkpoints. The baseline rows turn them off, and so does
//! `LATENTLAB_FAST_OPS=off` for any command; the first invocation above measured the baseline rows
//! at 2363.6 (mlp), 412.6 (dcgan), 349.1 (cdcgan) and 2471.1 (vae) examples/s, so 2.52x, 2.57x,
//! 2.83x and 2.06x for the whole set. (The allocator setting applies to the baseline rows too.)

pub mod activation;
pub mod conv;
pub mod conv3;
pub mod label_planes;
mod layout;
pub mod linear;
mod matmul;
pub mod norm;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend};
use burn::backend::{BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind};
use burn::prelude::*;
use burn::tensor::DType;
use burn::tensor::TensorData;
use std::cell::Cell;

thread_local! {
    /// Whether this thread's training steps may use the kernels: each trainer sets it for its
    /// own steps (see [`Scope`]), so one run's choice never leaks into another thread's.
    static ENABLED: Cell<bool> = const { Cell::new(true) };
    /// How many layer calls on this thread took the kernels (tests check the path ran).
    static DISPATCHED: Cell<u64> = const { Cell::new(0) };
}

/// Sets this thread's choice until dropped, then restores the previous one (also on an early
/// return or a panic).
pub struct Scope(bool);

impl Scope {
    pub fn set(enabled: bool) -> Self {
        Self(ENABLED.with(|e| e.replace(enabled)))
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        ENABLED.with(|e| e.set(self.0));
    }
}

/// On unless this thread's [`Scope`] turned it off, or unless `LATENTLAB_FAST_OPS=off` asks
/// for burn's own layers everywhere (for side-by-side timing).
pub fn enabled() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let off = *OFF.get_or_init(|| std::env::var("LATENTLAB_FAST_OPS").is_ok_and(|v| v == "off"));
    ENABLED.with(Cell::get) && !off
}

/// The largest difference between `a` and `b` relative to the largest magnitude in `a` (the
/// equivalence tests' measure).
#[cfg(test)]
pub(crate) fn max_rel_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    let scale = a.clone().abs().max().into_scalar::<f32>();
    assert!(scale > 0.0, "a value to compare");
    (a - b).abs().max().into_scalar::<f32>() / scale
}

/// Count one more call through the kernels on this thread.
pub(crate) fn count_dispatch() {
    DISPATCHED.with(|d| d.set(d.get() + 1));
}

/// Asserts `a` and `b` agree to `tol` relative to `a`'s largest magnitude (equivalence tests).
#[cfg(test)]
pub(crate) fn assert_rel<const D: usize>(a: Tensor<D>, b: Tensor<D>, tol: f32, what: &str) {
    let d = max_rel_diff(a, b);
    assert!(d < tol, "{what}: relative difference {d}");
}

/// A layer's weight and bias gradients from `grads` (equivalence tests).
#[cfg(test)]
pub(crate) fn weight_bias_grads<const D: usize>(
    weight: &burn::module::Param<Tensor<D>>,
    bias: Option<&burn::module::Param<Tensor<1>>>,
    grads: &burn::tensor::Gradients,
) -> (Tensor<D>, Tensor<1>) {
    let w = weight.val().grad(grads).expect("weight gradient");
    let b = bias
        .and_then(|b| b.val().grad(grads))
        .expect("bias gradient");
    (w, b)
}

/// Layer calls on this thread that went through the kernels so far.
pub fn dispatched_here() -> u64 {
    DISPATCHED.with(Cell::get)
}

/// Only on burn's CPU backend: the extensions are implemented for flex alone.
fn wanted(device: &Device) -> bool {
    enabled() && device.clone().without_autodiff() == Device::flex()
}

/// Whether DCGAN training on `device` takes the channels-last path through the extensions
/// (counted for [`dispatched_here`] when it does).
pub fn training_here(device: &Device) -> bool {
    let yes = device.is_autodiff() && wanted(device);
    if yes {
        DISPATCHED.with(|d| d.set(d.get() + 1));
    }
    yes
}

/// The flex tensor under `t` when `t` is a plain (not tracked) f32 tensor on burn's CPU backend
/// and the kernels are on here; otherwise `t` unchanged. For the parameter updates, which work
/// on plain tensors.
#[expect(
    clippy::result_large_err,
    reason = "moved once per parameter per update; boxing would allocate each time"
)]
pub fn plain_flex<const D: usize>(t: Tensor<D>) -> Result<FlexTensor, Tensor<D>> {
    if !(enabled() && t.dtype() == DType::F32 && t.device() == Device::flex()) {
        return Err(t);
    }
    match t.into_dispatch() {
        DispatchTensor {
            kind: DispatchTensorKind::Flex(BackendTensor::Float(f)),
            autodiff: DispatchAutodiffContext::Disabled,
        } => Ok(f),
        other => Err(Tensor::from_dispatch(other)),
    }
}

/// A plain tensor on burn's CPU backend holding `t` (the inverse of [`plain_flex`]).
pub fn from_flex<const D: usize>(t: FlexTensor) -> Tensor<D> {
    Tensor::from_dispatch(DispatchTensor {
        kind: DispatchTensorKind::Flex(BackendTensor::Float(t)),
        autodiff: DispatchAutodiffContext::Disabled,
    })
}

/// Back to a tensor, whichever way [`plain_flex`] went.
pub fn unflex<const D: usize>(t: Result<FlexTensor, Tensor<D>>) -> Tensor<D> {
    match t {
        Ok(f) => from_flex(f),
        Err(t) => t,
    }
}

/// Row-major f32 values of a flex tensor, copied only when it is a strided view. Callers check
/// the dtype is f32 before entering the extensions; anything else is a bug in that check, and
/// stops here rather than computing with an empty buffer.
pub(crate) fn f32s(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => match t.to_contiguous().as_slice::<f32>() {
            Some(v) => std::borrow::Cow::Owned(v.to_vec()),
            None => panic!("CPU kernel given a non-f32 tensor ({:?})", t.dtype()),
        },
    }
}

/// A new buffer of `len` values filled in parallel: `fill(i, out)` overwrites the i-th run of
/// `chunk` slots (the last run may be shorter). Why not `vec![0.0; len]` and a parallel pass:
/// that zeroes the whole buffer on one thread first, about 3% of DCGAN's step. Here each
/// thread zeroes only its own run, just before filling it, while it is in its cache.
pub(crate) fn par_filled(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [f32]) + Sync + Send,
) -> Vec<f32> {
    use rayon::prelude::*;
    let mut out: Vec<f32> = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, run)| {
            for v in run.iter_mut() {
                v.write(0.0);
            }
            // SAFETY: every slot of `run` was just written, so it holds initialised f32s.
            let run = unsafe { &mut *(std::ptr::from_mut(run) as *mut [f32]) };
            fill(i, run);
        });
    // SAFETY: the runs cover all `len` slots and each was written above.
    unsafe { out.set_len(len) };
    out
}

/// A flex tensor owning `values`.
pub(crate) fn tensor(values: Vec<f32>, shape: impl Into<Vec<usize>>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

/// The tracked forward side of an operation on (x, weight, bias) whose backward pass needs `x`
/// and the weight (checkpointed when the graph tracks the operation).
pub(crate) fn track_xwb<B, C, O>(
    op: O,
    [x, weight, bias]: [FloatTensor<Autodiff<B, C>>; 3],
    forward: impl FnOnce(FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) -> FloatTensor<B>,
) -> FloatTensor<Autodiff<B, C>>
where
    B: Backend,
    C: CheckpointStrategy,
    O: Backward<B, 3, State = (NodeId, NodeId)>,
{
    match op
        .prepare::<C>([x.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let state = (prep.checkpoint(&x), prep.checkpoint(&weight));
            let y = forward(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            );
            prep.finish(state, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(
            x.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
        )),
    }
}

/// The backward side of [`track_xwb`]: `grads_of(x, weight, output gradient, want_x,
/// want_weight)` gives the input, weight and bias gradients, registered for the tracked parents.
pub(crate) fn backward_xwb<B: Backend>(
    ops: Ops<(NodeId, NodeId), 3>,
    grads: &mut Gradients,
    checkpointer: &mut Checkpointer,
    grads_of: impl FnOnce(
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        bool,
        bool,
    ) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>),
) {
    let [node_x, node_w, node_b] = ops.parents;
    let grad = grads.consume::<B>(&ops.node);
    let (x_state, w_state) = ops.state;
    let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
    let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(w_state);
    let (dx, dw, db) = grads_of(x, weight, grad, node_x.is_some(), node_w.is_some());
    let ids = [node_x, node_w, node_b].map(|n| n.map(|n| n.id));
    register_grads::<B>(grads, ids, [dx, dw, db]);
}

/// Hand each tracked parent (by node id) of a three-input operation its gradient.
fn register_grads<B: Backend>(
    grads: &mut Gradients,
    parents: [Option<NodeId>; 3],
    values: [FloatTensor<B>; 3],
) {
    for (id, value) in parents.into_iter().zip(values) {
        if let Some(id) = id {
            grads.register::<B>(id, value);
        }
    }
}

//! Faster CPU versions of the layers DCGAN-28 spends its time in, as burn backend extensions
//! (implemented for burn-flex and its autodiff wrapper). Each computes the same function and
//! gradients as the burn layer it stands in for; on any other device, or when turned off, the
//! burn layer runs instead.

pub mod activation;
pub mod conv;
pub mod norm;

use burn::backend::Backend;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::prelude::*;
use burn::tensor::TensorData;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turn the extensions off (or on) for this process; `latentlab bench --baseline` measures
/// burn's own layers this way.
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Sets the switch until dropped, then turns the extensions back on (also on an early return).
pub struct Override;

impl Override {
    pub fn set(enabled: bool) -> Self {
        set_enabled(enabled);
        Self
    }
}

impl Drop for Override {
    fn drop(&mut self) {
        set_enabled(true);
    }
}

/// On unless turned off, or unless `LATENTLAB_FAST_OPS=off` asks for burn's own layers (for
/// side-by-side timing).
pub fn enabled() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let off = *OFF.get_or_init(|| std::env::var("LATENTLAB_FAST_OPS").is_ok_and(|v| v == "off"));
    ENABLED.load(Ordering::Relaxed) && !off
}

/// Only on burn's CPU backend: the extensions are implemented for flex alone.
fn wanted(device: &Device) -> bool {
    enabled() && device.clone().without_autodiff() == Device::flex()
}

/// Whether DCGAN training on `device` takes the channels-last path through the extensions.
pub fn training_here(device: &Device) -> bool {
    device.is_autodiff() && wanted(device)
}

/// Row-major f32 values of a flex tensor, copied only when it is a strided view. Callers check
/// the dtype is f32 before entering the extensions.
fn f32s(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
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

/// A flex tensor owning `values`.
fn tensor(values: Vec<f32>, shape: impl Into<Vec<usize>>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
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

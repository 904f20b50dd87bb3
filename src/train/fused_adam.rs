//! Adam as one pass over each parameter on burn's CPU backend.
//!
//! Why: burn's Adam is thirteen tensor operations per parameter, most of them single-threaded
//! passes that allocate; on flex they took about a fifth of an MLP GAN's step. Here it is one
//! multi-threaded pass that updates the moments in place. It does the same f32 operations in the
//! same order as burn's Adam, so the weights come out bit for bit the same, and it keeps burn's
//! `AdamState`, so optimizer checkpoints are unchanged. Anywhere else (wgpu, another dtype, a
//! strided parameter, or with the CPU kernels turned off) burn's Adam runs.

use crate::model::cpu_kernels::{self, count_dispatch, f32s, plain_flex, unflex};
use burn::backend::TensorMetadata;
use burn::backend::flex::FlexTensor;
use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::prelude::*;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Elements per parallel task: large enough to amortise the task, small enough to share a
/// 500k-weight layer between two cores.
const CHUNK: usize = 16 * 1024;

#[derive(Clone)]
pub struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// burn's own Adam with the same settings, for every case the fused pass does not cover.
    burn: Adam,
}

/// A module optimizer running [`FusedAdam`] (no weight decay, no AMSGrad, no clipping: the
/// recipes latentlab trains with).
pub fn optimizer(beta_1: f32, beta_2: f32, epsilon: f32) -> ModuleOptimizer {
    let burn = AdamConfig::new()
        .with_beta_1(beta_1)
        .with_beta_2(beta_2)
        .with_epsilon(epsilon)
        .build();
    ModuleOptimizer::from(FusedAdam {
        beta_1,
        beta_2,
        epsilon,
        burn,
    })
}

/// The per-step constants, computed as burn's Adam computes them (in f32).
struct Factors {
    b1: f32,
    b2: f32,
    one_minus_b1: f32,
    one_minus_b2: f32,
    combined: f32,
    eps: f32,
    lr: f32,
}

impl FusedAdam {
    fn factors(&self, time: usize, lr: LearningRate) -> Factors {
        let t = time as i32;
        let bias_correction2_sqrt = (1.0 - self.beta_2.powi(t)).sqrt();
        Factors {
            b1: self.beta_1,
            b2: self.beta_2,
            one_minus_b1: 1.0 - self.beta_1,
            one_minus_b2: 1.0 - self.beta_2,
            combined: bias_correction2_sqrt / (1.0 - self.beta_1.powi(t)),
            eps: self.epsilon * bias_correction2_sqrt,
            lr: lr as f32,
        }
    }
}

/// One element's moments updated and its step (learning rate included). `first`: no moments
/// yet (they are zero, and burn then skips the decay terms; skipping them here too keeps even
/// the signs of zeros the same).
#[inline(always)]
fn step_of(m: &mut f32, v: &mut f32, g: f32, f: &Factors, first: bool) -> f32 {
    let (gm, gv) = (g * f.one_minus_b1, (g * g) * f.one_minus_b2);
    if first {
        *m = gm;
        *v = gv;
    } else {
        *m = *m * f.b1 + gm;
        *v = *v * f.b2 + gv;
    }
    ((*m * f.combined) / (v.sqrt() + f.eps)) * f.lr
}

/// One chunk of the update, the weights changed in place.
#[inline(never)]
fn update_chunk(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], f: &Factors, first: bool) {
    for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
        *p -= step_of(m, v, g, f, first);
    }
}

/// One chunk of the update, the new weights written to `out` (the old ones are shared).
#[inline(never)]
fn update_chunk_into(
    out: &mut [MaybeUninit<f32>],
    [p, g]: [&[f32]; 2],
    m: &mut [f32],
    v: &mut [f32],
    f: &Factors,
    first: bool,
) {
    for ((((o, &p), m), v), &g) in out.iter_mut().zip(p).zip(m).zip(v).zip(g) {
        o.write(p - step_of(m, v, g, f, first));
    }
}

/// The values of a contiguous flex tensor from offset 0, writable (copied first if shared).
fn values_mut(t: &mut FlexTensor, n: usize) -> Option<&mut [f32]> {
    if t.layout().contiguous_offsets() != Some((0, n)) {
        return None;
    }
    t.storage_mut::<f32>().get_mut(..n)
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let n = tensor.shape().num_elements();
        let (time, moments) = match state {
            None => (0, None),
            Some(s) if s.momentum.max_moment_2.is_none() => (
                s.momentum.time,
                Some((s.momentum.moment_1, s.momentum.moment_2)),
            ),
            other => return self.burn.step(lr, tensor, grad, other),
        };
        let fresh = moments.is_none();
        let (m, v) = moments.unwrap_or_else(|| {
            let zeros = || Tensor::zeros(tensor.shape(), &tensor.device());
            (zeros(), zeros())
        });
        let (mut p, g, mut m, mut v) = match (
            plain_flex(tensor),
            plain_flex(grad),
            plain_flex(m),
            plain_flex(v),
        ) {
            (Ok(p), Ok(g), Ok(m), Ok(v)) => (p, g, m, v),
            (p, g, m, v) => return self.fall_back(lr, p, g, m, v, time),
        };
        let f = self.factors(time + 1, lr);
        let gs = f32s(&g);
        let shared = !p.is_unique();
        let done = match (
            values_mut(&mut m, n),
            values_mut(&mut v, n),
            p.layout().contiguous_offsets() == Some((0, n)),
        ) {
            (Some(ms), Some(vs), true) if gs.len() == n && shared => {
                // The old weights are still held elsewhere (the module being stepped): write
                // the new ones to a fresh buffer rather than copying the old ones first.
                let ps = f32s(&p);
                let mut out: Vec<f32> = Vec::with_capacity(n);
                out.spare_capacity_mut()[..n]
                    .par_chunks_mut(CHUNK)
                    .zip(ps.par_chunks(CHUNK))
                    .zip(ms.par_chunks_mut(CHUNK))
                    .zip(vs.par_chunks_mut(CHUNK))
                    .zip(gs.par_chunks(CHUNK))
                    .for_each(|((((o, p), m), v), g)| {
                        update_chunk_into(o, [p, g], m, v, &f, fresh)
                    });
                drop(ps);
                // SAFETY: the chunks cover all n slots and each chunk's loop writes every slot
                // (p, m, v and g all hold n values).
                unsafe { out.set_len(n) };
                p = cpu_kernels::tensor(out, p.shape().to_vec());
                true
            }
            (Some(ms), Some(vs), true) if gs.len() == n => match values_mut(&mut p, n) {
                Some(ps) => {
                    ps.par_chunks_mut(CHUNK)
                        .zip(ms.par_chunks_mut(CHUNK))
                        .zip(vs.par_chunks_mut(CHUNK))
                        .zip(gs.par_chunks(CHUNK))
                        .for_each(|(((p, m), v), g)| update_chunk(p, m, v, g, &f, fresh));
                    true
                }
                None => false,
            },
            _ => false,
        };
        drop(gs);
        if !done {
            return self.fall_back(lr, Ok(p), Ok(g), Ok(m), Ok(v), time);
        }
        count_dispatch();
        let state = AdaptiveMomentumState::new(time + 1, unflex(Ok(m)), unflex(Ok(v)));
        (unflex(Ok(p)), Some(AdamState::new(state)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <Adam as Optimizer>::to_device(state, device)
    }
}

impl FusedAdam {
    /// burn's Adam on whatever the fused pass was given back.
    fn fall_back<const D: usize>(
        &self,
        lr: LearningRate,
        p: Result<FlexTensor, Tensor<D>>,
        g: Result<FlexTensor, Tensor<D>>,
        m: Result<FlexTensor, Tensor<D>>,
        v: Result<FlexTensor, Tensor<D>>,
        time: usize,
    ) -> (Tensor<D>, Option<AdamState<D>>) {
        let state = (time > 0)
            .then(|| AdamState::new(AdaptiveMomentumState::new(time, unflex(m), unflex(v))));
        self.burn.step(lr, unflex(p), unflex(g), state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cpu_kernels::dispatched_here;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::TensorData;

    /// `steps` Adam steps of a 300 -> 70 layer (21,000 weights: two parallel chunks) on inputs
    /// drawn on the host, so both runs see the same case.
    fn train(mut opt: ModuleOptimizer, mut net: Linear, steps: usize) -> Linear {
        let device = Device::flex().autodiff();
        for s in 0..steps {
            let x: Vec<f32> = (0..8 * 300)
                .map(|i| ((i * 7 + s * 13) % 23) as f32 / 11.0 - 1.0)
                .collect();
            let x = Tensor::<2>::from_data(TensorData::new(x, [8, 300]), &device); // [8, 300]
            let loss = net.forward(x).sin().sum();
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            // On even steps the old weights stay held elsewhere (as the trainer's module
            // does), so both the in-place and the fresh-buffer update run.
            let held = (s % 2 == 0).then(|| net.clone());
            net = opt.step(1e-2, net, grads);
            drop(held);
        }
        net
    }

    fn bits(net: &Linear) -> Vec<u32> {
        let mut out: Vec<u32> = net
            .weight
            .val()
            .into_data()
            .iter::<f32>()
            .map(f32::to_bits)
            .collect();
        if let Some(b) = &net.bias {
            out.extend(b.val().into_data().iter::<f32>().map(f32::to_bits));
        }
        out
    }

    #[test]
    fn fused_adam_matches_burns_adam_bit_for_bit() {
        let device = Device::flex().autodiff();
        let start = LinearConfig::new(300, 70).init(&device);
        let before = dispatched_here();
        let fused = train(optimizer(0.5, 0.999, 1e-8), start.clone(), 6);
        assert!(
            dispatched_here() >= before + 12,
            "the fused pass ran for weight and bias"
        );
        let burn = AdamConfig::new()
            .with_beta_1(0.5)
            .with_beta_2(0.999)
            .with_epsilon(1e-8)
            .init();
        let reference = train(burn, start.clone(), 6);
        assert_ne!(bits(&reference), bits(&start), "the weights moved");
        assert_eq!(bits(&fused), bits(&reference));
    }
}

//! An exponential moving average of a network's weights (Polyak averaging, as in ProGAN and
//! StyleGAN's generator EMA): samples from the average are smoother than from the live weights.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// `avg <- decay * avg + (1 - decay) * live`, for every float tensor of two modules of the same
/// architecture (weights and batch-norm running statistics alike). `live` may live on an
/// autodiff device; `avg` is plain and keeps its own buffers.
pub fn blend<M: Module>(avg: M, live: &M, decay: f64) -> M {
    let mut collect = Collect(Vec::new());
    live.visit(&mut collect);
    let mut mapper = Blend {
        live: collect.0.into_iter(),
        decay,
    };
    avg.map(&mut mapper)
}

/// A plain copy of `live` built on `fresh` (a newly initialised module of the same
/// architecture, so the copy shares no running-state buffer with `live`).
pub fn copy<M: Module>(fresh: M, live: &M) -> M {
    blend(fresh, live, 0.0)
}

/// Every float tensor of a module, flattened, in visiting order, without autodiff.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let t = if t.device().is_autodiff() {
            t.inner()
        } else {
            t
        };
        self.0.push(t.flatten(0, D - 1)); // [elements]
    }
}

struct Blend {
    live: std::vec::IntoIter<Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, avg, _) = param.consume();
        // The architectures match (both built from one config), so the orders do too.
        let Some(live) = self.live.next() else {
            return Param::initialized(id, avg);
        };
        let live: Tensor<D> = live.reshape(avg.dims());
        let out = if self.decay == 0.0 {
            live
        } else {
            blend_tensor(avg, live, self.decay)
        };
        Param::initialized(id, out)
    }
}

/// `decay * avg + (1 - decay) * live`. On burn's CPU backend one multi-threaded pass in place
/// (the same f32 operations as the tensor expression below, so the same bits); elsewhere the
/// tensor expression.
fn blend_tensor<const D: usize>(avg: Tensor<D>, live: Tensor<D>, decay: f64) -> Tensor<D> {
    use crate::model::cpu_kernels::{count_dispatch, f32s, plain_flex, unflex};
    use rayon::prelude::*;
    let (a, b) = (decay as f32, (1.0 - decay) as f32);
    let n = avg.shape().num_elements();
    match (plain_flex(avg), plain_flex(live)) {
        (Ok(mut avg), Ok(live)) if avg.layout().contiguous_offsets() == Some((0, n)) => {
            let lv = f32s(&live);
            if let Some(out) = avg.storage_mut::<f32>().get_mut(..n)
                && lv.len() == n
            {
                out.par_chunks_mut(16 * 1024)
                    .zip(lv.par_chunks(16 * 1024))
                    .for_each(|(o, l)| o.iter_mut().zip(l).for_each(|(o, &l)| *o = *o * a + l * b));
                count_dispatch();
                return unflex(Ok(avg));
            }
            drop(lv);
            let (avg, live): (Tensor<D>, Tensor<D>) = (unflex(Ok(avg)), unflex(Ok(live)));
            avg.mul_scalar(decay) + live.mul_scalar(1.0 - decay)
        }
        (avg, live) => unflex(avg).mul_scalar(decay) + unflex(live).mul_scalar(1.0 - decay),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};

    #[derive(Module, Debug)]
    struct Net {
        fc: Linear,
        bn: BatchNorm,
    }

    fn net(device: &Device) -> Net {
        Net {
            fc: LinearConfig::new(3, 2).init(device),
            bn: BatchNormConfig::new(2).init(device),
        }
    }

    fn weights(n: &Net) -> Vec<f32> {
        n.fc.weight
            .val()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default()
    }

    #[test]
    fn the_average_moves_a_fraction_towards_the_live_weights() {
        let device = Device::flex();
        let live = net(&device.clone().autodiff());
        let avg = copy(net(&device), &live);
        assert_eq!(weights(&avg), weights(&live));
        let before = weights(&avg);
        // Move the live weights by +1 everywhere.
        let moved = Net {
            fc: Linear {
                weight: live.fc.weight.clone().map(|w| w.add_scalar(1.0)),
                bias: live.fc.bias.clone(),
            },
            bn: live.bn.clone(),
        };
        let avg = blend(avg, &moved, 0.9);
        for (a, b) in weights(&avg).iter().zip(&before) {
            assert!((a - (b + 0.1)).abs() < 1e-6, "{a} vs {b} + 0.1");
        }
    }

    #[test]
    fn the_fused_blend_gives_the_tensor_expressions_bits() {
        use crate::model::cpu_kernels::{Scope, dispatched_here};
        use burn::tensor::TensorData;
        let device = Device::flex();
        let grid = |f: fn(usize) -> f32| {
            let v: Vec<f32> = (0..200 * 200).map(f).collect();
            Tensor::<2>::from_data(TensorData::new(v, [200, 200]), &device) // [200, 200]
        };
        let avg = grid(|i| (i % 97) as f32 / 7.0 - 3.0);
        let live = grid(|i| (i % 89) as f32 / 5.0 - 8.0);
        let bits =
            |t: Tensor<2>| -> Vec<u32> { t.into_data().iter::<f32>().map(f32::to_bits).collect() };
        let before = dispatched_here();
        let fused = blend_tensor(avg.clone(), live.clone(), 0.999);
        assert_eq!(dispatched_here(), before + 1, "the fused pass ran");
        let plain = {
            let _off = Scope::set(false);
            blend_tensor(avg.clone(), live, 0.999)
        };
        assert_eq!(dispatched_here(), before + 1, "the tensor expression ran");
        assert_ne!(bits(fused.clone()), bits(avg), "the average moved");
        assert_eq!(bits(fused), bits(plain));
    }
}

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
            avg.mul_scalar(self.decay) + live.mul_scalar(1.0 - self.decay)
        };
        Param::initialized(id, out)
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
}

//! A Boltzmann machine's persistent chains outside the update itself: restarting some from
//! noise (`--chain-restarts`), changing their recipe on resume, and showing them (and the
//! bottom layer's filters) in the Train tab.

use super::boltzmann::{Phase, phase_of};
use super::{Nets, Trainer};
use crate::model::boltzmann::{Chain, Clamp, Coins};
use crate::model::readback;
use crate::train::TrainError;
use crate::types::config::{CdConfig, ModelKind, VISIBLE_UNITS};
use crate::types::noise;
use burn::prelude::*;

/// `chains` [m, n] with `r` of its rows replaced by `fresh(rows)` [r, n], where `rows` are
/// the window of `r` row indices starting at `step * r` (mod m), wrapping round: every chain
/// is restarted once in m / r updates, and a resumed run restarts the rows an unbroken one
/// would.
pub(super) fn restart_rows(
    chains: Tensor<2>,
    r: usize,
    step: u64,
    fresh: impl FnOnce(&[usize]) -> Tensor<2>,
) -> Tensor<2> {
    let [m, n] = chains.dims();
    let r = r.min(m);
    if r == 0 {
        return chains;
    }
    let first = ((step % m as u64) as usize * r) % m;
    let rows: Vec<usize> = (0..r).map(|j| (first + j) % m).collect();
    let new = fresh(&rows);
    let head = r.min(m - first);
    let chains = chains.slice_assign(
        [first..first + head, 0..n],
        new.clone().slice([0..head, 0..n]),
    );
    if head == r {
        return chains;
    }
    chains.slice_assign([0..r - head, 0..n], new.slice([head..r, 0..n]))
}

/// One-hot classes of chains `rows` (chain j holds class j mod `classes`), [rows, classes].
pub(super) fn chain_classes(rows: &[usize], classes: usize, device: &Device) -> Tensor<2> {
    let labels: Vec<u8> = rows.iter().map(|j| (j % classes) as u8).collect();
    Tensor::from_data(
        TensorData::new(noise::one_hot(&labels, classes), [rows.len(), classes]),
        device,
    )
}

/// Fair-coin binary pixels, [r, n]: where `sample` starts a chain.
pub(super) fn coin_pixels(r: usize, n: usize, device: &Device, coins: &mut Coins) -> Tensor<2> {
    coins.bernoulli(Tensor::<2>::ones([r, n], device).mul_scalar(0.5))
}

/// Filters shown in the Train tab (the first this many hidden units).
pub const FILTERS_SHOWN: usize = 100;

impl Trainer {
    /// Replace a resumed run's contrastive-divergence recipe (its chain settings; the chains
    /// themselves are kept). Refused, with the setting named, when out of range.
    pub fn set_cd(&mut self, cd: CdConfig) -> Result<(), TrainError> {
        cd.check()
            .map_err(|(what, detail)| TrainError::Cd { what, detail })?;
        self.config.cd = Some(cd);
        Ok(())
    }

    /// P(v | h) of the first `n` persistent chains, [n * 784] in [-1, 1], when the run keeps
    /// chains at the pixel level (an RBM with PCD, a DBM's joint phase).
    pub(super) fn chain_samples(&self, n: usize) -> Result<Option<Vec<f32>>, TrainError> {
        let Nets::Boltzmann { net, state } = &self.nets else {
            return Ok(None);
        };
        let units: Vec<Tensor<2>> = state.chains.iter().map(|c| c.val()).collect();
        let n_layers = net.layers.len();
        let v = match (net.kind, units.len()) {
            (ModelKind::Dbm, l) if l == n_layers + 1 => {
                net.observe(&Chain { units }, &Clamp::default()).1
            }
            // An RBM's chains, or a DBN's top-layer chains in its last phase: one layer's
            // hidden states, seen through the machine's own pass down.
            (ModelKind::Rbm | ModelKind::Dbn, 1)
                if units[0].dims()[1] == net.layers[n_layers - 1].hidden()
                    && (net.kind == ModelKind::Rbm || self.in_top_phase()) =>
            {
                let h = units[0].clone();
                let top_v = net.layers[n_layers - 1].visible_probs(h.clone());
                let chain = Chain {
                    units: vec![top_v, h],
                };
                net.observe(&chain, &Clamp::default()).1
            }
            _ => return Ok(None),
        };
        let m = v.dims()[0].min(n);
        let v = v.slice([0..m, 0..VISIBLE_UNITS]);
        Ok(Some(readback(v.mul_scalar(2.0).sub_scalar(1.0))?))
    }

    /// Whether the last update trained a DBN's top layer.
    fn in_top_phase(&self) -> bool {
        let Nets::Boltzmann { net, .. } = &self.nets else {
            return false;
        };
        let n = net.layers.len();
        let cd = self.config.cd.clone().unwrap_or_default();
        phase_of(net.kind, n, &cd, self.step.saturating_sub(1)).0 == Phase::Layer(n - 1)
    }

    /// The bottom layer's filters: each hidden unit's weights as a 28x28 tile, scaled by its
    /// largest magnitude to [-1, 1] (gray is 0), `[n * 784]` for the first `n` units.
    pub fn filters(&self, n: usize) -> Result<Option<Vec<f32>>, TrainError> {
        let Nets::Boltzmann { net, .. } = &self.nets else {
            return Ok(None);
        };
        let w = net.layers[0].w.val(); // [visible, hidden]
        let [v, h] = w.dims();
        let n = n.min(h);
        let tiles = w.slice([0..VISIBLE_UNITS.min(v), 0..n]).transpose(); // [n, 784]
        let scale = tiles.clone().abs().max_dim(1).clamp_min(1e-12); // [n, 1]
        Ok(Some(readback(tiles.div(scale))?))
    }
}

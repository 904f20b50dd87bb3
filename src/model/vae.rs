//! Convolutional VAE: encoder to (mu, logvar), decoder shaped like the DCGAN generator, with
//! as many stages as the image side takes ([`ModelConfig::conv_stages`]; the extra ones are in
//! `mid`, empty at 28 px, so old checkpoints load unchanged).

use super::ModelConfig;
use super::cpu_kernels;
use super::cpu_kernels::activation::leaky;
use super::cpu_kernels::conv::{conv, conv_transpose};
use super::dcgan::{down, up};
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

#[derive(Module, Debug)]
pub struct VaeEncoder {
    conv1: Conv2d,
    conv2: Conv2d,
    mid: Vec<Conv2d>,
    mu: Linear,
    logvar: Linear,
}

impl VaeEncoder {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let c = cfg.top_channels();
        let (side, stages) = cfg.conv_stages();
        let widths: Vec<usize> = (0..stages.max(2)).map(|i| cfg.width << i.min(16)).collect();
        Self {
            conv1: down(cfg.channels, widths[0], device),
            conv2: down(widths[0], widths[1], device),
            mid: widths
                .windows(2)
                .skip(1)
                .map(|w| down(w[0], w[1], device))
                .collect(),
            mu: LinearConfig::new(c * side * side, cfg.latent_dim).init(device),
            logvar: LinearConfig::new(c * side * side, cfg.latent_dim).init(device),
        }
    }

    /// `x`: [batch, 1, 28, 28] -> (mu, logvar), each [batch, latent].
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let x = if cpu_kernels::training_here(&x.device()) {
            // Channels-last through the CPU extensions (same function, fewer layout copies).
            let x = x.permute([0, 2, 3, 1]); // [batch, 28, 28, 1]
            let x = leaky(conv(&self.conv1, x), 0.0); // [batch, 14, 14, w]
            let mut x = leaky(conv(&self.conv2, x), 0.0); // [batch, 7, 7, 2w]
            for m in &self.mid {
                x = leaky(conv(m, x), 0.0); // side halved
            }
            x.permute([0, 3, 1, 2]) // [batch, 2w, 7, 7], the order the heads' weights expect
        } else {
            let x = relu(self.conv1.forward(x)); // [batch, w, 14, 14]
            let mut x = relu(self.conv2.forward(x)); // [batch, 2w, 7, 7]
            for m in &self.mid {
                x = relu(m.forward(x)); // side halved, channels doubled
            }
            x
        };
        let x: Tensor<2> = x.flatten(1, 3);
        (self.mu.forward(x.clone()), self.logvar.forward(x))
    }
}

#[derive(Module, Debug)]
pub struct VaeDecoder {
    fc: Linear,
    up1: ConvTranspose2d,
    mid: Vec<ConvTranspose2d>,
    up2: ConvTranspose2d,
    channels: usize,
    side: usize,
}

impl VaeDecoder {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let c = cfg.top_channels();
        let (side, stages) = cfg.conv_stages();
        // Channels after each stage but the last, halving from `c` (28 px: [w]).
        let outs: Vec<usize> = (1..stages.max(2)).map(|i| (c >> i).max(1)).collect();
        Self {
            fc: LinearConfig::new(cfg.latent_dim, c * side * side).init(device),
            up1: up(c, outs[0], device),
            mid: outs.windows(2).map(|w| up(w[0], w[1], device)).collect(),
            up2: up(outs[outs.len() - 1], cfg.channels, device),
            channels: c,
            side,
        }
    }

    /// The first layer's pre-activations [batch, 2 * width * 49].
    pub fn first_hidden(&self, z: Tensor<2>) -> Tensor<2> {
        self.fc.forward(z)
    }

    /// `z`: [batch, latent] -> pixel logits [batch, 1, 28, 28] (sigmoid gives [0, 1]).
    pub fn forward_logits(&self, z: Tensor<2>) -> Tensor<4> {
        let x = relu(self.fc.forward(z));
        let [batch, _] = x.dims();
        let x: Tensor<4> = x.reshape([batch, self.channels, self.side, self.side]);
        if cpu_kernels::training_here(&x.device()) {
            let x = x.permute([0, 2, 3, 1]); // [batch, 7, 7, 2w]
            let mut x = leaky(conv_transpose(&self.up1, x), 0.0); // [batch, 14, 14, w]
            for m in &self.mid {
                x = leaky(conv_transpose(m, x), 0.0); // side doubled
            }
            return conv_transpose(&self.up2, x).permute([0, 3, 1, 2]); // [batch, channels, 28, 28]
        }
        let mut x = relu(self.up1.forward(x)); // [batch, w, 14, 14]
        for m in &self.mid {
            x = relu(m.forward(x)); // side doubled, channels halved
        }
        self.up2.forward(x) // [batch, channels, 28, 28]
    }
}

/// Encoder and decoder trained together by one optimiser. Checkpoints store the decoder as a
/// [`super::Generator`] so sampling code treats every family alike.
#[derive(Module, Debug)]
pub struct VaeNet {
    pub encoder: VaeEncoder,
    pub decoder: VaeDecoder,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelKind;

    /// The channels-last CPU path computes the same reconstruction and gradients as burn's own
    /// layers, for the encoder and the decoder.
    #[test]
    fn fast_path_matches_burn_layers() {
        let device = Device::flex().autodiff();
        let mut cfg = ModelConfig::new(ModelKind::Vae, 0);
        cfg.width = 8;
        // Seeded weights and host-drawn inputs: the same case every run.
        let net = crate::model::seeded_init(&device, 7, || VaeNet {
            encoder: VaeEncoder::new(&cfg, &device),
            decoder: VaeDecoder::new(&cfg, &device),
        });
        let x = Tensor::<4>::from_data(
            TensorData::new(crate::types::noise::gaussian(1, 4 * 784), [4, 1, 28, 28]),
            &device,
        );
        let run = |fast_on: bool| {
            let path = cpu_kernels::Scope::set(fast_on);
            let before = cpu_kernels::dispatched_here();
            let (mu, logvar) = net.encoder.forward(x.clone());
            let logits = net.decoder.forward_logits(mu + logvar.mul_scalar(0.5)); // [4, 1, 28, 28]
            drop(path);
            let took = cpu_kernels::dispatched_here() - before;
            assert_eq!(
                took,
                if fast_on { 2 } else { 0 },
                "kernel path taken {took} times"
            );
            let grads = logits.clone().powi_scalar(2).sum().backward();
            let enc = net
                .encoder
                .conv1
                .weight
                .val()
                .grad(&grads)
                .expect("encoder gradient");
            let dec = net
                .decoder
                .up1
                .weight
                .val()
                .grad(&grads)
                .expect("decoder gradient");
            let head = net
                .encoder
                .mu
                .weight
                .val()
                .grad(&grads)
                .expect("mu gradient");
            (logits.inner(), enc, dec, head)
        };
        let (l0, e0, d0, h0) = run(false);
        let (l1, e1, d1, h1) = run(true);
        use crate::model::cpu_kernels::max_rel_diff as rel;
        assert!(rel(l0, l1) < 1e-3, "logits");
        assert!(rel(e0, e1) < 1e-3, "encoder conv gradient");
        assert!(rel(d0, d1) < 1e-3, "decoder transposed-conv gradient");
        assert!(rel(h0, h1) < 1e-3, "mu head gradient");
    }
}

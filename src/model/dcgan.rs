//! DCGAN (DESIGN section 4), optionally conditional: the soft label is concatenated to z in
//! G and enters D as one constant input plane per class (cDCGAN), or D predicts it with a second
//! head on the same features (ACGAN; InfoGAN's Q head predicts its codes the same way).
//!
//! The stages follow the image side ([`ModelConfig::conv_stages`]): at 28 px, DCGAN-28 (z to
//! 7x7x128, then 14 and 28; the fields `up1`/`up2` and `conv1`/`conv2` are that net's, so old
//! checkpoints load unchanged); at 64 px, pytorch/examples' DCGAN-64 (4x4x512, 8, 16, 32, 64;
//! its first 4x4 transposed convolution of a 1x1 input is the same function as the linear
//! layer here, and its last 4x4 valid convolution the same as D's linear head); at 32 px one
//! stage fewer. The extra middle stages are in `mid`, empty at 28 px. D's head is a linear
//! layer on the smallest feature map, whatever its side, so every side works.

use super::cpu_kernels;
use super::cpu_kernels::activation::leaky;
use super::cpu_kernels::conv::{conv, conv_transpose};
use super::cpu_kernels::label_planes::conv_with_label_planes;
use super::cpu_kernels::norm::batch_norm_act;
use super::leaky_relu;
use super::{ModelConfig, dcgan_init, with_label};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, tanh};

const SLOPE: f64 = 0.2;

#[derive(Module, Debug)]
pub struct DcganGenerator {
    /// The paper's InfoGAN dense layer before `fc`, when the run has one (`dense`).
    dense: Option<Dense>,
    fc: Linear,
    bn0: BatchNorm,
    up1: ConvTranspose2d,
    bn1: BatchNorm,
    /// Stages between `up1` and `up2` at sides with more than two (none at 28 px).
    mid: Vec<UpStage>,
    up2: ConvTranspose2d,
    channels: usize,
    side: usize,
}

/// A dense layer with batch norm (and ReLU in G, leaky ReLU in D).
#[derive(Module, Debug)]
pub struct Dense {
    fc: Linear,
    bn: BatchNorm,
}

impl Dense {
    fn new(from: usize, to: usize, device: &Device) -> Self {
        Self {
            fc: LinearConfig::new(from, to)
                .with_initializer(dcgan_init())
                .init(device),
            bn: BatchNormConfig::new(to).init(device),
        }
    }
}

/// A transposed convolution that doubles the side, then batch norm (and ReLU in use).
#[derive(Module, Debug)]
pub struct UpStage {
    up: ConvTranspose2d,
    bn: BatchNorm,
}

/// A strided convolution that halves the side, then batch norm (and a leaky ReLU in use).
#[derive(Module, Debug)]
pub struct DownStage {
    conv: Conv2d,
    bn: BatchNorm,
}

/// The channels after each of `stages` up-sampling stages from `top` channels, halving each
/// time, with `image` channels out of the last: DCGAN-28's `[64, 1]` from 128.
fn up_channels(top: usize, stages: usize, image: usize) -> Vec<usize> {
    let mut out: Vec<usize> = (1..stages).map(|i| (top >> i).max(1)).collect();
    out.push(image);
    out
}

pub(crate) fn up(from: usize, to: usize, device: &Device) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([from, to], [4, 4])
        .with_stride([2, 2])
        .with_padding([1, 1])
        .with_initializer(dcgan_init())
        .init(device)
}

pub(crate) fn down(from: usize, to: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([from, to], [4, 4])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_initializer(dcgan_init())
        .init(device)
}

impl DcganGenerator {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let c = cfg.top_channels(); // 128 for DCGAN-28, 512 for DCGAN-64
        let (side, stages) = cfg.conv_stages(); // 7 and 2 for DCGAN-28
        let outs = up_channels(c, stages.max(2), cfg.channels); // [64, 1] for DCGAN-28
        let mid = outs[1..outs.len() - 1]
            .iter()
            .zip(&outs[..outs.len() - 2])
            .map(|(&to, &from)| UpStage {
                up: up(from, to, device),
                bn: BatchNormConfig::new(to).init(device),
            })
            .collect();
        let input = cfg.latent_dim + cfg.cond_dim();
        Self {
            dense: (cfg.dense > 0).then(|| Dense::new(input, cfg.dense, device)),
            fc: LinearConfig::new(
                if cfg.dense > 0 { cfg.dense } else { input },
                c * side * side,
            )
            .with_initializer(dcgan_init())
            .init(device),
            bn0: BatchNormConfig::new(c).init(device),
            up1: up(c, outs[0], device),
            bn1: BatchNormConfig::new(outs[0]).init(device),
            mid,
            up2: up(outs[outs.len() - 2], cfg.channels, device),
            channels: c,
            side,
        }
    }

    /// `bn0(fc(z))` flattened: [batch, 6272] (inference statistics off an autodiff device).
    pub fn first_hidden(&self, z: Tensor<2>, label: Option<Tensor<2>>) -> Tensor<2> {
        let x = self.fc.forward(self.input(z, label)); // [batch, 6272]
        let [batch, _] = x.dims();
        let x: Tensor<4> = x.reshape([batch, self.channels, self.side, self.side]); // [batch, 128, 7, 7]
        self.bn0.forward(x).flatten(1, 3) // [batch, 6272]
    }

    /// What `fc` takes: z and the label, through the dense layer when there is one.
    fn input(&self, z: Tensor<2>, label: Option<Tensor<2>>) -> Tensor<2> {
        let x = with_label(z, label); // [batch, latent + cond]
        match &self.dense {
            Some(d) => relu(d.bn.forward(d.fc.forward(x))), // [batch, dense]
            None => x,
        }
    }

    pub fn forward(&self, z: Tensor<2>, label: Option<Tensor<2>>) -> Tensor<4> {
        let x = self.fc.forward(self.input(z, label)); // [batch, 6272]
        let [batch, _] = x.dims();
        let x: Tensor<4> = x.reshape([batch, self.channels, self.side, self.side]); // [batch, 128, 7, 7]
        if cpu_kernels::training_here(&x.device()) {
            // Channels-last through the CPU extensions (same function, fewer layout copies).
            let x = batch_norm_act(&self.bn0, x.permute([0, 2, 3, 1]), 0.0); // [batch, 7, 7, 128]
            let mut x = batch_norm_act(&self.bn1, conv_transpose(&self.up1, x), 0.0); // [batch, 14, 14, 64]
            for s in &self.mid {
                x = batch_norm_act(&s.bn, conv_transpose(&s.up, x), 0.0); // side doubled
            }
            let x = conv_transpose(&self.up2, x); // [batch, 28, 28, channels]
            return cpu_kernels::activation::tanh(x).permute([0, 3, 1, 2]); // [batch, channels, 28, 28]
        }
        let x = relu(self.bn0.forward(x));
        let mut x = relu(self.bn1.forward(self.up1.forward(x))); // [batch, 64, 14, 14]
        for s in &self.mid {
            x = relu(s.bn.forward(s.up.forward(x))); // side doubled, channels halved
        }
        tanh(self.up2.forward(x)) // [batch, channels, 28, 28]
    }
}

#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    conv1: Conv2d,
    conv2: Conv2d,
    bn2: BatchNorm,
    /// Stages after `conv2` at sides with more than two (none at 28 px).
    mid: Vec<DownStage>,
    /// The paper's InfoGAN dense layer between the convolutions and the heads (`dense`).
    dense: Option<Dense>,
    fc: Linear,
    /// A second head on the same features: ACGAN's class logits, or InfoGAN's Q (categorical
    /// code logits, then the continuous codes' predicted means).
    aux: Option<Linear>,
    /// InfoGAN's Q hidden layer before `aux`, when the run has one (`q_hidden`).
    q: Option<Dense>,
}

impl DcganDiscriminator {
    pub fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let c = cfg.top_channels();
        let (side, stages) = cfg.conv_stages();
        let planes = if cfg.kind.label_into_d() {
            cfg.num_classes
        } else {
            0
        };
        let features = if cfg.dense > 0 {
            cfg.dense
        } else {
            c * side * side
        };
        let head = |out: usize| {
            LinearConfig::new(features, out)
                .with_initializer(dcgan_init())
                .init(device)
        };
        // Channels after each stage: width, doubling up to `c` (DCGAN-28: [64, 128]).
        let widths: Vec<usize> = (0..stages.max(2)).map(|i| cfg.width << i.min(16)).collect();
        let mid = widths
            .windows(2)
            .skip(1)
            .map(|w| DownStage {
                conv: down(w[0], w[1], device),
                bn: BatchNormConfig::new(w[1]).init(device),
            })
            .collect();
        Self {
            conv1: down(cfg.channels + planes, widths[0], device),
            conv2: down(widths[0], widths[1], device),
            bn2: BatchNormConfig::new(widths[1]).init(device),
            mid,
            dense: (cfg.dense > 0).then(|| Dense::new(c * side * side, cfg.dense, device)),
            fc: head(1),
            aux: cfg.kind.has_aux_head().then(|| match cfg.q_hidden {
                0 => head(cfg.cond_dim()),
                h => LinearConfig::new(h, cfg.cond_dim())
                    .with_initializer(dcgan_init())
                    .init(device),
            }),
            q: (cfg.kind.has_codes() && cfg.q_hidden > 0)
                .then(|| Dense::new(features, cfg.q_hidden, device)),
        }
    }

    /// The real/fake logits [batch, 1] and the second head's output [batch, cond_dim] (ACGAN,
    /// InfoGAN). `label` enters only a D built to take it (its first layer has the planes).
    pub fn forward_heads(
        &self,
        x: Tensor<4>,
        label: Option<Tensor<2>>,
    ) -> (Tensor<2>, Option<Tensor<2>>) {
        let [batch, _, h, w] = x.dims();
        let label = label.filter(|_| self.conv1.weight.dims()[1] > x.dims()[1]);
        if cpu_kernels::training_here(&x.device()) {
            // Channels-last through the CPU extensions (same function, fewer layout copies);
            // the label planes' share comes from one map per class.
            let x = x.permute([0, 2, 3, 1]); // [batch, 28, 28, channels]
            let x = match label {
                Some(c) => conv_with_label_planes(&self.conv1, x, c), // [batch, 14, 14, 64]
                None => conv(&self.conv1, x),
            };
            let x = leaky(x, SLOPE); // [batch, 14, 14, 64]
            let mut x = batch_norm_act(&self.bn2, conv(&self.conv2, x), SLOPE); // [batch, 7, 7, 128]
            for s in &self.mid {
                x = batch_norm_act(&s.bn, conv(&s.conv, x), SLOPE); // side halved
            }
            if let Some(d) = &self.dense {
                return self.heads(d.activate(linear_channels_last(&d.fc, x))); // on [batch, dense]
            }
            let aux = self.aux.as_ref().map(|h| match &self.q {
                Some(q) => h.forward(q.activate(linear_channels_last(&q.fc, x.clone()))),
                None => linear_channels_last(h, x.clone()),
            }); // [batch, cond_dim]
            return (linear_channels_last(&self.fc, x), aux); // [batch, 1]
        }
        let x = match label {
            // [batch, classes] -> [batch, classes, 28, 28] constant planes
            Some(c) => {
                let classes = c.dims()[1];
                let planes = c
                    .reshape([batch, classes, 1, 1])
                    .expand([batch, classes, h, w]);
                Tensor::cat(vec![x, planes], 1)
            }
            None => x,
        };
        let x = leaky_relu(self.conv1.forward(x), SLOPE); // [batch, 64, 14, 14]
        let mut x = leaky_relu(self.bn2.forward(self.conv2.forward(x)), SLOPE); // [batch, 128, 7, 7]
        for s in &self.mid {
            x = leaky_relu(s.bn.forward(s.conv.forward(x)), SLOPE); // side halved, channels doubled
        }
        let features = x.flatten(1, 3); // [batch, 6272]
        match &self.dense {
            Some(d) => self.heads(d.activate(d.fc.forward(features))),
            None => self.heads(features),
        }
    }

    /// Both heads on flat features [batch, n]: logits [batch, 1] and the second head's output.
    fn heads(&self, features: Tensor<2>) -> (Tensor<2>, Option<Tensor<2>>) {
        let aux = self.aux.as_ref().map(|h| match &self.q {
            Some(q) => h.forward(q.activate(q.fc.forward(features.clone()))),
            None => h.forward(features.clone()),
        }); // [batch, cond_dim]
        (self.fc.forward(features), aux) // [batch, 1]
    }
}

impl Dense {
    /// D's and Q's use: the dense layer's output [batch, units] normalised, then leaky ReLU.
    fn activate(&self, x: Tensor<2>) -> Tensor<2> {
        leaky_relu(self.bn.forward(x), SLOPE)
    }
}

/// `layer` on channels-last features [batch, h, w, c], whose weight rows are in the
/// channels-first order of burn's layers: the same function as permuting the features to
/// [batch, c, h, w] and flattening them, but the copy is of the weight's rows (6,272 values a
/// head) instead of the features (401,408 values a batch of 64).
fn linear_channels_last(layer: &Linear, x: Tensor<4>) -> Tensor<2> {
    let [batch, h, w, c] = x.dims();
    let out = layer.weight.dims()[1];
    let weight = layer
        .weight
        .val()
        .reshape([c, h, w, out])
        .permute([1, 2, 0, 3])
        .reshape([h * w * c, out]); // rows in (h, w, c) order
    let y = x.reshape([batch, h * w * c]).matmul(weight); // [batch, out]
    match &layer.bias {
        Some(b) => y + b.val().unsqueeze(),
        None => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelKind;

    /// The channels-last CPU path computes the same losses and gradients as burn's own layers,
    /// for the plain and the conditional DCGAN, and ACGAN's second head, at 28 px grey and at
    /// 32 px colour (one stage more, three channels).
    #[test]
    fn fast_path_matches_burn_layers() {
        let cases = [
            (ModelKind::Dcgan, 28, 1),
            (ModelKind::Cdcgan, 28, 1),
            (ModelKind::Acgan, 28, 1),
            (ModelKind::Infogan, 28, 1),
            (ModelKind::Dcgan, 32, 3),
            (ModelKind::Cdcgan, 32, 3),
        ];
        for (kind, side, channels) in cases {
            let device = Device::flex().autodiff();
            let mut cfg = ModelConfig::new(kind, 10).with_shape(side, channels);
            cfg.width = 8; // small but the same shapes otherwise
            if kind == ModelKind::Infogan {
                cfg.q_hidden = 16; // Q's hidden layer on the features
                cfg.dense = 32; // and the paper's dense layers in G and D
            }
            // Seeded weights and host-drawn inputs: the same case every run, whatever other
            // tests draw from the device's generator meanwhile.
            let (g, d) = crate::model::seeded_init(&device, 7, || {
                (
                    DcganGenerator::new(&cfg, &device),
                    DcganDiscriminator::new(&cfg, &device),
                )
            });
            let host = |seed, shape: [usize; 2]| {
                let v = crate::types::noise::gaussian(seed, shape[0] * shape[1]);
                Tensor::<2>::from_data(TensorData::new(v, shape), &device)
            };
            let z = host(1, [4, cfg.latent_dim]);
            let label = (cfg.cond_dim() > 0)
                .then(|| burn::tensor::activation::sigmoid(host(2, [4, cfg.cond_dim()])));
            let run = |fast_on: bool| {
                let path = crate::model::cpu_kernels::Scope::set(fast_on);
                let before = cpu_kernels::dispatched_here();
                let (logits, aux) =
                    d.forward_heads(g.forward(z.clone(), label.clone()), label.clone());
                drop(path);
                // G's and D's forward each took the kernel path (and a conditional D its
                // label-plane maps), or none did.
                let took = cpu_kernels::dispatched_here() - before;
                let paths = 2 + u64::from(kind.label_into_d());
                assert_eq!(
                    took,
                    if fast_on { paths } else { 0 },
                    "kernel path taken {took} times"
                );
                // Both heads feed the gradients, when there are two.
                let loss = match &aux {
                    Some(a) => logits.clone().sum() + a.clone().sum(),
                    None => logits.clone().sum(),
                };
                let grads = loss.backward();
                let gw = g.up1.weight.val().grad(&grads).expect("G weight gradient");
                let dw = d
                    .conv2
                    .weight
                    .val()
                    .grad(&grads)
                    .expect("D weight gradient");
                let bn = g
                    .bn1
                    .gamma
                    .val()
                    .grad(&grads)
                    .expect("G batch-norm gradient");
                (logits.inner(), aux.map(|a| a.inner()), gw, dw, bn)
            };
            let (l0, a0, gw0, dw0, bn0) = run(false);
            let (l1, a1, gw1, dw1, bn1) = run(true);
            use crate::model::cpu_kernels::max_rel_diff as rel;
            assert!(rel(l0, l1) < 1e-3, "{kind:?} logits");
            assert_eq!(a0.is_some(), kind.has_aux_head(), "{kind:?} second head");
            if let (Some(a0), Some(a1)) = (a0, a1) {
                assert!(rel(a0, a1) < 1e-3, "{kind:?} second head");
            }
            assert!(rel(gw0, gw1) < 1e-3, "{kind:?} generator weight gradient");
            assert!(
                rel(dw0, dw1) < 1e-3,
                "{kind:?} discriminator weight gradient"
            );
            assert!(rel(bn0, bn1) < 1e-3, "{kind:?} batch-norm gradient");
        }
    }
}

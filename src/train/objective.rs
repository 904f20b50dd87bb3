//! GAN objectives on discriminator logits (DESIGN section 5) and the VAE loss.
//!
//! Every function takes logits `[batch, 1]` and returns a scalar loss `[1]`.

use burn::prelude::*;

pub use crate::types::config::Loss;

/// Weight of the WGAN-GP gradient penalty.
pub const GP_WEIGHT: f64 = 10.0;

/// softplus(x) = log(1 + e^x), computed as max(x, 0) + log1p(e^-|x|) so it never overflows.
pub fn softplus(x: Tensor<2>) -> Tensor<2> {
    x.clone().clamp_min(0.0) + x.abs().neg().exp().log1p()
}

/// The discriminator's loss (without the WGAN-GP penalty, see [`gradient_penalty`]).
pub fn d_loss(loss: Loss, real: Tensor<2>, fake: Tensor<2>) -> Tensor<1> {
    match loss {
        Loss::Minimax | Loss::Nonsat => softplus(real.neg()).mean() + softplus(fake).mean(),
        Loss::Lsgan => {
            (real.sub_scalar(1.0).square().mean() + fake.square().mean()).mul_scalar(0.5)
        }
        Loss::WganGp => fake.mean() - real.mean(),
    }
}

/// The generator's loss on the logits of its fakes.
pub fn g_loss(loss: Loss, fake: Tensor<2>) -> Tensor<1> {
    match loss {
        Loss::Minimax => softplus(fake).mean().neg(),
        Loss::Nonsat => softplus(fake.neg()).mean(),
        Loss::Lsgan => fake.sub_scalar(1.0).square().mean().mul_scalar(0.5),
        Loss::WganGp => fake.mean().neg(),
    }
}

/// Weight of ACGAN's class terms in both networks' losses.
pub const CLASS_WEIGHT: f64 = 1.0;

/// Cross-entropy of class logits `[batch, classes]` against one-hot (or soft) labels of the
/// same shape, averaged over the batch; returns `[1]`.
pub fn class_loss(logits: Tensor<2>, labels: Tensor<2>) -> Tensor<1> {
    let log_p = burn::tensor::activation::log_softmax(logits, 1);
    (log_p * labels).sum_dim(1).mean().neg()
}

/// The fraction of rows whose largest logit is the label's class; returns `[1]`.
pub fn class_accuracy(logits: Tensor<2>, labels: Tensor<2>) -> Tensor<1> {
    let hit = logits.argmax(1).equal(labels.argmax(1)); // [batch, 1]
    hit.float().mean()
}

/// InfoGAN's information loss, a lower bound on the mutual information between the codes and
/// the image, up to a constant: the categorical code's cross-entropy plus the continuous
/// codes' Gaussian negative log-likelihood with unit variance, 0.5 * sum((c - q)^2), times
/// `continuous_weight`.
/// `q`: Q's output `[batch, categories + codes]` (logits, then means); `codes`: the codes G was
/// given, same shape. Returns the loss `[1]` and Q's categorical accuracy `[1]`.
pub fn info_loss(
    q: Tensor<2>,
    codes: Tensor<2>,
    categories: usize,
    continuous_weight: f64,
) -> (Tensor<1>, Tensor<1>) {
    let [batch, dim] = q.dims();
    let q_cat = q.clone().slice([0..batch, 0..categories]); // [batch, categories]
    let c_cat = codes.clone().slice([0..batch, 0..categories]);
    let acc = class_accuracy(q_cat.clone().detach(), c_cat.clone());
    let mut loss = class_loss(q_cat, c_cat);
    if dim > categories {
        let q_cont = q.slice([0..batch, categories..dim]); // [batch, codes]
        let c_cont = codes.slice([0..batch, categories..dim]);
        let nll = (q_cont - c_cont)
            .square()
            .sum_dim(1)
            .mean()
            .mul_scalar(0.5 * continuous_weight);
        loss = loss + nll;
    }
    (loss, acc)
}

/// WGAN-GP penalty, `GP_WEIGHT * mean((|dD/du| - 1)^2)` at points between real and fake.
///
/// burn 0.22 has no double backward, so the gradient norm is estimated by a central difference
/// of the critic along `u`, the unit vector from the fake to the real image: the direction the
/// penalty is meant to constrain (for a linear critic the estimate is exact along `u`).
/// `critic` maps images `[batch, 1, 28, 28]` to logits `[batch, 1]`; `mix` holds per-example
/// interpolation weights in [0, 1], `[batch, 1, 1, 1]`.
pub fn gradient_penalty(
    critic: impl Fn(Tensor<4>) -> Tensor<2>,
    real: Tensor<4>,
    fake: Tensor<4>,
    mix: Tensor<4>,
) -> Tensor<1> {
    const H: f64 = 1e-2;
    let [batch, c, h, w] = real.dims();
    let diff = real.clone() - fake.clone();
    let norm = diff
        .clone()
        .reshape([batch, c * h * w])
        .square()
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-8)
        .reshape([batch, 1, 1, 1]);
    let u = diff / norm; // [batch, 1, 28, 28], unit length per example
    let x_hat = real * mix.clone() + fake * mix.neg().add_scalar(1.0);
    let ahead = critic(x_hat.clone() + u.clone().mul_scalar(H));
    let behind = critic(x_hat - u.mul_scalar(H));
    let slope = (ahead - behind).div_scalar(2.0 * H).abs(); // [batch, 1]
    slope.sub_scalar(1.0).square().mean().mul_scalar(GP_WEIGHT)
}

/// R1 (Mescheder et al. 2018): `gamma / 2 * mean(|dD(x)/dx|^2)` on real images, as StyleGAN2
/// regularises its discriminator.
///
/// burn 0.22 has no double backward, so the squared gradient norm is estimated by a forward
/// difference along a Gaussian direction `u` (one per example): `E[(grad . u)^2] = |grad|^2`
/// for `u ~ N(0, I)`. The step is scaled so that it moves each image by about 0.05 in pixel
/// norm, small against the [-1, 1] range. `critic` maps images to logits; `l_real` is its
/// output on `real`, already computed for the loss.
pub fn r1_penalty(
    critic: impl Fn(Tensor<4>) -> Tensor<2>,
    real: Tensor<4>,
    l_real: Tensor<2>,
    gamma: f64,
) -> Tensor<1> {
    let [batch, c, h, w] = real.dims();
    let step = 0.05 / ((c * h * w) as f64).sqrt();
    let u = crate::model::random_tensor(
        [batch, c, h, w],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &real.device(),
    );
    let ahead = critic(real + u.mul_scalar(step));
    let slope = (ahead - l_real).div_scalar(step); // [batch, 1]
    slope.square().mean().mul_scalar(gamma / 2.0)
}

/// StyleGAN2-ADA's rule for R1's weight when none is given: `0.0002 * side^2 / batch`.
pub fn r1_gamma(side: usize, batch: usize) -> f64 {
    0.0002 * (side * side) as f64 / batch.max(1) as f64
}

/// VAE loss per example: reconstruction (binary cross-entropy of the pixel logits against
/// targets in [0, 1], summed over pixels) + KL, where
/// KL = 1/2 sum(exp(logvar) - (1 + logvar) + mu^2). Returns (total, reconstruction, kl).
pub fn vae_loss(
    logits: Tensor<4>,
    target01: Tensor<4>,
    mu: Tensor<2>,
    logvar: Tensor<2>,
) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    let [batch, c, h, w] = logits.dims();
    let logits: Tensor<2> = logits.reshape([batch, c * h * w]);
    let target: Tensor<2> = target01.reshape([batch, c * h * w]);
    // BCE with logits: softplus(l) - t * l
    let recon = (softplus(logits.clone()) - target * logits)
        .sum_dim(1)
        .mean();
    let kl = (logvar.clone().exp() - logvar.add_scalar(1.0) + mu.square())
        .sum_dim(1)
        .mul_scalar(0.5)
        .mean();
    (recon.clone() + kl.clone(), recon, kl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logits(v: &[f32]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len(), 1]), &Device::flex())
    }

    fn value(t: Tensor<1>) -> f32 {
        t.into_data().try_into_vec::<f32>().expect("f32 scalar")[0]
    }

    // Fixed logits: real = [0, 2], fake = [0, -1].
    // softplus(0) = ln 2 = 0.693147, softplus(-2) = 0.126928, softplus(-1) = 0.313262,
    // softplus(1) = 1.313262.
    const REAL: [f32; 2] = [0.0, 2.0];
    const FAKE: [f32; 2] = [0.0, -1.0];

    #[test]
    fn minimax_and_nonsat_share_d_loss() {
        // mean(sp(-real)) = (0.693147 + 0.126928)/2 = 0.410038
        // mean(sp(fake))  = (0.693147 + 0.313262)/2 = 0.503204
        for loss in [Loss::Minimax, Loss::Nonsat] {
            let d = value(d_loss(loss, logits(&REAL), logits(&FAKE)));
            assert!((d - 0.913242).abs() < 1e-5, "{loss:?}: {d}");
        }
    }

    fn rows(v: &[f32], cols: usize) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(v.to_vec(), [v.len() / cols, cols]),
            &Device::flex(),
        )
    }

    #[test]
    fn class_and_info_terms_by_hand() {
        // Row 1: logits [0, ln 3] -> p = [1/4, 3/4]; label 1: CE = ln(4/3) = 0.287682, right.
        // Row 2: logits [0, 0] -> p = [1/2, 1/2]; label 0: CE = ln 2 = 0.693147, a tie that
        // argmax breaks to class 0, right.
        let l = rows(&[0.0, 3f32.ln(), 0.0, 0.0], 2);
        let y = rows(&[0.0, 1.0, 1.0, 0.0], 2);
        let ce = value(class_loss(l.clone(), y.clone()));
        assert!((ce - 0.490415).abs() < 1e-5, "{ce}");
        assert_eq!(value(class_accuracy(l, y)), 1.0);
        // Q = [logits, mean]; codes = [one-hot, value]: CE as above plus
        // 0.5 * mean((0.5 - 1)^2, (0 - -1)^2) = 0.5 * 0.625 = 0.3125.
        let q = rows(&[0.0, 3f32.ln(), 0.5, 0.0, 0.0, 0.0], 3);
        let c = rows(&[0.0, 1.0, 1.0, 1.0, 0.0, -1.0], 3);
        let (info, acc) = info_loss(q.clone(), c.clone(), 2, 1.0);
        assert!((value(info) - 0.802915).abs() < 1e-5);
        assert_eq!(value(acc), 1.0);
        // --info-cont-weight scales the continuous term alone: 0.490415 + 0.1 * 0.3125.
        let (info, _) = info_loss(q, c, 2, 0.1);
        assert!((value(info) - 0.521665).abs() < 1e-5);
    }

    #[test]
    fn minimax_g_loss_is_negative_softplus_of_fake() {
        let g = value(g_loss(Loss::Minimax, logits(&FAKE)));
        assert!((g + 0.503204).abs() < 1e-5, "{g}");
    }

    #[test]
    fn nonsat_g_loss_is_softplus_of_minus_fake() {
        // (sp(0) + sp(1)) / 2 = (0.693147 + 1.313262)/2 = 1.003204
        let g = value(g_loss(Loss::Nonsat, logits(&FAKE)));
        assert!((g - 1.003204).abs() < 1e-5, "{g}");
    }

    #[test]
    fn lsgan_losses() {
        // D: 1/2 * mean((0-1)^2, (2-1)^2) + 1/2 * mean(0^2, (-1)^2) = 0.5 + 0.25 = 0.75
        let d = value(d_loss(Loss::Lsgan, logits(&REAL), logits(&FAKE)));
        assert!((d - 0.75).abs() < 1e-6, "{d}");
        // G: 1/2 * mean((0-1)^2, (-1-1)^2) = 1/2 * 2.5 = 1.25
        let g = value(g_loss(Loss::Lsgan, logits(&FAKE)));
        assert!((g - 1.25).abs() < 1e-6, "{g}");
    }

    #[test]
    fn wasserstein_losses() {
        // D: mean(fake) - mean(real) = -0.5 - 1 = -1.5; G: -mean(fake) = 0.5
        let d = value(d_loss(Loss::WganGp, logits(&REAL), logits(&FAKE)));
        assert!((d + 1.5).abs() < 1e-6, "{d}");
        let g = value(g_loss(Loss::WganGp, logits(&FAKE)));
        assert!((g - 0.5).abs() < 1e-6, "{g}");
    }

    #[test]
    fn softplus_is_stable_for_large_logits() {
        let v = softplus(logits(&[200.0, -200.0]))
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32");
        assert!(
            (v[0] - 200.0).abs() < 1e-3 && v[1] >= 0.0 && v[1] < 1e-30,
            "{v:?}"
        );
    }

    #[test]
    fn gradient_penalty_of_linear_critic() {
        // Critic D(x) = 3 x[0] + 4 x[1]: gradient norm 5. Real - fake points along (3, 4), so
        // the directional slope is exactly 5 and the penalty is 10 * (5 - 1)^2 = 160.
        let device = Device::flex();
        let img = |a: f32, b: f32| {
            let mut v = vec![0.0f32; 28 * 28];
            v[0] = a;
            v[1] = b;
            v
        };
        let mk = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 1, 28, 28]), &device);
        let real = mk(img(0.3, 0.4));
        let fake = mk(img(0.0, 0.0));
        let mix = Tensor::<4>::from_data(TensorData::new(vec![0.5f32], [1, 1, 1, 1]), &device);
        let critic = |x: Tensor<4>| {
            let flat: Tensor<2> = x.flatten(1, 3);
            let a = flat.clone().narrow(1, 0, 1).mul_scalar(3.0);
            let b = flat.narrow(1, 1, 1).mul_scalar(4.0);
            a + b
        };
        let gp = value(gradient_penalty(critic, real, fake, mix));
        assert!((gp - 160.0).abs() < 0.5, "{gp}");
    }

    #[test]
    fn vae_kl_matches_formula() {
        // mu = [1, 0], logvar = [0, ln 2]: KL = 1/2 * ((1 - 1 + 1) + (2 - 1 - ln 2 + 0)) = 0.65343
        let device = Device::flex();
        let mu = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 2]), &device);
        let logvar = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, std::f32::consts::LN_2], [1, 2]),
            &device,
        );
        // Zero logits against target 0.5: BCE per pixel = ln 2, summed over 784 pixels.
        let logits = Tensor::<4>::zeros([1, 1, 28, 28], &device);
        let target = Tensor::<4>::ones([1, 1, 28, 28], &device).mul_scalar(0.5);
        let (total, recon, kl) = vae_loss(logits, target, mu, logvar);
        let (total, recon, kl) = (value(total), value(recon), value(kl));
        assert!((kl - 0.653426).abs() < 1e-5, "{kl}");
        assert!(
            (recon - 784.0 * std::f32::consts::LN_2).abs() < 1e-2,
            "{recon}"
        );
        assert!((total - recon - kl).abs() < 1e-3);
    }
}

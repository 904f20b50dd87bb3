//! Principal directions (GANSpace, Härkönen et al. 2020): PCA of G's first hidden
//! activations over sampled latents, each component carried back to latent space by least
//! squares; for a VAE, PCA of the encoded data set.

use super::directions::{Direction, DirectionsError, normalize};
use crate::model::{Generator, ModelConfig, readback};
use crate::types::linalg::sorted_eigen;
use crate::types::noise;
use burn::prelude::*;

/// Latents sampled by default, and directions kept.
pub const DEFAULT_SAMPLES: usize = 5000;
pub const DEFAULT_COMPONENTS: usize = 20;
/// Latents per forward pass.
const CHUNK: usize = 500;
/// Subspace iterations of the randomized PCA (each sharpens the leading components).
const ITERATIONS: usize = 8;
/// Extra columns beyond `k` carried through the iterations, for accuracy at the k-th.
const OVERSAMPLE: usize = 10;

/// The leading principal components of the rows of a data matrix.
#[derive(Debug, Clone)]
pub struct Components {
    /// Unit vectors `[k][dim]`, largest variance first.
    pub vectors: Vec<Vec<f32>>,
    /// The variance along each.
    pub variances: Vec<f64>,
    /// The total variance (the trace of the covariance).
    pub total_variance: f64,
    /// Each row's coordinates along each component: `[n][k]`.
    pub scores: Vec<Vec<f32>>,
}

/// PCA of `x` (`[n * dim]`, `n` rows) by randomized subspace iteration: only `n x p` and
/// `dim x p` products (`p = k + 10`) are formed, so `dim` may be G's 6,272 features.
pub fn components(
    x: &[f32],
    n: usize,
    dim: usize,
    k: usize,
    seed: u64,
    device: &Device,
) -> Result<Components, DirectionsError> {
    let compute = |e: crate::model::ReadbackError| DirectionsError::Compute(e.to_string());
    if n < 2 || dim == 0 || x.len() != n * dim {
        return Err(DirectionsError::Compute(format!(
            "PCA needs at least 2 rows of {dim} numbers, got {} numbers",
            x.len()
        )));
    }
    let k = k.min(dim).min(n - 1).max(1);
    let p = (k + OVERSAMPLE).min(dim);
    let data = Tensor::<2>::from_data(TensorData::new(x.to_vec(), [n, dim]), device); // [n, dim]
    let mean = data.clone().mean_dim(0); // [1, dim]
    let centred = data - mean; // [n, dim]
    let total_variance = readback(centred.clone().powi_scalar(2).sum())
        .map_err(compute)?
        .first()
        .copied()
        .unwrap_or(0.0) as f64
        / (n - 1) as f64;
    let mut q = orthonormal_columns(noise::gaussian(seed, dim * p), dim, p); // [dim * p]
    for _ in 0..ITERATIONS {
        let qt = Tensor::<2>::from_data(TensorData::new(q.clone(), [dim, p]), device);
        let y = centred.clone().matmul(qt); // [n, p]
        let back = centred.clone().transpose().matmul(y); // [dim, p]
        q = orthonormal_columns(readback(back).map_err(compute)?, dim, p);
    }
    let qt = Tensor::<2>::from_data(TensorData::new(q.clone(), [dim, p]), device);
    let b = readback(centred.matmul(qt)).map_err(compute)?; // [n * p]
    // The small covariance of the projected data, and its eigenvectors.
    let mut cov = vec![0.0f64; p * p];
    for row in b.chunks(p) {
        for i in 0..p {
            for j in i..p {
                cov[i * p + j] += row[i] as f64 * row[j] as f64;
            }
        }
    }
    for i in 0..p {
        for j in i..p {
            let v = cov[i * p + j] / (n - 1) as f64;
            cov[i * p + j] = v;
            cov[j * p + i] = v;
        }
    }
    let (values, small) = sorted_eigen(&cov, p);
    let vectors: Vec<Vec<f32>> = small[..k]
        .iter()
        .map(|w| {
            let mut v: Vec<f32> = (0..dim)
                .map(|r| (0..p).map(|c| q[r * p + c] as f64 * w[c]).sum::<f64>() as f32)
                .collect();
            normalize(&mut v);
            v
        })
        .collect();
    let scores = b
        .chunks(p)
        .map(|row| {
            small[..k]
                .iter()
                .map(|w| (0..p).map(|c| row[c] as f64 * w[c]).sum::<f64>() as f32)
                .collect()
        })
        .collect();
    Ok(Components {
        vectors,
        variances: values[..k].iter().map(|v| v.max(0.0)).collect(),
        total_variance,
        scores,
    })
}

/// Orthonormalise the `p` columns of `m` (`[rows * p]`, row-major) by modified Gram-Schmidt.
fn orthonormal_columns(m: Vec<f32>, rows: usize, p: usize) -> Vec<f32> {
    let mut cols: Vec<Vec<f64>> = (0..p)
        .map(|c| (0..rows).map(|r| m[r * p + c] as f64).collect())
        .collect();
    for c in 0..p {
        for prev in 0..c {
            let (done, rest) = cols.split_at_mut(c);
            let dot: f64 = done[prev].iter().zip(&rest[0]).map(|(a, b)| a * b).sum();
            rest[0]
                .iter_mut()
                .zip(&done[prev])
                .for_each(|(x, y)| *x -= dot * y);
        }
        let norm = cols[c].iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 1e-12 {
            cols[c].iter_mut().for_each(|x| *x /= norm);
        }
    }
    let mut out = vec![0.0f32; rows * p];
    for (c, col) in cols.iter().enumerate() {
        for (r, v) in col.iter().enumerate() {
            out[r * p + c] = *v as f32;
        }
    }
    out
}

/// GANSpace's directions for latents `z` (`[n * latent]`) and the features `h` (`[n * dim]`)
/// they produced: PCA of `h`, then each component's latent direction by least squares
/// (`u_i = Zᵀ x_i / x_iᵀ x_i`, exact because PCA coordinates are uncorrelated), as unit
/// vectors with sigma the spread of the latents' projections.
pub fn directions_from_features(
    z: &[f32],
    latent: usize,
    h: &[f32],
    dim: usize,
    k: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<Direction>, DirectionsError> {
    let n = z.len() / latent.max(1);
    let pcs = components(h, n, dim, k, seed, device)?;
    let mean_z: Vec<f64> = (0..latent)
        .map(|j| z.chunks(latent).map(|r| r[j] as f64).sum::<f64>() / n as f64)
        .collect();
    let mut out = Vec::new();
    for (i, variance) in pcs.variances.iter().enumerate() {
        let x: Vec<f64> = pcs.scores.iter().map(|s| s[i] as f64).collect();
        let xx: f64 = x.iter().map(|v| v * v).sum();
        let mut u = vec![0.0f64; latent];
        for (row, xi) in z.chunks(latent).zip(&x) {
            for j in 0..latent {
                u[j] += (row[j] as f64 - mean_z[j]) * xi;
            }
        }
        let mut u: Vec<f32> = u.iter().map(|v| (v / xx.max(1e-30)) as f32).collect();
        normalize(&mut u);
        out.push(Direction {
            name: format!("PC{i}"),
            sigma: projection_spread(z, latent, &u),
            vector: u,
            explained_variance: Some((variance / pcs.total_variance.max(1e-30)) as f32),
            origin: Some("pca".into()),
        });
    }
    Ok(out)
}

/// Principal directions of a VAE: PCA of its encoded means `mu` (`[n * latent]`) directly.
pub fn directions_of_codes(
    mu: &[f32],
    latent: usize,
    k: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<Direction>, DirectionsError> {
    let n = mu.len() / latent.max(1);
    let pcs = components(mu, n, latent, k, seed, device)?;
    Ok(pcs
        .vectors
        .into_iter()
        .zip(&pcs.variances)
        .enumerate()
        .map(|(i, (vector, variance))| Direction {
            name: format!("PC{i}"),
            sigma: (variance.sqrt() as f32).max(1e-6),
            vector,
            explained_variance: Some((variance / pcs.total_variance.max(1e-30)) as f32),
            origin: Some("pca of encoded data".into()),
        })
        .collect())
}

/// Standard deviation of the rows of `z` projected onto unit vector `u`.
pub fn projection_spread(z: &[f32], latent: usize, u: &[f32]) -> f32 {
    let proj: Vec<f64> = z
        .chunks(latent)
        .map(|r| r.iter().zip(u).map(|(a, b)| (a * b) as f64).sum())
        .collect();
    let n = proj.len().max(2) as f64;
    let mean = proj.iter().sum::<f64>() / n;
    let var = proj.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (var.sqrt() as f32).max(1e-6)
}

/// GANSpace on a generator: sample `n` latents from `seed`, run G's first layer on them with
/// the fixed condition `cond` (one row, for conditional models and InfoGAN's codes), and find
/// `k` directions. `progress(fraction)` returning false cancels.
#[allow(clippy::too_many_arguments)]
pub fn generator_directions(
    g: &Generator,
    model: &ModelConfig,
    cond: Option<&[f32]>,
    n: usize,
    k: usize,
    seed: u64,
    device: &Device,
    mut progress: impl FnMut(f32) -> bool,
) -> Result<Vec<Direction>, DirectionsError> {
    let latent = model.latent_dim;
    let n = n.max(2);
    let (z, h, dim) = latent_features(
        model,
        cond,
        n,
        seed,
        device,
        |f| progress(0.8 * f),
        |z, c| g.first_hidden(z, c),
    )?;
    if !progress(0.8) {
        return Err(DirectionsError::Cancelled);
    }
    let out = directions_from_features(&z, latent, &h, dim, k, seed ^ 0x5eed, device)?;
    progress(1.0);
    Ok(out)
}

/// Principal directions in a style generator's W (GANSpace's choice for StyleGAN): PCA of the
/// w of `n` latents from `seed` under the fixed condition `cond`, applied in W (add to w at
/// every level), sigma the spread of w along each. `progress(fraction)` false cancels.
#[allow(clippy::too_many_arguments)]
pub fn w_directions(
    g: &crate::model::StyleGenerator,
    model: &ModelConfig,
    cond: Option<&[f32]>,
    n: usize,
    k: usize,
    seed: u64,
    device: &Device,
    mut progress: impl FnMut(f32) -> bool,
) -> Result<Vec<Direction>, DirectionsError> {
    let w = mapped_w(g, model, cond, n.max(2), seed, device)?;
    if !progress(0.5) {
        return Err(DirectionsError::Cancelled);
    }
    let mut out = directions_of_codes(&w, g.w_dim(), k, seed ^ 0x5eed, device)?;
    for d in &mut out {
        d.origin = Some("pca in W".into());
    }
    progress(1.0);
    Ok(out)
}

/// The w rows (`[n * w_dim]`) of `n` latents drawn from `seed`, each with condition `cond`.
pub fn mapped_w(
    g: &crate::model::StyleGenerator,
    model: &ModelConfig,
    cond: Option<&[f32]>,
    n: usize,
    seed: u64,
    device: &Device,
) -> Result<Vec<f32>, DirectionsError> {
    let (_, w, _) = latent_features(model, cond, n, seed, device, |_| true, |z, c| g.to_w(z, c))?;
    Ok(w)
}

/// `n` latents drawn from `seed` and `features(z, condition)` of each (`cond` repeated per
/// row), computed [`CHUNK`] rows at a time: `(z [n * latent], features [n * dim], dim)`.
/// `progress(fraction done)` returning false cancels.
fn latent_features(
    model: &ModelConfig,
    cond: Option<&[f32]>,
    n: usize,
    seed: u64,
    device: &Device,
    mut progress: impl FnMut(f32) -> bool,
    features: impl Fn(Tensor<2>, Option<Tensor<2>>) -> Tensor<2>,
) -> Result<(Vec<f32>, Vec<f32>, usize), DirectionsError> {
    let latent = model.latent_dim;
    let z = noise::gaussian(seed, n * latent);
    let mut h = Vec::new();
    let mut dim = 0;
    for start in (0..n).step_by(CHUNK) {
        if !progress(start as f32 / n as f32) {
            return Err(DirectionsError::Cancelled);
        }
        let m = (n - start).min(CHUNK);
        let zt = Tensor::<2>::from_data(
            TensorData::new(
                z[start * latent..(start + m) * latent].to_vec(),
                [m, latent],
            ),
            device,
        ); // [m, latent]
        let label = cond
            .map(|c| Tensor::<2>::from_data(TensorData::new(c.repeat(m), [m, c.len()]), device)); // [m, cond_dim]
        let f = features(zt, label); // [m, dim]
        dim = f.dims()[1];
        h.extend(readback(f).map_err(|e| DirectionsError::Compute(e.to_string()))?);
    }
    Ok((z, h, dim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_of_a_stretched_cloud() {
        // 2-D points stretched 5x along (1, 1)/sqrt 2.
        let r = std::f32::consts::FRAC_1_SQRT_2;
        let g = noise::gaussian(1, 2000);
        let x: Vec<f32> = g
            .chunks(2)
            .flat_map(|p| {
                let (a, b) = (5.0 * p[0], p[1]);
                [r * (a - b), r * (a + b)]
            })
            .collect();
        let pcs = components(&x, 1000, 2, 2, 0, &Device::flex()).unwrap();
        let v = &pcs.vectors[0];
        assert!((v[0] * r + v[1] * r).abs() > 0.99, "{v:?}");
        let share = pcs.variances[0] / pcs.total_variance;
        assert!((share - 25.0 / 26.0).abs() < 0.02, "{share}");
    }
}

//! Sample-based measures between two feature sets (`[n * dim]` each), beside the Frechet
//! distance: the kernel distance KID (Binkowski et al. 2018), unbiased at a few hundred
//! samples, and k-nearest-neighbour precision and recall (Kynkaanniemi et al. 2019).
//! Both are quadratic in the sample count, so each side is capped at [`MAX_SAMPLES`].

/// Most samples of each side the quadratic measures use (evenly spread over the set).
pub const MAX_SAMPLES: usize = 2000;
/// Neighbours that set each sample's manifold radius (the paper's k = 3).
pub const K: usize = 3;

fn rows(x: &[f32], dim: usize) -> Vec<&[f32]> {
    let all: Vec<&[f32]> = x.chunks_exact(dim.max(1)).collect();
    if all.len() <= MAX_SAMPLES {
        return all;
    }
    (0..MAX_SAMPLES)
        .map(|i| all[i * all.len() / MAX_SAMPLES])
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

fn dist2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = f64::from(*x) - f64::from(*y);
            d * d
        })
        .sum()
}

/// Squared kernel MMD with the cubic polynomial kernel k(x, y) = (x.y / dim + 1)^3, unbiased:
/// near 0 (it can dip below) for samples of one distribution, larger as they differ. The
/// kernel expects features of about unit size, as Inception's are; these classifier features
/// are not, so both sets are divided by the root-mean-square entry of `a` (the real side).
pub fn kid(a: &[f32], b: &[f32], dim: usize) -> f64 {
    let (a, b) = (rows(a, dim), rows(b, dim));
    let (n, m) = (a.len() as f64, b.len() as f64);
    if n < 2.0 || m < 2.0 {
        return f64::NAN;
    }
    let entries = a.iter().map(|r| dot(r, r)).sum::<f64>() / (n * dim as f64);
    let scale2 = if entries > 0.0 { entries } else { 1.0 };
    let k = |x: &[f32], y: &[f32]| (dot(x, y) / (scale2 * dim as f64) + 1.0).powi(3);
    let within = |s: &[&[f32]]| {
        let mut sum = 0.0;
        for i in 0..s.len() {
            for j in 0..i {
                sum += k(s[i], s[j]);
            }
        }
        2.0 * sum
    };
    let across: f64 = a
        .iter()
        .map(|x| b.iter().map(|y| k(x, y)).sum::<f64>())
        .sum();
    within(&a) / (n * (n - 1.0)) + within(&b) / (m * (m - 1.0)) - 2.0 * across / (n * m)
}

/// Each sample's squared distance to its k-th nearest neighbour in its own set.
fn radii(s: &[&[f32]], k: usize) -> Vec<f64> {
    s.iter()
        .enumerate()
        .map(|(i, x)| {
            let mut d: Vec<f64> = s
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, y)| dist2(x, y))
                .collect();
            let kth = k.min(d.len()).saturating_sub(1);
            if d.is_empty() {
                return 0.0;
            }
            d.select_nth_unstable_by(kth, f64::total_cmp);
            d[kth]
        })
        .collect()
}

/// The share of `probe` samples inside the manifold of `support` (within some support
/// sample's k-NN radius).
fn coverage(probe: &[&[f32]], support: &[&[f32]], radii: &[f64]) -> f64 {
    if probe.is_empty() {
        return f64::NAN;
    }
    let inside = probe
        .iter()
        .filter(|p| support.iter().zip(radii).any(|(s, r)| dist2(p, s) <= *r))
        .count();
    inside as f64 / probe.len() as f64
}

/// (precision, recall): the share of generated samples on the real manifold, and of real
/// samples on the generated one; both near 1 for samples of one distribution.
pub fn precision_recall(real: &[f32], fake: &[f32], dim: usize) -> (f64, f64) {
    // No answer (NaN, as for the Frechet distance) rather than a 0 that reads as a result.
    if real.len() < 2 * dim
        || fake.len() < 2 * dim
        || real.iter().chain(fake).any(|v| !v.is_finite())
    {
        return (f64::NAN, f64::NAN);
    }
    let (real, fake) = (rows(real, dim), rows(fake, dim));
    let precision = coverage(&fake, &real, &radii(&real, K));
    let recall = coverage(&real, &fake, &radii(&fake, K));
    (precision, recall)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` points of `dim` Gaussian coordinates, shifted by `shift`.
    fn cloud(seed: u64, n: usize, dim: usize, shift: f32) -> Vec<f32> {
        crate::types::noise::gaussian(seed, n * dim)
            .into_iter()
            .map(|v| v + shift)
            .collect()
    }

    #[test]
    fn one_distribution_scores_as_real_and_two_apart_do_not() {
        let dim = 8;
        let a = cloud(1, 400, dim, 0.0);
        let b = cloud(2, 400, dim, 0.0);
        let far = cloud(3, 400, dim, 3.0);
        let same = kid(&a, &b, dim);
        assert!(same.abs() < 0.05, "KID of one distribution {same}");
        let apart = kid(&a, &far, dim);
        assert!(
            apart > 1.0 && apart > 20.0 * same.abs(),
            "{apart} vs {same}"
        );
        let (p, r) = precision_recall(&a, &b, dim);
        assert!(p > 0.8 && r > 0.8, "precision {p}, recall {r}");
        let (p, r) = precision_recall(&a, &far, dim);
        assert!(p < 0.1 && r < 0.1, "precision {p}, recall {r}");
        // Real data in two clusters, a generator that covers only one: precise, half the
        // recall.
        let two = [cloud(4, 200, dim, 0.0), cloud(5, 200, dim, 6.0)].concat();
        let one = cloud(6, 400, dim, 0.0);
        let (p, r) = precision_recall(&two, &one, dim);
        assert!(
            p > 0.8 && (0.3..0.6).contains(&r),
            "mode-dropping: precision {p}, recall {r}"
        );
        // KID does not depend on the features' scale.
        let scaled = |x: &[f32]| x.iter().map(|v| v * 40.0).collect::<Vec<f32>>();
        let ratio = kid(&scaled(&a), &scaled(&far), dim) / apart;
        assert!((ratio - 1.0).abs() < 1e-6, "{ratio}");
    }
}

//! Small dense linear algebra on host `f64` matrices (row-major `n x n`): what the meter's
//! Frechet distance and the latent tools' PCA need, without a LAPACK dependency.

/// Eigenvalues and eigenvectors (columns) of a symmetric matrix by cyclic Jacobi rotations.
pub fn jacobi_eigen(s: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = s.to_vec();
    let mut v = vec![0.0; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum();
        if off < 1e-18 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// Eigenpairs of a symmetric matrix sorted by eigenvalue, largest first: `(values, vectors)`
/// with `vectors[k]` the unit eigenvector of `values[k]`.
pub fn sorted_eigen(s: &[f64], n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let (vals, vecs) = jacobi_eigen(s, n);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    let values = order.iter().map(|&k| vals[k]).collect();
    let vectors = order
        .iter()
        .map(|&k| (0..n).map(|i| vecs[i * n + k]).collect())
        .collect();
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigenpairs_of_a_known_matrix() {
        // [[2, 1], [1, 2]] has eigenvalues 3 (along [1, 1]) and 1 (along [1, -1]).
        let (vals, vecs) = sorted_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        assert!((vals[0] - 3.0).abs() < 1e-9 && (vals[1] - 1.0).abs() < 1e-9);
        let r = std::f64::consts::FRAC_1_SQRT_2;
        assert!((vecs[0][0].abs() - r).abs() < 1e-9 && (vecs[0][0] - vecs[0][1]).abs() < 1e-9);
        assert!((vecs[1][0] + vecs[1][1]).abs() < 1e-9);
    }
}

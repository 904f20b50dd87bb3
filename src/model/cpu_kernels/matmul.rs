//! Matrix products written straight into the kernels' own buffers.
//!
//! Why: burn-flex's matmul allocates its output zeroed, then copies it once more to align it,
//! and first copies a transposed operand to make it contiguous. In DCGAN-28's step those passes
//! cost about as much as a sixth of the GEMM time. Here the same `gemm` crate reads transposed
//! operands through their strides and writes each output element once, optionally on top of a
//! broadcast bias.

use super::{f32s, tensor};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::{Flex, TensorMetadata};
use rayon::prelude::*;

/// From this many multiply-adds on, the product is split across the thread pool (burn-flex's
/// threshold).
const PARALLEL_THRESHOLD: usize = 192 * 192 * 192;

/// A 2-D operand, read as stored (`[rows, cols]`) or transposed.
pub(crate) struct Operand<'a> {
    pub t: &'a FlexTensor,
    pub transposed: bool,
}

/// `t` as stored.
pub(crate) fn plain(t: &FlexTensor) -> Operand<'_> {
    Operand {
        t,
        transposed: false,
    }
}

/// `t` transposed.
pub(crate) fn tr(t: &FlexTensor) -> Operand<'_> {
    Operand {
        t,
        transposed: true,
    }
}

impl Operand<'_> {
    /// Logical [rows, cols], and the (row, column) strides into the stored row-major values.
    fn dims(&self) -> ([usize; 2], [isize; 2]) {
        let [r, c] = self.t.shape().dims::<2>();
        if self.transposed {
            ([c, r], [1, c as isize])
        } else {
            ([r, c], [c as isize, 1])
        }
    }
}

/// `lhs · rhs` as a new [m, n] tensor, plus `bias` [n] on every row when given.
pub(crate) fn matmul(lhs: Operand, rhs: Operand, bias: Option<&FlexTensor>) -> FlexTensor {
    let ([m, k], [lrs, lcs]) = lhs.dims();
    let ([k2, n], [rrs, rcs]) = rhs.dims();
    assert_eq!(k, k2, "matrix product of [{m}, {k}] and [{k2}, {n}]");
    let (a, b) = (f32s(lhs.t), f32s(rhs.t));
    assert!(
        a.len() == m * k && b.len() == k * n,
        "operands hold their shapes' values"
    );
    let bias = bias.map(f32s);
    if let Some(bias) = &bias {
        assert_eq!(bias.len(), n, "bias of {} for {n} columns", bias.len());
    }
    let mut out: Vec<f32> = match &bias {
        // The bias rows are the starting value the product is added to.
        Some(bias) => repeat_rows(bias, m),
        None => Vec::with_capacity(m * n),
    };
    if k == 0 {
        // An empty sum: the bias alone, or zeros.
        out.resize(m * n, 0.0);
        return tensor(out, [m, n]);
    }
    let a = Strided {
        values: &a,
        row: lrs,
        col: lcs,
    };
    let b = Strided {
        values: &b,
        row: rrs,
        col: rcs,
    };
    if m * n * k >= PARALLEL_THRESHOLD && k > m.max(n) {
        // A long reduction into a small output (weight gradients: a sum over every pixel of
        // the batch): gemm splits only the output across threads, which leaves them starved
        // here, so each half of the sum runs whole on its own thread, then the halves add.
        // Always two halves, so the result does not depend on the machine's core count.
        let half = k / 2;
        let mut upper = Vec::with_capacity(m * n);
        rayon::join(
            // SAFETY (both): `out` and `upper` have capacity for m * n values (see `gemm_into`).
            || unsafe { gemm_into(&mut out, bias.is_some(), [m, n], a, b, 0..half, false) },
            || unsafe { gemm_into(&mut upper, false, [m, n], a, b, half..k, false) },
        );
        out.par_chunks_mut(ADD_CHUNK)
            .zip(upper.par_chunks(ADD_CHUNK))
            .for_each(|(o, u)| o.iter_mut().zip(u).for_each(|(o, u)| *o += u));
    } else {
        let parallel = m * n * k >= PARALLEL_THRESHOLD;
        // SAFETY: `out` has capacity for m * n values (see `gemm_into`).
        unsafe { gemm_into(&mut out, bias.is_some(), [m, n], a, b, 0..k, parallel) };
    }
    tensor(out, [m, n])
}

/// `lhs · rhs` [m, n] computed as `(rhsᵀ · lhsᵀ)ᵀ`: gemm multiplies the transposed problem,
/// then the (small) product is transposed back. Why: with few rows on the left (a batch) and a
/// right operand read transposed (a weight, in an input gradient), gemm splits the work badly;
/// for the MLP's [64, 1024] · [1024, 784]ᵀ this takes 0.5 ms instead of 1.25.
pub(crate) fn matmul_transposed<'a>(lhs: Operand<'a>, rhs: Operand<'a>) -> FlexTensor {
    let flip = |o: Operand<'a>| Operand {
        t: o.t,
        transposed: !o.transposed,
    };
    let product = matmul(flip(rhs), flip(lhs), None); // [n, m]
    Flex::float_permute(product, &[1, 0]).to_contiguous() // [m, n]
}

/// Elements per task when adding the two halves of a split product.
const ADD_CHUNK: usize = 1 << 14;

/// A matrix's row-major storage and the (row, column) strides it is read with.
#[derive(Clone, Copy)]
struct Strided<'a> {
    values: &'a [f32],
    row: isize,
    col: isize,
}

/// `out` (+)= `a[:, ks] · b[ks, :]` for the [m, n] output, then `out` holds m * n values.
///
/// # Safety
/// `out` must have capacity for m * n values and, when `accumulate`, already hold them; `a`
/// and `b` must hold [m, k] and [k, n] values at their strides, for some k covering `ks`.
unsafe fn gemm_into(
    out: &mut Vec<f32>,
    accumulate: bool,
    [m, n]: [usize; 2],
    a: Strided,
    b: Strided,
    ks: std::ops::Range<usize>,
    parallel: bool,
) {
    debug_assert!(out.capacity() >= m * n);
    let parallelism = if parallel {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the caller's contract; gemm writes every one of the m * n values (reading them
    // first only when accumulating), after which they are initialised. The offsets stay
    // inside `a` and `b` because `ks` lies within their k.
    unsafe {
        gemm::gemm(
            m,
            n,
            ks.len(),
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.values.as_ptr().offset(ks.start as isize * a.col),
            a.col,
            a.row,
            b.values.as_ptr().offset(ks.start as isize * b.row),
            b.col,
            b.row,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
        out.set_len(m * n);
    }
}

/// The column sums of a matrix [rows, c] -> [c] (a bias gradient).
pub(crate) fn column_sums(m: FlexTensor) -> FlexTensor {
    let c = m.shape()[1];
    Flex::float_reshape(Flex::float_sum_dim(m, 0), [c].into())
}

/// `row` repeated `times` times, end to end (one block copy per row).
pub(crate) fn repeat_rows(row: &[f32], times: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(row.len() * times);
    for _ in 0..times {
        out.extend_from_slice(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded standard-normal values.
    fn values(seed: u64, len: usize) -> Vec<f32> {
        crate::types::noise::gaussian(seed, len)
    }

    /// `[rows, cols]` row-major times `[cols, n]` the plain way, in f64.
    fn reference(a: &[f32], b: &[f32], bias: &[f32], [m, k, n]: [usize; 3]) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let sum: f64 = (0..k)
                    .map(|p| f64::from(a[i * k + p]) * f64::from(b[p * n + j]))
                    .sum();
                out[i * n + j] = (sum + f64::from(bias[j])) as f32;
            }
        }
        out
    }

    /// A long reduction (split into two halves on two threads) and a short one (gemm's own
    /// threading) both give the product, with a transposed left operand and a bias.
    #[test]
    fn split_and_whole_products_match_the_plain_sum() {
        // Both past the parallel threshold: k the longest side (split), then k shorter than n
        // (whole).
        for [m, k, n] in [[16, 8000, 64], [200, 180, 220]] {
            assert!(m * n * k >= PARALLEL_THRESHOLD);
            let a = values(1, m * k); // [m, k]
            let at: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect(); // [k, m]
            let b = values(2, k * n);
            let bias = values(3, n);
            let expected = reference(&a, &b, &bias, [m, k, n]);
            let at = tensor(at, [k, m]);
            let (b, bias) = (tensor(b, [k, n]), tensor(bias, [n]));
            let got = matmul(tr(&at), plain(&b), Some(&bias));
            let got = f32s(&got);
            let worst = got
                .iter()
                .zip(&expected)
                .map(|(g, e)| (g - e).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-2, "[{m}, {k}] x [{k}, {n}]: off by {worst}");
        }
    }
}

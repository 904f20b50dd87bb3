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
    let parallelism = if m * n * k >= PARALLEL_THRESHOLD {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    if k == 0 {
        // An empty sum: the bias alone, or zeros.
        out.resize(m * n, 0.0);
        return tensor(out, [m, n]);
    }
    // SAFETY: `a` and `b` hold [m, k] and [k, n] values at the strides `dims` gives for them
    // (row-major storage of `lhs.t` and `rhs.t`, read directly or transposed); `out` has
    // capacity for m * n values and gemm writes every one of them (reading them first only when
    // they already hold the bias), after which they are initialised.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            bias.is_some(),
            a.as_ptr(),
            lcs,
            lrs,
            b.as_ptr(),
            rcs,
            rrs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
        out.set_len(m * n);
    }
    tensor(out, [m, n])
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

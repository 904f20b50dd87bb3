//! The weight layout changes the convolutions make every call (a weight to its matrix and a
//! weight gradient back), as two plain parallel transposes.
//!
//! Why: burn-flex's `permute(..).to_contiguous()` walks a strided iterator one value at a
//! time. At 64 px colour DCGAN's step moves about 30 million weight values that way, and the
//! copies (`into_contiguous`, its strided iterator and `copy_2d_tiled`) took 8.5% of the CPU
//! time in a `perf` profile of `bench --size 64 --channels 3`.

use super::{f32s, par_filled, tensor};
use burn::backend::flex::FlexTensor;

/// Values per task, so that a small matrix is not split into hundreds of tasks.
const TASK: usize = 1 << 15;

/// `[b, r, c]` -> `[b, c, r]`: each of the `b` matrices transposed.
pub(crate) fn swap_last_two(t: &FlexTensor, [b, r, c]: [usize; 3]) -> FlexTensor {
    let src = f32s(t);
    assert_eq!(src.len(), b * r * c, "tensor holds [{b}, {r}, {c}] values");
    let per = r * c;
    let group = (TASK / per.max(1)).max(1); // matrices per task
    let out = par_filled(b * per, group * per, |task, out| {
        for (m, dst) in out.chunks_exact_mut(per).enumerate() {
            let first = (task * group + m) * per;
            transpose_into(&src[first..first + per], dst, r, c);
        }
    });
    tensor(out, [b, c, r])
}

/// `[r, c]` -> `[c, r]`, in parallel over blocks of output rows.
pub(crate) fn transpose(t: &FlexTensor, [r, c]: [usize; 2]) -> FlexTensor {
    let src = f32s(t);
    assert_eq!(src.len(), r * c, "tensor holds [{r}, {c}] values");
    // Blocks of 16 output rows (16 neighbouring source columns: one cache line per source row).
    let rows = 16;
    let out = par_filled(r * c, rows * r, |block, out| {
        let c0 = block * rows;
        let width = (c - c0).min(rows);
        for (i, row) in src.chunks_exact(c).enumerate() {
            for (k, &v) in row[c0..c0 + width].iter().enumerate() {
                out[k * r + i] = v;
            }
        }
    });
    tensor(out, [c, r])
}

/// One `[r, c]` matrix `src` into `dst` as `[c, r]`.
fn transpose_into(src: &[f32], dst: &mut [f32], r: usize, c: usize) {
    for (i, row) in src.chunks_exact(c).enumerate() {
        for (k, &v) in row.iter().enumerate() {
            dst[k * r + i] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::TensorMetadata;

    fn plain_swap(v: &[f32], [b, r, c]: [usize; 3]) -> Vec<f32> {
        let mut out = vec![0.0; v.len()];
        for m in 0..b {
            for i in 0..r {
                for k in 0..c {
                    out[(m * c + k) * r + i] = v[(m * r + i) * c + k];
                }
            }
        }
        out
    }

    /// Both transposes move every value where the plain loops put it, for shapes smaller and
    /// larger than a task and a block, and with ragged last blocks.
    #[test]
    fn transposes_match_the_plain_loops() {
        for [b, r, c] in [
            [1, 1, 1],
            [3, 16, 5],
            [7, 48, 33],
            [512, 16, 256],
            [2, 300, 200],
        ] {
            let v: Vec<f32> = (0..b * r * c).map(|i| i as f32).collect();
            let t = tensor(v.clone(), [b, r, c]);
            let got = swap_last_two(&t, [b, r, c]);
            assert_eq!(got.shape().dims::<3>(), [b, c, r]);
            assert_eq!(
                &*f32s(&got),
                plain_swap(&v, [b, r, c]).as_slice(),
                "[{b}, {r}, {c}]"
            );
            let t = tensor(v.clone(), [b * r, c]);
            let got = transpose(&t, [b * r, c]);
            assert_eq!(got.shape().dims::<2>(), [c, b * r]);
            assert_eq!(
                &*f32s(&got),
                plain_swap(&v, [1, b * r, c]).as_slice(),
                "[{b}x{r}, {c}]"
            );
        }
    }
}

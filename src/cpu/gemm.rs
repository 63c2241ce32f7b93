//! Bounds-checked f32 matrix products over row-major buffers, read plainly or transposed, on
//! the `gemm` crate's kernels. Large products are split into row or column blocks of the
//! output across candle's thread pool (the pool the quantized products use too).

use crate::cpu::ops::{for_each_task, SharedMut};

/// Products with fewer multiply-adds than this run on the calling thread.
const PARALLEL_WORK: usize = 1 << 20;

/// A row-major `rows × cols` matrix in a slice, read as itself or as its transpose.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    /// Distance between consecutive rows in the slice (≥ cols).
    stride: usize,
    transposed: bool,
}

impl<'a> Mat<'a> {
    /// `data` as a dense `rows × cols` matrix.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols)
    }

    /// `rows × cols` with rows `stride` apart (a column block of a wider matrix).
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, stride: usize) -> Self {
        assert!(cols <= stride || rows <= 1, "Mat: stride below width");
        assert!(
            rows == 0 || (rows - 1) * stride + cols <= data.len(),
            "Mat: {rows}×{cols} (stride {stride}) does not fit {} values",
            data.len()
        );
        Mat {
            data,
            rows,
            cols,
            stride,
            transposed: false,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Mat {
            transposed: !self.transposed,
            ..self
        }
    }

    /// Rows as read.
    fn r(&self) -> usize {
        if self.transposed {
            self.cols
        } else {
            self.rows
        }
    }

    /// Columns as read.
    fn c(&self) -> usize {
        if self.transposed {
            self.rows
        } else {
            self.cols
        }
    }

    /// (row stride, column stride) as read.
    fn strides(&self) -> (isize, isize) {
        if self.transposed {
            (1, self.stride as isize)
        } else {
            (self.stride as isize, 1)
        }
    }

    /// Rows `start .. start + len` as read.
    fn row_block(self, start: usize, len: usize) -> Self {
        if self.transposed {
            Mat {
                data: &self.data[start..],
                cols: len,
                ..self
            }
        } else {
            Mat {
                data: &self.data[start * self.stride..],
                rows: len,
                ..self
            }
        }
    }

    /// Columns `start .. start + len` as read.
    fn col_block(self, start: usize, len: usize) -> Self {
        self.t().row_block(start, len).t()
    }
}

/// `out = alpha · a · b` (or `out += …` when `accumulate`), `out` dense `a.rows × b.cols`
/// with rows `out_stride` apart; large products run in parallel over blocks of the output.
pub fn matmul(
    out: &mut [f32],
    out_stride: usize,
    a: Mat<'_>,
    b: Mat<'_>,
    alpha: f32,
    accumulate: bool,
) {
    let (m, k, n) = (a.r(), a.c(), b.c());
    assert_eq!(k, b.r(), "matmul: inner dimensions differ");
    assert!(
        n <= out_stride || m <= 1,
        "matmul: output stride below width"
    );
    assert!(
        m == 0 || (m - 1) * out_stride + n <= out.len(),
        "matmul: output too small"
    );
    if m == 0 || n == 0 {
        return;
    }
    let tasks = if m * n * k < PARALLEL_WORK { 1 } else { 4 };
    let shared = SharedMut::new(out);
    if tasks == 1 || (m < 2 * tasks && n < 2 * tasks) {
        // SAFETY: bounds checked above; one writer.
        unsafe { matmul_raw(shared.ptr(0), out_stride, a, b, alpha, accumulate) };
    } else if m >= n {
        let per = m.div_ceil(tasks);
        for_each_task(tasks, |i| {
            let (r0, r1) = (i * per, ((i + 1) * per).min(m));
            if r0 < r1 {
                // SAFETY: task i writes only output rows r0..r1, inside the checked bounds.
                unsafe {
                    let o = shared.ptr(r0 * out_stride);
                    matmul_raw(
                        o,
                        out_stride,
                        a.row_block(r0, r1 - r0),
                        b,
                        alpha,
                        accumulate,
                    );
                }
            }
        });
    } else {
        let per = n.div_ceil(tasks);
        for_each_task(tasks, |i| {
            let (c0, c1) = (i * per, ((i + 1) * per).min(n));
            if c0 < c1 {
                // SAFETY: task i writes only columns c0..c1 of each row, inside the checked
                // bounds; tasks share rows but never elements, and no reference is formed.
                unsafe {
                    let o = shared.ptr(c0);
                    matmul_raw(
                        o,
                        out_stride,
                        a,
                        b.col_block(c0, c1 - c0),
                        alpha,
                        accumulate,
                    );
                }
            }
        });
    }
}

/// The product on the calling thread into `out` (rows `out_stride` apart).
///
/// # Safety
/// `out` must be valid for writes at `i·out_stride + j` for every output row i and column j,
/// with no other thread touching those elements.
unsafe fn matmul_raw(
    out: *mut f32,
    out_stride: usize,
    a: Mat<'_>,
    b: Mat<'_>,
    alpha: f32,
    accumulate: bool,
) {
    let (m, k, n) = (a.r(), a.c(), b.c());
    if m == 0 || n == 0 {
        return;
    }
    let (ars, acs) = a.strides();
    let (brs, bcs) = b.strides();
    // SAFETY: Mat's constructors keep every operand index inside its slice; the caller vouches
    // for the output.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out,
            1,
            out_stride as isize,
            accumulate,
            a.data.as_ptr(),
            acs,
            ars,
            b.data.as_ptr(),
            bcs,
            brs,
            if accumulate { 1.0 } else { 0.0 },
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], m: usize, k: usize, b: &[f32], n: usize) -> Vec<f32> {
        let mut o = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                o[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        o
    }

    #[test]
    fn products_and_transposes_match_the_definition() {
        let a: Vec<f32> = (0..6).map(|v| v as f32).collect(); // 2×3
        let b: Vec<f32> = (0..12).map(|v| (v as f32) * 0.5 - 2.0).collect(); // 3×4
        let mut out = vec![0.0; 8];
        matmul(
            &mut out,
            4,
            Mat::new(&a, 2, 3),
            Mat::new(&b, 3, 4),
            1.0,
            false,
        );
        assert_eq!(out, naive(&a, 2, 3, &b, 4));
        // aᵀ·aᵀᵀ: (3×2)·(2×3).
        let at: Vec<f32> = vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0];
        let mut o2 = vec![1.0; 9];
        matmul(
            &mut o2,
            3,
            Mat::new(&a, 2, 3).t(),
            Mat::new(&a, 2, 3),
            2.0,
            true,
        );
        let want: Vec<f32> = naive(&at, 3, 2, &a, 3)
            .iter()
            .map(|v| 1.0 + 2.0 * v)
            .collect();
        assert_eq!(o2, want);
        // A column block: the middle two columns of b as a 3×2 matrix.
        let mut o3 = vec![0.0; 4];
        matmul(
            &mut o3,
            2,
            Mat::new(&a, 2, 3),
            Mat::strided(&b[1..], 3, 2, 4),
            1.0,
            false,
        );
        let bm: Vec<f32> = (0..3).flat_map(|r| [b[r * 4 + 1], b[r * 4 + 2]]).collect();
        assert_eq!(o3, naive(&a, 2, 3, &bm, 2));
    }

    #[test]
    fn parallel_blocks_give_the_serial_result() {
        let mut rng = crate::model::lora::SplitMix64::new(9);
        let mut r = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.next_f32() - 0.5).collect() };
        // Tall output (row blocks), wide output (column blocks), transposed operands.
        for (m, k, n) in [(300, 64, 40), (16, 200, 900), (129, 33, 130)] {
            let a = r(m * k);
            let b = r(n * k);
            let mut par = r(m * n);
            let mut ser = par.clone();
            let (am, bm) = (Mat::new(&a, m, k), Mat::new(&b, n, k).t());
            matmul(&mut par, n, am, bm, 0.5, true);
            // SAFETY: ser holds m×n values.
            unsafe { matmul_raw(ser.as_mut_ptr(), n, am, bm, 0.5, true) };
            assert_eq!(par, ser, "{m}×{k}×{n}");
        }
    }

    #[test]
    #[should_panic(expected = "inner dimensions")]
    fn mismatched_shapes_panic() {
        let a = [0.0; 6];
        let mut out = [0.0; 4];
        matmul(
            &mut out,
            2,
            Mat::new(&a, 2, 3),
            Mat::new(&a, 2, 3),
            1.0,
            false,
        );
    }
}

//! Element-wise and per-row operations of the forward pass on f32 slices: RMSNorm, RoPE,
//! SwiGLU and a fast exponential, run on candle's CPU thread pool where the work is large.

/// Runs `f(task)` for each task in `0..n_tasks` on candle's CPU thread pool, the same pool
/// candle's own operations use: two spinning pools on the same cores would fight.
///
/// Called from inside a task (a product inside a per-head task, say), it runs the tasks in
/// turn on the calling thread: the pool cannot wait on itself.
pub fn for_each_task(n_tasks: usize, f: impl Fn(usize) + Sync) {
    if n_tasks == 1 || IN_TASK.with(|t| t.get()) {
        (0..n_tasks).for_each(f);
        return;
    }
    candle_core::utils::barrier_pool().execute_chunked(n_tasks, |range| {
        IN_TASK.with(|t| t.set(true));
        range.for_each(&f);
        IN_TASK.with(|t| t.set(false));
    });
}

thread_local! {
    /// Whether this thread is running a task of [`for_each_task`].
    static IN_TASK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A mutable buffer that parallel tasks write at disjoint ranges.
pub struct SharedMut<T>(*mut T, usize);

// SAFETY: tasks write disjoint ranges (see `slice`), and the buffer outlives the parallel
// section that borrows it.
unsafe impl<T: Send> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// Wraps `buf` for the duration of a parallel section.
    pub fn new(buf: &mut [T]) -> Self {
        Self(buf.as_mut_ptr(), buf.len())
    }

    /// The range `start .. start + len` of the buffer.
    ///
    /// # Safety
    /// No two callers may hold overlapping ranges at the same time.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, start: usize, len: usize) -> &mut [T] {
        assert!(start + len <= self.1, "SharedMut: range out of bounds");
        std::slice::from_raw_parts_mut(self.0.add(start), len)
    }

    /// A raw pointer to index `start`, for writers (such as a strided matrix product) that
    /// touch scattered elements; no reference is formed, so tasks may share rows.
    ///
    /// # Safety
    /// Writes through the pointer must stay in bounds and not race with other tasks' writes.
    pub unsafe fn ptr(&self, start: usize) -> *mut T {
        assert!(start <= self.1, "SharedMut: index out of bounds");
        self.0.add(start)
    }

    /// Writes `v` at index `i`.
    ///
    /// # Safety
    /// No other task may access index `i` during the parallel section.
    pub unsafe fn set(&self, i: usize, v: T) {
        assert!(i < self.1, "SharedMut: index out of bounds");
        *self.0.add(i) = v;
    }
}

/// RMSNorm of each row of `x` (rows of `w.len()`), scaled by `w`, into `out`.
///
/// As ggml does it: the sum of squares in f64, then `x · (1/√(mean + eps))`, then `· w`.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let d = w.len();
    let rows = x.len() / d;
    let shared = SharedMut::new(out);
    for_each_task(rows.div_ceil(ROWS_PER_TASK), |task| {
        for r in task * ROWS_PER_TASK..((task + 1) * ROWS_PER_TASK).min(rows) {
            let xr = &x[r * d..(r + 1) * d];
            // SAFETY: row r belongs to this task alone.
            let or = unsafe { shared.slice(r * d, d) };
            let sum: f64 = xr.iter().map(|&v| (v * v) as f64).sum();
            let scale = 1.0 / ((sum / d as f64) as f32 + eps).sqrt();
            for ((o, &v), &g) in or.iter_mut().zip(xr).zip(w) {
                *o = (v * scale) * g;
            }
        }
    });
}

/// Rows per task for the row-wise operations: small rows, so a handful per task.
pub const ROWS_PER_TASK: usize = 16;

/// Rotates adjacent pairs of each head of `x` (`rows × heads × head_dim`, row `i` at
/// position `pos + i`) by the angles in `cos`/`sin` (`positions × head_dim/2`).
pub fn rope(x: &mut [f32], heads: usize, head_dim: usize, pos: usize, cos: &[f32], sin: &[f32]) {
    let half = head_dim / 2;
    for (i, row) in x.chunks_exact_mut(heads * head_dim).enumerate() {
        let (c, s) = (
            &cos[(pos + i) * half..(pos + i + 1) * half],
            &sin[(pos + i) * half..(pos + i + 1) * half],
        );
        for head in row.chunks_exact_mut(head_dim) {
            for (j, pair) in head.chunks_exact_mut(2).enumerate() {
                let (x0, x1) = (pair[0], pair[1]);
                pair[0] = x0 * c[j] - x1 * s[j];
                pair[1] = x0 * s[j] + x1 * c[j];
            }
        }
    }
}

/// `gate ← silu(gate) · up`, element-wise, in parallel for large inputs.
pub fn swiglu(gate: &mut [f32], up: &[f32]) {
    const CHUNK: usize = 16 * 1024;
    let n = gate.len();
    let out = SharedMut::new(gate);
    for_each_task(n.div_ceil(CHUNK), |task| {
        let start = task * CHUNK;
        let len = CHUNK.min(n - start);
        // SAFETY: each task owns the disjoint chunk [start, start + len).
        let g = unsafe { out.slice(start, len) };
        for (g, &u) in g.iter_mut().zip(&up[start..start + len]) {
            *g = *g / (1.0 + exp(-*g)) * u;
        }
    });
}

/// `x += y`, element-wise.
pub fn add_assign(x: &mut [f32], y: &[f32]) {
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// e^x to within a few ulp, written without branches so that loops over it vectorise
/// (the C library's `expf` is a scalar call and dominates SwiGLU and softmax otherwise).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // e^x = 2^n · e^f with n = round(x·log2 e) and f = x − n·ln 2 (|f| ≤ ln2/2), ln 2 split in
    // a high part whose product with n is exact and a low correction (Cody and Waite); e^f by
    // its Taylor series to the 7th power, whose truncation error (≈6e-9) is below f32 precision.
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2^23: adding and subtracting rounds to integer
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let f = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + f * (1.0
            + f * (0.5
                + f * (1.0 / 6.0
                    + f * (1.0 / 24.0 + f * (1.0 / 120.0 + f * (1.0 / 720.0 + f / 5040.0))))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_std_within_a_few_ulp() {
        let mut worst = 0f32;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (a, b) = (exp(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.0137;
        }
        assert!(worst < 4e-7, "relative error {worst}");
        assert!(exp(-1000.0) < 1e-37);
        assert!(exp(1000.0).is_finite());
    }

    #[test]
    fn rms_norm_unit_rows() {
        let x = [3.0, 4.0, 0.0, 0.0];
        let mut out = [0.0; 4];
        rms_norm(&x, &[1.0, 2.0], 0.0, &mut out);
        let s = 1.0 / (12.5f32).sqrt();
        assert_eq!(out[0], 3.0 * s);
        assert_eq!(out[1], 4.0 * s * 2.0);
        // An all-zero row stays finite thanks to eps; with eps = 0 it is 0 · inf = NaN.
        rms_norm(&x, &[1.0, 2.0], 1e-5, &mut out);
        assert_eq!(out[2], 0.0);
    }

    #[test]
    fn rope_rotates_pairs_by_position() {
        // One head of dim 2, angle π/2 at position 1: (1, 0) → (0, 1).
        let cos = [1.0, 0.0];
        let sin = [0.0, 1.0];
        let mut x = [1.0, 0.0];
        rope(&mut x, 1, 2, 1, &cos, &sin);
        assert_eq!(x, [0.0, 1.0]);
    }
}

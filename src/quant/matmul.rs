//! Quantized weight matrices and their products with f32 activations on the CPU.
//!
//! `y = x · Wᵀ` where `W` is an `n × k` matrix of ggml blocks read straight from the GGUF file.
//! Q4_0, Q4_1 and Q8_0 weights take llama.cpp's route: the activations are quantized to 8 bits
//! per block of 32 and multiplied as integers. The CPU's features are detected at run time:
//! - AVX-512 VNNI: the weights are interleaved 16 rows at a time at load time (`pack16`), so
//!   that one 512-bit `vpdpbusd` advances 16 rows by four columns, each lane a row, with no
//!   horizontal sums;
//! - AVX2: one row at a time in llama.cpp's own order of operations;
//! - aarch64: NEON for each block's integer dot product (`sdot` where the CPU has Armv8.2's
//!   dotprod, as the Raspberry Pi 5 does; widening multiplies otherwise, as on the Pi 4), with
//!   the portable kernels' float arithmetic, so that the results are bit-identical to theirs;
//! - anything else: portable Rust.
//!
//! Other types are dequantized row by row and multiplied in f32. Work is split across threads
//! by output rows; each row's weights are unpacked once and reused for a tile of up to four
//! activation rows, and a block of activation rows stays in L1 while the rows pass over it.

use std::sync::Arc;

use crate::cpu::ops::{for_each_task, SharedMut};
use crate::gguf::read::GgmlType;
use crate::quant::blocks::{self, Q8Acts, QK};

/// Where a matrix's bytes live: inside the mapped model file, or owned (tests, merged weights).
#[derive(Clone)]
enum Bytes {
    Mapped {
        map: Arc<memmap2::Mmap>,
        start: usize,
        len: usize,
    },
    Owned(Arc<Vec<u8>>),
}

/// An `n × k` weight matrix of ggml blocks, row-major (each output row contiguous).
#[derive(Clone)]
pub struct QMatrix {
    ty: GgmlType,
    n: usize,
    k: usize,
    bytes: Bytes,
    /// The same weights interleaved 16 rows at a time for the AVX-512 kernels, when this CPU
    /// has them (see [`QMatrix::packed`]).
    packed: Option<Arc<Vec<u8>>>,
}

impl std::fmt::Debug for QMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QMatrix({} {}x{})", self.ty, self.n, self.k)
    }
}

/// Activation rows processed together against one weight row.
const TILE: usize = 4;
/// Activation rows per call of a packed kernel: the 16 rows' unpacked weights (8 registers)
/// are reused this many times, with one accumulator register each.
#[cfg(target_arch = "x86_64")]
const PACKED_TILE: usize = 4;
/// Rows interleaved together in the packed layout: one per 32-bit lane of a 512-bit register.
const ROWS16: usize = 16;
/// Groups of 16 packed rows per parallel task.
const GROUPS_PER_TASK: usize = 2;

/// Interleaves the rows of an `n × k` Q4_0, Q4_1 or Q8_0 matrix 16 at a time.
///
/// For each group of 16 rows and each block of 32 columns: the quants as 32-bit words, word
/// `j` of all 16 rows together (so lane `r` of a 512-bit load holds row `r`'s bytes `4j..4j+4`),
/// then the 16 rows' f16 scales, then (Q4_1) their 16 f16 minimums. Q4 words keep both nibbles
/// (low: columns `4j..4j+4`, high: columns `16+4j..`); Q8_0 quants are stored offset by 128
/// (as unsigned bytes), which the kernel takes back out with the activations' block sums.
#[cfg(target_arch = "x86_64")]
fn pack16(ty: GgmlType, n: usize, k: usize, src: &[u8]) -> Vec<u8> {
    let (bb, qbytes, scales) = match ty {
        GgmlType::Q4_0 => (18, 16, 1),
        GgmlType::Q4_1 => (20, 16, 2),
        _ => (34, 32, 1),
    };
    let nb = k / QK;
    let mut out = Vec::with_capacity(src.len());
    for g in 0..n / ROWS16 {
        for b in 0..nb {
            let block = |r: usize| {
                let at = (g * ROWS16 + r) * nb * bb + b * bb;
                &src[at..at + bb]
            };
            for word in 0..qbytes / 4 {
                for r in 0..ROWS16 {
                    let q = &block(r)[bb - qbytes + 4 * word..][..4];
                    if ty == GgmlType::Q8_0 {
                        out.extend(q.iter().map(|&x| x ^ 0x80));
                    } else {
                        out.extend_from_slice(q);
                    }
                }
            }
            for sc in 0..scales {
                for r in 0..ROWS16 {
                    out.extend_from_slice(&block(r)[2 * sc..2 * sc + 2]);
                }
            }
        }
    }
    debug_assert_eq!(out.len(), src.len());
    out
}

/// Activation rows processed against all of a task's weight rows before moving on.
const TOKEN_BLOCK: usize = 16;
/// Output rows per parallel task: enough work to amortise the task, few enough to balance.
const ROWS_PER_TASK: usize = 32;

impl QMatrix {
    /// A matrix over `len` bytes at `start` in a mapped file; the caller checked the size.
    pub fn mapped(ty: GgmlType, n: usize, k: usize, map: Arc<memmap2::Mmap>, start: usize) -> Self {
        let len = n * row_bytes(ty, k);
        Self {
            ty,
            n,
            k,
            bytes: Bytes::Mapped { map, start, len },
            packed: None,
        }
    }

    /// A matrix over owned bytes (`n * row_bytes(ty, k)` of them).
    pub fn owned(ty: GgmlType, n: usize, k: usize, bytes: Vec<u8>) -> Self {
        assert_eq!(
            bytes.len(),
            n * row_bytes(ty, k),
            "QMatrix::owned: wrong byte count"
        );
        Self {
            ty,
            n,
            k,
            bytes: Bytes::Owned(Arc::new(bytes)),
            packed: None,
        }
    }

    /// This matrix with its rows also interleaved for the fastest kernels this CPU runs, or
    /// unchanged where there are none (other CPUs, other types, rows not a multiple of 16).
    ///
    /// Packing reorders bytes only (the packed copy has the size of the original), so the
    /// products are the same integers; it costs one pass over the weights at load time.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    pub fn packed(mut self) -> Self {
        #[cfg(target_arch = "x86_64")]
        if vnni::available()
            && self.n.is_multiple_of(ROWS16)
            && matches!(self.ty, GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0)
        {
            self.packed = Some(Arc::new(pack16(self.ty, self.n, self.k, self.bytes())));
        }
        self
    }

    /// Weight type.
    pub fn ty(&self) -> GgmlType {
        self.ty
    }

    /// Output size (rows).
    pub fn n(&self) -> usize {
        self.n
    }

    /// Input size (columns).
    pub fn k(&self) -> usize {
        self.k
    }

    /// All the matrix's bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Mapped { map, start, len } => &map[*start..*start + *len],
            Bytes::Owned(v) => v,
        }
    }

    /// The bytes of row `r`.
    pub fn row(&self, r: usize) -> &[u8] {
        let rb = row_bytes(self.ty, self.k);
        &self.bytes()[r * rb..(r + 1) * rb]
    }

    /// Row `r` as f32.
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        blocks::dequantize_row(self.ty, self.row(r), out);
    }

    /// The whole matrix as f32, `n * k` values.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.n * self.k];
        for (r, o) in out.chunks_exact_mut(self.k).enumerate() {
            self.dequantize_row(r, o);
        }
        out
    }

    /// `y (m × n) = x (m × k) · Wᵀ`.
    pub fn matmul(&self, x: &[f32], m: usize) -> Vec<f32> {
        assert_eq!(
            x.len(),
            m * self.k,
            "QMatrix::matmul: x has the wrong length"
        );
        self.apply(&Input::new(x, self.k))
    }

    /// `y = x · Wᵀ` for a prepared input, which several matrices can share.
    pub fn apply(&self, input: &Input) -> Vec<f32> {
        apply_all(&[self], input)
            .pop()
            .expect("one matrix, one product")
    }

    /// Whether the product quantizes its input to 8 bits.
    fn uses_q8(&self) -> bool {
        matches!(self.ty, GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0)
    }

    /// Parallel tasks the product is split into.
    fn task_count(&self) -> usize {
        match &self.packed {
            Some(_) => (self.n / ROWS16).div_ceil(GROUPS_PER_TASK),
            None => self.n.div_ceil(ROWS_PER_TASK),
        }
    }

    /// Computes the output columns (weight rows) of task `task` into `out` (`m × n`).
    fn run_task(&self, task: usize, input: &Input, out: &SharedMut<f32>) {
        let (m, n) = (input.m, self.n);
        #[cfg(target_arch = "x86_64")]
        if let Some(packed) = &self.packed {
            let acts = input.q8();
            let groups = n / ROWS16;
            let group_bytes = packed.len() / groups;
            let g_end = ((task + 1) * GROUPS_PER_TASK).min(groups);
            let mut tile = [[0f32; ROWS16]; PACKED_TILE];
            // A block of activation rows stays in L1 while every weight row of the task passes
            // over it; streaming all rows per weight row would be bound by L2 bandwidth.
            for block in (0..m).step_by(TOKEN_BLOCK) {
                let end = (block + TOKEN_BLOCK).min(m);
                for g in task * GROUPS_PER_TASK..g_end {
                    let w = &packed[g * group_bytes..(g + 1) * group_bytes];
                    let mut t = block;
                    while t < end {
                        let nt = PACKED_TILE.min(end - t);
                        vnni::packed16(self.ty, w, acts, t, nt, &mut tile);
                        for (i, rows) in tile[..nt].iter().enumerate() {
                            // SAFETY: rows 16g..16g+16 of y belong to this task alone.
                            let o = unsafe { out.slice((t + i) * n + g * ROWS16, ROWS16) };
                            o.copy_from_slice(rows);
                        }
                        t += nt;
                    }
                }
            }
            return;
        }
        let rows = task * ROWS_PER_TASK..((task + 1) * ROWS_PER_TASK).min(n);
        if self.uses_q8() {
            let acts = input.q8();
            let kernel = int8_kernel(self.ty);
            let mut tile = [0f32; TILE];
            for block in (0..m).step_by(TOKEN_BLOCK) {
                let end = (block + TOKEN_BLOCK).min(m);
                for r in rows.clone() {
                    let w = self.row(r);
                    let mut t = block;
                    while t < end {
                        let nt = TILE.min(end - t);
                        kernel(w, acts, t, nt, &mut tile);
                        for (i, &v) in tile[..nt].iter().enumerate() {
                            // SAFETY: column r of y belongs to this task alone.
                            unsafe { out.set((t + i) * n + r, v) };
                        }
                        t += nt;
                    }
                }
            }
        } else {
            let mut w = vec![0f32; self.k];
            for r in rows {
                self.dequantize_row(r, &mut w);
                for t in 0..m {
                    let v = dot_f32(&w, &input.x[t * self.k..(t + 1) * self.k]);
                    // SAFETY: column r of y belongs to this task alone.
                    unsafe { out.set(t * n + r, v) };
                }
            }
        }
    }
}

/// Products of several matrices with the same input (q, k and v; gate and up), in one
/// parallel section: each section costs a wake-up and a wait of the thread pool, which for a
/// single token is a sizeable part of a small product.
pub fn apply_all(mats: &[&QMatrix], input: &Input) -> Vec<Vec<f32>> {
    for w in mats {
        assert_eq!(
            input.k, w.k,
            "apply_all: input width differs from a matrix's"
        );
    }
    let mut outs: Vec<Vec<f32>> = mats.iter().map(|w| vec![0f32; input.m * w.n]).collect();
    let shared: Vec<SharedMut<f32>> = outs.iter_mut().map(|y| SharedMut::new(y)).collect();
    if mats.iter().any(|w| w.uses_q8()) {
        // Quantize once, before the tasks, rather than inside whichever task comes first.
        input.q8();
    }
    let counts: Vec<usize> = mats.iter().map(|w| w.task_count()).collect();
    for_each_task(counts.iter().sum(), |mut task| {
        for (i, &c) in counts.iter().enumerate() {
            if task < c {
                mats[i].run_task(task, input, &shared[i]);
                return;
            }
            task -= c;
        }
    });
    outs
}

/// Activation rows `m × k` ready for any number of products: their 8-bit quantization is
/// computed once, on first use by a matrix that needs it, and then shared.
pub struct Input<'a> {
    x: &'a [f32],
    m: usize,
    k: usize,
    q8: std::sync::OnceLock<Q8Acts>,
}

impl<'a> Input<'a> {
    /// Wraps `x`, whose length must be a multiple of `k`.
    pub fn new(x: &'a [f32], k: usize) -> Self {
        assert!(
            k > 0 && x.len().is_multiple_of(k),
            "Input::new: length is not a multiple of k"
        );
        Self {
            x,
            m: x.len() / k,
            k,
            q8: std::sync::OnceLock::new(),
        }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.m
    }

    fn q8(&self) -> &Q8Acts {
        self.q8.get_or_init(|| {
            let mut a = Q8Acts::default();
            a.quantize(self.x, self.k);
            a
        })
    }
}

/// Bytes in one row of `k` elements of type `ty`.
pub fn row_bytes(ty: GgmlType, k: usize) -> usize {
    k / ty.block_elements() as usize * ty.block_bytes() as usize
}

fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    // Eight independent accumulators let the compiler vectorise without reassociating floats.
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Dot products of one weight row with activation rows `t0 .. t0 + nt` (nt ≤ [`TILE`]).
type Int8Kernel = fn(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]);

fn int8_kernel(ty: GgmlType) -> Int8Kernel {
    #[cfg(target_arch = "x86_64")]
    if vnni::available() {
        match ty {
            GgmlType::Q4_1 => return vnni::q4_1,
            GgmlType::Q8_0 => return vnni::q8_0,
            _ => {}
        }
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        return match ty {
            GgmlType::Q4_0 => avx2::q4_0,
            GgmlType::Q4_1 => avx2::q4_1,
            _ => avx2::q8_0,
        };
    }
    // NEON is part of every aarch64 CPU, so there the portable kernels are only a reference.
    #[cfg(target_arch = "aarch64")]
    {
        neon::kernel(ty)
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        portable::kernel(ty)
    }
}

#[cfg_attr(target_arch = "aarch64", allow(dead_code))] // see `mod portable`
fn f16_at(b: &[u8], i: usize) -> f32 {
    half::f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

// On aarch64 only the tests call them, as the reference the NEON kernels must match.
#[cfg_attr(target_arch = "aarch64", allow(dead_code))]
mod portable;

#[cfg(target_arch = "aarch64")]
mod neon;

#[cfg(target_arch = "x86_64")]
#[allow(clippy::needless_range_loop)] // indices mirror the tile's math
mod avx2;

#[cfg(target_arch = "x86_64")]
#[allow(clippy::needless_range_loop)] // indices mirror the tile's math
mod vnni;

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-random generator, so the tests need no extra crate and are reproducible.
    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
    }

    fn random_blocks(ty: GgmlType, n: usize, k: usize, seed: &mut u64) -> Vec<u8> {
        let total = n * row_bytes(ty, k);
        let bb = ty.block_bytes() as usize;
        let mut out = Vec::with_capacity(total);
        while out.len() < total {
            let mut b: Vec<u8> = (0..bb).map(|_| (lcg(seed) * 127.0) as i8 as u8).collect();
            // Sane f16 scales where each format keeps them (random bytes could be NaN).
            let scale_at: &[usize] = match ty {
                GgmlType::Q4_1 | GgmlType::Q4_K => &[0, 2],
                GgmlType::Q6_K => &[208],
                _ => &[0],
            };
            for &at in scale_at {
                let d = half::f16::from_f32(0.01 + lcg(seed).abs() * 0.05).to_le_bytes();
                b[at] = d[0];
                b[at + 1] = d[1];
            }
            out.extend_from_slice(&b);
        }
        out
    }

    fn check(ty: GgmlType, kernel: Int8Kernel) {
        let mut seed = 7;
        let (n, k, m) = (5, 96, 7);
        let w = QMatrix::owned(ty, n, k, random_blocks(ty, n, k, &mut seed));
        let x: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
        let mut acts = Q8Acts::default();
        acts.quantize(&x, k);
        let wf = w.dequantize();
        for r in 0..n {
            for t in 0..m {
                let mut got = [0f32; TILE];
                kernel(w.row(r), &acts, t, 1, &mut got);
                // Against the exact f32 product: the only error is the activation rounding.
                let exact = dot_f32(&wf[r * k..(r + 1) * k], &x[t * k..(t + 1) * k]);
                let bound: f32 = wf[r * k..(r + 1) * k].iter().map(|v| v.abs()).sum::<f32>()
                    * acts.d.iter().cloned().fold(0.0, f32::max)
                    + 1e-3;
                assert!(
                    (got[0] - exact).abs() <= bound,
                    "{ty} r{r} t{t}: {} vs {exact}",
                    got[0]
                );
            }
        }
        // The tiled, threaded product agrees with the single-row kernel exactly.
        let y = w.matmul(&x, m);
        for r in 0..n {
            for t in 0..m {
                let mut one = [0f32; TILE];
                kernel(w.row(r), &acts, t, 1, &mut one);
                assert!((y[t * n + r] - one[0]).abs() <= 1e-4 * one[0].abs().max(1.0));
            }
        }
    }

    #[test]
    fn portable_kernels_match_f32() {
        check(GgmlType::Q4_0, portable::q4_0);
        check(GgmlType::Q4_1, portable::q4_1);
        check(GgmlType::Q8_0, portable::q8_0);
    }

    /// Every SIMD kernel this CPU runs for `ty`, with whether it must match the portable one
    /// bit for bit (aarch64's) or only to rounding (x86's, which sum in vector lanes).
    fn simd_kernels(ty: GgmlType) -> Vec<(&'static str, Int8Kernel, bool)> {
        #[allow(unused_mut)] // nothing is pushed on other architectures
        let mut found: Vec<(&'static str, Int8Kernel, bool)> = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                let k: Int8Kernel = match ty {
                    GgmlType::Q4_0 => avx2::q4_0,
                    GgmlType::Q4_1 => avx2::q4_1,
                    _ => avx2::q8_0,
                };
                found.push(("avx2", k, false));
            }
            if vnni::available() {
                match ty {
                    GgmlType::Q4_1 => found.push(("vnni", vnni::q4_1, false)),
                    GgmlType::Q8_0 => found.push(("vnni", vnni::q8_0, false)),
                    _ => {}
                }
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            let (mull, sdot): (Int8Kernel, Int8Kernel) = match ty {
                GgmlType::Q4_0 => (neon::q4_0, neon::q4_0_sdot),
                GgmlType::Q4_1 => (neon::q4_1, neon::q4_1_sdot),
                _ => (neon::q8_0, neon::q8_0_sdot),
            };
            found.push(("neon", mull, true));
            if neon::dotprod() {
                found.push(("neon sdot", sdot, true));
            }
        }
        found
    }

    /// Weights at the ends of their range, for the largest products the kernels' narrow sums
    /// must hold: Q8_0 quants −128 (the one value below −127), Q4 nibbles 0 and 15.
    fn extreme_blocks(ty: GgmlType, n: usize, k: usize) -> Vec<u8> {
        let bb = ty.block_bytes() as usize;
        let mut block = vec![if ty == GgmlType::Q8_0 { 0x80u8 } else { 0xF0 }; bb];
        let scales = if ty == GgmlType::Q4_1 { 2 } else { 1 };
        for sc in 0..scales {
            block[2 * sc..2 * sc + 2].copy_from_slice(&half::f16::from_f32(0.03).to_le_bytes());
        }
        block.repeat(n * row_bytes(ty, k) / bb)
    }

    #[test]
    fn simd_kernels_match_portable() {
        let mut seed = 11;
        for ty in [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0] {
            let (n, k, m) = (3, if ty == GgmlType::Q4_0 { 256 } else { 224 }, 9);
            let random = random_blocks(ty, n, k, &mut seed);
            // Activations of full amplitude (every quant ±127) against the extreme weights.
            let loud: Vec<f32> = (0..m * k)
                .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
                .collect();
            let quiet: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
            for (bytes, x) in [(random, &quiet), (extreme_blocks(ty, n, k), &loud)] {
                let w = QMatrix::owned(ty, n, k, bytes);
                let mut acts = Q8Acts::default();
                acts.quantize(x, k);
                let slow = portable::kernel(ty);
                for (name, fast, exact) in simd_kernels(ty) {
                    for r in 0..n {
                        for (t0, nt) in [(0, 4), (2, 4), (5, 3), (8, 1), (6, 2)] {
                            let (mut a, mut b) = ([0f32; TILE], [0f32; TILE]);
                            fast(w.row(r), &acts, t0, nt, &mut a);
                            slow(w.row(r), &acts, t0, nt, &mut b);
                            for i in 0..nt {
                                let ok = if exact {
                                    a[i].to_bits() == b[i].to_bits()
                                } else {
                                    (a[i] - b[i]).abs() <= 1e-4 * b[i].abs().max(1.0)
                                };
                                assert!(ok, "{ty} {name} r{r} t{}: {} vs {}", t0 + i, a[i], b[i]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The kernel products pick is one of the tested ones, and on aarch64 a NEON one.
    #[test]
    fn the_chosen_kernel_is_a_tested_one() {
        for ty in [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0] {
            let chosen = int8_kernel(ty) as usize;
            let candidates = simd_kernels(ty);
            let known = chosen == portable::kernel(ty) as usize
                || candidates.iter().any(|&(_, k, _)| k as usize == chosen);
            assert!(known, "{ty}: untested kernel chosen");
            if cfg!(target_arch = "aarch64") {
                assert_ne!(
                    chosen,
                    portable::kernel(ty) as usize,
                    "{ty}: no NEON kernel"
                );
            }
        }
    }

    #[test]
    fn packed_layout_gives_the_same_products() {
        let mut seed = 5;
        let (n, k, m) = (48, 96, 7);
        for ty in [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0] {
            let raw = QMatrix::owned(ty, n, k, random_blocks(ty, n, k, &mut seed));
            let x: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
            let want = raw.matmul(&x, m);
            let packed = raw.clone().packed();
            if packed.packed.is_none() {
                // This CPU has no AVX-512 VNNI: the packed path does not exist here.
                return;
            }
            let got = packed.matmul(&x, m);
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                    "{ty} [{i}]: {a} vs {b}"
                );
            }
            // Rows stay readable through the original bytes.
            let (mut r1, mut r2) = (vec![0f32; k], vec![0f32; k]);
            raw.dequantize_row(n - 1, &mut r1);
            packed.dequantize_row(n - 1, &mut r2);
            assert_eq!(r1, r2);
        }
    }

    #[test]
    fn generic_path_matches_dequantized_product() {
        let mut seed = 3;
        let (n, k, m) = (4, 512, 3);
        for ty in [GgmlType::Q4_K, GgmlType::Q6_K] {
            let w = QMatrix::owned(ty, n, k, random_blocks(ty, n, k, &mut seed));
            let x: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
            let wf = w.dequantize();
            let y = w.matmul(&x, m);
            for r in 0..n {
                for t in 0..m {
                    let exact = dot_f32(&wf[r * k..(r + 1) * k], &x[t * k..(t + 1) * k]);
                    assert!((y[t * n + r] - exact).abs() <= 1e-3 * exact.abs().max(1.0));
                }
            }
        }
    }
}

//! Quantized weight matrices and their products with f32 activations on the CPU.
//!
//! `y = x · Wᵀ` where `W` is an `n × k` matrix of ggml blocks read straight from the GGUF file.
//! Q4_0, Q4_1 and Q8_0 weights take llama.cpp's route: the activations are quantized to 8 bits
//! per block of 32 and multiplied as integers (AVX2 when the CPU has it, detected at run time;
//! portable Rust elsewhere). Other types are dequantized row by row and multiplied in f32.
//! Work is split across threads by output rows; each row's weights are unpacked once and reused
//! for a tile of up to four activation rows.

use std::sync::Arc;

use rayon::prelude::*;

use crate::gguf::GgmlType;
use crate::quant::{self, Q8Acts, QK};

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
}

impl std::fmt::Debug for QMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QMatrix({} {}x{})", self.ty, self.n, self.k)
    }
}

/// Activation rows processed together against one weight row.
const TILE: usize = 4;
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
        }
    }

    /// A matrix over owned bytes (`n * row_bytes(ty, k)` of them).
    pub fn owned(ty: GgmlType, n: usize, k: usize, bytes: Vec<u8>) -> Self {
        assert_eq!(bytes.len(), n * row_bytes(ty, k), "QMatrix::owned: wrong byte count");
        Self {
            ty,
            n,
            k,
            bytes: Bytes::Owned(Arc::new(bytes)),
        }
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
        quant::dequantize_row(self.ty, self.row(r), out);
    }

    /// The whole matrix as f32, `n * k` values.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.n * self.k];
        out.par_chunks_mut(self.k)
            .enumerate()
            .for_each(|(r, o)| self.dequantize_row(r, o));
        out
    }

    /// `y (m × n) = x (m × k) · Wᵀ`.
    pub fn matmul(&self, x: &[f32], m: usize) -> Vec<f32> {
        assert_eq!(x.len(), m * self.k, "QMatrix::matmul: x has the wrong length");
        // Output is computed transposed (one contiguous run per weight row, so parallel tasks
        // write disjoint slices), then transposed back when there is more than one row.
        let mut yt = vec![0f32; self.n * m];
        match self.ty {
            GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0 => {
                let mut acts = Q8Acts::default();
                acts.quantize(x, self.k);
                let kernel = int8_kernel(self.ty);
                yt.par_chunks_mut(ROWS_PER_TASK * m)
                    .enumerate()
                    .for_each(|(task, out)| {
                        let r0 = task * ROWS_PER_TASK;
                        for (i, orow) in out.chunks_mut(m).enumerate() {
                            let w = self.row(r0 + i);
                            let mut t = 0;
                            while t < m {
                                let nt = TILE.min(m - t);
                                kernel(w, &acts, t, nt, &mut orow[t..t + nt]);
                                t += nt;
                            }
                        }
                    });
            }
            _ => {
                yt.par_chunks_mut(ROWS_PER_TASK * m)
                    .enumerate()
                    .for_each(|(task, out)| {
                        let mut w = vec![0f32; self.k];
                        let r0 = task * ROWS_PER_TASK;
                        for (i, orow) in out.chunks_mut(m).enumerate() {
                            self.dequantize_row(r0 + i, &mut w);
                            for (t, o) in orow.iter_mut().enumerate() {
                                *o = dot_f32(&w, &x[t * self.k..(t + 1) * self.k]);
                            }
                        }
                    });
            }
        }
        if m == 1 {
            return yt;
        }
        let mut y = vec![0f32; m * self.n];
        for r in 0..self.n {
            for t in 0..m {
                y[t * self.n + r] = yt[r * m + t];
            }
        }
        y
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
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        return match ty {
            GgmlType::Q4_0 => avx2::q4_0,
            GgmlType::Q4_1 => avx2::q4_1,
            _ => avx2::q8_0,
        };
    }
    match ty {
        GgmlType::Q4_0 => portable::q4_0,
        GgmlType::Q4_1 => portable::q4_1,
        _ => portable::q8_0,
    }
}

fn f16_at(b: &[u8], i: usize) -> f32 {
    half::f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// Plain Rust kernels: the reference, and the path on CPUs without AVX2.
mod portable {
    use super::*;

    fn generic<const BB: usize>(
        w: &[u8],
        acts: &Q8Acts,
        t0: usize,
        nt: usize,
        out: &mut [f32],
        unpack: impl Fn(&[u8], &mut [i32; QK]) -> (f32, f32),
    ) {
        let mut q = [0i32; QK];
        let mut acc = [0f32; TILE];
        for (b, wb) in w.chunks_exact(BB).enumerate() {
            let (dw, mw) = unpack(wb, &mut q);
            for (i, acc) in acc.iter_mut().enumerate().take(nt) {
                let x = &acts.row(t0 + i)[b * QK..(b + 1) * QK];
                let sumi: i32 = q.iter().zip(x).map(|(&a, &b)| a * b as i32).sum();
                *acc += dw * acts.row_d(t0 + i)[b] * sumi as f32 + mw * acts.row_s(t0 + i)[b];
            }
        }
        out[..nt].copy_from_slice(&acc[..nt]);
    }

    pub fn q4_0(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
        generic::<18>(w, acts, t0, nt, out, |b, q| {
            for j in 0..16 {
                q[j] = (b[2 + j] & 0x0F) as i32 - 8;
                q[j + 16] = (b[2 + j] >> 4) as i32 - 8;
            }
            (f16_at(b, 0), 0.0)
        })
    }

    pub fn q4_1(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
        generic::<20>(w, acts, t0, nt, out, |b, q| {
            for j in 0..16 {
                q[j] = (b[4 + j] & 0x0F) as i32;
                q[j + 16] = (b[4 + j] >> 4) as i32;
            }
            (f16_at(b, 0), f16_at(b, 2))
        })
    }

    pub fn q8_0(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
        generic::<34>(w, acts, t0, nt, out, |b, q| {
            for j in 0..QK {
                q[j] = b[2 + j] as i8 as i32;
            }
            (f16_at(b, 0), 0.0)
        })
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;
    use std::arch::x86_64::*;

    /// Sums the eight i32 lanes of `p` (products already paired) into f32 and scales by `d`.
    #[inline(always)]
    unsafe fn madd_scaled(wu: __m256i, xs: __m256i, d: f32, acc: __m256) -> __m256 {
        // u8 × i8 pairs into i16 (no saturation: |w| ≤ 15 or a sign-folded |w| ≤ 127 with
        // |x| ≤ 127 stays below 2¹⁵), then pairs of i16 into i32.
        let p16 = _mm256_maddubs_epi16(wu, xs);
        let p32 = _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
        _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), _mm256_set1_ps(d), acc)
    }

    #[inline(always)]
    unsafe fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps(v, 1);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }

    /// Unpacks 16 bytes of nibbles into 32 bytes: low nibbles first, then high (ggml's order).
    #[inline(always)]
    unsafe fn nibbles(p: *const u8) -> __m256i {
        let raw = _mm_loadu_si128(p as *const __m128i);
        let both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
        _mm256_and_si256(both, _mm256_set1_epi8(0x0F))
    }

    #[inline(always)]
    unsafe fn tile<const BB: usize>(
        w: &[u8],
        acts: &Q8Acts,
        t0: usize,
        nt: usize,
        out: &mut [f32],
        signed: bool,
        load: impl Fn(*const u8) -> (__m256i, f32, f32),
    ) {
        let mut acc = [_mm256_setzero_ps(); TILE];
        let mut macc = [0f32; TILE];
        let nb = w.len() / BB;
        let k = acts.k;
        for b in 0..nb {
            let (wq, dw, mw) = load(w.as_ptr().add(b * BB));
            // For signed weights, fold the sign into the activations so the left operand of
            // maddubs is unsigned.
            let wu = if signed { _mm256_sign_epi8(wq, wq) } else { wq };
            for i in 0..nt {
                let t = t0 + i;
                let xp = acts.qs.as_ptr().add(t * k + b * QK) as *const __m256i;
                let mut xs = _mm256_loadu_si256(xp);
                if signed {
                    xs = _mm256_sign_epi8(xs, wq);
                }
                let dx = *acts.d.get_unchecked(t * (k / QK) + b);
                acc[i] = madd_scaled(wu, xs, dw * dx, acc[i]);
                if mw != 0.0 {
                    macc[i] += mw * *acts.s.get_unchecked(t * (k / QK) + b);
                }
            }
        }
        for i in 0..nt {
            out[i] = hsum(acc[i]) + macc[i];
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn q4_1_impl(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
        tile::<20>(w, acts, t0, nt, out, false, |p| {
            (nibbles(p.add(4)), f16_ptr(p), f16_ptr(p.add(2)))
        })
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn q4_0_impl(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
        tile::<18>(w, acts, t0, nt, out, true, |p| {
            let q = _mm256_sub_epi8(nibbles(p.add(2)), _mm256_set1_epi8(8));
            (q, f16_ptr(p), 0.0)
        })
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn q8_0_impl(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
        tile::<34>(w, acts, t0, nt, out, true, |p| {
            let q = _mm256_loadu_si256(p.add(2) as *const __m256i);
            (q, f16_ptr(p), 0.0)
        })
    }

    #[inline(always)]
    unsafe fn f16_ptr(p: *const u8) -> f32 {
        half::f16::from_le_bytes([*p, *p.add(1)]).to_f32()
    }

    // Safe entry points: `int8_kernel` hands these out only after detecting AVX2 and FMA, and
    // every slice length was checked against the matrix shape by the caller.
    pub fn q4_1(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
        debug_assert!(t0 + nt <= acts.qs.len() / acts.k && w.len() / 20 * QK == acts.k);
        unsafe { q4_1_impl(w, acts, t0, nt, out) }
    }

    pub fn q4_0(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
        debug_assert!(t0 + nt <= acts.qs.len() / acts.k && w.len() / 18 * QK == acts.k);
        unsafe { q4_0_impl(w, acts, t0, nt, out) }
    }

    pub fn q8_0(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
        debug_assert!(t0 + nt <= acts.qs.len() / acts.k && w.len() / 34 * QK == acts.k);
        unsafe { q8_0_impl(w, acts, t0, nt, out) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-random generator, so the tests need no extra crate and are reproducible.
    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
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
                assert!((got[0] - exact).abs() <= bound, "{ty} r{r} t{t}: {} vs {exact}", got[0]);
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

    #[test]
    fn simd_kernels_match_portable() {
        let mut seed = 11;
        for ty in [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0] {
            let (n, k, m) = (3, 256, 9);
            let w = QMatrix::owned(ty, n, k, random_blocks(ty, n, k, &mut seed));
            let x: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
            let mut acts = Q8Acts::default();
            acts.quantize(&x, k);
            let fast = int8_kernel(ty);
            let slow = match ty {
                GgmlType::Q4_0 => portable::q4_0 as Int8Kernel,
                GgmlType::Q4_1 => portable::q4_1,
                _ => portable::q8_0,
            };
            for r in 0..n {
                let (mut a, mut b) = ([0f32; TILE], [0f32; TILE]);
                fast(w.row(r), &acts, 2, 4, &mut a);
                slow(w.row(r), &acts, 2, 4, &mut b);
                for i in 0..4 {
                    assert!((a[i] - b[i]).abs() <= 1e-4 * b[i].abs().max(1.0), "{ty}: {a:?} {b:?}");
                }
            }
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

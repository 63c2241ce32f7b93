//! AVX2 and FMA kernels (x86-64 CPUs without AVX-512 VNNI): one block (32 weights) per
//! 256-bit register, its byte products paired by `vpmaddubsw` and summed in f32 lanes.

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

//! aarch64 kernels (Raspberry Pi 4 and 5). Baseline NEON is part of the aarch64 target, so it
//! needs no detection; the `sdot` instruction (Armv8.2 dotprod: Pi 5's Cortex-A76, not Pi 4's
//! Cortex-A72) is detected at run time.
//!
//! Only each block's integer dot product is vectorised; the scaling is the portable kernel's
//! scalar expression in the same order, so the results are bit-identical to it (the x86 paths
//! instead accumulate in vector lanes and differ in the last bits).

use super::*;
use std::arch::aarch64::*;

/// Whether this CPU has `sdot`; OPENSOC_NO_DOTPROD turns it off, to compare the two paths
/// on one machine.
pub fn dotprod() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        std::env::var_os("OPENSOC_NO_DOTPROD").is_none()
            && std::arch::is_aarch64_feature_detected!("dotprod")
    })
}

/// Σ w·x over one block of 32 signed bytes (two registers each) with widening multiplies.
#[inline(always)]
unsafe fn block_dot_mull(w: [int8x16_t; 2], x: [int8x16_t; 2]) -> i32 {
    let mut acc = vdupq_n_s32(0);
    for j in 0..2 {
        // i8 × i8 into i16, two products per lane: |w| ≤ 128 and |x| ≤ 127 (the activation
        // quantizer clamps to ±127) keep a pair within ±32512, below i16's limit.
        let p = vmull_s8(vget_low_s8(w[j]), vget_low_s8(x[j]));
        let p = vmlal_high_s8(p, w[j], x[j]);
        acc = vpadalq_s16(acc, p);
    }
    vaddvq_s32(acc)
}

/// Σ w·x over one block of 32 signed bytes with two `sdot`s (Armv8.2 dotprod: each 32-bit
/// lane gains the products of its four byte pairs).
///
/// Inline assembly because the `vdotq_s32` intrinsic is not yet stable in Rust.
#[target_feature(enable = "dotprod")]
#[inline]
unsafe fn block_dot_sdot(w: [int8x16_t; 2], x: [int8x16_t; 2]) -> i32 {
    let mut acc = vdupq_n_s32(0);
    for j in 0..2 {
        std::arch::asm!(
            "sdot {acc:v}.4s, {w:v}.16b, {x:v}.16b",
            acc = inout(vreg) acc,
            w = in(vreg) w[j],
            x = in(vreg) x[j],
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    vaddvq_s32(acc)
}

/// The portable kernel's loop with NEON block dot products (`sdot` when `SDOT`): same
/// integers, same float operations in the same order. `load` gives a block's 32 signed
/// weights, its scale and its minimum.
#[inline(always)]
unsafe fn tile<const BB: usize, const SDOT: bool>(
    w: &[u8],
    acts: &Q8Acts,
    t0: usize,
    nt: usize,
    out: &mut [f32],
    load: impl Fn(*const u8) -> ([int8x16_t; 2], f32, f32),
) {
    let (k, nbk) = (acts.k, acts.k / QK);
    let mut acc = [0f32; TILE];
    for b in 0..w.len() / BB {
        let (wq, dw, mw) = load(w.as_ptr().add(b * BB));
        for (i, acc) in acc.iter_mut().enumerate().take(nt) {
            let t = t0 + i;
            let xp = acts.qs.as_ptr().add(t * k + b * QK);
            let x = [vld1q_s8(xp), vld1q_s8(xp.add(16))];
            let sumi = if SDOT {
                block_dot_sdot(wq, x)
            } else {
                block_dot_mull(wq, x)
            };
            let (dx, sx) = (acts.d[t * nbk + b], acts.s[t * nbk + b]);
            *acc += dw * dx * sumi as f32 + mw * sx;
        }
    }
    out[..nt].copy_from_slice(&acc[..nt]);
}

#[inline(always)]
unsafe fn f16_ptr(p: *const u8) -> f32 {
    half::f16::from_le_bytes([*p, *p.add(1)]).to_f32()
}

/// Splits 16 bytes of nibbles into the block's columns 0..16 (low) and 16..32 (high).
#[inline(always)]
unsafe fn nibbles(p: *const u8) -> [uint8x16_t; 2] {
    let raw = vld1q_u8(p);
    [vandq_u8(raw, vdupq_n_u8(0x0F)), vshrq_n_u8::<4>(raw)]
}

#[inline(always)]
unsafe fn load_q4_0(p: *const u8) -> ([int8x16_t; 2], f32, f32) {
    // Nibbles 0..15 minus 8, as the portable unpacking does.
    let [lo, hi] = nibbles(p.add(2));
    let eight = vdupq_n_s8(8);
    let q = [
        vsubq_s8(vreinterpretq_s8_u8(lo), eight),
        vsubq_s8(vreinterpretq_s8_u8(hi), eight),
    ];
    (q, f16_ptr(p), 0.0)
}

#[inline(always)]
unsafe fn load_q4_1(p: *const u8) -> ([int8x16_t; 2], f32, f32) {
    let [lo, hi] = nibbles(p.add(4));
    let q = [vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi)];
    (q, f16_ptr(p), f16_ptr(p.add(2)))
}

#[inline(always)]
unsafe fn load_q8_0(p: *const u8) -> ([int8x16_t; 2], f32, f32) {
    let q = p.add(2) as *const i8;
    ([vld1q_s8(q), vld1q_s8(q.add(16))], f16_ptr(p), 0.0)
}

// The dotprod variants: `sdot` must be enabled for the whole function so that it inlines.
#[target_feature(enable = "dotprod")]
unsafe fn q4_0_dot(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
    tile::<18, true>(w, acts, t0, nt, out, |p| load_q4_0(p))
}

#[target_feature(enable = "dotprod")]
unsafe fn q4_1_dot(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
    tile::<20, true>(w, acts, t0, nt, out, |p| load_q4_1(p))
}

#[target_feature(enable = "dotprod")]
unsafe fn q8_0_dot(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
    tile::<34, true>(w, acts, t0, nt, out, |p| load_q8_0(p))
}

/// Checks what the kernels read against the shape; the caller checked it too, but the
/// kernels read through raw pointers, so a wrong call must stop here.
fn check(w: &[u8], bb: usize, acts: &Q8Acts, t0: usize, nt: usize, out: &[f32]) {
    assert!(
        nt <= TILE
            && out.len() >= nt
            && t0 + nt <= acts.qs.len() / acts.k
            && w.len().is_multiple_of(bb)
            && w.len() / bb * QK == acts.k,
        "neon kernel: shapes disagree"
    );
}

/// The fastest kernel for `ty` (Q4_0, Q4_1 or Q8_0) on this CPU.
pub fn kernel(ty: GgmlType) -> Int8Kernel {
    match (dotprod(), ty) {
        (true, GgmlType::Q4_0) => q4_0_sdot,
        (true, GgmlType::Q4_1) => q4_1_sdot,
        (true, _) => q8_0_sdot,
        (false, GgmlType::Q4_0) => q4_0,
        (false, GgmlType::Q4_1) => q4_1,
        (false, _) => q8_0,
    }
}

// Safe entry points. Baseline NEON is always present on aarch64.
pub fn q4_0(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
    check(w, 18, acts, t0, nt, out);
    // SAFETY: shapes checked above; NEON is part of the target.
    unsafe { tile::<18, false>(w, acts, t0, nt, out, |p| load_q4_0(p)) }
}

pub fn q4_1(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
    check(w, 20, acts, t0, nt, out);
    // SAFETY: as in `q4_0`.
    unsafe { tile::<20, false>(w, acts, t0, nt, out, |p| load_q4_1(p)) }
}

pub fn q8_0(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
    check(w, 34, acts, t0, nt, out);
    // SAFETY: as in `q4_0`.
    unsafe { tile::<34, false>(w, acts, t0, nt, out, |p| load_q8_0(p)) }
}

// `int8_kernel` hands these out only when `dotprod()` said yes.
pub fn q4_0_sdot(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
    check(w, 18, acts, t0, nt, out);
    assert!(dotprod());
    // SAFETY: shapes checked above, dotprod detected.
    unsafe { q4_0_dot(w, acts, t0, nt, out) }
}

pub fn q4_1_sdot(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
    check(w, 20, acts, t0, nt, out);
    assert!(dotprod());
    // SAFETY: as in `q4_0_sdot`.
    unsafe { q4_1_dot(w, acts, t0, nt, out) }
}

pub fn q8_0_sdot(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
    check(w, 34, acts, t0, nt, out);
    assert!(dotprod());
    // SAFETY: as in `q4_0_sdot`.
    unsafe { q8_0_dot(w, acts, t0, nt, out) }
}

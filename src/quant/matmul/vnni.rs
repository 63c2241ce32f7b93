//! AVX-512 VNNI kernels: two blocks (64 weights) per 512-bit register and one `vpdpbusd` for
//! their 64 multiply-adds, where the AVX2 path needs two registers and four instructions.

use super::*;
use std::arch::x86_64::*;

/// Whether this CPU runs the kernels below.
pub fn available() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    // OPENSOC_NO_AVX512 turns the AVX-512 paths off, to compare them with the AVX2 ones.
    *HAS.get_or_init(|| {
        std::env::var_os("OPENSOC_NO_AVX512").is_none()
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    })
}

#[inline(always)]
unsafe fn f16_ptr(p: *const u8) -> f32 {
    half::f16::from_le_bytes([*p, *p.add(1)]).to_f32()
}

/// `[a; 8] ++ [b; 8]`: per-lane scales for a register holding blocks `b` and `b + 1`.
#[inline(always)]
unsafe fn pair(a: f32, b: f32) -> __m512 {
    _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1)
}

#[inline(always)]
unsafe fn hsum256(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma")]
unsafe fn q4_1_impl(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
    // A fixed token count lets the compiler unroll the token loop and keep every
    // accumulator in a register.
    match nt {
        1 => q4_1_impl_n::<1>(w, acts, t0, out),
        2 => q4_1_impl_n::<2>(w, acts, t0, out),
        3 => q4_1_impl_n::<3>(w, acts, t0, out),
        _ => q4_1_impl_n::<4>(w, acts, t0, out),
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma")]
unsafe fn q4_1_impl_n<const NT: usize>(w: &[u8], acts: &Q8Acts, t0: usize, out: &mut [f32]) {
    let nt = NT;
    const BB: usize = 20;
    let (nb, k) = (w.len() / BB, acts.k);
    let nbk = k / QK;
    let mut acc = [_mm512_setzero_ps(); NT];
    let mut tail = [_mm256_setzero_ps(); NT];
    let mut macc = [0f32; NT];
    let low = _mm512_set1_epi8(0x0F);
    let wp = w.as_ptr();
    let mut b = 0;
    while b + 2 <= nb {
        let (p0, p1) = (wp.add(b * BB), wp.add((b + 1) * BB));
        let q = _mm256_set_m128i(
            _mm_loadu_si128(p1.add(4) as *const __m128i),
            _mm_loadu_si128(p0.add(4) as *const __m128i),
        );
        // [b0 low, b1 low, b0 high, b1 high] nibbles, reordered to the activations' order
        // [b0 low, b0 high, b1 low, b1 high].
        let z = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1);
        let wu = _mm512_and_si512(_mm512_shuffle_i64x2(z, z, 0xD8), low);
        let dwv = pair(f16_ptr(p0), f16_ptr(p1));
        let mwv = pair(f16_ptr(p0.add(2)), f16_ptr(p1.add(2)));
        for i in 0..nt {
            let t = t0 + i;
            let x = _mm512_loadu_si512(acts.qs.as_ptr().add(t * k + b * QK) as *const _);
            let isum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wu, x);
            let blk = t * nbk + b;
            let dxv = pair(acts.d[blk], acts.d[blk + 1]);
            // The offset term m·s, spread as m·s/8 over the block's eight lanes.
            let sxv = pair(acts.s[blk] / 8.0, acts.s[blk + 1] / 8.0);
            let scale = _mm512_mul_ps(dwv, dxv);
            let a = _mm512_fmadd_ps(mwv, sxv, acc[i]);
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), scale, a);
        }
        b += 2;
    }
    if b < nb {
        let p0 = wp.add(b * BB);
        let raw = _mm_loadu_si128(p0.add(4) as *const __m128i);
        let wu = _mm256_and_si256(
            _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw),
            _mm256_set1_epi8(0x0F),
        );
        let (dw, m0) = (f16_ptr(p0), f16_ptr(p0.add(2)));
        for i in 0..nt {
            let t = t0 + i;
            let x = _mm256_loadu_si256(acts.qs.as_ptr().add(t * k + b * QK) as *const _);
            let isum = _mm256_dpbusd_epi32(_mm256_setzero_si256(), wu, x);
            let scale = _mm256_set1_ps(dw * acts.d[t * nbk + b]);
            tail[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, tail[i]);
            macc[i] += m0 * acts.s[t * nbk + b];
        }
    }
    for i in 0..nt {
        out[i] = _mm512_reduce_add_ps(acc[i]) + hsum256(tail[i]) + macc[i];
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma")]
unsafe fn q8_0_impl(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
    // A fixed token count lets the compiler unroll the token loop and keep every
    // accumulator in a register.
    match nt {
        1 => q8_0_impl_n::<1>(w, acts, t0, out),
        2 => q8_0_impl_n::<2>(w, acts, t0, out),
        3 => q8_0_impl_n::<3>(w, acts, t0, out),
        _ => q8_0_impl_n::<4>(w, acts, t0, out),
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma")]
unsafe fn q8_0_impl_n<const NT: usize>(w: &[u8], acts: &Q8Acts, t0: usize, out: &mut [f32]) {
    let nt = NT;
    const BB: usize = 34;
    let (nb, k) = (w.len() / BB, acts.k);
    let nbk = k / QK;
    let mut acc = [_mm512_setzero_ps(); NT];
    let mut tail = [_mm256_setzero_ps(); NT];
    let wp = w.as_ptr();
    let mut b = 0;
    while b + 2 <= nb {
        let (p0, p1) = (wp.add(b * BB), wp.add((b + 1) * BB));
        let q = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_loadu_si256(p0.add(2) as *const __m256i)),
            _mm256_loadu_si256(p1.add(2) as *const __m256i),
            1,
        );
        // vpdpbusd multiplies unsigned by signed bytes: move the weights' signs onto the
        // activations (|w| · sign(w)·x = w · x).
        let neg = _mm512_movepi8_mask(q);
        let wu = _mm512_abs_epi8(q);
        let dwv = pair(f16_ptr(p0), f16_ptr(p1));
        for i in 0..nt {
            let t = t0 + i;
            let x = _mm512_loadu_si512(acts.qs.as_ptr().add(t * k + b * QK) as *const _);
            let xs = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
            let isum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wu, xs);
            let dxv = pair(acts.d[t * nbk + b], acts.d[t * nbk + b + 1]);
            let scale = _mm512_mul_ps(dwv, dxv);
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), scale, acc[i]);
        }
        b += 2;
    }
    if b < nb {
        let p0 = wp.add(b * BB);
        let q = _mm256_loadu_si256(p0.add(2) as *const __m256i);
        let wu = _mm256_sign_epi8(q, q);
        let dw = f16_ptr(p0);
        for i in 0..nt {
            let t = t0 + i;
            let x = _mm256_loadu_si256(acts.qs.as_ptr().add(t * k + b * QK) as *const _);
            let isum = _mm256_dpbusd_epi32(_mm256_setzero_si256(), wu, _mm256_sign_epi8(x, q));
            let scale = _mm256_set1_ps(dw * acts.d[t * nbk + b]);
            tail[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), scale, tail[i]);
        }
    }
    for i in 0..nt {
        out[i] = _mm512_reduce_add_ps(acc[i]) + hsum256(tail[i]);
    }
}

/// Products of one packed group of 16 rows (`w`, see `pack16`) with activation rows
/// `t0 .. t0 + nt`: `out[i][r]` for token `t0 + i` and row `r` of the group.
pub fn packed16(
    ty: GgmlType,
    w: &[u8],
    acts: &Q8Acts,
    t0: usize,
    nt: usize,
    out: &mut [[f32; ROWS16]; PACKED_TILE],
) {
    let per_block = match ty {
        GgmlType::Q4_0 => 288,
        GgmlType::Q4_1 => 320,
        _ => 544,
    };
    assert!(available() && w.len() == acts.k / QK * per_block);
    assert!((1..=PACKED_TILE).contains(&nt) && t0 + nt <= acts.qs.len() / acts.k);
    macro_rules! by_count {
        ($f:ident $(, $c:expr)?) => {
            match nt {
                1 => $f::<1 $(, $c)?>(w, acts, t0, out),
                2 => $f::<2 $(, $c)?>(w, acts, t0, out),
                3 => $f::<3 $(, $c)?>(w, acts, t0, out),
                4 => $f::<4 $(, $c)?>(w, acts, t0, out),
                5 => $f::<5 $(, $c)?>(w, acts, t0, out),
                6 => $f::<6 $(, $c)?>(w, acts, t0, out),
                7 => $f::<7 $(, $c)?>(w, acts, t0, out),
                _ => $f::<8 $(, $c)?>(w, acts, t0, out),
            }
        };
    }
    // SAFETY: the CPU features were checked, and `w` holds exactly one packed group for
    // activations of width `acts.k`, with rows `t0 .. t0 + nt` present.
    unsafe {
        match ty {
            GgmlType::Q8_0 => by_count!(packed_q8),
            GgmlType::Q4_1 => by_count!(packed_q4, true),
            _ => by_count!(packed_q4, false),
        }
    }
}

/// Four activation bytes at `p`, broadcast to every 32-bit lane.
#[inline(always)]
unsafe fn bcast4(p: *const i8) -> __m512i {
    _mm512_set1_epi32((p as *const i32).read_unaligned())
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn packed_q4<const NT: usize, const MIN: bool>(
    w: &[u8],
    acts: &Q8Acts,
    t0: usize,
    out: &mut [[f32; ROWS16]; PACKED_TILE],
) {
    let per_block = if MIN { 320 } else { 288 };
    let (k, nb) = (acts.k, acts.k / QK);
    let low = _mm512_set1_epi8(0x0F);
    let mut acc = [_mm512_setzero_ps(); NT];
    for b in 0..nb {
        let p = w.as_ptr().add(b * per_block);
        // Unpack the block's 16 rows once for all NT activation rows.
        let mut lo = [_mm512_setzero_si512(); 4];
        let mut hi = [_mm512_setzero_si512(); 4];
        for j in 0..4 {
            let v = _mm512_loadu_si512(p.add(64 * j) as *const _);
            lo[j] = _mm512_and_si512(v, low);
            hi[j] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
        }
        let dw = _mm512_cvtph_ps(_mm256_loadu_si256(p.add(256) as *const __m256i));
        let mw = if MIN {
            _mm512_cvtph_ps(_mm256_loadu_si256(p.add(288) as *const __m256i))
        } else {
            _mm512_setzero_ps()
        };
        for i in 0..NT {
            let t = t0 + i;
            let x = acts.qs.as_ptr().add(t * k + b * QK);
            let mut isum = _mm512_setzero_si512();
            for j in 0..4 {
                isum = _mm512_dpbusd_epi32(isum, lo[j], bcast4(x.add(4 * j)));
                isum = _mm512_dpbusd_epi32(isum, hi[j], bcast4(x.add(16 + 4 * j)));
            }
            let blk = t * nb + b;
            if !MIN {
                // Q4_0 quants are nibbles minus 8: Σ (q − 8)·x = Σ q·x − 8·Σ x.
                isum = _mm512_sub_epi32(isum, _mm512_set1_epi32(8 * acts.sum[blk]));
            }
            let scale = _mm512_mul_ps(dw, _mm512_set1_ps(acts.d[blk]));
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), scale, acc[i]);
            if MIN {
                acc[i] = _mm512_fmadd_ps(mw, _mm512_set1_ps(acts.s[blk]), acc[i]);
            }
        }
    }
    for i in 0..NT {
        _mm512_storeu_ps(out[i].as_mut_ptr(), acc[i]);
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c")]
unsafe fn packed_q8<const NT: usize>(
    w: &[u8],
    acts: &Q8Acts,
    t0: usize,
    out: &mut [[f32; ROWS16]; PACKED_TILE],
) {
    let (k, nb) = (acts.k, acts.k / QK);
    let mut acc = [_mm512_setzero_ps(); NT];
    for b in 0..nb {
        let p = w.as_ptr().add(b * 544);
        let mut q = [_mm512_setzero_si512(); 8];
        for (j, q) in q.iter_mut().enumerate() {
            *q = _mm512_loadu_si512(p.add(64 * j) as *const _);
        }
        let dw = _mm512_cvtph_ps(_mm256_loadu_si256(p.add(512) as *const __m256i));
        for i in 0..NT {
            let t = t0 + i;
            let x = acts.qs.as_ptr().add(t * k + b * QK);
            let mut isum = _mm512_setzero_si512();
            for (j, q) in q.iter().enumerate() {
                isum = _mm512_dpbusd_epi32(isum, *q, bcast4(x.add(4 * j)));
            }
            // The quants were stored as q + 128: Σ q·x = Σ (q + 128)·x − 128·Σ x.
            let blk = t * nb + b;
            isum = _mm512_sub_epi32(isum, _mm512_set1_epi32(128 * acts.sum[blk]));
            let scale = _mm512_mul_ps(dw, _mm512_set1_ps(acts.d[blk]));
            acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), scale, acc[i]);
        }
    }
    for i in 0..NT {
        _mm512_storeu_ps(out[i].as_mut_ptr(), acc[i]);
    }
}

// Safe entry points: `int8_kernel` hands these out only after `available()`, and the
// caller checked every slice length against the matrix shape.
pub fn q4_1(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
    assert!(t0 + nt <= acts.qs.len() / acts.k && w.len() / 20 * QK == acts.k && nt <= TILE);
    unsafe { q4_1_impl(w, acts, t0, nt, out) }
}

pub fn q8_0(w: &[u8], acts: &Q8Acts, t0: usize, nt: usize, out: &mut [f32]) {
    assert!(t0 + nt <= acts.qs.len() / acts.k && w.len() / 34 * QK == acts.k && nt <= TILE);
    unsafe { q8_0_impl(w, acts, t0, nt, out) }
}

//! Plain Rust kernels: the reference, and the path on CPUs without AVX2 or NEON.

use super::*;

/// The kernel for `ty` (Q4_0, Q4_1 or Q8_0).
pub fn kernel(ty: GgmlType) -> Int8Kernel {
    match ty {
        GgmlType::Q4_0 => q4_0,
        GgmlType::Q4_1 => q4_1,
        _ => q8_0,
    }
}

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

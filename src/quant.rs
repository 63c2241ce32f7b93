//! ggml block formats: dequantizing weight rows and quantizing activations to 8 bits.
//!
//! Layouts follow ggml's (`ggml-common.h`): every block stores its scales as f16 followed by the
//! packed quants. Activations are quantized the way llama.cpp quantizes them before an integer
//! dot product (blocks of 32, scale `amax / 127`, round half to even), so that opensoc's logits
//! stay close to llama.cpp's on the same file.

use half::f16;

use crate::cpu_ops::{for_each_task, SharedMut, ROWS_PER_TASK};
use crate::gguf::GgmlType;

/// Elements in a Q4_0/Q4_1/Q8_0 block and in an activation block.
pub const QK: usize = 32;
/// Elements in a k-quant super-block.
pub const QK_K: usize = 256;

fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// Dequantizes one row of `out.len()` elements stored as `ty` in `src`.
///
/// `src` must hold exactly the row's bytes (`out.len() / block_elements * block_bytes`); the
/// model loader checks shapes before any row is read.
pub fn dequantize_row(ty: GgmlType, src: &[u8], out: &mut [f32]) {
    match ty {
        GgmlType::F32 => {
            for (o, c) in out.iter_mut().zip(src.chunks_exact(4)) {
                *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
        GgmlType::F16 => {
            for (o, c) in out.iter_mut().zip(src.chunks_exact(2)) {
                *o = f16::from_le_bytes([c[0], c[1]]).to_f32();
            }
        }
        GgmlType::BF16 => {
            for (o, c) in out.iter_mut().zip(src.chunks_exact(2)) {
                *o = half::bf16::from_le_bytes([c[0], c[1]]).to_f32();
            }
        }
        GgmlType::Q4_0 => {
            for (o, b) in out.chunks_exact_mut(QK).zip(src.chunks_exact(18)) {
                let d = f16_at(b, 0);
                for j in 0..16 {
                    o[j] = d * ((b[2 + j] & 0x0F) as i32 - 8) as f32;
                    o[j + 16] = d * ((b[2 + j] >> 4) as i32 - 8) as f32;
                }
            }
        }
        GgmlType::Q4_1 => {
            for (o, b) in out.chunks_exact_mut(QK).zip(src.chunks_exact(20)) {
                let (d, m) = (f16_at(b, 0), f16_at(b, 2));
                for j in 0..16 {
                    o[j] = d * (b[4 + j] & 0x0F) as f32 + m;
                    o[j + 16] = d * (b[4 + j] >> 4) as f32 + m;
                }
            }
        }
        GgmlType::Q8_0 => {
            for (o, b) in out.chunks_exact_mut(QK).zip(src.chunks_exact(34)) {
                let d = f16_at(b, 0);
                for j in 0..QK {
                    o[j] = d * b[2 + j] as i8 as f32;
                }
            }
        }
        GgmlType::Q4_K => {
            for (o, b) in out.chunks_exact_mut(QK_K).zip(src.chunks_exact(144)) {
                let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
                let scales = &b[4..16];
                let qs = &b[16..144];
                for j in 0..4 {
                    let (sc1, m1) = scale_min_k4(2 * j, scales);
                    let (sc2, m2) = scale_min_k4(2 * j + 1, scales);
                    let (d1, m1) = (d * sc1 as f32, dmin * m1 as f32);
                    let (d2, m2) = (d * sc2 as f32, dmin * m2 as f32);
                    let q = &qs[32 * j..32 * j + 32];
                    for l in 0..32 {
                        o[64 * j + l] = d1 * (q[l] & 0x0F) as f32 - m1;
                        o[64 * j + 32 + l] = d2 * (q[l] >> 4) as f32 - m2;
                    }
                }
            }
        }
        GgmlType::Q6_K => {
            for (o, b) in out.chunks_exact_mut(QK_K).zip(src.chunks_exact(210)) {
                let (ql, qh, sc) = (&b[0..128], &b[128..192], &b[192..208]);
                let d = f16_at(b, 208);
                for half in 0..2 {
                    let (ql, qh) = (&ql[64 * half..], &qh[32 * half..]);
                    let sc = &sc[8 * half..];
                    let o = &mut o[128 * half..];
                    for l in 0..32 {
                        let is = l / 16;
                        let q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) as i32 - 32;
                        let q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                        let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                        let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                        o[l] = d * (sc[is] as i8) as f32 * q1 as f32;
                        o[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
                        o[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
                        o[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
                    }
                }
            }
        }
        other => unreachable!("dequantize_row called for {other}, which the loader rejects"),
    }
}

/// The 6-bit scale and min of sub-block `j` in a Q4_K block's packed 12-byte scale table.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// Whether [`dequantize_row`] (and so the model) supports weights of type `ty`.
pub fn is_supported(ty: GgmlType) -> bool {
    matches!(
        ty,
        GgmlType::F32
            | GgmlType::F16
            | GgmlType::BF16
            | GgmlType::Q4_0
            | GgmlType::Q4_1
            | GgmlType::Q8_0
            | GgmlType::Q4_K
            | GgmlType::Q6_K
    )
}

/// Activations of `rows` vectors of length `k`, quantized to 8 bits in blocks of 32.
///
/// Per block: `d` is the scale (rounded through f16 as ggml stores it) and `s` is
/// `d * sum(q)` (likewise rounded), which Q4_1's offset term needs.
#[derive(Debug, Default, Clone)]
pub struct Q8Acts {
    /// Quantized values, `rows * k`.
    pub qs: Vec<i8>,
    /// Block scales, `rows * k / 32`.
    pub d: Vec<f32>,
    /// Block scale times the block's sum of quants, `rows * k / 32`.
    pub s: Vec<f32>,
    /// The integer sum of each block's quants, `rows * k / 32`.
    pub sum: Vec<i32>,
    /// Vector length.
    pub k: usize,
}

/// Quantizes one row: quants, and per block the scale, the scaled sum and the integer sum.
fn quantize_row(x: &[f32], qs: &mut [i8], d: &mut [f32], s: &mut [f32], sum: &mut [i32]) {
    for (b, xb) in x.chunks_exact(QK).enumerate() {
        // Eight running maxima with plain comparisons vectorise; `f32::max` (NaN-aware) does not.
        let mut lanes = [0f32; 8];
        for c in xb.chunks_exact(8) {
            for (m, &v) in lanes.iter_mut().zip(c) {
                let a = v.abs();
                *m = if a > *m { a } else { *m };
            }
        }
        let amax = lanes.iter().fold(0f32, |a, &m| if m > a { m } else { a });
        let db = amax / 127.0;
        let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
        // Adding and subtracting 1.5·2^23 rounds half to even, like the rounding instruction
        // llama.cpp uses, and keeps the loop free of calls so that it vectorises. A subnormal
        // block maximum makes `id` infinite; clamping keeps the quants in range (finite
        // products never leave ±127, so normal blocks are unchanged).
        const ROUND: f32 = 12_582_912.0;
        let mut qf = [0f32; QK];
        for (q, &v) in qf.iter_mut().zip(xb) {
            *q = ((v * id + ROUND) - ROUND).clamp(-127.0, 127.0);
        }
        let mut total = 0i32;
        for (qi, &q) in qs[b * QK..(b + 1) * QK].iter_mut().zip(&qf) {
            *qi = q as i8;
            total += q as i32;
        }
        d[b] = f16::from_f32(db).to_f32();
        s[b] = f16::from_f32(db * total as f32).to_f32();
        sum[b] = total;
    }
}

impl Q8Acts {
    /// Quantizes `x` (`rows * k` values, `k` a multiple of 32) into `self`, reusing its buffers.
    pub fn quantize(&mut self, x: &[f32], k: usize) {
        debug_assert_eq!(k % QK, 0);
        self.k = k;
        let (rows, nb) = (x.len() / k, k / QK);
        let blocks = rows * nb;
        self.qs.resize(x.len(), 0);
        self.d.resize(blocks, 0.0);
        self.s.resize(blocks, 0.0);
        self.sum.resize(blocks, 0);
        let qs = SharedMut::new(&mut self.qs);
        let (d, s, sum) = (
            SharedMut::new(&mut self.d),
            SharedMut::new(&mut self.s),
            SharedMut::new(&mut self.sum),
        );
        for_each_task(rows.div_ceil(ROWS_PER_TASK), |task| {
            for r in task * ROWS_PER_TASK..((task + 1) * ROWS_PER_TASK).min(rows) {
                // SAFETY: row r's quants and block values belong to this task alone.
                unsafe {
                    quantize_row(
                        &x[r * k..(r + 1) * k],
                        qs.slice(r * k, k),
                        d.slice(r * nb, nb),
                        s.slice(r * nb, nb),
                        sum.slice(r * nb, nb),
                    );
                }
            }
        });
    }

    /// The quants of row `r`.
    pub fn row(&self, r: usize) -> &[i8] {
        &self.qs[r * self.k..(r + 1) * self.k]
    }

    /// The block scales of row `r`.
    pub fn row_d(&self, r: usize) -> &[f32] {
        let n = self.k / QK;
        &self.d[r * n..(r + 1) * n]
    }

    /// The block sums of row `r`.
    pub fn row_s(&self, r: usize) -> &[f32] {
        let n = self.k / QK;
        &self.s[r * n..(r + 1) * n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnormal_block_does_not_overflow() {
        // Found by fuzzing gguf_load: a block whose largest value is subnormal overflowed the
        // quant sum (debug builds panicked, release builds produced wrapped quants).
        let mut x = [0f32; QK];
        x[0] = 1e-39;
        x[1] = -1e-39;
        let mut a = Q8Acts::default();
        a.quantize(&x, QK);
        assert_eq!(&a.qs[..3], &[127, -127, 0]);
    }

    #[test]
    fn q4_1_round_trip_layout() {
        // d = 1, m = -8: element j is (low nibble of byte j) - 8, element j+16 the high nibble.
        let mut b = Vec::new();
        b.extend_from_slice(&f16::from_f32(1.0).to_le_bytes());
        b.extend_from_slice(&f16::from_f32(-8.0).to_le_bytes());
        for j in 0..16u8 {
            b.push(j | ((15 - j) << 4));
        }
        let mut out = [0f32; 32];
        dequantize_row(GgmlType::Q4_1, &b, &mut out);
        for j in 0..16 {
            assert_eq!(out[j], j as f32 - 8.0);
            assert_eq!(out[j + 16], (15 - j) as f32 - 8.0);
        }
    }

    #[test]
    fn q8_activation_quantization_bounds() {
        let x: Vec<f32> = (0..64).map(|i| (i as f32 - 31.5) * 0.37).collect();
        let mut a = Q8Acts::default();
        a.quantize(&x, 64);
        for (i, &v) in x.iter().enumerate() {
            let back = a.qs[i] as f32 * a.d[i / 32];
            assert!(
                (back - v).abs() <= a.d[i / 32] * 0.51 + 1e-3,
                "{i}: {v} vs {back}"
            );
        }
        assert!(a.qs.iter().any(|&q| q == 127 || q == -127));
    }
}

/// Appends `x` (a multiple of 32 values) as Q8_0 blocks: per block an f16 scale
/// `d = max|x| / 127` and 32 values `round(x / d)`, as ggml's reference quantizer does.
pub fn quantize_row_q8_0(x: &[f32], out: &mut Vec<u8>) {
    assert!(x.len().is_multiple_of(32), "Q8_0 rows hold whole blocks of 32");
    for block in x.chunks_exact(32) {
        let amax = block.iter().fold(0f32, |m, &v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
        out.extend(block.iter().map(|&v| (v * id).round() as i8 as u8));
    }
}

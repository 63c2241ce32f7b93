//! ggml block formats: dequantizing weight rows, quantizing weight rows (for export) and
//! quantizing activations to 8 bits.
//!
//! Layouts follow ggml's (`ggml-common.h`): every block stores its scales as f16 followed by the
//! packed quants. Activations are quantized the way llama.cpp quantizes them before an integer
//! dot product (blocks of 32, scale `amax / 127`, round half to even), so that opensoc's logits
//! stay close to llama.cpp's on the same file.

use half::f16;

use crate::cpu::ops::{for_each_task, SharedMut, ROWS_PER_TASK};
use crate::gguf::read::GgmlType;

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

/// Why a row could not be quantized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantizeError {
    /// opensoc has no quantizer for this type.
    #[error("opensoc cannot quantize to {0} (it can to F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K)")]
    Unsupported(GgmlType),
    /// The row is not a whole number of the type's blocks.
    #[error("a row of {len} values is not a whole number of {ty} blocks of {block}")]
    NotBlockAligned {
        /// Target type.
        ty: GgmlType,
        /// Row length.
        len: usize,
        /// Elements per block of `ty`.
        block: usize,
    },
}

/// Whether [`quantize_row_into`] can produce type `ty`.
pub fn can_quantize(ty: GgmlType) -> bool {
    matches!(
        ty,
        GgmlType::F32
            | GgmlType::F16
            | GgmlType::BF16
            | GgmlType::Q8_0
            | GgmlType::Q4_0
            | GgmlType::Q4_1
            | GgmlType::Q4_K
    )
}

/// Encodes the row `x` as `ty` blocks appended to `out`, bit for bit as ggml's reference
/// quantizers (`quantize_row_*_ref` in `ggml-quants.c`, which `llama-quantize` uses without an
/// importance matrix) encode it, so that an exported file matches one llama.cpp would write.
pub fn quantize_row_into(ty: GgmlType, x: &[f32], out: &mut Vec<u8>) -> Result<(), QuantizeError> {
    if !can_quantize(ty) {
        return Err(QuantizeError::Unsupported(ty));
    }
    let block = ty.block_elements() as usize;
    if !x.len().is_multiple_of(block) {
        return Err(QuantizeError::NotBlockAligned {
            ty,
            len: x.len(),
            block,
        });
    }
    out.reserve(x.len() / block * ty.block_bytes() as usize);
    match ty {
        GgmlType::F32 => x
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        // Round to nearest, ties to even, as ggml's conversions do.
        GgmlType::F16 => x
            .iter()
            .for_each(|&v| out.extend_from_slice(&f16::from_f32(v).to_le_bytes())),
        GgmlType::BF16 => x
            .iter()
            .for_each(|&v| out.extend_from_slice(&half::bf16::from_f32(v).to_le_bytes())),
        GgmlType::Q8_0 => x.chunks_exact(QK).for_each(|b| quantize_block_q8_0(b, out)),
        GgmlType::Q4_0 => x.chunks_exact(QK).for_each(|b| quantize_block_q4_0(b, out)),
        GgmlType::Q4_1 => x.chunks_exact(QK).for_each(|b| quantize_block_q4_1(b, out)),
        GgmlType::Q4_K => x
            .chunks_exact(QK_K)
            .for_each(|b| quantize_block_q4_k(b, out)),
        _ => unreachable!("can_quantize admitted {ty}"),
    }
    Ok(())
}

/// Q8_0: scale `amax / 127`, quants rounded half away from zero.
fn quantize_block_q8_0(x: &[f32], out: &mut Vec<u8>) {
    let amax = x
        .iter()
        .fold(0f32, |m, v| if v.abs() > m { v.abs() } else { m });
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    // The quants use the f32 scale, not the stored f16 one, as ggml's do.
    out.extend(x.iter().map(|&v| (v * id).round() as i8 as u8));
}

/// Q4_0: the scale is the value of largest magnitude over -8 (sign included, the first such
/// value on ties), so that value lands exactly on quant 0; quants truncate `x/d + 8.5`.
fn quantize_block_q4_0(x: &[f32], out: &mut Vec<u8>) {
    let (mut amax, mut max) = (0f32, 0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    let q = |v: f32| ((v * id + 8.5) as i8).clamp(0, 15) as u8;
    let (lo, hi) = x.split_at(QK / 2);
    out.extend(lo.iter().zip(hi).map(|(&a, &b)| q(a) | (q(b) << 4)));
}

/// Q4_1: scale `(max - min) / 15` and offset `min`; quants truncate `(x - min)/d + 0.5`.
fn quantize_block_q4_1(x: &[f32], out: &mut Vec<u8>) {
    let (mut min, mut max) = (f32::MAX, -f32::MAX);
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    let d = (max - min) / 15.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    out.extend_from_slice(&f16::from_f32(min).to_le_bytes());
    let q = |v: f32| (((v - min) * id + 0.5) as i8).clamp(0, 15) as u8;
    let (lo, hi) = x.split_at(QK / 2);
    out.extend(lo.iter().zip(hi).map(|(&a, &b)| q(a) | (q(b) << 4)));
}

/// ggml's `nearest_int`: round half to even (its magic-number trick, valid below 2^22).
fn nearest_int(v: f32) -> i32 {
    v.round_ties_even() as i32
}

/// Q4_K: eight sub-blocks of 32, each with a 6-bit scale and min found by ggml's weighted
/// search (`make_qkx2_quants`), the scales and mins themselves quantized against two f16
/// super-block factors.
fn quantize_block_q4_k(x: &[f32], out: &mut Vec<u8>) {
    let mut levels = [0u8; QK_K];
    let mut scales = [0f32; QK_K / 32];
    let mut mins = [0f32; QK_K / 32];
    let (mut max_scale, mut max_min) = (0f32, 0f32);
    for (j, sub) in x.chunks_exact(32).enumerate() {
        let mut sum_x2 = 0f32;
        for &v in sub {
            sum_x2 += v * v;
        }
        let av_x = (sum_x2 / 32.0).sqrt();
        let weights: [f32; 32] = std::array::from_fn(|l| av_x + sub[l].abs());
        let l = (&mut levels[32 * j..32 * j + 32])
            .try_into()
            .expect("32 levels");
        let (scale, min) = make_qkx2_quants(sub, &weights, l, -1.0, 0.1, 20);
        scales[j] = scale;
        mins[j] = min;
        if scale > max_scale {
            max_scale = scale;
        }
        if min > max_min {
            max_min = min;
        }
    }
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let mut packed = [0u8; 12];
    for j in 0..QK_K / 32 {
        // `as u8` wraps like ggml's assignment to uint8_t before its clamp to 63.
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
        if j < 4 {
            packed[j] = ls;
            packed[j + 4] = lm;
        } else {
            packed[j + 4] = (ls & 0x0F) | ((lm & 0x0F) << 4);
            packed[j - 4] |= (ls >> 4) << 6;
            packed[j] |= (lm >> 4) << 6;
        }
    }
    let d = f16::from_f32(max_scale / 63.0);
    let dmin = f16::from_f32(max_min / 63.0);
    // The final quants are chosen against the scales as stored (6-bit times f16), which is what
    // the dequantizer will multiply by.
    for j in 0..QK_K / 32 {
        let (sc, m) = scale_min_k4(j, &packed);
        let dj = d.to_f32() * sc as f32;
        if dj == 0.0 {
            continue;
        }
        let dm = dmin.to_f32() * m as f32;
        for i in 32 * j..32 * j + 32 {
            levels[i] = nearest_int((x[i] + dm) / dj).clamp(0, 15) as u8;
        }
    }
    out.extend_from_slice(&d.to_le_bytes());
    out.extend_from_slice(&dmin.to_le_bytes());
    out.extend_from_slice(&packed);
    for chunk in levels.chunks_exact(64) {
        out.extend((0..32).map(|l| chunk[l] | (chunk[l + 32] << 4)));
    }
}

/// ggml's `make_qkx2_quants` for 4 bits (`nmax` 15, squared error): levels `l` in 0..=15 and
/// `(scale, min)` such that `scale·l - min` approximates `x` under `weights`. It starts from the
/// plain min/max grid, then tries `nstep + 1` nearby grids and keeps the least-squares fit with
/// the smallest weighted error. Returns `(scale, -min)`, the min as a non-negative offset.
fn make_qkx2_quants(
    x: &[f32],
    weights: &[f32; 32],
    l: &mut [u8; 32],
    rmin: f32,
    rdelta: f32,
    nstep: i32,
) -> (f32, f32) {
    const NMAX: i32 = 15;
    let (mut min, mut max) = (x[0], x[0]);
    let mut sum_w = weights[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..x.len() {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        l.fill(0);
        return (0.0, -min);
    }
    let mut iscale = NMAX as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0f32;
    for i in 0..x.len() {
        let q = nearest_int(iscale * (x[i] - min)).clamp(0, NMAX);
        l[i] = q as u8;
        let diff = scale * q as f32 + min - x[i];
        best_error += weights[i] * (diff * diff);
    }
    let mut laux = [0u8; 32];
    for is in 0..=nstep {
        iscale = (rmin + rdelta * is as f32 + NMAX as f32) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0f32, 0f32, 0f32);
        for i in 0..x.len() {
            let q = nearest_int(iscale * (x[i] - min)).clamp(0, NMAX);
            laux[i] = q as u8;
            let (w, q) = (weights[i], q as f32);
            sum_l += w * q;
            sum_l2 += w * q * q;
            sum_xl += w * q * x[i];
        }
        let det = sum_w * sum_l2 - sum_l * sum_l;
        if det > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0f32;
            for i in 0..x.len() {
                let diff = this_scale * laux[i] as f32 + this_min - x[i];
                cur_error += weights[i] * (diff * diff);
            }
            if cur_error < best_error {
                *l = laux;
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
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
        // Adding 1.5·2^23 rounds half to even, like the rounding instruction
        // llama.cpp uses, and keeps the loop free of calls so that it vectorises. A subnormal
        // block maximum makes `id` infinite; clamping keeps the quants in range (finite
        // products never leave ±127, so normal blocks are unchanged).
        //
        // The sum's float lies in [2^23, 2^24), where one step of the mantissa is 1, so its
        // bits less ROUND's are the rounded integer: read that way, the conversion to an
        // integer is plain integer arithmetic and vectorises (a float-to-int cast saturates and
        // maps NaN to 0, which the compiler does one lane at a time). The NaN test gives a
        // NaN product (an infinite value in the block) the 0 that cast gave it.
        const ROUND: f32 = 12_582_912.0;
        const ROUND_BITS: i32 = 0x4B40_0000;
        let mut qi = [0i32; QK];
        for (q, &v) in qi.iter_mut().zip(xb) {
            let f = v * id + ROUND;
            let n = (f.to_bits() as i32)
                .wrapping_sub(ROUND_BITS)
                .clamp(-127, 127);
            *q = if f.is_nan() { 0 } else { n };
        }
        let mut total = 0i32;
        for (out, &q) in qs[b * QK..(b + 1) * QK].iter_mut().zip(&qi) {
            *out = q as i8;
            total += q;
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

    fn quantize(ty: GgmlType, x: &[f32]) -> Vec<u8> {
        let mut out = Vec::new();
        quantize_row_into(ty, x, &mut out).unwrap();
        assert_eq!(
            out.len() as u64,
            x.len() as u64 / ty.block_elements() * ty.block_bytes()
        );
        out
    }

    fn round_trip(ty: GgmlType, x: &[f32]) -> Vec<f32> {
        let mut y = vec![0f32; x.len()];
        dequantize_row(ty, &quantize(ty, x), &mut y);
        y
    }

    /// Rows from the reference fixture, as f32.
    fn fixture() -> (Vec<Vec<f32>>, serde_json::Value) {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/quant_reference.json"))
                .unwrap();
        let rows = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|b| f32::from_bits(b.as_u64().unwrap() as u32))
                    .collect()
            })
            .collect();
        (rows, v)
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn quantizers_match_ggml_reference_bit_for_bit() {
        // tests/fixtures/quant_reference.json is ggml-quants.c's own output
        // (scripts/quant-reference.sh): ten rows of 256, from all-zero and constant rows to
        // outliers and blocks of very different magnitude.
        let (rows, v) = fixture();
        assert_eq!(rows.len(), 10);
        for (key, ty) in [
            ("q8_0", GgmlType::Q8_0),
            ("q4_0", GgmlType::Q4_0),
            ("q4_1", GgmlType::Q4_1),
            ("q4_k", GgmlType::Q4_K),
        ] {
            for (r, x) in rows.iter().enumerate() {
                let want = v[key][r].as_str().unwrap();
                assert_eq!(hex(&quantize(ty, x)), want, "{key} row {r}");
            }
        }
    }

    /// A block of 32 zeros with `vals` at the given positions.
    fn block(vals: &[(usize, f32)]) -> Vec<f32> {
        let mut x = vec![0f32; QK];
        for &(i, v) in vals {
            x[i] = v;
        }
        x
    }

    /// Packs 32 4-bit quants as ggml does: element j in the low nibble of byte j, element
    /// j + 16 in its high nibble.
    fn nibbles(q: &[u8; 32]) -> Vec<u8> {
        (0..16).map(|j| q[j] | (q[j + 16] << 4)).collect()
    }

    #[test]
    fn q8_0_hand_computed_block() {
        // amax 127 gives d = 1 exactly: the quants are the values rounded half away from zero.
        let x = block(&[
            (0, 127.0),
            (1, -127.0),
            (2, 0.5),
            (3, -0.5),
            (4, 2.5),
            (5, 1.49),
            (6, -3.5),
        ]);
        let b = quantize(GgmlType::Q8_0, &x);
        assert_eq!(&b[..2], &[0x00, 0x3C], "d = 1.0 as f16");
        let q: Vec<i8> = b[2..].iter().map(|&v| v as i8).collect();
        assert_eq!(&q[..8], &[127, -127, 1, -1, 3, 1, -4, 0]);
        assert!(q[8..].iter().all(|&v| v == 0));
        // All zeros: scale 0, quants 0.
        assert_eq!(quantize(GgmlType::Q8_0, &[0.0; 32]), vec![0u8; 34]);
    }

    #[test]
    fn q4_0_hand_computed_blocks() {
        // The largest magnitude is -8, so d = -8 / -8 = 1 and q = trunc(x + 8.5), at most 15.
        let x = block(&[
            (0, -8.0),
            (1, 7.0),
            (2, 7.6),
            (3, -0.5),
            (4, 0.49),
            (5, -3.2),
        ]);
        let b = quantize(GgmlType::Q4_0, &x);
        assert_eq!(&b[..2], &[0x00, 0x3C]);
        let mut q = [8u8; 32];
        q[..6].copy_from_slice(&[0, 15, 15, 8, 8, 5]);
        assert_eq!(&b[2..], &nibbles(&q)[..]);
        // The largest magnitude is +8: d = -1, so +8 maps to 0 and -8 would be 16, clamped.
        let x = block(&[(0, 8.0), (1, -7.0), (17, -8.0), (18, 2.0)]);
        let b = quantize(GgmlType::Q4_0, &x);
        assert_eq!(&b[..2], &[0x00, 0xBC], "d = -1.0 as f16");
        let mut q = [8u8; 32];
        q[0] = 0;
        q[1] = 15;
        q[17] = 15;
        q[18] = 6;
        assert_eq!(&b[2..], &nibbles(&q)[..]);
    }

    #[test]
    fn q4_1_hand_computed_block() {
        // min -1, max 14: d = 1, m = -1, q = trunc(x + 1 + 0.5).
        let x = block(&[(0, -1.0), (1, 14.0), (2, 0.5), (3, 2.49), (20, 13.5)]);
        let b = quantize(GgmlType::Q4_1, &x);
        assert_eq!(&b[..4], &[0x00, 0x3C, 0x00, 0xBC], "d = 1, m = -1 as f16");
        let mut q = [1u8; 32];
        q[..4].copy_from_slice(&[0, 15, 2, 3]);
        q[20] = 15;
        assert_eq!(&b[4..], &nibbles(&q)[..]);
    }

    /// The most f16 rounding can move `v`: half a unit in the last place, 2^-11 relative for
    /// normals, 2^-25 absolute below 2^-14.
    fn f16_rounding(v: f32) -> f32 {
        (v.abs() * 2f32.powi(-11)).max(2f32.powi(-25))
    }

    #[test]
    fn round_trip_error_bounds() {
        let (rows, _) = fixture();
        for x in &rows {
            // f16 and bf16: relative rounding of 2^-11 and 2^-8, and for f16 below its smallest
            // normal (2^-14) half its subnormal spacing, 2^-25.
            for (ty, rel, abs) in [
                (GgmlType::F16, 2f32.powi(-11), 2f32.powi(-25)),
                (GgmlType::BF16, 2f32.powi(-8), 0.0),
            ] {
                for (a, b) in x.iter().zip(round_trip(ty, x)) {
                    let bound = (a.abs() * rel).max(abs);
                    assert!((a - b).abs() <= bound, "{ty}: {a} -> {b}");
                }
            }
            assert_eq!(round_trip(GgmlType::F32, x), *x);
            for (bi, (xb, yb)) in x
                .chunks(QK)
                .zip(round_trip(GgmlType::Q8_0, x).chunks(QK))
                .enumerate()
            {
                let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
                // Half a step of d = amax/127, plus the f16 rounding of d times |q| <= 127.
                let d = amax / 127.0;
                let bound = d * 0.5 + 127.0 * f16_rounding(d);
                for (a, b) in xb.iter().zip(yb) {
                    assert!((a - b).abs() <= bound, "Q8_0 block {bi}: {a} -> {b}");
                }
            }
            for (xb, yb) in x.chunks(QK).zip(round_trip(GgmlType::Q4_0, x).chunks(QK)) {
                let amax = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
                // A whole step of |d| = amax/8: the value of opposite sign to the maximum at
                // -max lands on 16 and is clamped to 15; others are within half a step.
                let d = amax / 8.0;
                let bound = d + 16.0 * f16_rounding(d);
                for (a, b) in xb.iter().zip(yb) {
                    assert!((a - b).abs() <= bound, "Q4_0: {a} -> {b}");
                }
            }
            for (xb, yb) in x.chunks(QK).zip(round_trip(GgmlType::Q4_1, x).chunks(QK)) {
                let min = xb.iter().fold(f32::MAX, |m, &v| m.min(v));
                let max = xb.iter().fold(f32::MIN, |m, &v| m.max(v));
                let d = (max - min) / 15.0;
                // Half a step, plus the f16 rounding of d (times q <= 15) and of min.
                let bound = d * 0.5 + 15.0 * f16_rounding(d) + f16_rounding(min);
                for (a, b) in xb.iter().zip(yb) {
                    assert!((a - b).abs() <= bound, "Q4_1: {a} -> {b}");
                }
            }
        }
        // Q4_K on rows whose sub-blocks share one scale of magnitude (rows 0, 1, 4, 8): within
        // one step of the super-block's range over 15. Rows mixing magnitudes lose their small
        // sub-blocks to the 6-bit sub-block scales, by design of the format.
        for r in [0, 1, 4, 8] {
            let x = &rows[r];
            let lo = x.iter().fold(0f32, |m, &v| m.min(v));
            let hi = x.iter().fold(f32::MIN, |m, &v| m.max(v));
            let step = (hi - lo) / 15.0;
            for (a, b) in x.iter().zip(round_trip(GgmlType::Q4_K, x)) {
                assert!((a - b).abs() <= step, "Q4_K row {r}: {a} -> {b}");
            }
        }
    }

    #[test]
    fn quantize_errors() {
        let mut out = Vec::new();
        assert_eq!(
            quantize_row_into(GgmlType::Q6_K, &[0.0; 256], &mut out),
            Err(QuantizeError::Unsupported(GgmlType::Q6_K))
        );
        let err = quantize_row_into(GgmlType::Q4_K, &[0.0; 576], &mut out).unwrap_err();
        assert!(err.to_string().contains("576"), "{err}");
        assert!(out.is_empty());
    }

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
    fn q8_activations_round_as_a_float_to_int_cast_does() {
        // The reference: the rounded float, clamped and cast, one value at a time.
        let reference = |x: &[f32]| -> Vec<i8> {
            x.chunks_exact(QK)
                .flat_map(|b| {
                    let amax = b
                        .iter()
                        .fold(0f32, |m, v| if v.abs() > m { v.abs() } else { m });
                    let id = if amax != 0.0 { 127.0 / amax } else { 0.0 };
                    b.iter()
                        .map(move |&v| {
                            ((v * id + 12_582_912.0) - 12_582_912.0).clamp(-127.0, 127.0) as i8
                        })
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            (seed >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        };
        let mut x: Vec<f32> = (0..QK * 64).map(|_| next() * 3.0).collect();
        // Ties: a block whose maximum is 127, so that v·id = v and halves round to even.
        for (j, v) in x[..QK].iter_mut().enumerate() {
            *v = if j == 0 { 127.0 } else { j as f32 - 15.5 };
        }
        // Blocks with an infinity and with a NaN: the cast's 0s and saturation.
        x[QK] = f32::INFINITY;
        x[2 * QK + 3] = f32::NAN;
        x[3 * QK..4 * QK].fill(0.0);
        let mut a = Q8Acts::default();
        a.quantize(&x, QK);
        assert_eq!(a.qs, reference(&x));
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

// Reading GGUF weight blocks in place: the tensor's raw bytes sit in `w` as little-endian
// u32 words (padded to a word), and these helpers pick bytes, f16 scales and whole blocks out
// of them. Q4_0 (18-byte) and Q8_0 (34-byte) blocks are only 2-byte aligned, so word reads
// take an even byte offset and may straddle two words.

@group(0) @binding(1) var<storage, read> w: array<u32>;

const F32: u32 = 0u;
const F16: u32 = 1u;
const Q4_0: u32 = 2u;
const Q4_1: u32 = 3u;
const Q8_0: u32 = 8u;
const Q4_K: u32 = 12u;
const Q6_K: u32 = 14u;
const BF16: u32 = 30u;

fn byte_at(off: u32) -> u32 {
    return (w[off >> 2u] >> ((off & 3u) * 8u)) & 0xFFu;
}

// The 16-bit value at even byte offset `off`.
fn u16_at(off: u32) -> u32 {
    let word = w[off >> 2u];
    return select(word & 0xFFFFu, word >> 16u, (off & 2u) != 0u);
}

// The 32-bit value at even byte offset `off`.
fn u32_at(off: u32) -> u32 {
    let i = off >> 2u;
    if (off & 2u) == 0u {
        return w[i];
    }
    return (w[i] >> 16u) | (w[i + 1u] << 16u);
}

fn f16_at(off: u32) -> f32 {
    return unpack2x16float(u16_at(off)).x;
}

// Sign-extends the byte `b` (0..255).
fn i8_of(b: u32) -> i32 {
    return i32(b << 24u) >> 24;
}

// The 6-bit scale (x) and min (y) of sub-block `j` of a Q4_K block whose 12-byte scale table
// starts at byte `s`.
fn scale_min_k4(j: u32, s: u32) -> vec2<u32> {
    if j < 4u {
        return vec2<u32>(byte_at(s + j) & 63u, byte_at(s + j + 4u) & 63u);
    }
    let sc = (byte_at(s + j + 4u) & 15u) | ((byte_at(s + j - 4u) >> 6u) << 4u);
    let m = (byte_at(s + j + 4u) >> 4u) | ((byte_at(s + j) >> 6u) << 4u);
    return vec2<u32>(sc, m);
}

// Element `i` of the row that starts at byte `row` in a tensor of type `ty`, computed as
// quant.rs `dequantize_row` computes it.
fn dequant(ty: u32, row: u32, i: u32) -> f32 {
    switch ty {
        case 0u: {
            return bitcast<f32>(w[(row >> 2u) + i]);
        }
        case 1u: {
            return f16_at(row + 2u * i);
        }
        case 30u: {
            return bitcast<f32>(u16_at(row + 2u * i) << 16u);
        }
        case 2u: {
            let b = row + (i / 32u) * 18u;
            let j = i % 32u;
            let q = byte_at(b + 2u + (j % 16u));
            let nib = select(q & 15u, q >> 4u, j >= 16u);
            return f16_at(b) * f32(i32(nib) - 8);
        }
        case 3u: {
            let b = row + (i / 32u) * 20u;
            let j = i % 32u;
            let q = byte_at(b + 4u + (j % 16u));
            let nib = select(q & 15u, q >> 4u, j >= 16u);
            return f16_at(b) * f32(nib) + f16_at(b + 2u);
        }
        case 8u: {
            let b = row + (i / 32u) * 34u;
            return f16_at(b) * f32(i8_of(byte_at(b + 2u + i % 32u)));
        }
        case 12u: {
            let b = row + (i / 256u) * 144u;
            let e = i % 256u;
            let j = e / 64u;
            let l = e % 32u;
            let upper = (e % 64u) >= 32u;
            let sm = scale_min_k4(2u * j + select(0u, 1u, upper), b + 4u);
            let q = byte_at(b + 16u + 32u * j + l);
            let nib = select(q & 15u, q >> 4u, upper);
            return (f16_at(b) * f32(sm.x)) * f32(nib) - f16_at(b + 2u) * f32(sm.y);
        }
        case 14u: {
            let b = row + (i / 256u) * 210u;
            let e = i % 256u;
            let half = e / 128u;
            let r = e % 128u;
            let quarter = r / 32u;
            let l = r % 32u;
            let ql = byte_at(b + 64u * half + l + select(0u, 32u, quarter % 2u == 1u));
            let low = select(ql & 15u, ql >> 4u, quarter >= 2u);
            let qh = (byte_at(b + 128u + 32u * half + l) >> (2u * quarter)) & 3u;
            let q = i32(low | (qh << 4u)) - 32;
            let sc = i8_of(byte_at(b + 192u + 8u * half + l / 16u + 2u * quarter));
            return (f16_at(b + 208u) * f32(sc)) * f32(q);
        }
        default: {
            return 0.0;
        }
    }
}

// y[t][r] = Σ over blocks of (weight row r) · (activation row t), for Q4_0, Q4_1 and Q8_0
// weights against 8-bit activations: an integer dot product per block of 32, scaled as
// qmatmul.rs's portable kernel scales it (d_w · d_x · Σ q_w·q_x + m_w · s_x), blocks in order.
// One thread per weight row and tile of TILE tokens: a block's quants are unpacked once and
// used for every token of the tile.

struct Params {
    n: u32,
    k: u32,
    m: u32,
    ty: u32,
    row_bytes: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> xq: array<u32>;
@group(0) @binding(3) var<storage, read> xd: array<f32>;
@group(0) @binding(4) var<storage, read> xs: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

const TILE: u32 = 4u;

// Four 4-bit quants (one nibble of each byte of `q`, minus `offset`) as packed signed bytes.
fn nibbles(q: u32, shift: u32, offset: u32) -> u32 {
    let n = (q >> shift) & 0x0F0F0F0Fu;
    // Subtracting per byte: each nibble is < 16, so (n | 0x80) - offset never borrows across
    // bytes; the high bit then comes back off.
    return ((n | 0x80808080u) - offset * 0x01010101u) ^ 0x80808080u;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    let t0 = gid.y * TILE;
    if r >= p.n || t0 >= p.m {
        return;
    }
    let nt = min(TILE, p.m - t0);
    let nb = p.k / 32u;
    let q41 = p.ty == 3u;
    var acc = array<f32, TILE>();
    // The block's 32 quants as signed bytes, in the activations' order (quant 4i + c is byte
    // c of word i).
    var wq = array<u32, 8>();
    for (var b = 0u; b < nb; b++) {
        var dw = 0.0;
        var mw = 0.0;
        if p.ty == 8u {
            let base = r * p.row_bytes + b * 34u;
            dw = f16_at(base);
            for (var i = 0u; i < 8u; i++) {
                wq[i] = u32_at(base + 2u + 4u * i);
            }
        } else {
            // Q4_0 (offset 8) and Q4_1 (a min instead): byte j holds quants j and j + 16.
            let base = r * p.row_bytes + b * select(18u, 20u, q41);
            let qoff = base + select(2u, 4u, q41);
            let offset = select(8u, 0u, q41);
            dw = f16_at(base);
            if q41 {
                mw = f16_at(base + 2u);
            }
            for (var i = 0u; i < 4u; i++) {
                let q = u32_at(qoff + 4u * i);
                wq[i] = nibbles(q, 0u, offset);
                wq[4u + i] = nibbles(q, 4u, offset);
            }
        }
        for (var j = 0u; j < nt; j++) {
            let xb = (t0 + j) * nb + b;
            var sumi = 0;
            for (var i = 0u; i < 8u; i++) {
                sumi += dot4I8Packed(wq[i], xq[xb * 8u + i]);
            }
            acc[j] += dw * xd[xb] * f32(sumi) + mw * xs[xb];
        }
    }
    for (var j = 0u; j < nt; j++) {
        y[(t0 + j) * p.n + r] = acc[j];
    }
}

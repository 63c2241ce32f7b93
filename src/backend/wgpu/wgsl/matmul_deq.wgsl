// y[t][r] = Σ_i dequant(weight row r)[i] · x[t][i] in f32, for the weight types without an
// 8-bit product (F32, F16, BF16, Q4_K, Q6_K), as qmatmul.rs does for them. One thread per
// weight row and tile of TILE tokens: each weight is dequantized once for the whole tile.

struct Params {
    n: u32,
    k: u32,
    m: u32,
    ty: u32,
    row_bytes: u32,
    // Index in `x` of row 0.
    x_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const TILE: u32 = 4u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    let t0 = gid.y * TILE;
    if r >= p.n || t0 >= p.m {
        return;
    }
    let nt = min(TILE, p.m - t0);
    let row = r * p.row_bytes;
    var acc = array<f32, TILE>();
    for (var i = 0u; i < p.k; i++) {
        let wi = dequant(p.ty, row, i);
        for (var j = 0u; j < nt; j++) {
            acc[j] += wi * x[p.x_off + (t0 + j) * p.k + i];
        }
    }
    for (var j = 0u; j < nt; j++) {
        y[(t0 + j) * p.n + r] = acc[j];
    }
}

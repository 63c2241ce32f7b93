// RoPE on adjacent pairs (ggml's normal mode), in place: row t of x (heads × head_dim) sits
// at position pos + t and each pair j of each head turns by the table's angle for (pos + t, j).

struct Params {
    rows: u32,
    heads: u32,
    head_dim: u32,
    pos: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cos_table: array<f32>;
@group(0) @binding(2) var<storage, read> sin_table: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let half = p.head_dim / 2u;
    let pair = flat_index(wid, nwg, lid);
    let pairs_per_row = p.heads * half;
    if pair >= p.rows * pairs_per_row {
        return;
    }
    let t = pair / pairs_per_row;
    let j = pair % half;
    let c = cos_table[(p.pos + t) * half + j];
    let s = sin_table[(p.pos + t) * half + j];
    let i = 2u * pair;
    let x0 = x[i];
    let x1 = x[i + 1u];
    x[i] = x0 * c - x1 * s;
    x[i + 1u] = x0 * s + x1 * c;
}

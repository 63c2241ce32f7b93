// Embedding lookup: row `tokens[t]` of the quantized table, dequantized into x[t].

struct Params {
    ty: u32,
    row_bytes: u32,
    d: u32,
    rows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> tokens: array<u32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if i >= p.rows * p.d {
        return;
    }
    let t = i / p.d;
    x[i] = dequant(p.ty, tokens[t] * p.row_bytes, i % p.d);
}

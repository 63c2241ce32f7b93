// Appends t rows of keys and values (rotated) to one block's cache at position pos, rounded
// through f16 as the CPU path stores them.

struct Params {
    len: u32,
    // Index in the cache of the first value written (pos · kv_dim).
    at: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> k: array<f32>;
@group(0) @binding(2) var<storage, read> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(4) var<storage, read_write> v_cache: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if i < p.len {
        k_cache[p.at + i] = f16_round(k[i]);
        v_cache[p.at + i] = f16_round(v[i]);
    }
}

// Elementwise steps of a block: SwiGLU (gate ← silu(gate) · up) and the residual add.

struct Params {
    len: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> other: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;

// x ← silu(x) · other
@compute @workgroup_size(256)
fn swiglu(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if i < p.len {
        let g = x[i];
        x[i] = g / (1.0 + fast_exp(-g)) * other[i];
    }
}

// x ← x + other
@compute @workgroup_size(256)
fn add(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
       @builtin(local_invocation_index) lid: u32) {
    let i = flat_index(wid, nwg, lid);
    if i < p.len {
        x[i] += other[i];
    }
}

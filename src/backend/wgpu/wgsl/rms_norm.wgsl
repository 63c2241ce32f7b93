// RMSNorm of rows row0.. of x into the same rows of `out`: x · (1/√(mean(x²) + eps)) · w.
// One workgroup per row; the sum of squares is a tree reduction in f32 (the CPU sums in f64).

struct Params {
    d: u32,
    row0: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let base = (p.row0 + wid.x) * p.d;
    var s = 0.0;
    for (var i = lid; i < p.d; i += 256u) {
        let v = x[base + i];
        s += v * v;
    }
    partial[lid] = s;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        if lid < stride {
            partial[lid] += partial[lid + stride];
        }
        workgroupBarrier();
    }
    let scale = 1.0 / sqrt(partial[0] / f32(p.d) + p.eps);
    for (var i = lid; i < p.d; i += 256u) {
        out[base + i] = (x[base + i] * scale) * weight[i];
    }
}

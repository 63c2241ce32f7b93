// y[t][r] (=, or += when `accumulate`) alpha · Σ_i a[r][i] · x[t][i], a dense f32: the two
// products of an unmerged LoRA delta (scale · A·x, then B·(that) added to the projection).

struct Params {
    n: u32,
    k: u32,
    m: u32,
    accumulate: u32,
    alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    let t = gid.y;
    if r >= p.n || t >= p.m {
        return;
    }
    var acc = 0.0;
    for (var i = 0u; i < p.k; i++) {
        acc += a[r * p.k + i] * x[t * p.k + i];
    }
    let o = t * p.n + r;
    if p.accumulate != 0u {
        y[o] += p.alpha * acc;
    } else {
        y[o] = p.alpha * acc;
    }
}

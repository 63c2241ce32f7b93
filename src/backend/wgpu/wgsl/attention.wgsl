// Causal grouped-query attention for t queries over a block's cache, as attention.rs does it:
// query rounded through f16, scores scale · q·k, softmax with the maximum subtracted, the
// probabilities normalised then rounded through f16, and their product with the values.
// One workgroup of 64 threads per (query, head); three sweeps over the keys (maximum, sum,
// then probabilities and values in chunks of 64) so that no score array is needed.

struct Params {
    n_head: u32,
    n_head_kv: u32,
    head_dim: u32,
    // Position of query 0.
    pos: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k_cache: array<f32>;
@group(0) @binding(3) var<storage, read> v_cache: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const WG: u32 = 64u;
// The largest head size supported (checked when the model loads).
const MAX_HEAD: u32 = 256u;

var<workgroup> qv: array<f32, MAX_HEAD>;
var<workgroup> probs: array<f32, WG>;
var<workgroup> red: array<f32, WG>;

fn score(j: u32, kv_off: u32, kv_dim: u32) -> f32 {
    var s = 0.0;
    let kb = j * kv_dim + kv_off;
    for (var i = 0u; i < p.head_dim; i++) {
        s += qv[i] * k_cache[kb + i];
    }
    return s * p.scale;
}

fn reduce_max(v: f32, lid: u32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if lid < stride {
            red[lid] = max(red[lid], red[lid + stride]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn reduce_sum(v: f32, lid: u32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
        if lid < stride {
            red[lid] += red[lid + stride];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let head = wid.x;
    let t = wid.y;
    let hd = p.head_dim;
    let q_dim = p.n_head * hd;
    let kv_dim = p.n_head_kv * hd;
    let kv_off = (head / (p.n_head / p.n_head_kv)) * hd;
    let seen = p.pos + t + 1u;

    for (var i = lid; i < hd; i += WG) {
        qv[i] = f16_round(q[t * q_dim + head * hd + i]);
    }
    workgroupBarrier();

    var m = -3.4028235e38;
    for (var j = lid; j < seen; j += WG) {
        m = max(m, score(j, kv_off, kv_dim));
    }
    m = reduce_max(m, lid);

    var s = 0.0;
    for (var j = lid; j < seen; j += WG) {
        s += fast_exp(score(j, kv_off, kv_dim) - m);
    }
    let inv = 1.0 / reduce_sum(s, lid);

    // This thread's output features: lid, lid + 64, ... (at most MAX_HEAD / WG of them).
    var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
    for (var c = 0u; c < seen; c += WG) {
        let j = c + lid;
        var pj = 0.0;
        if j < seen {
            pj = f16_round(fast_exp(score(j, kv_off, kv_dim) - m) * inv);
        }
        probs[lid] = pj;
        workgroupBarrier();
        let n = min(WG, seen - c);
        for (var slot = 0u; slot < 4u; slot++) {
            let i = lid + slot * WG;
            if i < hd {
                var a = acc[slot];
                for (var jj = 0u; jj < n; jj++) {
                    a += probs[jj] * v_cache[(c + jj) * kv_dim + kv_off + i];
                }
                acc[slot] = a;
            }
        }
        workgroupBarrier();
    }
    for (var slot = 0u; slot < 4u; slot++) {
        let i = lid + slot * WG;
        if i < hd {
            out[t * q_dim + head * hd + i] = acc[slot];
        }
    }
}

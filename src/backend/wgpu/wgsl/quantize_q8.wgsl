// 8-bit quantization of activation rows in blocks of 32, as quant.rs `Q8Acts` does it: the
// scale is the block's largest magnitude over 127, quants round half to even, and the scale
// and the scaled sum of quants are rounded through f16.

struct Params {
    // Blocks to quantize (rows × k/32).
    blocks: u32,
    // Index in `x` of the first value.
    x_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Four quants a word, the block's 32 in eight words.
@group(0) @binding(2) var<storage, read_write> qs: array<u32>;
@group(0) @binding(3) var<storage, read_write> qd: array<f32>;
@group(0) @binding(4) var<storage, read_write> qsum: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let b = flat_index(wid, nwg, lid);
    if b >= p.blocks {
        return;
    }
    let base = p.x_off + b * 32u;
    var amax = 0.0;
    for (var j = 0u; j < 32u; j++) {
        amax = max(amax, abs(x[base + j]));
    }
    let d = amax / 127.0;
    let id = select(0.0, 127.0 / amax, amax != 0.0);
    var total = 0;
    for (var word = 0u; word < 8u; word++) {
        var packed = 0u;
        for (var c = 0u; c < 4u; c++) {
            let q = i32(clamp(round(x[base + 4u * word + c] * id), -127.0, 127.0));
            total += q;
            packed |= (u32(q) & 0xFFu) << (8u * c);
        }
        qs[b * 8u + word] = packed;
    }
    qd[b] = f16_round(d);
    qsum[b] = f16_round(d * f32(total));
}

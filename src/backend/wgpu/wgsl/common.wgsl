// Helpers shared by every kernel (prepended to each shader by wgpu_kernels.rs).

// Elementwise kernels run 256 threads a workgroup on a 2-D grid (a 1-D grid is capped at
// 65,535 workgroups); this is the flat index of a thread.
fn flat_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * 256u + lid;
}

// Rounds through f16 and back, as the CPU path rounds keys, values, queries, probabilities
// and the 8-bit activation scales.
fn f16_round(x: f32) -> f32 {
    return unpack2x16float(pack2x16float(vec2<f32>(x, 0.0))).x;
}

// The CPU path's exponential (cpu_ops.rs `exp`): Cody-Waite reduction and a degree-7 Taylor
// polynomial, so that softmax and SwiGLU round as they do there.
fn fast_exp(x_in: f32) -> f32 {
    let x = clamp(x_in, -87.0, 88.0);
    let n = round(x * 1.442695041);
    let f = (x - n * 0.6933594) - n * -2.1219444e-4;
    let p = 1.0 + f * (1.0 + f * (0.5 + f * (1.0 / 6.0 + f * (1.0 / 24.0
        + f * (1.0 / 120.0 + f * (1.0 / 720.0 + f / 5040.0))))));
    return p * bitcast<f32>(u32(i32(n) + 127) << 23u);
}

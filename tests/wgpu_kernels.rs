#![cfg(feature = "wgpu")]
//! Each WGSL kernel of the wgpu backend against the CPU code it mirrors, on random data and on
//! the real model's weights, with shapes at the edges: sizes that are not a multiple of a
//! workgroup, one token, many tokens, a long context, an offset row.
//!
//! CI runs these on Mesa's software Vulkan driver (llvmpipe); without a Vulkan driver they
//! fail with the list of adapters seen.

use std::sync::OnceLock;

use opensoc::backend::wgpu::device::Gpu;
use opensoc::backend::wgpu::kernels::{staging_buffer, GpuMatrix, Kernels, Recorder};
use opensoc::cpu::attention::{attend, Heads, KvCache};
use opensoc::cpu::ops::{rms_norm, rope, swiglu};
use opensoc::gguf::file::ModelFile;
use opensoc::gguf::read::GgmlType;
use opensoc::model::lora::SplitMix64;
use opensoc::quant::blocks::{dequantize_row, quantize_row_into, Q8Acts};
use opensoc::quant::matmul::QMatrix;

struct Ctx {
    gpu: Gpu,
    kernels: Kernels,
}

fn ctx() -> &'static Ctx {
    static C: OnceLock<Ctx> = OnceLock::new();
    C.get_or_init(|| {
        let gpu = Gpu::open(None).expect("a wgpu adapter (CI: mesa-vulkan-drivers)");
        let kernels = Kernels::new(&gpu).expect("kernels compile");
        Ctx { gpu, kernels }
    })
}

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| rng.next_f32() * 2.0 - 1.0).collect()
}

fn upload(x: &[f32]) -> wgpu::Buffer {
    ctx().gpu.upload_f32("test input", x).expect("upload")
}

fn out_buffer(len: usize) -> wgpu::Buffer {
    ctx()
        .gpu
        .scratch("test output", (len * 4) as u64)
        .expect("scratch")
}

/// Runs what `r` recorded and reads `len` values of `out`.
fn finish(r: Recorder, out: &wgpu::Buffer, len: usize) -> Vec<f32> {
    let staging = staging_buffer(&ctx().gpu, len).expect("staging");
    r.run(&ctx().gpu, out, &staging, len).expect("kernels run")
}

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}: element {i} is {g}, expected {w}"
        );
    }
}

/// A random `n × k` matrix of type `ty`: quantized from random values where opensoc can
/// quantize to `ty`, random blocks with sane scales for Q6_K.
fn random_matrix(ty: GgmlType, n: usize, k: usize, seed: u64) -> QMatrix {
    let mut bytes = Vec::new();
    if ty == GgmlType::Q6_K {
        let mut rng = SplitMix64::new(seed);
        for _ in 0..n * k / 256 {
            let mut block: Vec<u8> = (0..210).map(|_| rng.next_u64() as u8).collect();
            block[208..210].copy_from_slice(&half::f16::from_f32(0.003).to_le_bytes());
            bytes.extend(block);
        }
    } else {
        for row in random(n * k, seed).chunks(k) {
            quantize_row_into(ty, row, &mut bytes).expect("quantize");
        }
    }
    QMatrix::owned(ty, n, k, bytes)
}

fn on_gpu(m: &QMatrix) -> GpuMatrix {
    GpuMatrix {
        buf: ctx().gpu.upload("test weights", m.bytes()).expect("upload"),
        ty: m.ty().id(),
        n: m.n(),
        k: m.k(),
        row_bytes: m.bytes().len() / m.n(),
    }
}

fn ids(rows: &[u32]) -> wgpu::Buffer {
    let bytes: Vec<u8> = rows.iter().flat_map(|r| r.to_le_bytes()).collect();
    ctx().gpu.upload("token ids", &bytes).expect("upload")
}

#[test]
fn embedding_rows_dequantize_as_on_the_cpu_for_every_type() {
    let types = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q8_0,
        GgmlType::Q4_K,
        GgmlType::Q6_K,
    ];
    for (i, ty) in types.into_iter().enumerate() {
        let (n, k) = (5, 512);
        let m = random_matrix(ty, n, k, 10 + i as u64);
        let w = on_gpu(&m);
        let rows = [4u32, 0, 3, 3];
        let tokens = ids(&rows);
        let x = out_buffer(rows.len() * k);
        let mut r = Recorder::new(&ctx().kernels);
        r.embed(&w, &tokens, &x, rows.len());
        let got = finish(r, &x, rows.len() * k);
        let mut want = vec![0f32; rows.len() * k];
        for (o, &row) in want.chunks_mut(k).zip(&rows) {
            dequantize_row(ty, m.row(row as usize), o);
        }
        assert_close(&got, &want, 1e-6, &format!("embed {ty}"));
    }
}

#[test]
fn activation_quantization_is_bit_identical_to_the_cpu() {
    let (rows, k) = (3, 96);
    let mut x = random(rows * k, 7);
    x[40] = 0.0; // a block with a zero is ordinary; a whole zero block has scale 0:
    x[64..96].iter_mut().for_each(|v| *v = 0.0);
    let xb = upload(&x);
    let q = [
        out_buffer(rows * k / 4),
        out_buffer(rows * k / 32),
        out_buffer(rows * k / 32),
    ];
    let mut r = Recorder::new(&ctx().kernels);
    r.quantize(&xb, k, rows - 1, k, [&q[0], &q[1], &q[2]]);
    let d = finish(r, &q[1], (rows - 1) * k / 32);
    let mut r = Recorder::new(&ctx().kernels);
    r.quantize(&xb, k, rows - 1, k, [&q[0], &q[1], &q[2]]);
    let qs = finish(r, &q[0], (rows - 1) * k / 4);
    let mut want = Q8Acts::default();
    want.quantize(&x[k..], k);
    let got_q: Vec<i8> = qs
        .iter()
        .flat_map(|v| v.to_bits().to_le_bytes())
        .map(|b| b as i8)
        .collect();
    assert_eq!(got_q, want.qs);
    assert_eq!(d, want.d);
}

#[test]
fn eight_bit_products_match_the_cpu() {
    // n = 67 is not a multiple of the 64-thread workgroup; m covers one token and many.
    for (i, ty) in [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q8_0]
        .into_iter()
        .enumerate()
    {
        for m in [1, 3, 70] {
            let (n, k) = (67, 96);
            let w = random_matrix(ty, n, k, 20 + i as u64);
            let x = random(m * k, 30 + m as u64);
            let want = w.matmul(&x, m);
            let gw = on_gpu(&w);
            let xb = upload(&x);
            let q = [
                out_buffer(m * k / 4),
                out_buffer(m * k / 32),
                out_buffer(m * k / 32),
            ];
            let y = out_buffer(m * n);
            let mut r = Recorder::new(&ctx().kernels);
            r.quantize(&xb, 0, m, k, [&q[0], &q[1], &q[2]]);
            r.matmul_q8(&gw, [&q[0], &q[1], &q[2]], &y, m);
            let got = finish(r, &y, m * n);
            // The CPU's vector kernels add the blocks in another order: f32 rounding only.
            assert_close(&got, &want, 1e-5, &format!("{ty} product, {m} tokens"));
        }
    }
}

#[test]
fn dequantizing_products_match_the_cpu() {
    for (i, ty) in [GgmlType::F32, GgmlType::F16, GgmlType::Q4_K, GgmlType::Q6_K]
        .into_iter()
        .enumerate()
    {
        let (n, k, m) = (33, 256, 4);
        let w = random_matrix(ty, n, k, 40 + i as u64);
        let x = random((m + 1) * k, 50);
        // Rows 1.. of x: the offset the output head uses for the last position.
        let want = w.matmul(&x[k..], m);
        let gw = on_gpu(&w);
        let xb = upload(&x);
        let y = out_buffer(m * n);
        let mut r = Recorder::new(&ctx().kernels);
        r.matmul_deq(&gw, &xb, k, &y, m);
        let got = finish(r, &y, m * n);
        assert_close(&got, &want, 1e-5, &format!("{ty} product"));
    }
}

#[test]
fn lora_products_match_a_plain_sum() {
    let (n, k, m) = (70, 24, 3);
    let a = random(n * k, 60);
    let x = random(m * k, 61);
    let y0 = random(m * n, 62);
    let (ab, xb, yb) = (upload(&a), upload(&x), upload(&y0));
    let mut r = Recorder::new(&ctx().kernels);
    r.matmul_f32(&ab, (n, k), &xb, &yb, m, 0.5, true);
    let got = finish(r, &yb, m * n);
    let want: Vec<f32> = (0..m * n)
        .map(|i| {
            let (t, row) = (i / n, i % n);
            let dot: f32 = (0..k).map(|j| a[row * k + j] * x[t * k + j]).sum();
            y0[i] + 0.5 * dot
        })
        .collect();
    assert_close(&got, &want, 1e-5, "lora product");
}

#[test]
fn rms_norm_matches_the_cpu_on_offset_rows() {
    // 300 is not a multiple of the 256-thread workgroup.
    for d in [300, 576] {
        let rows = 3;
        let x = random(rows * d, 70);
        let w = random(d, 71);
        let mut want = vec![0f32; rows * d];
        rms_norm(&x, &w, 1e-5, &mut want);
        let (xb, wb, out) = (upload(&x), upload(&w), out_buffer(rows * d));
        let mut r = Recorder::new(&ctx().kernels);
        r.rms_norm(&xb, &wb, &out, d, 1, 2, 1e-5);
        let got = finish(r, &out, rows * d);
        assert_close(&got[d..], &want[d..], 1e-5, &format!("rms_norm d={d}"));
        assert!(
            got[..d].iter().all(|&v| v == 0.0),
            "row 0 was not asked for"
        );
    }
}

#[test]
fn rope_and_swiglu_match_the_cpu() {
    let (rows, heads, hd, pos) = (3, 5, 64, 1000);
    let half = hd / 2;
    let cos: Vec<f32> = (0..(pos + rows) * half)
        .map(|i| (i as f32 * 0.01).cos())
        .collect();
    let sin: Vec<f32> = (0..(pos + rows) * half)
        .map(|i| (i as f32 * 0.01).sin())
        .collect();
    let mut want = random(rows * heads * hd, 80);
    let xb = upload(&want);
    rope(&mut want, heads, hd, pos, &cos, &sin);
    let (cb, sb) = (upload(&cos), upload(&sin));
    let mut r = Recorder::new(&ctx().kernels);
    r.rope([&cb, &sb], &xb, (rows, heads, hd), pos);
    assert_close(&finish(r, &xb, want.len()), &want, 1e-6, "rope");

    let n = 1000;
    let (mut g, u) = (random(n, 81), random(n, 82));
    let (gb, ub) = (upload(&g), upload(&u));
    swiglu(&mut g, &u);
    let mut r = Recorder::new(&ctx().kernels);
    r.swiglu(&gb, &ub, n);
    r.add(&gb, &ub, n);
    let want: Vec<f32> = g.iter().zip(&u).map(|(a, b)| a + b).collect();
    assert_close(&finish(r, &gb, n), &want, 1e-6, "swiglu then add");
}

#[test]
fn attention_matches_the_cpu_over_a_long_cache() {
    // Grouped-query heads; a cache of 8,121 positions, then 1 query, then 70 (more than a
    // 64-key chunk and a 64-thread workgroup), ending at SmolLM2's whole context of 8,192.
    let h = Heads {
        n_head: 4,
        n_head_kv: 2,
        head_dim: 64,
    };
    let (q_dim, kv_dim) = (h.n_head * h.head_dim, h.n_head_kv * h.head_dim);
    let prefix = 8121;
    let mut cache = KvCache::new(1, kv_dim);
    let (kp, vp) = (random(prefix * kv_dim, 90), random(prefix * kv_dim, 91));
    attend(&vec![0.0; prefix * q_dim], &kp, &vp, &mut cache, 0, h);
    cache.advance(prefix);
    let capacity = prefix + 71;
    let kc = out_buffer(capacity * kv_dim);
    let vc = out_buffer(capacity * kv_dim);
    let (kpb, vpb) = (upload(&kp), upload(&vp));
    let mut r = Recorder::new(&ctx().kernels);
    r.kv_store([&kpb, &vpb], [&kc, &vc], prefix * kv_dim, 0);
    finish(r, &kc, 1);
    let mut pos = prefix;
    for t in [1, 70] {
        let q = random(t * q_dim, 92 + t as u64);
        let k = random(t * kv_dim, 93 + t as u64);
        let v = random(t * kv_dim, 94 + t as u64);
        let want = attend(&q, &k, &v, &mut cache, 0, h);
        cache.advance(t);
        let (qb, kb, vb, out) = (upload(&q), upload(&k), upload(&v), out_buffer(t * q_dim));
        let mut r = Recorder::new(&ctx().kernels);
        r.kv_store([&kb, &vb], [&kc, &vc], t * kv_dim, pos * kv_dim);
        r.attention(
            &qb,
            [&kc, &vc],
            &out,
            (h.n_head, h.n_head_kv, h.head_dim),
            pos,
            t,
        );
        let got = finish(r, &out, t * q_dim);
        // Probabilities are rounded through f16 after a sum taken in another order (f32
        // here, f64 there): a probability may land one f16 step (2^-11 relative) apart.
        assert_close(&got, &want, 1e-3, &format!("attention, {t} queries"));
        pos += t;
    }
}

#[test]
fn real_weights_give_the_cpu_products() {
    let path = opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let file = ModelFile::open(path).expect("model opens");
    let model = opensoc::model::llama::Llama::load(&file).expect("model loads");
    // The output head of SmolLM2 is its (tied, Q8_0) embedding table: 49,152 rows.
    let w = model.output().weight();
    let k = w.k();
    let x = random(2 * k, 100);
    let want = w.matmul(&x[k..], 1);
    let gw = on_gpu(w);
    let xb = upload(&x);
    let q = [out_buffer(k / 4), out_buffer(k / 32), out_buffer(k / 32)];
    let y = out_buffer(w.n());
    let mut r = Recorder::new(&ctx().kernels);
    r.quantize(&xb, k, 1, k, [&q[0], &q[1], &q[2]]);
    r.matmul_q8(&gw, [&q[0], &q[1], &q[2]], &y, 1);
    let got = finish(r, &y, w.n());
    assert_close(&got, &want, 1e-5, &format!("output head ({})", w.ty()));
}

#[test]
fn cached_keys_and_values_round_to_the_nearest_f16() {
    let n = 10_000;
    let k: Vec<f32> = random(n, 110).iter().map(|v| v * 300.0).collect();
    let v = random(n, 111);
    let (kb, vb, kc, vc) = (upload(&k), upload(&v), out_buffer(n + 8), out_buffer(n + 8));
    let mut r = Recorder::new(&ctx().kernels);
    r.kv_store([&kb, &vb], [&kc, &vc], n, 8);
    let got = finish(r, &kc, n + 8);
    let want: Vec<f32> = k.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect();
    assert_eq!(&got[8..], &want[..]);
}

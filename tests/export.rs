//! Merged export of the real default model (SmolLM2-135M-Instruct, Q4_1): the file reads back
//! in gguf-rs (an independent reader) with every tensor and metadata key, loads in opensoc, and
//! behaves as the base model with the adapter folded in.

use std::path::{Path, PathBuf};

use opensoc::gguf::file::ModelFile;
use opensoc::gguf::read::{GgmlType, Value};
use opensoc::model::config::LlamaConfig;
use opensoc::model::language_model::argmax;
use opensoc::model::llama::Llama;
use opensoc::model::lora::{LoraAdapter, LoraConfig, SplitMix64, Target};
use opensoc::model::tokenizer::Tokenizer;
use opensoc::quant::blocks::dequantize_row;
use opensoc::quant::matmul::row_bytes;
use opensoc::train::export::{export_merged, ExportQuant};

/// Largest logit difference accepted between the base model and its f16 export with an
/// all-zero adapter, and the largest mean difference.
///
/// The export itself only rounds each dequantized Q4_1 weight to f16 (relative error at most
/// 2^-11). What moves the logits is the runtime: with Q4_1 weights opensoc quantizes every
/// activation to 8 bits before the integer products (as llama.cpp does); with F16 weights it
/// multiplies in f32. Measured on the three prompts below (3 × 49,152 logits), against a copy
/// of the base model dequantized to F32 and run in f32:
///
/// | compared                              | largest | mean  |
/// |---------------------------------------|---------|-------|
/// | f16 export vs F32 copy (the export)   | 0.049   | 0.008 |
/// | base Q4_1 vs F32 copy (the runtime)   | 1.09    | 0.195 |
/// | base Q4_1 vs f16 export (this test)   | 1.06    | 0.190 |
///
/// (0.90 and 0.157 with the AVX2 kernels, `OPENSOC_NO_AVX512=1`.) So the bound is the
/// runtime's, and it is the one the llama.cpp parity test uses for the same 8-bit activation
/// rounding (`LOGIT_BOUND` in tests/llama_parity.rs, measured there up to 1.53).
const ZERO_ADAPTER_BOUND: (f32, f32) = (2.0, 0.3);

/// The smallest largest-logit change the test adapter (B uniform in ±0.05) must cause against
/// the zero-adapter export. Both run the same deterministic f16 path, so any change is the
/// adapter's; measured 5.73 (mean 0.93), and the threshold is kept above the zero-adapter
/// noise of the other comparison so the two cannot be confused.
const ADAPTER_EFFECT: f32 = 3.0;

/// Largest and mean logit difference accepted between the merged f16 export and the same
/// adapter applied unmerged to the base in f16: both run the same f32 products, so only the
/// f16 rounding of the merged weights (2^-11 relative) differs, the same error as in the
/// "f16 export vs F32 copy" row above (0.049, mean 0.008). Measured: largest 0.035, mean
/// 0.0074, the greedy choice unchanged; the bound allows about three times that.
const MERGE_BOUND: (f32, f32) = (0.1, 0.02);

fn base() -> PathBuf {
    opensoc::model::fetch::ensure_default_model(false).expect("default model (fetched if absent)")
}

fn config(path: &Path) -> LlamaConfig {
    LlamaConfig::from_gguf(&ModelFile::open(path).unwrap().gguf).unwrap()
}

/// PEFT's initialisation (B = 0), then B uniform in ±`b` when `b` > 0.
fn adapter(cfg: &LlamaConfig, b: f32) -> LoraAdapter {
    let mut a = LoraAdapter::init(cfg, LoraConfig::default(), 11);
    let mut rng = SplitMix64::new(12);
    for p in a.blocks.iter_mut().flatten().flatten() {
        p.b.iter_mut()
            .for_each(|v| *v = (rng.next_f32() * 2.0 - 1.0) * b);
    }
    a
}

fn prompts(path: &Path) -> Vec<Vec<u32>> {
    let file = ModelFile::open(path).unwrap();
    let tok = Tokenizer::from_gguf(&file.gguf).unwrap();
    [
        "### Instruction:\nAnalyze this log and identify security threats.\n\n### Input:\n\
         Failed password for invalid user admin from 203.0.113.7 port 51122 ssh2\n\n### Response:\n",
        "GET /index.php?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users-- HTTP/1.1",
        "The capital of France is",
    ]
    .iter()
    .map(|t| tok.encode(t, false, false).unwrap())
    .collect()
}

/// Last-position logits of each prompt under the model at `path`.
fn logits(path: &Path, prompts: &[Vec<u32>]) -> Vec<Vec<f32>> {
    logits_unmerged(path, prompts, None)
}

/// Last-position logits of each prompt under the model at `path` with `adapter` applied
/// unmerged (as the analyzer applies it).
fn logits_unmerged(
    path: &Path,
    prompts: &[Vec<u32>],
    adapter: Option<&LoraAdapter>,
) -> Vec<Vec<f32>> {
    let file = ModelFile::open(path).unwrap();
    let mut model = Llama::load(&file).unwrap();
    model.set_adapter(adapter.cloned()).unwrap();
    prompts
        .iter()
        .map(|p| model.forward(p, &mut model.new_cache()).unwrap())
        .collect()
}

/// Largest and mean absolute difference over all logits.
fn diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> (f32, f32) {
    let (mut max, mut sum, mut n) = (0f32, 0f64, 0usize);
    for (x, y) in a.iter().zip(b) {
        for (u, v) in x.iter().zip(y) {
            max = max.max((u - v).abs());
            sum += f64::from((u - v).abs());
            n += 1;
        }
    }
    (max, (sum / n as f64) as f32)
}

/// Tensor `name` of the GGUF at `path`, dequantized.
fn weights(path: &Path, name: &str) -> (Vec<f32>, GgmlType) {
    let f = ModelFile::open(path).unwrap();
    let t = f.gguf.tensor(name).unwrap();
    let k = t.dims[0] as usize;
    let rb = row_bytes(t.ty, k);
    let mut out = vec![0f32; t.elements() as usize];
    let data = f.gguf.tensor_data(f.bytes(), t);
    for (o, src) in out.chunks_exact_mut(k).zip(data.chunks_exact(rb)) {
        dequantize_row(t.ty, src, o);
    }
    (out, t.ty)
}

#[test]
fn q8_0_export_reads_back_in_gguf_rs_with_everything() {
    let base = base();
    let cfg = config(&base);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("merged-q8_0.gguf");
    let report = export_merged(
        &base,
        Some(&adapter(&cfg, 0.01)),
        &out,
        ExportQuant::Q8_0,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(report.merged, 7 * 30, "{report}");
    assert!(report.fallbacks.is_empty(), "{report}");

    let ours = ModelFile::open(&base).unwrap().gguf;
    let theirs = gguf_rs::get_gguf_container_array_size(out.to_str().unwrap(), u64::MAX)
        .and_then(|mut c| c.decode())
        .expect("gguf-rs reads the export");
    let names: Vec<_> = ours.tensors.iter().map(|t| t.name.as_str()).collect();
    let their_names: Vec<_> = theirs.tensors().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, their_names);
    for (a, b) in ours.tensors.iter().zip(theirs.tensors()) {
        assert_eq!(a.dims, b.shape, "shape of {}", a.name);
        let want = if a.dims.len() == 1 {
            GgmlType::F32
        } else {
            GgmlType::Q8_0
        };
        assert_eq!(b.kind, want.id(), "type of {}", a.name);
    }
    let kv = theirs.metadata();
    for key in ours.metadata.keys() {
        assert!(kv.contains_key(key), "gguf-rs lacks {key}");
    }
    assert_eq!(kv["general.file_type"], 7);
    assert_eq!(kv["general.architecture"], "llama");
    let tokens = ours.get_strings("tokenizer.ggml.tokens").unwrap();
    let their_tokens = kv["tokenizer.ggml.tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 49152);
    assert!(tokens
        .iter()
        .zip(their_tokens)
        .all(|(a, b)| b.as_str() == Some(*a)));
    let merges = ours.get_strings("tokenizer.ggml.merges").unwrap();
    assert_eq!(
        kv["tokenizer.ggml.merges"].as_array().unwrap().len(),
        merges.len()
    );
    assert_eq!(
        kv["tokenizer.chat_template"],
        ours.get_str("tokenizer.chat_template").unwrap()
    );
    assert!(kv["opensoc.adapter"]
        .as_str()
        .unwrap()
        .starts_with("merged LoRA r16 alpha32"));

    // And opensoc runs it.
    let l = logits(&out, &prompts(&out));
    assert!(l.iter().flatten().all(|v| v.is_finite()));
}

#[test]
fn f16_export_is_the_base_model_plus_the_adapter() {
    let base = base();
    let cfg = config(&base);
    let dir = tempfile::tempdir().unwrap();
    let prompts = prompts(&base);
    let base_logits = logits(&base, &prompts);

    // B = 0: the merged model is the base model, up to f16 rounding and the runtime's paths.
    let zero = dir.path().join("zero.gguf");
    export_merged(
        &base,
        Some(&adapter(&cfg, 0.0)),
        &zero,
        ExportQuant::F16,
        &mut |_| {},
    )
    .unwrap();
    let zero_logits = logits(&zero, &prompts);
    let (max, mean) = diff(&base_logits, &zero_logits);
    eprintln!("zero adapter, f16 export vs base: largest logit difference {max}, mean {mean}");
    assert!(
        max <= ZERO_ADAPTER_BOUND.0 && mean <= ZERO_ADAPTER_BOUND.1,
        "{max} {mean}"
    );
    for (a, b) in base_logits.iter().zip(&zero_logits) {
        assert_eq!(argmax(a), argmax(b));
    }

    // A small random adapter: the weights are the base's plus scale·B·A, and the logits move.
    let a = adapter(&cfg, 0.05);
    let merged = dir.path().join("merged.gguf");
    export_merged(&base, Some(&a), &merged, ExportQuant::F16, &mut |_| {}).unwrap();
    for (name, layer, t) in [
        ("blk.3.attn_q.weight", 3, Target::QProj),
        ("blk.29.ffn_down.weight", 29, Target::DownProj),
    ] {
        let (w0, _) = weights(&base, name);
        let (w1, ty) = weights(&merged, name);
        assert_eq!(ty, GgmlType::F16);
        let p = a.pair(layer, t).unwrap();
        let r = a.config.r;
        for o in (0..p.out_dim).step_by(7) {
            for i in 0..p.in_dim {
                let delta: f32 = (0..r).map(|k| p.b[o * r + k] * p.a[k * p.in_dim + i]).sum();
                let want = w0[o * p.in_dim + i] + a.config.scale() * delta;
                let got = w1[o * p.in_dim + i];
                // f16 rounding of the merged weight, and 2^-25 below f16's normal range.
                let bound = (want.abs() * 2f32.powi(-11)).max(2f32.powi(-25)) + 1e-7;
                assert!(
                    (want - got).abs() <= bound,
                    "{name} [{o}, {i}]: {want} vs {got}"
                );
            }
        }
    }
    // Against the zero-adapter export, which runs the same f16 path: only the adapter differs.
    let merged_logits = logits(&merged, &prompts);
    let (effect, mean) = diff(&zero_logits, &merged_logits);
    eprintln!(
        "random adapter vs zero adapter, both f16: largest logit difference {effect}, mean {mean}"
    );
    assert!(effect >= ADAPTER_EFFECT, "{effect}");

    // The same adapter applied unmerged on the zero-adapter export (the base in f16): the
    // merged weights differ only by their f16 rounding.
    let unmerged = logits_unmerged(&zero, &prompts, Some(&a));
    let (max, mean) = diff(&unmerged, &merged_logits);
    eprintln!("merged vs unmerged, both f16: largest logit difference {max}, mean {mean}");
    assert!(
        max <= MERGE_BOUND.0 && mean <= MERGE_BOUND.1,
        "{max} {mean}"
    );
    for (u, m) in unmerged.iter().zip(&merged_logits) {
        assert_eq!(argmax(u), argmax(m));
    }

    // The tokenizer and every metadata key survive (a few values are the export's own).
    let before = ModelFile::open(&base).unwrap().gguf;
    let after = ModelFile::open(&merged).unwrap().gguf;
    for (k, v) in &before.metadata {
        if k != "general.file_type" {
            assert_eq!(after.get(k), Some(v), "{k}");
        }
    }
    assert_eq!(after.get("general.file_type"), Some(&Value::U32(1)));
}

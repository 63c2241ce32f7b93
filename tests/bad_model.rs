//! Broken model files must give errors that name the file and the problem, never a panic,
//! a huge allocation or a read out of bounds.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::tiny_model::{
    patch_tensor_dims, patch_tensor_name, patch_tensor_offset, patch_tensor_type, patch_version,
    value_offset, TensorSpec, TinyModel,
};
use opensoc::gguf::file::{ModelFile, ModelFileError};
use opensoc::gguf::read::{GgmlType, Value};
use opensoc::model::config::ModelError;
use opensoc::model::llama::Llama;
use opensoc::model::tokenizer::Tokenizer;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write test file");
    p
}

/// Checks that an error message names the file and contains every one of `needles`.
fn assert_message(name: &str, msg: &str, needles: &[&str]) {
    assert!(
        msg.contains(name),
        "{name}: error does not name the file: {msg}"
    );
    for n in needles {
        assert!(msg.contains(n), "{name}: error lacks {n:?}: {msg}");
    }
}

/// Opens `bytes` as `name` and expects `ModelFile::open` to fail with a message naming the file
/// and containing every one of `needles`.
fn open_fails(name: &str, bytes: &[u8], needles: &[&str]) -> ModelFileError {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), name, bytes);
    let err = match ModelFile::open(&p) {
        Ok(_) => panic!("{name}: opened a broken file"),
        Err(e) => e,
    };
    assert_message(name, &err.to_string(), needles);
    err
}

/// Expects the file to open but `Llama::load` to fail with a message naming the file and
/// containing every one of `needles`.
fn load_fails(name: &str, spec: &TinyModel, needles: &[&str]) -> ModelError {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), name, &spec.build());
    let file = ModelFile::open(&p).unwrap_or_else(|e| panic!("{name}: open failed: {e}"));
    let err = match Llama::load(&file) {
        Ok(_) => panic!("{name}: loaded a broken model"),
        Err(e) => e,
    };
    assert_message(name, &err.to_string(), needles);
    err
}

#[test]
fn the_tiny_models_are_valid() {
    for (name, spec) in [
        ("tied.gguf", TinyModel::tiny_llama()),
        ("spm.gguf", TinyModel::tiny_llama_spm()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), name, &spec.build());
        let file = ModelFile::open(&p).unwrap();
        let model = Llama::load(&file).unwrap();
        assert_eq!(model.config().n_embd, 32);
        let tok = Tokenizer::from_gguf(&file.gguf).unwrap();
        let ids = tok.encode("ab a", tok.add_bos_default(), true).unwrap();
        assert!(!ids.is_empty());
        let logits = model.forward(&ids, &mut model.new_cache()).unwrap();
        assert_eq!(logits.len(), tok.vocab_size());
        // The in-memory constructor sees the same file.
        let mem = ModelFile::from_bytes(name, &spec.build()).unwrap();
        assert_eq!(mem.gguf.tensors, file.gguf.tensors);
    }
}

#[test]
fn empty_file() {
    open_fails("empty.gguf", &[], &["truncated", "magic"]);
}

#[test]
fn truncated_tiny_model() {
    let bytes = TinyModel::tiny_llama().build();
    // Every prefix, in memory: each must be an error.
    for len in 0..bytes.len() {
        if let Ok(f) = ModelFile::from_bytes("prefix.gguf", &bytes[..len]) {
            panic!(
                "prefix of {len} bytes opened with {} tensors",
                f.gguf.tensors.len()
            );
        }
    }
    // A few on disk, through the same path the CLI takes: inside the magic, the counts, the
    // metadata, the tensor directory, and the data section.
    let data_offset = ModelFile::from_bytes("t", &bytes).unwrap().gguf.data_offset as usize;
    for len in [
        3,
        6,
        20,
        30,
        200,
        data_offset - 40,
        data_offset,
        bytes.len() - 1,
    ] {
        let name = format!("truncated-{len}.gguf");
        let needle = if len >= data_offset {
            "outside"
        } else {
            "truncated"
        };
        open_fails(&name, &bytes[..len], &[needle]);
    }
}

#[test]
fn truncated_real_model() {
    let path = opensoc::model::fetch::ensure_default_model(false).expect("default model");
    let mut head = vec![0u8; 1 << 20];
    let n = std::fs::File::open(&path).unwrap().read(&mut head).unwrap();
    head.truncate(n);
    for len in [1, 4, 8, 23, 24, 1000, 100_000, 1 << 20] {
        let name = format!("real-head-{len}.gguf");
        open_fails(&name, &head[..len.min(head.len())], &["truncated"]);
    }
    // All but the last byte: the header is whole, the last tensor's data is not.
    let whole = std::fs::read(&path).unwrap();
    open_fails("real-minus-1.gguf", &whole[..whole.len() - 1], &["outside"]);
}

/// ggml's id of IQ2_XXS: a real ggml type that opensoc does not know.
const IQ2_XXS: u32 = 16;

#[test]
fn wrong_magic() {
    let mut bytes = TinyModel::tiny_llama().build();
    bytes[..4].copy_from_slice(b"GGML");
    open_fails("magic.gguf", &bytes, &["not a GGUF file"]);
}

#[test]
fn unsupported_versions() {
    for v in [0, 1, 4, u32::MAX] {
        let mut bytes = TinyModel::tiny_llama().build();
        patch_version(&mut bytes, v);
        open_fails(
            &format!("v{v}.gguf"),
            &bytes,
            &[&format!("unsupported GGUF version {v}")],
        );
    }
}

#[test]
fn unsupported_tensor_types() {
    // Q5_0 is a type the parser knows but the Llama loader has no kernel for.
    let mut spec = TinyModel::tiny_llama();
    spec.tensor("blk.0.attn_q.weight").ty = GgmlType::Q5_0;
    load_fails(
        "q5_0.gguf",
        &spec,
        &["blk.0.attn_q.weight", "Q5_0", "not support"],
    );
    // An IQ type is unknown to the parser itself.
    let mut bytes = TinyModel::tiny_llama().build();
    patch_tensor_type(&mut bytes, "blk.0.ffn_up.weight", IQ2_XXS);
    open_fails(
        "iq2.gguf",
        &bytes,
        &["blk.0.ffn_up.weight", "unknown ggml type 16"],
    );
}

#[test]
fn unsupported_architecture() {
    let mut spec = TinyModel::tiny_llama();
    spec.set("general.architecture", Value::String("gpt2".into()));
    load_fails("gpt2.gguf", &spec, &["\"gpt2\"", "not supported"]);
    let mut spec = TinyModel::tiny_llama();
    spec.remove("general.architecture");
    load_fails("noarch.gguf", &spec, &["general.architecture", "missing"]);
}

#[test]
fn absurd_dimensions() {
    let dims_fail = |name: &str, dims: &[u64], needles: &[&str]| {
        let mut bytes = TinyModel::tiny_llama().build();
        patch_tensor_dims(&mut bytes, "blk.0.attn_q.weight", dims);
        open_fails(name, &bytes, needles);
    };
    dims_fail(
        "huge-dims.gguf",
        &[1 << 32, 1 << 32],
        &["blk.0.attn_q.weight", "absurd shape"],
    );
    dims_fail("zero-dim.gguf", &[32, 0], &["absurd shape"]);
    dims_fail("five-dims.gguf", &[32, 1, 1, 1, 1], &["5 dimensions"]);
    // A huge but self-consistent configuration must be rejected by the loader, not allocated.
    let mut spec = TinyModel::tiny_llama();
    spec.set("llama.embedding_length", Value::U64(1 << 40));
    spec.set("llama.attention.head_count", Value::U64(1 << 36));
    load_fails("huge-embd.gguf", &spec, &["token_embd.weight", "shape"]);
}

#[test]
fn huge_context_length_is_rejected_not_allocated() {
    // The RoPE tables are sized by the context length; 2^40 positions once aborted the process
    // on a failed multi-terabyte allocation.
    for ctx in [1u64 << 40, 1 << 32, u64::MAX] {
        let mut spec = TinyModel::tiny_llama();
        spec.set("llama.context_length", Value::U64(ctx));
        let t = Instant::now();
        load_fails(
            &format!("ctx-{ctx}.gguf"),
            &spec,
            &["context length", "implausibly large"],
        );
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "took {:?}",
            t.elapsed()
        );
    }
}

#[test]
fn subnormal_weights_run() {
    // Found by the gguf_load fuzz target: norm weights of 1e-39 make every activation block's
    // maximum subnormal, and quantizing the activations overflowed (a panic in debug builds).
    let bytes = TinyModel::tiny_llama().build();
    let probe = ModelFile::from_bytes("probe.gguf", &bytes).unwrap();
    let mut bytes = bytes.clone();
    for name in ["blk.0.attn_norm.weight", "blk.0.ffn_norm.weight"] {
        let t = probe.gguf.tensor(name).unwrap();
        let start = (probe.gguf.data_offset + t.offset) as usize;
        for c in bytes[start..start + t.size as usize].chunks_exact_mut(4) {
            c.copy_from_slice(&1e-39f32.to_le_bytes());
        }
    }
    let file = ModelFile::from_bytes("subnormal.gguf", &bytes).unwrap();
    let model = Llama::load(&file).unwrap();
    let logits = model.forward(&[0, 1, 2], &mut model.new_cache()).unwrap();
    assert_eq!(logits.len(), model.config().vocab);
}

#[test]
fn tensor_offset_outside_the_file() {
    let with_offset = |offset: u64| {
        let mut bytes = TinyModel::tiny_llama().build();
        patch_tensor_offset(&mut bytes, "blk.0.ffn_down.weight", offset);
        bytes
    };
    for offset in [1u64 << 20, 1 << 40, !31] {
        open_fails(
            &format!("offset-{offset}.gguf"),
            &with_offset(offset),
            &["blk.0.ffn_down.weight", "outside the data section"],
        );
    }
    open_fails("misaligned.gguf", &with_offset(33), &["not aligned"]);
}

#[test]
fn missing_tensor() {
    let mut spec = TinyModel::tiny_llama();
    spec.tensors.retain(|t| t.name != "blk.0.ffn_up.weight");
    load_fails("missing.gguf", &spec, &["blk.0.ffn_up.weight is missing"]);
    let mut spec = TinyModel::tiny_llama();
    spec.tensors.retain(|t| t.name != "output_norm.weight");
    load_fails("no-norm.gguf", &spec, &["output_norm.weight is missing"]);
}

#[test]
fn wrong_tensor_shape() {
    let mut spec = TinyModel::tiny_llama();
    spec.tensor("blk.0.attn_k.weight").dims = vec![32, 32];
    load_fails(
        "shape.gguf",
        &spec,
        &["blk.0.attn_k.weight", "shape [32, 32]", "expected [32, 16]"],
    );
    let mut spec = TinyModel::tiny_llama();
    spec.tensor("blk.0.attn_norm.weight").dims = vec![16];
    load_fails(
        "norm-shape.gguf",
        &spec,
        &["blk.0.attn_norm.weight", "shape [16]"],
    );
}

#[test]
fn head_count_must_divide_the_embedding() {
    let mut spec = TinyModel::tiny_llama();
    spec.set("llama.attention.head_count", Value::U32(5));
    spec.set("llama.attention.head_count_kv", Value::U32(5));
    load_fails(
        "heads.gguf",
        &spec,
        &["5 heads do not divide the hidden size 32"],
    );
    let mut spec = TinyModel::tiny_llama();
    spec.set("llama.attention.head_count", Value::U32(0));
    load_fails("zero-heads.gguf", &spec, &["0 heads"]);
    let mut spec = TinyModel::tiny_llama();
    spec.set("llama.attention.head_count_kv", Value::U32(3));
    load_fails("kv-heads.gguf", &spec, &["not a multiple of 3"]);
}

/// The header of the tiny model with one field overwritten at byte offset `at`.
fn patched(at: usize, value: u64) -> Vec<u8> {
    let mut b = TinyModel::tiny_llama().build();
    b[at..at + 8].copy_from_slice(&value.to_le_bytes());
    b
}

#[test]
fn absurd_counts_and_lengths_fail_fast() {
    // The first metadata key's length follows the two counts; general.architecture is that
    // key: [len][key][type u32][string len][string].
    let key_len_at = 24;
    let string_len_at = key_len_at + 8 + "general.architecture".len() + 4;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("kv-2-40.gguf", patched(16, 1 << 40)),
        ("kv-max.gguf", patched(16, u64::MAX)),
        ("tensors-2-40.gguf", patched(8, 1 << 40)),
        ("key-2-60.gguf", patched(key_len_at, 1 << 60)),
        ("key-max.gguf", patched(key_len_at, u64::MAX)),
        ("string-2-60.gguf", patched(string_len_at, 1 << 60)),
        ("array-2-60.gguf", {
            let mut spec = TinyModel::tiny_llama();
            let key = "test.array";
            spec.set(key, Value::Array(vec![Value::String("x".into())]));
            let mut b = spec.build();
            // [len][key][type 9][elem type 8][count]
            let at = value_offset(&b, key) + 4;
            b[at..at + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
            b
        }),
        ("tensor-name-2-60.gguf", {
            let mut spec = TinyModel::tiny_llama();
            spec.meta = Default::default();
            let mut b = spec.build();
            b[24..32].copy_from_slice(&(1u64 << 60).to_le_bytes());
            b
        }),
    ];
    for (name, bytes) in cases {
        let t = Instant::now();
        open_fails(name, &bytes, &["truncated"]);
        let took = t.elapsed();
        assert!(took < Duration::from_millis(200), "{name} took {took:?}");
    }
}

#[test]
fn duplicate_tensor_and_bad_alignment() {
    // The writer refuses duplicates, so a copy under a stand-in name is renamed afterwards.
    let mut spec = TinyModel::tiny_llama();
    let dup = spec.tensor("blk.0.ffn_norm.weight").clone();
    spec.tensors.push(TensorSpec {
        name: "blk.0.ffn_norm.weighx".into(),
        ..dup
    });
    let mut bytes = spec.build();
    patch_tensor_name(&mut bytes, "blk.0.ffn_norm.weighx", "blk.0.ffn_norm.weight");
    open_fails("dup.gguf", &bytes, &["listed twice"]);
    let mut spec = TinyModel::tiny_llama();
    spec.set("general.alignment", Value::U32(32));
    let mut bytes = spec.build();
    let at = value_offset(&bytes, "general.alignment");
    bytes[at..at + 4].copy_from_slice(&24u32.to_le_bytes());
    open_fails("align.gguf", &bytes, &["not a power of two"]);
}

/// Writes the fuzz seed corpus (valid tiny models and a few near-misses) into the directory
/// named by `OPENSOC_FUZZ_SEEDS`; `scripts/fuzz.sh` runs it.
#[test]
#[ignore = "writes fuzz seeds; run by scripts/fuzz.sh"]
fn write_fuzz_seeds() {
    let Some(dir) = std::env::var_os("OPENSOC_FUZZ_SEEDS") else {
        panic!("set OPENSOC_FUZZ_SEEDS to the corpus directory");
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut seeds: Vec<(&str, Vec<u8>)> = vec![
        ("tiny-gpt2", TinyModel::tiny_llama().build()),
        ("tiny-spm", TinyModel::tiny_llama_spm().build()),
    ];
    let mut v2 = TinyModel::tiny_llama().build();
    patch_version(&mut v2, 2);
    seeds.push(("tiny-v2", v2));
    let mut q5 = TinyModel::tiny_llama();
    q5.tensor("blk.0.attn_q.weight").ty = GgmlType::Q5_0;
    seeds.push(("tiny-q5_0", q5.build()));
    let mut two = TinyModel::tiny_llama_spm();
    for t in two.tensors.clone() {
        if let Some(rest) = t.name.strip_prefix("blk.0.") {
            two.tensors.push(TensorSpec {
                name: format!("blk.1.{rest}"),
                ..t
            });
        }
    }
    two.set("llama.block_count", Value::U32(2));
    two.set("general.name", Value::String("Phi-3 tiny".into()));
    two.set("general.alignment", Value::U32(64));
    seeds.push(("tiny-2-blocks", two.build()));
    for (name, bytes) in seeds {
        std::fs::write(dir.join(format!("{name}.gguf")), bytes).unwrap();
    }
}

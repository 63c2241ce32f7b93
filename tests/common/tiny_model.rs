//! Tiny Llama-shaped GGUF models for tests and fuzz seeds, serialised by the library's
//! [`GgufWriter`], and byte patches that bend a valid file into the broken ones the writer
//! refuses to produce (bad magic, unknown types, offsets outside the file, …).
//!
//! Shared by `tests/bad_model.rs` and the fuzz seed generator, so the seeds are exactly the
//! files the tests know to be valid.
#![allow(dead_code)]

use opensoc::gguf::read::{GgmlType, Value};
use opensoc::gguf::write::GgufWriter;

/// One tensor of a tiny model: its data is 1.0 everywhere for F32, zero bytes otherwise.
#[derive(Debug, Clone)]
pub struct TensorSpec {
    /// Tensor name.
    pub name: String,
    /// Dimensions in ggml order (row length first).
    pub dims: Vec<u64>,
    /// Element type.
    pub ty: GgmlType,
}

/// A tiny model before serialisation: metadata (in the writer) and the tensor list.
#[derive(Debug, Clone)]
pub struct TinyModel {
    /// Metadata, in file order.
    pub meta: GgufWriter,
    /// Tensors, in file order.
    pub tensors: Vec<TensorSpec>,
}

fn strs(v: &[&str]) -> Value {
    Value::Array(v.iter().map(|s| Value::String(s.to_string())).collect())
}

fn i32s(v: &[i32]) -> Value {
    Value::Array(v.iter().map(|&x| Value::I32(x)).collect())
}

impl TinyModel {
    /// A valid one-block Llama (hidden 32, 4 heads, 2 KV heads) with a tiny gpt2 vocabulary,
    /// mixing F32, F16, Q8_0 and Q4_0 weights and tied embeddings, as SmolLM2 has.
    pub fn tiny_llama() -> Self {
        let tokens = [
            "a",
            "b",
            "c",
            "ab",
            "\u{120}",
            "\u{120}a",
            "<|endoftext|>",
            "<|im_start|>",
            "<|im_end|>",
            "\u{10a}",
        ];
        let n = tokens.len();
        let mut types = vec![1; n];
        types[6..9].fill(3);
        let mut meta = GgufWriter::new();
        meta.set("general.architecture", Value::String("llama".into()))
            .set("general.name", Value::String("tiny".into()))
            .set("llama.context_length", Value::U32(64))
            .set("llama.embedding_length", Value::U32(32))
            .set("llama.block_count", Value::U32(1))
            .set("llama.feed_forward_length", Value::U32(64))
            .set("llama.attention.head_count", Value::U32(4))
            .set("llama.attention.head_count_kv", Value::U32(2))
            .set("llama.rope.freq_base", Value::F32(10000.0))
            .set("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5))
            .set("llama.vocab_size", Value::U32(n as u32))
            .set("tokenizer.ggml.model", Value::String("gpt2".into()))
            .set("tokenizer.ggml.pre", Value::String("smollm".into()))
            .set("tokenizer.ggml.tokens", strs(&tokens))
            .set("tokenizer.ggml.token_type", i32s(&types))
            .set("tokenizer.ggml.merges", strs(&["a b", "\u{120} a"]))
            .set("tokenizer.ggml.bos_token_id", Value::U32(6))
            .set("tokenizer.ggml.eos_token_id", Value::U32(8))
            .set("tokenizer.ggml.add_bos_token", Value::Bool(false));
        let t = |name: &str, dims: &[u64], ty: GgmlType| TensorSpec {
            name: name.into(),
            dims: dims.to_vec(),
            ty,
        };
        let n = n as u64;
        use GgmlType::{F16, F32, Q4_0, Q8_0};
        let tensors = vec![
            t("token_embd.weight", &[32, n], F32),
            t("blk.0.attn_norm.weight", &[32], F32),
            t("blk.0.attn_q.weight", &[32, 32], Q8_0),
            t("blk.0.attn_k.weight", &[32, 16], Q8_0),
            t("blk.0.attn_v.weight", &[32, 16], F16),
            t("blk.0.attn_output.weight", &[32, 32], Q4_0),
            t("blk.0.ffn_norm.weight", &[32], F32),
            t("blk.0.ffn_gate.weight", &[32, 64], Q8_0),
            t("blk.0.ffn_up.weight", &[32, 64], Q8_0),
            t("blk.0.ffn_down.weight", &[64, 32], F16),
            t("output_norm.weight", &[32], F32),
        ];
        Self { meta, tensors }
    }

    /// The same model with a SentencePiece (`llama`) vocabulary, scores and byte tokens, and a
    /// separate output head.
    pub fn tiny_llama_spm() -> Self {
        let mut s = Self::tiny_llama();
        let tokens = [
            "<unk>",
            "<s>",
            "</s>",
            "<0x0A>",
            "\u{2581}",
            "a",
            "b",
            "\u{2581}a",
            "ab",
            "\u{2581}ab",
        ];
        let scores = (0..tokens.len()).map(|i| Value::F32(-(i as f32))).collect();
        s.remove("tokenizer.ggml.merges");
        s.remove("tokenizer.ggml.pre");
        s.set("tokenizer.ggml.model", Value::String("llama".into()));
        s.set("tokenizer.ggml.tokens", strs(&tokens));
        s.set("tokenizer.ggml.scores", Value::Array(scores));
        s.set(
            "tokenizer.ggml.token_type",
            i32s(&[2, 3, 3, 6, 1, 1, 1, 1, 1, 1]),
        );
        s.set("tokenizer.ggml.bos_token_id", Value::U32(1));
        s.set("tokenizer.ggml.eos_token_id", Value::U32(2));
        s.set("tokenizer.ggml.unknown_token_id", Value::U32(0));
        s.set("tokenizer.ggml.add_bos_token", Value::Bool(true));
        s.tensors.push(TensorSpec {
            name: "output.weight".into(),
            dims: vec![32, tokens.len() as u64],
            ty: GgmlType::Q8_0,
        });
        s
    }

    /// Sets (or appends) a metadata value.
    pub fn set(&mut self, key: &str, v: Value) -> &mut Self {
        self.meta.set(key, v);
        self
    }

    /// Removes a metadata key.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.meta.remove(key);
        self
    }

    /// The tensor called `name`; panics if there is none (a bug in the test itself).
    pub fn tensor(&mut self, name: &str) -> &mut TensorSpec {
        self.tensors
            .iter_mut()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no tensor {name} in the spec"))
    }

    /// The file's bytes, as the library writer serialises them.
    pub fn build(&self) -> Vec<u8> {
        let mut w = self.meta.clone();
        for t in &self.tensors {
            let elements: u64 = t.dims.iter().product();
            let size = elements / t.ty.block_elements() * t.ty.block_bytes();
            let data = if t.ty == GgmlType::F32 {
                1.0f32.to_le_bytes().repeat(elements as usize)
            } else {
                vec![0; size as usize]
            };
            w.add_tensor(t.name.clone(), &t.dims, t.ty, data)
                .unwrap_or_else(|e| panic!("tiny model: {e}"));
        }
        w.to_bytes().unwrap_or_else(|e| panic!("tiny model: {e}"))
    }
}

/// Byte offset of the first occurrence of `needle` in `hay`; panics if absent.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(needle)))
}

/// A GGUF string as it is encoded: u64 length, then the bytes.
fn encoded(s: &str) -> Vec<u8> {
    let mut b = (s.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(s.as_bytes());
    b
}

/// Offset of the directory entry of tensor `name` just after its name (its `n_dims`).
fn after_tensor_name(bytes: &[u8], name: &str) -> usize {
    let e = encoded(name);
    find(bytes, &e) + e.len()
}

/// Offset of the value of metadata `key` (after its type id).
pub fn value_offset(bytes: &[u8], key: &str) -> usize {
    let e = encoded(key);
    find(bytes, &e) + e.len() + 4
}

/// Overwrites the format version.
pub fn patch_version(bytes: &mut [u8], version: u32) {
    bytes[4..8].copy_from_slice(&version.to_le_bytes());
}

/// Overwrites the type id of tensor `name`.
pub fn patch_tensor_type(bytes: &mut [u8], name: &str, id: u32) {
    let at = after_tensor_name(bytes, name);
    let n_dims = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let at = at + 4 + 8 * n_dims;
    bytes[at..at + 4].copy_from_slice(&id.to_le_bytes());
}

/// Overwrites the data offset of tensor `name`.
pub fn patch_tensor_offset(bytes: &mut [u8], name: &str, offset: u64) {
    let at = after_tensor_name(bytes, name);
    let n_dims = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let at = at + 4 + 8 * n_dims + 4;
    bytes[at..at + 8].copy_from_slice(&offset.to_le_bytes());
}

/// Replaces the dimensions of tensor `name` (the entry grows or shrinks with their count; the
/// header is then no longer padded as the data section expects, which only matters for files
/// meant to parse).
pub fn patch_tensor_dims(bytes: &mut Vec<u8>, name: &str, dims: &[u64]) {
    let at = after_tensor_name(bytes, name);
    let n_dims = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let mut entry = (dims.len() as u32).to_le_bytes().to_vec();
    for d in dims {
        entry.extend_from_slice(&d.to_le_bytes());
    }
    bytes.splice(at..at + 4 + 8 * n_dims, entry);
}

/// Renames tensor `from` to `to`, which must have the same length.
pub fn patch_tensor_name(bytes: &mut [u8], from: &str, to: &str) {
    assert_eq!(from.len(), to.len(), "a rename must keep the length");
    let at = after_tensor_name(bytes, from) - from.len();
    bytes[at..at + to.len()].copy_from_slice(to.as_bytes());
}

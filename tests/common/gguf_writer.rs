//! A small GGUF writer for tests and fuzz seeds: tiny Llama-shaped models that can be bent
//! into every kind of broken file before they are serialised.
//!
//! Shared by `tests/bad_model.rs` and the fuzz seed generator, so the seeds are exactly the
//! files the tests know to be valid.
#![allow(dead_code)]

/// A metadata value.
#[derive(Debug, Clone)]
pub enum Val {
    U32(u32),
    U64(u64),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(String),
    Strs(Vec<String>),
    F32s(Vec<f32>),
    I32s(Vec<i32>),
}

/// One tensor of the directory.
#[derive(Debug, Clone)]
pub struct TensorSpec {
    /// Tensor name.
    pub name: String,
    /// Dimensions in ggml order (row length first).
    pub dims: Vec<u64>,
    /// ggml type id.
    pub ty: u32,
    /// Data offset written to the directory; `None` places it after the previous tensor.
    pub offset: Option<u64>,
}

/// A whole GGUF file, before serialisation.
#[derive(Debug, Clone)]
pub struct GgufSpec {
    /// Magic bytes.
    pub magic: [u8; 4],
    /// Format version.
    pub version: u32,
    /// Metadata in file order.
    pub kv: Vec<(String, Val)>,
    /// Tensor directory in file order.
    pub tensors: Vec<TensorSpec>,
}

/// ggml type ids the writer uses.
pub const F32: u32 = 0;
pub const F16: u32 = 1;
pub const Q4_0: u32 = 2;
pub const Q5_0: u32 = 6;
pub const Q8_0: u32 = 8;
/// IQ2_XXS: a real ggml type that opensoc does not know.
pub const IQ2_XXS: u32 = 16;

/// (elements, bytes) per block of a ggml type; unknown ids count as F32 so a file still lays out.
fn block(ty: u32) -> (u64, u64) {
    match ty {
        F16 | 30 => (1, 2),
        Q4_0 => (32, 18),
        3 => (32, 20),
        Q5_0 => (32, 22),
        7 => (32, 24),
        Q8_0 => (32, 34),
        12 => (256, 144),
        14 => (256, 210),
        _ => (1, 4),
    }
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&(s.len() as u64).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
}

fn put_val(b: &mut Vec<u8>, v: &Val) {
    let array = |b: &mut Vec<u8>, ty: u32, n: usize| {
        b.extend_from_slice(&9u32.to_le_bytes());
        b.extend_from_slice(&ty.to_le_bytes());
        b.extend_from_slice(&(n as u64).to_le_bytes());
    };
    match v {
        Val::U32(x) => {
            b.extend_from_slice(&4u32.to_le_bytes());
            b.extend_from_slice(&x.to_le_bytes());
        }
        Val::U64(x) => {
            b.extend_from_slice(&10u32.to_le_bytes());
            b.extend_from_slice(&x.to_le_bytes());
        }
        Val::I32(x) => {
            b.extend_from_slice(&5u32.to_le_bytes());
            b.extend_from_slice(&x.to_le_bytes());
        }
        Val::F32(x) => {
            b.extend_from_slice(&6u32.to_le_bytes());
            b.extend_from_slice(&x.to_le_bytes());
        }
        Val::Bool(x) => {
            b.extend_from_slice(&7u32.to_le_bytes());
            b.push(u8::from(*x));
        }
        Val::Str(s) => {
            b.extend_from_slice(&8u32.to_le_bytes());
            put_str(b, s);
        }
        Val::Strs(a) => {
            array(b, 8, a.len());
            for s in a {
                put_str(b, s);
            }
        }
        Val::F32s(a) => {
            array(b, 6, a.len());
            for x in a {
                b.extend_from_slice(&x.to_le_bytes());
            }
        }
        Val::I32s(a) => {
            array(b, 5, a.len());
            for x in a {
                b.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
}

fn strs(v: &[&str]) -> Val {
    Val::Strs(v.iter().map(|s| s.to_string()).collect())
}

impl GgufSpec {
    /// A valid one-block Llama (hidden 32, 4 heads, 2 KV heads) with a tiny gpt2 vocabulary,
    /// mixing F32, F16 and Q8_0 weights and tied embeddings, as SmolLM2 has.
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
        let kv = vec![
            ("general.architecture".into(), Val::Str("llama".into())),
            ("general.name".into(), Val::Str("tiny".into())),
            ("llama.context_length".into(), Val::U32(64)),
            ("llama.embedding_length".into(), Val::U32(32)),
            ("llama.block_count".into(), Val::U32(1)),
            ("llama.feed_forward_length".into(), Val::U32(64)),
            ("llama.attention.head_count".into(), Val::U32(4)),
            ("llama.attention.head_count_kv".into(), Val::U32(2)),
            ("llama.rope.freq_base".into(), Val::F32(10000.0)),
            (
                "llama.attention.layer_norm_rms_epsilon".into(),
                Val::F32(1e-5),
            ),
            ("llama.vocab_size".into(), Val::U32(n as u32)),
            ("tokenizer.ggml.model".into(), Val::Str("gpt2".into())),
            ("tokenizer.ggml.pre".into(), Val::Str("smollm".into())),
            ("tokenizer.ggml.tokens".into(), strs(&tokens)),
            ("tokenizer.ggml.token_type".into(), Val::I32s(types)),
            ("tokenizer.ggml.merges".into(), strs(&["a b", "\u{120} a"])),
            ("tokenizer.ggml.bos_token_id".into(), Val::U32(6)),
            ("tokenizer.ggml.eos_token_id".into(), Val::U32(8)),
            ("tokenizer.ggml.add_bos_token".into(), Val::Bool(false)),
        ];
        let t = |name: &str, dims: &[u64], ty: u32| TensorSpec {
            name: name.into(),
            dims: dims.to_vec(),
            ty,
            offset: None,
        };
        let n = n as u64;
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
        Self {
            magic: *b"GGUF",
            version: 3,
            kv,
            tensors,
        }
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
        let scores: Vec<f32> = (0..tokens.len()).map(|i| -(i as f32)).collect();
        let types = vec![2, 3, 3, 6, 1, 1, 1, 1, 1, 1];
        s.remove("tokenizer.ggml.merges");
        s.remove("tokenizer.ggml.pre");
        s.set("tokenizer.ggml.model", Val::Str("llama".into()));
        s.set("tokenizer.ggml.tokens", strs(&tokens));
        s.set("tokenizer.ggml.scores", Val::F32s(scores));
        s.set("tokenizer.ggml.token_type", Val::I32s(types));
        s.set("tokenizer.ggml.bos_token_id", Val::U32(1));
        s.set("tokenizer.ggml.eos_token_id", Val::U32(2));
        s.set("tokenizer.ggml.unknown_token_id", Val::U32(0));
        s.set("tokenizer.ggml.add_bos_token", Val::Bool(true));
        s.tensors.push(TensorSpec {
            name: "output.weight".into(),
            dims: vec![32, tokens.len() as u64],
            ty: Q8_0,
            offset: None,
        });
        s
    }

    /// Sets (or appends) a metadata value.
    pub fn set(&mut self, key: &str, v: Val) -> &mut Self {
        match self.kv.iter_mut().find(|(k, _)| k == key) {
            Some((_, old)) => *old = v,
            None => self.kv.push((key.to_string(), v)),
        }
        self
    }

    /// Removes a metadata key.
    pub fn remove(&mut self, key: &str) -> &mut Self {
        self.kv.retain(|(k, _)| k != key);
        self
    }

    /// The tensor called `name`; panics if there is none (a bug in the test itself).
    pub fn tensor(&mut self, name: &str) -> &mut TensorSpec {
        self.tensors
            .iter_mut()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no tensor {name} in the spec"))
    }

    /// Serialises the file: header, metadata, directory, padding to the alignment, then the tensor data
    /// (each tensor aligned; F32 weights are 1.0, everything else zero bytes).
    pub fn build(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&self.magic);
        b.extend_from_slice(&self.version.to_le_bytes());
        b.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        b.extend_from_slice(&(self.kv.len() as u64).to_le_bytes());
        for (k, v) in &self.kv {
            put_str(&mut b, k);
            put_val(&mut b, v);
        }
        // Tensors and the data section honour general.alignment, as the parser expects.
        let align = match self.kv.iter().find(|(k, _)| k == "general.alignment") {
            Some((_, Val::U32(a))) if *a > 0 => u64::from(*a),
            Some((_, Val::U64(a))) if *a > 0 => *a,
            _ => 32,
        };
        let mut next = 0u64;
        let mut data: Vec<(u64, u32, u64)> = Vec::new();
        for t in &self.tensors {
            put_str(&mut b, &t.name);
            b.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                b.extend_from_slice(&d.to_le_bytes());
            }
            b.extend_from_slice(&t.ty.to_le_bytes());
            let (be, bb) = block(t.ty);
            let elements = t.dims.iter().fold(1u64, |a, &d| a.saturating_mul(d));
            // Absurd shapes get no data at all: the parser must reject them from the header.
            let size = if elements > 1 << 24 {
                0
            } else {
                (elements / be * bb).div_ceil(align) * align
            };
            let offset = t.offset.unwrap_or(next);
            b.extend_from_slice(&offset.to_le_bytes());
            if t.offset.is_none() {
                data.push((offset, t.ty, size));
                next += size;
            }
        }
        while !(b.len() as u64).is_multiple_of(align) {
            b.push(0);
        }
        let start = b.len();
        b.resize(start + next as usize, 0);
        for (offset, ty, size) in data {
            if ty == F32 {
                let at = start + offset as usize;
                for c in b[at..at + size as usize].chunks_exact_mut(4) {
                    c.copy_from_slice(&1.0f32.to_le_bytes());
                }
            }
        }
        b
    }
}

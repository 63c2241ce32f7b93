//! A GGUF model's vital statistics (`opensoc model info`), for people and as JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::gguf::file::{ModelFile, ModelFileError};
use crate::gguf::read::{Gguf, GgufError, Value};
use crate::util::thousands::grouped;

/// Rope base that llama.cpp assumes when `{arch}.rope.freq_base` is absent.
pub const DEFAULT_ROPE_FREQ_BASE: f64 = 10_000.0;

/// What a GGUF file says about its model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// Path of the file.
    pub path: String,
    /// Size of the file in bytes.
    pub file_size: u64,
    /// GGUF format version.
    pub gguf_version: u32,
    /// `general.architecture`, e.g. `llama`.
    pub architecture: String,
    /// `general.name`, if present.
    pub name: Option<String>,
    /// Number of weights: the sum of all tensors' elements.
    pub parameters: u64,
    /// Number of tensors.
    pub tensor_count: usize,
    /// Tensors per ggml type, e.g. `Q4_1: 211`.
    pub tensor_types: BTreeMap<String, usize>,
    /// `{arch}.context_length`: the training context.
    pub context_length: Option<u64>,
    /// `{arch}.embedding_length`: the hidden size.
    pub embedding_length: Option<u64>,
    /// `{arch}.block_count`: the number of layers.
    pub block_count: Option<u64>,
    /// `{arch}.attention.head_count`.
    pub head_count: Option<u64>,
    /// `{arch}.attention.head_count_kv` (grouped-query attention when below `head_count`).
    pub head_count_kv: Option<u64>,
    /// `{arch}.feed_forward_length`.
    pub feed_forward_length: Option<u64>,
    /// `{arch}.rope.freq_base`, [`DEFAULT_ROPE_FREQ_BASE`] when absent.
    pub rope_freq_base: f64,
    /// `{arch}.attention.layer_norm_rms_epsilon`.
    pub rms_epsilon: Option<f64>,
    /// `{arch}.vocab_size`, else the length of `tokenizer.ggml.tokens`.
    pub vocab_size: Option<u64>,
    /// `tokenizer.ggml.model`, e.g. `gpt2` (BPE) or `llama` (SentencePiece).
    pub tokenizer_model: Option<String>,
    /// `tokenizer.ggml.pre`: the pre-tokenizer, e.g. `smollm`.
    pub tokenizer_pre: Option<String>,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos_token_id: Option<u64>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos_token_id: Option<u64>,
    /// Whether the output head reuses the token embedding (no `output.weight` tensor).
    pub tied_output: bool,
    /// `tokenizer.chat_template`, in full.
    pub chat_template: Option<String>,
}

impl ModelInfo {
    /// Reads the information of an open model file.
    pub fn from_file(file: &ModelFile) -> Result<Self, ModelFileError> {
        Self::from_gguf(&file.gguf, file.path(), file.bytes().len() as u64)
            .map_err(|e| file.error(e))
    }

    /// Opens the GGUF file at `path` and reads its information.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ModelFileError> {
        Self::from_file(&ModelFile::open(path)?)
    }

    /// Reads the information from a parsed header; `path` and `file_size` are reported as given.
    pub fn from_gguf(g: &Gguf, path: &Path, file_size: u64) -> Result<Self, GgufError> {
        let arch = g.architecture()?.to_string();
        let u = |key: &str| g.get(key).and_then(|v| v.as_u64());
        let a = |key: &str| u(&format!("{arch}.{key}"));
        let s = |key: &str| g.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let mut tensor_types = BTreeMap::new();
        for t in &g.tensors {
            *tensor_types.entry(t.ty.to_string()).or_insert(0) += 1;
        }
        let vocab_size = a("vocab_size").or_else(|| {
            g.get("tokenizer.ggml.tokens")
                .and_then(|v| v.as_array())
                .map(|t| t.len() as u64)
        });
        Ok(Self {
            path: path.display().to_string(),
            file_size,
            gguf_version: g.version,
            name: s("general.name"),
            parameters: g.tensors.iter().map(|t| t.elements()).sum(),
            tensor_count: g.tensors.len(),
            tensor_types,
            context_length: a("context_length"),
            embedding_length: a("embedding_length"),
            block_count: a("block_count"),
            head_count: a("attention.head_count"),
            head_count_kv: a("attention.head_count_kv"),
            feed_forward_length: a("feed_forward_length"),
            rope_freq_base: g
                .get(&format!("{arch}.rope.freq_base"))
                .and_then(number)
                .unwrap_or(DEFAULT_ROPE_FREQ_BASE),
            rms_epsilon: g
                .get(&format!("{arch}.attention.layer_norm_rms_epsilon"))
                .and_then(number),
            vocab_size,
            tokenizer_model: s("tokenizer.ggml.model"),
            tokenizer_pre: s("tokenizer.ggml.pre"),
            bos_token_id: u("tokenizer.ggml.bos_token_id"),
            eos_token_id: u("tokenizer.ggml.eos_token_id"),
            tied_output: g.tensor("output.weight").is_none(),
            chat_template: s("tokenizer.chat_template"),
            architecture: arch,
        })
    }

    /// Tensor type counts, most frequent first: `Q4_1: 211, F32: 61`.
    pub fn tensor_types_summary(&self) -> String {
        let mut v: Vec<(&String, &usize)> = self.tensor_types.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.iter()
            .map(|(t, n)| format!("{t}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A number as f64; an f32 goes through its shortest decimal form, so that 1e-5 stored as f32
/// reads 1e-5 rather than 9.999999747378752e-6.
fn number(v: &Value) -> Option<f64> {
    match *v {
        Value::F32(x) => x.to_string().parse().ok(),
        _ => v.as_f64(),
    }
}

/// Human rendering; the alternate form (`{:#}`) prints the chat template in full.
impl fmt::Display for ModelInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn opt<T: fmt::Display>(v: &Option<T>) -> String {
            v.as_ref()
                .map_or_else(|| "(absent)".to_string(), |v| v.to_string())
        }
        let rows: Vec<(&str, String)> = vec![
            (
                "file",
                format!("{} ({} bytes)", self.path, grouped(self.file_size)),
            ),
            ("gguf version", self.gguf_version.to_string()),
            ("architecture", self.architecture.clone()),
            ("name", opt(&self.name)),
            (
                "parameters",
                format!(
                    "{:.1}M ({})",
                    self.parameters as f64 / 1e6,
                    grouped(self.parameters)
                ),
            ),
            (
                "tensors",
                format!("{} ({})", self.tensor_count, self.tensor_types_summary()),
            ),
            ("context length", opt(&self.context_length)),
            ("embedding length", opt(&self.embedding_length)),
            ("blocks", opt(&self.block_count)),
            ("heads", opt(&self.head_count)),
            ("kv heads", opt(&self.head_count_kv)),
            ("feed-forward length", opt(&self.feed_forward_length)),
            ("rope base", self.rope_freq_base.to_string()),
            ("rms epsilon", opt(&self.rms_epsilon)),
            ("vocab size", opt(&self.vocab_size)),
            ("tokenizer", opt(&self.tokenizer_model)),
            ("pre-tokenizer", opt(&self.tokenizer_pre)),
            ("bos id", opt(&self.bos_token_id)),
            ("eos id", opt(&self.eos_token_id)),
            (
                "output head",
                if self.tied_output {
                    "tied to token embedding".to_string()
                } else {
                    "separate (output.weight)".to_string()
                },
            ),
        ];
        for (k, v) in rows {
            writeln!(f, "{k:<20}{v}")?;
        }
        match &self.chat_template {
            None => writeln!(f, "{:<20}(absent)", "chat template"),
            Some(t) if f.alternate() => writeln!(f, "chat template:\n{t}"),
            Some(t) => {
                let first = t.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                let first = first.trim();
                let cut = first.floor_char_boundary(60);
                let ellipsis = if cut < first.len() { "…" } else { "" };
                writeln!(
                    f,
                    "{:<20}{} lines, {} bytes: {}{ellipsis} (--template prints it)",
                    "chat template",
                    t.lines().count(),
                    t.len(),
                    &first[..cut]
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fetch::ensure_default_model;

    use crate::gguf::read::GgmlType;
    use crate::gguf::write::GgufWriter;

    /// A GGUF v3 file with the given metadata and zero-filled F32 tensors (name, ggml dims).
    fn write_gguf(kv: &[(&str, Value)], tensors: &[(&str, &[u64])]) -> Vec<u8> {
        let mut w = GgufWriter::new();
        for (k, v) in kv {
            w.set(*k, v.clone());
        }
        for (name, dims) in tensors {
            let n: u64 = dims.iter().product();
            w.add_tensor(*name, dims, GgmlType::F32, vec![0; 4 * n as usize])
                .unwrap();
        }
        w.to_bytes().unwrap()
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    fn tiny_llama(tied: bool) -> Vec<u8> {
        let mut tensors: Vec<(&str, &[u64])> = vec![
            ("token_embd.weight", &[8, 5]),
            ("blk.0.attn_q.weight", &[8, 8]),
            ("output_norm.weight", &[8]),
        ];
        if !tied {
            tensors.push(("output.weight", &[8, 5]));
        }
        write_gguf(
            &[
                ("general.architecture", s("llama")),
                ("general.name", s("tiny")),
                ("llama.context_length", Value::U32(128)),
                ("llama.embedding_length", Value::U32(8)),
                ("llama.block_count", Value::U32(1)),
                ("llama.attention.head_count", Value::U32(2)),
                ("llama.attention.head_count_kv", Value::U32(1)),
                ("llama.feed_forward_length", Value::U32(16)),
                ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
                ("tokenizer.ggml.model", s("gpt2")),
                ("tokenizer.ggml.pre", s("smollm")),
                (
                    "tokenizer.ggml.tokens",
                    Value::Array(["a", "b", "c", "d", "e"].map(s).to_vec()),
                ),
                ("tokenizer.ggml.bos_token_id", Value::U32(1)),
                ("tokenizer.ggml.eos_token_id", Value::U32(2)),
                (
                    "tokenizer.chat_template",
                    s("{% for m in messages %}\n{{ m.content }}\n{% endfor %}"),
                ),
            ],
            &tensors,
        )
    }

    #[test]
    fn reads_a_small_model() {
        let bytes = tiny_llama(true);
        let g = Gguf::parse(&bytes).unwrap();
        let info = ModelInfo::from_gguf(&g, Path::new("tiny.gguf"), bytes.len() as u64).unwrap();
        assert_eq!(info.architecture, "llama");
        assert_eq!(info.name.as_deref(), Some("tiny"));
        assert_eq!(info.parameters, 40 + 64 + 8);
        assert_eq!(info.tensor_count, 3);
        assert_eq!(info.tensor_types.get("F32"), Some(&3));
        assert_eq!(info.context_length, Some(128));
        assert_eq!(info.embedding_length, Some(8));
        assert_eq!(info.block_count, Some(1));
        assert_eq!(info.head_count, Some(2));
        assert_eq!(info.head_count_kv, Some(1));
        assert_eq!(info.feed_forward_length, Some(16));
        assert_eq!(info.rope_freq_base, DEFAULT_ROPE_FREQ_BASE);
        assert_eq!(info.rms_epsilon, Some(1e-5));
        assert_eq!(info.vocab_size, Some(5));
        assert_eq!(info.tokenizer_model.as_deref(), Some("gpt2"));
        assert_eq!(info.tokenizer_pre.as_deref(), Some("smollm"));
        assert_eq!((info.bos_token_id, info.eos_token_id), (Some(1), Some(2)));
        assert!(info.tied_output);

        let short = info.to_string();
        assert!(short.contains("architecture        llama"), "{short}");
        assert!(short.contains("tensors             3 (F32: 3)"), "{short}");
        assert!(
            short.contains("3 lines") && !short.contains("endfor"),
            "{short}"
        );
        let full = format!("{info:#}");
        assert!(full.contains("{% endfor %}"), "{full}");

        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(json["block_count"], 1);
        assert_eq!(json["tensor_types"]["F32"], 3);
        assert_eq!(json["tied_output"], true);
    }

    #[test]
    fn untied_head_and_missing_architecture() {
        let bytes = tiny_llama(false);
        let g = Gguf::parse(&bytes).unwrap();
        let info = ModelInfo::from_gguf(&g, Path::new("t"), 0).unwrap();
        assert!(!info.tied_output);

        let bytes = write_gguf(&[("general.name", s("x"))], &[("w", &[4])]);
        let g = Gguf::parse(&bytes).unwrap();
        let err = ModelInfo::from_gguf(&g, Path::new("t"), 0).unwrap_err();
        assert!(err.to_string().contains("general.architecture"), "{err}");
    }

    #[test]
    fn open_names_the_file_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("junk.gguf");
        std::fs::write(&p, b"not a gguf at all").unwrap();
        let err = ModelInfo::open(&p).unwrap_err();
        assert!(err.to_string().contains("junk.gguf"), "{err}");
        let p = dir.path().join("tiny.gguf");
        std::fs::write(&p, tiny_llama(true)).unwrap();
        let info = ModelInfo::open(&p).unwrap();
        assert_eq!(info.file_size, std::fs::metadata(&p).unwrap().len());
    }

    #[test]
    fn the_default_model() {
        let path = ensure_default_model(false).expect("default model (fetched if absent)");
        let info = ModelInfo::open(&path).unwrap();
        assert_eq!(info.architecture, "llama");
        assert_eq!(info.block_count, Some(30));
        assert_eq!(info.head_count, Some(9));
        assert_eq!(info.head_count_kv, Some(3));
        assert_eq!(info.embedding_length, Some(576));
        assert_eq!(info.vocab_size, Some(49152));
        assert!(info.tied_output);
        assert_eq!(info.tokenizer_pre.as_deref(), Some("smollm"));
        assert_eq!(info.tokenizer_model.as_deref(), Some("gpt2"));
        assert_eq!(info.file_size, crate::model::fetch::DEFAULT_SIZE);
        assert!(info.chat_template.is_some());
    }
}

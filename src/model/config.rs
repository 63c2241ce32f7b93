//! What a Llama model is, whatever runs it: the hyper-parameters read from a GGUF header, the
//! errors of loading and running one, and the tables and shape checks every backend shares.

use crate::gguf::file::ModelFileError;
use crate::gguf::read::{Gguf, GgufError, TensorInfo};

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    File(#[from] ModelFileError),
    #[error("model file {path}: {problem}")]
    Invalid { path: String, problem: String },
    #[error("model computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("the sequence of {len} tokens exceeds the context of {max} tokens")]
    ContextOverflow { len: usize, max: usize },
    #[error("token id {id} is outside the vocabulary of {vocab}")]
    BadToken { id: u32, vocab: usize },
    #[error("the adapter does not fit the model: {0}")]
    Adapter(String),
    #[error("backend unavailable: {0}")]
    Backend(String),
}

/// Most context positions × head size accepted (RoPE tables of 2 × 256 MiB; 1M positions at
/// head size 128).
pub const MAX_ROPE_ENTRIES: usize = 1 << 27;

/// Hyper-parameters read from the GGUF metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// Transformer blocks.
    pub n_layer: usize,
    /// Hidden size.
    pub n_embd: usize,
    /// Query heads.
    pub n_head: usize,
    /// Key/value heads (fewer than `n_head` under grouped-query attention).
    pub n_head_kv: usize,
    /// MLP inner size.
    pub n_ff: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// Training context length.
    pub ctx_len: usize,
    /// RoPE base frequency.
    pub rope_base: f32,
    /// RMSNorm epsilon.
    pub rms_eps: f32,
}

impl LlamaConfig {
    /// Reads the `llama.*` keys of a GGUF header.
    pub fn from_gguf(g: &Gguf) -> Result<Self, GgufError> {
        let arch = g.architecture()?;
        if arch != "llama" {
            return Err(GgufError::Metadata {
                key: "general.architecture".into(),
                problem: format!("architecture {arch:?} is not supported (only \"llama\")"),
            });
        }
        let u = |k: &str| g.get_u64(&format!("llama.{k}")).map(|v| v as usize);
        let n_embd = u("embedding_length")?;
        let n_head = u("attention.head_count")?;
        let vocab = match u("vocab_size") {
            Ok(v) => v,
            Err(_) => g.get_strings("tokenizer.ggml.tokens")?.len(),
        };
        let cfg = Self {
            n_layer: u("block_count")?,
            n_embd,
            n_head,
            n_head_kv: u("attention.head_count_kv").unwrap_or(n_head),
            n_ff: u("feed_forward_length")?,
            vocab,
            ctx_len: u("context_length")?,
            rope_base: g.get_f64("llama.rope.freq_base").unwrap_or(10_000.0) as f32,
            rms_eps: g
                .get_f64("llama.attention.layer_norm_rms_epsilon")
                .unwrap_or(1e-5) as f32,
        };
        let bad = |problem: String| GgufError::Metadata {
            key: "llama.*".into(),
            problem,
        };
        if cfg.n_head == 0 || cfg.n_head_kv == 0 || !cfg.n_embd.is_multiple_of(cfg.n_head) {
            return Err(bad(format!(
                "{} heads do not divide the hidden size {}",
                cfg.n_head, cfg.n_embd
            )));
        }
        if !cfg.n_head.is_multiple_of(cfg.n_head_kv) {
            return Err(bad(format!(
                "{} query heads are not a multiple of {} key/value heads",
                cfg.n_head, cfg.n_head_kv
            )));
        }
        if !cfg.head_dim().is_multiple_of(2)
            || cfg.n_layer == 0
            || cfg.n_layer > 1024
            || cfg.ctx_len == 0
        {
            return Err(bad(format!("implausible configuration {cfg:?}")));
        }
        // The RoPE tables are built up front for the whole context, so a corrupt context length
        // would otherwise become a multi-terabyte allocation and abort the process.
        if cfg
            .ctx_len
            .checked_mul(cfg.head_dim())
            .is_none_or(|n| n > MAX_ROPE_ENTRIES)
        {
            return Err(bad(format!(
                "context length {} is implausibly large for head size {}",
                cfg.ctx_len,
                cfg.head_dim()
            )));
        }
        Ok(cfg)
    }

    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.n_embd / self.n_head
    }
}

/// RoPE cos/sin tables `[ctx_len, head_dim / 2]` for adjacent-pair rotation (ggml's "normal"
/// mode, which GGUF's permuted Llama weights expect).
///
/// The angle of pair `i` at position `p` is built as ggml builds it, by repeated f32
/// multiplication (`p · s^i`, `s = base^(-2/head_dim)`), so the tables match llama.cpp's to the bit.
pub(crate) fn rope_tables(cfg: &LlamaConfig) -> (Vec<f32>, Vec<f32>) {
    let half = cfg.head_dim() / 2;
    let scale = cfg.rope_base.powf(-2.0 / cfg.head_dim() as f32);
    let n = cfg.ctx_len;
    let mut cos = Vec::with_capacity(n * half);
    let mut sin = Vec::with_capacity(n * half);
    for p in 0..n {
        let mut theta = p as f32;
        for _ in 0..half {
            cos.push(theta.cos());
            sin.push(theta.sin());
            theta *= scale;
        }
    }
    (cos, sin)
}

/// The header entry of weight `name`, checked against the shape the architecture expects:
/// `[n, k]` in GGUF's order, or `[k]` for a vector when `n` is 1. The error is the problem in
/// words.
pub(crate) fn weight_info<'g>(
    g: &'g Gguf,
    name: &str,
    n: usize,
    k: usize,
) -> Result<&'g TensorInfo, String> {
    let t = g
        .tensor(name)
        .ok_or_else(|| format!("tensor {name} is missing"))?;
    let vector_ok = n == 1 && t.dims == [k as u64];
    if t.dims != [k as u64, n as u64] && !vector_ok {
        return Err(format!(
            "tensor {name} has shape {:?}, expected [{k}, {n}]",
            t.dims
        ));
    }
    Ok(t)
}

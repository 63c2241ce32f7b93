//! The Llama forward pass (SmolLM2, TinyLlama and other Llama-architecture GGUF files).
//!
//! Read top to bottom: configuration from the GGUF metadata, weights as quantized matrices
//! straight from the mapped file, then `forward`: embedding lookup, and per block RMSNorm →
//! attention (grouped-query, RoPE, KV cache) → residual → RMSNorm → SwiGLU MLP → residual;
//! a final RMSNorm and the output head.
//!
//! Numerics follow llama.cpp's CPU path where it rounds (keys, values, queries and attention
//! probabilities pass through f16; activations are quantized to 8 bits inside the quantized
//! products), so greedy outputs agree with llama.cpp on the same file.

use candle_core::{CpuStorage, Device, Layout, Shape, Tensor};

use crate::cpu::attention::{attend, Heads, KvCache};
use crate::cpu::ops::{add_assign, rms_norm, rope, swiglu};

use crate::gguf::file::ModelFile;
use crate::model::config::{rope_tables, weight_info, LlamaConfig, ModelError};
use crate::model::language_model::{argmax, LanguageModel};
use crate::model::lora::{LoraAdapter, Target};
use crate::quant::blocks;
use crate::quant::matmul::{apply_all, row_bytes, Input, QMatrix};

/// A linear layer `y = x · Wᵀ` over a quantized weight matrix.
#[derive(Debug, Clone)]
pub struct Linear {
    w: QMatrix,
}

impl Linear {
    /// Wraps a weight matrix.
    pub fn new(w: QMatrix) -> Self {
        Self { w }
    }

    /// The weight matrix.
    pub fn weight(&self) -> &QMatrix {
        &self.w
    }

    /// Applies the layer to `x` of shape `[.., k]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.apply_op1_no_bwd(self)
    }

    #[cfg(feature = "train")]
    /// Applies the layer and records it for backpropagation: the weight stays frozen, the
    /// gradient flows to `x` (training adapters that sit before and after it).
    pub fn forward_trainable(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.apply_op1(self.clone())
    }
}

impl candle_core::CustomOp1 for Linear {
    fn name(&self) -> &'static str {
        "quantized-linear"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = s.as_slice::<f32>()?;
        let x = match l.contiguous_offsets() {
            Some((a, b)) => &x[a..b],
            None => candle_core::bail!("quantized-linear needs a contiguous input"),
        };
        let dims = l.dims();
        let k = *dims.last().unwrap_or(&0);
        if k != self.w.k() {
            candle_core::bail!(
                "quantized-linear: input width {k}, weight expects {}",
                self.w.k()
            );
        }
        let m = x.len() / k;
        let y = self.w.matmul(x, m);
        let mut out = dims.to_vec();
        *out.last_mut().expect("checked non-empty above") = self.w.n();
        Ok((CpuStorage::F32(y), Shape::from(out)))
    }

    /// `∂x = ∂y · W`, with W dequantized for the call (the frozen base stays quantized in
    /// memory; QLoRA's idea).
    #[cfg(feature = "train")]
    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let (n, k) = (self.w.n(), self.w.k());
        let w = Tensor::from_vec(self.w.dequantize(), (n, k), arg.device())?;
        let g = grad_res.reshape(((), n))?.contiguous()?;
        Ok(Some(g.matmul(&w)?.reshape(arg.shape())?))
    }
}

/// Borrowed weights of one block, for backends that upload them and the training graph.
pub(crate) struct BlockWeights<'a> {
    pub attn_norm: &'a [f32],
    pub wq: &'a Linear,
    pub wk: &'a Linear,
    pub wv: &'a Linear,
    pub wo: &'a Linear,
    pub ffn_norm: &'a [f32],
    pub gate: &'a Linear,
    pub up: &'a Linear,
    pub down: &'a Linear,
}

struct Block {
    attn_norm: Vec<f32>,
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    ffn_norm: Vec<f32>,
    gate: Linear,
    up: Linear,
    down: Linear,
}

/// A Llama-architecture model ready to run on the CPU.
pub struct Llama {
    cfg: LlamaConfig,
    embed: QMatrix,
    blocks: Vec<Block>,
    norm: Vec<f32>,
    output: Linear,
    /// RoPE tables, `ctx_len × head_dim/2`.
    cos: Vec<f32>,
    sin: Vec<f32>,
    device: Device,
    /// A LoRA adapter applied unmerged: each adapted projection adds `scale · B·A·x`.
    adapter: Option<LoraAdapter>,
}

impl Llama {
    /// Loads the model in `file`. Weights are read from the mapped file; the projections are
    /// also interleaved in memory where the CPU has kernels for that (see `QMatrix::packed`).
    pub fn load(file: &ModelFile) -> Result<Self, ModelError> {
        let g = &file.gguf;
        let cfg = LlamaConfig::from_gguf(g).map_err(|e| file.error(e))?;
        let device = Device::Cpu;
        let path = file.path().display().to_string();
        let invalid = |problem: String| ModelError::Invalid {
            path: path.clone(),
            problem,
        };
        let map = file.shared_map();
        let matrix = |name: &str, n: usize, k: usize| -> Result<QMatrix, ModelError> {
            let t = weight_info(g, name, n, k).map_err(invalid)?;
            if !blocks::is_supported(t.ty) {
                return Err(invalid(format!(
                    "tensor {name} has type {}, which opensoc does not support \
                     (supported: F32, F16, BF16, Q4_0, Q4_1, Q8_0, Q4_K, Q6_K)",
                    t.ty
                )));
            }
            debug_assert_eq!(t.size as usize, n * row_bytes(t.ty, k));
            let start = (g.data_offset + t.offset) as usize;
            Ok(QMatrix::mapped(t.ty, n, k, map.clone(), start))
        };
        let vector = |name: &str, n: usize| -> Result<Vec<f32>, ModelError> {
            Ok(matrix(name, 1, n)?.dequantize())
        };
        let linear = |name: &str, n: usize, k: usize| {
            Ok::<_, ModelError>(Linear::new(matrix(name, n, k)?.packed()))
        };

        let (d, hd) = (cfg.n_embd, cfg.head_dim());
        let kv = cfg.n_head_kv * hd;
        let embed = matrix("token_embd.weight", cfg.vocab, d)?;
        let mut blocks = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let p = |s: &str| format!("blk.{i}.{s}.weight");
            blocks.push(Block {
                attn_norm: vector(&p("attn_norm"), d)?,
                wq: linear(&p("attn_q"), d, d)?,
                wk: linear(&p("attn_k"), kv, d)?,
                wv: linear(&p("attn_v"), kv, d)?,
                wo: linear(&p("attn_output"), d, d)?,
                ffn_norm: vector(&p("ffn_norm"), d)?,
                gate: linear(&p("ffn_gate"), cfg.n_ff, d)?,
                up: linear(&p("ffn_up"), cfg.n_ff, d)?,
                down: linear(&p("ffn_down"), d, cfg.n_ff)?,
            });
        }
        let norm = vector("output_norm.weight", d)?;
        // Models with tied embeddings (SmolLM2) have no output.weight: the head is the table.
        let output = match g.tensor("output.weight") {
            Some(_) => linear("output.weight", cfg.vocab, d)?,
            None => Linear::new(embed.clone().packed()),
        };
        let (cos, sin) = rope_tables(&cfg);
        Ok(Self {
            cfg,
            embed,
            blocks,
            norm,
            output,
            cos,
            sin,
            device,
            adapter: None,
        })
    }

    /// Applies `adapter` (unmerged) from now on, or none; fails when its shapes do not fit.
    pub fn set_adapter(&mut self, adapter: Option<LoraAdapter>) -> Result<(), ModelError> {
        if let Some(a) = &adapter {
            if a.blocks.len() != self.cfg.n_layer {
                return Err(ModelError::Adapter(format!(
                    "the adapter has {} blocks, the model {}",
                    a.blocks.len(),
                    self.cfg.n_layer
                )));
            }
            for (i, block) in a.blocks.iter().enumerate() {
                for (t, pair) in Target::ALL.iter().zip(block) {
                    if let Some(p) = pair {
                        let (k, n) = t.dims(&self.cfg);
                        if (p.in_dim, p.out_dim) != (k, n)
                            || p.a.len() != p.rank() * k
                            || p.b.len() != n * p.rank()
                        {
                            return Err(ModelError::Adapter(format!(
                                "block {i} {}: adapter shape {}×{} (rank {}), model {k}×{n}",
                                t.name(),
                                p.in_dim,
                                p.out_dim,
                                p.rank()
                            )));
                        }
                    }
                }
            }
        }
        self.adapter = adapter;
        Ok(())
    }

    /// The adapter in use, if any.
    pub fn adapter(&self) -> Option<&LoraAdapter> {
        self.adapter.as_ref()
    }

    /// Adds the adapter's delta for projection `target` of block `layer` to `y`.
    fn add_lora(&self, layer: usize, target: Target, x: &[f32], t: usize, y: &mut [f32]) {
        if let Some(a) = &self.adapter {
            if let Some(p) = a.pair(layer, target) {
                p.add_delta(x, t, a.config.scale(), y);
            }
        }
    }

    /// [`Llama::add_lora`] for each sequence's rows of a batch (`lens` rows each) on its own,
    /// so that a sequence's delta is computed exactly as it is when the sequence runs alone
    /// (the f32 products sum in an order that depends on their row count).
    fn add_lora_each(
        &self,
        layer: usize,
        target: Target,
        x: &[f32],
        y: &mut [f32],
        lens: &[usize],
    ) {
        if self.adapter.is_none() {
            return;
        }
        let total: usize = lens.iter().sum();
        let (k, n) = (x.len() / total, y.len() / total);
        let mut row = 0;
        for &len in lens {
            self.add_lora(
                layer,
                target,
                &x[row * k..(row + len) * k],
                len,
                &mut y[row * n..(row + len) * n],
            );
            row += len;
        }
    }

    /// The model's hyper-parameters.
    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// A fresh KV cache for this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.cfg.n_layer, self.cfg.n_head_kv * self.cfg.head_dim())
    }

    /// The output head (tied to the embedding table in SmolLM2).
    pub fn output(&self) -> &Linear {
        &self.output
    }

    /// The blocks' weights, borrowed.
    pub(crate) fn blocks(&self) -> impl Iterator<Item = BlockWeights<'_>> {
        self.blocks.iter().map(|b| BlockWeights {
            attn_norm: &b.attn_norm,
            wq: &b.wq,
            wk: &b.wk,
            wv: &b.wv,
            wo: &b.wo,
            ffn_norm: &b.ffn_norm,
            gate: &b.gate,
            up: &b.up,
            down: &b.down,
        })
    }

    /// The embedding table (token id → row), for the wgpu backend's upload.
    #[cfg(feature = "wgpu")]
    pub(crate) fn embedding(&self) -> &QMatrix {
        &self.embed
    }

    /// The final RMSNorm's weight.
    pub(crate) fn output_norm(&self) -> &[f32] {
        &self.norm
    }

    /// RoPE cos and sin rows for positions `0..t`, each `t × head_dim/2`.
    pub(crate) fn rope_rows(&self, t: usize) -> (Vec<f32>, Vec<f32>) {
        let half = self.cfg.head_dim() / 2;
        (self.cos[..t * half].to_vec(), self.sin[..t * half].to_vec())
    }

    /// Embedding rows for `tokens` (public to the crate for the training graph).
    #[cfg(feature = "train")]
    pub(crate) fn embed_rows(&self, tokens: &[u32]) -> Result<Vec<f32>, ModelError> {
        self.embed(tokens)
    }

    /// Embedding rows for `tokens`, `tokens.len() × n_embd`.
    fn embed(&self, tokens: &[u32]) -> Result<Vec<f32>, ModelError> {
        let d = self.cfg.n_embd;
        let mut x = vec![0f32; tokens.len() * d];
        for (row, &t) in x.chunks_exact_mut(d).zip(tokens) {
            if t as usize >= self.cfg.vocab {
                return Err(ModelError::BadToken {
                    id: t,
                    vocab: self.cfg.vocab,
                });
            }
            self.embed.dequantize_row(t as usize, row);
        }
        Ok(x)
    }

    /// Runs `tokens` after what `cache` holds; returns the logits of the last position.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Vec<f32>, ModelError> {
        let mut one = [(tokens, cache)];
        Ok(self
            .forward_batch(&mut one)?
            .pop()
            .expect("one sequence in, one out"))
    }

    /// Runs each sequence's tokens after its own cache, all in one pass: the projections
    /// and the MLP see every sequence's rows as one matrix (each weight is read once per
    /// pass, not once per sequence), RoPE and attention run per sequence. Returns each
    /// sequence's last logits, in order; the results equal [`Llama::forward`] on each.
    pub fn forward_batch(
        &self,
        batch: &mut [(&[u32], &mut KvCache)],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let h = self.hidden_states(batch)?;
        let d = self.cfg.n_embd;
        let mut last = Vec::with_capacity(batch.len() * d);
        let mut end = 0;
        for (tokens, _) in batch.iter() {
            end += tokens.len() * d;
            last.extend_from_slice(&h[end - d..end]);
        }
        let logits = self.output.weight().matmul(&last, batch.len());
        if batch.len() == 1 {
            return Ok(vec![logits]);
        }
        Ok(logits
            .chunks_exact(self.cfg.vocab)
            .map(<[f32]>::to_vec)
            .collect())
    }

    /// Runs `tokens` after what `cache` holds; returns the final hidden states
    /// `[tokens.len(), n_embd]` after the output norm (the head's input) as a tensor.
    pub fn hidden(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Tensor, ModelError> {
        let h = self.hidden_states(&mut [(tokens, cache)])?;
        Ok(Tensor::from_vec(
            h,
            (tokens.len(), self.cfg.n_embd),
            &self.device,
        )?)
    }

    /// The forward pass proper over one or more sequences: their hidden states after the
    /// output norm, `Σ tokens × n_embd`, the sequences' rows one after another.
    fn hidden_states(&self, batch: &mut [(&[u32], &mut KvCache)]) -> Result<Vec<f32>, ModelError> {
        let cfg = &self.cfg;
        for (tokens, cache) in batch.iter() {
            let (t, pos) = (tokens.len(), cache.len());
            if t == 0 || pos + t > cfg.ctx_len {
                return Err(ModelError::ContextOverflow {
                    len: pos + t,
                    max: cfg.ctx_len,
                });
            }
        }
        let (hd, eps) = (cfg.head_dim(), cfg.rms_eps);
        let heads = Heads {
            n_head: cfg.n_head,
            n_head_kv: cfg.n_head_kv,
            head_dim: hd,
        };
        let (q_dim, kv_dim) = (cfg.n_head * hd, cfg.n_head_kv * hd);
        let all: Vec<u32> = batch.iter().flat_map(|(t, _)| t.iter().copied()).collect();
        let lens: Vec<usize> = batch.iter().map(|(t, _)| t.len()).collect();
        let t = all.len();
        let mut x = self.embed(&all)?;
        let mut h = vec![0f32; x.len()];
        for (i, b) in self.blocks.iter().enumerate() {
            rms_norm(&x, &b.attn_norm, eps, &mut h);
            let [mut q, mut k, mut v]: [Vec<f32>; 3] =
                apply_all(&[&b.wq.w, &b.wk.w, &b.wv.w], &Input::new(&h, cfg.n_embd))
                    .try_into()
                    .expect("three products");
            self.add_lora_each(i, Target::QProj, &h, &mut q, &lens);
            self.add_lora_each(i, Target::KProj, &h, &mut k, &lens);
            self.add_lora_each(i, Target::VProj, &h, &mut v, &lens);
            // Positions and keys are each sequence's own.
            let mut parts = Vec::with_capacity(batch.len());
            let mut row = 0;
            for (tokens, cache) in batch.iter_mut() {
                let (n, pos) = (tokens.len(), cache.len());
                let (qs, ks, vs) = (
                    &mut q[row * q_dim..(row + n) * q_dim],
                    &mut k[row * kv_dim..(row + n) * kv_dim],
                    &v[row * kv_dim..(row + n) * kv_dim],
                );
                rope(qs, cfg.n_head, hd, pos, &self.cos, &self.sin);
                rope(ks, cfg.n_head_kv, hd, pos, &self.cos, &self.sin);
                parts.push(attend(qs, ks, vs, cache, i, heads));
                row += n;
            }
            let a = if parts.len() == 1 {
                parts.pop().expect("one sequence")
            } else {
                parts.concat()
            };
            let mut o = b.wo.w.matmul(&a, t);
            self.add_lora_each(i, Target::OProj, &a, &mut o, &lens);
            add_assign(&mut x, &o);
            rms_norm(&x, &b.ffn_norm, eps, &mut h);
            let [mut g, mut u]: [Vec<f32>; 2] =
                apply_all(&[&b.gate.w, &b.up.w], &Input::new(&h, cfg.n_embd))
                    .try_into()
                    .expect("two products");
            self.add_lora_each(i, Target::GateProj, &h, &mut g, &lens);
            self.add_lora_each(i, Target::UpProj, &h, &mut u, &lens);
            swiglu(&mut g, &u);
            let mut down = b.down.w.matmul(&g, t);
            self.add_lora_each(i, Target::DownProj, &g, &mut down, &lens);
            add_assign(&mut x, &down);
        }
        for (tokens, cache) in batch.iter_mut() {
            cache.advance(tokens.len());
        }
        rms_norm(&x, &self.norm, eps, &mut h);
        Ok(h)
    }

    /// Logits for every row of hidden states `h` (`[t, n_embd]` → `[t, vocab]`).
    pub fn logits(&self, h: &Tensor) -> Result<Tensor, ModelError> {
        Ok(self.output.forward(h)?)
    }

    /// The candle device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// Greedy continuation of `prompt` by `n` tokens (stops early at `stop`, if given).
pub fn greedy(
    model: &Llama,
    prompt: &[u32],
    n: usize,
    stop: Option<u32>,
) -> Result<Vec<u32>, ModelError> {
    let mut cache = model.new_cache();
    let mut out = Vec::with_capacity(n);
    let mut logits = model.forward(prompt, &mut cache)?;
    for _ in 0..n {
        let next = argmax(&logits);
        out.push(next);
        if Some(next) == stop {
            break;
        }
        logits = model.forward(&[next], &mut cache)?;
    }
    Ok(out)
}

impl LanguageModel for Llama {
    type Cache = KvCache;

    fn new_cache(&self) -> KvCache {
        Llama::new_cache(self)
    }

    fn cache_len(cache: &KvCache) -> usize {
        cache.len()
    }

    fn truncate(cache: &mut KvCache, len: usize) {
        cache.truncate(len)
    }

    fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Vec<f32>, ModelError> {
        Llama::forward(self, tokens, cache)
    }

    fn forward_batch(
        &self,
        batch: &mut [(&[u32], &mut KvCache)],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        Llama::forward_batch(self, batch)
    }

    fn context_len(&self) -> usize {
        self.config().ctx_len
    }

    fn backend_name(&self) -> &str {
        "cpu"
    }
}

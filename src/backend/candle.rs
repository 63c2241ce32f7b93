//! The Llama forward pass on candle tensors, for any candle device: CUDA when built with the
//! `cuda` feature (`--backend cuda`, `--device cuda`), the CPU in tests.
//!
//! It reads the same GGUF weights (kept quantized on the device) and applies the same unmerged
//! LoRA adapter as the hand-written CPU path in `src/model/llama.rs`, and plugs into the same decoding
//! and eval code through [`LanguageModel`]. Its arithmetic is candle's f32 kernels rather than
//! llama.cpp's rounding, so the two backends agree closely but not to the bit: the eval
//! harness measures how closely (`opensoc eval --backend cpu --backend cuda`).
//!
//! The same graph, with the adapters as trainable variables and the frozen weights
//! dequantized layer by layer, gives the gradients for training on the device
//! (`src/train/candle_backprop.rs`).

use candle_core::quantized::{ggml_file::qtensor_from_ggml, GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor, D};

use crate::gguf::file::ModelFile;
use crate::gguf::read::GgmlType;
use crate::model::config::{rope_tables, weight_info, LlamaConfig, ModelError};
use crate::model::language_model::LanguageModel;
use crate::model::lora::{LoraAdapter, Target};
use crate::quant::blocks;

/// Opens candle's CUDA device `ordinal`, or explains why this build cannot.
pub fn cuda_device(ordinal: usize) -> Result<Device, ModelError> {
    if !cfg!(feature = "cuda") {
        return Err(ModelError::Backend(
            "this opensoc was built without CUDA; build it with scripts/build-cuda.sh \
             (cargo build --release --features cuda)"
                .into(),
        ));
    }
    Device::new_cuda(ordinal).map_err(|e| {
        ModelError::Backend(format!(
            "no CUDA device {ordinal} could be opened ({e}); is the NVIDIA driver \
             (libcuda.so.1) installed and a GPU visible?"
        ))
    })
}

/// A frozen projection: the GGUF block data on the device.
struct Frozen {
    q: QMatMul,
    /// The same weight, kept for dequantizing in the training graph.
    #[cfg(feature = "train")]
    raw: std::sync::Arc<QTensor>,
}

impl Frozen {
    /// `x · Wᵀ` with candle's quantized kernels (no gradient through it).
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.q.forward(x)
    }

    #[cfg(feature = "train")]
    /// `x · Wᵀ` with W dequantized for this call, so that gradients flow to `x` while the
    /// stored weight stays quantized (QLoRA's idea).
    fn forward_trainable(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let w = self.raw.dequantize(x.device())?;
        x.matmul(&w.t()?)
    }
}

struct Block {
    attn_norm: Tensor,
    /// Indexed by [`Target::index`].
    proj: [Frozen; 7],
    ffn_norm: Tensor,
}

/// One adapted projection on the device: `A` `r × in`, `B` `out × r`.
#[derive(Clone)]
pub struct DeviceLoraPair {
    /// Down-projection.
    pub a: Tensor,
    /// Up-projection.
    pub b: Tensor,
}

/// An adapter on the device: `blocks[layer][target.index()]` and the scale alpha/r.
#[derive(Clone)]
pub struct DeviceAdapter {
    /// The pairs, per block and target.
    pub blocks: Vec<[Option<DeviceLoraPair>; 7]>,
    /// alpha / r.
    pub scale: f64,
}

impl DeviceAdapter {
    /// Copies `adapter` to `device`.
    pub fn upload(adapter: &LoraAdapter, device: &Device) -> candle_core::Result<Self> {
        let blocks = adapter
            .blocks
            .iter()
            .map(|b| {
                let mut out: [Option<DeviceLoraPair>; 7] = Default::default();
                for (slot, pair) in out.iter_mut().zip(b) {
                    if let Some(p) = pair {
                        let r = p.rank();
                        *slot = Some(DeviceLoraPair {
                            a: Tensor::from_slice(&p.a, (r, p.in_dim), device)?,
                            b: Tensor::from_slice(&p.b, (p.out_dim, r), device)?,
                        });
                    }
                }
                Ok(out)
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(DeviceAdapter {
            blocks,
            scale: adapter.config.scale() as f64,
        })
    }
}

/// How a forward runs: inference (fused kernels, quantized products) or training (ops that
/// candle can differentiate, dropout on the adapters' inputs).
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Pass {
    Infer,
    #[cfg(feature = "train")]
    Train {
        dropout: f32,
    },
}

impl Pass {
    fn is_train(self) -> bool {
        match self {
            Pass::Infer => false,
            #[cfg(feature = "train")]
            Pass::Train { .. } => true,
        }
    }
}

/// Keys and values seen so far, per block `[1, n_head_kv, len, head_dim]`, on the device.
#[derive(Clone)]
pub struct DeviceCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl DeviceCache {
    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no position is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A Llama-architecture model on a candle device.
pub struct DeviceLlama {
    cfg: LlamaConfig,
    device: Device,
    name: String,
    /// The embedding table dequantized (a row lookup needs dense rows).
    embed: Tensor,
    blocks: Vec<Block>,
    norm: Tensor,
    output: Frozen,
    /// RoPE tables `[ctx_len, head_dim / 2]`, the CPU path's to the bit.
    cos: Tensor,
    sin: Tensor,
    adapter: Option<DeviceAdapter>,
}

/// candle's name for a GGUF block type, for the types opensoc loads.
fn candle_dtype(ty: GgmlType) -> Option<GgmlDType> {
    Some(match ty {
        GgmlType::F32 => GgmlDType::F32,
        GgmlType::F16 => GgmlDType::F16,
        GgmlType::BF16 => GgmlDType::BF16,
        GgmlType::Q4_0 => GgmlDType::Q4_0,
        GgmlType::Q4_1 => GgmlDType::Q4_1,
        GgmlType::Q8_0 => GgmlDType::Q8_0,
        GgmlType::Q4_K => GgmlDType::Q4K,
        GgmlType::Q6_K => GgmlDType::Q6K,
        _ => return None,
    })
}

impl DeviceLlama {
    /// Loads the model in `file` onto `device`; `name` is the backend's name in reports.
    pub fn load(file: &ModelFile, device: &Device, name: &str) -> Result<Self, ModelError> {
        let g = &file.gguf;
        let cfg = LlamaConfig::from_gguf(g).map_err(|e| file.error(e))?;
        let path = file.path().display().to_string();
        let invalid = |problem: String| ModelError::Invalid {
            path: path.clone(),
            problem,
        };
        let bytes = file.bytes();
        // One weight's GGUF data on the device, its shape checked.
        let qtensor = |name: &str, n: usize, k: usize| -> Result<QTensor, ModelError> {
            let t = weight_info(g, name, n, k).map_err(invalid)?;
            let vector_ok = n == 1 && t.dims == [k as u64];
            let dtype = candle_dtype(t.ty).ok_or_else(|| {
                invalid(format!(
                    "tensor {name} has type {}, which this backend does not load",
                    t.ty
                ))
            })?;
            let start = (g.data_offset + t.offset) as usize;
            let data = bytes
                .get(start..start + t.size as usize)
                .ok_or_else(|| invalid(format!("tensor {name} runs past the end of the file")))?;
            let dims = if vector_ok { vec![k] } else { vec![n, k] };
            Ok(qtensor_from_ggml(dtype, data, dims, device)?)
        };
        let frozen = |name: &str, n: usize, k: usize| -> Result<Frozen, ModelError> {
            let raw = std::sync::Arc::new(qtensor(name, n, k)?);
            Ok(Frozen {
                q: QMatMul::from_arc(raw.clone())?,
                #[cfg(feature = "train")]
                raw,
            })
        };
        let vector = |name: &str, n: usize| -> Result<Tensor, ModelError> {
            let t = g
                .tensor(name)
                .ok_or_else(|| invalid(format!("tensor {name} is missing")))?;
            if t.dims != [n as u64] || !blocks::is_supported(t.ty) {
                return Err(invalid(format!("tensor {name}: expected {n} floats")));
            }
            let start = (g.data_offset + t.offset) as usize;
            let mut out = vec![0f32; n];
            blocks::dequantize_row(t.ty, &bytes[start..start + t.size as usize], &mut out);
            Ok(Tensor::from_vec(out, n, device)?)
        };

        let (d, hd) = (cfg.n_embd, cfg.head_dim());
        let kv = cfg.n_head_kv * hd;
        let embed_q = std::sync::Arc::new(qtensor("token_embd.weight", cfg.vocab, d)?);
        let embed = embed_q.dequantize(device)?;
        let mut blocks = Vec::with_capacity(cfg.n_layer);
        for i in 0..cfg.n_layer {
            let p = |s: &str| format!("blk.{i}.{s}.weight");
            blocks.push(Block {
                attn_norm: vector(&p("attn_norm"), d)?,
                proj: [
                    frozen(&p("attn_q"), d, d)?,
                    frozen(&p("attn_k"), kv, d)?,
                    frozen(&p("attn_v"), kv, d)?,
                    frozen(&p("attn_output"), d, d)?,
                    frozen(&p("ffn_gate"), cfg.n_ff, d)?,
                    frozen(&p("ffn_up"), cfg.n_ff, d)?,
                    frozen(&p("ffn_down"), d, cfg.n_ff)?,
                ],
                ffn_norm: vector(&p("ffn_norm"), d)?,
            });
        }
        let norm = vector("output_norm.weight", d)?;
        // Tied embeddings (SmolLM2): the head is the embedding table itself.
        let output = match g.tensor("output.weight") {
            Some(_) => frozen("output.weight", cfg.vocab, d)?,
            None => Frozen {
                q: QMatMul::from_arc(embed_q.clone())?,
                #[cfg(feature = "train")]
                raw: embed_q,
            },
        };
        let (cos, sin) = rope_tables(&cfg);
        let half = hd / 2;
        Ok(DeviceLlama {
            cos: Tensor::from_vec(cos, (cfg.ctx_len, half), device)?,
            sin: Tensor::from_vec(sin, (cfg.ctx_len, half), device)?,
            cfg,
            device: device.clone(),
            name: name.to_string(),
            embed,
            blocks,
            norm,
            output,
            adapter: None,
        })
    }

    /// The model's hyper-parameters.
    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// The device the model lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Applies `adapter` (unmerged) from now on, or none.
    pub fn set_adapter(&mut self, adapter: Option<&LoraAdapter>) -> Result<(), ModelError> {
        self.adapter = match adapter {
            None => None,
            Some(a) => {
                if a.blocks.len() != self.cfg.n_layer {
                    return Err(ModelError::Adapter(format!(
                        "the adapter has {} blocks, the model {}",
                        a.blocks.len(),
                        self.cfg.n_layer
                    )));
                }
                for (t, p) in a.blocks.iter().flat_map(|b| Target::ALL.iter().zip(b)) {
                    if let Some(p) = p {
                        if (p.in_dim, p.out_dim) != t.dims(&self.cfg) {
                            return Err(ModelError::Adapter(format!(
                                "{}: adapter shape {}×{}, model {:?}",
                                t.name(),
                                p.in_dim,
                                p.out_dim,
                                t.dims(&self.cfg)
                            )));
                        }
                    }
                }
                Some(DeviceAdapter::upload(a, &self.device)?)
            }
        };
        Ok(())
    }

    /// A fresh, empty cache.
    pub fn new_cache(&self) -> DeviceCache {
        DeviceCache {
            layers: vec![None; self.cfg.n_layer],
            len: 0,
        }
    }

    /// A projection with its adapter delta: `x·Wᵀ + scale·(x·Aᵀ)·Bᵀ`.
    fn project(
        &self,
        layer: usize,
        target: Target,
        x: &Tensor,
        adapter: Option<&DeviceAdapter>,
        pass: Pass,
    ) -> candle_core::Result<Tensor> {
        let w = &self.blocks[layer].proj[target.index()];
        let y = match pass {
            Pass::Infer => w.forward(x)?,
            #[cfg(feature = "train")]
            Pass::Train { .. } => w.forward_trainable(x)?,
        };
        let Some(ad) = adapter else { return Ok(y) };
        let Some(p) = &ad.blocks[layer][target.index()] else {
            return Ok(y);
        };
        let x = match pass {
            #[cfg(feature = "train")]
            Pass::Train { dropout } if dropout > 0.0 => candle_nn::ops::dropout(x, dropout)?,
            _ => x.clone(),
        };
        let delta = x.matmul(&p.a.t()?)?.matmul(&p.b.t()?)?;
        y + (delta * ad.scale)?
    }

    /// The blocks and the final norm over `tokens` placed after `cache`'s positions:
    /// hidden states `[t, n_embd]`. `adapter` overrides the model's own (training passes its
    /// variables here).
    pub(crate) fn hidden(
        &self,
        tokens: &[u32],
        cache: &mut DeviceCache,
        adapter: Option<&DeviceAdapter>,
        pass: Pass,
    ) -> Result<Tensor, ModelError> {
        let cfg = &self.cfg;
        let (t, pos) = (tokens.len(), cache.len);
        if t == 0 || pos + t > cfg.ctx_len {
            return Err(ModelError::ContextOverflow {
                len: pos + t,
                max: cfg.ctx_len,
            });
        }
        if let Some(&id) = tokens.iter().find(|&&id| id as usize >= cfg.vocab) {
            return Err(ModelError::BadToken {
                id,
                vocab: cfg.vocab,
            });
        }
        let train = pass.is_train();
        let (d, hd, nh, nkv) = (cfg.n_embd, cfg.head_dim(), cfg.n_head, cfg.n_head_kv);
        let eps = cfg.rms_eps;
        let norm = |x: &Tensor, w: &Tensor| {
            if train {
                candle_nn::ops::rms_norm_slow(x, w, eps)
            } else {
                candle_nn::ops::rms_norm(x, w, eps)
            }
        };
        let cos = self.cos.narrow(0, pos, t)?;
        let sin = self.sin.narrow(0, pos, t)?;
        let rope = |x: &Tensor| {
            if train {
                candle_nn::rotary_emb::rope_i_slow(x, &cos, &sin)
            } else {
                candle_nn::rotary_emb::rope_i(x, &cos, &sin)
            }
        };
        // Causal mask over the new rows: row i sees positions 0..=pos+i.
        let mask = if t > 1 {
            let m: Vec<f32> = (0..t)
                .flat_map(|i| {
                    (0..pos + t).map(move |j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 })
                })
                .collect();
            Some(Tensor::from_vec(m, (t, pos + t), &self.device)?)
        } else {
            None
        };
        let adapter = adapter.or(self.adapter.as_ref());
        let heads = |x: Tensor, n: usize| -> candle_core::Result<Tensor> {
            x.reshape((1, t, n, hd))?.transpose(1, 2)?.contiguous()
        };

        let ids = Tensor::from_slice(tokens, t, &self.device)?;
        let mut x = self.embed.index_select(&ids, 0)?;
        for (i, b) in self.blocks.iter().enumerate() {
            let h = norm(&x, &b.attn_norm)?;
            let q = rope(&heads(
                self.project(i, Target::QProj, &h, adapter, pass)?,
                nh,
            )?)?;
            let k = rope(&heads(
                self.project(i, Target::KProj, &h, adapter, pass)?,
                nkv,
            )?)?;
            let v = heads(self.project(i, Target::VProj, &h, adapter, pass)?, nkv)?;
            let (k, v) = match &cache.layers[i] {
                Some((pk, pv)) => (Tensor::cat(&[pk, &k], 2)?, Tensor::cat(&[pv, &v], 2)?),
                None => (k, v),
            };
            cache.layers[i] = Some((k.clone(), v.clone()));
            // Grouped-query attention: each key/value head serves n_head / n_head_kv queries.
            let rep = nh / nkv;
            let expand = |x: &Tensor| -> candle_core::Result<Tensor> {
                if rep == 1 {
                    return Ok(x.clone());
                }
                let len = x.dim(2)?;
                x.unsqueeze(2)?
                    .expand((1, nkv, rep, len, hd))?
                    .reshape((1, nh, len, hd))
            };
            let (k, v) = (expand(&k)?, expand(&v)?);
            let mut scores = (q.matmul(&k.t()?)? / (hd as f64).sqrt())?;
            if let Some(m) = &mask {
                scores = scores.broadcast_add(m)?;
            }
            let probs = if train {
                candle_nn::ops::softmax(&scores, D::Minus1)?
            } else {
                candle_nn::ops::softmax_last_dim(&scores)?
            };
            let a = probs
                .matmul(&v.contiguous()?)?
                .transpose(1, 2)?
                .reshape((t, d))?;
            x = (x + self.project(i, Target::OProj, &a, adapter, pass)?)?;
            let h = norm(&x, &b.ffn_norm)?;
            let g = self.project(i, Target::GateProj, &h, adapter, pass)?;
            let u = self.project(i, Target::UpProj, &h, adapter, pass)?;
            let m = (g.silu()? * u)?;
            x = (x + self.project(i, Target::DownProj, &m, adapter, pass)?)?;
        }
        cache.len += t;
        Ok(norm(&x, &self.norm)?)
    }

    /// Logits `[t, vocab]` for hidden states `[t, n_embd]`.
    pub(crate) fn logits(&self, h: &Tensor, pass: Pass) -> Result<Tensor, ModelError> {
        Ok(match pass {
            Pass::Infer => self.output.forward(h)?,
            #[cfg(feature = "train")]
            Pass::Train { .. } => self.output.forward_trainable(h)?,
        })
    }

    /// Runs `tokens` after `cache` and returns the logits of the last position.
    pub fn forward(&self, tokens: &[u32], cache: &mut DeviceCache) -> Result<Vec<f32>, ModelError> {
        let h = self.hidden(tokens, cache, None, Pass::Infer)?;
        let last = h.narrow(0, tokens.len() - 1, 1)?;
        let logits = self.logits(&last, Pass::Infer)?;
        Ok(logits.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?)
    }
}

impl LanguageModel for DeviceLlama {
    type Cache = DeviceCache;

    fn new_cache(&self) -> DeviceCache {
        DeviceLlama::new_cache(self)
    }

    fn cache_len(cache: &DeviceCache) -> usize {
        cache.len
    }

    fn truncate(cache: &mut DeviceCache, len: usize) {
        if len >= cache.len {
            return;
        }
        for (k, v) in cache.layers.iter_mut().flatten() {
            // narrow only fails on a bad range, which `len < cache.len` rules out.
            if let (Ok(nk), Ok(nv)) = (k.narrow(2, 0, len), v.narrow(2, 0, len)) {
                *k = nk;
                *v = nv;
            }
        }
        if len == 0 {
            cache.layers.iter_mut().for_each(|l| *l = None);
        }
        cache.len = len;
    }

    fn forward(&self, tokens: &[u32], cache: &mut DeviceCache) -> Result<Vec<f32>, ModelError> {
        DeviceLlama::forward(self, tokens, cache)
    }

    fn context_len(&self) -> usize {
        self.cfg.ctx_len
    }

    fn backend_name(&self) -> &str {
        &self.name
    }
}
